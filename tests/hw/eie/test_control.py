"""hw/eie/control.py as a function: layer descriptors and codebooks in
(through its host port), the phase sequence out, against hw/eie/timing.py
and the cycle model (sim/eie_cycles.py).

The LNZD and the PEs around it are a small model of what the array feeds
back (the cycle model's rules): slice k read at R_k is at the LNZD head
from R_k + slice_latency (after the previous slice retired); its non-zeros
issue one a cycle, it retires with its last issue (or at once when it has
none); the PEs report idle `idle_latency` cycles after their last activity
(a broadcast issued at T keeps them busy from T + arrival to T +
bcast_latency, the empty column's dequeue)."""

import numpy as np
import pytest

from eiegen.hw.eie.control import CentralControl
from eiegen.hw.eie.params import EIEParams
from eiegen.sim.amaranth_sim import run, wait_until
from eiegen.sim.eie_cycles import layer_cycles
from eiegen.sw.image import layer_descriptor, LayerImage

PHASES = ("setup", "init", "compute", "writeback")


def make_layer(in_local, out_local, *, ptr_base=0, bias_base=0, relu=True, codebook=None):
    return LayerImage("l", in_local, out_local, relu, in_local, out_local, ptr_base, bias_base,
                      codebook or [0] * 16, [0.0] * 16, [], [], 0)


class Env:
    """The LNZD and PEs as the control unit sees them (see the module docstring)."""

    def __init__(self, timing, cols_per_slice, n_pes):
        self.t = timing
        self.cols = cols_per_slice         # per layer: per slice, broadcasts in it
        self.n = n_pes

    async def process(self, ctx, ctl, log, result):
        t = self.t
        cyc = 0
        reads = []                          # per slice: the cycle it was read
        head = None                         # (slice, cycles of its issues left)
        prev_ret = -1
        busy_windows = []
        layer = -1
        while "done" not in result:
            if ctx.get(ctl.clear):
                layer += 1
                reads, prev_ret, head, busy_windows = [], -1, None, []
            issue = retire = 0
            if ctx.get(ctl.computing) and layer >= 0:
                # the head: the oldest slice read and not retired, once it has arrived
                if head is None and self._next < len(reads):
                    kk = self._next
                    if cyc >= max(reads[kk] + t.slice_latency, prev_ret + 1):
                        head = [kk, self.cols[layer][kk]]
                if head is not None:
                    if head[1] > 0:
                        issue = 1
                        head[1] -= 1
                        busy_windows.append((cyc + t.arrival + t.idle_latency,
                                             cyc + t.bcast_latency + t.idle_latency))
                    if head[1] == 0:
                        retire = 1
                        prev_ret = cyc
                        self._next += 1
                        head = None
            idle = not any(lo <= cyc <= hi for lo, hi in busy_windows)
            ctx.set(ctl.issue, issue)
            ctx.set(ctl.retire, retire)
            ctx.set(ctl.stall, 0)
            ctx.set(ctl.all_idle, idle)
            if ctx.get(ctl.pf_valid):
                assert ctx.get(ctl.pf_k) == len(reads)
                reads.append(cyc)
            log.append({"busy": ctx.get(ctl.busy), "clear": ctx.get(ctl.clear),
                        "init": ctx.get(ctl.init_valid), "compute": ctx.get(ctl.computing),
                        "wb": ctx.get(ctl.wb_valid), "k": ctx.get(ctl.k), "pf": ctx.get(ctl.pf_valid),
                        "src_sel": ctx.get(ctl.src_sel), "cb_we": ctx.get(ctl.cb_we),
                        "cb_index": ctx.get(ctl.cb_index), "cb_data": ctx.get(ctl.cb_data),
                        "issue": issue, "retire": retire, "run_start": ctx.get(ctl.run_start)})
            if ctx.get(ctl.clear):
                self._next = 0
            await ctx.tick()
            cyc += 1


def layer_table(layers):
    """The layer table as the image writes it: four 16-bit words a layer, low first."""
    return [(layer_descriptor(l) >> (16 * w)) & 0xFFFF for l in layers for w in range(4)]


async def write_layers(ctx, ctl, layers):
    for addr, word in enumerate(layer_table(layers)):
        ctx.set(ctl.host_layers_we, 1)
        ctx.set(ctl.host_addr, addr)
        ctx.set(ctl.host_wdata, word)
        await ctx.tick()
    ctx.set(ctl.host_layers_we, 0)


def run_control(p, layers, cols_per_slice, *, num_layers=None):
    ctl = CentralControl(p)
    env = Env(p.timing, cols_per_slice, p.n_pes)
    env._next = 0
    log, result = [], {}

    async def host(ctx):
        await write_layers(ctx, ctl, layers)
        for i, l in enumerate(layers):
            for idx, c in enumerate(l.codebook):
                ctx.set(ctl.host_cb_we, 1)
                ctx.set(ctl.host_addr, i * 16 + idx)
                ctx.set(ctl.host_wdata, c & 0xFFFF)
                await ctx.tick()
        ctx.set(ctl.host_cb_we, 0)
        ctx.set(ctl.num_layers, num_layers or len(layers))
        await ctx.tick()
        result["start_at"] = len(log)
        ctx.set(ctl.start, 1)
        await ctx.tick()
        ctx.set(ctl.start, 0)
        await ctx.tick()
        await wait_until(ctx, lambda c: not c.get(ctl.busy), timeout=20_000)
        result.update(cycles=ctx.get(ctl.cycles), compute_cycles=ctx.get(ctl.compute_cycles),
                      broadcasts=ctx.get(ctl.broadcasts), done=ctx.get(ctl.done))
        await ctx.tick()

    async def environment(ctx):
        await env.process(ctx, ctl, log, result)

    run(ctl, host, environment)
    return log, result


def phases(log, start_at):
    """Per layer: the cycles of SETUP (from `clear`), INIT (+ tail), COMPUTE, WB (+ tail)."""
    busy_end = max(i for i, r in enumerate(log) if r["busy"]) + 1
    starts = [i for i, r in enumerate(log) if r["clear"]] + [busy_end]
    out = []
    for a, b in zip(starts, starts[1:]):
        seg = log[a:b]
        first_init = next(i for i, r in enumerate(seg) if r["init"])
        first_comp = next(i for i, r in enumerate(seg) if r["compute"])
        first_wb = next(i for i, r in enumerate(seg) if r["wb"])
        out.append({"setup": first_init, "init": first_comp - first_init,
                    "compute": sum(r["compute"] for r in seg), "writeback": len(seg) - first_wb,
                    "segment": seg})
    return out


@pytest.mark.parametrize("n_pes, mem_latency", [(1, 2), (4, 1), (16, 2)])
def test_phases_against_timing_and_cycle_model(n_pes, mem_latency):
    p = EIEParams(n_pes=n_pes, mem_latency=mem_latency, fifo_depth=2, act_depth=16, max_layers=3,
                  spmat_depth=64, ptr_depth=64, bias_depth=64)
    t = p.timing
    rng = np.random.default_rng(n_pes)
    layers, cols = [], []
    for li, (in_local, out_local, density) in enumerate([(9, 5, 0.3), (5, 12, 0.0), (16, 3, 0.9)]):
        cb = [0] + [int(v) for v in rng.integers(-32768, 32768, 15)]
        layers.append(make_layer(in_local, out_local, ptr_base=li * 3, bias_base=li * 7,
                                 relu=li != 1, codebook=cb))
        x = rng.random(in_local * n_pes) < density
        cols.append(np.flatnonzero(x))
    per_slice = [[int(np.sum(c // n_pes == k)) for k in range(l.in_local)] for c, l in zip(cols, layers)]
    log, res = run_control(p, layers, per_slice)
    got = phases(log, res["start_at"])
    assert len(got) == 3 and res["done"] == 1
    total = 0
    for li, (g, l, c) in enumerate(zip(got, layers, cols)):
        compute, stall, _ = layer_cycles(np.zeros((n_pes, len(c)), dtype=int), c, l.in_local, t)
        want = {"setup": t.setup, "init": l.out_local + t.init_tail, "compute": compute,
                "writeback": l.out_local + t.wb_tail}
        assert {k: g[k] for k in PHASES} == want, f"layer {li}"
        total += sum(want.values())
        seg = g["segment"]
        # INIT and WB walk k = 0 .. out_local - 1, one a cycle; src_sel alternates
        assert [r["k"] for r in seg if r["init"]] == list(range(l.out_local))
        assert [r["k"] for r in seg if r["wb"]] == list(range(l.out_local))
        assert {r["src_sel"] for r in seg} == {li % 2}
        # the layer's codebook goes to the decoders during SETUP, index 0 .. 15
        writes = [(r["cb_index"], r["cb_data"]) for r in seg if r["cb_we"]]
        assert writes == [(i, v & 0xFFFF) for i, v in enumerate(l.codebook)]
        # every slice read once, in order, during COMPUTE
        assert sum(r["pf"] for r in seg) == l.in_local
        assert all(r["compute"] for r in seg if r["pf"])
        assert sum(r["issue"] for r in seg) == len(c)
    assert res["cycles"] == total
    assert res["compute_cycles"] == sum(g["compute"] for g in got)      # the whole run
    assert res["broadcasts"] == sum(len(c) for c in cols)


def test_compute_cycles_counter_and_descriptor():
    p = EIEParams(n_pes=2, act_depth=8, max_layers=1, spmat_depth=64, ptr_depth=64, bias_depth=64)
    layer = make_layer(3, 4, ptr_base=5, bias_base=9, relu=True, codebook=list(range(16)))
    ctl = CentralControl(p)
    seen = {}

    async def tb(ctx):
        await write_layers(ctx, ctl, [layer])
        readback = []
        for addr in range(4):
            ctx.set(ctl.host_addr, addr)
            await ctx.tick()
            readback.append(ctx.get(ctl.host_layers_rdata))
        seen["readback"] = readback
        ctx.set(ctl.num_layers, 1)
        ctx.set(ctl.retire, 1)                       # every slice empty: retired at once
        ctx.set(ctl.all_idle, 1)
        await ctx.tick()                             # config_ok follows a cycle later
        ctx.set(ctl.start, 1)
        await ctx.tick()
        ctx.set(ctl.start, 0)
        await wait_until(ctx, ctl.computing)
        d = ctx.get(ctl.desc)
        seen["desc"] = (d.in_local, d.out_local, d.ptr_base, d.bias_base, d.relu)
        await wait_until(ctx, lambda c: not c.get(ctl.busy))
        seen["compute"] = ctx.get(ctl.compute_cycles)

    run(ctl, tb)
    assert seen["readback"] == layer_table([layer])
    assert seen["desc"] == (3, 4, 5, 9, 1)
    assert seen["compute"] > 0


@pytest.mark.parametrize("num_layers, ok", [(0, 0), (1, 1), (3, 1), (4, 0), (0xFFFF, 0)])
def test_config_ok_and_start_ignored_without_it(num_layers, ok):
    p = EIEParams(n_pes=2, act_depth=8, max_layers=3, spmat_depth=64, ptr_depth=64, bias_depth=64)
    ctl = CentralControl(p)
    seen = []

    async def tb(ctx):
        ctx.set(ctl.num_layers, num_layers)
        assert ctx.get(ctl.config_ok) == 0           # a register: reset, then a cycle late
        await ctx.tick()
        assert ctx.get(ctl.config_ok) == ok
        ctx.set(ctl.start, 1)
        seen.append(ctx.get(ctl.run_start))
        await ctx.tick()
        ctx.set(ctl.start, 0)
        for _ in range(5):
            seen.append(ctx.get(ctl.busy))
            await ctx.tick()

    run(ctl, tb)
    assert seen == [ok] + [ok] * 5
