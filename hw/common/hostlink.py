"""The host link: framed commands from the host's UART to the unit's host bus.

    uart rx ─ UARTRx ─┐                       ┌─ host bus (initiator) ─> unit memories/registers
                      LinkCore ──────────────┼─ start, abort ──> unit  (RUN, ABORT, watchdog)
    uart tx ─ UARTTx ─┘  │ frame buffer      └─ busy, done, config_ok <── unit
                         │ (+ identify bytes)
                         └ loaded ──> (LED)

The protocol (frame layout, commands, status codes, the load/commit/run
rules, timeouts) is specified in docs/host-link.md and implemented on the
host side by eiegen.sw.link. In short, LinkCore:

- hunts for the request SYNC byte, takes the 8 header bytes, LEN payload
  bytes and 2 CRC bytes into its frame buffer; only then, if the CRC-16 of
  the frame checks, it executes the frame. A frame whose bytes stop
  arriving for `timeout_cycles` is answered TIMEOUT; a frame with a wrong
  CRC is answered BAD_CRC and the receiver then ignores the line until it
  has been quiet for `timeout_cycles`; a LEN larger than the buffer is
  answered BAD_LENGTH once the line is quiet. None of these changes anything.
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

How it is built (docs/host-link.md, "Inside the link"):

- The protocol is a microprogram (hw/common/linkcode.py) in a block RAM; a
  micro-instruction takes two cycles (three with code_latency=2 or
  cond_stage): the first evaluates its condition and registers it (whether
  to jump, and whether the instruction acts: a byte to take or send has
  come or gone); the second acts, on the instruction's own fields (the
  block RAM holds them for both cycles), and fetches the next. So no path
  runs from the block RAM through the condition multiplexer into the
  datapath, and every condition is a flip-flop or one LUT away from one.
  With cond_stage the condition multiplexer has a cycle of its own before
  that first one (its choice registered, for crowded iCE40 builds).
- One frame buffer (a lib.memory.Memory of bytes) holds the request as it
  arrives (CMD, TAG, ADDR, LEN at 0..7, payload from 8; the frame's two CRC
  bytes are compared, not stored), the answer's payload (from 8) and, past
  the end, the identify bytes: answers are sent from the buffer, with no
  payload registers.
- The datapath is serial: the bus word is assembled and taken apart in one
  shift register moving a bit per cycle, and the load checksum (CRC-32) is
  computed a bit per cycle over the buffer's bytes (ADDR, LEN, payload)
  while a WRITE executes; the frame CRC (CRC-16) takes a byte per update.
  A request's own CRC bytes are compared with the register (high byte, then
  low) instead of fed through it, so the register still holds the frame's
  CRC when the retransmission check (DUP) and the answer (which remembers
  TAG and CRC of a frame answered OK as it sends SYNC) look at it: no copy
  of the received CRC.
- Every bus request comes from a register: the address is the target and
  PE bytes and a word counter (no adder in front of the bus); `we`, `re`,
  `start` and `abort` are registered pulses; `addr` is stable two cycles
  before `we` or `re`; `addr_ok` and `word_bytes` are registered before use
  (the host-bus contract in hw/common/hostbus.py). Lengths and word walks
  are counters; `busy` and `config_ok` are registered too.

HostLink wraps LinkCore with the UART; the board top-level instantiates it:

    link = HostLink(design="eie", params={...}, clocks_per_bit=clk_freq // baud)
    connect(m, link.bus, unit.bus)              # or wire by hand
    m.d.comb += [unit.start.eq(link.start), unit.abort.eq(link.abort),
                 link.busy.eq(unit.busy), link.done.eq(unit.done),
                 link.config_ok.eq(unit.config_ok),
                 link.rx.eq(uart.rx.i), uart.tx.o.eq(link.tx)]
"""

from amaranth import Module, Signal, Cat, Mux, ResetSignal
from amaranth.lib import wiring, stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out, connect

from .hostbus import HostBusSignature
from .crc import crc_next, crc_next_bit, crc_register_init, CRC16_CCITT_FALSE, CRC32
from .idrom import identify_bytes
from .linkcode import (FIELDS, IMPLIED_CONDS, ST_KEEP, Mode, Cond, Bp, Rlen, Ld, Rx, Tx, Wsrc, Sh, Cs, Pulse,
                       program)
from .uart import UARTRx, UARTTx
from ...sw.link.protocol import (SYNC_RESPONSE, SYNC_REQUEST, Cmd, Status, STATUS_BYTES,
                                 DEFAULT_MAX_PAYLOAD, MIN_MAX_PAYLOAD, DEFAULT_TIMEOUT_BITS,
                                 PROBE_BYTES, LINK_TARGET, LINK_WORD_BYTES)

__all__ = ["LinkCore", "HostLink", "PAYLOAD_OFFSET", "DEFAULT_WATCHDOG_CYCLES"]

#: where a frame's payload (and an answer's) starts in the frame buffer:
#: bytes 0..7 hold the request's CMD, TAG, ADDR and LEN
PAYLOAD_OFFSET = 8
#: the watchdog a LinkCore comes up with unless told otherwise (2**24 cycles)
DEFAULT_WATCHDOG_CYCLES = 1 << 24



class LinkCore(wiring.Component):
    """The byte-level host link.

    Parameters: `design` (tag), `params` (dict of the unit's generator
    parameters, small non-negative integers, for IDENTIFY), `timeout_cycles`
    (inter-byte timeout), `max_payload` (payload bytes a frame may carry),
    `link_info` (extra link fields for IDENTIFY), `data_targets` (targets
    whose writes do not clear `loaded`: inputs, outputs, control registers;
    the link's own target 0xF0 always is one), `loaded_at_reset` (the
    memories come up holding a model, e.g. baked into the bitstream),
    `bus_timeout` (cycles to wait for rvalid, and for `busy` to fall after
    an abort), `watchdog_cycles` (the run watchdog after reset),
    `data_bytes` (the widest word of any target, 1..8), `code_latency` (1:
    the microprogram's block RAM output is used directly, an instruction
    takes two cycles; 2: it is registered first, three cycles, for FPGAs
    whose block RAM is slow to answer, such as ECP5's), `cond_stage` (with
    code_latency 1: the condition multiplexer's choice is registered in a
    cycle of its own before the condition cycle, three cycles an
    instruction: on a crowded iCE40 the multiplexer and the logic behind it
    were over 30 ns of a 36 MHz build).

    Ports (directions as the link sees them):

    - `rx` (In stream of received bytes, held by the sender until taken:
      `ready` when the instruction waiting for a byte takes it, or when an
      instruction that does not keep one drops it, so bytes that arrive
      while a frame executes or is answered are dropped; `payload` is used
      only in the cycle it is taken), `rx_error` (In, a UART error pulse,
      counted);
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
                 cond_stage=False):
        if code_latency not in (1, 2):
            raise ValueError(f"code_latency must be 1 or 2, got {code_latency!r}")
        if cond_stage and code_latency != 1:
            raise ValueError("cond_stage needs code_latency 1 (with 2 the condition cycle "
                             "already has the instruction from a register)")
        if not isinstance(max_payload, int) or not MIN_MAX_PAYLOAD <= max_payload <= 0xFFFF:
            raise ValueError(f"max_payload must be an integer in [{MIN_MAX_PAYLOAD}, 65535], "
                             f"got {max_payload!r}")
        if not isinstance(timeout_cycles, int) or timeout_cycles < 16:
            raise ValueError(f"timeout_cycles must be an integer >= 16, got {timeout_cycles!r}")
        if not isinstance(bus_timeout, int) or not 4 <= bus_timeout <= 0xFFFF:
            raise ValueError(f"bus_timeout must be an integer in [4, 65535], got {bus_timeout!r}")
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
        self.design, self.params = design, dict(params)
        self.timeout_cycles, self.max_payload = timeout_cycles, max_payload
        self.data_targets = tuple(sorted(set(data_targets)))
        self.loaded_at_reset, self.bus_timeout = bool(loaded_at_reset), bus_timeout
        self.watchdog_cycles, self.data_bytes = watchdog_cycles, data_bytes
        self.code_latency, self.cond_stage = code_latency, bool(cond_stage)
        self.link_info = {"max_payload": max_payload, "timeout_cycles": timeout_cycles,
                          **dict(link_info or {}), "watchdog_cycles": watchdog_cycles}
        self.identify_bytes = identify_bytes(design, self.params, self.link_info)
        prog = program(status=Status, cmd=Cmd)
        self.microcode = prog.words()
        self.microcode_length = len(prog)
        self.rx_timeout_addr = prog.labels["RX_TIMEOUT"]
        self.code_width = sum(w for _, w in FIELDS)
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
        maxp = self.max_payload
        PAY = PAYLOAD_OFFSET
        ident = self.identify_bytes
        id_base = PAY + maxp                        # (the frame's CRC bytes are not stored)
        depth = id_base + len(ident)
        db = self.data_bytes
        code = self.microcode

        # -- frame buffer: request (and its CRC bytes), answer payload, identify bytes -----
        # (a byte read in the cycle it is written is never used: the instruction after a
        # write reads the buffer again before it looks; no_rw_check, no collision logic)
        m.submodules.buffer = buf = Memory(shape=8, depth=depth,
                                           init=[0] * id_base + list(ident),
                                           attrs={"no_rw_check": 1})
        wp = buf.write_port()
        rp = buf.read_port()
        bp = Signal(range(depth + 1))
        m.d.comb += [rp.addr.eq(bp), wp.addr.eq(bp)]
        if self.code_latency == 1:
            rd = rp.data                            # the buffer's byte at bp
        else:                                       # registered too: a cycle later, still in time
            rd = Signal(8)                          # for an instruction of three cycles
            m.d.sync += rd.eq(rp.data)

        # -- the sequencer: a micro-instruction every two cycles from block RAM (three with
        #    code_latency 2: the block RAM's output registered, for ECP5's slow one) ------
        m.submodules.code = rom = Memory(shape=self.code_width, depth=len(code), init=code)
        crp = rom.read_port()
        pc = Signal(range(len(code)))
        npc = Signal.like(pc)
        evaluate = Signal()                         # the instruction's condition cycle
        execute = Signal()                          # ... and its action cycle
        if self.code_latency == 1 and not self.cond_stage:
            ui = crp.data
            m.d.comb += evaluate.eq(~execute)
            m.d.sync += execute.eq(~execute)
        else:
            fetch = Signal(init=1)                  # the cycle before the condition cycle
            m.d.sync += [fetch.eq(execute), evaluate.eq(fetch), execute.eq(evaluate)]
            if self.code_latency == 1:              # cond_stage: fetch chooses the condition
                ui = crp.data
            else:                                   # fetch registers the instruction
                ui = Signal(self.code_width)
                with m.If(fetch):
                    m.d.sync += ui.eq(crp.data)
        f = {}
        pos = 0
        for name, w in FIELDS:
            f[name] = ui[pos:pos + w]
            pos += w
        m.d.comb += [crp.addr.eq(npc), crp.en.eq(execute | ResetSignal())]
        with m.If(execute):
            m.d.sync += pc.eq(npc)

        # -- line silence; the received byte (held until an instruction takes or drops it) --
        silence = Signal(range(self.timeout_cycles + 1))
        quiet = Signal()                            # registered: the count reached the timeout
        with m.If(self.rx.valid):
            m.d.sync += [silence.eq(0), quiet.eq(0)]
        with m.Elif(~quiet):
            m.d.sync += [silence.eq(silence + 1), quiet.eq(silence == self.timeout_cycles - 1)]
        # the received byte waits in the receiver (its stream holds it until taken): no
        # copy here; every use of it is in the cycle it is taken
        got = self.rx.valid
        byte = self.rx.payload

        # -- datapath registers ------------------------------------------------------------
        # bytes left: LEN, a READ's count, a walk. Only as wide as max_payload needs: a
        # LEN or count above that is larger than max_payload (`big`) and is refused before
        # anything counts it down
        lw = max(8, maxp.bit_length())
        left = Signal(lw)
        big = Signal()
        rlen = Signal(range(max(maxp, len(ident), STATUS_BYTES) + 1))   # the answer's payload
        baddr = Signal(17)                          # bus word address; bit 16: walked past 0xFFFF
        pe = Signal(8)
        target = Signal(8)
        crc16 = dict(CRC16_CCITT_FALSE)
        crc = Signal(16, init=crc_register_init(**crc16))  # frame CRC, receive and transmit
        crc_bad = Signal()                          # a CRC byte received differed (Rx.CHECK)
        crc_half = Signal()                         # the next CRC byte is the low one
        sum_init = crc_register_init(**CRC32)
        csum = Signal(32, init=sum_init)            # load checksum register (value = reg ^ ~0)
        last_valid = Signal()                       # the last frame answered OK: TAG, CRC
        last_tag = Signal(8)
        last_crc = Signal(16)
        r_status = Signal(4)
        shreg = Signal(8 * db)                      # the bus word, a bit per cycle
        bitc = Signal(3)                            # bit of a byte (bit-serial instructions)
        k = Signal(4)                               # bytes left in a word (check and read walks)
        wb = Signal(4)                              # word_bytes of the frame's target
        first = Signal()
        timer = Signal(range(self.bus_timeout + 1))
        rd_pending = Signal()
        diff = Signal()
        j = Signal(2)
        loaded = Signal(init=int(self.loaded_at_reset))
        running = Signal()
        aborted = Signal()
        wd_fired = Signal()
        run_cycles = Signal(32)
        limit = Signal(32, init=self.watchdog_cycles)
        rx_errors = Signal(16)
        frames = Signal(16)
        count_error = Signal()
        start_r = Signal()
        abort_r = Signal()
        we_r = Signal()
        re_r = Signal()
        ok_r = Signal()
        wb_r = Signal(4)
        m.d.comb += [self.loaded.eq(loaded), self.start.eq(start_r), self.abort.eq(abort_r)]

        # -- the bus: every request from a register, answers registered ---------------------
        m.d.comb += [bus.addr.eq(Cat(baddr[:16], pe, target)), bus.wdata.eq(shreg),
                     bus.we.eq(we_r), bus.re.eq(re_r)]
        link_tgt = Signal()                         # a target of the link's own (0xF0-0xFF)
        m.d.comb += link_tgt.eq(target[4:8] == 0xF)
        # the word exists: the unit's addr_ok, or the link's own word, registered
        # together (the link's address compares in front of the frame buffer's
        # write data, PROBE, were the 12 x 12 systolic board top's critical
        # path): valid on the third cycle the address is stable, as addr_ok
        # registered here always was, and on the second for the link's word
        m.d.sync += [abort_r.eq(0), wb_r.eq(bus.word_bytes),
                     ok_r.eq(Mux(link_tgt, (target == LINK_TARGET) & (pe == 0) & (baddr == 0),
                                 bus.addr_ok))]
        eff_ok = ok_r
        eff_wb = Mux(link_tgt, LINK_WORD_BYTES, wb_r)
        is_data = Signal()
        m.d.comb += is_data.eq(Cat(link_tgt, *[target == t for t in self.data_targets]).any())

        # -- runs, the watchdog, counters --------------------------------------------------------
        count_r = Signal()                          # counted a cycle later (off the critical path)
        m.d.sync += count_r.eq(count_error | self.rx_error)
        with m.If(count_r & (rx_errors != 0xFFFF)):
            m.d.sync += rx_errors.eq(rx_errors + 1)
        # a run ends on registered inputs (the unit's busy may be combinational, and
        # behind it were the iCEBreaker EIE build's worst path): the cycle after the
        # unit was done and not busy, or after the watchdog's compare (in registered
        # bytes) found the run had taken `limit` cycles, without counting that cycle,
        # so run_cycles and the priority of done over the watchdog are as if decided
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
        with m.Elif(running):
            with m.If(ended):
                m.d.sync += running.eq(0)
            with m.Elif(fired):
                # the watchdog: the unit is idle within its abort latency
                m.d.sync += [abort_r.eq(1), running.eq(0), aborted.eq(1), wd_fired.eq(1)]
            with m.Else():
                m.d.sync += run_cycles.eq(run_cycles + 1)

        # -- conditions ------------------------------------------------------------------------
        # the unit's outputs, registered before the condition multiplexer (they may be
        # combinational in the unit)
        busy_r, done_r, config_ok_r = Signal(), Signal(), Signal()
        m.d.sync += [busy_r.eq(self.busy), done_r.eq(self.done), config_ok_r.eq(self.config_ok)]
        # a word the walk may not touch: registered (the walk tests it two instructions
        # after the address, `first` or `wb` last changed)
        addr_bad = Signal()
        m.d.sync += addr_bad.eq(~eff_ok | baddr[16] | (eff_wb == 0) | (eff_wb > db) |
                                (~first & (eff_wb != wb)))
        fill = Signal(8)
        # the other conditions: single signals (flags kept exact, or registered compares the
        # microprogram tests at least one instruction after their inputs last changed), so
        # the condition multiplexer is the only logic between a register and `met`
        lz = Signal(init=1)                         # left == 0, kept exact with `left`
        rz = Signal(init=1)                         # rlen == 0, kept exact with `rlen`
        late = {c: Signal(name=f"cond_{c.name.lower()}") for c in
                (Cond.OVERSIZE, Cond.TIMER_MAX, Cond.DUP, Cond.DIFF, Cond.IS_SYNC)}
        m.d.sync += [
            late[Cond.OVERSIZE].eq(big | (left > maxp)),
            late[Cond.TIMER_MAX].eq(timer == self.bus_timeout),
            late[Cond.DUP].eq(last_valid & (last_tag == rd) & (last_crc == crc)),
            late[Cond.DIFF].eq(diff | (rd != ~csum[:8])),
            late[Cond.IS_SYNC].eq(byte == SYNC_REQUEST),
        ]
        has_payload = Signal()                      # the answer carries its `rlen` bytes
        m.d.sync += has_payload.eq((r_status == Status.OK) | (r_status == Status.BAD_CHECKSUM))
        conds = {
            Cond.TRUE: 1, Cond.QUIET: quiet, Cond.LEFT0: lz, Cond.CRC_OK: ~crc_bad,
            Cond.BUSY: busy_r, Cond.LOADED: loaded, Cond.CONFIG_OK: config_ok_r,
            Cond.K0: k == 0, Cond.ADDR_BAD: addr_bad, Cond.READ_DONE: ~rd_pending,
            Cond.LINK_TARGET: link_tgt, Cond.RLEN0: ~has_payload | rz,
            **late,
        }
        assert set(conds) | set(IMPLIED_CONDS) == set(Cond)
        # the instructions that wait for the line or shift a byte bring their condition
        # with them (the assembler checks it is the one they name): the multiplexer
        # chooses among the others only
        handshake = (f["rx"] != Rx.NONE) | (f["tx"] != Tx.NONE)
        burst = (f["sh"] != Sh.HOLD) | (f["cs"] == Cs.BIT)
        cond_mux = Signal()
        with m.Switch(f["cond"]):
            for c, v in conds.items():
                with m.Case(c):
                    m.d.comb += cond_mux.eq(v)
        if self.cond_stage:
            # the choice registered in the fetch cycle: its inputs are flags kept exact
            # (the same a cycle earlier, after the instruction before acted), registered
            # compares the microprogram tests an instruction after their inputs changed,
            # or what loops poll (busy, quiet, a read's answer)
            chosen = Signal()
            with m.If(fetch):
                m.d.sync += chosen.eq(cond_mux)
        else:
            chosen = cond_mux
        cond = Signal()
        m.d.comb += cond.eq(Mux(handshake, Mux(f["rx"] != Rx.NONE, got, self.tx.ready),
                                Mux(burst, bitc == 6, chosen)))
        met = Signal()                              # the condition, registered in the first cycle
        # the fields of an instruction that act, in its second cycle: the instruction's own
        # fields (the block RAM's output holds them for both cycles), gated by one
        # flip-flop, set in the first cycle if it acts (ST_KEEP / 0 = nothing)
        idle = {"st": ST_KEEP}
        # an instruction that waits for the line acts when its byte comes or goes (its
        # condition is GOT or TX_READY): no need to wait for the condition multiplexer
        go_next = (~handshake | ((f["rx"] != Rx.NONE) & got) |
                   ((f["tx"] != Tx.NONE) & self.tx.ready))
        acts = Signal()
        m.d.sync += acts.eq(evaluate & go_next)
        x = {name: Mux(acts, f[name], idle.get(name, 0)) for name, w in FIELDS
             if name in ("bp", "rlen", "ld", "rx", "tx", "st", "wsrc", "cs", "pulse", "dec")}
        with m.If(evaluate):
            m.d.sync += met.eq(cond ^ f["inv"])
        act = Signal()                              # a bit-serial instruction's actions happen
        mode = f["mode"]
        # bit-serial instructions shift in both cycles: a bit per cycle, their exit
        # condition (BIT7) looks one bit ahead
        m.d.comb += act.eq(burst & (evaluate | execute))
        # a byte received is taken by the instruction waiting for it, or dropped
        m.d.comb += self.rx.ready.eq(execute & Mux(f["rx"] == Rx.NONE, ~f["keep"], met))

        # -- next micro-instruction: whether to jump is chosen in the first cycle and
        #    registered; the target comes from the instruction (held for both cycles) in
        #    the second (DISPATCH reads CMD from the buffer, stable since the instruction
        #    before)
        idx = Mux(rd[4:] == 0, rd[:4], 0)
        take = Signal()                             # go to `jump` (else next or stay)
        dispatch = mode == Mode.DISPATCH
        with m.If(evaluate):
            rxto = f["rx"][1] & ~cond & quiet      # Rx.STORE or Rx.CHECK: inside a frame
            m.d.sync += take.eq(dispatch | (cond ^ f["inv"]) | rxto)
        # `met` is low when the jump is the inter-byte timeout's
        jump = Mux(dispatch, Cat(idx, f["to"][4:]), Mux(met, f["to"], self.rx_timeout_addr))
        step = mode == Mode.STEP
        # (npc is used in the second cycle and in reset, when `take` and `execute` are low
        # and pc is 0: the block RAM reads instruction 0)
        with m.If(take):
            m.d.comb += npc.eq(jump)
        with m.Elif(step & execute):
            m.d.comb += npc.eq(pc + 1)
        with m.Else():
            m.d.comb += npc.eq(pc)

        # -- actions: one enable per register, decoded from the micro-instruction ----------
        def on(field, *values):
            return Cat(*[x[field] == v for v in values]).any()

        # the buffer byte's bit for the next bit-serial cycle, registered (the byte is
        # stable from the instruction before a bit-serial one)
        data_bit = Signal()
        m.d.sync += data_bit.eq(rd.bit_select(Mux(act, bitc + 1, bitc)[:3], 1))
        # the values the fields choose come straight from the instruction (they matter
        # only when a gated enable below says so)
        ld = Mux(f["rx"] != Rx.NONE, byte, rd)     # what a byte load takes
        rx_on = x["rx"] == Rx.STORE
        pulse = {p: on("pulse", p) for p in Pulse if p != Pulse.NONE}

        # buffer pointer
        bp_set = Signal.like(bp)
        with m.Switch(f["bp"]):
            for v, to in ((Bp.ZERO, 0), (Bp.ONE, 1), (Bp.TWO, 2), (Bp.PAY, PAY),
                          (Bp.IDENT, id_base)):
                with m.Case(v):
                    m.d.comb += bp_set.eq(to)
        bp_inc = rx_on | on("bp", Bp.INC)
        with m.If(bp_inc):
            m.d.sync += bp.eq(bp + 1)
        with m.Elif(x["bp"] > Bp.INC):
            m.d.sync += bp.eq(bp_set)
        # answer length
        rlen_set = Signal.like(rlen)
        with m.Switch(f["rlen"]):
            for v, n in ((Rlen.STATUS, STATUS_BYTES), (Rlen.PROBE, PROBE_BYTES), (Rlen.FOUR, 4),
                         (Rlen.IDENT, len(ident))):
                with m.Case(v):
                    m.d.comb += rlen_set.eq(n)
            with m.Case(Rlen.LEFT):
                m.d.comb += rlen_set.eq(left)
        with m.If(on("rlen", Rlen.DEC)):
            m.d.sync += [rlen.eq(rlen - 1), rz.eq(rlen == 1)]
        with m.Elif(x["rlen"] > Rlen.DEC):
            m.d.sync += [rlen.eq(rlen_set), rz.eq(Mux(f["rlen"] == Rlen.LEFT, lz,
                                                      f["rlen"] == Rlen.ZERO))]
        # bytes loaded from the line or the buffer; counters of a walk
        with m.If(on("ld", Ld.WORD_LO)):
            m.d.sync += [baddr[:8].eq(ld), baddr[16].eq(0)]
        with m.Elif(on("ld", Ld.WORD_HI)):
            m.d.sync += baddr[8:16].eq(ld)
        with m.Elif(pulse[Pulse.NEXT_WORD]):
            m.d.sync += baddr.eq(baddr + 1)
        with m.If(on("ld", Ld.PE)):
            m.d.sync += pe.eq(ld)
        with m.If(on("ld", Ld.TARGET)):
            m.d.sync += target.eq(ld)
        dec = x["dec"]
        with m.If(on("ld", Ld.LEFT_LO)):
            m.d.sync += [left[:8].eq(ld), lz.eq((ld == 0) & (left[8:] == 0) & ~big)]
        with m.Elif(on("ld", Ld.LEFT_HI)):
            m.d.sync += [left[8:].eq(ld), big.eq(ld[lw - 8:] != 0),
                         lz.eq((ld == 0) & (left[:8] == 0))]
        with m.Elif(dec):
            m.d.sync += [left.eq(left - 1), lz.eq(left == 1)]
        with m.If(pulse[Pulse.LATCH_WB]):
            m.d.sync += [wb.eq(eff_wb), k.eq(eff_wb)]
        with m.Elif(pulse[Pulse.RE] | pulse[Pulse.WALK]):
            m.d.sync += k.eq(wb)
        with m.Elif(dec):
            m.d.sync += k.eq(k - 1)
        with m.If(pulse[Pulse.WALK]):
            m.d.sync += first.eq(1)
        with m.Elif(pulse[Pulse.LATCH_WB]):
            m.d.sync += first.eq(0)
        with m.If(on("ld", Ld.LAST) & (r_status == Status.OK)):
            m.d.sync += [last_valid.eq(1), last_tag.eq(ld), last_crc.eq(crc)]
        # the received byte goes into the buffer (written below) and the frame CRC;
        # a sent byte into the answer's CRC. The frame's own CRC bytes are compared
        # with the register instead (high byte first), which then still holds the
        # frame's CRC when DUP and LAST look at it
        with m.If(pulse[Pulse.CRC_INIT]):
            m.d.sync += [crc_bad.eq(0), crc_half.eq(0)]
        with m.Elif(x["rx"] == Rx.CHECK):
            m.d.sync += [crc_half.eq(1),
                         crc_bad.eq(crc_bad | (byte != Mux(crc_half, crc[:8], crc[8:])))]
        # the byte enters the CRC a cycle after its instruction acts, from a register
        # (the answer's byte multiplexer in front of the CRC's XORs was the link's
        # longest path): the next instruction to look at the CRC acts two or more
        # cycles later
        crc_in = Signal(8)
        crc_upd = Signal()
        m.d.sync += [crc_in.eq(Mux(f["rx"] != Rx.NONE, byte, self.tx.payload)),
                     crc_upd.eq(rx_on | on("tx", Tx.BUF, Tx.STATUS, Tx.RLEN_LO, Tx.RLEN_HI,
                                           Tx.CRC_HI))]
        with m.If(pulse[Pulse.CRC_INIT] | on("tx", Tx.SYNC)):
            m.d.sync += crc.eq(crc_register_init(**crc16))
        with m.Elif(crc_upd):
            # (sending its high byte leaves the CRC's low byte in the high byte, and
            # that is what CRC_LO sends)
            m.d.sync += crc.eq(crc_next(crc, crc_in, **crc16))
        with m.If(x["st"] != ST_KEEP):
            m.d.sync += r_status.eq(f["st"])
        # bytes written from the link's registers (STATUS, COMMIT, PROBE, READ)
        fill_on = x["wsrc"] != Wsrc.NONE
        m.d.comb += [wp.en.eq(rx_on | fill_on), wp.data.eq(Mux(f["rx"] != Rx.NONE, byte, fill))]
        with m.If(pulse[Pulse.DIFF_CLR]):
            m.d.sync += diff.eq(0)
        with m.Elif(on("wsrc", Wsrc.CHECKSUM) & (rd != ~csum[:8])):
            m.d.sync += diff.eq(1)
        with m.If(on("wsrc", Wsrc.RUN, Wsrc.COUNTERS)):
            m.d.sync += j.eq(j + 1)
        # the bus word: a read's answer, or a bit per cycle
        capture = rd_pending & bus.rvalid
        shift = act & f["sh"][1]                    # Sh.DATA or Sh.ZERO
        # a shift moves the word's wb bytes right a bit, takes the new bit in at the top of
        # byte wb - 1 and clears the bytes above: after 8 x wb shifts the word is aligned
        shifted = []
        in_bit = data_bit & ~f["sh"][0]
        for b in range(db):
            keep_b = b < wb                         # byte b is part of the word
            top_b = b == wb - 1                     # the new bit enters at its bit 7
            nxt = shreg[8 * b + 8] if b + 1 < db else 0
            shifted += [Mux(keep_b, shreg[8 * b + i + 1], 0) for i in range(7)]
            shifted.append(Mux(keep_b, Mux(top_b, in_bit, nxt), 0))
        with m.If(capture | shift):
            m.d.sync += shreg.eq(Mux(capture, bus.rdata, Cat(*shifted)))
        with m.If(pulse[Pulse.RE]):
            m.d.sync += rd_pending.eq(1)
        with m.Elif(capture):
            m.d.sync += rd_pending.eq(0)
        # the load checksum: a bit per cycle; a byte rotation to be read
        cs_bit = act & (f["cs"] == Cs.BIT)
        cs_rot = on("wsrc", Wsrc.CHECKSUM)
        with m.If(on("cs", Cs.INIT)):
            m.d.sync += csum.eq(sum_init)
        with m.Elif(cs_bit | cs_rot):
            m.d.sync += csum.eq(Mux(cs_bit, crc_next_bit(csum, data_bit, **CRC32),
                                    Cat(csum[8:], csum[:8])))
        with m.If(pulse[Pulse.WALK]):
            m.d.sync += bitc.eq(0)
        with m.Elif(shift | cs_bit):
            m.d.sync += bitc.eq(bitc + 1)
        # the watchdog register: written over the bus (as the link's target), rotated to
        # be read
        lim_ld = pulse[Pulse.WE] & link_tgt
        lim_rot = on("wsrc", Wsrc.WATCHDOG)
        with m.If(lim_ld | lim_rot):
            m.d.sync += limit.eq(Mux(lim_ld, shreg[:32], Cat(limit[8:], limit[:8])))
        # timer: cycles since RE or ABORT (saturates)
        with m.If(pulse[Pulse.RE] | pulse[Pulse.ABORT]):
            m.d.sync += timer.eq(0)
        with m.Elif(timer != self.bus_timeout):
            m.d.sync += timer.eq(timer + 1)
        # one-cycle pulses to the bus and the unit; flags
        m.d.sync += [we_r.eq(pulse[Pulse.WE] & ~link_tgt), re_r.eq(pulse[Pulse.RE]),
                     start_r.eq(pulse[Pulse.START])]
        m.d.comb += count_error.eq(pulse[Pulse.ERROR])
        frame_r = Signal()
        m.d.sync += frame_r.eq(pulse[Pulse.FRAME])
        with m.If(frame_r):
            m.d.sync += frames.eq(frames + 1)
        with m.If(pulse[Pulse.LOADED]):
            m.d.sync += loaded.eq(1)
        with m.Elif(pulse[Pulse.UNLOAD] | (pulse[Pulse.UNLOAD_MODEL] & ~is_data)):
            m.d.sync += loaded.eq(0)
        with m.If(pulse[Pulse.ABORT]):
            m.d.sync += [abort_r.eq(1), running.eq(0), aborted.eq(aborted | running)]

        # -- bytes the link writes into the buffer; bytes it sends ----------------------------
        flags = Cat(loaded, busy_r, done_r, running, aborted, wd_fired)
        with m.Switch(f["wsrc"]):
            with m.Case(Wsrc.SHREG):
                m.d.comb += fill.eq(shreg[:8])
            with m.Case(Wsrc.FLAGS):
                m.d.comb += fill.eq(flags)
            with m.Case(Wsrc.CHECKSUM):
                m.d.comb += fill.eq(~csum[:8])          # CRC-32's xorout
            with m.Case(Wsrc.WATCHDOG):
                m.d.comb += fill.eq(limit[:8])
            with m.Case(Wsrc.PROBE_WB):
                m.d.comb += fill.eq(eff_wb)
            with m.Case(Wsrc.PROBE_OK):
                m.d.comb += fill.eq(eff_ok)
            with m.Case(Wsrc.RUN):
                m.d.comb += fill.eq(run_cycles.word_select(j, 8))
            with m.Case(Wsrc.COUNTERS):
                m.d.comb += fill.eq(Cat(rx_errors, frames).word_select(j, 8))
        m.d.comb += self.tx.valid.eq(x["tx"] != Tx.NONE)
        with m.Switch(f["tx"]):                     # the byte matters only while valid
            with m.Case(Tx.SYNC):
                m.d.comb += self.tx.payload.eq(SYNC_RESPONSE)
            with m.Case(Tx.BUF):
                m.d.comb += self.tx.payload.eq(rd)
            with m.Case(Tx.STATUS):
                m.d.comb += self.tx.payload.eq(r_status)
            with m.Case(Tx.RLEN_LO):
                m.d.comb += self.tx.payload.eq(Mux(has_payload, rlen[:8], 0))
            with m.Case(Tx.RLEN_HI):
                m.d.comb += self.tx.payload.eq(Mux(has_payload, rlen[8:], 0))
            with m.Case(Tx.CRC_HI, Tx.CRC_LO):
                m.d.comb += self.tx.payload.eq(crc[8:])
        return m


class HostLink(wiring.Component):
    """LinkCore behind an 8N1 UART: what a board top-level instantiates.

    Parameters: `design`, `params` (IDENTIFY data), `clocks_per_bit`
    (clock frequency / baud rate), `timeout_bits` (inter-byte timeout in bit
    times), and LinkCore's `max_payload`, `data_targets`,
    `loaded_at_reset`, `bus_timeout`, `watchdog_cycles`, `data_bytes`,
    `code_latency`, `cond_stage`.

    Ports: `rx` (UART pin in, idles high), `tx` (UART pin out), `bus`,
    `start`, `abort`, `busy`, `done`, `config_ok`, `loaded` (as LinkCore)."""

    def __init__(self, *, design, params, clocks_per_bit, timeout_bits=DEFAULT_TIMEOUT_BITS,
                 max_payload=DEFAULT_MAX_PAYLOAD, data_targets=(), loaded_at_reset=False,
                 bus_timeout=255, watchdog_cycles=DEFAULT_WATCHDOG_CYCLES, data_bytes=8,
                 code_latency=1, cond_stage=False):
        self.clocks_per_bit, self.timeout_bits = clocks_per_bit, timeout_bits
        self.uart_rx = UARTRx(clocks_per_bit)
        self.uart_tx = UARTTx(clocks_per_bit)
        self.core = LinkCore(design=design, params=params,
                             timeout_cycles=timeout_bits * clocks_per_bit,
                             max_payload=max_payload, data_targets=data_targets,
                             loaded_at_reset=loaded_at_reset, bus_timeout=bus_timeout,
                             watchdog_cycles=watchdog_cycles, data_bytes=data_bytes,
                             code_latency=code_latency, cond_stage=cond_stage,
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
