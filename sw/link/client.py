"""The host-link client: identify, load, verify, commit, run, read back.

LinkClient speaks the protocol of eiegen.sw.link.protocol over a transport
(eiegen.sw.link.transport) and follows the rules of docs/host-link.md:

- every request waits for its answer; a frame that gets no valid answer
  (silence, a corrupted or truncated answer) or an answer that says the
  frame itself was damaged on the line (BAD_CRC, TIMEOUT, BAD_LENGTH) is
  sent again, unchanged and with the same TAG, after the line has been
  quiet for longer than the board's inter-byte timeout. That is safe for
  every command: WRITEs rewrite the same words, and the board answers a
  retransmission of the WRITE or RUN it executed last with OK without doing
  it again (so neither the load checksum nor a run is doubled);
- a refusal (BAD_ADDRESS, NOT_LOADED, BUSY, BAD_CHECKSUM, ...) is not
  retried: it raises LinkRefused naming the command, the address and why;
- a load is BEGIN, the WRITEs, optionally a read-back of every word, and
  COMMIT with the host's load checksum: the board sets `loaded` only when
  its checksum of what it executed equals the host's, and refuses RUN
  without it, so a load that stopped anywhere cannot run;
- a run is bounded twice: the board's watchdog (a link register the load
  sets from the cycle model) aborts a run that takes too long, and the host
  waits no longer than that watchdog's time (plus a margin) before it sends
  ABORT itself; either way the run ends in an error naming what happened,
  and the board answers normally afterwards (`abort()` does it by hand).
"""

import dataclasses

import numpy as np

from ..errors import LinkError
from ...hw.eie.params import MEMORY_IDS, host_map
from . import protocol as P
from .protocol import Cmd, Status, LinkRefused, LinkTimeout

__all__ = ["LinkClient", "LinkStats", "LoadResult", "RunResult", "RETRIED_STATUSES", "DESIGN",
           "RunAborted", "WAIT_FACTOR", "WAIT_MARGIN_BITS"]

DESIGN = "eie"

#: answers that say the frame was damaged on the way: the frame is sent again
RETRIED_STATUSES = (Status.BAD_CRC, Status.TIMEOUT, Status.BAD_LENGTH)


#: the host waits for a run WAIT_FACTOR times the board's watchdog, plus
#: WAIT_MARGIN_BITS bit times of the line (and the transport's slack)
WAIT_FACTOR = 2
WAIT_MARGIN_BITS = 2000


class RunAborted(LinkError):
    """A run was aborted (by the board's watchdog, or by the host after waiting
    too long); the board is idle and answers normally."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class LinkStats:
    frames: int = 0          # requests answered
    sent: int = 0            # frames put on the line, retransmissions included
    retries: int = 0
    problems: list = dataclasses.field(default_factory=list)   # why each retry happened


@dataclasses.dataclass
class LoadResult:
    writes: int
    payload_bytes: int
    checksum: int
    verified: bool
    retries: int


@dataclasses.dataclass
class RunResult:
    outputs: np.ndarray      # (batch, n_out) int16
    counters: list           # per input: dict


def _cmd_name(cmd):
    try:
        return Cmd(cmd).name
    except ValueError:
        return f"command {cmd:#04x}"


def _status_name(status):
    try:
        return Status(status).name
    except ValueError:
        return f"status {status:#04x}"


class LinkClient:
    """Parameters: `transport`, `retries` (retransmissions per frame),
    `log` (callable taking a line of text, for retries and progress)."""

    def __init__(self, transport, *, retries=4, log=None):
        self.t = transport
        self.retries = retries
        self.log = log or (lambda text: None)
        self.stats = LinkStats()
        self._tag = 0
        self._rx = bytearray()
        self.ident = None
        self.timeout_bits = P.DEFAULT_TIMEOUT_BITS
        self.max_payload = P.MIN_MAX_PAYLOAD

    # -- frames ---------------------------------------------------------------------------
    def _next_tag(self):
        self._tag = (self._tag + 1) & 0xFF
        return self._tag

    def _answer_timeout(self, frame_len, answer_payload):
        # the bytes both ways, the board's time to execute (in its clock cycles:
        # clocks_per_bit of them per bit time; 4, the fewest a link has, until
        # IDENTIFY says), and twice its inter-byte timeout
        cpb = (self.ident or {}).get("link", {}).get("clocks_per_bit") or 4
        execute = (P.EXEC_CYCLES + P.EXEC_CYCLES_PER_BYTE *
                   (frame_len + answer_payload)) / cpb
        bits = (10 * (frame_len + P.RESPONSE_HEADER + P.CRC_BYTES + answer_payload)
                + execute + 2 * self.timeout_bits + 64)
        return bits * self.t.bit_seconds + self.t.slack_seconds

    def _quiet(self):
        """Wait until nothing has arrived for longer than the board's
        inter-byte timeout (so it is hunting for a frame start again)."""
        q = (1.5 * self.timeout_bits + 32) * self.t.bit_seconds + self.t.slack_seconds
        self._rx.clear()
        for _ in range(1000):
            if not self.t.read(4096, q):
                return
        raise LinkError("the line never went quiet: is something else talking on it?")

    def _fill(self, n, deadline):
        while len(self._rx) < n:
            left = deadline - self.t.clock()
            if left <= 0:
                return False
            self._rx += self.t.read(n - len(self._rx), left)
        return True

    def _read_answer(self, timeout):
        """One answer frame, or (None, why)."""
        deadline = self.t.clock() + timeout
        while True:
            if not self._fill(1, deadline):
                return None, "no answer" if not self._rx else "answer cut short"
            i = self._rx.find(bytes([P.SYNC_RESPONSE]))
            if i < 0:
                self._rx.clear()
                continue
            del self._rx[:i]
            if not self._fill(P.RESPONSE_HEADER, deadline):
                return None, "answer cut short"
            n = P.response_length(self._rx)
            if not self._fill(n, deadline):
                return None, "answer cut short"
            raw = bytes(self._rx[:n])
            del self._rx[:n]
            try:
                return P.decode_response(raw), None
            except LinkError:
                return None, "answer corrupted (CRC)"

    def exchange(self, cmd, addr=0, payload=b"", *, answer_max=P.MIN_MAX_PAYLOAD, check=True):
        """Send one request, retrying where safe; returns the Response. With
        `check`, any status but OK raises LinkRefused."""
        tag = self._next_tag()
        frame = P.encode_frame(cmd, addr, payload, tag)
        what = f"{_cmd_name(cmd)} {addr:#010x}" if cmd in (Cmd.WRITE, Cmd.READ) else _cmd_name(cmd)
        timeout = self._answer_timeout(len(frame), answer_max)
        problems, last = [], None
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
                self.stats.problems.append(f"{what}: {problems[-1]}")
                self.log(f"retrying {what} (attempt {attempt + 1}): {problems[-1]}")
                self._quiet()
            self.t.write(frame)
            self.stats.sent += 1
            r, why = self._read_answer(timeout)
            if r is None:
                problems.append(why)
                continue
            if (r.cmd, r.tag) != (int(cmd), tag):
                problems.append(f"stale answer (command {r.cmd:#04x}, tag {r.tag})")
                continue
            if r.status in RETRIED_STATUSES:
                last = r
                problems.append(f"board answered {_status_name(r.status)}: "
                                f"{P.STATUS_TEXT[Status(r.status)]}")
                continue
            self.stats.frames += 1
            if check and r.status != Status.OK:
                raise self._refused(what, r)
            return r
        if last is not None and problems[-1].startswith("board answered"):
            raise LinkRefused(f"{what}: still refused after {self.retries + 1} attempts: "
                              f"{problems[-1]}", last.status, last)
        raise LinkTimeout(f"{what}: no valid answer after {self.retries + 1} attempts "
                          f"({'; '.join(problems)}); check the port, the baud rate and that "
                          f"the board runs an eiegen bitstream")

    def _refused(self, what, r):
        try:
            text = P.STATUS_TEXT[Status(r.status)]
        except ValueError:
            text = "unknown status"
        return LinkRefused(f"{what}: the board refused it: {_status_name(r.status)} ({text})",
                           r.status, r)

    # -- commands -------------------------------------------------------------------------
    def identify(self):
        r = self.exchange(Cmd.IDENTIFY, answer_max=1024)
        ident = P.decode_identify(r.payload)
        link = ident["link"]
        if "timeout_bits" in link:
            self.timeout_bits = link["timeout_bits"]
        elif "timeout_cycles" in link and link.get("clocks_per_bit"):
            self.timeout_bits = -(-link["timeout_cycles"] // link["clocks_per_bit"])
        self.max_payload = link.get("max_payload", P.MIN_MAX_PAYLOAD)
        self.ident = ident
        return ident

    def status(self):
        return P.decode_status(self.exchange(Cmd.STATUS, answer_max=P.STATUS_BYTES).payload)

    def write(self, addr, payload):
        if len(payload) > self.max_payload:
            raise LinkError(f"WRITE {addr:#010x}: {len(payload)} bytes exceed the board's "
                            f"{self.max_payload}-byte frames")
        return self.exchange(Cmd.WRITE, addr, payload, answer_max=0)

    def read(self, addr, nbytes):
        if not 0 < nbytes <= self.max_payload:
            raise LinkError(f"READ {addr:#010x}: {nbytes} bytes (1 to {self.max_payload} per frame)")
        r = self.exchange(Cmd.READ, addr, nbytes.to_bytes(2, "little"), answer_max=nbytes)
        if len(r.payload) != nbytes:
            raise LinkError(f"READ {addr:#010x}: {len(r.payload)} bytes answered, {nbytes} asked")
        return r.payload

    def read_words(self, target, pe, word, count, wb):
        """`count` words of `wb` bytes from (target id, pe, word), in frames."""
        out = []
        per = self.max_payload // wb
        for k in range(0, count, per):
            n = min(per, count - k)
            data = self.read(P.make_addr(target, pe, word + k), n * wb)
            out += P.unpack_words(data, wb)
        return out

    def write_words(self, target, pe, word, values, wb):
        data = P.pack_words(values, wb)
        for addr, chunk in P.split_write(P.make_addr(target, pe, word), data, wb, self.max_payload):
            self.write(addr, chunk)

    def begin(self):
        self.exchange(Cmd.BEGIN, answer_max=0)

    def commit(self, checksum):
        r = self.exchange(Cmd.COMMIT, payload=checksum.to_bytes(4, "little"), answer_max=4,
                          check=False)
        board = int.from_bytes(r.payload, "little") if len(r.payload) == 4 else None
        if r.status == Status.BAD_CHECKSUM:
            raise LinkRefused(f"COMMIT: the board's load checksum {board:#010x} differs from the "
                              f"host's {checksum:#010x}: the load is not committed and the model "
                              f"cannot run; load it again", r.status, r)
        if r.status != Status.OK:
            raise self._refused("COMMIT", r)
        return board

    def run_unit(self):
        """RUN; refused (LinkRefused NOT_LOADED) unless a load is committed."""
        self.exchange(Cmd.RUN, answer_max=0)

    def abort(self):
        """ABORT: stop whatever the unit is doing (its model memories stay as
        they are); returns STATUS afterwards. LinkRefused BUSY if the unit did
        not stop."""
        self.exchange(Cmd.ABORT, answer_max=0)
        return self.status()

    def watchdog(self):
        """The board's run watchdog, in cycles (the link register 0xF0)."""
        return P.unpack_words(self.read(P.WATCHDOG_ADDR, P.LINK_WORD_BYTES),
                              P.LINK_WORD_BYTES)[0]

    def set_watchdog(self, cycles):
        """Set the board's run watchdog (a data target: `loaded` stays). A load
        of an image sets it from the model."""
        if not isinstance(cycles, int) or not 0 < cycles < (1 << 32):
            raise LinkError(f"the watchdog must be 1 .. 2**32 - 1 cycles, got {cycles!r}")
        self.write(P.WATCHDOG_ADDR, P.pack_words([cycles], P.LINK_WORD_BYTES))

    def run_timeout(self):
        """How long the host waits for a run: WAIT_FACTOR times the board's
        watchdog in seconds of its clock (from IDENTIFY's clocks_per_bit and
        the line's bit time), plus WAIT_MARGIN_BITS bit times and the
        transport's slack."""
        if self.ident is None:
            self.identify()
        return (WAIT_FACTOR * P.watchdog_seconds(self.watchdog(), self.ident, self.t.bit_seconds)
                + WAIT_MARGIN_BITS * self.t.bit_seconds + self.t.slack_seconds)

    def wait_done(self, timeout=None):
        """Poll STATUS until the run has ended; returns the status. A run the
        board's watchdog aborted, or one still running after `timeout`
        seconds of the transport (default: run_timeout()), which the host
        then aborts, raises RunAborted."""
        if timeout is None:
            timeout = self.run_timeout()
        t0 = self.t.clock()
        while True:
            st = self.status()
            if not st["running"] and not st["busy"]:
                if st["watchdog"]:
                    raise RunAborted(f"the run took more than the board's watchdog of "
                                     f"{self.watchdog()} cycles and was aborted (an image for "
                                     f"another board, or a unit that does not finish); the "
                                     f"board is idle", st)
                if st["aborted"]:
                    raise RunAborted("the run was aborted (ABORT); the board is idle", st)
                return st
            if self.t.clock() - t0 > timeout:
                st = self.abort()
                raise RunAborted(f"the run did not end within {timeout:g} s, so the host "
                                 f"aborted it; the board is idle (status: {st})", st)

    # -- an EIE image -----------------------------------------------------------------------
    def check_image(self, image):
        """IDENTIFY and refuse a board generated for other parameters."""
        ident = self.identify()
        P.check_identity(ident, DESIGN, image.params.image_dict())
        return ident

    def load(self, image, *, verify=False, progress=None):
        """BEGIN, WRITE every memory, optionally read every word back, COMMIT."""
        from ..linkimage import load_writes, describe_addr, word_bytes
        self.check_image(image)
        st = self.status()
        if st["busy"]:
            raise LinkError("the board is running a model: wait for it to finish before loading")
        writes = load_writes(image, min(self.max_payload, P.MIN_MAX_PAYLOAD))
        retries0 = self.stats.retries
        self.begin()
        total = len(writes)
        for i, (addr, payload) in enumerate(writes):
            self.write(addr, payload)
            if progress:
                progress("write", i + 1, total)
        if verify:
            wbs = word_bytes(image.params)
            names = {v: k for k, v in MEMORY_IDS.items()}
            for i, (addr, payload) in enumerate(writes):
                got = self.read(addr, len(payload))
                if got != payload:
                    wb = (P.LINK_WORD_BYTES if addr >> 24 >= P.LINK_TARGET
                          else wbs[names[addr >> 24]])
                    k = next(j for j in range(0, len(payload), wb) if got[j:j + wb] != payload[j:j + wb])
                    raise LinkError(
                        f"read-back of {describe_addr(addr + k // wb)}: wrote "
                        f"{payload[k:k + wb][::-1].hex()}, read {got[k:k + wb][::-1].hex()}; "
                        f"the load is not committed and the model cannot run")
                if progress:
                    progress("verify", i + 1, total)
        checksum = P.load_checksum(writes)
        self.commit(checksum)
        st = self.status()
        if not st["loaded"] or st["checksum"] != checksum:
            raise LinkError(f"after COMMIT the board reports loaded={st['loaded']}, checksum "
                            f"{st['checksum']:#010x} (host {checksum:#010x})")
        return LoadResult(total, sum(len(p) for _, p in writes), checksum, bool(verify),
                          self.stats.retries - retries0)

    def infer(self, image, inputs, *, timeout=None, progress=None):
        """Run int16 input vectors (n_in,) or (batch, n_in) through the loaded
        model; returns RunResult with outputs and per-input counters.
        `timeout`: seconds to wait for one run (default: the board's watchdog
        plus a margin, see wait_done)."""
        x = np.atleast_2d(np.asarray(inputs))
        p = image.params
        n = p.n_pes
        first, last = image.layers[0], image.layers[-1]
        if x.shape[-1] != first.n_in:
            raise LinkError(f"input has {x.shape[-1]} values per vector; layer '{first.name}' "
                            f"takes {first.n_in}")
        if x.min(initial=0) < -32768 or x.max(initial=0) > 32767:
            raise LinkError("input values must be int16 codes")
        st = self.status()
        if not st["loaded"]:
            raise LinkError("the board holds no committed model (a load never finished, or a "
                            "memory was written since): load the image first")
        hmap = host_map(p)
        wb = hmap.word_bytes()
        out_file = MEMORY_IDS["act1" if len(image.layers) % 2 else "act0"]
        ctrl = MEMORY_IDS["control"]
        regs = hmap.control_regs
        if timeout is None:
            timeout = self.run_timeout()
        outputs, counters = [], []
        for b, vec in enumerate(x):
            padded = np.zeros(first.in_local * n, dtype=np.int64)
            padded[:first.n_in] = vec
            for pe in range(n):
                self.write_words(MEMORY_IDS["act0"], pe, 0, padded[pe::n], wb["act0"])
            self.run_unit()
            st = self.wait_done(timeout)
            if not st["done"]:
                raise LinkError(f"input {b}: the run ended without `done` (status {st})")
            y = np.zeros(last.out_local * n, dtype=np.int64)
            for pe in range(n):
                y[pe::n] = self.read_words(out_file, pe, 0, last.out_local, 2)
            y = y[:last.n_out]
            outputs.append(np.where(y >= 0x8000, y - 0x10000, y).astype(np.int16))
            cyc, bc, stall = self.read_words(ctrl, 0, regs["cycles"], 3, wb["control"])
            counters.append({
                "cycles": cyc, "broadcasts": bc, "bcast_stall": stall,
                "busy": self.read_words(ctrl, 0, regs["busy_base"], n, wb["control"]),
                "idle": self.read_words(ctrl, 0, regs["idle_base"], n, wb["control"]),
                "run_cycles": st["run_cycles"],
            })
            if progress:
                progress("run", b + 1, len(x))
        return RunResult(np.array(outputs, dtype=np.int16).reshape(len(x), last.n_out), counters)
