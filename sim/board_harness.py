"""The simulated board: the board top-level in Verilator, talked to over its UART.

    host process                                 simulator process (cocotb)
    LinkClient ─ SimTransport ══ TCP (lockstep) ══ sim/cocotb_board.py
                                                    UART model ── uart_rx ─┐
                                                               ── uart_tx ─┤ BoardTop
                                                                           │ (HostLink +
                                                                           │  EIEArray)

`build(params)` generates boards.top.BoardTop for a small simulated board
(sim/board_top.py: its clock and baud rate give CLOCKS_PER_BIT clock cycles
per UART bit, so a byte costs 40 cycles) with a stand-in platform that
turns the clock pin, the UART and the LEDs into top-level ports, converts
it to Verilog and builds it (cached by parameters and source digest, like
the other harnesses).

`SimBoard(params)` starts the simulation and yields a transport for
eiegen.sw.link.client.LinkClient. The two processes run in lockstep:
simulated time advances only while the host waits for bytes (`read`, with
its timeout in simulated seconds) or idles, so the host's timeouts and the
board's inter-byte timeout mean the same as on a real line, whatever the
speed of the machine. The cocotb side drives and samples the UART pins
with one timer per bit: no Python per clock cycle.

FaultyTransport wraps any transport and damages chosen frames (corrupted,
dropped or extra bytes, truncation, wrong CRC, lost frames, corrupted
answers, a dead line): the fault-injection tests use it.
"""

import contextlib
import dataclasses
import hashlib
import json
import socket
import struct
import threading
import time
from pathlib import Path

from . import cocotb_harness
from .board_top import TOPLEVEL, CLOCKS_PER_BIT, STATUS_LEDS, sim_top
from .cocotb_harness import file_lock
from .eie_harness import default_build_root
from ..hw.eie.array import EIEArray  # noqa: F401 (imported with the digest below)
from .lockstep import REQ, ANS, recv_exact
from ..sw.errors import LinkError
from ..sw.link import protocol as P
from ..sw.link.transport import Transport

__all__ = ["CLOCKS_PER_BIT", "PERIOD_NS", "TOPLEVEL", "build", "SimBoard", "SimTransport",
           "FaultyTransport"]

PERIOD_NS = 10
#: simulated time the host waits after power-on before it talks to the board
STARTUP_SECONDS = 30e-6


#: the generators this process imported (cocotb_harness.generator_digest)
_SOURCE_DIGEST = cocotb_harness.generator_digest("boards/top.py", "boards/clocking.py", "boards/board.py",
                                                 "sim/board_top.py")


class Built:
    def __init__(self, runner, build_dir, params, simulator):
        self.runner, self.build_dir, self.params, self.simulator = runner, build_dir, params, simulator


def build(params, simulator="verilator", build_root=None, *, waves=None, progress=None):
    """Generate and build the simulated board for EIEParams `params` (cached).
    `waves`: a model that records waveforms (cached apart; default EIEGEN_WAVES);
    `progress(line)`: told whether the model is cached or being built."""
    if waves is None:
        waves = cocotb_harness.waves_requested()
    waves = cocotb_harness.wave_variant(waves, simulator)
    build_root = Path(build_root or default_build_root())
    doc = {"params": params.to_dict(), "sim": simulator, "src": _SOURCE_DIGEST, "cpb": CLOCKS_PER_BIT}
    if waves:
        doc["waves"] = waves
    key = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]
    bdir = build_root / f"board-eie-n{params.n_pes}-{simulator}{'-waves-' + waves if waves else ''}-{key}"
    with file_lock(build_root / f".lock-{key}"):
        vpath = bdir / f"{TOPLEVEL}.v"
        if not vpath.exists():
            if progress is not None:
                progress(f"generating the Verilog of the simulated board ({params.n_pes}-PE EIE array) ...")
            comp, plat = sim_top(params)
            cocotb_harness.write_verilog(comp, vpath, name=TOPLEVEL, platform=plat)
        runner = cocotb_harness.build([vpath], TOPLEVEL, bdir / "sim", simulator=simulator,
                                      log=bdir / "build.log", waves=waves, progress=progress,
                                      what=f"the simulated board ({params.n_pes}-PE EIE array)",
                                      kind=f"board-eie/{simulator}")
    return Built(runner, bdir, params, simulator)


# -- the lockstep byte pipe ---------------------------------------------------------------
#
# request: op (1 byte) arg (u64) length (u32) data; answer: value (u64) length (u32) data
#   W data        queue bytes for the board's uart_rx pin (no simulated time passes)
#   R arg=ps, data=u32 n   wait until n bytes came from uart_tx or arg ps passed; answer them
#   I arg=ps      let arg ps pass
#   T             answer the simulated time in ps
#   L             answer the LED pins
#   Q             end the simulation



class SimTransport(Transport):
    """The host's end of the pipe to the simulated board's UART."""

    slack_seconds = 0.0

    def __init__(self, sock, clocks_per_bit=CLOCKS_PER_BIT, period_ns=PERIOD_NS):
        self.sock = sock
        self.bit_seconds = clocks_per_bit * period_ns * 1e-9
        self.bytes_written = 0

    def _call(self, op, arg=0, data=b""):
        try:
            self.sock.sendall(REQ.pack(op, int(arg), len(data)) + bytes(data))
            value, n = ANS.unpack(recv_exact(self.sock, ANS.size))
            return value, recv_exact(self.sock, n)
        except (OSError, ConnectionError) as exc:
            raise LinkError(f"lost the simulated board: {exc}") from None

    def write(self, data):
        self.bytes_written += len(data)
        self._call(b"W", 0, data)

    def read(self, n, timeout):
        ps = max(1, int(round(timeout * 1e12)))
        return self._call(b"R", ps, struct.pack("<I", n))[1]

    def idle(self, seconds):
        self._call(b"I", max(1, int(round(seconds * 1e12))))

    def clock(self):
        return self._call(b"T")[0] * 1e-12

    def leds(self):
        v = self._call(b"L")[0]
        return {name: bool(v >> i & 1) for i, name in enumerate(STATUS_LEDS)}

    def close(self):
        with contextlib.suppress(Exception):
            self._call(b"Q")
        with contextlib.suppress(Exception):
            self.sock.close()


class SimBoard:
    """Context manager: a running simulated board. `transport` is its
    SimTransport; on exit the simulation ends and `result` holds the
    cocotb side's statistics (bytes, framing errors, simulated time)."""

    def __init__(self, params, *, simulator="verilator", build_root=None, test_dir=None,
                 connect_timeout=600.0, built=None, waves=None, progress=None):
        self.params, self.simulator = params, simulator
        self.waves, self.progress = waves, progress
        self.built = built
        self.build_root = build_root
        self.test_dir = test_dir
        self.connect_timeout = connect_timeout
        self.result = None
        self._error = None

    def __enter__(self):
        if self.built is None:
            self.built = build(self.params, self.simulator, self.build_root,
                               waves=cocotb_harness.wave_format(self.waves) if self.waves else None,
                               progress=self.progress)
        test_dir = Path(self.test_dir or (self.built.build_dir / "run")).resolve()
        server = socket.create_server(("127.0.0.1", 0))
        server.settimeout(0.5)
        port = server.getsockname()[1]
        env = {"EIEGEN_BOARD_PORT": str(port), "EIEGEN_PERIOD_NS": str(PERIOD_NS),
               "EIEGEN_CLOCKS_PER_BIT": str(CLOCKS_PER_BIT)}

        def target():
            try:
                self.result = cocotb_harness.run(
                    self.built.runner, TOPLEVEL, "eiegen.sim.cocotb_board", test_dir,
                    extra_env=env, build_dir=self.built.build_dir / "sim", log=test_dir / "sim.log",
                    waves=self.waves)
            except BaseException as exc:        # reported by __enter__ / __exit__
                self._error = exc

        self._thread = threading.Thread(target=target, name="eiegen-sim-board", daemon=True)
        self._thread.start()
        t0 = time.monotonic()
        try:
            while True:
                try:
                    sock, _ = server.accept()
                    break
                except socket.timeout:
                    if not self._thread.is_alive():
                        raise LinkError(f"the simulated board did not start: {self._error}")
                    if time.monotonic() - t0 > self.connect_timeout:
                        raise LinkError("the simulated board did not connect within "
                                        f"{self.connect_timeout:g} s (see {test_dir}/sim.log)")
        finally:
            server.close()
        sock.settimeout(600.0)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport = SimTransport(sock)
        # the board holds itself in reset for ~200 cycles after power-on
        # (boards/clocking.py); a host would not talk to it sooner either
        self.transport.idle(STARTUP_SECONDS)
        return self

    def __exit__(self, *exc):
        self.transport.close()
        self._thread.join(timeout=120)
        if self._error is not None and exc[0] is None:
            raise LinkError(f"the simulated board failed: {self._error}")
        return False


# -- fault injection ----------------------------------------------------------------------

@dataclasses.dataclass
class _Fault:
    kind: str
    when: object         # predicate on the decoded request Frame
    skip: int            # matching frames to let through first
    arg: object = None
    at: int = None       # or: exactly the write() call with this number (from 0)


def _flip(data, pos, mask=0x01):
    x = bytearray(data)
    x[pos] ^= mask
    return bytes(x)


class FaultyTransport(Transport):
    """Wraps a transport; `inject(kind, when=..., skip=k)` damages the
    (k+1)-th frame written from now on for which `when(frame)` holds (a
    decoded protocol.Frame; default: any WRITE); `inject(kind, at=n)` the
    frame of the n-th write() call (counted from 0, retransmissions
    included). Each fault acts once, so the client's retransmission goes
    through intact unless another fault is aimed at it. Kinds:

      corrupt      flip a bit of a payload byte (or of the address if none)
      drop         leave one byte out of the middle of the frame
      truncate     send only the first half of the frame
      crc          flip the frame's last CRC byte
      lose         send nothing (the frame is lost on the line)
      readdress    re-encode the frame (valid CRC) with `arg` as its address
      answer       flip a bit in the board's answer to this frame
      dead         from this frame on, nothing reaches the board
    """

    KINDS = ("corrupt", "drop", "truncate", "crc", "lose", "readdress", "answer", "dead")

    def __init__(self, inner):
        self.inner = inner
        self.bit_seconds, self.slack_seconds = inner.bit_seconds, inner.slack_seconds
        self.faults = []
        self.applied = []          # (kind, frame) in order
        self.writes = 0
        self._damage_answer = None         # offset of the answer byte to damage
        self._dead = False

    def inject(self, kind, when=None, skip=0, arg=None, at=None):
        if kind not in self.KINDS:
            raise ValueError(f"unknown fault {kind!r} (kinds: {', '.join(self.KINDS)})")
        if at is not None:
            when = lambda f: True          # noqa: E731
        self.faults.append(_Fault(kind, when or (lambda f: f.cmd == P.Cmd.WRITE), skip, arg, at))

    @property
    def pending(self):
        return len(self.faults)

    def write(self, data):
        data = bytes(data)
        n = self.writes
        self.writes += 1
        if self._dead:
            return
        try:
            frame, _ = P.decode_frame(data)
        except LinkError:
            frame = None
        fault = None
        if frame is not None:
            for f in self.faults:
                if f.at is not None and f.at != n:
                    continue
                if f.when(frame):
                    if f.skip:
                        f.skip -= 1
                        continue
                    fault = f
                    break
        if fault is None:
            return self.inner.write(data)
        self.faults.remove(fault)
        self.applied.append((fault.kind, frame))
        k = fault.kind
        if k == "corrupt":
            pos = P.REQUEST_HEADER + len(frame.payload) // 2 if frame.payload else 3
            data = _flip(data, pos, 0x04)
        elif k == "drop":
            mid = len(data) // 2
            data = data[:mid] + data[mid + 1:]
        elif k == "truncate":
            data = data[:len(data) // 2]
        elif k == "crc":
            data = _flip(data, len(data) - 1, 0xFF)
        elif k == "lose":
            return
        elif k == "readdress":
            data = P.encode_frame(frame.cmd, fault.arg, frame.payload, frame.tag)
        elif k == "answer":
            self._damage_answer = 3          # the answer's STATUS byte
        elif k == "dead":
            self._dead = True
            return
        self.inner.write(data)

    def read(self, n, timeout):
        data = self.inner.read(n, timeout)
        if self._damage_answer is not None and data:
            if self._damage_answer < len(data):
                data = _flip(data, self._damage_answer, 0x10)
                self._damage_answer = None
            else:
                self._damage_answer -= len(data)
        return data

    def clock(self):
        return self.inner.clock()

    def close(self):
        self.inner.close()
