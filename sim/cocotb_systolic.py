"""cocotb test: run jobs on the generated Verilog of the systolic unit.

Environment (set by eiegen.sw.systolic.rtl): EIEGEN_SYSTOLIC_JOBS, a folder
with jobs.json and one jobNNN.npz per job. A job is a list of phases; each
phase writes words over the host bus (one per clock, arrays w_addr/w_data),
optionally gathers (reads words g_src, takes the lane slots g_index of them,
writes them to g_dst: the host's im2col between layers at an RHM), then
optionally starts the program or resumes it after RHM/WHM, waits for
`done` or `waiting` (no Python runs per clock cycle while the unit
computes), then reads words (one per clock, pipelined, r_addr). The read
words go back through cocotb_harness.report.
"""

import json
import os
import time

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, FallingEdge, ClockCycles, First, Timer

from .cocotb_harness import report
from .cocotb_hostbus import HostBus
from ..sw.systolic import busmap

PERIOD_NS = 10
#: the control register (bit 1: resume after RHM/WHM), from hw/systolic/params.py
CTRL_ADDR = busmap.reg_addr("ctrl")
RESUME = 1 << 1
#: cycles after a start or resume pulse before done/waiting answer for it
CONTROL_LATENCY = 1


def _gather(words, index, lane_bits):
    """The host's gather between layers: lane slot index[i, j] (word * lanes
    per word + lane; -1: zero) of `words` becomes lane j of output word i."""
    per = index.shape[1]
    mask = (1 << lane_bits) - 1
    w = np.array([int(v) for v in words], dtype=object)
    slots = np.array([[(int(v) >> (j * lane_bits)) & mask for j in range(per)] for v in w],
                     dtype=np.int64).reshape(-1)
    picked = np.where(index >= 0, slots[np.maximum(index, 0)], 0)
    return [sum(int(picked[i, j]) << (j * lane_bits) for j in range(per)) for i in range(len(index))]


@cocotb.test()
async def run_jobs(dut):
    t_start = time.perf_counter()
    folder = os.environ["EIEGEN_SYSTOLIC_JOBS"]
    jobs = json.loads(open(os.path.join(folder, "jobs.json")).read())
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    bus = HostBus(dut)
    dut.start.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    results = []
    bus_cycles = 0
    run_cycles = 0
    t_run = 0.0
    for k, job in enumerate(jobs):
        arrays = np.load(os.path.join(folder, job["file"]))
        res = {"phases": []}
        for i, phase in enumerate(job["phases"]):
            w_addr, w_data = arrays[f"w_addr{i}"], arrays[f"w_data{i}"]
            await bus.write_many(w_addr, w_data)
            bus_cycles += len(w_addr)
            if "gather_lane_bits" in phase:
                src, dst = arrays[f"g_src{i}"], arrays[f"g_dst{i}"]
                words = await bus.read_many(src)
                out = _gather(words, arrays[f"g_index{i}"], int(phase["gather_lane_bits"]))
                await bus.write_many(dst, out)
                bus_cycles += len(src) + len(dst)
            ph = {}
            action = phase.get("action")
            if action in ("start", "resume"):
                await FallingEdge(dut.clk)
                if action == "start":
                    dut.start.value = 1
                    await FallingEdge(dut.clk)
                    dut.start.value = 0
                else:
                    await bus.write(CTRL_ADDR, RESUME)
                t0 = cocotb.utils.get_sim_time("ns")
                w0 = time.perf_counter()
                # start and resume act from a register, the cycle after the pulse
                # (hw/systolic/top.py): until then done/waiting still show the last stop
                for _ in range(CONTROL_LATENCY):
                    await FallingEdge(dut.clk)
                timeout = int(phase.get("max_cycles", 10_000_000))
                if not (int(dut.done.value) or int(dut.waiting.value)):
                    await First(RisingEdge(dut.done), RisingEdge(dut.waiting),
                                Timer(timeout * PERIOD_NS, "ns"))
                t_run += time.perf_counter() - w0
                ph["sim_cycles"] = int((cocotb.utils.get_sim_time("ns") - t0) // PERIOD_NS)
                run_cycles += ph["sim_cycles"]
                ph["done"] = int(dut.done.value)
                ph["waiting"] = int(dut.waiting.value)
                ph["error"] = int(dut.error.value)
                ph["timeout"] = not (ph["done"] or ph["waiting"])
            r_addr = arrays[f"r_addr{i}"]
            ph["reads"] = [str(v) for v in await bus.read_many(r_addr)] if len(r_addr) else []
            bus_cycles += len(r_addr)
            res["phases"].append(ph)
            if ph.get("timeout"):
                break
        results.append(res)
    report({"jobs": results, "wall_seconds": time.perf_counter() - t_start,
            "run_wall_seconds": t_run, "run_cycles": run_cycles, "bus_cycles": bus_cycles})
