"""The host-link protocol: frame layout, commands, status codes, CRCs, the
load checksum, address helpers and the identify layout (docs/host-link.md is
the specification; this module is its executable form and is shared by the
host client, the packer's image.bin writer, the Python device model and the
identify ROM generator).

Request frame (host -> board)::

    0      SYNC  0xA5
    1      CMD
    2      TAG   (the host's frame number, echoed; see "retransmissions")
    3..6   ADDR  u32 little-endian
    7..8   LEN   u16 little-endian: number of payload bytes
    9..    PAYLOAD (LEN bytes)
    +2     CRC   CRC-16/CCITT-FALSE of bytes 1 .. 8+LEN, high byte first

Response frame (board -> host)::

    0      SYNC  0x5A
    1      CMD   (echoed)
    2      TAG   (echoed)
    3      STATUS
    4..5   LEN   u16 little-endian
    6..    PAYLOAD (LEN bytes)
    +2     CRC   CRC-16/CCITT-FALSE of bytes 1 .. 5+LEN, high byte first
"""

import binascii
import dataclasses
import enum
import zlib

from ..errors import LinkError, ImageError

__all__ = [
    "PROTOCOL_VERSION", "SYNC_REQUEST", "SYNC_RESPONSE", "REQUEST_HEADER", "RESPONSE_HEADER",
    "CRC_BYTES", "DEFAULT_MAX_PAYLOAD", "MIN_MAX_PAYLOAD", "DEFAULT_TIMEOUT_BITS", "Cmd", "Status",
    "STATUS_TEXT", "LinkRefused", "LinkTimeout", "crc16", "make_addr", "split_addr", "Frame",
    "Response", "encode_frame", "encode_write_frame", "decode_frame", "decode_frames",
    "encode_response", "decode_response", "response_length", "split_write", "pack_words",
    "unpack_words", "checksum_update", "load_checksum", "CHECKSUM_EMPTY", "IDENT_MAGIC",
    "encode_identify", "decode_identify", "check_identity", "STATUS_BYTES", "encode_status",
    "decode_status", "PROBE_BYTES", "STATUS_FLAGS", "LINK_TARGET", "WATCHDOG_ADDR", "LINK_WORD_BYTES",
    "DEFAULT_WATCHDOG_SECONDS", "watchdog_seconds", "EXEC_CYCLES", "EXEC_CYCLES_PER_BYTE",
]

PROTOCOL_VERSION = 1
SYNC_REQUEST = 0xA5
SYNC_RESPONSE = 0x5A
REQUEST_HEADER = 9          # SYNC CMD TAG ADDR(4) LEN(2)
RESPONSE_HEADER = 6         # SYNC CMD TAG STATUS LEN(2)
CRC_BYTES = 2
#: payload buffer of a link unless the board chooses otherwise
DEFAULT_MAX_PAYLOAD = 256
#: every link accepts at least this many payload bytes (image.bin frames fit)
MIN_MAX_PAYLOAD = 256
#: inter-byte timeout of a link unless the board chooses otherwise, in bit times
DEFAULT_TIMEOUT_BITS = 1000
#: the link's own registers (a data target: writes do not clear `loaded`):
#: word 0 = the run watchdog, the most cycles a RUN may take before the link
#: aborts it (u32; a board comes up with a finite default, IDENTIFY's
#: `watchdog_cycles`). Targets 0xF0-0xFF belong to the link, not the unit.
LINK_TARGET = 0xF0
WATCHDOG_ADDR = LINK_TARGET << 24
LINK_WORD_BYTES = 4
#: the watchdog a board comes up with, in seconds of its clock
DEFAULT_WATCHDOG_SECONDS = 1.0
#: a link answers a frame within EXEC_CYCLES + EXEC_CYCLES_PER_BYTE x (its
#: payload bytes + the answer's) clock cycles after its last byte (the link's
#: byte engine checks and writes every word with a few dozen instructions of
#: two or four cycles; a frame of 1-byte words to a link whose widest word is 8
#: bytes, four cycles an instruction, is the slowest, about 430 a byte)
EXEC_CYCLES = 4096
EXEC_CYCLES_PER_BYTE = 512


class Cmd(enum.IntEnum):
    IDENTIFY = 0x01     # -> identify bytes (decode_identify)
    PROBE = 0x02        # ADDR -> [word_bytes, addr_ok]
    WRITE = 0x03        # ADDR, payload = words as word_bytes little-endian bytes each
    READ = 0x04         # ADDR, payload = u16 byte count -> those bytes
    BEGIN = 0x05        # clear `loaded`, load checksum := empty
    COMMIT = 0x06       # payload = u32 load checksum -> u32 device checksum; sets `loaded`
    RUN = 0x07          # pulse `start` (needs `loaded`, not busy)
    STATUS = 0x08       # -> status bytes (decode_status)
    ABORT = 0x09        # pulse the unit's `abort` (accepted while busy); answered once it is idle


class Status(enum.IntEnum):
    OK = 0x00
    BAD_CRC = 0x01        # frame CRC wrong: nothing done
    TIMEOUT = 0x02        # bytes stopped arriving inside a frame (dropped byte, truncated frame)
    BAD_LENGTH = 0x03     # LEN too large for the buffer, wrong for the command, not whole words
    BAD_COMMAND = 0x04    # unknown command
    BAD_ADDRESS = 0x05    # a word of the frame does not exist (past the end, unknown target/PE)
    NOT_LOADED = 0x06     # RUN without a committed load
    BUSY = 0x07           # the unit is running: WRITE, BEGIN, COMMIT and RUN are refused
    BAD_CHECKSUM = 0x08   # COMMIT's checksum differs from what the board received
    BUS_ERROR = 0x09      # the unit did not answer a read
    BAD_CONFIG = 0x0A     # RUN refused: the unit's configuration is invalid (e.g. layer count)


STATUS_TEXT = {
    Status.OK: "ok",
    Status.BAD_CRC: "the frame's CRC was wrong (corrupted on the line)",
    Status.TIMEOUT: "the frame stopped short (a dropped byte or a truncated frame)",
    Status.BAD_LENGTH: "the frame's length is wrong for the command, the buffer or the word size",
    Status.BAD_COMMAND: "unknown command",
    Status.BAD_ADDRESS: "the address range does not exist (past the end of a memory, or an "
                        "unknown target or PE)",
    Status.NOT_LOADED: "no complete committed load: the model cannot run",
    Status.BUSY: "the unit is running",
    Status.BAD_CHECKSUM: "the board's load checksum differs from the host's",
    Status.BUS_ERROR: "the unit did not answer a read on the host bus",
    Status.BAD_CONFIG: "the unit's configuration is invalid (for EIE: the number of layers is "
                       "not 1 .. max_layers): nothing was started",
}


class LinkRefused(LinkError):
    """The board answered a well-formed frame with an error status."""

    def __init__(self, message, status, response=None):
        super().__init__(message)
        self.status = status
        self.response = response


class LinkTimeout(LinkError):
    """No valid answer after every retry."""


def crc16(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF)."""
    return binascii.crc_hqx(bytes(data), crc)


def make_addr(target, pe=0, word=0):
    """Host-bus address: [31:24] target, [23:16] PE (or bank), [15:0] word."""
    for name, v, hi in (("target", target, 0xFF), ("pe", pe, 0xFF), ("word", word, 0xFFFF)):
        if not isinstance(v, int) or not 0 <= v <= hi:
            raise LinkError(f"address {name} must be an integer in [0, {hi:#x}], got {v!r}")
    return (target << 24) | (pe << 16) | word


def split_addr(addr):
    return (addr >> 24) & 0xFF, (addr >> 16) & 0xFF, addr & 0xFFFF


@dataclasses.dataclass(frozen=True)
class Frame:
    """A request frame."""
    cmd: int
    addr: int = 0
    payload: bytes = b""
    tag: int = 0

    def encode(self):
        return encode_frame(self.cmd, self.addr, self.payload, self.tag)


@dataclasses.dataclass(frozen=True)
class Response:
    cmd: int
    tag: int
    status: int
    payload: bytes = b""

    def encode(self):
        return encode_response(self.cmd, self.tag, self.status, self.payload)


def _u(value, nbytes, what):
    if not isinstance(value, int) or not 0 <= value < (1 << (8 * nbytes)):
        raise LinkError(f"{what} must fit in {8 * nbytes} bits, got {value!r}")
    return value.to_bytes(nbytes, "little")


def encode_frame(cmd, addr=0, payload=b"", tag=0):
    """The bytes of a request frame."""
    payload = bytes(payload)
    body = (_u(int(cmd), 1, "command") + _u(tag, 1, "tag") + _u(addr, 4, "address") +
            _u(len(payload), 2, "payload length") + payload)
    return bytes([SYNC_REQUEST]) + body + crc16(body).to_bytes(2, "big")


def encode_write_frame(addr, payload, tag=0):
    """A WRITE frame: `payload` = whole words of the target, word_bytes
    little-endian bytes each, written from word `addr` upwards. image.bin is
    BEGIN, these, and COMMIT (eiegen.sw.linkimage.image_frames)."""
    if not payload:
        raise LinkError(f"a WRITE frame to {addr:#010x} needs at least one byte")
    return encode_frame(Cmd.WRITE, addr, payload, tag)


def decode_frame(buf, offset=0):
    """Parse one request frame at `offset`; returns (Frame, next offset).
    Raises LinkError naming the offset on anything malformed."""
    buf = memoryview(bytes(buf)) if not isinstance(buf, (bytes, memoryview)) else memoryview(buf)
    if offset >= len(buf):
        raise LinkError(f"no frame at byte {offset}: end of data")
    if buf[offset] != SYNC_REQUEST:
        raise LinkError(f"byte {offset}: expected frame start 0x{SYNC_REQUEST:02X}, "
                        f"got 0x{buf[offset]:02X}")
    if offset + REQUEST_HEADER > len(buf):
        raise LinkError(f"frame at byte {offset}: truncated header "
                        f"({len(buf) - offset} of {REQUEST_HEADER} bytes)")
    n = int.from_bytes(buf[offset + 7:offset + 9], "little")
    end = offset + REQUEST_HEADER + n + CRC_BYTES
    if end > len(buf):
        raise LinkError(f"frame at byte {offset}: truncated ({len(buf) - offset} of "
                        f"{end - offset} bytes)")
    if crc16(buf[offset + 1:end]) != 0:
        raise LinkError(f"frame at byte {offset}: CRC mismatch (corrupted data)")
    cmd, tag = buf[offset + 1], buf[offset + 2]
    addr = int.from_bytes(buf[offset + 3:offset + 7], "little")
    payload = bytes(buf[offset + REQUEST_HEADER:end - CRC_BYTES])
    return Frame(cmd, addr, payload, tag), end


def decode_frames(stream):
    """Every request frame of a byte string (such as image.bin), in order.
    Raises ImageError naming the byte offset of the first bad frame."""
    frames, off = [], 0
    data = memoryview(bytes(stream))
    while off < len(data):
        try:
            frame, off = decode_frame(data, off)
        except LinkError as exc:
            raise ImageError(f"frame {len(frames)}: {exc}") from None
        frames.append(frame)
    return frames


def encode_response(cmd, tag, status, payload=b""):
    payload = bytes(payload)
    body = bytes([cmd & 0xFF, tag & 0xFF, int(status) & 0xFF]) + _u(len(payload), 2, "length") + payload
    return bytes([SYNC_RESPONSE]) + body + crc16(body).to_bytes(2, "big")


def response_length(header):
    """Total length of a response frame from its first RESPONSE_HEADER bytes."""
    return RESPONSE_HEADER + int.from_bytes(header[4:6], "little") + CRC_BYTES


def decode_response(buf):
    """Parse one complete response frame; raises LinkError if malformed."""
    buf = bytes(buf)
    if len(buf) < RESPONSE_HEADER + CRC_BYTES or buf[0] != SYNC_RESPONSE:
        raise LinkError(f"malformed response ({len(buf)} bytes)")
    if len(buf) != response_length(buf):
        raise LinkError(f"response length {len(buf)} does not match its header "
                        f"({response_length(buf)})")
    if crc16(buf[1:]) != 0:
        raise LinkError("response CRC mismatch (corrupted on the line)")
    return Response(buf[1], buf[2], buf[3], buf[RESPONSE_HEADER:-CRC_BYTES])


# -- words ----------------------------------------------------------------------------------

def pack_words(values, word_bytes):
    """Words as `word_bytes` little-endian bytes each (two's complement for
    negative values that fit)."""
    if not 1 <= word_bytes <= 8:
        raise LinkError(f"word_bytes must be 1 to 8, got {word_bytes}")
    out = bytearray()
    bits = 8 * word_bytes
    for i, v in enumerate(values):
        v = int(v)
        if not -(1 << (bits - 1)) <= v < (1 << bits):
            raise LinkError(f"word {i} = {v} does not fit in {word_bytes} bytes")
        out += (v & ((1 << bits) - 1)).to_bytes(word_bytes, "little")
    return bytes(out)


def unpack_words(data, word_bytes):
    if len(data) % word_bytes:
        raise LinkError(f"{len(data)} bytes are not whole {word_bytes}-byte words")
    return [int.from_bytes(data[i:i + word_bytes], "little") for i in range(0, len(data), word_bytes)]


def split_write(addr, data, word_bytes, max_payload=MIN_MAX_PAYLOAD):
    """Split a write of whole words starting at `addr` into (addr, chunk)
    pieces of at most `max_payload` bytes, each a whole number of words."""
    data = bytes(data)
    if not 1 <= word_bytes <= 8:
        raise LinkError(f"word_bytes must be 1 to 8, got {word_bytes}")
    if len(data) % word_bytes:
        raise LinkError(f"write to {addr:#010x}: {len(data)} bytes are not whole "
                        f"{word_bytes}-byte words")
    per = (max_payload // word_bytes) * word_bytes
    target, pe, word = split_addr(addr)
    if word + len(data) // word_bytes > 0x10000:
        raise LinkError(f"write to {addr:#010x}: {len(data) // word_bytes} words run past word 0xFFFF")
    out = []
    for off in range(0, len(data), per):
        out.append((make_addr(target, pe, word + off // word_bytes), data[off:off + per]))
    return out


# -- load checksum --------------------------------------------------------------------------

CHECKSUM_EMPTY = 0


def checksum_update(checksum, addr, payload):
    """The load checksum after one more WRITE frame: CRC-32 (zlib) continued
    over ADDR (4 bytes LE), LEN (2 bytes LE) and the payload — exactly bytes
    3 .. 8+LEN of the frame."""
    return zlib.crc32(addr.to_bytes(4, "little") + len(payload).to_bytes(2, "little") +
                      bytes(payload), checksum)


def load_checksum(frames):
    """The checksum COMMIT expects after BEGIN and these WRITE frames (Frame
    objects or (addr, payload) pairs), in order."""
    c = CHECKSUM_EMPTY
    for f in frames:
        if isinstance(f, Frame):
            if f.cmd != Cmd.WRITE:
                raise LinkError(f"load_checksum: frame to {f.addr:#010x} is command "
                                f"{f.cmd:#04x}, not WRITE")
            addr, payload = f.addr, f.payload
        else:
            addr, payload = f
        c = checksum_update(c, addr, payload)
    return c


# -- identify -------------------------------------------------------------------------------

IDENT_MAGIC = b"EIEG"


def _ident_entries(fields, what):
    out = bytearray([len(fields)])
    if len(fields) > 255:
        raise ValueError(f"identify: at most 255 {what} fields, got {len(fields)}")
    for name, value in fields.items():
        raw = str(name).encode("ascii")
        if not 1 <= len(raw) <= 31:
            raise ValueError(f"identify: {what} field name {name!r} must be 1 to 31 ASCII characters")
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int) or not 0 <= value < (1 << 32):
            raise ValueError(f"identify: {what} field {name!r} = {value!r} is not an integer "
                             f"in [0, 2**32)")
        out += bytes([len(raw)]) + raw + value.to_bytes(4, "little")
    return bytes(out)


def encode_identify(design, params, link):
    """The identify bytes: magic "EIEG", protocol version, the design tag,
    the link's own fields, then the unit's generator parameters."""
    tag = str(design).encode("ascii")
    if not 1 <= len(tag) <= 31:
        raise ValueError(f"identify: design tag {design!r} must be 1 to 31 ASCII characters")
    return (IDENT_MAGIC + bytes([PROTOCOL_VERSION, len(tag)]) + tag +
            _ident_entries(link, "link") + _ident_entries(params, "parameter"))


def decode_identify(data):
    """-> {"protocol": int, "design": str, "link": {...}, "params": {...}}"""
    data = bytes(data)
    try:
        if data[:4] != IDENT_MAGIC:
            raise LinkError(f"identify answer does not start with {IDENT_MAGIC!r} "
                            f"(got {data[:4]!r}): not an eiegen board")
        version, n = data[4], data[5]
        design = data[6:6 + n].decode("ascii")
        pos = 6 + n
        sections = []
        for _ in range(2):
            count = data[pos]
            pos += 1
            d = {}
            for _ in range(count):
                ln = data[pos]
                name = data[pos + 1:pos + 1 + ln].decode("ascii")
                val = data[pos + 1 + ln:pos + 5 + ln]
                if len(val) != 4:
                    raise IndexError
                d[name] = int.from_bytes(val, "little")
                pos += 5 + ln
            sections.append(d)
    except (IndexError, UnicodeDecodeError):
        raise LinkError(f"identify answer is truncated or malformed ({len(data)} bytes)") from None
    if pos != len(data):
        raise LinkError(f"identify answer has {len(data) - pos} trailing bytes")
    if version != PROTOCOL_VERSION:
        raise LinkError(f"the board speaks host-link protocol version {version}; this host speaks "
                        f"version {PROTOCOL_VERSION}")
    return {"protocol": version, "design": design, "link": sections[0], "params": sections[1]}


def check_identity(ident, design, params):
    """Refuse (LinkError) a board whose design tag or generator parameters
    differ from what an image was built for. `params`: the image's
    parameters (only the keys given are compared)."""
    problems = []
    if ident["design"] != design:
        problems.append(f"design is {ident['design']!r}, the image is for {design!r}")
    for key, want in params.items():
        have = ident["params"].get(key)
        if have is None:
            problems.append(f"{key}: the board does not report it (image needs {want})")
        elif have != int(want):
            problems.append(f"{key}: board {have}, image {want}")
    if problems:
        raise LinkError("the board was generated for other parameters than the image: " +
                        "; ".join(problems))


# -- status ---------------------------------------------------------------------------------

#: STATUS payload: flags u8, checksum u32, run_cycles u32, rx_errors u16, frames u16
STATUS_BYTES = 13
#: flag bits of STATUS byte 0: `aborted` = the last run was ended by ABORT or the
#: watchdog (not by `done`), `watchdog` = by the watchdog; RUN clears both
STATUS_FLAGS = ("loaded", "busy", "done", "running", "aborted", "watchdog")
PROBE_BYTES = 2


def watchdog_seconds(cycles, ident, bit_seconds):
    """The time a watchdog of `cycles` allows on a board (IDENTIFY answer
    `ident`) whose line has `bit_seconds` per bit: the board's clock is
    clocks_per_bit times the baud rate."""
    cpb = ident["link"].get("clocks_per_bit") or 1
    return cycles * bit_seconds / cpb


def encode_status(loaded, busy, done, running, checksum, run_cycles, rx_errors, frames,
                  aborted=False, watchdog=False):
    flags = (int(loaded) | int(busy) << 1 | int(done) << 2 | int(running) << 3 |
             int(aborted) << 4 | int(watchdog) << 5)
    return (bytes([flags]) + checksum.to_bytes(4, "little") + run_cycles.to_bytes(4, "little") +
            rx_errors.to_bytes(2, "little") + frames.to_bytes(2, "little"))


def decode_status(payload):
    if len(payload) != STATUS_BYTES:
        raise LinkError(f"STATUS answer has {len(payload)} bytes, expected {STATUS_BYTES}")
    flags = payload[0]
    d = {name: bool(flags >> i & 1) for i, name in enumerate(STATUS_FLAGS)}
    d["checksum"] = int.from_bytes(payload[1:5], "little")
    d["run_cycles"] = int.from_bytes(payload[5:9], "little")
    d["rx_errors"] = int.from_bytes(payload[9:11], "little")
    d["frames"] = int.from_bytes(payload[11:13], "little")
    return d
