"""hw/eie/pe.py as a function: one PE holding its share of a packed image
(written through its host port), driven the way the array drives it (layer
configuration, INIT, broadcasts in increasing column order under the credit
rule, WB), compared with the golden model (sim/eie_golden.py) for that PE's
rows, so a failure names the PE and not the whole array. Also the slice
scan (flags, granted values) and the latencies of the port contract."""

import numpy as np
import pytest

from eiegen.hw.eie.params import EIEParams
from eiegen.hw.eie.pe import PE, HOST_MEMS, BUSY_COUNTER
from eiegen.sim.amaranth_sim import run, wait_until
from eiegen.sim.eie_golden import layer_forward
from eiegen.sim.testdata import random_compressed_model, random_input
from eiegen.sw.packer import pack

MEM = {name: code for code, name in enumerate(HOST_MEMS)}


def small_params(n_pes=3, mem_latency=2, fifo_depth=2, **kw):
    geo = dict(spmat_depth=256, ptr_depth=64, bias_depth=64, act_depth=16, max_layers=2)
    return EIEParams(n_pes=n_pes, mem_latency=mem_latency, fifo_depth=fifo_depth, **{**geo, **kw})


class Host:
    """The PE's host port (array.py drives it from its fan-out registers):
    a write takes one cycle, a read answers host_stage + mem_latency + 1
    cycles later (hw/eie/timing.py)."""

    def __init__(self, ctx, pe):
        self.ctx, self.pe = ctx, pe
        ctx.set(pe.host_mode, 1)
        ctx.set(pe.host_sel, 1)

    async def write(self, mem, words):
        ctx, pe = self.ctx, self.pe
        for a, w in enumerate(words):
            ctx.set(pe.host_mem, mem)
            ctx.set(pe.host_addr, a)
            ctx.set(pe.host_wdata, int(w) & ((1 << len(pe.host_wdata)) - 1))
            self._we(1 << mem)
            await ctx.tick()
        self._we(0)

    def _we(self, onehot):
        # a large ECP5 array's PE takes its write enables decoded (host_wen, pe_stage)
        if hasattr(self.pe, "host_wen"):
            self.ctx.set(self.pe.host_wen, onehot)
        else:
            self.ctx.set(self.pe.host_we, onehot != 0)

    async def read(self, mem, addrs):
        ctx, pe = self.ctx, self.pe
        lat = pe.params.timing.host_stage + pe.params.mem_latency + 1
        out = []
        for i in range(len(addrs) + lat):
            ctx.set(pe.host_re, i < len(addrs))
            if i < len(addrs):
                ctx.set(pe.host_mem, mem)
                ctx.set(pe.host_addr, addrs[i])
            if i >= lat:
                out.append(ctx.get(pe.host_rdata))
            await ctx.tick()
        return out


async def load_image(ctx, pe, image, x_local):
    """Host port: the PE's image memories and its source activations (act0)."""
    host = Host(ctx, pe)
    i = pe.index
    words = image.spmat_words(i)
    even, odd = image.ptr_banks(i)
    await host.write(MEM["spmat"], words)
    await host.write(MEM["ptr_even"], even)
    await host.write(MEM["ptr_odd"], odd)
    await host.write(MEM["bias"], np.asarray(image.bias[i], dtype=np.int64) & 0xFFFF)
    await host.write(MEM["act0"], np.asarray(x_local, dtype=np.int64) & 0xFFFF)
    # read back what was written (the host port, every memory)
    assert await host.read(MEM["spmat"], range(len(words))) == [int(w) for w in words]
    assert await host.read(MEM["ptr_odd"], range(len(odd))) == [int(w) for w in odd]
    ctx.set(pe.host_mode, 0)
    return host


async def run_layer(ctx, pe, image, li, x, rng, *, src_sel=0):
    """SETUP, INIT, COMPUTE (broadcasts of x's non-zeros), WB of layer li, as
    control.py and array.py sequence them. Returns the PE's issue count."""
    p, layer, n = pe.params, image.layers[li], pe.params.n_pes
    lat = p.mem_latency
    # SETUP: configuration, codebook, clear the dequeue counter
    ctx.set(pe.src_sel, src_sel)
    ctx.set(pe.bias_base, layer.bias_base)
    ctx.set(pe.relu, layer.relu)
    for idx, c in enumerate(layer.codebook):
        ctx.set(pe.cb_we, 1)
        ctx.set(pe.cb_index, idx)
        ctx.set(pe.cb_data, int(c))
        await ctx.tick()
    ctx.set(pe.cb_we, 0)
    ctx.set(pe.clear, 1)
    await ctx.tick()
    ctx.set(pe.clear, 0)
    assert ctx.get(pe.dequeues) == 0
    # INIT: one row a cycle; acc[k] is written mem_latency cycles later
    for k in range(layer.out_local):
        ctx.set(pe.init_valid, 1)
        ctx.set(pe.init_k, k)
        await ctx.tick()
    ctx.set(pe.init_valid, 0)
    for _ in range(lat):
        await ctx.tick()
    # COMPUTE: the non-zero columns in increasing order, at most queue_depth
    # not yet dequeued (the central unit's credit rule; `dequeues` is late, so safe)
    ctx.set(pe.computing, 1)
    cols = [j for j in np.flatnonzero(x) if j < layer.n_cols_padded]
    issued = 0
    for j in cols:
        while issued - ctx.get(pe.dequeues) >= p.queue_depth or rng.random() < 0.2:
            ctx.set(pe.bcast_valid, 0)
            await ctx.tick()
        g = layer.ptr_base + int(j)
        ctx.set(pe.bcast_valid, 1)
        ctx.set(pe.bcast_value, int(x[j]))
        ctx.set(pe.bcast_even, (g + 1) >> 1)
        ctx.set(pe.bcast_odd, g >> 1)
        ctx.set(pe.bcast_g_odd, g & 1)
        issued += 1
        await ctx.tick()
    ctx.set(pe.bcast_valid, 0)
    await ctx.tick()
    await wait_until(ctx, pe.idle, timeout=10_000)
    assert ctx.get(pe.dequeues) == issued % (1 << len(pe.dequeues))
    ctx.set(pe.computing, 0)
    # WB: one row a cycle; the last lands at the end of t + 3
    for k in range(layer.out_local):
        ctx.set(pe.wb_valid, 1)
        ctx.set(pe.wb_k, k)
        await ctx.tick()
    ctx.set(pe.wb_valid, 0)
    for _ in range(3):
        await ctx.tick()
    return issued


def _case(name, p, seed):
    rng = np.random.default_rng(seed)
    if name == "dense":
        model = random_compressed_model(rng, [40, 30], 0.6)
        x = random_input(rng, 40, 0.7)
    elif name == "sparse-padding":
        model = random_compressed_model(rng, [20, 44], 0.05, zero_cols=0.3)
        x = random_input(rng, 20, 0.9)
    elif name == "saturation":
        model = random_compressed_model(rng, [24, 18], 0.9, scale=60.0)
        x = random_input(rng, 24, 0.9, amplitude=30000)
    else:
        raise ValueError(name)
    return model, x


@pytest.mark.parametrize("case", ["dense", "sparse-padding", "saturation"])
# (a PE of 20: a large ECP5 array's, with pe_stage: decoded host write enables, product stage)
@pytest.mark.parametrize("pe_index, mem_latency, n_pes", [(1, 2, 3), (0, 1, 3), (2, 2, 3), (3, 2, 20)])
def test_pe_layer_against_golden(case, pe_index, mem_latency, n_pes):
    p = small_params(n_pes=n_pes, mem_latency=mem_latency,
                     acc_width=25 if case == "saturation" else 32)
    model, x = _case(case, p, seed=pe_index * 7 + mem_latency)
    image = pack(model, p)
    layer = image.layers[0]
    n = p.n_pes
    golden = layer_forward(image.decode()[0], x, frac=p.frac, acc_width=p.acc_width)
    x_pad = np.zeros(layer.n_cols_padded, dtype=np.int64)
    x_pad[:len(x)] = x
    pe = PE(p, pe_index)
    rng = np.random.default_rng(3)
    out = {}

    async def tb(ctx):
        host = await load_image(ctx, pe, image, x_pad[pe_index::n])
        await run_layer(ctx, pe, image, 0, x_pad, rng)
        host = Host(ctx, pe)                      # host mode right after WB's last write
        out["y"] = await host.read(MEM["act1"], range(layer.out_local))
        out["src"] = await host.read(MEM["act0"], range(layer.in_local))
        out["busy"] = (await host.read(BUSY_COUNTER, [0]))[0]

    run(pe, tb)
    rows = np.arange(layer.out_local) * n + pe_index
    want = [int(golden[r]) if r < layer.n_out else 0 for r in rows]
    got = [v - 65536 if v >= 32768 else v for v in out["y"]]
    assert got == want, f"PE {pe_index}: rows {list(rows)}"
    # the source file is untouched; the busy counter counts this PE's entries
    assert [v - 65536 if v >= 32768 else v for v in out["src"]] == list(x_pad[pe_index::n])
    ptr = image.ptr[pe_index]
    cols = np.flatnonzero(x_pad)
    entries = int(sum(ptr[layer.ptr_base + j + 1] - ptr[layer.ptr_base + j] for j in cols))
    assert out["busy"] == entries
    if case == "saturation":
        assert 32767 in want or -32768 in want or 0 in want


def test_pe_two_layers_ping_pong():
    # layer 0 reads act0 and writes act1, layer 1 reads act1 and writes act0;
    # this PE's layer-1 inputs are its own layer-0 outputs only when N = 1
    p = small_params(n_pes=1, mem_latency=2)
    rng = np.random.default_rng(11)
    model = random_compressed_model(rng, [12, 14, 9], [0.5, 0.5])
    x = random_input(rng, 12, 0.8)
    image = pack(model, p)
    dec = image.decode()
    y0 = layer_forward(dec[0], x, frac=p.frac, acc_width=p.acc_width)
    y1 = layer_forward(dec[1], y0, frac=p.frac, acc_width=p.acc_width)
    pe = PE(p, 0)
    out = {}

    async def tb(ctx):
        x_pad = np.zeros(image.layers[0].n_cols_padded, dtype=np.int64)
        x_pad[:len(x)] = x
        await load_image(ctx, pe, image, x_pad)
        await run_layer(ctx, pe, image, 0, x_pad, np.random.default_rng(0), src_sel=0)
        y0_pad = np.zeros(image.layers[1].n_cols_padded, dtype=np.int64)
        y0_pad[:len(y0)] = y0
        await run_layer(ctx, pe, image, 1, y0_pad, np.random.default_rng(1), src_sel=1)
        host = Host(ctx, pe)
        out["y1"] = await host.read(MEM["act0"], range(len(y1)))

    run(pe, tb)
    assert [v - 65536 if v >= 32768 else v for v in out["y1"]] == list(y1)


@pytest.mark.parametrize("mem_latency", [1, 2])
def test_slice_scan_and_broadcast_latencies(mem_latency):
    """pf at t -> flag at t + M + 1; grant at t -> value_out at t + 1 (0
    otherwise); retire pops the slice; a broadcast at X can be dequeued at
    X + M + 2 (`dequeues` counts it the cycle after)."""
    p = small_params(n_pes=2, mem_latency=mem_latency)
    rng = np.random.default_rng(mem_latency)
    words = [int(v) for v in np.where(rng.random(p.act_depth) < 0.5,
                                      rng.integers(-32768, 32768, p.act_depth), 0)]
    words[0], words[1] = 0, 1234
    pe = PE(p, 1)

    async def tb(ctx):
        host = Host(ctx, pe)
        await host.write(MEM["act0"], [w & 0xFFFF for w in words])
        # a pointer pair for column g = 3: p[3] = 5 (odd bank), p[4] = 7 (even bank)
        await host.write(MEM["ptr_odd"], [0, 5])
        await host.write(MEM["ptr_even"], [0, 0, 7])
        ctx.set(pe.host_mode, 0)
        ctx.set(pe.src_sel, 0)
        slots = pe.slice_slots                      # never more outstanding (control.py)
        for base in range(0, p.act_depth, slots):
            chunk = words[base:base + slots]
            flags = []
            for t in range(len(chunk) + mem_latency + 1):
                ctx.set(pe.pf_valid, t < len(chunk))
                ctx.set(pe.pf_k, base + t if t < len(chunk) else 0)
                flags.append(ctx.get(pe.flag))
                await ctx.tick()
            ctx.set(pe.pf_valid, 0)
            assert flags[:mem_latency + 1] == [0] * (mem_latency + 1)
            assert flags[mem_latency + 1:] == [int(w != 0) for w in chunk]
            # the lane holds the words; grant reads the head, retire pops it
            for i, w in enumerate(chunk):
                grant = (base + i) % 3 != 2
                ctx.set(pe.grant, grant)
                ctx.set(pe.retire, 1)
                await ctx.tick()
                ctx.set(pe.grant, 0)
                ctx.set(pe.retire, 0)
                assert ctx.get(pe.value_out) == ((w & 0xFFFF) if grant else 0), base + i
            await ctx.tick()
            assert ctx.get(pe.value_out) == 0
        # one broadcast of column g = 3 (2 entries)
        ctx.set(pe.clear, 1)
        await ctx.tick()
        ctx.set(pe.clear, 0)
        assert ctx.get(pe.idle) == 1
        ctx.set(pe.bcast_valid, 1)
        ctx.set(pe.bcast_value, 3)
        ctx.set(pe.bcast_even, 2)
        ctx.set(pe.bcast_odd, 1)
        ctx.set(pe.bcast_g_odd, 1)
        seen = []
        for _ in range(mem_latency + 8):
            await ctx.tick()
            ctx.set(pe.bcast_valid, 0)
            seen.append((ctx.get(pe.dequeues), ctx.get(pe.idle)))
        # seen[i] is cycle X + 1 + i: dequeued at X + M + 2, counted at X + M + 3
        deq = [s[0] for s in seen]
        assert deq.index(1) == mem_latency + 2
        assert seen[0][1] == 0                      # not idle while the broadcast is inside

    run(pe, tb)
