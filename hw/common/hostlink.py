"""The host link: framed commands from the host's UART to the unit's host bus.

    uart rx ─ UARTRx ─┐                       ┌─ host bus (initiator) ─> unit memories/registers
                      LinkCore ──────────────┼─ start ──> unit       (RUN)
    uart tx ─ UARTTx ─┘  │ payload buffer    └─ busy, done <── unit  (STATUS, RUN checks)
                         │ identify ROM
                         └ loaded ──> (LED)

The protocol (frame layout, commands, status codes, the load/commit/run
rules, timeouts) is specified in docs/host-link.md and implemented on the
host side by eiegen.sw.link. In short, LinkCore:

- hunts for the request SYNC byte, takes the 8 header bytes, LEN payload
  bytes into the payload buffer (a lib.memory.Memory) and 2 CRC bytes; only
  then, if the CRC-16 of the frame checks, it executes the frame. A frame
  whose bytes stop arriving for `timeout_cycles` is answered TIMEOUT; a
  frame with a wrong CRC is answered BAD_CRC and the receiver then ignores
  the line until it has been quiet for `timeout_cycles`; a LEN larger than
  the buffer is answered BAD_LENGTH once the line is quiet. None of these
  changes anything.
- checks every word a WRITE or READ touches (addr_ok, word_bytes, whole
  words) before the first bus access: a refused frame changes nothing.
- keeps the load checksum (CRC-32 of every executed WRITE since BEGIN) and
  the `loaded` flag: BEGIN and any WRITE to a non-data target clear it,
  COMMIT with the matching checksum sets it, RUN is refused without it.
- answers a retransmission (same TAG and CRC as the last frame it executed
  with status OK) of a WRITE or RUN with OK without doing it again.

HostLink wraps LinkCore with the UART; the board top-level instantiates it:

    link = HostLink(design="eie", params={...}, clocks_per_bit=clk_freq // baud)
    connect(m, link.bus, unit.bus)              # or wire by hand
    m.d.comb += [unit.start.eq(link.start), link.busy.eq(unit.busy),
                 link.done.eq(unit.done), link.rx.eq(uart.rx.i), uart.tx.o.eq(link.tx)]
"""

from amaranth import Module, Signal, Cat, Const, Mux
from amaranth.lib import wiring, stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out, connect

from .hostbus import HostBusSignature
from .crc import crc_next, crc_register_init, CRC16_CCITT_FALSE, CRC32
from .idrom import IdentifyROM
from .uart import UARTRx, UARTTx
from ...sw.link.protocol import (SYNC_REQUEST, SYNC_RESPONSE, Cmd, Status, STATUS_BYTES,
                                 DEFAULT_MAX_PAYLOAD, MIN_MAX_PAYLOAD, DEFAULT_TIMEOUT_BITS,
                                 PROBE_BYTES)

__all__ = ["LinkCore", "HostLink"]

_SRC_BUF, _SRC_ROM, _SRC_SMALL = 0, 1, 2


class LinkCore(wiring.Component):
    """The byte-level host link.

    Parameters: `design` (tag), `params` (dict of the unit's generator
    parameters, small non-negative integers, for IDENTIFY), `timeout_cycles`
    (inter-byte timeout), `max_payload` (payload buffer bytes), `link_info`
    (extra link fields for IDENTIFY), `data_targets` (targets whose writes
    do not clear `loaded`: inputs, outputs, control registers),
    `loaded_at_reset` (the memories come up holding a model, e.g. baked into
    the bitstream), `bus_timeout` (cycles to wait for rvalid).

    Ports: `rx` (received bytes; always ready), `rx_error` (a UART error
    pulse, counted), `tx` (bytes to send), `bus` (host-bus initiator),
    `start` (one-cycle pulse on RUN), `busy`, `done` (from the unit),
    `loaded` (the flag)."""

    def __init__(self, *, design, params, timeout_cycles, max_payload=DEFAULT_MAX_PAYLOAD,
                 link_info=None, data_targets=(), loaded_at_reset=False, bus_timeout=255):
        if not isinstance(max_payload, int) or not MIN_MAX_PAYLOAD <= max_payload <= 0xFFFF:
            raise ValueError(f"max_payload must be an integer in [{MIN_MAX_PAYLOAD}, 65535], "
                             f"got {max_payload!r}")
        if not isinstance(timeout_cycles, int) or timeout_cycles < 16:
            raise ValueError(f"timeout_cycles must be an integer >= 16, got {timeout_cycles!r}")
        for t in data_targets:
            if not isinstance(t, int) or not 0 <= t <= 0xFF:
                raise ValueError(f"data target {t!r} is not a target id in [0, 255]")
        self.design, self.params = design, dict(params)
        self.timeout_cycles, self.max_payload = timeout_cycles, max_payload
        self.data_targets = tuple(sorted(set(data_targets)))
        self.loaded_at_reset, self.bus_timeout = bool(loaded_at_reset), bus_timeout
        self.link_info = {"max_payload": max_payload, "timeout_cycles": timeout_cycles,
                          **dict(link_info or {})}
        self.idrom = IdentifyROM(design, self.params, self.link_info)
        super().__init__({
            "rx": In(stream.Signature(8)),
            "rx_error": In(1),
            "tx": Out(stream.Signature(8)),
            "bus": Out(HostBusSignature()),
            "start": Out(1),
            "busy": In(1),
            "done": In(1),
            "loaded": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        maxp = self.max_payload

        # -- payload buffer, identify ROM, CRCs ---------------------------------------------
        m.submodules.buffer = buf = Memory(shape=8, depth=maxp, init=[])
        wp = buf.write_port()
        rp = buf.read_port()
        m.submodules.idrom = rom = self.idrom

        crc16 = dict(CRC16_CCITT_FALSE)
        crc_in = Signal(16, init=crc_register_init(**crc16))      # receive: frame CRC
        crc_out = Signal(16, init=crc_register_init(**crc16))     # transmit: response CRC
        sum_init = crc_register_init(**CRC32)
        sum_run = Signal(32, init=sum_init)      # load checksum register (value = reg ^ ~0)
        sum_cand = Signal(32)                    # ... continued over the frame being received
        checksum = Signal(32)
        m.d.comb += checksum.eq(sum_run ^ CRC32["xorout"])

        # -- line silence ------------------------------------------------------------------
        silence = Signal(range(self.timeout_cycles + 1))
        quiet = Signal()
        m.d.comb += [self.rx.ready.eq(1), quiet.eq(silence == self.timeout_cycles)]
        with m.If(self.rx.valid):
            m.d.sync += silence.eq(0)
        with m.Elif(~quiet):
            m.d.sync += silence.eq(silence + 1)
        byte = self.rx.payload
        got = self.rx.valid

        # -- frame registers ---------------------------------------------------------------
        cmd = Signal(8)
        tag = Signal(8)
        addr = Signal(32)
        length = Signal(16)
        arg = Signal(32)
        crc_rx = Signal(16)
        idx = Signal(16)
        target, pe, word0 = addr[24:32], addr[16:24], addr[0:16]

        # retransmission detection: the last frame executed with status OK
        last_valid = Signal()
        last_tag = Signal(8)
        last_crc = Signal(16)
        dup = Signal()
        m.d.comb += dup.eq(last_valid & (last_tag == tag) & (last_crc == crc_rx))

        # flags and counters
        loaded = Signal(init=int(self.loaded_at_reset))
        running = Signal()
        run_cycles = Signal(32)
        rx_errors = Signal(16)
        frames = Signal(16)
        count_error = Signal()
        m.d.comb += self.loaded.eq(loaded)
        with m.If((count_error | self.rx_error) & (rx_errors != 0xFFFF)):
            m.d.sync += rx_errors.eq(rx_errors + 1)
        with m.If(self.start):
            m.d.sync += [running.eq(1), run_cycles.eq(0)]
        with m.Elif(running):
            m.d.sync += run_cycles.eq(run_cycles + 1)
            with m.If(self.done & ~self.busy):
                m.d.sync += running.eq(0)

        is_data = Signal()
        if self.data_targets:
            m.d.comb += is_data.eq(Cat(*[target == t for t in self.data_targets]).any())

        # -- word walking (address check, write, read) -------------------------------------
        nbytes = Signal(16)          # bytes the WRITE/READ covers
        wi = Signal(17)              # word index inside the frame
        wordaddr = Signal(17)
        m.d.comb += wordaddr.eq(word0 + wi)
        bcount = Signal(17)          # bytes covered by the words checked so far
        wb = Signal(4)               # word_bytes of the target (latched on the first word)
        bp = Signal(16)              # buffer byte pointer
        k = Signal(3)                # byte inside the word
        wword = Signal(64)
        rword = Signal(64)
        is_read = Signal()
        btimer = Signal(range(self.bus_timeout + 1))
        m.d.comb += bus.addr.eq(Cat(wordaddr[:16], pe, target))

        # -- response registers ------------------------------------------------------------
        r_status = Signal(8)
        r_len = Signal(16)
        r_src = Signal(2)
        small = Signal(8 * max(STATUS_BYTES, 4, PROBE_BYTES))
        tidx = Signal(3)
        pidx = Signal(16)
        discard_after = Signal()

        def respond(status, n=0, src=_SRC_BUF, discard=False):
            m.d.sync += [r_status.eq(status), r_len.eq(n), r_src.eq(src), tidx.eq(0),
                         discard_after.eq(discard)]
            m.next = "TX_HDR"

        def ok(n=0, src=_SRC_BUF):
            respond(Status.OK, n, src)

        # buffer ports (muxed by state below)
        m.d.comb += [wp.addr.eq(idx), wp.data.eq(byte), rp.addr.eq(bp), rom.addr.eq(pidx)]

        with m.FSM(name="link"):
            # ---- receive --------------------------------------------------------------
            with m.State("HUNT"):
                with m.If(got & (byte == SYNC_REQUEST)):
                    m.d.sync += [idx.eq(0), crc_in.eq(crc_register_init(**crc16)),
                                 sum_cand.eq(sum_run), cmd.eq(0), tag.eq(0), arg.eq(0), wi.eq(0)]
                    m.next = "HDR"
            with m.State("HDR"):
                with m.If(got):
                    m.d.sync += [crc_in.eq(crc_next(crc_in, byte, **crc16)), idx.eq(idx + 1)]
                    with m.If(idx >= 2):
                        m.d.sync += sum_cand.eq(crc_next(sum_cand, byte, **CRC32))
                    with m.Switch(idx):
                        with m.Case(0):
                            m.d.sync += cmd.eq(byte)
                        with m.Case(1):
                            m.d.sync += tag.eq(byte)
                        for i in range(4):
                            with m.Case(2 + i):
                                m.d.sync += addr.word_select(i, 8).eq(byte)
                        with m.Case(6):
                            m.d.sync += length[:8].eq(byte)
                        with m.Case(7):
                            m.d.sync += [length[8:].eq(byte), idx.eq(0)]
                            newlen = Cat(length[:8], byte)
                            with m.If(newlen > maxp):
                                m.next = "OVERSIZE"
                            with m.Elif(newlen == 0):
                                m.next = "CRC"
                            with m.Else():
                                m.next = "PAYLOAD"
                with m.Elif(quiet):
                    m.d.comb += count_error.eq(1)
                    respond(Status.TIMEOUT)
            with m.State("PAYLOAD"):
                m.d.comb += wp.en.eq(got)
                with m.If(got):
                    m.d.sync += [crc_in.eq(crc_next(crc_in, byte, **crc16)),
                                 sum_cand.eq(crc_next(sum_cand, byte, **CRC32)), idx.eq(idx + 1)]
                    with m.If(idx < 4):
                        m.d.sync += arg.word_select(idx[:2], 8).eq(byte)
                    with m.If(idx == length - 1):
                        m.d.sync += idx.eq(0)
                        m.next = "CRC"
                with m.Elif(quiet):
                    m.d.comb += count_error.eq(1)
                    respond(Status.TIMEOUT)
            with m.State("CRC"):
                with m.If(got):
                    m.d.sync += [crc_in.eq(crc_next(crc_in, byte, **crc16)), idx.eq(idx + 1)]
                    with m.If(idx == 0):
                        m.d.sync += crc_rx[8:].eq(byte)
                    with m.Else():
                        m.d.sync += crc_rx[:8].eq(byte)
                        m.next = "CHECK"
                with m.Elif(quiet):
                    m.d.comb += count_error.eq(1)
                    respond(Status.TIMEOUT)
            with m.State("CHECK"):
                with m.If(crc_in == 0):
                    m.d.sync += frames.eq(frames + 1)
                    m.next = "EXEC"
                with m.Else():
                    m.d.comb += count_error.eq(1)
                    respond(Status.BAD_CRC, discard=True)
            with m.State("OVERSIZE"):
                with m.If(quiet):
                    m.d.comb += count_error.eq(1)
                    respond(Status.BAD_LENGTH)
            with m.State("DISCARD"):
                with m.If(quiet):
                    m.next = "HUNT"

            # ---- execute --------------------------------------------------------------
            with m.State("EXEC"):
                m.d.sync += [bcount.eq(0), bp.eq(0), k.eq(0), wword.eq(0)]    # wi = 0 since HUNT
                with m.Switch(cmd):
                    with m.Case(Cmd.IDENTIFY):
                        with m.If(length != 0):
                            respond(Status.BAD_LENGTH)
                        with m.Else():
                            ok(self.idrom.length, _SRC_ROM)
                    with m.Case(Cmd.PROBE):
                        with m.If(length != 0):
                            respond(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += small.eq(Cat(bus.word_bytes, Const(0, 4), bus.addr_ok))
                            ok(PROBE_BYTES, _SRC_SMALL)
                    with m.Case(Cmd.WRITE):
                        with m.If(dup):
                            ok()
                        with m.Elif(self.busy):
                            respond(Status.BUSY)
                        with m.Else():
                            m.d.sync += [nbytes.eq(length), is_read.eq(0)]
                            m.next = "ADDR_CHECK"
                    with m.Case(Cmd.READ):
                        with m.If((length != 2) | (arg[:16] == 0) | (arg[:16] > maxp)):
                            respond(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += [nbytes.eq(arg[:16]), is_read.eq(1)]
                            m.next = "ADDR_CHECK"
                    with m.Case(Cmd.BEGIN):
                        with m.If(length != 0):
                            respond(Status.BAD_LENGTH)
                        with m.Elif(self.busy):
                            respond(Status.BUSY)
                        with m.Else():
                            m.d.sync += [sum_run.eq(sum_init), loaded.eq(0)]
                            ok()
                    with m.Case(Cmd.COMMIT):
                        m.d.sync += small.eq(checksum)
                        with m.If(length != 4):
                            respond(Status.BAD_LENGTH)
                        with m.Elif(self.busy):
                            respond(Status.BUSY)
                        with m.Elif(arg == checksum):
                            m.d.sync += loaded.eq(1)
                            ok(4, _SRC_SMALL)
                        with m.Else():
                            respond(Status.BAD_CHECKSUM, 4, _SRC_SMALL)
                    with m.Case(Cmd.RUN):
                        with m.If(length != 0):
                            respond(Status.BAD_LENGTH)
                        with m.Elif(dup):
                            ok()
                        with m.Elif(self.busy):
                            respond(Status.BUSY)
                        with m.Elif(~loaded):
                            respond(Status.NOT_LOADED)
                        with m.Else():
                            m.d.comb += self.start.eq(1)
                            ok()
                    with m.Case(Cmd.STATUS):
                        with m.If(length != 0):
                            respond(Status.BAD_LENGTH)
                        with m.Else():
                            flags = Cat(loaded, self.busy, self.done, running, Const(0, 4))
                            m.d.sync += small.eq(Cat(flags, checksum, run_cycles, rx_errors, frames))
                            ok(STATUS_BYTES, _SRC_SMALL)
                    with m.Default():
                        respond(Status.BAD_COMMAND)

            # every word of the frame must exist before anything is touched
            with m.State("ADDR_CHECK"):
                cur_wb = Signal(4)
                m.d.comb += cur_wb.eq(Mux(wi == 0, bus.word_bytes, wb))
                nxt = Signal(17)
                m.d.comb += nxt.eq(bcount + cur_wb)
                with m.If(wi == 0):
                    m.d.sync += wb.eq(bus.word_bytes)
                with m.If(~bus.addr_ok | wordaddr[16] | (cur_wb == 0) | (cur_wb > 8)):
                    respond(Status.BAD_ADDRESS)
                with m.Else():
                    m.d.sync += [bcount.eq(nxt), wi.eq(wi + 1)]
                    with m.If(nxt >= nbytes):
                        m.d.sync += wi.eq(0)
                        with m.If(nxt != nbytes):
                            respond(Status.BAD_LENGTH)
                        with m.Elif(is_read):
                            m.next = "RD_REQ"
                        with m.Else():
                            m.next = "WR_FETCH"

            # WRITE: bytes from the buffer into words, one `we` cycle per word
            with m.State("WR_FETCH"):
                m.next = "WR_BYTE"                       # rp.addr = bp; data next cycle
            with m.State("WR_BYTE"):
                m.d.sync += [wword.word_select(k, 8).eq(rp.data), bp.eq(bp + 1), k.eq(k + 1)]
                with m.If(k == wb - 1):
                    m.next = "WR_WE"
                with m.Else():
                    m.next = "WR_FETCH"
            with m.State("WR_WE"):
                m.d.comb += [bus.we.eq(1), bus.wdata.eq(wword)]
                m.d.sync += [wi.eq(wi + 1), k.eq(0), wword.eq(0)]
                with m.If(bp == nbytes):
                    m.d.sync += sum_run.eq(sum_cand)
                    with m.If(~is_data):
                        m.d.sync += loaded.eq(0)
                    ok()
                with m.Else():
                    m.next = "WR_FETCH"

            # READ: one read in flight, bytes of each word into the buffer
            with m.State("RD_REQ"):
                m.d.comb += bus.re.eq(1)
                m.d.sync += btimer.eq(0)
                m.next = "RD_WAIT"
            with m.State("RD_WAIT"):
                with m.If(bus.rvalid):
                    m.d.sync += [rword.eq(bus.rdata), k.eq(0)]
                    m.next = "RD_STORE"
                with m.Elif(btimer == self.bus_timeout):
                    respond(Status.BUS_ERROR)
                with m.Else():
                    m.d.sync += btimer.eq(btimer + 1)
            with m.State("RD_STORE"):
                m.d.comb += [wp.addr.eq(bp), wp.data.eq(rword.word_select(k, 8)), wp.en.eq(1)]
                m.d.sync += [bp.eq(bp + 1), k.eq(k + 1)]
                with m.If(k == wb - 1):
                    m.d.sync += wi.eq(wi + 1)
                    with m.If(bp + 1 == nbytes):
                        ok(nbytes, _SRC_BUF)
                    with m.Else():
                        m.next = "RD_REQ"

            # ---- transmit -------------------------------------------------------------
            with m.State("TX_HDR"):
                hdr = Signal(8)
                with m.Switch(tidx):
                    with m.Case(0):
                        m.d.comb += hdr.eq(SYNC_RESPONSE)
                    with m.Case(1):
                        m.d.comb += hdr.eq(cmd)
                    with m.Case(2):
                        m.d.comb += hdr.eq(tag)
                    with m.Case(3):
                        m.d.comb += hdr.eq(r_status)
                    with m.Case(4):
                        m.d.comb += hdr.eq(r_len[:8])
                    with m.Case(5):
                        m.d.comb += hdr.eq(r_len[8:])
                m.d.comb += [self.tx.payload.eq(hdr), self.tx.valid.eq(1)]
                with m.If(self.tx.ready):
                    m.d.sync += tidx.eq(tidx + 1)
                    with m.If(tidx == 0):
                        m.d.sync += crc_out.eq(crc_register_init(**crc16))
                        # an OK answer to a checked frame: remember it for retransmissions
                        with m.If(r_status == Status.OK):
                            m.d.sync += [last_valid.eq(1), last_tag.eq(tag), last_crc.eq(crc_rx)]
                    with m.Else():
                        m.d.sync += crc_out.eq(crc_next(crc_out, hdr, **crc16))
                    with m.If(tidx == 5):
                        m.d.sync += [pidx.eq(0), tidx.eq(0)]
                        with m.If(r_len == 0):
                            m.next = "TX_CRC"
                        with m.Else():
                            m.next = "TX_FETCH"
            with m.State("TX_FETCH"):
                m.d.comb += rp.addr.eq(pidx)
                m.next = "TX_DATA"
            with m.State("TX_DATA"):
                m.d.comb += rp.addr.eq(pidx)
                pbyte = Signal(8)
                with m.Switch(r_src):
                    with m.Case(_SRC_BUF):
                        m.d.comb += pbyte.eq(rp.data)
                    with m.Case(_SRC_ROM):
                        m.d.comb += pbyte.eq(rom.data)
                    with m.Case(_SRC_SMALL):
                        m.d.comb += pbyte.eq(small.word_select(pidx[:4], 8))
                m.d.comb += [self.tx.payload.eq(pbyte), self.tx.valid.eq(1)]
                with m.If(self.tx.ready):
                    m.d.sync += [crc_out.eq(crc_next(crc_out, pbyte, **crc16)), pidx.eq(pidx + 1)]
                    with m.If(pidx == r_len - 1):
                        m.next = "TX_CRC"
                    with m.Else():
                        m.next = "TX_FETCH"
            with m.State("TX_CRC"):
                m.d.comb += [self.tx.payload.eq(Mux(tidx == 0, crc_out[8:], crc_out[:8])),
                             self.tx.valid.eq(1)]
                with m.If(self.tx.ready):
                    m.d.sync += tidx.eq(tidx + 1)
                    with m.If(tidx == 1):
                        with m.If(discard_after):
                            m.next = "DISCARD"
                        with m.Else():
                            m.next = "HUNT"
        return m


class HostLink(wiring.Component):
    """LinkCore behind an 8N1 UART: what a board top-level instantiates.

    Parameters: `design`, `params` (IDENTIFY data), `clocks_per_bit`
    (clock frequency / baud rate), `timeout_bits` (inter-byte timeout in bit
    times), and LinkCore's `max_payload`, `data_targets`,
    `loaded_at_reset`, `bus_timeout`.

    Ports: `rx` (UART pin in, idles high), `tx` (UART pin out), `bus`,
    `start`, `busy`, `done`, `loaded` (as LinkCore)."""

    def __init__(self, *, design, params, clocks_per_bit, timeout_bits=DEFAULT_TIMEOUT_BITS,
                 max_payload=DEFAULT_MAX_PAYLOAD, data_targets=(), loaded_at_reset=False,
                 bus_timeout=255):
        self.clocks_per_bit, self.timeout_bits = clocks_per_bit, timeout_bits
        self.uart_rx = UARTRx(clocks_per_bit)
        self.uart_tx = UARTTx(clocks_per_bit)
        self.core = LinkCore(design=design, params=params,
                             timeout_cycles=timeout_bits * clocks_per_bit,
                             max_payload=max_payload, data_targets=data_targets,
                             loaded_at_reset=loaded_at_reset, bus_timeout=bus_timeout,
                             link_info={"clocks_per_bit": clocks_per_bit,
                                        "timeout_bits": timeout_bits})
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "bus": Out(HostBusSignature()),
            "start": Out(1),
            "busy": In(1),
            "done": In(1),
            "loaded": Out(1),
        })

    @property
    def identify_bytes(self):
        return self.core.idrom.contents

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = rx = self.uart_rx
        m.submodules.uart_tx = tx = self.uart_tx
        m.submodules.core = core = self.core
        connect(m, rx.data, core.rx)
        connect(m, core.tx, tx.data)
        connect(m, wiring.flipped(self.bus), core.bus)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx), core.rx_error.eq(rx.error | rx.overrun),
                     self.start.eq(core.start), core.busy.eq(self.busy), core.done.eq(self.done),
                     self.loaded.eq(core.loaded)]
        return m
