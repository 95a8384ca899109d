"""The host link: framed commands from the host's UART to the unit's host bus.

    uart rx ─ UARTRx ─┐                       ┌─ host bus (initiator) ─> unit memories/registers
                      LinkCore ──────────────┼─ start, abort ──> unit  (RUN, ABORT, watchdog)
    uart tx ─ UARTTx ─┘  │ data RAM          └─ busy, done, config_ok <── unit
                         │ (frame, state)
                         └ loaded ──> (LED)

The protocol (frame layout, commands, status codes, the load/commit/run
rules, timeouts) is specified in docs/host-link.md and implemented on the
host side by eiegen.sw.link. In short, LinkCore:

- hunts for the request SYNC byte, takes the 8 header bytes, LEN payload
  bytes and 2 CRC bytes into its data RAM; only then, if the CRC-16 of the
  frame checks, it executes the frame. A frame whose bytes stop arriving
  for `timeout_cycles` is answered TIMEOUT; a frame with a wrong CRC is
  answered BAD_CRC and the receiver then ignores the line until it has
  been quiet for `timeout_cycles`; a LEN larger than the buffer is answered
  BAD_LENGTH once the line is quiet. None of these changes anything.
- checks every word a WRITE or READ touches (addr_ok, word_bytes, whole
  words) before the first bus access: a refused frame changes nothing.
- keeps the load checksum (CRC-32 of every executed WRITE since BEGIN) and
  the `loaded` flag: BEGIN and any WRITE to a non-data target clear it,
  COMMIT with the matching checksum sets it, RUN is refused without it.
- answers a retransmission (same TAG and CRC as the last frame it executed
  with status OK) of a WRITE or RUN with OK without doing it again.
- refuses RUN with BAD_CONFIG while the unit's `config_ok` is low; ABORT
  pulses the unit's `abort` and answers once the unit is idle; a run that
  takes more than the watchdog register's cycles (link target 0xF0, word 0)
  is aborted by the link itself, and STATUS says so.

How it is built (docs/host-link.md, "Inside the link"): a byte engine, a
small accumulator machine whose program (hw/common/linkcode.py, the
protocol as firmware) sits in block RAM, and whose state sits in one
byte-wide data RAM: the request header and payload, the answer's payload,
every counter, length, copy and scratch byte of the link (rx_errors,
frames, the last TAG and CRC, the load checksum, a copy of the watchdog
register) and the identify bytes (those that do not fit are TX-immediate
instructions of the program). One
8-bit ALU (add with carry, and, or, xor) works on them a byte at a time.
Flip-flops hold only what cannot wait for the program: the bus address and
word (a byte shift register), run_cycles and the watchdog register and
their compare, the CRC engine (one 32-bit bit-serial register for the
frame CRC-16, kept bit-reversed, and the load checksum's CRC-32, swapped in
from the RAM while a WRITE executes) and the flags the unit and the LED
see. The line's silence is counted by the program's wait loops.

HostLink wraps LinkCore with the UART; the board top-level instantiates it:

    link = HostLink(design="eie", params={...}, clocks_per_bit=clk_freq // baud)
    connect(m, link.bus, unit.bus)              # or wire by hand
    m.d.comb += [unit.start.eq(link.start), unit.abort.eq(link.abort),
                 link.busy.eq(unit.busy), link.done.eq(unit.done),
                 link.config_ok.eq(unit.config_ok),
                 link.rx.eq(uart.rx.i), uart.tx.o.eq(link.tx)]
"""

from amaranth import Module, Signal, Cat, Mux, Const
from amaranth.lib import wiring, stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out, connect

from .hostbus import HostBusSignature
from .idrom import identify_bytes
from .linkcode import (Op, Cond, Src, Dst, Pulse, Ctrl, program, ram_init, wait_iterations,
                       quiet_counts, instruction_cycles,
                       PAYLOAD_BASE, INSTRUCTION_BITS, TARGET_BITS)
from .uart import UARTRx, UARTTx
from ...sw.link.protocol import (Cmd, Status, DEFAULT_MAX_PAYLOAD, MIN_MAX_PAYLOAD,
                                 DEFAULT_TIMEOUT_BITS, LINK_TARGET)

__all__ = ["LinkCore", "HostLink", "PAYLOAD_OFFSET", "DEFAULT_WATCHDOG_CYCLES", "MAX_MAX_PAYLOAD"]

#: where a frame's payload (and an answer's) starts in the data RAM (the request's
#: CMD, TAG, ADDR and LEN sit just below it, in the state page)
PAYLOAD_OFFSET = PAYLOAD_BASE
#: the watchdog a LinkCore comes up with unless told otherwise (2**24 cycles)
DEFAULT_WATCHDOG_CYCLES = 1 << 24
#: the largest payload buffer the byte engine's pointer reaches
MAX_MAX_PAYLOAD = (1 << 12) - PAYLOAD_BASE

#: the CRC polynomials of the engine, right-shifting: CRC-32 (reflected, zlib) and
#: CRC-16/CCITT-FALSE bit-reversed (its register is kept reversed: 0x1021 -> 0x8408)
POLY32 = 0xEDB88320
POLY16R = 0x8408


def _bit_reverse(value, width):
    return int(f"{value:0{width}b}"[::-1], 2)


class LinkCore(wiring.Component):
    """The byte-level host link.

    Parameters: `design` (tag), `params` (dict of the unit's generator
    parameters, small non-negative integers, for IDENTIFY), `timeout_cycles`
    (inter-byte timeout), `max_payload` (payload bytes a frame may carry,
    256 .. 3840), `link_info` (extra link fields for IDENTIFY),
    `data_targets` (targets whose writes do not clear `loaded`: inputs,
    outputs, control registers; the link's own target 0xF0 always is one),
    `loaded_at_reset` (the memories come up holding a model, e.g. baked into
    the bitstream), `bus_timeout` (cycles to wait at least for rvalid, and
    for `busy` to fall after an abort), `watchdog_cycles` (the run watchdog
    after reset), `data_bytes` (the widest word of any target, 1..8),
    `code_latency` (1: the block RAMs' outputs are used directly, an
    instruction takes two cycles; 2: the program's word and the RAM's byte
    are registered first, four cycles, for FPGAs whose block RAM is slow to
    answer, such as ECP5's), `code_bank` (None: the program is one memory; a power of 2:
    a program longer than that is split into a memory of that many words
    and one of the rest, the word chosen by a registered address bit: 512
    on the iCE40, where a 512-word memory is two block RAMs side by side
    and a 768-word one would need a wider multiplexer).

    Ports (directions as the link sees them):

    - `rx` (In stream of received bytes, held by the sender until taken:
      while the link listens (inside a frame and hunting for one) a byte is
      taken by the instruction that reads it; otherwise, while a frame
      executes or is answered, bytes are dropped as they come; `payload` is
      used only in the cycle it is taken), `rx_error` (In, a UART error
      pulse, counted);
    - `tx` (Out stream of bytes to send);
    - `bus` (Out HostBusSignature: the initiator; every request from a
      register, see hw/common/hostbus.py);
    - `start` (Out, one-cycle pulse: RUN), `abort` (Out, one-cycle pulse:
      ABORT or the watchdog);
    - `busy`, `done` (In, from the unit), `config_ok` (In, from the unit:
      a start now would run a valid configuration; 1 if not connected);
    - `loaded` (Out, the flag)."""

    def __init__(self, *, design, params, timeout_cycles, max_payload=DEFAULT_MAX_PAYLOAD,
                 link_info=None, data_targets=(), loaded_at_reset=False, bus_timeout=255,
                 watchdog_cycles=DEFAULT_WATCHDOG_CYCLES, data_bytes=8, code_latency=1,
                 code_bank=None):
        try:
            self._check(timeout_cycles=timeout_cycles, max_payload=max_payload,
                        bus_timeout=bus_timeout, watchdog_cycles=watchdog_cycles,
                        data_bytes=data_bytes, data_targets=data_targets,
                        code_latency=code_latency, code_bank=code_bank)
        except ValueError:
            self._MustUse__used = True             # a refused component is not "unused"
            raise
        self._init(design=design, params=params, timeout_cycles=timeout_cycles,
                   max_payload=max_payload, link_info=link_info, data_targets=data_targets,
                   loaded_at_reset=loaded_at_reset, bus_timeout=bus_timeout,
                   watchdog_cycles=watchdog_cycles, data_bytes=data_bytes,
                   code_latency=code_latency, code_bank=code_bank)

    @staticmethod
    def _check(*, timeout_cycles, max_payload, bus_timeout, watchdog_cycles, data_bytes,
               data_targets, code_latency, code_bank):
        if code_latency not in (1, 2):
            raise ValueError(f"code_latency must be 1 or 2, got {code_latency!r}")
        if not isinstance(max_payload, int) or not MIN_MAX_PAYLOAD <= max_payload <= MAX_MAX_PAYLOAD:
            raise ValueError(f"max_payload must be an integer in [{MIN_MAX_PAYLOAD}, "
                             f"{MAX_MAX_PAYLOAD}], got {max_payload!r}")
        if not isinstance(timeout_cycles, int) or timeout_cycles < 16:
            raise ValueError(f"timeout_cycles must be an integer >= 16, got {timeout_cycles!r}")
        if (not isinstance(bus_timeout, int) or bus_timeout < 4 or
                wait_iterations(bus_timeout, code_latency) > 0xFF):
            raise ValueError(f"bus_timeout must be an integer in [4, "
                             f"{0xFE * 3 * instruction_cycles(code_latency)}], "
                             f"got {bus_timeout!r}")
        if not isinstance(watchdog_cycles, int) or not 1 <= watchdog_cycles < (1 << 32):
            raise ValueError(f"watchdog_cycles must be an integer in [1, 2**32), "
                             f"got {watchdog_cycles!r}")
        if not isinstance(data_bytes, int) or not 1 <= data_bytes <= 8:
            raise ValueError(f"data_bytes must be an integer in [1, 8], got {data_bytes!r}")
        for t in data_targets:
            if not isinstance(t, int) or not 0 <= t <= 0xFF:
                raise ValueError(f"data target {t!r} is not a target id in [0, 255]")
            if t >= LINK_TARGET:
                raise ValueError(f"target {t:#04x} belongs to the link (0xF0-0xFF), not the unit")
        if code_bank is not None and (not isinstance(code_bank, int) or code_bank < 1 or
                                      code_bank & (code_bank - 1)):
            raise ValueError(f"code_bank must be a power of 2 or None, got {code_bank!r}")

    def _init(self, *, design, params, timeout_cycles, max_payload, link_info, data_targets,
              loaded_at_reset, bus_timeout, watchdog_cycles, data_bytes, code_latency,
              code_bank):
        self.design, self.params = design, dict(params)
        self.timeout_cycles, self.max_payload = timeout_cycles, max_payload
        self.data_targets = tuple(sorted(set(data_targets)))
        self.loaded_at_reset, self.bus_timeout = bool(loaded_at_reset), bus_timeout
        self.watchdog_cycles, self.data_bytes = watchdog_cycles, data_bytes
        self.code_latency, self.code_bank = code_latency, code_bank
        self.link_info = {"max_payload": max_payload, "timeout_cycles": timeout_cycles,
                          **dict(link_info or {}), "watchdog_cycles": watchdog_cycles}
        self.identify_bytes = identify_bytes(design, self.params, self.link_info)
        self.program = program(status=Status, cmd=Cmd, identify=self.identify_bytes,
                               max_payload=max_payload, data_bytes=data_bytes,
                               data_targets=self.data_targets,
                               bus_wait=wait_iterations(bus_timeout, code_latency),
                               quiet=quiet_counts(timeout_cycles, code_latency))
        self.code = self.program.words()
        self.ram_depth = PAYLOAD_BASE + max_payload
        super().__init__({
            "rx": In(stream.Signature(8)),
            "rx_error": In(1),
            "tx": Out(stream.Signature(8)),
            "bus": Out(HostBusSignature()),
            "start": Out(1),
            "abort": Out(1),
            "busy": In(1),
            "done": In(1),
            "config_ok": In(1, init=1),
            "loaded": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        db = self.data_bytes

        # -- memories: the program (16-bit words), the data RAM (bytes) ----------------------
        # (with `code_bank`, a program longer than a bank is split into a bank and the
        # rest, and the word chosen by a registered address bit: on the iCE40 a 512-word
        # bank is two block RAMs side by side, and one 2:1 multiplexer costs less than
        # the one Yosys builds for a memory of three)
        banks = [self.code]
        if self.code_bank is not None and len(self.code) > self.code_bank:
            banks = [self.code[i:i + self.code_bank]
                     for i in range(0, len(self.code), self.code_bank)]
        ports = []
        for i, words in enumerate(banks):
            mem = Memory(shape=INSTRUCTION_BITS, depth=len(words), init=words)
            m.submodules[f"code{i}" if len(banks) > 1 else "code"] = mem
            ports.append(mem.read_port())
        crp = ports[0]
        # (a byte read in the cycle it is written is never used: no collision logic)
        m.submodules.ram = ram = Memory(shape=8, depth=self.ram_depth,
                                        init=ram_init(self.watchdog_cycles, self.ram_depth,
                                                      self.identify_bytes),
                                        attrs={"no_rw_check": 1})
        drp = ram.read_port()
        dwp = ram.write_port()

        # -- the sequencer: per instruction [F,] A, B; it comes up in a B that does nothing
        #    (every registered decode is 0) and fetches instruction 0 (pc + 1):
        #    A evaluates the branch condition and reads the RAM, B acts and fetches ----------
        ph_a = Signal()
        ph_b = Signal(init=1)
        go = Signal()                               # B, and the instruction does not wait
        code_word = crp.data
        if len(ports) > 1:
            bank_sel = Signal(range(len(ports)))
            hi_bit = self.code_bank.bit_length() - 1
            code_word = Signal(INSTRUCTION_BITS)
            with m.Switch(bank_sel):
                for i, port in enumerate(ports):
                    with m.Case(i):
                        m.d.comb += code_word.eq(port.data)
        if self.code_latency == 1:
            ui = code_word
            m.d.sync += [ph_a.eq(go), ph_b.eq(ph_a | (ph_b & ~go))]
        else:
            ph_f = Signal()
            ui = Signal(INSTRUCTION_BITS)
            ph_d = Signal()                         # the RAM's byte is registered
            m.d.sync += [ui.eq(code_word), ph_f.eq(go), ph_a.eq(ph_f), ph_d.eq(ph_a),
                         ph_b.eq(ph_d | (ph_b & ~go))]
        pc = Signal(TARGET_BITS, init=(1 << TARGET_BITS) - 1)    # (pc + 1 = 0 at boot)
        npc = Signal(TARGET_BITS)
        take = Signal()
        fetch_addr = npc
        for port in ports:
            m.d.comb += [port.addr.eq(fetch_addr), port.en.eq(go)]
        if len(ports) > 1:
            for port in ports:
                m.d.comb += port.addr.eq(fetch_addr[:hi_bit])
            with m.If(go):
                m.d.sync += bank_sel.eq(fetch_addr[hi_bit:])

        is_br = ui[15]
        op = ui[12:15]
        imm, io, ind, inc = ui[11], ui[10], ui[9], ui[8]
        opd = ui[:8]
        port = opd[:4]
        is_op = ~is_br
        is_tx = is_op & (op == Op.TX)
        is_st = is_op & (op == Op.ST)

        # (the OUT destinations decoded in A, one-hot, registered)
        k_dst = Signal(max(Dst) + 1)

        def out_to(dst):
            return go & k_dst[dst]

        # -- registers ---------------------------------------------------------------------
        acc = Signal(8)
        z = Signal()                                # the last ALU result (acc) was 0
        m.d.comb += z.eq(acc == 0)
        c = Signal()
        bp = Signal(range(self.ram_depth))
        target, pe, wlo, whi = Signal(8), Signal(8), Signal(8), Signal(8)
        shreg = Signal(8 * db)
        crc = Signal(32)
        bitc = Signal(3)
        crc_busy = Signal()
        m32 = Signal()                              # Ctrl.CRC32
        listen = Signal(init=1)                     # Ctrl.LISTEN
        loaded = Signal(init=int(self.loaded_at_reset))
        errp = Signal()
        rd_pending = Signal()
        running = Signal()
        aborted = Signal()
        wd_fired = Signal()
        run_cycles = Signal(32)
        limit = Signal(32, init=self.watchdog_cycles)
        start_r, abort_r, we_r, re_r = Signal(), Signal(), Signal(), Signal()
        busy_r, done_r, config_ok_r, ok_r = Signal(), Signal(), Signal(), Signal()
        wb_r = Signal(4)
        m.d.comb += [self.loaded.eq(loaded), self.start.eq(start_r), self.abort.eq(abort_r)]


        # -- operand B: immediate, I/O source, RAM (at bp, or direct in the state page) -------
        m.d.comb += [drp.addr.eq(Mux(ind, bp, opd)), dwp.addr.eq(drp.addr), dwp.data.eq(acc)]
        io_in = Signal(8)
        crc_rd = Mux(m32, ~crc[:8], crc[:8][::-1])        # (CRC-32: the checksum's byte)
        io_lo = Signal(8)
        with m.Switch(port[:2]):
            for src, value in ((Src.RX, self.rx.payload), (Src.SHREG, shreg[:8]),
                               (Src.CRC, crc_rd), (Src.WB, wb_r)):
                with m.Case(src):
                    m.d.comb += io_lo.eq(value)
        m.d.comb += io_in.eq(Mux(port[2], run_cycles.word_select(port[:2], 8), io_lo))
        # the immediate or I/O byte registered a cycle before it is used (every cycle of A
        # and B): the RAM's byte, read in A, is the only operand B takes from a memory
        opr = Signal(8)
        m.d.sync += opr.eq(Mux(imm, opd, io_in))
        k_reg = Signal()                            # (imm | io, registered in A)
        ram_byte = drp.data
        if self.code_latency == 2:
            ram_byte = Signal(8)
            m.d.sync += ram_byte.eq(drp.data)
        bsrc = Mux(k_reg, opr, ram_byte)

        # -- waiting: the transmitter, the CRC engine, the bus word's padding ---------------
        feed = is_op & ((op == Op.TX) | (~imm & (io | ind) & opd[7] & (op != Op.ST)))
        uses_crc = feed | (is_op & io & ((port == Src.CRC) | (port == Dst.CRCS) |
                                         (port == Dst.CTRL)))
        # (what an instruction may wait for, and whether it is an OUT, decoded in A and
        # registered: B's enables are a few LUTs from flip-flops)
        k_tx, k_alu, k_rx = Signal(), Signal(), Signal()
        k_cw = Signal()                             # waits for the CRC engine
        k_feed, k_inc, k_wr = Signal(), Signal(), Signal()
        k_fn = Signal(2)                            # the ALU's result: B, sum, or, xor
        k_adc, k_sum = Signal(), Signal()
        take_rx = is_op & io & ~imm & (port == Src.RX) & (op != Op.ST) & (op != Op.TX)
        with m.If(ph_a):
            m.d.sync += [k_tx.eq(is_tx), k_rx.eq(take_rx),
                         k_alu.eq(is_op & ((op <= Op.XOR) | (op == Op.TX))),
                         k_feed.eq(feed), k_inc.eq(is_op & inc), k_wr.eq(is_st & ~io & ~imm),
                         k_reg.eq(imm | io), k_adc.eq(op == Op.ADC),
                         k_sum.eq(is_op & ((op == Op.ADD) | (op == Op.ADC))),
                         k_fn.eq(Mux((op == Op.ADD) | (op == Op.ADC), 1,
                                     Mux(op == Op.OR, 2, Mux(op == Op.XOR, 3, 0)))),
                         k_dst.eq(Cat(*[is_st & io & (port == d) for d in range(max(Dst) + 1)])),
                         k_cw.eq(uses_crc | (is_op & ((op <= Op.XOR) | (op == Op.TX))))]
        # (the engine steps a cycle after its bit counter: crc_busy_d; and a byte read
        # from it was registered a cycle before it is used: so an instruction that reads
        # it, loads it or changes acc, whose bits the engine takes, waits until all three
        # are low: crc_wait, registered from what they will be)
        crc_busy_d = Signal()
        next_busy = Signal()
        crc_wait = Signal()
        m.d.comb += next_busy.eq((go & k_feed) | (crc_busy & (bitc != 7)))
        m.d.sync += [crc_busy.eq(next_busy), crc_busy_d.eq(crc_busy),
                     crc_wait.eq(next_busy | crc_busy | crc_busy_d)]
        stall = (k_tx & ~self.tx.ready) | (k_cw & crc_wait)
        m.d.comb += go.eq(ph_b & ~stall)
        m.d.comb += [self.tx.valid.eq(ph_b & k_tx & ~crc_wait), self.tx.payload.eq(bsrc)]
        m.d.comb += self.rx.ready.eq(Mux(listen, go & k_rx, 1))

        # -- the ALU ---------------------------------------------------------------------------
        total = Signal(9)
        m.d.comb += total.eq(acc + bsrc + (c & k_adc))
        res = Signal(8)
        with m.Switch(k_fn):
            with m.Case(0):
                m.d.comb += res.eq(bsrc)
            with m.Case(1):
                m.d.comb += res.eq(total[:8])
            with m.Case(2):
                m.d.comb += res.eq(acc | bsrc)
            with m.Case(3):
                m.d.comb += res.eq(acc ^ bsrc)
        with m.If(go & k_alu):
            m.d.sync += acc.eq(res)
            with m.If(k_sum):
                m.d.sync += c.eq(total[8])
        m.d.comb += dwp.en.eq(go & k_wr)
        with m.If(go & k_inc):
            m.d.sync += bp.eq(bp + 1)
        with m.Elif(out_to(Dst.BP)):
            m.d.sync += bp.eq(Cat(acc, opd[4:]))

        # -- branches: the condition registered in A, the target taken in B -----------------
        conds = {Cond.TRUE: Const(1), Cond.Z: z, Cond.C: c, Cond.RXV: self.rx.valid,
                 Cond.BUSY: busy_r,
                 Cond.CONFIG_OK: config_ok_r, Cond.ADDR_OK: ok_r, Cond.RDONE: ~rd_pending,
                 Cond.LOADED: loaded, Cond.ERRP: errp, Cond.DONE: done_r, Cond.RUNNING: running,
                 Cond.ABORTED: aborted, Cond.WDF: wd_fired}
        # (Z is acc = 0, a few LUTs from acc: it joins the multiplexer of the others, all
        # flip-flops, at its last level)
        other = Signal()
        with m.Switch(ui[11:15]):
            for k, v in conds.items():
                if k != Cond.Z:
                    with m.Case(k):
                        m.d.comb += other.eq(v)
        z_lo, z_hi = Signal(), Signal()
        m.d.comb += [z_lo.eq(acc[:4] == 0), z_hi.eq(acc[4:] == 0)]
        sel_z = ui[11:15] == Cond.Z
        with m.If(ph_a):
            m.d.sync += take.eq(is_br & (((sel_z & z_lo & z_hi) | (~sel_z & other)) ^ ui[10]))
        m.d.comb += npc.eq(Mux(take, ui[:TARGET_BITS], pc + 1))
        with m.If(go):
            m.d.sync += pc.eq(npc)

        # -- outputs ---------------------------------------------------------------------------
        # pulses registered: they act (and reach the bus and the unit) the cycle after
        pulse = Signal(8)
        with m.If(out_to(Dst.PULSE)):
            m.d.sync += pulse.eq(acc)
        with m.Else():
            m.d.sync += pulse.eq(0)
        for dst, reg in ((Dst.TGT, target), (Dst.PE, pe), (Dst.WLO, wlo), (Dst.WHI, whi)):
            with m.If(out_to(dst)):
                m.d.sync += reg.eq(acc)
        with m.If(out_to(Dst.CTRL)):
            m.d.sync += [m32.eq(acc[0]), listen.eq(acc[1])]
        with m.If(out_to(Dst.LIMIT)):
            m.d.sync += limit.eq(Cat(limit[8:], acc))
        with m.If(pulse[4]):
            m.d.sync += loaded.eq(1)
        with m.Elif(pulse[5]):
            m.d.sync += loaded.eq(0)
        rx_error_r = Signal()                       # (the UART's overrun depends on rx.ready)
        m.d.sync += rx_error_r.eq(self.rx_error)
        with m.If(rx_error_r):
            m.d.sync += errp.eq(1)
        with m.Elif(pulse[6]):
            m.d.sync += errp.eq(0)
        m.d.comb += [we_r.eq(pulse[0]), re_r.eq(pulse[1]), start_r.eq(pulse[2])]

        # -- the bus: every request from a register, answers registered ---------------------
        m.d.comb += [bus.addr.eq(Cat(wlo, whi, pe, target)), bus.wdata.eq(shreg),
                     bus.we.eq(we_r), bus.re.eq(re_r)]
        # (addr_ok and word_bytes are used the fourth cycle or later after the address
        # last changed: the unit may register them, the link does not again)
        m.d.comb += [ok_r.eq(bus.addr_ok), wb_r.eq(bus.word_bytes)]
        capture = rd_pending & bus.rvalid
        with m.If(pulse[1]):
            m.d.sync += rd_pending.eq(1)
        with m.Elif(capture):
            m.d.sync += rd_pending.eq(0)
        # the bus word: a read's answer, or shifted right a byte at a time (a written
        # word's bytes enter at the top, then zeros until it is at the bottom)
        with m.If(capture):
            m.d.sync += shreg.eq(bus.rdata[:8 * db])
        with m.Elif(out_to(Dst.SHIFT)):
            m.d.sync += shreg.eq(Cat(shreg[8:], acc))

        # -- the CRC engine: a bit per cycle, right shifting; CRC-32 (the load checksum)
        #    takes a byte's bits from bit 0, the CRC-16 (kept bit-reversed) from bit 7 -------
        with m.If(go & k_feed):
            m.d.sync += bitc.eq(0)
        with m.Elif(crc_busy):
            m.d.sync += bitc.eq(bitc + 1)
        # (the bit registered: the register steps on it the cycle after)
        din = Signal()
        m.d.sync += din.eq(acc.bit_select(bitc ^ Mux(m32, 0, 7), 1))
        fb = crc[0] ^ din
        fb32 = fb & m32
        fb16 = fb & ~m32
        stepped = []
        for i in range(32):
            nxt = crc[i + 1] if i < 31 else Const(0)
            tap32, tap16 = (POLY32 >> i) & 1, (POLY16R >> i) & 1
            if tap32 and tap16:
                nxt = nxt ^ fb
            elif tap32:
                nxt = nxt ^ fb32
            elif tap16:
                nxt = nxt ^ fb16
            stepped.append(nxt)
        with m.If(out_to(Dst.CRCS)):
            m.d.sync += crc.eq(Cat(crc[8:], acc))
        with m.Elif(crc_busy_d):
            m.d.sync += crc.eq(Cat(*stepped))

        # -- runs and the watchdog ------------------------------------------------------------
        m.d.sync += [busy_r.eq(self.busy), done_r.eq(self.done), config_ok_r.eq(self.config_ok)]
        wd_abort = Signal()
        m.d.sync += wd_abort.eq(0)
        m.d.comb += abort_r.eq(pulse[3] | wd_abort)
        # a run ends on registered inputs (the unit's busy may be combinational): the cycle
        # after the unit was done and not busy, or after the watchdog's compare (in
        # registered bytes) found the run had taken `limit` cycles, without counting that
        # cycle, so run_cycles and the priority of done over the watchdog are as if decided
        # a cycle earlier (the watchdog's abort pulse is a cycle later)
        hits = Signal(4)
        m.d.sync += hits.eq(Cat(*[run_cycles.word_select(i, 8) == limit.word_select(i, 8)
                                  for i in range(4)]))
        ended = Signal()
        fired = Signal()
        m.d.sync += [ended.eq(self.done & ~self.busy & ~start_r), fired.eq(hits.all() & ~start_r)]
        with m.If(start_r):
            m.d.sync += [running.eq(1), run_cycles.eq(0), aborted.eq(0), wd_fired.eq(0),
                         hits.eq(0)]
        with m.Elif(pulse[3]):
            m.d.sync += [running.eq(0), aborted.eq(aborted | running)]
        with m.Elif(running):
            with m.If(ended):
                m.d.sync += running.eq(0)
            with m.Elif(fired):
                # the watchdog: the unit is idle within its abort latency
                m.d.sync += [wd_abort.eq(1), running.eq(0), aborted.eq(1), wd_fired.eq(1)]
            with m.Else():
                m.d.sync += run_cycles.eq(run_cycles + 1)
        return m


class HostLink(wiring.Component):
    """LinkCore behind an 8N1 UART: what a board top-level instantiates.

    Parameters: `design`, `params` (IDENTIFY data), `clocks_per_bit`
    (clock frequency / baud rate), `timeout_bits` (inter-byte timeout in bit
    times), and LinkCore's `max_payload`, `data_targets`,
    `loaded_at_reset`, `bus_timeout`, `watchdog_cycles`, `data_bytes`,
    `code_latency`, `code_bank`.

    Ports: `rx` (UART pin in, idles high), `tx` (UART pin out), `bus`,
    `start`, `abort`, `busy`, `done`, `config_ok`, `loaded` (as LinkCore)."""

    def __init__(self, *, design, params, clocks_per_bit, timeout_bits=DEFAULT_TIMEOUT_BITS,
                 max_payload=DEFAULT_MAX_PAYLOAD, data_targets=(), loaded_at_reset=False,
                 bus_timeout=255, watchdog_cycles=DEFAULT_WATCHDOG_CYCLES, data_bytes=8,
                 code_latency=1, code_bank=None):
        self.clocks_per_bit, self.timeout_bits = clocks_per_bit, timeout_bits
        self.uart_rx = UARTRx(clocks_per_bit)
        self.uart_tx = UARTTx(clocks_per_bit)
        self.core = LinkCore(design=design, params=params,
                             timeout_cycles=timeout_bits * clocks_per_bit,
                             max_payload=max_payload, data_targets=data_targets,
                             loaded_at_reset=loaded_at_reset, bus_timeout=bus_timeout,
                             watchdog_cycles=watchdog_cycles, data_bytes=data_bytes,
                             code_latency=code_latency, code_bank=code_bank,
                             link_info={"clocks_per_bit": clocks_per_bit,
                                        "timeout_bits": timeout_bits})
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "bus": Out(HostBusSignature()),
            "start": Out(1),
            "abort": Out(1),
            "busy": In(1),
            "done": In(1),
            "config_ok": In(1, init=1),
            "loaded": Out(1),
        })

    @property
    def identify_bytes(self):
        return self.core.identify_bytes

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = rx = self.uart_rx
        m.submodules.uart_tx = tx = self.uart_tx
        m.submodules.core = core = self.core
        connect(m, rx.data, core.rx)
        connect(m, core.tx, tx.data)
        connect(m, wiring.flipped(self.bus), core.bus)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx), core.rx_error.eq(rx.error | rx.overrun),
                     self.start.eq(core.start), self.abort.eq(core.abort),
                     core.busy.eq(self.busy), core.done.eq(self.done),
                     core.config_ok.eq(self.config_ok), self.loaded.eq(core.loaded)]
        return m
