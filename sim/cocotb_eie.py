"""cocotb test: run input vectors through the EIE array holding an image.

Environment (set by sim/eie_harness.py): EIEGEN_IMAGE (image folder, whose
memories the RAMs loaded through +eiegen_mem), EIEGEN_INPUTS (.npy of int16
vectors), EIEGEN_TIMEOUT_CYCLES. Per vector: write it into activation file 0
over the host bus, pulse start, wait for done (no Python per cycle), read the
outputs and the counters over the host bus. Results go to the harness's
result file (cocotb_harness.report).
"""

import json
import os
import time

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, ClockCycles, First, Timer

from .cocotb_harness import report
from .cocotb_hostbus import HostBus
from ..hw.eie.params import EIEParams, host_map

PERIOD_NS = 10


def _s16(v):
    v &= 0xFFFF
    return v - 0x10000 if v & 0x8000 else v


@cocotb.test()
async def run_image(dut):
    t_start = time.perf_counter()
    manifest = json.loads(open(os.path.join(os.environ["EIEGEN_IMAGE"], "manifest.json")).read())
    params = manifest["params"]
    layers = manifest["layers"]
    n = params["n_pes"]
    inputs = np.load(os.environ["EIEGEN_INPUTS"])
    timeout = int(os.environ.get("EIEGEN_TIMEOUT_CYCLES", "0")) or 50_000_000
    progress = os.environ.get("EIEGEN_PROGRESS") == "1"

    hmap = host_map(EIEParams.from_dict(params))
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    bus = HostBus(dut)
    dut.start.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await RisingEdge(dut.clk)

    await bus.write(hmap.reg_addr("num_layers"), len(layers))
    n_in = layers[0]["n_in"]
    last = layers[-1]
    out_file = "act1" if len(layers) % 2 else "act0"
    outputs, counters = [], []
    sim_cycles = 0
    compute_seconds = 0.0
    for b, x in enumerate(inputs):
        if len(x) != n_in:
            report({"error": f"input {b} has {len(x)} values, the image's first layer takes {n_in}"})
            return
        # activation j lives in PE j mod N at local index j // N; clear the padding too
        for j in range(layers[0]["in_local"] * n):
            v = int(x[j]) if j < n_in else 0
            await bus.write(hmap.addr("act0", j % n, j // n), v & 0xFFFF)
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        t0 = cocotb.utils.get_sim_time("ns")
        w0 = time.perf_counter()
        res = await First(RisingEdge(dut.done), Timer(timeout * PERIOD_NS, "ns"))
        compute_seconds += time.perf_counter() - w0
        if not int(dut.done.value):
            report({"error": f"input {b}: no done within {timeout} cycles"})
            assert False, "timeout"
        sim_cycles += int((cocotb.utils.get_sim_time("ns") - t0) // PERIOD_NS)
        await RisingEdge(dut.clk)
        y = []
        for i in range(last["n_out"]):
            y.append(_s16(await bus.read(hmap.addr(out_file, i % n, i // n))))
        outputs.append(y)
        c = {name: await bus.read(hmap.reg_addr(name)) for name in ("cycles", "broadcasts", "bcast_stall")}
        c["busy"] = await bus.read_many([hmap.reg_addr("busy_base", p) for p in range(n)])
        c["idle"] = await bus.read_many([hmap.reg_addr("idle_base", p) for p in range(n)])
        counters.append(c)
        if progress:
            print(f"[eiegen] input {b + 1}/{len(inputs)}: {c['cycles']} cycles", flush=True)
    report({"outputs": outputs, "counters": counters, "sim_cycles": sim_cycles,
            "compute_seconds": compute_seconds, "sim_seconds": time.perf_counter() - t_start})
