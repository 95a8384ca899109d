"""EIE memory images: the in-memory form, the directory format, and the decoder.

The layout of every file is specified in docs/image-format.md; this module is
its reference implementation. An Image holds, per PE, the flat list of 8-bit
sparse-matrix entries (v in bits [3:0], z in bits [7:4]), the flat list of
column pointers (pointer index g; even g in bank ptr_even at g // 2, odd g in
bank ptr_odd at g // 2) and the bias words; plus the layer table and codebooks.
"""

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import numpy as np

from ..hw.eie.params import EIEParams, IMAGE_FIELDS
from .errors import ImageError, CapacityError
from .atomic import atomic_dir

__all__ = ["FORMAT", "VERSION", "LayerImage", "Image", "DecodedLayer", "write_image", "read_image",
           "layer_descriptor", "parse_layer_descriptor", "load_image_or_dir"]

FORMAT = "eiegen-eie-image"
#: the generator parameters the memories were written for (a copy of the
#: manifest's params, covered by the manifest's checksums)
PARAMS_FILE = "params.json"
_PE_FILE = re.compile(r"pe(\d+)_(spmat|ptr_even|ptr_odd|bias)\.hex")
VERSION = 2          # 2: the layer table is 16-bit words, four per layer (2026-12)


@dataclasses.dataclass
class LayerImage:
    name: str
    n_in: int
    n_out: int
    relu: bool
    in_local: int          # ceil(n_in / N): source activations per PE
    out_local: int         # ceil(n_out / N): destination activations (rows) per PE
    ptr_base: int          # pointer index g of this layer's column 0
    bias_base: int         # bias word of this layer's local row 0
    codebook: list         # 16 int16 codes, codebook[0] == 0
    codebook_float: list   # the float centroids the codes came from (information only)
    entries: list          # per PE: entries of this layer (padding included)
    padding: list          # per PE: padding entries of this layer
    nonzeros: int          # non-zero weights of the layer
    n_pes: int = 1         # N of the image (not a manifest field of the layer)

    @property
    def n_cols_padded(self):
        """Columns with pointers: in_local * N (columns past n_in are empty)."""
        return self.n_pes * self.in_local

    @property
    def n_ptrs(self):
        """Pointers stored for this layer: one per padded column, plus the end."""
        return self.n_cols_padded + 1


def layer_descriptor(layer):
    """The 64-bit layer-table word (docs/image-format.md)."""
    assert layer.in_local < (1 << 16) and layer.out_local < (1 << 16)
    assert layer.ptr_base < (1 << 16) and layer.bias_base < (1 << 15)
    return (layer.in_local | (layer.out_local << 16) | (layer.ptr_base << 32)
            | (layer.bias_base << 48) | (int(layer.relu) << 63))


def parse_layer_descriptor(word):
    return {"in_local": word & 0xFFFF, "out_local": (word >> 16) & 0xFFFF,
            "ptr_base": (word >> 32) & 0xFFFF, "bias_base": (word >> 48) & 0x7FFF,
            "relu": bool(word >> 63)}


@dataclasses.dataclass
class DecodedLayer:
    """A layer rebuilt from an image: dense index matrix and fixed-point values."""
    name: str
    index: np.ndarray      # (n_out, n_in) uint8 codebook indices, 0 = zero weight
    codebook: np.ndarray   # (16,) int16 codes
    bias: np.ndarray       # (n_out,) int16 codes
    relu: bool

    @property
    def weight(self):
        """(n_out, n_in) int16 fixed-point weights."""
        return self.codebook[self.index]


@dataclasses.dataclass
class Image:
    params: EIEParams
    layers: list                 # LayerImage
    spmat: list                  # per PE: np.uint8 entries
    ptr: list                    # per PE: np.int64 pointers (by pointer index g)
    bias: list                   # per PE: np.int16 bias words
    stats: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        for layer in self.layers:
            layer.n_pes = self.params.n_pes

    # -- physical memories, as words ------------------------------------------
    def spmat_words(self, pe):
        epw = self.params.entries_per_word
        e = self.spmat[pe].astype(np.uint64)
        n_words = -(-len(e) // epw)
        pad = np.zeros(n_words * epw, dtype=np.uint64)
        pad[:len(e)] = e
        lanes = pad.reshape(n_words, epw)
        shifts = (8 * np.arange(epw)).astype(np.uint64)
        return np.bitwise_or.reduce(lanes << shifts, axis=1) if n_words else np.zeros(0, np.uint64)

    def ptr_banks(self, pe):
        p = self.ptr[pe]
        return p[0::2].astype(np.int64), p[1::2].astype(np.int64)

    def memories(self, pe):
        """The per-PE memories as (name, width in bits, words) tuples."""
        even, odd = self.ptr_banks(pe)
        return [("spmat", self.params.spmat_width, self.spmat_words(pe)),
                ("ptr_even", self.params.ptr_width, even),
                ("ptr_odd", self.params.ptr_width, odd),
                ("bias", 16, self.bias[pe].astype(np.int64) & 0xFFFF)]

    def layer_words(self):
        """The layer table: every 64-bit descriptor as four 16-bit words, low first."""
        return np.array([(layer_descriptor(l) >> (16 * i)) & 0xFFFF for l in self.layers
                         for i in range(4)], dtype=np.int64)

    def codebook_words(self):
        return np.array([c & 0xFFFF for l in self.layers for c in l.codebook], dtype=np.int64)

    # -- decoding -----------------------------------------------------------------
    def decode(self):
        """Rebuild every layer's dense index matrix from the interleaved CSC.
        Checks the structure as it goes (ImageError on anything malformed)."""
        n = self.params.n_pes
        out = []
        for li, layer in enumerate(self.layers):
            index = np.zeros((layer.out_local * n, layer.n_cols_padded), dtype=np.uint8)
            for pe in range(n):
                ptr = self.ptr[pe][layer.ptr_base: layer.ptr_base + layer.n_ptrs].astype(np.int64)
                if len(ptr) != layer.n_ptrs:
                    raise ImageError(f"layer '{layer.name}': PE {pe} has {len(ptr)} of its "
                                     f"{layer.n_ptrs} column pointers")
                counts = np.diff(ptr)
                if (counts < 0).any():
                    col = int(np.argmax(counts < 0))
                    raise ImageError(f"layer '{layer.name}': PE {pe} column {col}: pointers decrease "
                                     f"({ptr[col]} -> {ptr[col + 1]})")
                if ptr[-1] > len(self.spmat[pe]):
                    raise ImageError(f"layer '{layer.name}': PE {pe}: pointer {ptr[-1]} is past the "
                                     f"{len(self.spmat[pe])} stored entries")
                ent = self.spmat[pe][ptr[0]:ptr[-1]].astype(np.int64)
                v, z = ent & 0xF, ent >> 4
                bad = (v == 0) & (z != 15)
                if bad.any():
                    k = int(np.argmax(bad)) + int(ptr[0])
                    raise ImageError(f"layer '{layer.name}': PE {pe} entry {k}: v = 0 with z = "
                                     f"{int(z[k - ptr[0]])} (only padding entries, z = 15, may have v = 0)")
                cols = np.repeat(np.arange(len(counts)), counts)
                step = np.cumsum(z + 1)
                start = np.concatenate([[0], step])[ptr[:-1] - ptr[0]]
                rows = step - np.repeat(start, counts) - 1
                if len(rows) and rows.max() >= layer.out_local:
                    k = int(np.argmax(rows >= layer.out_local))
                    raise ImageError(f"layer '{layer.name}': PE {pe} column {int(cols[k])}: entry "
                                     f"reaches local row {int(rows[k])}, the layer has "
                                     f"{layer.out_local} rows per PE")
                nz = v != 0
                index[rows[nz] * n + pe, cols[nz]] = v[nz]
            if index[layer.n_out:, :].any() or index[:, layer.n_in:].any():
                raise ImageError(f"layer '{layer.name}': non-zero weights outside its "
                                 f"{layer.n_out} x {layer.n_in} shape")
            bias = np.zeros(layer.out_local * n, dtype=np.int16)
            for pe in range(n):
                b = self.bias[pe][layer.bias_base: layer.bias_base + layer.out_local]
                bias[pe::n][:len(b)] = b
            out.append(DecodedLayer(layer.name, index[:layer.n_out, :layer.n_in],
                                    np.array(layer.codebook, dtype=np.int16),
                                    bias[:layer.n_out], layer.relu))
        return out

    # -- capacity -----------------------------------------------------------------
    def check_capacity(self):
        """Refuse an image that does not fit its generator parameters."""
        p = self.params
        if len(self.layers) > p.max_layers:
            raise CapacityError(f"the model has {len(self.layers)} layers; the array holds "
                                f"max_layers = {p.max_layers} (over by {len(self.layers) - p.max_layers})")
        for layer in self.layers:
            for what, value in (("input", layer.in_local), ("output", layer.out_local)):
                if value > p.act_depth:
                    n_vec = layer.n_in if what == "input" else layer.n_out
                    raise CapacityError(
                        f"layer '{layer.name}': its {what} vector of {n_vec} needs {value} activations "
                        f"per PE; the activation file holds act_depth = {p.act_depth} "
                        f"(over by {value - p.act_depth}; at most {p.max_inputs} with {p.n_pes} PEs)")
        for pe in range(p.n_pes):
            for name, _, words in self.memories(pe):
                depth = {"spmat": p.spmat_depth, "ptr_even": p.ptr_depth, "ptr_odd": p.ptr_depth,
                         "bias": p.bias_depth}[name]
                if len(words) > depth:
                    culprit = self._first_layer_over(name, pe, depth)
                    raise CapacityError(
                        f"layer '{culprit}': PE {pe} {name} memory needs {len(words)} words, "
                        f"depth is {depth} (over by {len(words) - depth} words)")
        for layer in self.layers:
            if layer.ptr_base + layer.n_ptrs > (1 << 16):
                raise CapacityError(f"layer '{layer.name}': pointer base beyond the 16-bit field")

    def _first_layer_over(self, mem, pe, depth):
        epw = self.params.entries_per_word
        for layer in self.layers:
            if mem == "spmat":
                end = -(-int(self.ptr[pe][layer.ptr_base + layer.n_ptrs - 1]) // epw)
            elif mem in ("ptr_even", "ptr_odd"):
                end = (layer.ptr_base + layer.n_ptrs + (1 if mem == "ptr_even" else 0)) // 2
            else:
                end = layer.bias_base + layer.out_local
            if end > depth:
                return layer.name
        return self.layers[-1].name

    # -- manifest -------------------------------------------------------------------
    def manifest(self):
        p = self.params
        return {
            "format": FORMAT,
            "version": VERSION,
            "params": p.to_dict(),
            "layers": [{
                "name": l.name, "n_in": l.n_in, "n_out": l.n_out, "relu": l.relu,
                "in_local": l.in_local, "out_local": l.out_local,
                "ptr_base": l.ptr_base, "n_ptrs": l.n_ptrs, "bias_base": l.bias_base,
                "codebook": [int(c) for c in l.codebook],
                "codebook_float": [float(c) for c in l.codebook_float],
                "entries": [int(e) for e in l.entries], "padding": [int(e) for e in l.padding],
                "nonzeros": int(l.nonzeros),
            } for l in self.layers],
            "memories": {
                name: {"width": width, "depth": depth,
                       "used": [len(dict((m[0], m[2]) for m in self.memories(pe))[name])
                                for pe in range(p.n_pes)]}
                for name, width, depth in (("spmat", p.spmat_width, p.spmat_depth),
                                           ("ptr_even", p.ptr_width, p.ptr_depth),
                                           ("ptr_odd", p.ptr_width, p.ptr_depth),
                                           ("bias", 16, p.bias_depth))
            },
            "stats": self.stats,
        }


# -- hex files ----------------------------------------------------------------------

def _hex_digits(width):
    return -(-width // 4)


def _hex_text(words, width):
    d = _hex_digits(width)
    words = np.asarray(words, dtype=np.uint64)
    if len(words) == 0:
        return ""
    return "\n".join(f"{int(w):0{d}x}" for w in words) + "\n"


def _parse_hex(path, width, name):
    d = _hex_digits(width)
    words = []
    try:
        text = path.read_text()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc})") from None
    pat = re.compile(rf"[0-9a-fA-F]{{{d}}}")
    for lineno, line in enumerate(text.splitlines(), 1):
        if not pat.fullmatch(line):
            raise ImageError(f"{path}:{lineno}: expected a {width}-bit word as {d} hex digits, "
                             f"got {line[:40]!r}")
        w = int(line, 16)
        if w >> width:
            raise ImageError(f"{path}:{lineno}: word 0x{line} is wider than {width} bits")
        words.append(w)
    return np.array(words, dtype=np.uint64)


def pe_file(pe, mem):
    return f"pe{pe:02d}_{mem}.hex"


def write_image(image, out_dir, *, extra_files=None, force=False):
    """Write the image directory atomically (nothing is left behind on error).
    An existing `out_dir` must be an earlier image (or empty) unless `force`."""
    image.check_capacity()
    out_dir = Path(out_dir)
    with atomic_dir(out_dir, kind="eie-image", force=force) as tmp:
        files = {}

        def put(name, data):
            data = data.encode() if isinstance(data, str) else data
            (tmp / name).write_bytes(data)
            files[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}

        # the parameters the memories were written for, checksummed like every
        # file: a manifest whose params were changed afterwards is refused by name
        put(PARAMS_FILE, json.dumps(image.params.to_dict(), indent=1) + "\n")
        put("layers.hex", _hex_text(image.layer_words(), 16))
        put("codebook.hex", _hex_text(image.codebook_words(), 16))
        for pe in range(image.params.n_pes):
            for name, width, words in image.memories(pe):
                put(pe_file(pe, name), _hex_text(words, width))
        frames = _image_frames(image)
        if frames is not None:
            put("image.bin", frames)
        for name, data in (extra_files or {}).items():
            put(name, data)
        manifest = image.manifest()
        manifest["files"] = files
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return out_dir


def _image_frames(image):
    try:
        from .linkimage import image_frames
    except ImportError:       # the host-link protocol is not available
        return None
    return b"".join(image_frames(image))


def _req(d, key, where, kind):
    if key not in d:
        raise ImageError(f"{where}: missing field '{key}'")
    if not isinstance(d[key], kind) or (kind is int and isinstance(d[key], bool)):
        raise ImageError(f"{where}: field '{key}' must be {kind.__name__}, got {d[key]!r}")
    return d[key]


def read_image(path):
    """Read and verify an image directory (manifest, checksums, every word)."""
    path = Path(path)
    mpath = path / "manifest.json"
    if not path.is_dir():
        raise ImageError(f"{path}: not an image directory")
    if not mpath.exists():
        raise ImageError(f"{path}: no manifest.json (not an eiegen image, or truncated)")
    try:
        m = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ImageError(f"{mpath}: corrupted manifest ({exc})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise ImageError(f"{mpath}: not an {FORMAT} manifest")
    if m.get("version") != VERSION:
        raise ImageError(f"{mpath}: format version {m.get('version')!r}; this eiegen reads version {VERSION}")
    params_d = _req(m, "params", mpath, dict)
    for f in IMAGE_FIELDS:
        _req(params_d, f, f"{mpath} params", int)
    try:
        params = EIEParams.from_dict(params_d)
    except ValueError as exc:
        raise ImageError(f"{mpath}: invalid params ({exc})") from None
    files = _req(m, "files", mpath, dict)
    for name, info in files.items():
        fp = path / name
        if not fp.exists():
            raise ImageError(f"{fp}: listed in the manifest but missing")
        data = fp.read_bytes()
        if len(data) != info.get("bytes") or hashlib.sha256(data).hexdigest() != info.get("sha256"):
            raise ImageError(f"{fp}: checksum mismatch (file corrupted or truncated: "
                             f"{len(data)} bytes, manifest says {info.get('bytes')})")
    _check_params_against_files(path, mpath, params, files)
    needed = ["layers.hex", "codebook.hex"] + [
        pe_file(pe, mem) for pe in range(params.n_pes) for mem in ("spmat", "ptr_even", "ptr_odd", "bias")]
    for name in needed:
        if name not in files:
            raise ImageError(f"{mpath}: file '{name}' is not listed")
    layers = []
    for i, ld in enumerate(_req(m, "layers", mpath, list)):
        where = f"{mpath} layer {i}"
        if not isinstance(ld, dict):
            raise ImageError(f"{where}: not an object")
        kw = {k: _req(ld, k, where, int) for k in
              ("n_in", "n_out", "in_local", "out_local", "ptr_base", "bias_base", "nonzeros")}
        kw["name"] = _req(ld, "name", where, str)
        kw["relu"] = _req(ld, "relu", where, bool)
        for k in ("codebook", "codebook_float", "entries", "padding"):
            kw[k] = _req(ld, k, where, list)
        if len(kw["codebook"]) != 16 or kw["codebook"][0] != 0:
            raise ImageError(f"{where}: codebook must have 16 entries with entry 0 = 0")
        _check_layer_params(mpath, params, LayerImage(**kw))
        layers.append(LayerImage(**kw))
    # the hex files are the truth; the manifest's layer fields must agree with layers.hex
    quarters = _parse_hex(path / "layers.hex", 16, "layers")
    if len(quarters) != 4 * len(layers):
        raise ImageError(f"{path / 'layers.hex'}: {len(quarters)} words for {len(layers)} layers "
                         f"(four 16-bit words a layer)")
    words = [sum(int(quarters[4 * i + q]) << (16 * q) for q in range(4)) for i in range(len(layers))]
    for layer, w in zip(layers, words):
        d = parse_layer_descriptor(int(w))
        for k, v in d.items():
            if getattr(layer, k) != v:
                raise ImageError(f"{path / 'layers.hex'}: layer '{layer.name}' {k} = {v}, "
                                 f"manifest says {getattr(layer, k)}")
    cb = _parse_hex(path / "codebook.hex", 16, "codebook").astype(np.int64)
    cb = np.where(cb >= 1 << 15, cb - (1 << 16), cb)
    if len(cb) != 16 * len(layers):
        raise ImageError(f"{path / 'codebook.hex'}: {len(cb)} words for {len(layers)} layers x 16")
    for i, layer in enumerate(layers):
        if list(cb[16 * i:16 * i + 16]) != list(layer.codebook):
            raise ImageError(f"{path / 'codebook.hex'}: layer '{layer.name}' codebook differs from the manifest")
    spmat, ptr, bias = [], [], []
    epw = params.entries_per_word
    for pe in range(params.n_pes):
        w = _parse_hex(path / pe_file(pe, "spmat"), params.spmat_width, "spmat")
        ent = ((w[:, None] >> (8 * np.arange(epw, dtype=np.uint64))) & np.uint64(0xFF)).astype(np.uint8).ravel()
        even = _parse_hex(path / pe_file(pe, "ptr_even"), params.ptr_width, "ptr_even").astype(np.int64)
        odd = _parse_hex(path / pe_file(pe, "ptr_odd"), params.ptr_width, "ptr_odd").astype(np.int64)
        if len(even) not in (len(odd), len(odd) + 1):
            raise ImageError(f"{path / pe_file(pe, 'ptr_even')}: {len(even)} words beside "
                             f"{len(odd)} in the odd bank")
        p = np.empty(len(even) + len(odd), dtype=np.int64)
        p[0::2], p[1::2] = even, odd
        b = _parse_hex(path / pe_file(pe, "bias"), 16, "bias").astype(np.int64)
        b = np.where(b >= 1 << 15, b - (1 << 16), b).astype(np.int16)
        n_entries = int(p[-1]) if len(p) else 0
        if n_entries > len(ent) or len(ent) - n_entries >= epw:
            raise ImageError(f"{path / pe_file(pe, 'spmat')}: {len(w)} words do not hold the "
                             f"{n_entries} entries the pointers address")
        spmat.append(ent[:n_entries])
        ptr.append(p)
        bias.append(b)
    image = Image(params, layers, spmat, ptr, bias, m.get("stats", {}))
    image.check_capacity()
    image.decode()   # structural check of every column
    return image


#: `eiegen pack`'s option for an image field (the rest are the field's name with dashes)
PACK_OPTIONS = {"n_pes": "--pes"}


def pack_option(field):
    """The `eiegen pack` option that sets image field `field`."""
    return PACK_OPTIONS.get(field, "--" + field.replace("_", "-"))


def _disagrees(mpath, field, value, evidence):
    return ImageError(f"{mpath}: params.{field} = {value} disagrees with the image: {evidence}. "
                      f"An image is packed for one set of generator parameters; pack the model "
                      f"again (eiegen pack ... {pack_option(field)} N) instead of editing the "
                      f"manifest")


def _check_params_against_files(path, mpath, params, files):
    """The manifest's params against what the checksummed files say, naming the
    field that disagrees (before any file is read as memory words)."""
    if PARAMS_FILE in files:
        try:
            written = json.loads((path / PARAMS_FILE).read_text())
        except (OSError, ValueError) as exc:
            raise ImageError(f"{path / PARAMS_FILE}: unreadable ({exc})") from None
        for f in IMAGE_FIELDS:
            if written.get(f) != getattr(params, f):
                raise _disagrees(mpath, f, getattr(params, f),
                                 f"its memories were written for {f} = {written.get(f)} ({PARAMS_FILE})")
    pes = sorted({int(m.group(1)) for name in files for m in [_PE_FILE.fullmatch(name)] if m})
    if pes != list(range(params.n_pes)):
        held = f"PEs {pes[0]}..{pes[-1]}" if pes else "no PE"
        raise _disagrees(mpath, "n_pes", params.n_pes,
                         f"it holds memory files for {len(pes)} PE(s) ({held})")


def _check_layer_params(mpath, params, layer):
    if len(layer.entries) != params.n_pes or len(layer.padding) != params.n_pes:
        raise _disagrees(mpath, "n_pes", params.n_pes, f"layer '{layer.name}' lists entries for "
                         f"{len(layer.entries)} PE(s)")
    from .fixedpoint import to_fixed
    cf = np.asarray(layer.codebook_float, dtype=np.float64)
    if len(cf) == 16 and np.isfinite(cf).all():
        codes = to_fixed(cf, params.frac).astype(np.int64)
        codes[0] = 0
        if list(codes) != list(layer.codebook):
            fits = [f for f in range(16) if list(np.r_[0, to_fixed(cf[1:], f)]) == list(layer.codebook)]
            made = f" (they were made with frac = {fits[0]})" if fits else ""
            raise _disagrees(mpath, "frac", params.frac, f"layer '{layer.name}': its codebook's float "
                             f"values do not round to its codes with frac = {params.frac}{made}")


def load_image_or_dir(path):
    return read_image(path)
