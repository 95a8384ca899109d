"""hw/common/linkcode.py: the microprogram assembles into the sequencer's
words, the assembler refuses what the sequencer cannot do, and the
program keeps the rules the hardware relies on."""

import pytest

from eiegen.hw.common.linkcode import (FIELDS, Program, program, Mode, Cond, Rx, Tx, Wsrc, Sh, Cs,
                                       TABLE_SIZE, ST_KEEP)
from eiegen.sw.link.protocol import Cmd, Status


@pytest.fixture(scope="module")
def prog():
    return program(status=Status, cmd=Cmd)


def _fields(word):
    out, pos = {}, 0
    for name, w in FIELDS:
        out[name] = (word >> pos) & ((1 << w) - 1)
        pos += w
    return out


def test_the_program_fits_its_block_ram(prog):
    words = prog.words()
    assert len(words) <= 1 << dict(FIELDS)["to"]
    assert sum(w for _, w in FIELDS) == 48             # three 16-bit iCE40 block RAMs
    assert all(0 <= w < 1 << 48 for w in words)


def test_every_command_has_a_handler(prog):
    words = prog.words()
    table = prog.labels["TABLE"]
    assert table % TABLE_SIZE == 0                      # DISPATCH ORs CMD into the address
    for cmd in Cmd:
        entry = _fields(words[table + cmd])
        assert entry["to"] == prog.labels[cmd.name], cmd
    for i in set(range(TABLE_SIZE)) - {int(c) for c in Cmd}:
        assert _fields(words[table + i])["to"] == prog.labels["BAD_COMMAND"]


def test_line_instructions_wait_on_their_handshake(prog):
    """A byte is taken only on GOT and sent only on TX_READY (the sequencer
    acts on those without the condition multiplexer)."""
    for word in prog.words():
        f = _fields(word)
        if f["rx"] != Rx.NONE:
            assert (f["cond"], f["inv"]) == (Cond.GOT, 0)
        if f["tx"] != Tx.NONE:
            assert (f["cond"], f["inv"]) == (Cond.TX_READY, 0) and f["mode"] == Mode.STAY


def test_every_answer_sets_a_status(prog):
    """Each way into the transmitters passes an instruction that set the status."""
    words = prog.words()
    entries = {prog.labels[n] for n in ("TX", "TX_IDENT", "TX_DISCARD")}
    for pc, word in enumerate(words):
        f = _fields(word)
        if f["to"] in entries and f["mode"] == Mode.STEP and f["cond"] == Cond.TRUE:
            assert f["st"] != ST_KEEP, pc


def test_assembler_refusals():
    p = Program()
    p.op(Mode.STAY, Cond.BUSY, rx=Rx.STORE)
    with pytest.raises(ValueError, match="taken only on GOT"):
        p.words()
    p = Program()
    p.op(Mode.STAY, Cond.GOT, tx=Tx.SYNC)
    with pytest.raises(ValueError, match="sent only on TX_READY"):
        p.words()
    p = Program()
    p.op(Mode.STEP, to="NOWHERE")
    with pytest.raises(ValueError, match="no label 'NOWHERE'"):
        p.words()
    with pytest.raises(ValueError, match="unknown micro-instruction fields"):
        Program().op(Mode.STEP, colour=1)
    p = Program()
    p.label("A")
    with pytest.raises(ValueError, match="defined twice"):
        p.label("A")
    p = Program()
    p.op(Mode.STEP, st=16)
    with pytest.raises(ValueError, match="st = 16 does not fit"):
        p.words()
    # the frame buffer's byte read in the cycle it is written is undefined: a
    # bit-serial instruction that takes its bits does not directly follow a write
    p = Program()
    p.op(Mode.STAY, Cond.GOT, rx=Rx.STORE)
    p.op(Mode.STAY, Cond.BIT7, cs=Cs.BIT)
    with pytest.raises(ValueError, match="0 writes the frame buffer: 1"):
        p.words()
    p = Program()
    p.op(Mode.STEP, Cond.LEFT0, "X", wsrc=Wsrc.FLAGS)
    p.op(Mode.STEP)
    p.label("X")
    p.op(Mode.STAY, Cond.BIT7, sh=Sh.DATA)
    with pytest.raises(ValueError, match="0 writes the frame buffer: 2"):
        p.words()
    p = Program()
    p.op(Mode.STEP, wsrc=Wsrc.FLAGS)
    p.op(Mode.STEP)
    p.op(Mode.STAY, Cond.BIT7, sh=Sh.DATA)
    p.op(Mode.STAY, Cond.BIT7, sh=Sh.ZERO)
    assert len(p.words()) == 4
