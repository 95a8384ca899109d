"""hw/common/linkcode.py: the byte engine's assembler encodes what the
hardware decodes (hw/common/hostlink.py), refuses what it cannot do, and
the firmware keeps the rules the hardware and the protocol rely on (run
here on a small instruction-level model of the engine: its ALU, flags,
RAM and branches)."""

import pytest

from eiegen.hw.common.linkcode import (Op, Cond, Src, Dst, Imm, Io, Ind, Program, program, RAM,
                                       HEADER_BASE, PAYLOAD_BASE, IDENT_IN_RAM, ram_init,
                                       quiet_counts, wait_iterations, instruction_cycles,
                                       CYCLES_PER_WAIT_ITERATION)
from eiegen.sw.link.protocol import Cmd, Status, encode_identify

IDENT = encode_identify("dummy", {"a": 1, "b": 2}, {"max_payload": 256})


def _program(identify=IDENT, **kw):
    args = dict(status=Status, cmd=Cmd, identify=identify, max_payload=256, data_bytes=4,
                data_targets=(0x00, 0x14), bus_wait=wait_iterations(255, 1),
                quiet=quiet_counts(104000, 1))
    args.update(kw)
    return program(**args)


def decode(word):
    """The fields the hardware takes from a word (hostlink.py's decode)."""
    if word >> 15:
        return {"branch": True, "cond": (word >> 11) & 0xF, "inv": (word >> 10) & 1,
                "to": word & 0x3FF}
    return {"branch": False, "op": (word >> 12) & 7, "imm": (word >> 11) & 1,
            "io": (word >> 10) & 1, "ind": (word >> 9) & 1, "inc": (word >> 8) & 1,
            "operand": word & 0xFF, "feed": bool(((word >> 9) & 3) and not (word >> 11) & 1 and
                                                 (word >> 7) & 1)}


class Engine:
    """The byte engine at instruction level: acc, C, Z (acc = 0), bp, the RAM; I/O
    sources from a dict, OUTs recorded; conditions other than Z and C from a dict."""

    def __init__(self, words, ram, io=None, conds=None):
        self.words, self.ram = words, list(ram)
        self.io, self.conds = dict(io or {}), dict(conds or {})
        self.acc = self.c = self.bp = self.pc = 0
        self.outs, self.sent = [], []

    def cond(self, c):
        if c == Cond.TRUE:
            return True
        if c == Cond.Z:
            return self.acc == 0
        if c == Cond.C:
            return bool(self.c)
        return bool(self.conds.get(Cond(c), 0))

    def step(self):
        f = decode(self.words[self.pc])
        self.pc += 1
        if f["branch"]:
            if self.cond(f["cond"]) ^ f["inv"]:
                self.pc = f["to"]
            return
        addr = self.bp if f["ind"] else f["operand"]
        if f["imm"]:
            b = f["operand"]
        elif f["io"]:
            b = self.io.get(f["operand"] & 0xF, 0)
        else:
            b = self.ram[addr]
        op = f["op"]
        if op in (Op.LD, Op.TX):
            self.acc = b
            if op == Op.TX:
                self.sent.append(b)
        elif op in (Op.ADD, Op.ADC):
            total = self.acc + b + (self.c if op == Op.ADC else 0)
            self.acc, self.c = total & 0xFF, total >> 8
        elif op == Op.OR:
            self.acc |= b
        elif op == Op.XOR:
            self.acc ^= b
        elif op == Op.ST:
            if f["io"]:
                self.outs.append((f["operand"] & 0xF, self.acc))
                if f["operand"] & 0xF == Dst.BP:
                    self.bp = self.acc | ((f["operand"] >> 4) << 8)
            else:
                self.ram[addr] = self.acc
        if f["inc"]:
            self.bp += 1

    def run_until(self, pcs, limit=10000):
        for _ in range(limit):
            if self.pc in pcs:
                return self.pc
            self.step()
        raise AssertionError(f"did not reach {pcs} (at {self.pc})")


def test_the_program_fits_and_every_word_is_16_bits():
    p = _program()
    words = p.words()
    assert len(words) == len(p) <= 768                    # three 256x16 iCE40 block RAMs
    assert all(0 <= w < 1 << 16 for w in words)
    # the branch targets are inside the program
    for w in words:
        f = decode(w)
        if f["branch"]:
            assert f["to"] < len(words)


def test_encoding_matches_the_hardwares_decode():
    p = Program()
    p.label("HERE")
    p.ld(Imm(0xA5))
    p.add(Io(Src.CRC, feed=True))
    p.adc(Ind(inc=True, feed=True))
    p.xor(0x12)
    p.st(Io(Dst.BP, hi=1))
    p.tx(Ind())
    p.bn(Cond.RXV, "HERE")
    p.nop()
    w = [decode(x) for x in p.words()]
    assert w[0] == {**w[0], "op": Op.LD, "imm": 1, "operand": 0xA5, "feed": False}
    assert (w[1]["op"], w[1]["io"], w[1]["operand"] & 0xF, w[1]["feed"]) == (Op.ADD, 1, Src.CRC,
                                                                            True)
    assert (w[2]["op"], w[2]["ind"], w[2]["inc"], w[2]["feed"]) == (Op.ADC, 1, 1, True)
    assert (w[3]["op"], w[3]["imm"], w[3]["io"], w[3]["ind"], w[3]["operand"]) == (Op.XOR, 0, 0,
                                                                                   0, 0x12)
    assert (w[4]["op"], w[4]["io"], w[4]["operand"]) == (Op.ST, 1, Dst.BP | 0x10)
    assert (w[5]["op"], w[5]["ind"], w[5]["feed"]) == (Op.TX, 1, False)
    assert w[6] == {"branch": True, "cond": Cond.RXV, "inv": 1, "to": 0}
    assert w[7]["branch"] and w[7]["cond"] == Cond.TRUE and w[7]["inv"] == 1   # never taken


def test_the_assembler_refuses_what_the_engine_cannot_do():
    p = Program()
    with pytest.raises(ValueError, match="not a byte"):
        p.ld(Imm(256))
    with pytest.raises(ValueError, match="outside the state page"):
        p.ld(256)
    with pytest.raises(ValueError, match="not an immediate"):
        p.st(Imm(1))
    with pytest.raises(ValueError, match="does not feed"):
        p.st(Ind(feed=True))
    with pytest.raises(ValueError, match="only OUT BP"):
        p.st(Io(Dst.TGT, hi=1))
    p.j("NOWHERE")
    with pytest.raises(ValueError, match="no label 'NOWHERE'"):
        p.words()
    q = Program()
    q.label("A")
    with pytest.raises(ValueError, match="defined twice"):
        q.label("A")
    long = Program()
    for _ in range(1025):
        long.nop()
    with pytest.raises(ValueError, match="at most 1024 fit"):
        long.words()


def test_wait_loops_last_at_least_what_they_are_asked():
    for latency in (1, 2):
        per = CYCLES_PER_WAIT_ITERATION * instruction_cycles(latency)
        for cycles in (4, 255, 1000, 1500):
            assert wait_iterations(cycles, latency) * per >= cycles
        for timeout in (40, 64, 104000, 738000):
            inner, outer, pad = quiet_counts(timeout, latency)
            assert 1 <= inner <= 0xFF and 1 <= outer <= 0xFF
            assert inner * outer * (CYCLES_PER_WAIT_ITERATION + pad) * \
                instruction_cycles(latency) >= timeout
    with pytest.raises(ValueError, match="more than the silence count"):
        quiet_counts(10 ** 9, 1)


def test_ram_init_holds_the_watchdog_and_the_identify_bytes():
    ident = bytes(i & 0xFF for i in range(300))
    init = ram_init(0x12345678, 512, ident)
    assert init[RAM.LIM0:RAM.LIM3 + 1] == [0x78, 0x56, 0x34, 0x12]
    assert init[RAM.CSUM0:RAM.CSUM3 + 1] == [0, 0, 0, 0]     # the empty load's checksum
    assert init[RAM.IDENT:RAM.IDENT + IDENT_IN_RAM] == list(ident[:IDENT_IN_RAM])
    assert RAM.IDENT + IDENT_IN_RAM == HEADER_BASE          # up to the request header
    assert max(r for r in RAM if r < HEADER_BASE and r != RAM.IDENT) < RAM.IDENT


def test_identify_bytes_past_the_state_page_are_tx_immediates_in_order():
    ident = bytes((7 * i) & 0xFF for i in range(IDENT_IN_RAM + 40))
    p = _program(identify=ident)
    words = p.words()
    start = p.labels["TX_IDENT"]
    sent = [decode(w)["operand"] for w in words[start:start + 40]]
    assert all(decode(w)["op"] == Op.TX and decode(w)["imm"] for w in words[start:start + 40])
    assert bytes(sent) == ident[IDENT_IN_RAM:]
    assert decode(words[start + 40]) == {"branch": True, "cond": Cond.TRUE, "inv": 0,
                                         "to": p.labels["TX_CRC"]}


@pytest.mark.parametrize("cmd", [*Cmd, 0x00, 0x0A, 0x3C, 0xFF])
def test_dispatch_reaches_each_commands_handler(cmd):
    """From the instruction after the frame's CRC checked, with CMD in the header,
    the engine reaches the command's handler (or answers BAD_COMMAND)."""
    p = _program()
    words = p.words()
    ram = ram_init(1000, 512, IDENT)
    ram[RAM.CMD] = int(cmd)
    e = Engine(words, ram)
    # the dispatch starts at the instruction that loads CMD (after the counters and DUP)
    e.pc = next(i for i in range(p.labels["RXC2_GOT"], len(words))
                if decode(words[i]) == decode(words[i]) and not decode(words[i])["branch"]
                and decode(words[i])["op"] == Op.LD and decode(words[i])["operand"] == RAM.CMD
                and not decode(words[i])["ind"] and not decode(words[i])["io"])
    handlers = {p.labels[c.name] for c in Cmd}
    end = e.run_until(handlers | {p.labels["ANSWER"]})
    if cmd in set(Cmd):
        assert end == p.labels[Cmd(cmd).name]
    else:
        assert end == p.labels["ANSWER"] and e.acc == Status.BAD_COMMAND


def test_rx_errors_saturate_and_frames_wrap():
    """COUNT_ERROR adds 1 to rx_errors up to 0xFFFF; the frame count is 16 bits."""
    p = _program()
    words = p.words()
    for before, after in ((0, 1), (0x00FF, 0x0100), (0xFFFE, 0xFFFF), (0xFFFF, 0xFFFF)):
        ram = ram_init(1000, 512, IDENT)
        ram[RAM.ERR_LO], ram[RAM.ERR_HI] = before & 0xFF, before >> 8
        ram[RAM.RET] = 1
        e = Engine(words, ram)
        e.pc = p.labels["COUNT_ERROR"]
        e.run_until({p.labels["TX"]})
        assert e.ram[RAM.ERR_LO] | e.ram[RAM.ERR_HI] << 8 == after


def test_status_answer_from_the_engines_state():
    """STATUS writes flags, checksum, run_cycles, rx_errors and frames into the
    answer (13 bytes, the protocol's layout)."""
    p = _program()
    words = p.words()
    ram = ram_init(1000, 512, IDENT)
    ram[RAM.LEN_LO] = ram[RAM.LEN_HI] = 0
    for i, b in enumerate((0x11, 0x22, 0x33, 0x44)):
        ram[RAM.CSUM0 + i] = b
    ram[RAM.ERR_LO], ram[RAM.ERR_HI], ram[RAM.FR_LO], ram[RAM.FR_HI] = 5, 0, 9, 1
    run = {Src.RUN0: 0x78, Src.RUN1: 0x56, Src.RUN2: 0x34, Src.RUN3: 0x12}
    e = Engine(words, ram, io=run, conds={Cond.LOADED: 1, Cond.RUNNING: 1, Cond.ABORTED: 1})
    e.pc = p.labels["STATUS"]
    e.run_until({p.labels["TX"]})
    payload = bytes(e.ram[PAYLOAD_BASE:PAYLOAD_BASE + 13])
    from eiegen.sw.link.protocol import decode_status
    st = decode_status(payload)
    assert st["loaded"] and st["running"] and st["aborted"] and not st["busy"]
    assert not st["done"] and not st["watchdog"]
    assert st["checksum"] == 0x44332211 and st["run_cycles"] == 0x12345678
    assert st["rx_errors"] == 5 and st["frames"] == 0x109
    assert e.ram[RAM.RLEN_LO] == 13


@pytest.mark.parametrize("target,link", [(0x00, 1), (0xEF, 1), (0xF0, 0), (0xFF, 0)])
def test_link_targets_are_recognised(target, link):
    """ISLINK is 0 for the link's own targets (0xF0-0xFF)."""
    p = _program()
    words = p.words()
    ram = ram_init(1000, 512, IDENT)
    ram[RAM.A3] = target
    # the instructions that compute ISLINK: from loading A3 to storing ISLINK
    start = next(i for i, w in enumerate(words)
                 if not decode(w)["branch"] and decode(w)["op"] == Op.LD
                 and not decode(w)["imm"] and not decode(w)["io"] and not decode(w)["ind"]
                 and decode(w)["operand"] == RAM.A3 and i > p.labels["RXC2_GOT"])
    e = Engine(words, ram)
    e.pc = start
    for _ in range(5):
        e.step()
    assert (e.ram[RAM.ISLINK] == 0) == (not link)
