"""The host link's firmware: the protocol of docs/host-link.md as a program
for the link's byte engine (hw/common/hostlink.py), and its assembler.

Plain Python (no Amaranth). The engine is a small accumulator machine with
16-bit instructions in block RAM and its state in a byte-wide data RAM
(the frame buffer and every counter, length, copy and scratch byte of the
link); one 8-bit ALU does all the arithmetic. Two kinds of instruction:

    branch  bit 15 = 1:  [14:11] cond, [10] inv, [9:0] target
            if cond ^ inv: go to target, else to the next instruction
    op      bit 15 = 0:  [14:12] op, [11] imm, [10] io, [9] ind, [8] inc, [7:0] operand

An op's operand B is the immediate `operand` (imm), the I/O source
`operand[3:0]` (io: the received byte, the flags, the bus word's next byte,
the frame CRC, word_bytes, a byte of run_cycles), the RAM byte at the
buffer pointer `bp` (ind) or the RAM byte at `operand` (direct: the state
page, addresses 0..255). `inc` increments bp afterwards. Ops:

    LD  acc := B         ADD acc := acc + B (C)    ADC acc := acc + B + C (C)
    OR  acc := acc | B   XOR acc := acc ^ B        (op 3 is unused)
    ST  RAM := acc (direct or ind); with io: OUT, the I/O destination
        `operand[3:0]` := acc (bus address bytes, the bus word, the CRC
        register, the watchdog register, bp, control bits, pulses)
    TX  send B (waits for the transmitter; the byte enters the frame CRC)

LD .. XOR and TX load acc (TX with B), and Z is acc = 0; ADD and ADC set
C. An io or ind operand with `operand[7]` set, and every TX's byte, is also
fed to the CRC engine
(bit-serial, 8 cycles, the bits taken from acc); an instruction that
feeds, reads or loads the CRC register or changes acc waits while it
runs. `IN RX` (LD of Src.RX) takes the received byte (the firmware tests
RXV first). The firmware counts the line's silence in its wait loops.

An instruction takes two cycles (four with code_latency 2): in the first
the branch condition is evaluated and registered, the RAM is read and the
decode registered, in the second the op acts and the next instruction is
fetched.
"""

import enum

__all__ = ["instruction_cycles", "quiet_counts", "IDENT_IN_RAM", "Op", "Cond", "Src", "Dst", "Pulse", "Ctrl", "Imm", "Io", "Ind", "Program", "program",
           "RAM", "PAYLOAD_BASE", "HEADER_BASE", "ram_init", "INSTRUCTION_BITS", "TARGET_BITS",
           "wait_iterations", "CYCLES_PER_WAIT_ITERATION"]

INSTRUCTION_BITS = 16
TARGET_BITS = 10


class Op(enum.IntEnum):
    LD = 0
    ADD = 1
    ADC = 2
    OR = 4
    XOR = 5
    ST = 6
    TX = 7


class Cond(enum.IntEnum):
    TRUE = 0
    Z = 1            # the last ALU result was 0
    C = 2            # the last ADD/ADC carried
    RXV = 3          # a received byte waits
    BUSY = 5         # the unit's busy (registered)
    CONFIG_OK = 6    # the unit's config_ok (registered)
    ADDR_OK = 7      # the unit's addr_ok for the bus address (registered)
    RDONE = 8        # no read in flight (the last one was answered)
    LOADED = 9
    ERRP = 10        # a UART error (framing, overrun) is pending
    DONE = 11        # the unit's done (registered)
    RUNNING = 12     # a run goes (started by RUN, not yet ended, aborted or fired)
    ABORTED = 13     # the last run was ended by ABORT or the watchdog
    WDF = 14         # ... by the watchdog


class Src(enum.IntEnum):
    """I/O sources (an io operand of LD .. XOR, TX)."""
    RX = 0           # the received byte (taken)
    SHREG = 1        # the bus word's low byte
    CRC = 2          # the CRC register's low byte: in CRC-16 mode bit-reversed (the frame
                     # CRC's high byte), in CRC-32 mode complemented (the checksum's byte)
    WB = 3           # word_bytes of the bus address
    RUN0 = 4         # run_cycles, bytes 0..3
    RUN1 = 5
    RUN2 = 6
    RUN3 = 7


class Dst(enum.IntEnum):
    """I/O destinations (OUT = ST with io)."""
    TGT = 0          # bus address [31:24]
    PE = 1           # [23:16]
    WLO = 2          # [7:0]
    WHI = 3          # [15:8]
    SHIFT = 4        # the bus word shifts right a byte, acc entering its top byte
    CRCS = 6         # the CRC register shifts right a byte, acc entering its top byte
    LIMIT = 7        # the watchdog register shifts right a byte, acc entering its top byte
    BP = 8           # bp := acc + (operand[7:4] << 8)
    CTRL = 9         # Ctrl bits
    PULSE = 10       # Pulse bits: one-cycle pulses and flag changes


class Ctrl(enum.IntFlag):
    CRC32 = 1        # the CRC engine computes the load checksum (else the frame CRC-16)
    LISTEN = 2       # received bytes wait to be taken (else they are dropped)


class Pulse(enum.IntFlag):
    WE = 1
    RE = 2
    START = 4
    ABORT = 8
    LOADED = 16
    UNLOAD = 32
    ERRCLR = 64


class Imm:
    def __init__(self, value):
        if not isinstance(value, int) or not 0 <= value <= 0xFF:
            raise ValueError(f"immediate {value!r} is not a byte")
        self.value = int(value)


class Io:
    def __init__(self, port, feed=False, hi=0):
        self.port, self.feed, self.hi = int(port), bool(feed), int(hi)


class Ind:
    def __init__(self, inc=False, feed=False):
        self.inc, self.feed = bool(inc), bool(feed)


# -- the data RAM: the state page (direct addresses 0..255), the request header at
#    HEADER_BASE..255 and the payload (request and answer) from PAYLOAD_BASE ---------------
HEADER_BASE = 248
PAYLOAD_BASE = 256


class RAM(enum.IntEnum):
    CRC_HI = 0       # the request's CRC bytes as received
    CRC_LO = 1
    LAST_TAG = 2     # TAG and CRC of the last frame answered OK
    LAST_CRC_HI = 3
    LAST_CRC_LO = 4
    LAST_VALID = 5
    CSUM0 = 6        # the load checksum, bytes 0..3 (the CRC-32 register's complement)
    CSUM1 = 7
    CSUM2 = 8
    CSUM3 = 9
    LIM0 = 10        # a copy of the watchdog register, bytes 0..3 (READ answers from it)
    LIM1 = 11
    LIM2 = 12
    LIM3 = 13
    ERR_LO = 14      # rx_errors
    ERR_HI = 15
    FR_LO = 16       # frames
    FR_HI = 17
    STATUS = 18      # the answer's status
    RLEN_LO = 19     # the answer's payload length
    RLEN_HI = 20
    CNT_LO = 21      # a count up to 0 (minus the bytes left)
    CNT_HI = 22
    W_LO = 23        # the bus word address of a walk
    W_HI = 24
    WB = 25          # word_bytes of the walk's first word
    NWB = 26         # -WB
    TMP = 27
    DIFF = 28
    DUP = 29         # 0: this frame is a retransmission of the last one answered OK
    RET = 30         # where the error count returns to (0: HUNT, else the answer)
    IDENTF = 31      # the answer's payload is the identify bytes
    FIRST = 32
    K = 33           # bytes left of a word
    ISLINK = 34      # 0: the frame's target is the link's own (0xF0-0xFF)
    DISC = 35        # after the answer, ignore the line until it is quiet
    L_LO = 36        # bytes left of a walk
    L_HI = 37
    WALK = 38        # which command the check walk returns to (0 WRITE, else READ)
    QO = 39          # the silence count's outer loop
    IDENT = 40       # the identify bytes (as many as fit below the header; the rest are
                     # TX-immediate instructions)
    CMD = HEADER_BASE
    TAG = HEADER_BASE + 1
    A0 = HEADER_BASE + 2
    A1 = HEADER_BASE + 3
    A2 = HEADER_BASE + 4
    A3 = HEADER_BASE + 5
    LEN_LO = HEADER_BASE + 6
    LEN_HI = HEADER_BASE + 7


#: identify bytes kept in the RAM's state page (the rest are in the program)
IDENT_IN_RAM = HEADER_BASE - RAM.IDENT


def ram_init(watchdog_cycles, depth, identify=b""):
    """The data RAM's contents after reset."""
    init = [0] * depth
    for i in range(4):
        init[RAM.LIM0 + i] = (watchdog_cycles >> (8 * i)) & 0xFF
    head = bytes(identify)[:IDENT_IN_RAM]
    init[RAM.IDENT:RAM.IDENT + len(head)] = list(head)
    return init


#: instructions of a bus wait loop (B cond; ADDI -1; B ~Z)
CYCLES_PER_WAIT_ITERATION = 3


def instruction_cycles(code_latency):
    """Clock cycles an instruction takes (that does not wait): 2 (A, B), or 4 with
    code_latency 2 (F: the program's word registered, A, D: the RAM's byte registered,
    B)."""
    return 2 * code_latency


def wait_iterations(cycles, code_latency):
    """Iterations of a wait loop that lasts at least `cycles` clock cycles."""
    per = CYCLES_PER_WAIT_ITERATION * instruction_cycles(code_latency)
    return -(-cycles // per) + 1


class Program:
    """The assembler: one method per instruction, `label(name)` names the next
    one; `words()` resolves the labels and encodes."""

    def __init__(self):
        self.ops = []
        self.labels = {}

    def __len__(self):
        return len(self.ops)

    def label(self, name):
        if name in self.labels:
            raise ValueError(f"label {name!r} defined twice")
        self.labels[name] = len(self.ops)

    # -- encoding --------------------------------------------------------------------------
    def op(self, op, operand):
        op = Op(op)
        if isinstance(operand, Imm):
            if op == Op.ST:
                raise ValueError("ST takes a RAM address or an I/O destination, not an immediate")
            self.ops.append(("op", (op << 12) | (1 << 11) | operand.value))
        elif isinstance(operand, Io):
            if not 0 <= operand.port < 16 or not 0 <= operand.hi < 8:
                raise ValueError(f"I/O port {operand.port} (hi {operand.hi}) out of range")
            if operand.feed and op == Op.ST:
                raise ValueError("OUT does not feed the CRC engine")
            if operand.hi and not (op == Op.ST and operand.port == Dst.BP):
                raise ValueError("only OUT BP takes high bits")
            if op == Op.ST:
                Dst(operand.port)
            else:
                Src(operand.port)
            self.ops.append(("op", (op << 12) | (1 << 10) | (operand.feed << 7) |
                             (operand.hi << 4) | operand.port))
        elif isinstance(operand, Ind):
            if operand.feed and op == Op.ST:
                raise ValueError("ST does not feed the CRC engine")
            self.ops.append(("op", (op << 12) | (1 << 9) | (operand.inc << 8) |
                             (operand.feed << 7)))
        else:
            addr = int(operand)
            if not 0 <= addr <= 0xFF:
                raise ValueError(f"direct address {addr} is outside the state page (0..255)")
            self.ops.append(("op", (op << 12) | addr))

    def ld(self, x): self.op(Op.LD, x)
    def add(self, x): self.op(Op.ADD, x)
    def adc(self, x): self.op(Op.ADC, x)
    def or_(self, x): self.op(Op.OR, x)
    def xor(self, x): self.op(Op.XOR, x)
    def st(self, x): self.op(Op.ST, x)
    def tx(self, x): self.op(Op.TX, x)
    def ldi(self, v): self.ld(Imm(v))
    def addi(self, v): self.add(Imm(v & 0xFF))
    def adci(self, v): self.adc(Imm(v & 0xFF))
    def ori(self, v): self.or_(Imm(v))
    def xori(self, v): self.xor(Imm(v & 0xFF))
    def inp(self, src, feed=False): self.ld(Io(src, feed))
    def out(self, dst, hi=0): self.st(Io(dst, hi=hi))
    def txi(self, v): self.tx(Imm(v))

    def b(self, cond, to, inv=False):
        self.ops.append(("br", (1 << 15) | (Cond(cond) << 11) | (bool(inv) << 10), to))

    def bn(self, cond, to):
        self.b(cond, to, inv=True)

    def j(self, to):
        self.b(Cond.TRUE, to)

    def nop(self):
        self.ops.append(("op", (1 << 15) | (Cond.TRUE << 11) | (1 << 10)))   # never taken

    def words(self):
        if len(self.ops) > (1 << TARGET_BITS):
            raise ValueError(f"the program has {len(self.ops)} instructions, at most "
                             f"{1 << TARGET_BITS} fit")
        out = []
        for pc, item in enumerate(self.ops):
            if item[0] == "op":
                out.append(int(item[1]))
                continue
            _, word, to = item
            if isinstance(to, str):
                if to not in self.labels:
                    raise ValueError(f"instruction {pc}: no label {to!r}")
                to = self.labels[to]
            if not 0 <= to < len(self.ops):
                raise ValueError(f"instruction {pc}: target {to} outside the program")
            out.append(int(word) | int(to))
        return out


def quiet_counts(timeout_cycles, code_latency):
    """(inner, outer, pad): the silence count, two nested loops whose inner one
    (B RXV; `pad` NOPs; ADDI -1; B ~Z) lasts at least `timeout_cycles`: the
    firmware counts the line's silence."""
    for pad in range(8):
        per = (CYCLES_PER_WAIT_ITERATION + pad) * instruction_cycles(code_latency)
        inner = max(1, min(0xFF, -(-timeout_cycles // per)))
        outer = -(-timeout_cycles // (inner * per))
        if outer <= 0xFF:
            return inner, outer, pad
    raise ValueError(f"timeout of {timeout_cycles} cycles: more than the silence count "
                     f"reaches")


def program(*, status, cmd, identify, max_payload, data_bytes, data_targets, bus_wait, quiet):
    """The host link's firmware. `status`, `cmd`: the protocol's Status and Cmd
    enums; `identify`: the IDENTIFY answer's bytes (sent by TX-immediate
    instructions); `max_payload`, `data_bytes` (the widest word), `data_targets`
    (targets whose writes keep `loaded`), `bus_wait` (iterations of a wait for
    the unit, wait_iterations), `quiet` (quiet_counts: the inter-byte
    timeout). Returns a Program."""
    S, C = status, cmd
    p = Program()
    R = RAM
    over = (0x10000 - (max_payload + 1)) & 0xFFFF       # LEN + over carries iff LEN > max

    qn, qm, qpad = quiet

    def silence(name, byte, quiet_to):
        """Wait for a byte (go to `byte`) or the inter-byte timeout (go to `quiet_to`)."""
        p.label(name)
        p.ldi(qm)
        p.st(R.QO)
        p.label(name + "_L")
        p.ldi(qn)
        p.label(name + "_I")
        p.b(Cond.RXV, byte)
        for _ in range(qpad):
            p.nop()
        p.addi(-1)
        p.bn(Cond.Z, name + "_I")
        p.ld(R.QO)
        p.addi(-1)
        p.st(R.QO)
        p.bn(Cond.Z, name + "_L")
        p.j(quiet_to)

    def wait_byte(got, name):
        silence(name, got, "RX_TIMEOUT")
        p.label(got)

    def wait_quiet(name, then):
        """Until the line has been quiet for the timeout (bytes are taken and dropped)."""
        silence(name, name + "_DROP", then)
        p.label(name + "_DROP")
        p.inp(Src.RX)
        p.j(name)

    def count_up(loop):
        """CNT += 1 (a count up to 0); go to `loop` unless it reached 0."""
        p.ld(R.CNT_LO)
        p.addi(1)
        p.st(R.CNT_LO)
        p.bn(Cond.C, loop)
        p.ld(R.CNT_HI)
        p.adci(0)
        p.st(R.CNT_HI)
        p.bn(Cond.Z, loop)

    def negate_into_cnt(lo, hi, zero):
        """CNT := -(hi:lo); go to `zero` if it is 0."""
        p.ld(lo)
        p.xori(0xFF)
        p.addi(1)
        p.st(R.CNT_LO)
        p.ld(hi)
        p.xori(0xFF)
        p.adci(0)
        p.st(R.CNT_HI)
        p.or_(R.CNT_LO)
        p.b(Cond.Z, zero)

    def crc16_init():
        # the CRC-16 register, bit-reversed (right shifting): 0x0000FFFF
        p.ldi(0xFF)
        p.out(Dst.CRCS)
        p.out(Dst.CRCS)
        p.ldi(0)
        p.out(Dst.CRCS)
        p.out(Dst.CRCS)

    def pulse(bits):
        p.ldi(int(bits))
        p.out(Dst.PULSE)

    def no_payload():
        p.ld(R.LEN_LO)
        p.or_(R.LEN_HI)
        p.bn(Cond.Z, "ANS_BAD_LENGTH")

    def sub_wb_from_left():
        """L -= WB; C clear if it went below 0; Z (acc = L_HI | L_LO) if it is 0."""
        p.ld(R.L_LO)
        p.add(R.NWB)
        p.st(R.L_LO)
        p.ld(R.L_HI)
        p.adci(0xFF)
        p.st(R.L_HI)

    def next_word():
        p.ld(R.W_LO)
        p.addi(1)
        p.st(R.W_LO)
        p.ld(R.W_HI)
        p.adci(0)
        p.st(R.W_HI)

    def copy16(src_lo, src_hi, dst_lo, dst_hi):
        """A 16-bit variable copied a byte at a time (acc = its high byte)."""
        p.ld(src_lo)
        p.st(dst_lo)
        p.ld(src_hi)
        p.st(dst_hi)

    def set_word():
        p.ld(R.W_LO)
        p.out(Dst.WLO)
        p.ld(R.W_HI)
        p.out(Dst.WHI)

    # ---- reset; hunt for SYNC ----------------------------------------------------------------
    p.label("HUNT")
    p.ldi(Ctrl.LISTEN)
    p.out(Dst.CTRL)
    p.label("H_LOOP")
    p.b(Cond.ERRP, "UART_ERROR")
    p.bn(Cond.RXV, "H_LOOP")
    p.inp(Src.RX)
    p.xori(0xA5)
    p.bn(Cond.Z, "H_LOOP")
    crc16_init()                                    # acc = 0
    p.st(R.DISC)
    p.st(R.IDENTF)
    p.ldi(HEADER_BASE)
    p.out(Dst.BP)
    p.ldi(-8 & 0xFF)
    p.st(R.CNT_LO)
    # the header: CMD, TAG, ADDR, LEN into the RAM at HEADER_BASE..255
    wait_byte("RXH_GOT", "RXH")
    p.ld(Io(Src.RX, feed=True))
    p.st(Ind(inc=True))
    p.ld(R.CNT_LO)
    p.addi(1)
    p.st(R.CNT_LO)
    p.bn(Cond.Z, "RXH")
    # LEN larger than the buffer: answered once the line is quiet
    p.ld(R.LEN_LO)
    p.addi(over & 0xFF)
    p.ld(R.LEN_HI)
    p.adci(over >> 8)
    p.b(Cond.C, "OVERSIZE")
    negate_into_cnt(R.LEN_LO, R.LEN_HI, "RXC")
    # the payload, from PAYLOAD_BASE (bp went on from the header)
    wait_byte("RXP_GOT", "RXP")
    p.ld(Io(Src.RX, feed=True))
    p.st(Ind(inc=True))
    count_up("RXP")
    # the CRC: each byte compared with the register's before it is fed (the
    # register then holds 0 and the bytes, kept, are the frame's CRC)
    p.label("RXC")
    p.inp(Src.CRC)
    p.st(R.TMP)
    wait_byte("RXC1_GOT", "RXC1")
    p.ld(Io(Src.RX, feed=True))
    p.st(R.CRC_HI)
    p.xor(R.TMP)
    p.st(R.DIFF)
    p.inp(Src.CRC)
    p.st(R.TMP)
    wait_byte("RXC2_GOT", "RXC2")
    p.ld(Io(Src.RX, feed=True))
    p.st(R.CRC_LO)
    p.xor(R.TMP)
    p.or_(R.DIFF)
    p.st(R.DIFF)
    p.ldi(0)                                         # bytes from now on are dropped
    p.out(Dst.CTRL)
    p.ld(R.DIFF)
    p.bn(Cond.Z, "BAD_CRC")
    # a good frame: count it; is it the last one answered OK again?
    p.ld(R.FR_LO)
    p.addi(1)
    p.st(R.FR_LO)
    p.ld(R.FR_HI)
    p.adci(0)
    p.st(R.FR_HI)
    p.ld(R.TAG)
    p.xor(R.LAST_TAG)
    p.st(R.TMP)
    p.ld(R.CRC_HI)
    p.xor(R.LAST_CRC_HI)
    p.or_(R.TMP)
    p.st(R.TMP)
    p.ld(R.CRC_LO)
    p.xor(R.LAST_CRC_LO)
    p.or_(R.TMP)
    p.st(R.TMP)
    p.ld(R.LAST_VALID)
    p.xori(1)
    p.or_(R.TMP)
    p.st(R.DUP)
    # the answer so far: OK, no payload; is the target the link's own?
    p.ldi(0)
    p.st(R.STATUS)
    p.st(R.RLEN_LO)
    p.st(R.RLEN_HI)
    p.ld(R.A3)                                      # (C: A3 >= 0xF0)
    p.addi(0x10)
    p.ldi(0xFF)
    p.adci(0)                                       # 0 if C
    p.st(R.ISLINK)
    # dispatch
    p.ld(R.CMD)
    prev = 0
    handlers = [(C.IDENTIFY, "IDENTIFY"), (C.PROBE, "PROBE"), (C.WRITE, "WRITE"),
                (C.READ, "READ"), (C.BEGIN, "BEGIN"), (C.COMMIT, "COMMIT"), (C.RUN, "RUN"),
                (C.STATUS, "STATUS"), (C.ABORT, "ABORT")]
    for c, name in handlers:
        p.xori(int(c) ^ prev)
        prev = int(c)
        p.b(Cond.Z, name)
    p.ldi(S.BAD_COMMAND)
    p.j("ANSWER")

    # ---- line errors ---------------------------------------------------------------------
    p.label("OVERSIZE")                             # LEN larger than the buffer: answered
    p.ldi(2)                                        # once the line is quiet
    p.st(R.DISC)
    p.j("DISCARD")
    p.label("OVERSIZE_QUIET")
    p.ldi(0)
    p.st(R.DISC)
    p.ldi(S.BAD_LENGTH)
    p.j("LINE_ERROR")
    p.label("BAD_CRC")                              # then ignore the line until quiet
    p.ldi(1)
    p.st(R.DISC)
    p.ldi(S.BAD_CRC)
    p.j("LINE_ERROR")
    p.label("RX_TIMEOUT")
    p.ldi(0)
    p.out(Dst.CTRL)
    p.ldi(S.TIMEOUT)
    p.label("LINE_ERROR")                           # answer acc, counted
    p.st(R.STATUS)
    p.st(R.RET)
    p.j("COUNT_ERROR")
    p.label("UART_ERROR")                           # a framing or overrun error: counted
    pulse(Pulse.ERRCLR)
    p.ldi(0)
    p.st(R.RET)
    p.label("COUNT_ERROR")                          # rx_errors += 1, saturating
    p.ld(R.ERR_LO)                                  # (C: both bytes are 0xFF)
    p.addi(1)
    p.ld(R.ERR_HI)
    p.adci(0)
    p.b(Cond.C, "COUNTED")
    p.ld(R.ERR_LO)
    p.addi(1)
    p.st(R.ERR_LO)
    p.ld(R.ERR_HI)
    p.adci(0)
    p.st(R.ERR_HI)
    p.label("COUNTED")
    p.ld(R.RET)
    p.b(Cond.Z, "HUNT")
    p.j("TX")

    # ---- answers with a status and no payload ---------------------------------------------
    for st in (S.BAD_LENGTH, S.BUSY, S.NOT_LOADED, S.BAD_CONFIG, S.BAD_ADDRESS, S.BUS_ERROR,
               S.BAD_CHECKSUM):
        p.label(f"ANS_{st.name}")
        p.ldi(int(st))
        p.j("ANSWER")
    p.label("ANSWER")
    p.st(R.STATUS)
    p.j("TX")

    # ---- commands ------------------------------------------------------------------------
    p.label("IDENTIFY")
    no_payload()
    p.ldi(1)
    p.st(R.IDENTF)
    p.ldi(len(identify) & 0xFF)
    p.st(R.RLEN_LO)
    p.ldi(len(identify) >> 8)
    p.st(R.RLEN_HI)
    p.j("TX")

    p.label("PROBE")                                # [word_bytes, addr_ok]
    no_payload()
    p.ld(R.A3)
    p.out(Dst.TGT)
    p.ld(R.A2)
    p.out(Dst.PE)
    p.ld(R.A0)
    p.out(Dst.WLO)
    p.ld(R.A1)
    p.out(Dst.WHI)
    p.ldi(0)
    p.out(Dst.BP, hi=PAYLOAD_BASE >> 8)
    p.ldi(2)
    p.st(R.RLEN_LO)
    p.ld(R.ISLINK)
    p.b(Cond.Z, "PROBE_LINK")
    p.inp(Src.WB)                                   # (addr_ok and word_bytes registered twice)
    p.st(Ind(inc=True))
    p.ldi(0)
    p.bn(Cond.ADDR_OK, "PROBE_OK")
    p.ldi(1)
    p.label("PROBE_OK")
    p.st(Ind(inc=True))
    p.j("TX")
    p.label("PROBE_LINK")                           # 4 bytes; only word 0 of PE 0 of 0xF0
    p.ldi(4)
    p.st(Ind(inc=True))
    p.ld(R.A3)
    p.xori(0xF0)
    p.or_(R.A2)
    p.or_(R.A1)
    p.or_(R.A0)
    p.ldi(0)
    p.bn(Cond.Z, "PROBE_OK")
    p.ldi(1)
    p.j("PROBE_OK")

    p.label("BEGIN")
    no_payload()
    p.b(Cond.BUSY, "ANS_BUSY")
    p.ldi(0)                                        # the empty load's checksum
    for i in range(4):
        p.st(R.CSUM0 + i)
    pulse(Pulse.UNLOAD)
    p.j("TX")

    p.label("RUN")                                  # a retransmission is answered OK
    no_payload()
    p.ld(R.DUP)
    p.b(Cond.Z, "TX")
    p.b(Cond.BUSY, "ANS_BUSY")
    p.bn(Cond.LOADED, "ANS_NOT_LOADED")
    p.bn(Cond.CONFIG_OK, "ANS_BAD_CONFIG")
    pulse(Pulse.START)
    p.j("TX")

    p.label("ABORT")                                # answered once the unit is idle
    no_payload()
    pulse(Pulse.ABORT)
    p.ldi(bus_wait)
    p.label("ABORT_WAIT")
    p.bn(Cond.BUSY, "TX")
    p.addi(-1)
    p.bn(Cond.Z, "ABORT_WAIT")
    p.j("ANS_BUSY")

    p.label("STATUS")
    no_payload()
    p.ldi(0)
    p.out(Dst.BP, hi=PAYLOAD_BASE >> 8)
    p.ldi(0)                                        # flags
    for bit, cond in enumerate((Cond.LOADED, Cond.BUSY, Cond.DONE, Cond.RUNNING, Cond.ABORTED,
                                Cond.WDF)):
        p.bn(cond, f"STATUS_F{bit}")
        p.ori(1 << bit)
        p.label(f"STATUS_F{bit}")
    p.st(Ind(inc=True))
    for i in range(4):
        p.ld(R.CSUM0 + i)
        p.st(Ind(inc=True))
    for i in range(4):
        p.inp(Src.RUN0 + i)
        p.st(Ind(inc=True))
    for a in (R.ERR_LO, R.ERR_HI, R.FR_LO, R.FR_HI):
        p.ld(a)
        p.st(Ind(inc=True))
    p.ldi(13)
    p.st(R.RLEN_LO)
    p.j("TX")

    p.label("COMMIT")                               # the board's checksum over the frame's
    p.ld(R.LEN_LO)
    p.xori(4)
    p.or_(R.LEN_HI)
    p.bn(Cond.Z, "ANS_BAD_LENGTH")
    p.b(Cond.BUSY, "ANS_BUSY")
    p.ldi(0)
    p.out(Dst.BP, hi=PAYLOAD_BASE >> 8)
    p.st(R.DIFF)
    for i in range(4):
        p.ld(R.CSUM0 + i)
        p.xor(Ind())
        p.or_(R.DIFF)
        p.st(R.DIFF)
        p.ld(R.CSUM0 + i)
        p.st(Ind(inc=True))
    p.ldi(4)
    p.st(R.RLEN_LO)
    p.ld(R.DIFF)
    p.bn(Cond.Z, "ANS_BAD_CHECKSUM")
    pulse(Pulse.LOADED)
    p.j("TX")

    # ---- the check walk: every word from ADDR on, L bytes of whole words, must exist
    #      (and have the first word's size) before anything is touched ----------------------
    p.label("CHECK")
    p.ld(R.A3)
    p.out(Dst.TGT)
    p.ld(R.A2)
    p.out(Dst.PE)
    copy16(R.A0, R.A1, R.W_LO, R.W_HI)
    p.ldi(1)
    p.st(R.FIRST)
    p.label("CW_WORD")
    set_word()
    p.ld(R.ISLINK)
    p.b(Cond.Z, "CW_LINK")
    p.bn(Cond.ADDR_OK, "ANS_BAD_ADDRESS")           # (registered twice since WHI)
    p.inp(Src.WB)
    p.j("CW_WB")
    p.label("CW_LINK")                              # the link's word: 0xF0, PE 0, word 0
    p.ld(R.A3)
    p.xori(0xF0)
    p.or_(R.A2)
    p.or_(R.W_LO)
    p.or_(R.W_HI)
    p.bn(Cond.Z, "ANS_BAD_ADDRESS")
    p.ldi(4)
    p.label("CW_WB")                                # acc = word_bytes: 1 .. data_bytes
    p.b(Cond.Z, "ANS_BAD_ADDRESS")
    p.st(R.TMP)
    p.addi(0x100 - (data_bytes + 1))
    p.b(Cond.C, "ANS_BAD_ADDRESS")
    p.ld(R.FIRST)
    p.b(Cond.Z, "CW_SAME")
    p.ld(R.TMP)
    p.st(R.WB)
    p.xori(0xFF)
    p.addi(1)
    p.st(R.NWB)
    p.ldi(0)
    p.st(R.FIRST)
    p.j("CW_SUB")
    p.label("CW_SAME")
    p.ld(R.TMP)
    p.xor(R.WB)
    p.bn(Cond.Z, "ANS_BAD_ADDRESS")
    p.label("CW_SUB")
    sub_wb_from_left()
    p.bn(Cond.C, "ANS_BAD_LENGTH")                  # the bytes ran out inside a word
    p.or_(R.L_LO)
    p.bn(Cond.Z, "CW_NEXT")
    p.ld(R.WALK)
    p.b(Cond.Z, "WRITE_GO")
    p.j("READ_GO")
    p.label("CW_NEXT")
    next_word()
    p.b(Cond.C, "ANS_BAD_ADDRESS")                  # past word 0xFFFF
    p.j("CW_WORD")

    # ---- WRITE: check; the load checksum continues over ADDR, LEN and the payload;
    #      each word's bytes shift into the bus word, and one `we` writes it --------------
    p.label("WRITE")
    p.ld(R.DUP)
    p.b(Cond.Z, "TX")
    p.b(Cond.BUSY, "ANS_BUSY")
    p.ld(R.LEN_LO)
    p.st(R.L_LO)
    p.or_(R.LEN_HI)
    p.b(Cond.Z, "ANS_BAD_LENGTH")
    p.ld(R.LEN_HI)
    p.st(R.L_HI)
    p.ldi(0)
    p.st(R.WALK)
    p.j("CHECK")
    p.label("WRITE_GO")
    p.ldi(Ctrl.CRC32)
    p.out(Dst.CTRL)
    for i in range(4):                              # the CRC-32 register: ~checksum
        p.ld(R.CSUM0 + i)
        p.xori(0xFF)
        p.out(Dst.CRCS)
    p.ldi(R.A0)
    p.out(Dst.BP)
    for _ in range(6):                              # ADDR, LEN; bp then at the payload
        p.ld(Ind(inc=True, feed=True))
    copy16(R.A0, R.A1, R.W_LO, R.W_HI)
    copy16(R.LEN_LO, R.LEN_HI, R.L_LO, R.L_HI)
    p.label("W_WORD")
    set_word()
    p.ld(R.WB)
    p.st(R.K)
    p.label("W_BYTE")
    p.ld(Ind(inc=True, feed=True))
    p.out(Dst.SHIFT)
    p.ld(R.K)
    p.addi(-1)
    p.st(R.K)
    p.bn(Cond.Z, "W_BYTE")
    p.ldi(data_bytes)                               # zeros shift the word to the bottom
    p.add(R.NWB)
    p.label("W_PAD")
    p.b(Cond.Z, "W_ALIGNED")
    p.st(R.K)
    p.ldi(0)
    p.out(Dst.SHIFT)
    p.ld(R.K)
    p.addi(-1)
    p.j("W_PAD")
    p.label("W_ALIGNED")
    p.ld(R.ISLINK)
    p.b(Cond.Z, "W_LINK")
    pulse(Pulse.WE)
    p.label("W_NEXT")
    next_word()
    sub_wb_from_left()
    p.or_(R.L_LO)
    p.bn(Cond.Z, "W_WORD")
    for i in range(4):                              # keep the checksum (CRC reads ~register
        p.inp(Src.CRC)                              # bytes in CRC-32 mode)
        p.st(R.CSUM0 + i)
        p.out(Dst.CRCS)
    p.ld(R.ISLINK)                                  # a write to a model memory unloads
    p.b(Cond.Z, "TX")
    p.ld(R.A3)
    prev = 0
    for t in data_targets:
        p.xori(t ^ prev)
        prev = t
        p.b(Cond.Z, "TX")
    pulse(Pulse.UNLOAD)
    p.j("TX")
    p.label("W_LINK")                               # the watchdog register and its copy
    for i in range(4):
        p.inp(Src.SHREG)
        p.st(R.LIM0 + i)
        p.out(Dst.LIMIT)
        p.out(Dst.SHIFT)
    p.j("W_NEXT")

    # ---- READ: the payload is the byte count; check; one read in flight, each word's
    #      bytes into the answer ---------------------------------------------------------------
    p.label("READ")
    p.ld(R.LEN_LO)
    p.xori(2)
    p.or_(R.LEN_HI)
    p.bn(Cond.Z, "ANS_BAD_LENGTH")
    p.ldi(0)
    p.out(Dst.BP, hi=PAYLOAD_BASE >> 8)
    p.ld(Ind(inc=True))
    p.st(R.L_LO)
    p.ld(Ind(inc=True))
    p.st(R.L_HI)
    p.or_(R.L_LO)
    p.b(Cond.Z, "ANS_BAD_LENGTH")
    p.ld(R.L_LO)
    p.addi(over & 0xFF)
    p.ld(R.L_HI)
    p.adci(over >> 8)
    p.b(Cond.C, "ANS_BAD_LENGTH")
    copy16(R.L_LO, R.L_HI, R.RLEN_LO, R.RLEN_HI)
    p.ldi(1)
    p.st(R.WALK)
    p.j("CHECK")
    p.label("READ_GO")
    copy16(R.RLEN_LO, R.RLEN_HI, R.L_LO, R.L_HI)
    copy16(R.A0, R.A1, R.W_LO, R.W_HI)
    p.ldi(0)
    p.out(Dst.BP, hi=PAYLOAD_BASE >> 8)
    p.ld(R.ISLINK)
    p.b(Cond.Z, "R_LINK")
    p.label("R_WORD")
    set_word()
    pulse(Pulse.RE)
    p.ldi(bus_wait)
    p.label("R_WAIT")
    p.b(Cond.RDONE, "R_GOT")
    p.addi(-1)
    p.bn(Cond.Z, "R_WAIT")
    p.j("ANS_BUS_ERROR")
    p.label("R_GOT")
    p.ld(R.WB)
    p.st(R.K)
    p.label("R_BYTE")
    p.inp(Src.SHREG)
    p.st(Ind(inc=True))
    p.out(Dst.SHIFT)
    p.ld(R.K)
    p.addi(-1)
    p.st(R.K)
    p.bn(Cond.Z, "R_BYTE")
    next_word()
    sub_wb_from_left()
    p.or_(R.L_LO)
    p.bn(Cond.Z, "R_WORD")
    p.j("TX")
    p.label("R_LINK")                               # the watchdog register's copy
    for i in range(4):
        p.ld(R.LIM0 + i)
        p.st(Ind(inc=True))
    p.j("TX")

    # ---- the answer: SYNC, CMD, TAG, STATUS, LEN, payload, CRC -----------------------------
    p.label("TX")
    p.ldi(0)                                        # CRC-16, bytes dropped
    p.out(Dst.CTRL)
    p.ld(R.STATUS)
    p.b(Cond.Z, "TX_OK")
    p.xori(int(S.BAD_CHECKSUM))
    p.b(Cond.Z, "TX_SYNC")
    p.ldi(0)                                        # an error answer has no payload
    p.st(R.RLEN_LO)
    p.st(R.RLEN_HI)
    p.st(R.IDENTF)
    p.j("TX_SYNC")
    p.label("TX_OK")                                # remember TAG and CRC of a frame answered OK
    p.ld(R.TAG)
    p.st(R.LAST_TAG)
    p.ld(R.CRC_HI)
    p.st(R.LAST_CRC_HI)
    p.ld(R.CRC_LO)
    p.st(R.LAST_CRC_LO)
    p.ldi(1)
    p.st(R.LAST_VALID)
    p.label("TX_SYNC")
    p.txi(0x5A)
    crc16_init()                                    # (waits for SYNC's bits)
    for a in (R.CMD, R.TAG, R.STATUS, R.RLEN_LO, R.RLEN_HI):
        p.tx(a)
    n1 = min(len(identify), IDENT_IN_RAM)
    p.ld(R.IDENTF)
    p.b(Cond.Z, "TX_PAY")
    p.ldi(RAM.IDENT)                                # the identify bytes in the RAM
    p.out(Dst.BP)
    p.ldi(-n1 & 0xFF)
    p.st(R.CNT_LO)
    p.ldi((-n1 >> 8) & 0xFF)
    p.st(R.CNT_HI)
    p.j("TX_DATA")
    p.label("TX_PAY")
    p.ldi(0)
    p.out(Dst.BP, hi=PAYLOAD_BASE >> 8)
    negate_into_cnt(R.RLEN_LO, R.RLEN_HI, "TX_CRC")
    p.label("TX_DATA")
    p.tx(Ind(inc=True))
    count_up("TX_DATA")
    p.ld(R.IDENTF)
    p.bn(Cond.Z, "TX_IDENT")
    p.label("TX_CRC")
    p.tx(Io(Src.CRC))                               # the high byte; then the low byte is
    p.ldi(Ctrl.LISTEN)                              # the register's high byte (and the next
    p.out(Dst.CTRL)                                 # frame may follow the last byte at once)
    p.tx(Io(Src.CRC))
    p.ld(R.DISC)
    p.b(Cond.Z, "H_LOOP")
    wait_quiet("DISCARD", "QUIET")                  # after BAD_CRC: until the line is quiet
    p.label("QUIET")
    p.ld(R.DISC)
    p.xori(2)
    p.b(Cond.Z, "OVERSIZE_QUIET")
    p.j("HUNT")
    p.label("TX_IDENT")                             # and the rest
    for byte in identify[n1:]:
        p.txi(byte)
    p.j("TX_CRC")
    return p
