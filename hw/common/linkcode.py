"""The host link's microprogram: the protocol of docs/host-link.md as a list
of micro-instructions for the sequencer in hw/common/hostlink.py.

Plain Python (no Amaranth): the fields of a micro-instruction, a small
assembler, and `program(...)`, the link itself. The sequencer fetches one
micro-instruction per cycle from a block RAM; each says what to do, a
condition and where to go:

    mode STAY      do the actions; if cond: go to `to`, else stay here
    mode STEP      do the actions; if cond: go to `to`, else go to the next one
    mode DISPATCH  do the actions; go to `to` + CMD (the table of commands)

An instruction takes two cycles: in the first its condition is evaluated
(and registered), in the second its actions happen and the next one is
fetched, so that no path runs from the block RAM through the condition
multiplexer into the datapath. The actions happen every time the
instruction is executed, whatever the condition (which only chooses the
next instruction). A bit-serial instruction (one that shifts the bus word
or the load checksum) acts in both of its cycles, a bit each, and leaves
after a whole byte. Two exceptions make waiting for the line cheap: an
instruction that takes a received byte (`rx`) acts only when one has
arrived (its condition must be GOT), one that sends a byte (`tx`) only when
the transmitter takes it (its condition must be TX_READY). A STAY that stores a received byte also
leaves for RX_TIMEOUT when the line has been quiet for the inter-byte timeout. A byte
that arrives while no instruction takes it is dropped, unless the
instruction is marked `keep` (the steps between the bytes of a frame).
Everything that would be decode logic in a state machine is in these
words; the hardware keeps the datapath and a condition multiplexer.
"""

import enum

__all__ = ["FIELDS", "Mode", "Cond", "IMPLIED_CONDS", "Bp", "Rlen", "Ld", "Rx", "Tx", "Wsrc", "Sh", "Cs", "Pulse",
           "ST_KEEP", "Program", "program", "TABLE_SIZE"]


class Mode(enum.IntEnum):
    STAY = 0
    STEP = 1
    DISPATCH = 2


class Cond(enum.IntEnum):
    """The conditions the condition multiplexer chooses from (0 .. 16), and three
    that come with an instruction's kind instead: GOT (every instruction that
    takes a received byte, and only those), TX_READY (that sends one) and BIT7
    (that is bit-serial)."""
    TRUE = 0
    IS_SYNC = 1      # the last byte received is the request SYNC
    QUIET = 2        # the line has been quiet for the inter-byte timeout
    LEFT0 = 3        # left == 0
    OVERSIZE = 4     # left > max_payload
    CRC_OK = 5       # both CRC bytes received (Rx.CHECK) equal the frame CRC register's
    DUP = 6          # this frame (TAG at bp = 1, the frame CRC register) is the last one
                     # answered OK
    BUSY = 7
    LOADED = 8
    CONFIG_OK = 9
    K0 = 10          # no byte of the word left (k counts them down)
    ADDR_BAD = 11    # the word at the bus address does not exist, or has another size
    READ_DONE = 12   # the read in flight has been answered
    TIMER_MAX = 13   # bus_timeout cycles since RE / ABORT
    LINK_TARGET = 14  # the address is the link's own (0xF0-0xFF)
    DIFF = 15        # a checksum byte written by COMMIT differed from the frame's
    RLEN0 = 16       # the answer has no payload (left) (while receiving: the payload is in)
    GOT = 17         # a byte has arrived (implied by `rx`)
    TX_READY = 18    # the transmitter takes a byte (implied by `tx`)
    BIT7 = 19        # the byte's last bit comes next (implied by a bit-serial instruction)


#: conditions that come with the instruction's kind, not from the multiplexer
IMPLIED_CONDS = (Cond.GOT, Cond.TX_READY, Cond.BIT7)


class Bp(enum.IntEnum):
    """The buffer pointer."""
    HOLD = 0
    INC = 1
    ZERO = 2
    ONE = 3
    TWO = 4
    PAY = 5          # the payload (request and answer)
    IDENT = 6        # the identify bytes


class Rlen(enum.IntEnum):
    """The answer's payload length."""
    HOLD = 0
    DEC = 1
    ZERO = 2
    LEFT = 3
    STATUS = 4       # STATUS_BYTES
    PROBE = 5        # PROBE_BYTES
    FOUR = 6
    IDENT = 7        # the identify bytes


class Ld(enum.IntEnum):
    """Load the received byte (in a receive) or the buffer's byte into."""
    NONE = 0
    WORD_LO = 1      # the bus word address, low byte (clears its overflow bit)
    WORD_HI = 2
    PE = 3
    TARGET = 4
    LEFT_LO = 5
    LEFT_HI = 6
    LAST = 7         # remember TAG (the buffer's byte) and CRC (the frame CRC register) of a
                     # frame answered OK: in the instruction that sends the answer's SYNC


class Rx(enum.IntEnum):
    """Take the received byte (the instruction's condition is GOT)."""
    NONE = 0
    TAKE = 1         # only take it (it stays readable for IS_SYNC and loads)
    STORE = 2        # into the buffer at bp (bp + 1) and the frame CRC
    CHECK = 3        # a byte of the frame's CRC: compared with the frame CRC register's high
                     # byte (the first) or low byte (the second), not stored; CRC_OK is that
                     # both were equal, and the register keeps the frame's CRC for DUP


class Tx(enum.IntEnum):
    """Send a byte (the instruction waits for TX_READY)."""
    NONE = 0
    SYNC = 1         # also starts the answer's CRC (the frame's CRC is read before)
    BUF = 2          # the buffer's byte
    STATUS = 3
    RLEN_LO = 4
    RLEN_HI = 5
    CRC_HI = 6
    CRC_LO = 7


class Wsrc(enum.IntEnum):
    """Write into the buffer at bp (and note whether it differed)."""
    NONE = 0
    SHREG = 1        # the bus word's low byte
    FLAGS = 2
    CHECKSUM = 3     # the load checksum's next byte (it rotates)
    WATCHDOG = 4     # the watchdog register's next byte (it rotates)
    PROBE_WB = 5
    PROBE_OK = 6
    RUN = 7          # run_cycles, byte j (j counts)
    COUNTERS = 8     # rx_errors, frames, byte j (j counts)


class Sh(enum.IntEnum):
    """The bus word shift register (a read's answer loads it by itself): a
    shift moves its word_bytes bytes right by a bit, the new bit entering at
    the top of the word, so that after 8 x word_bytes shifts a written word
    is aligned."""
    HOLD = 0
    DATA = 2         # shift in the buffer byte's bit
    ZERO = 3         # shift in a zero


class Cs(enum.IntEnum):
    """The load checksum."""
    HOLD = 0
    INIT = 1
    BIT = 2          # continue over the buffer byte's bit


class Pulse(enum.IntEnum):
    NONE = 0
    WE = 1           # write the bus word (the link's own register: the watchdog)
    RE = 2           # read a bus word; clears the timer, k := word_bytes
    START = 3
    ABORT = 4        # clears the timer
    FRAME = 5        # count a good frame
    ERROR = 6        # count a line error
    LOADED = 7
    UNLOAD_MODEL = 8  # clear `loaded` unless the target is a data target
    UNLOAD = 9
    WALK = 10        # bit counter := 0, k := word_bytes, first word
    LATCH_WB = 11    # word_bytes of this word; k := it
    NEXT_WORD = 12   # bus word address + 1
    DIFF_CLR = 13
    CRC_INIT = 14


#: (name, width) of the micro-instruction's fields, least significant first
FIELDS = (("to", 8), ("cond", 5), ("inv", 1), ("mode", 2), ("bp", 3), ("rlen", 3), ("ld", 3),
          ("rx", 2), ("tx", 3), ("st", 4), ("wsrc", 4), ("sh", 2), ("cs", 2), ("pulse", 4),
          ("dec", 1), ("keep", 1))
#: `st` value that keeps the status register
ST_KEEP = 15
TABLE_SIZE = 16


class Program:
    """A tiny assembler: `op(...)` appends a micro-instruction, `label(name)`
    names the next one, `align(n)` pads to a multiple of n; `words()`
    resolves the labels and encodes."""

    def __init__(self):
        self.ops = []
        self.labels = {}

    def label(self, name):
        if name in self.labels:
            raise ValueError(f"label {name!r} defined twice")
        self.labels[name] = len(self.ops)

    def align(self, n):
        while len(self.ops) % n:
            self.ops.append(dict(mode=Mode.STEP, cond=Cond.TRUE, to=None))

    def __len__(self):
        return len(self.ops)

    def op(self, mode, cond=Cond.TRUE, to=None, *, inv=False, **actions):
        unknown = set(actions) - {n for n, _ in FIELDS}
        if unknown:
            raise ValueError(f"unknown micro-instruction fields {sorted(unknown)}")
        self.ops.append(dict(mode=mode, cond=cond, inv=inv, to=to, **actions))

    def _target(self, pc):
        to = self.ops[pc]["to"]
        if to is None:
            return pc + 1
        return self.labels.get(to, None) if isinstance(to, str) else to

    def _successors(self, pc):
        """The instructions that may be executed right after `pc` (a dispatch: its table)."""
        op = self.ops[pc]
        to = self._target(pc)
        if op["mode"] == Mode.DISPATCH:
            out = [to + i for i in range(TABLE_SIZE)] if to is not None else []
        elif op["mode"] == Mode.STAY:
            out = [pc, to]
        else:
            out = [pc + 1, to]
        return [n for n in out if n is not None and 0 <= n < len(self.ops)]

    def words(self):
        widths = dict(FIELDS)
        out = []
        for pc, op in enumerate(self.ops):
            if op.get("rx") and (op["cond"], op.get("inv", False)) != (Cond.GOT, False):
                raise ValueError(f"micro-instruction {pc}: a byte is taken only on GOT")
            if op.get("tx") and (op["cond"], op.get("inv", False)) != (Cond.TX_READY, False):
                raise ValueError(f"micro-instruction {pc}: a byte is sent only on TX_READY")
            burst = op.get("sh", Sh.HOLD) != Sh.HOLD or op.get("cs", Cs.HOLD) == Cs.BIT
            if burst and (op["cond"], op.get("inv", False)) != (Cond.BIT7, False):
                raise ValueError(f"micro-instruction {pc}: a bit-serial instruction ends on BIT7")
            implied = {Cond.GOT: bool(op.get("rx")), Cond.TX_READY: bool(op.get("tx")),
                       Cond.BIT7: burst}
            if op["cond"] in implied and not implied[op["cond"]]:
                raise ValueError(f"micro-instruction {pc}: {Cond(op['cond']).name} comes only "
                                 f"with its kind of instruction")
            if bool(op.get("rx")) + bool(op.get("tx")) + burst > 1:
                raise ValueError(f"micro-instruction {pc}: receives, sends or shifts, one of them")
            if op.get("rx") == Rx.STORE or op.get("wsrc", Wsrc.NONE) != Wsrc.NONE:
                for nxt in self._successors(pc):
                    if _takes_buffer_bits(self.ops[nxt]):
                        raise ValueError(f"micro-instruction {pc} writes the frame buffer: "
                                         f"{nxt}, which may follow it, cannot take the buffer's "
                                         f"bits yet")
            f = {n: 0 for n, _ in FIELDS}
            f["st"] = ST_KEEP
            for k, v in op.items():
                if k == "to":
                    continue
                f[k] = int(v)
            to = op["to"]
            if to is None:
                to = pc + 1
            elif isinstance(to, str):
                if to not in self.labels:
                    raise ValueError(f"micro-instruction {pc}: no label {to!r}")
                to = self.labels[to]
            f["to"] = to
            word, shift = 0, 0
            for name, w in FIELDS:
                if not 0 <= f[name] < (1 << w):
                    raise ValueError(f"micro-instruction {pc}: {name} = {f[name]} does not fit "
                                     f"{w} bits")
                word |= f[name] << shift
                shift += w
            out.append(word)
        if len(out) > (1 << widths["to"]):
            raise ValueError(f"the microprogram has {len(out)} instructions, at most "
                             f"{1 << widths['to']} fit")
        return out


def _takes_buffer_bits(op):
    """A bit-serial instruction that takes the buffer byte's bits. The frame buffer's
    byte read in the cycle it is written is undefined (the link's buffer has no
    collision logic), and that read is the first bit such an instruction takes in
    its second cycle: it must not directly follow one that writes the buffer."""
    return op.get("sh", Sh.HOLD) == Sh.DATA or op.get("cs", Cs.HOLD) == Cs.BIT


def program(*, status, cmd):
    """The host link's microprogram. `status` and `cmd`: the protocol's Status
    and Cmd enums (eiegen.sw.link.protocol). Returns a Program."""
    S, C = status, cmd
    p = Program()
    STAY, STEP = Mode.STAY, Mode.STEP
    stubs = {}

    def answer(st, *, rlen=None, pulse=Pulse.NONE, to="TX", **more):
        """Set the status (and the answer's length) and go to the transmitter."""
        kw = dict(st=st, pulse=pulse, bp=Bp.ONE, **more)     # TAG for Ld.LAST at SYNC
        if rlen is not None:
            kw["rlen"] = rlen
        p.op(STEP, Cond.TRUE, to, **kw)

    def reply(cond, st, *, inv=False, rlen=None, pulse=Pulse.NONE, to="TX"):
        """If cond: answer `st` (a branch to a shared answering instruction)."""
        key = (int(st), rlen, int(pulse), to)
        if key not in stubs:
            stubs[key] = f"ANSWER_{len(stubs)}"
        p.op(STEP, cond, stubs[key], inv=inv)

    def nop(n=1):
        for _ in range(n):
            p.op(STEP)

    # ---- 0: after reset; RX_TIMEOUT: the line went quiet inside a frame ----------------
    p.op(STEP, to="HUNT", keep=1)
    p.label("RX_TIMEOUT")
    answer(S.TIMEOUT, pulse=Pulse.ERROR)

    # ---- receive ------------------------------------------------------------------------
    p.label("HUNT")
    p.op(STAY, Cond.GOT, rx=Rx.TAKE)
    # (the status is OK from here on, so that RLEN0 counts the payload in; every
    # answer sets its own)
    p.op(STEP, Cond.IS_SYNC, "HUNT", inv=True, bp=Bp.ZERO, pulse=Pulse.CRC_INIT, st=S.OK, keep=1)
    # CMD, TAG, ADDR (word, PE, target), LEN: into the buffer at 0..7, ADDR and LEN
    # also into their registers
    for ld in (Ld.NONE, Ld.NONE, Ld.WORD_LO, Ld.WORD_HI, Ld.PE, Ld.TARGET, Ld.LEFT_LO,
               Ld.LEFT_HI):
        p.op(STAY, Cond.GOT, rx=Rx.STORE, ld=ld)
    p.op(STEP, rlen=Rlen.LEFT, keep=1)           # LEN stays in `left`
    p.op(STEP, Cond.OVERSIZE, "OVERSIZE", keep=1)
    p.op(STEP, Cond.LEFT0, "RX_CRC", keep=1)
    p.label("RX_PAYLOAD")
    p.op(STAY, Cond.GOT, rx=Rx.STORE, rlen=Rlen.DEC)
    p.op(STEP, Cond.RLEN0, "RX_PAYLOAD", inv=True, keep=1)
    p.label("RX_CRC")
    p.op(STAY, Cond.GOT, rx=Rx.CHECK)
    p.op(STAY, Cond.GOT, rx=Rx.CHECK)
    reply(Cond.CRC_OK, S.BAD_CRC, inv=True, pulse=Pulse.ERROR, to="TX_DISCARD")
    p.op(STEP, pulse=Pulse.FRAME, bp=Bp.ZERO)
    nop()                                         # CMD arrives from the buffer
    p.op(Mode.DISPATCH, to="TABLE", bp=Bp.ONE)    # ... and TAG from the next one on

    p.label("OVERSIZE")                           # LEN larger than the buffer
    p.op(STAY, Cond.QUIET)
    answer(S.BAD_LENGTH, pulse=Pulse.ERROR)
    p.label("DISCARD")                            # after BAD_CRC: until the line is quiet
    p.op(STAY, Cond.QUIET, "HUNT")

    # ---- the command table ------------------------------------------------------------
    handlers = {C.IDENTIFY: "IDENTIFY", C.PROBE: "PROBE", C.WRITE: "WRITE", C.READ: "READ",
                C.BEGIN: "BEGIN", C.COMMIT: "COMMIT", C.RUN: "RUN", C.STATUS: "STATUS",
                C.ABORT: "ABORT"}
    p.align(TABLE_SIZE)
    p.label("TABLE")
    for i in range(TABLE_SIZE):
        p.op(STEP, to=handlers.get(i, "BAD_COMMAND"))
    p.label("BAD_COMMAND")
    answer(S.BAD_COMMAND)

    def no_payload():
        reply(Cond.LEFT0, S.BAD_LENGTH, inv=True)

    def left_is(n):
        """BAD_LENGTH unless LEN is n (counted down: `left` is not used after)."""
        for _ in range(n):
            p.op(STEP, dec=1)
        reply(Cond.LEFT0, S.BAD_LENGTH, inv=True)

    # IDENTIFY: the identify bytes, from the buffer past the payload area
    p.label("IDENTIFY")
    no_payload()
    answer(S.OK, rlen=Rlen.IDENT, to="TX_IDENT")

    # PROBE: [word_bytes, addr_ok] of ADDR (stable since the header arrived)
    p.label("PROBE")
    no_payload()
    p.op(STEP, bp=Bp.PAY)
    p.op(STEP, wsrc=Wsrc.PROBE_WB, bp=Bp.INC)
    p.op(STEP, wsrc=Wsrc.PROBE_OK, bp=Bp.INC)
    answer(S.OK, rlen=Rlen.PROBE)

    # BEGIN
    p.label("BEGIN")
    no_payload()
    reply(Cond.BUSY, S.BUSY)
    answer(S.OK, rlen=Rlen.ZERO, cs=Cs.INIT, pulse=Pulse.UNLOAD)

    # RUN: a retransmission is answered OK without a second run
    p.label("RUN")
    no_payload()
    reply(Cond.DUP, S.OK, rlen=Rlen.ZERO)
    reply(Cond.BUSY, S.BUSY)
    reply(Cond.LOADED, S.NOT_LOADED, inv=True)
    reply(Cond.CONFIG_OK, S.BAD_CONFIG, inv=True)
    answer(S.OK, rlen=Rlen.ZERO, pulse=Pulse.START)

    # ABORT: pulse abort, answer once the unit is idle (BUSY if it does not stop)
    p.label("ABORT")
    no_payload()
    p.op(STEP, pulse=Pulse.ABORT)
    nop()                                         # abort reaches the unit now
    p.label("ABORT_WAIT")
    reply(Cond.BUSY, S.OK, inv=True, rlen=Rlen.ZERO)
    p.op(STEP, Cond.TIMER_MAX, "ABORT_WAIT", inv=True)
    answer(S.BUSY)

    # STATUS: flags, checksum, run_cycles, rx_errors, frames
    p.label("STATUS")
    no_payload()
    p.op(STEP, bp=Bp.PAY)
    p.op(STEP, wsrc=Wsrc.FLAGS, bp=Bp.INC)
    for src in [Wsrc.CHECKSUM] * 4 + [Wsrc.RUN] * 4 + [Wsrc.COUNTERS] * 4:
        p.op(STEP, wsrc=src, bp=Bp.INC)
    answer(S.OK, rlen=Rlen.STATUS)

    # COMMIT: the checksum bytes overwrite the frame's, each compared on the way
    p.label("COMMIT")
    left_is(4)
    reply(Cond.BUSY, S.BUSY)
    p.op(STEP, bp=Bp.PAY, pulse=Pulse.DIFF_CLR)
    for i in range(4):
        nop()                                     # the buffer's byte arrives
        if i < 3:
            p.op(STEP, wsrc=Wsrc.CHECKSUM, bp=Bp.INC)
        else:
            p.op(STEP, Cond.DIFF, "COMMIT_BAD", wsrc=Wsrc.CHECKSUM)
    answer(S.OK, rlen=Rlen.FOUR, pulse=Pulse.LOADED)
    p.label("COMMIT_BAD")
    answer(S.BAD_CHECKSUM, rlen=Rlen.FOUR)

    def check_walk(prefix, passed):
        """Every word from ADDR on, LEFT bytes of whole words, must exist before
        anything is touched; addr_ok and word_bytes are used on the third cycle
        the address is stable (the link registers them, the unit may too)."""
        p.op(STEP, pulse=Pulse.WALK)
        nop()
        p.label(prefix + "_WORD")
        reply(Cond.ADDR_BAD, S.BAD_ADDRESS)
        p.op(STEP, pulse=Pulse.LATCH_WB)
        p.label(prefix + "_BYTE")
        reply(Cond.LEFT0, S.BAD_LENGTH)           # the bytes ran out inside a word
        p.op(STEP, dec=1)
        p.op(STEP, Cond.K0, prefix + "_WORD_DONE")
        p.op(STEP, to=prefix + "_BYTE")
        p.label(prefix + "_WORD_DONE")
        p.op(STEP, Cond.LEFT0, passed)
        p.op(STEP, pulse=Pulse.NEXT_WORD)
        nop(2)
        p.op(STEP, to=prefix + "_WORD")

    # WRITE: check; the load checksum continues over ADDR, LEN (which also
    # reloads the word address and the length) and the payload; each word's
    # bits shift into the bus word, and one `we` writes it
    p.label("WRITE")
    reply(Cond.DUP, S.OK, rlen=Rlen.ZERO)
    reply(Cond.BUSY, S.BUSY)
    reply(Cond.LEFT0, S.BAD_LENGTH)
    check_walk("WCHK", "WRITE_GO")
    p.label("WRITE_GO")
    p.op(STEP, bp=Bp.TWO)
    for ld in (Ld.WORD_LO, Ld.WORD_HI, Ld.NONE, Ld.NONE, Ld.LEFT_LO, Ld.LEFT_HI):
        nop()                                     # the buffer's byte arrives
        p.op(STAY, Cond.BIT7, cs=Cs.BIT)          # eight bits into the checksum
        p.op(STEP, ld=ld, bp=Bp.INC)
    p.label("W_WORD")
    p.op(STEP, pulse=Pulse.WALK)                  # the payload's byte arrives meanwhile
    nop()
    p.label("W_BYTE")
    p.op(STEP, Cond.K0, "W_WE")                   # every byte of the word is in
    p.op(STAY, Cond.BIT7, sh=Sh.DATA, cs=Cs.BIT)
    p.op(STEP, bp=Bp.INC, dec=1)
    p.op(STEP, to="W_BYTE")                       # the next byte arrives meanwhile
    p.label("W_WE")
    p.op(STEP, pulse=Pulse.WE)
    p.op(STEP, pulse=Pulse.NEXT_WORD)             # `we` is high in this cycle
    p.op(STEP, Cond.LEFT0, "W_WORD", inv=True)
    answer(S.OK, rlen=Rlen.ZERO, pulse=Pulse.UNLOAD_MODEL)

    # READ: the payload is the byte count; check; one read in flight, each
    # word's bytes into the answer
    p.label("READ")
    left_is(2)

    def load_count():
        p.op(STEP, bp=Bp.PAY)
        nop()
        p.op(STEP, ld=Ld.LEFT_LO, bp=Bp.INC)
        nop()
        p.op(STEP, ld=Ld.LEFT_HI)

    load_count()
    reply(Cond.LEFT0, S.BAD_LENGTH)
    reply(Cond.OVERSIZE, S.BAD_LENGTH)
    p.op(STEP, rlen=Rlen.LEFT)
    check_walk("RCHK", "READ_GO")
    p.label("READ_GO")
    p.op(STEP, Cond.LINK_TARGET, "READ_LINK")
    load_count()                                  # the walk used the count up
    p.op(STEP, bp=Bp.TWO)
    nop()
    p.op(STEP, ld=Ld.WORD_LO, bp=Bp.INC)
    nop()
    p.op(STEP, ld=Ld.WORD_HI, bp=Bp.PAY)
    p.label("R_WORD")
    p.op(STEP, pulse=Pulse.RE)
    p.label("R_WAIT")
    p.op(STEP, Cond.READ_DONE, "R_BYTE")
    p.op(STEP, Cond.TIMER_MAX, "R_WAIT", inv=True)
    answer(S.BUS_ERROR)
    p.label("R_BYTE")
    p.op(STEP, wsrc=Wsrc.SHREG, bp=Bp.INC, dec=1)
    p.op(STEP, Cond.LEFT0, "R_DONE")
    p.op(STEP, Cond.K0, "R_NEXT")
    p.op(STAY, Cond.BIT7, "R_BYTE", sh=Sh.ZERO)
    p.label("R_NEXT")
    p.op(STEP, to="R_WORD", pulse=Pulse.NEXT_WORD)
    p.label("R_DONE")
    answer(S.OK)
    p.label("READ_LINK")                          # the watchdog register
    p.op(STEP, bp=Bp.PAY)
    for _ in range(4):
        p.op(STEP, wsrc=Wsrc.WATCHDOG, bp=Bp.INC)
    answer(S.OK)

    # ---- the answers branched to above -----------------------------------------------
    for (st, rlen, pulse, to), name in list(stubs.items()):
        p.label(name)
        answer(st, rlen=rlen, pulse=Pulse(pulse), to=to)

    # ---- transmit: SYNC, CMD, TAG, STATUS, LEN, payload, CRC ------------------------------
    # (three copies: the payload from the buffer's payload area or its identify
    # bytes; after BAD_CRC the line is ignored until quiet. The last byte's
    # instruction goes straight on, so the next frame can follow at once.)
    for name, base, end in (("TX", Bp.PAY, "HUNT"), ("TX_IDENT", Bp.IDENT, "HUNT"),
                            ("TX_DISCARD", None, "DISCARD")):
        p.label(name)
        # (the answering instruction pointed at TAG: remembered with the frame's CRC
        # if the answer is OK, before SYNC starts the answer's CRC)
        p.op(STAY, Cond.TX_READY, tx=Tx.SYNC, bp=Bp.ZERO, ld=Ld.LAST)
        nop()                                     # CMD arrives from the buffer
        p.op(STAY, Cond.TX_READY, tx=Tx.BUF, bp=Bp.ONE)
        nop()                                     # TAG arrives
        p.op(STAY, Cond.TX_READY, tx=Tx.BUF)
        p.op(STAY, Cond.TX_READY, tx=Tx.STATUS)
        p.op(STAY, Cond.TX_READY, tx=Tx.RLEN_LO)
        if base is None:                          # no payload
            p.op(STAY, Cond.TX_READY, tx=Tx.RLEN_HI)
        else:
            p.op(STAY, Cond.TX_READY, tx=Tx.RLEN_HI, bp=base)
            p.op(STEP, Cond.RLEN0, name + "_CRC")
            p.label(name + "_DATA")               # the payload byte arrives
            p.op(STAY, Cond.TX_READY, tx=Tx.BUF, bp=Bp.INC, rlen=Rlen.DEC)
            p.op(STEP, Cond.RLEN0, name + "_DATA", inv=True)
            p.label(name + "_CRC")
        p.op(STAY, Cond.TX_READY, tx=Tx.CRC_HI)
        p.op(STAY, Cond.TX_READY, end, tx=Tx.CRC_LO)
    return p
