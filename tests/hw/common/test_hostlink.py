"""LinkCore (the byte-level host link) in the Amaranth simulator, against the
dummy unit: good frames, every fault of issue 5, and the load/commit/run
rules. Every fault test also checks that the unit's memories did not change."""

import random

import pytest
from amaranth import Module
from amaranth.lib.wiring import connect

from eiegen.hw.common.hostlink import LinkCore, HostLink, DEFAULT_WATCHDOG_CYCLES
from eiegen.sim.amaranth_sim import run, stream_get, stream_put
from eiegen.sim.hostlink_dummy import (DummyUnit, DummyModel, DUMMY_TARGETS, DATA_TARGETS, DESIGN,
                                       PARAMS, RUN_CYCLES)
from eiegen.sw.link import protocol as P
from eiegen.sw.link.protocol import Cmd, Status, make_addr

TIMEOUT = 40
#: cycles the byte engine may take to answer a line error once the timeout has passed
#: (the error count and the answer's header, CRC and bytes, a few instructions each)
ANSWER_CYCLES = 800

A = DUMMY_TARGETS["mem_a"].id
B = DUMMY_TARGETS["mem_b"].id
C = DUMMY_TARGETS["mem_c"].id
INP = DUMMY_TARGETS["inputs"].id
REGS = DUMMY_TARGETS["regs"].id


class Bench:
    def __init__(self, *, timeout=TIMEOUT, loaded_at_reset=False, max_payload=256, timing=None):
        self.m = m = Module()
        self.core = core = LinkCore(design=DESIGN, params=PARAMS, timeout_cycles=timeout,
                                    max_payload=max_payload, data_targets=DATA_TARGETS,
                                    loaded_at_reset=loaded_at_reset, **(timing or {}))
        self.unit = unit = DummyUnit()
        m.submodules.core = core
        m.submodules.unit = unit
        connect(m, core.bus, unit.bus)
        m.d.comb += [unit.start.eq(core.start), core.busy.eq(unit.busy), core.done.eq(unit.done)]
        self.out = bytearray()
        self.tag = 0
        self.model = DummyModel()

    async def collect(self, ctx):
        """Background process: the bytes the link sends (tx is always ready,
        as the UART transmitter's FIFO would be), taken at every clock edge."""
        async for _, _, valid, payload in ctx.tick().sample(self.core.tx.valid,
                                                            self.core.tx.payload):
            if valid:
                self.out.append(payload)

    async def tick(self, ctx, n=1):
        for _ in range(n):
            await ctx.tick()

    async def send(self, ctx, data, gap=2):
        """Bytes into the link's rx stream (each held until taken, as a UART
        receiver holds it), `gap` idle cycles apart."""
        for b in data:
            await stream_put(ctx, self.core.rx, b)
            await self.tick(ctx, gap)

    async def response(self, ctx, max_cycles=60000):
        for _ in range(max_cycles):
            if len(self.out) >= P.RESPONSE_HEADER and len(self.out) >= P.response_length(self.out):
                n = P.response_length(self.out)
                raw, self.out = bytes(self.out[:n]), self.out[n:]
                return P.decode_response(raw)
            await self.tick(ctx)
        return None

    async def exchange(self, ctx, cmd, addr=0, payload=b"", tag=None):
        if tag is None:
            self.tag = (self.tag + 1) & 0xFF
            tag = self.tag
        await self.send(ctx, P.encode_frame(cmd, addr, payload, tag))
        r = await self.response(ctx)
        assert r is not None, f"no answer to command {cmd!r}"
        assert (r.cmd, r.tag) == (cmd, tag)
        return r

    async def write(self, ctx, addr, payload, expect=Status.OK):
        r = await self.exchange(ctx, Cmd.WRITE, addr, payload)
        assert Status(r.status) == expect
        if expect == Status.OK:
            self.model.write(addr, payload)
        return r

    async def read(self, ctx, addr, n):
        r = await self.exchange(ctx, Cmd.READ, addr, n.to_bytes(2, "little"))
        assert Status(r.status) == Status.OK, Status(r.status)
        return r.payload

    async def status(self, ctx):
        r = await self.exchange(ctx, Cmd.STATUS)
        assert r.status == Status.OK
        return P.decode_status(r.payload)

    def memories(self, ctx):
        """Every dummy memory word, read directly from the simulation."""
        out = {}
        for name, mem in self.unit.mems.items():
            t = DUMMY_TARGETS[name]
            for pe in range(t.pes):
                out[(t.id, pe)] = [ctx.get(mem.data[pe * t.words + i]) for i in range(t.words)]
        return out

    def run(self, scenario):
        async def tb(ctx):
            ctx.set(self.core.tx.ready, 1)
            await self.tick(ctx, 3)
            await scenario(self, ctx)

        run(self.m, tb, processes=[self.collect])


def _fill(rng, n):
    return bytes(rng.randrange(256) for _ in range(n))


def test_identify_probe_and_status():
    async def scenario(b, ctx):
        r = await b.exchange(ctx, Cmd.IDENTIFY)
        assert r.status == Status.OK
        ident = P.decode_identify(r.payload)
        assert ident["design"] == DESIGN
        assert ident["params"] == PARAMS
        assert ident["link"]["max_payload"] == 256
        assert ident["link"]["timeout_cycles"] == TIMEOUT
        for target, pe, wb, ok in [(A, 0, 2, 1), (B, 1, 8, 1), (B, 2, 8, 0), (C, 0, 3, 1),
                                   (0x77, 0, 1, 0)]:
            r = await b.exchange(ctx, Cmd.PROBE, make_addr(target, pe, 0))
            assert r.status == Status.OK and r.payload == bytes([wb, ok])
        r = await b.exchange(ctx, Cmd.PROBE, make_addr(A, 0, 32))      # one past the end
        assert r.payload == bytes([2, 0])
        st = await b.status(ctx)
        assert st["loaded"] is False and st["busy"] is False and st["running"] is False
        assert st["checksum"] == P.CHECKSUM_EMPTY
        assert st["rx_errors"] == 0
        assert st["frames"] == 8                     # frames with a good CRC so far

    Bench().run(scenario)


#: the byte engine's timings (two cycles an instruction; three: the ECP5's registered
#: program word; boards/top.py LINK_TIMING)
TIMINGS = {"2cycle": {}, "code_latency2": {"code_latency": 2},
           "banked": {"code_latency": 1, "code_bank": 256}}


@pytest.mark.parametrize("timing", TIMINGS)
def test_write_read_every_word_size(timing):
    rng = random.Random(1)

    async def scenario(b, ctx):
        cases = [(make_addr(A, 0, 0), 64), (make_addr(A, 0, 5), 10), (make_addr(B, 1, 3), 8 * 13),
                 (make_addr(B, 0, 0), 8 * 16), (make_addr(C, 0, 1), 21), (make_addr(INP, 0, 0), 8)]
        for addr, n in cases:
            await b.write(ctx, addr, _fill(rng, n))
        assert b.memories(ctx) == b.model.mem
        for addr, n in cases:
            target, pe, word = P.split_addr(addr)
            wb = next(t.word_bytes for t in DUMMY_TARGETS.values() if t.id == target)
            expect = b"".join(v.to_bytes(wb, "little")
                              for v in b.model.mem[(target, pe)][word:word + n // wb])
            assert await b.read(ctx, addr, n) == expect
        # registers: delay is read/write, status reads back
        await b.write(ctx, make_addr(REGS, 0, 3), (0xDEADBEEF).to_bytes(4, "little"))
        assert await b.read(ctx, make_addr(REGS, 0, 0), 16) == (
            bytes(4) + bytes(4) + bytes(4) + (0xDEADBEEF).to_bytes(4, "little"))

    Bench(timing=TIMINGS[timing]).run(scenario)


def _fault_scenario(mutate, expect, *, quiet_after=True):
    """Load known contents, send a mutated WRITE frame, check the answer (or
    None for silence) and that no memory changed; then check that the link
    still works."""
    rng = random.Random(7)

    async def scenario(b, ctx):
        loads = [(make_addr(A, 0, 0), _fill(rng, 64)), (make_addr(B, 1, 0), _fill(rng, 128))]
        for addr, data in loads:
            await b.write(ctx, addr, data)
        before = b.memories(ctx)
        good = P.encode_frame(Cmd.WRITE, make_addr(A, 0, 4), _fill(rng, 20), tag=0x42)
        await b.send(ctx, mutate(good))
        r = await b.response(ctx, max_cycles=6 * TIMEOUT + ANSWER_CYCLES)
        if expect is None:
            assert r is None
        else:
            assert r is not None and Status(r.status) == expect, (expect, r)
        await b.tick(ctx, 2 * TIMEOUT)                 # let the line be quiet
        assert b.memories(ctx) == before
        st = await b.status(ctx)
        assert st["checksum"] == P.load_checksum(loads)     # the bad frame is not counted
        # the link recovered: the intact frame now goes through
        await b.send(ctx, good)
        r = await b.response(ctx)
        assert r is not None and r.status == Status.OK
        assert b.memories(ctx) != before
        b.fault_status = st

    b = Bench()
    b.run(scenario)
    return b


def _flip(pos, mask=0x01):
    def f(frame):
        x = bytearray(frame)
        x[pos] ^= mask
        return bytes(x)
    return f


def test_corrupted_payload_byte():
    b = _fault_scenario(_flip(P.REQUEST_HEADER + 5), Status.BAD_CRC)
    assert b.fault_status["rx_errors"] == 1


@pytest.mark.parametrize("pos", [1, 2, 3, 6])          # command, tag, address low, address high
def test_corrupted_header_byte(pos):
    _fault_scenario(_flip(pos, 0x10), Status.BAD_CRC)


def test_corrupted_length_longer_is_a_timeout():
    _fault_scenario(_flip(7, 0x08), Status.TIMEOUT)      # LEN 20 -> 28: the bytes run out


def test_corrupted_length_shorter_is_bad_crc():
    _fault_scenario(_flip(7, 0x04), Status.BAD_CRC)      # LEN 20 -> 16: CRC taken from payload


def test_wrong_crc():
    _fault_scenario(_flip(-1, 0xFF), Status.BAD_CRC)


def test_every_crc_bit_and_a_resend_after_a_damaged_one():
    """The frame's two CRC bytes are compared with the frame CRC register, not
    fed through it: a flip of any one of their 16 bits is BAD_CRC, and changes
    nothing. A WRITE executed OK whose resend then arrives with a damaged CRC
    is still recognised when it is resent intact (the board remembers the
    TAG and CRC of the last frame answered OK, not of the last one received):
    its words enter the load checksum once."""
    rng = random.Random(11)

    async def scenario(b, ctx):
        first = (make_addr(A, 0, 0), _fill(rng, 16))
        await b.write(ctx, *first)
        before = b.memories(ctx)
        data = _fill(rng, 24)
        good = P.encode_frame(Cmd.WRITE, make_addr(A, 0, 8), data, tag=0x42)
        for bit in range(16):
            await b.send(ctx, _flip(len(good) - 2 + bit // 8, 1 << (bit % 8))(good))
            r = await b.response(ctx, max_cycles=6 * TIMEOUT + ANSWER_CYCLES)
            assert r is not None and Status(r.status) == Status.BAD_CRC, bit
            await b.tick(ctx, 2 * TIMEOUT)
        assert b.memories(ctx) == before
        st = await b.status(ctx)
        assert st["checksum"] == P.load_checksum([first]) and st["rx_errors"] == 16
        # now executed; its answer "lost", the resend damaged in the CRC, then intact
        for frame, expect in ((good, Status.OK), (_flip(len(good) - 1, 0x20)(good), Status.BAD_CRC),
                              (good, Status.OK)):
            await b.send(ctx, frame)
            r = await b.response(ctx)
            assert r is not None and Status(r.status) == expect, (expect, r)
            await b.tick(ctx, 2 * TIMEOUT)
        st = await b.status(ctx)
        assert st["checksum"] == P.load_checksum([first, (make_addr(A, 0, 8), data)])

    Bench().run(scenario)


def test_dropped_byte():
    _fault_scenario(lambda f: f[:12] + f[13:], Status.TIMEOUT)


def test_truncated_frame():
    _fault_scenario(lambda f: f[:15], Status.TIMEOUT)
    _fault_scenario(lambda f: f[:4], Status.TIMEOUT)


def test_lost_sync_is_silence():
    _fault_scenario(lambda f: bytes([0x00]) + f[1:], None)


def test_oversize_length_is_refused_after_quiet():
    def mutate(f):
        x = bytearray(f)
        x[8] = 0x02                                      # LEN = 0x0214 > 256
        return bytes(x)
    _fault_scenario(mutate, Status.BAD_LENGTH)


def test_bad_crc_then_garbage_is_discarded_until_quiet():
    """After a BAD_CRC answer the receiver ignores the line until it is quiet:
    a frame sent right behind the bad one is not executed."""
    rng = random.Random(3)

    async def scenario(b, ctx):
        before = b.memories(ctx)
        good = P.encode_frame(Cmd.WRITE, make_addr(A, 0, 0), _fill(rng, 8), tag=9)
        bad = bytearray(good)
        bad[10] ^= 0x20
        await b.send(ctx, bytes(bad) + good, gap=1)
        r = await b.response(ctx)
        assert r.status == Status.BAD_CRC
        assert await b.response(ctx, max_cycles=4 * TIMEOUT) is None
        assert b.memories(ctx) == before
        await b.tick(ctx, 2 * TIMEOUT)
        await b.send(ctx, good)
        assert (await b.response(ctx)).status == Status.OK

    Bench().run(scenario)


def test_refusals_change_nothing():
    rng = random.Random(5)

    async def scenario(b, ctx):
        await b.write(ctx, make_addr(A, 0, 0), _fill(rng, 64))
        before = b.memories(ctx)
        # past the end: the first words exist, the last ones do not
        await b.write(ctx, make_addr(A, 0, 30), _fill(rng, 8), expect=Status.BAD_ADDRESS)
        await b.write(ctx, make_addr(B, 2, 0), _fill(rng, 8), expect=Status.BAD_ADDRESS)
        await b.write(ctx, make_addr(0x55, 0, 0), _fill(rng, 4), expect=Status.BAD_ADDRESS)
        await b.write(ctx, make_addr(A, 0, 0xFFFF), _fill(rng, 4), expect=Status.BAD_ADDRESS)
        # not whole words
        await b.write(ctx, make_addr(A, 0, 0), _fill(rng, 7), expect=Status.BAD_LENGTH)
        await b.write(ctx, make_addr(C, 0, 0), _fill(rng, 4), expect=Status.BAD_LENGTH)
        await b.write(ctx, make_addr(A, 0, 0), b"", expect=Status.BAD_LENGTH)
        r = await b.exchange(ctx, Cmd.READ, make_addr(A, 0, 31), (4).to_bytes(2, "little"))
        assert r.status == Status.BAD_ADDRESS and r.payload == b""
        r = await b.exchange(ctx, Cmd.READ, make_addr(A, 0, 0), (257).to_bytes(2, "little"))
        assert r.status == Status.BAD_LENGTH
        r = await b.exchange(ctx, Cmd.READ, make_addr(A, 0, 0), b"\x04")
        assert r.status == Status.BAD_LENGTH
        r = await b.exchange(ctx, 0x3C)
        assert r.status == Status.BAD_COMMAND
        r = await b.exchange(ctx, Cmd.STATUS, payload=b"\x00")
        assert r.status == Status.BAD_LENGTH
        assert b.memories(ctx) == before
        st = await b.status(ctx)
        assert st["rx_errors"] == 0                     # well-formed frames, refused

    Bench().run(scenario)


@pytest.mark.parametrize("timing", TIMINGS)
def test_load_commit_run(timing):
    """run before commit, wrong checksum, data targets, retransmissions."""
    DELAY = 6000                    # long enough for four frames while the unit runs
    rng = random.Random(11)

    async def scenario(b, ctx):
        r = await b.exchange(ctx, Cmd.RUN)
        assert r.status == Status.NOT_LOADED
        assert (await b.exchange(ctx, Cmd.BEGIN)).status == Status.OK
        frames = [(make_addr(A, 0, 0), _fill(rng, 64)), (make_addr(C, 0, 0), _fill(rng, 24)),
                  (make_addr(B, 1, 2), _fill(rng, 40)), (make_addr(INP, 0, 0), b"\x07")]
        for addr, data in frames[:2]:
            await b.write(ctx, addr, data)
        tag = b.tag
        # a partial load cannot run
        assert (await b.exchange(ctx, Cmd.RUN)).status == Status.NOT_LOADED
        # retransmission of the last frame executed OK: done once, counted once
        again = await b.exchange(ctx, Cmd.WRITE, *frames[1], tag=tag)
        assert again.status == Status.OK
        for addr, data in frames[2:]:
            await b.write(ctx, addr, data)
        full = P.load_checksum(frames)
        partial = P.load_checksum(frames[:3])
        r = await b.exchange(ctx, Cmd.COMMIT, payload=partial.to_bytes(4, "little"))
        assert r.status == Status.BAD_CHECKSUM
        assert int.from_bytes(r.payload, "little") == full
        assert (await b.exchange(ctx, Cmd.RUN)).status == Status.NOT_LOADED
        r = await b.exchange(ctx, Cmd.COMMIT, payload=full.to_bytes(4, "little"))
        assert r.status == Status.OK and int.from_bytes(r.payload, "little") == full
        st = await b.status(ctx)
        assert st["loaded"] and st["checksum"] == full
        # a data target does not clear `loaded`, a model memory does
        await b.write(ctx, make_addr(INP, 0, 0), b"\x05")
        assert (await b.status(ctx))["loaded"]
        await b.write(ctx, make_addr(REGS, 0, 3), (DELAY).to_bytes(4, "little"))  # run longer
        r = await b.exchange(ctx, Cmd.RUN)
        assert r.status == Status.OK
        # its retransmission is answered OK (a new RUN would be refused BUSY)
        r = await b.exchange(ctx, Cmd.RUN, tag=b.tag)
        assert r.status == Status.OK
        # while it runs: writes and runs are refused, reads answered
        st = await b.status(ctx)
        assert st["busy"] and st["running"]
        r = await b.exchange(ctx, Cmd.WRITE, make_addr(A, 0, 0), b"\x01\x02")
        assert r.status == Status.BUSY
        assert (await b.exchange(ctx, Cmd.RUN)).status == Status.BUSY
        await b.tick(ctx, 2 * RUN_CYCLES + DELAY)
        st = await b.status(ctx)
        assert st["done"] and not st["busy"] and not st["running"]
        # the unit was busy RUN_CYCLES + 1 + delay cycles; the link counts from the
        # start pulse to the first cycle with done high and busy low
        busy_cycles = int.from_bytes(await b.read(ctx, make_addr(REGS, 0, 2), 4), "little")
        assert busy_cycles == RUN_CYCLES + 1 + DELAY
        assert st["run_cycles"] == busy_cycles + 1
        # a RUN retransmitted after the run finished does not start it again
        assert (await b.exchange(ctx, Cmd.RUN)).status == Status.OK
        await b.tick(ctx, 2 * RUN_CYCLES + DELAY)
        assert (await b.exchange(ctx, Cmd.RUN, tag=b.tag)).status == Status.OK
        st = await b.status(ctx)
        assert st["done"] and not st["busy"]
        result = int.from_bytes(await b.read(ctx, make_addr(REGS, 0, 1), 4), "little")
        assert result == b.model.result()
        assert b.memories(ctx)[(A, 0)] == b.model.mem[(A, 0)]
        # one more model write clears `loaded` again
        await b.write(ctx, make_addr(A, 0, 1), b"\x00\x01")
        assert not (await b.status(ctx))["loaded"]
        assert (await b.exchange(ctx, Cmd.RUN)).status == Status.NOT_LOADED

    Bench(timing=TIMINGS[timing]).run(scenario)


def test_loaded_at_reset_and_begin_clears():
    async def scenario(b, ctx):
        assert (await b.status(ctx))["loaded"]
        assert (await b.exchange(ctx, Cmd.RUN)).status == Status.OK
        await b.tick(ctx, 2 * RUN_CYCLES)
        assert (await b.exchange(ctx, Cmd.BEGIN)).status == Status.OK
        assert (await b.exchange(ctx, Cmd.RUN)).status == Status.NOT_LOADED
        # an empty load commits with the empty checksum
        r = await b.exchange(ctx, Cmd.COMMIT, payload=P.CHECKSUM_EMPTY.to_bytes(4, "little"))
        assert r.status == Status.OK

    Bench(loaded_at_reset=True).run(scenario)


def test_hostlink_through_uart():
    """The UART-wrapped link, bit level: IDENTIFY and a WRITE/READ."""
    from eiegen.sim.hostlink_dummy import DummyBoard
    from eiegen.hw.common.uart import UARTRx, UARTTx
    cpb = 4
    dut = DummyBoard(clocks_per_bit=cpb, timeout_bits=16)
    m = Module()
    m.submodules.board = dut
    m.submodules.host_tx = htx = UARTTx(cpb)
    m.submodules.host_rx = hrx = UARTRx(cpb)
    m.d.comb += [dut.rx.eq(htx.tx), hrx.rx.eq(dut.tx)]
    answers = []
    frames = [P.encode_frame(Cmd.IDENTIFY, tag=1),
              P.encode_frame(Cmd.WRITE, make_addr(A, 0, 2), bytes(range(10)), tag=2),
              P.encode_frame(Cmd.READ, make_addr(A, 0, 2), (10).to_bytes(2, "little"), tag=3)]

    async def tb(ctx):
        for f in frames:
            for byte in f:
                await stream_put(ctx, htx.data, byte)
            # the answer: the host's receiver is read at once (it cannot be stalled)
            got = bytearray()
            while len(got) < P.RESPONSE_HEADER or len(got) < P.response_length(got):
                got.append(await stream_get(ctx, hrx.data))
            answers.append(P.decode_response(bytes(got)))

    run(m, tb, timeout=20000 * len(frames))
    assert [a.status for a in answers] == [0, 0, 0]
    ident = P.decode_identify(answers[0].payload)
    assert ident["link"] == {"max_payload": 256, "timeout_cycles": 64, "clocks_per_bit": 4,
                             "timeout_bits": 16, "watchdog_cycles": DEFAULT_WATCHDOG_CYCLES}
    assert answers[2].payload == bytes(range(10))


def test_timing_options_checked():
    with pytest.raises(ValueError, match="code_latency must be 1 or 2, got 3"):
        LinkCore(design=DESIGN, params=PARAMS, timeout_cycles=TIMEOUT, code_latency=3)
    with pytest.raises(ValueError, match="bus_timeout must be an integer"):
        LinkCore(design=DESIGN, params=PARAMS, timeout_cycles=TIMEOUT, bus_timeout=5000)


@pytest.mark.parametrize("timing", TIMINGS)
def test_answers_within_the_execution_budget(timing):
    """Every frame is answered within EXEC_CYCLES + EXEC_CYCLES_PER_BYTE x (its
    payload + the answer's) cycles after its last byte (what the host client
    allows, sw/link/protocol.py), here for the slowest kind of frame: the
    smallest words (1 and 2 bytes) of a link whose widest word is 8 bytes."""
    rng = random.Random(13)

    async def scenario(b, ctx):
        for cmd, addr, payload, answer in (
                (Cmd.WRITE, make_addr(A, 0, 0), _fill(rng, 64), 0),
                (Cmd.WRITE, make_addr(INP, 0, 0), _fill(rng, 8), 0),
                (Cmd.READ, make_addr(A, 0, 0), (64).to_bytes(2, "little"), 64),
                (Cmd.READ, make_addr(INP, 0, 0), (8).to_bytes(2, "little"), 8),
                (Cmd.STATUS, 0, b"", P.STATUS_BYTES), (Cmd.IDENTIFY, 0, b"", 0)):
            b.tag = (b.tag + 1) & 0xFF
            await b.send(ctx, P.encode_frame(cmd, addr, payload, b.tag), gap=0)
            cycles = 0
            while not b.out:
                await b.tick(ctx)
                cycles += 1
            budget = P.EXEC_CYCLES + P.EXEC_CYCLES_PER_BYTE * (len(payload) + answer)
            assert cycles <= budget, (cmd, cycles, budget)
            r = await b.response(ctx)
            assert r is not None and r.status == Status.OK

    Bench(timing=TIMINGS[timing]).run(scenario)
