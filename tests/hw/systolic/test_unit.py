"""The whole SystolicUnit in the Amaranth simulator, through its host bus:
results against the golden model, performance counters against the cycle
model, no bubble between tiles, bus map, faults, host pauses, abort."""

import numpy as np
import pytest

from eiegen.hw.systolic import SystolicParams, TARGETS, REGS
from eiegen.hw.systolic.isa import Instr
from eiegen.hw.systolic.sequencer import ERROR_CODES
from eiegen.hw.systolic.top import BUS_READ_LATENCY
from eiegen.sim.systolic_cycles import simulate
from eiegen.sim.systolic_golden import Machine, dense_layer, matmul_acc
from eiegen.sw.systolic import Layer, Program, busmap, compile_layers, compile_matmul


def small(**kw):
    d = dict(rows=2, cols=3, ub_depth=128, acc_depth=32, wmem_depth=256, imem_depth=128)
    d.update(kw)
    return SystolicParams(**d)


@pytest.mark.parametrize("seed", range(6))
def test_random_matmul_and_counters(seed, run_unit):
    rng = np.random.default_rng(seed)
    p = small(rows=int(rng.integers(1, 4)), cols=int(rng.integers(1, 4)),
              acc_depth=int(rng.choice([4, 16, 32])))
    M, K, N = (int(v) for v in rng.integers(1, 9, 3))
    x = rng.integers(-128, 128, (M, K))
    w = rng.integers(-128, 128, (K, N))
    mult, shift, relu = int(rng.integers(1, 2000)), int(rng.integers(0, 20)), bool(rng.integers(2))
    comp = compile_matmul(M, w, p, mult=mult, shift=shift, relu=relu,
                          prefetch=int(rng.integers(1, 3)))
    y, counters, status, _ = run_unit(p, comp, x)
    np.testing.assert_array_equal(y, dense_layer(x, w, mult, shift, relu))
    assert counters == simulate(comp.program, p).counters()
    assert status & 0b1111 == 0b0010          # done, no error


def test_int32_result_and_chained_layers(run_unit):
    p = small(rows=3, cols=2, acc_depth=64)
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (5, 7))
    w = rng.integers(-128, 128, (7, 5))
    comp = compile_matmul(5, w, p, output="int32")
    y, counters, _, _ = run_unit(p, comp, x)
    np.testing.assert_array_equal(y, matmul_acc(x, w))
    assert counters == simulate(comp.program, p).counters()
    layers = [Layer(rng.integers(-128, 128, (7, 6)), 37, 12, True),
              Layer(rng.integers(-128, 128, (6, 4)), 91, 13, False)]
    comp = compile_layers(5, layers, p)
    y, counters, _, _ = run_unit(p, comp, x)
    h = dense_layer(x, layers[0].weight, 37, 12, True)
    np.testing.assert_array_equal(y, dense_layer(h, layers[1].weight, 91, 13, False))
    assert counters == simulate(comp.program, p).counters()


def test_next_tile_shifts_in_while_the_current_one_computes(run_unit):
    """K = 3R, M = R + 3: the three MMULs of an n-tile issue rows on
    consecutive cycles (no bubble between tiles), and the weight loader is
    busy while rows issue."""
    p = small(rows=3, cols=2)
    R = p.rows
    M = R + 3
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (M, 3 * R))
    w = rng.integers(-128, 128, (3 * R, p.cols))
    comp = compile_matmul(M, w, p, output="int32")
    y, counters, _, trace = run_unit(p, comp, x, watch=_watch)
    np.testing.assert_array_equal(y, matmul_acc(x, w))
    issue = np.array([t["issue"] for t in trace])
    load = np.array([t["load"] for t in trace])
    on = np.flatnonzero(issue)
    assert len(on) == 3 * M
    assert on[-1] - on[0] + 1 == 3 * M, "rows of consecutive tiles issue back to back"
    assert np.sum(issue & load) >= 2 * R, "the next tiles load while rows issue"
    # only the first tile's load is waited for
    assert counters["weight_stall"] == simulate(comp.program, p).weight_stall <= R


def _watch(dut):
    return {"issue": dut._seq.issue, "load": dut._wl.busy}


def test_bus_map_and_identification(unit_sim):
    p = small(rows=3, cols=20, ub_depth=40)       # 20 lanes: 3 words per row, padded to 4
    unit = unit_sim(p)
    seen = {}

    async def script(bus):
        ub = busmap.layout(p, "ub")
        acc = busmap.layout(p, "acc")
        wm = busmap.layout(p, "wmem")
        seen["ub_last"] = await bus.probe(ub.addr(39, 2))
        seen["ub_row_out"] = await bus.probe(ub.addr(40, 0))
        seen["ub_chunk_out"] = await bus.probe(ub.addr(0, 3))
        seen["acc_lane"] = await bus.probe(acc.addr(0, 19))
        seen["acc_lane_out"] = await bus.probe(acc.addr(0, 20))
        seen["wmem"] = await bus.probe(wm.addr(5, 1))
        seen["bank"] = await bus.probe(ub.addr(0, 0) | 1 << 16)
        seen["nothing"] = await bus.probe(0x2F << 24)
        seen["reg"] = await bus.probe(busmap.reg_addr("cycles"))
        seen["reg_out"] = await bus.probe((0x20 << 24) | 7)
        seen["id0"] = await bus.reg("id0")
        seen["id1"] = await bus.reg("id1")
        # a row of 20 lanes round-trips through three 8-lane words
        await bus.write_rows("ub", 39, [list(range(-128, 128, 13))])
        seen["row"] = (await bus.read_rows("ub", 39, 1))[0]
        await bus.write_rows("acc", 2, [[-(2 ** 31)] + [7] * 18 + [2 ** 31 - 1]])
        seen["acc"] = (await bus.read_rows("acc", 2, 1))[0]

    unit.run(script)
    assert seen["ub_last"] == (1, 8) and seen["wmem"] == (1, 8)
    assert seen["ub_row_out"][0] == 0 and seen["ub_chunk_out"][0] == 0
    assert seen["acc_lane"] == (1, 4) and seen["acc_lane_out"][0] == 0
    assert seen["bank"][0] == 0 and seen["nothing"][0] == 0
    assert seen["reg"] == (1, 8) and seen["reg_out"][0] == 0
    assert SystolicParams.from_id_words(seen["id0"], seen["id1"]) == p
    assert list(seen["row"]) == list(range(-128, 128, 13))
    assert list(seen["acc"]) == [-(2 ** 31)] + [7] * 18 + [2 ** 31 - 1]


def test_read_answers_bus_read_latency_cycles_after_re(unit_sim):
    """Every target answers a read exactly BUS_READ_LATENCY cycles after its
    `re` cycle (the number the unit documents), with the word written."""
    p = small(rows=3, cols=20, ub_depth=40)
    unit = unit_sim(p)
    seen = {}

    async def script(bus):
        ctx, b = bus.ctx, bus.dut.bus
        ub, acc = busmap.layout(p, "ub"), busmap.layout(p, "acc")
        wm, im = busmap.layout(p, "wmem"), busmap.layout(p, "imem")
        cases = {"ub": (ub.addr(7, 1), 0x0102030405060708),
                 "acc": (acc.addr(3, 19), 0x89ABCDEF),
                 "wmem": (wm.addr(5, 1), 0x1112131415161718),
                 "imem": (im.addr(9, 0), 0x2122232425262728),
                 "regs": (busmap.reg_addr("id0"), p.id_words()[0])}
        for name, (addr, value) in cases.items():
            if name != "regs":
                await bus.write(addr, value)
            ctx.set(b.addr, addr)
            for _ in range(4):
                await bus.tick()
            ctx.set(b.re, 1)
            await bus.tick()
            ctx.set(b.re, 0)
            n = 1
            while not ctx.get(b.rvalid):
                assert n < 20, name
                await bus.tick()
                n += 1
            seen[name] = (n, ctx.get(b.rdata))
            await bus.tick()
        seen["expect"] = {name: v for name, (a, v) in cases.items()}

    unit.run(script)
    for name, value in seen.pop("expect").items():
        assert seen[name] == (BUS_READ_LATENCY, value), name


def _program_run(unit_sim, p, prog, setup=None):
    unit = unit_sim(p)
    out = {}

    async def script(bus):
        await bus.write_rows("imem", 0, np.array(prog.words(), dtype=np.uint64).reshape(-1, 1))
        if setup:
            await setup(bus)
        await bus.start()
        await bus.wait()
        out["status"] = await bus.reg("ctrl")
        out["pc"] = out["status"] >> 32

    unit.run(script)
    return out


@pytest.mark.parametrize("instrs,code,pc", [
    ([Instr("MMUL", n=1), Instr("HALT")], "no_tile", 0),
    ([Instr("RW"), Instr("RW"), Instr("RW"), Instr("HALT")], "banks_full", 2),
    ([Instr("RW"), Instr("MMUL", n=0), Instr("HALT")], "zero_count", 1),
    ([Instr("NOP"), Instr("SETQ", mult=0, shift=3), Instr("HALT")], "bad_quant", 1),
    ([Instr("SETQ", mult=1 << 16, shift=3), Instr("HALT")], "bad_quant", 0),
    ([Instr("SETQ", mult=1, shift=48), Instr("HALT")], "bad_quant", 0),
])
def test_faults_stop_with_their_cause(unit_sim, instrs, code, pc):
    p = small()
    out = _program_run(unit_sim, p, Program(instrs))
    status = out["status"]
    assert status & 0b1111 == 0b1010, "done and error"
    assert (status >> 8) & 0xF == ERROR_CODES[code]
    assert out["pc"] == pc


def test_illegal_opcode(unit_sim):
    p = small()
    unit = unit_sim(p)
    out = {}

    async def script(bus):
        await bus.write(busmap.layout(p, "imem").addr(0, 0), 0x7 << 60)
        await bus.start()
        await bus.wait()
        out["status"] = await bus.reg("ctrl")

    unit.run(script)
    assert (out["status"] >> 8) & 0xF == ERROR_CODES["illegal_opcode"]


def test_host_pauses_rhm_whm_and_counters(unit_sim):
    """RHM: the unit waits for the host to write the input; WHM: for it to
    read the result; memories are reachable only while it waits."""
    p = small(rows=2, cols=2)
    rng = np.random.default_rng(5)
    w = rng.integers(-128, 128, (2, 2))
    comp = compile_matmul(3, w, p, mult=1, shift=4)
    body = list(comp.program)[:-1]
    y_base = comp.y.base
    prog = Program([Instr("RHM", a=0, n=3)] + body + [Instr("WHM", a=y_base, n=3), Instr("HALT")])
    xs = [rng.integers(-128, 128, (3, 2)) for _ in range(1)]
    unit = unit_sim(p)
    got = {}

    async def script(bus):
        await bus.write_rows("imem", 0, np.array(prog.words(), dtype=np.uint64).reshape(-1, 1))
        for base, rows in comp.wmem.items():
            await bus.write_rows("wmem", base, rows)
        await bus.start()
        await bus.wait()
        st = await bus.reg("ctrl")
        got["wait1"] = (st & 0b111, await bus.reg("instr"))
        await bus.write_rows("ub", 0, comp.pack_input(xs[0]))
        for _ in range(5):
            await bus.tick()
        await bus.write(busmap.reg_addr("ctrl"), 2)           # resume
        got["imem_ok_running"] = (await bus.probe(busmap.layout(p, "imem").addr(0, 0)))[0]
        await bus.tick()
        await bus.wait()
        got["wait2"] = (await bus.reg("ctrl")) & 0b111
        got["y"] = comp.unpack_output(await bus.read_rows("ub", y_base, 3))
        await bus.write(busmap.reg_addr("ctrl"), 2)
        await bus.tick()
        await bus.wait()
        got["end"] = (await bus.reg("ctrl")) & 0b1111
        got["host_wait"] = await bus.reg("host_wait")
        got["cycles"] = await bus.reg("cycles")

    unit.run(script)
    assert got["wait1"][0] == 0b101                  # busy, waiting
    assert got["wait1"][1] == Instr("RHM", a=0, n=3).encode()
    assert got["imem_ok_running"] == 0
    assert got["wait2"] == 0b101
    np.testing.assert_array_equal(got["y"], dense_layer(xs[0], w, 1, 4, False))
    assert got["end"] == 0b0010
    assert got["host_wait"] > 10
    assert got["cycles"] == simulate(prog, p).cycles


def test_abort_stops_a_running_program(unit_sim):
    p = small()
    prog = Program([Instr("RW"), Instr("MMUL", n=100), Instr("RW"), Instr("MMUL", n=100),
                    Instr("HALT")])
    unit = unit_sim(p)
    got = {}

    async def script(bus):
        await bus.write_rows("imem", 0, np.array(prog.words(), dtype=np.uint64).reshape(-1, 1))
        await bus.start()
        for _ in range(20):
            await bus.tick()
        got["running"] = (await bus.reg("ctrl")) & 1
        got["ub_ok_running"] = (await bus.probe(busmap.layout(p, "ub").addr(0, 0)))[0]
        await bus.write(busmap.reg_addr("ctrl"), 4)
        await bus.tick()                    # the abort acts from a register
        got["after"] = (await bus.reg("ctrl")) & 0b1111
        got["ub_ok_after"] = (await bus.probe(busmap.layout(p, "ub").addr(0, 0)))[0]

    unit.run(script)
    assert got["running"] == 1 and got["ub_ok_running"] == 0
    assert got["after"] == 0 and got["ub_ok_after"] == 1


def test_bias_preloaded_into_accumulators(unit_sim):
    """The host writes a bias into the accumulators; MMULs that all add
    (no overwrite) give bias + X @ W, and the golden Machine agrees."""
    p = small(rows=2, cols=2)
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, (4, 2))
    w = rng.integers(-128, 128, (2, 2))
    bias = rng.integers(-10 ** 6, 10 ** 6, (4, 2))
    prog = Program([Instr("RW", a=0), Instr("MMUL", a=0, b=0, n=4, flags=1), Instr("HALT")])
    unit = unit_sim(p)
    got = {}

    async def script(bus):
        await bus.write_rows("imem", 0, np.array(prog.words(), dtype=np.uint64).reshape(-1, 1))
        await bus.write_rows("wmem", 0, w)
        await bus.write_rows("ub", 0, x)
        await bus.write_rows("acc", 0, bias)
        await bus.start()
        await bus.wait()
        got["acc"] = await bus.read_rows("acc", 0, 4)

    unit.run(script)
    mach = Machine(p)
    mach.wmem[:2] = w
    mach.ub[:4, :2] = x
    mach.acc[:4] = bias
    mach.run(prog)
    np.testing.assert_array_equal(got["acc"], bias + x @ w)
    np.testing.assert_array_equal(got["acc"], mach.acc[:4])


def test_cnn_chain_with_host_gathers(run_unit):
    """conv (pad 1) -> conv (stride 2) -> dense on the unit: at each RHM the
    host gathers the next layer's input from the previous layer's output
    (im2col, flatten); the result is the golden model's, the counters the
    cycle model's."""
    from eiegen.sw.systolic.compiler import Conv2d
    from eiegen.sw.systolic.rtl import golden_output
    p = small(rows=3, cols=2, ub_depth=512, acc_depth=64, wmem_depth=512, imem_depth=512)
    rng = np.random.default_rng(9)
    layers = [Conv2d(rng.integers(-128, 128, (3, 2, 3, 3)), stride=1, padding=1, mult=3, shift=10,
                     relu=True, input_hw=(4, 3)),
              Conv2d(rng.integers(-128, 128, (2, 3, 2, 2)), stride=2, mult=5, shift=11, relu=True,
                     layout="NCHW"),
              Layer(rng.integers(-128, 128, (2 * 2 * 1, 3)), 7, 9, False)]
    comp = compile_layers(2, layers, p)
    x = rng.integers(-128, 128, comp.input_shape)
    y, counters, status, _ = run_unit(p, comp, x)
    np.testing.assert_array_equal(y, golden_output(comp, x))
    assert counters == simulate(comp.program, p).counters()
    assert status & 0b1111 == 0b0010


@pytest.mark.parametrize("when", ["mmul", "act", "rhm"])
def test_abort_port_contract(unit_sim, when):
    """The unit contract (docs/host-link.md): an `abort` pulse while busy
    leaves the unit idle (busy, done low) within 64 cycles, whatever it was
    doing; the program and weight memories keep their contents; the next
    start runs the program again to the right result and counters. Abort
    while idle changes nothing."""
    p = small(rows=2, cols=2, acc_depth=64, ub_depth=512)
    rng = np.random.default_rng(21)
    M = 40
    w = rng.integers(-128, 128, (6, 5))
    x = rng.integers(-128, 128, (M, 6))
    comp = compile_matmul(M, w, p, mult=3, shift=9, relu=True)
    prog = comp.program
    if when == "rhm":
        prog = Program([Instr("RHM", a=0, n=1)] + list(prog))
    ops = [i.op for i in prog]
    unit = unit_sim(p)
    got = {}

    async def script(bus):
        dut = unit.dut
        for mem, base, rows in comp.memory_writes(x):
            if mem == "imem":
                rows = np.array(prog.words(), dtype=np.uint64).reshape(-1, 1)
            await bus.write_rows(mem, base, rows)
        assert bus.ctx.get(dut.config_ok)
        await bus.start()
        # run until the chosen engine is working, then abort
        for _ in range(10_000):
            if when == "mmul" and bus.ctx.get(dut._seq.issue):
                break
            if when == "act" and bus.ctx.get(dut._act.busy):
                break
            if when == "rhm" and bus.ctx.get(dut.waiting):
                break
            await bus.tick()
        else:
            raise AssertionError(f"never reached {when}")
        bus.ctx.set(dut.abort, 1)
        await bus.tick()
        bus.ctx.set(dut.abort, 0)
        for n in range(64):
            if not bus.ctx.get(dut.busy) and not bus.ctx.get(dut.done):
                break
            await bus.tick()
        got["idle_after"] = n
        got["status"] = await bus.reg("ctrl")
        got["imem"] = await bus.read_rows("imem", 0, len(prog))
        got["wmem"] = {b: await bus.read_rows("wmem", b, p.rows) for b in comp.wmem}
        # again, from the start (the input rewritten: outputs and inputs may hold anything)
        await bus.write_rows("ub", comp.x.base, comp.pack_input(x))
        await bus.start()
        await bus.wait()
        if when == "rhm":
            await bus.write(busmap.reg_addr("ctrl"), 2)
            await bus.tick()
            await bus.wait()
        got["y"] = comp.unpack_output(await bus.read_rows(*comp.output_read()))
        got["cycles"] = await bus.reg("cycles")
        got["done"] = await bus.reg("ctrl")
        # abort while idle (done): nothing changes
        bus.ctx.set(dut.abort, 1)
        await bus.tick()
        bus.ctx.set(dut.abort, 0)
        for _ in range(4):
            await bus.tick()
        got["done_after_idle_abort"] = await bus.reg("ctrl")
        got["y2"] = comp.unpack_output(await bus.read_rows(*comp.output_read()))

    unit.run(script)
    assert got["idle_after"] < 64 and got["status"] & 0b1111 == 0
    assert [int(v[0]) & (2 ** 64 - 1) for v in got["imem"]] == [int(v) for v in prog.words()]
    for b, rows in got["wmem"].items():
        np.testing.assert_array_equal(rows, comp.wmem[b][:p.rows])
    want = dense_layer(x, w, 3, 9, True)
    np.testing.assert_array_equal(got["y"], want)
    assert got["cycles"] == simulate(prog, p).cycles
    assert got["done"] & 0b1111 == 0b0010
    assert got["done_after_idle_abort"] == got["done"]
    np.testing.assert_array_equal(got["y2"], want)
    assert "ACT" in ops and "MMUL" in ops


@pytest.mark.parametrize("R,C", [(4, 2), (3, 1)])
def test_chain_packs_n_tiles_into_rows_when_rows_exceed_cols(run_unit, R, C):
    """R >= 2C: a layer's n-tiles of C lanes are written side by side (ACT
    lane=) so that the next layer reads k-tiles of (R // C) * C lanes; the
    result is the golden chain, the counters the cycle model's and
    dense_cycles' (the compiler's schedule run through the model)."""
    from eiegen.sw.systolic.compare import dense_report
    p = small(rows=R, cols=C, acc_depth=64, ub_depth=256, wmem_depth=1024, imem_depth=512)
    rng = np.random.default_rng(R * 10 + C)
    sizes = [7, 9, 6, 3]
    layers = [Layer(rng.integers(-128, 128, (a, b)), 37, 12, True) for a, b in zip(sizes, sizes[1:])]
    layers[-1].relu = False
    comp = compile_layers(5, layers, p)
    acts = [i for i in comp.program if i.op == "ACT"]
    assert any(a.lane for a in acts), "n-tiles share rows"
    assert comp.stages[1].k == 9 and all(i.n for i in acts)
    x = rng.integers(-128, 128, (5, 7))
    y, counters, _, _ = run_unit(p, comp, x)
    h = x
    for l in layers:
        h = dense_layer(h, l.weight, l.mult, l.shift, l.relu)
    np.testing.assert_array_equal(y, h)
    assert counters == simulate(comp.program, p).counters()
    assert dense_report([(a, b) for a, b in zip(sizes, sizes[1:])], R, C, 5, acc_depth=64).cycles \
        == counters["cycles"]


async def _raw_write(bus, addr, value, start_at=None):
    """A write whose `we` is the cycle after `addr` has been on the bus two
    cycles, with the start port pulsed `start_at` cycles before `we` (0: in
    its cycle); returns addr_ok in the `we` cycle (the host may write then)."""
    ctx, b = bus.ctx, bus.dut.bus
    ctx.set(b.addr, int(addr))
    ctx.set(b.wdata, int(value))
    for k in range(8, -1, -1):
        ctx.set(bus.dut.start, int(k == start_at))
        ctx.set(b.we, int(k == 0))
        ok = ctx.get(b.addr_ok)
        await bus.tick()
    ctx.set(bus.dut.start, 0)
    ctx.set(b.we, 0)
    return ok


def test_host_write_lands_for_the_next_read_allowed(unit_sim):
    """A memory write lands a cycle after its `we` (registered beside the
    memory): a read two cycles after it (the earliest the host-bus contract
    allows) returns the word, the address may change the cycle after the
    write, and back-to-back writes to one word leave the second."""
    p = small(rows=3, cols=20, ub_depth=40)
    unit = unit_sim(p)
    seen = {}

    async def script(bus):
        ctx, b = bus.ctx, bus.dut.bus
        for name in ("ub", "acc", "wmem", "imem"):
            lo = busmap.layout(p, name)
            a, a2 = lo.addr(3, 0), lo.addr(4, 0)
            ctx.set(b.addr, a)
            await bus.tick()
            await bus.tick()
            for v in (0x1111, 0x2222):           # back to back, the same word
                ctx.set(b.wdata, v)
                ctx.set(b.we, 1)
                await bus.tick()
            ctx.set(b.we, 0)
            await bus.tick()
            ctx.set(b.re, 1)                     # two cycles after the last write
            await bus.tick()
            ctx.set(b.re, 0)
            while not ctx.get(b.rvalid):
                await bus.tick()
            got = [ctx.get(b.rdata)]
            await bus.tick()
            ctx.set(b.wdata, 0x3333)             # the address moves right after we
            ctx.set(b.we, 1)
            await bus.tick()
            ctx.set(b.we, 0)
            ctx.set(b.addr, a2)
            ctx.set(b.wdata, 0x4444)
            await bus.tick()
            await bus.tick()
            ctx.set(b.we, 1)
            await bus.tick()
            ctx.set(b.we, 0)
            got += [await bus.read(a), await bus.read(a2)]
            seen[name] = got

    unit.run(script)
    for name, got in seen.items():
        assert got == [0x2222, 0x3333, 0x4444], name


@pytest.mark.parametrize("start_at", range(5))
def test_host_write_as_the_unit_starts(unit_sim, start_at):
    """A memory write in the cycles around a start (the start pulse 0 .. 4
    cycles before the write's `we`) lands a cycle later, or not at all; when
    it lands, it does so before the program reads it. The input (unified
    buffer): the write lands exactly when addr_ok is high in its cycle.
    Instruction 0 (illegal before the write, HALT after): the program runs
    the word that is there after."""
    p = small(rows=2, cols=2)
    rng = np.random.default_rng(3)
    w, x = rng.integers(-128, 128, (2, 2)), rng.integers(-128, 128, (2, 2))
    x2 = x.copy()
    x2[0, 0] = x[0, 0] ^ 1
    comp = compile_matmul(2, w, p, output="int32")
    ua, ud = busmap.write_words(p, "ub", comp.x.base, comp.pack_input(x))
    _, ud2 = busmap.write_words(p, "ub", comp.x.base, comp.pack_input(x2))
    (k,) = np.flatnonzero(ud != ud2)             # one word tells x2 from x
    halt = Program([Instr("HALT")]).words()[0]
    i0 = busmap.layout(p, "imem").addr(0, 0)
    unit = unit_sim(p)
    seen = {}

    async def script(bus):
        for mem, base, rows in comp.memory_writes(x):
            await bus.write_rows(mem, base, rows)
        seen["ub_ok"] = await _raw_write(bus, ua[k], ud2[k], start_at)
        await bus.wait()
        seen["ub"] = await bus.read(ua[k])
        seen["y"] = comp.unpack_output(await bus.read_rows(*comp.output_read()))
        await bus.write(i0, 0x7 << 60)           # illegal
        await _raw_write(bus, i0, halt, start_at)
        await bus.wait()
        seen["imem"] = await bus.read(i0)
        seen["status"] = await bus.reg("ctrl")

    unit.run(script)
    landed = seen["ub"] == int(ud2[k])
    assert landed == seen["ub_ok"] == (start_at <= 2)
    np.testing.assert_array_equal(seen["y"], matmul_acc(x2 if landed else x, w))
    assert seen["imem"] in (halt, 0x7 << 60)
    illegal = (seen["status"] >> 8) & 0xF == ERROR_CODES["illegal_opcode"]
    assert illegal == (seen["imem"] != halt) == (start_at != 0)
