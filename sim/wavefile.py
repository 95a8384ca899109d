"""The signals a wave file holds (VCD or FST), in plain Python.

`signals(path)` lists the hierarchical names ("eie_top.start") of the
variables declared in a VCD file or in an FST file's hierarchy block
(gzip- or LZ4-compressed, as Icarus and Verilator write them). It reads the
declarations only, not the values: enough to check that a recording holds
the design's signals, and to tell a user what a file holds.
"""

import gzip
import struct
from pathlib import Path

__all__ = ["signals", "WaveFileError"]


class WaveFileError(ValueError):
    pass


def signals(path):
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) == 9 and head[0] == 0 and struct.unpack(">Q", head[1:])[0] == 329:
        return _fst_signals(path.read_bytes())
    return _vcd_signals(path)


# -- VCD ----------------------------------------------------------------------------------

def _vcd_signals(path):
    names, scope = [], []
    with open(path, "r", errors="replace") as f:
        tokens = []
        for line in f:
            if line.lstrip().startswith("$enddefinitions"):
                break
            tokens += line.split()
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t == "$scope":
            scope.append(tokens[i + 2])
            i += 3
        elif t == "$upscope":
            scope.pop()
            i += 1
        elif t == "$var":
            names.append(".".join(scope + [tokens[i + 4]]))
            i += 5
        else:
            i += 1
    if not names:
        raise WaveFileError(f"{path}: no variables declared (not a VCD file?)")
    return names


# -- FST ----------------------------------------------------------------------------------

_HDR, _HIER, _HIER_LZ4, _HIER_LZ4DUO = 0, 4, 6, 7
_SCOPE, _UPSCOPE, _ATTRBEGIN, _ATTREND = 254, 255, 252, 253


def _varint(data, i):
    v = shift = 0
    while True:
        b = data[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def _lz4_block(src, size):
    """Decompress one LZ4 block (the format is public: token, literals, offset, match)."""
    out = bytearray()
    i = 0
    while i < len(src):
        token = src[i]
        i += 1
        n = token >> 4
        if n == 15:
            while True:
                b = src[i]
                i += 1
                n += b
                if b != 255:
                    break
        out += src[i:i + n]
        i += n
        if i >= len(src) or len(out) >= size:
            break
        offset = src[i] | src[i + 1] << 8
        i += 2
        m = token & 15
        if m == 15:
            while True:
                b = src[i]
                i += 1
                m += b
                if b != 255:
                    break
        m += 4
        start = len(out) - offset
        if start < 0:
            raise WaveFileError("corrupt LZ4 data")
        for k in range(m):
            out.append(out[start + k])
    return bytes(out)


def _fst_hierarchy(data):
    pos = 0
    while pos + 9 <= len(data):
        kind = data[pos]
        length = struct.unpack(">Q", data[pos + 1:pos + 9])[0]
        body = data[pos + 9:pos + 1 + length]
        if kind == _HIER:
            return gzip.decompress(body[8:])
        if kind == _HIER_LZ4:
            size = struct.unpack(">Q", body[:8])[0]
            return _lz4_block(body[8:], size)
        if kind == _HIER_LZ4DUO:
            size = struct.unpack(">Q", body[:8])[0]
            inner, i = _varint(body, 8)
            return _lz4_block(_lz4_block(body[i:], inner), size)
        pos += 1 + length
    raise WaveFileError("no hierarchy block (an FST file still being written?)")


def _fst_signals(data):
    h = _fst_hierarchy(data)
    names, scope = [], []
    i = 0

    def cstr(i):
        j = h.index(b"\0", i)
        return h[i:j].decode("utf-8", "replace"), j + 1

    while i < len(h):
        t = h[i]
        i += 1
        if t == _SCOPE:
            i += 1                                    # scope type
            name, i = cstr(i)
            _, i = cstr(i)                            # component
            scope.append(name)
        elif t == _UPSCOPE:
            scope.pop()
        elif t == _ATTRBEGIN:
            i += 2                                    # attribute type, subtype
            _, i = cstr(i)
            _, i = _varint(h, i)
        elif t == _ATTREND:
            pass
        elif t <= 29:                                 # a variable: type, direction, name, length, alias
            i += 1
            name, i = cstr(i)
            _, i = _varint(h, i)
            _, i = _varint(h, i)
            names.append(".".join(scope + [name]))
        else:
            raise WaveFileError(f"unknown FST hierarchy record {t}")
    return names
