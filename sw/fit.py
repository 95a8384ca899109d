"""Does a compressed model fit an EIE array, and what would make it fit.

Plain Python and numpy (the core layer): `model_needs` packs a model for an
array's N and word format with unbounded memories and reads off what each
memory must hold; `fit` compares that with an array's EIEParams and names
the generator options (`eiegen pack` / `eiegen build`: `--spmat-depth`,
`--ptr-depth`, `--bias-depth`, `--act-depth`, `--max-layers`) that make it
fit, the smallest power of two for each memory that is too small;
`capacity` is the other direction, the largest layers an array accepts;
`inference_cycles` is the cycle model's count for a model on an array.
Which depths a board can actually hold (block RAM, SPRAM) is the board's
business (boards/capacity.py); `eiegen fit` puts the two together.
"""

import dataclasses

import numpy as np

from ..hw.eie.params import EIEParams
from .errors import EiegenError
from .packer import MEMORIES, memory_needs, options_text, pow2

__all__ = ["MEMORIES", "Need", "FitResult", "model_needs", "fit", "capacity", "inference_cycles",
           "options_text", "pow2", "fit_params"]

_OPTION = {f: o for f, o, _ in MEMORIES}
_WHAT = {f: w for f, _, w in MEMORIES}


@dataclasses.dataclass(frozen=True)
class Need:
    field: str            # EIEParams field
    need: int             # what the model needs
    have: int             # what the array has

    @property
    def ok(self):
        return self.need <= self.have

    @property
    def option(self):
        return _OPTION[self.field]

    @property
    def what(self):
        return _WHAT[self.field]


@dataclasses.dataclass
class FitResult:
    params: EIEParams           # the array asked about
    needs: list                 # Need per memory
    fitted: EIEParams           # params with every short memory grown to a power of two
    max_inputs: int             # the widest layer input / output of the model
    max_outputs: int

    @property
    def fits(self):
        return all(n.ok for n in self.needs)

    @property
    def short(self):
        return [n for n in self.needs if not n.ok]

    def options(self):
        """{option: value} that make the model fit (empty when it fits)."""
        return {n.option: getattr(self.fitted, n.field) for n in self.short}


def model_needs(model, params):
    """{EIEParams field: what `model` (a CompressedModel) needs} for an array
    with params' N and word format (sw/packer.py memory_needs)."""
    return memory_needs(model, params)


def fit(model, params):
    """FitResult of `model` on an array with EIEParams `params`."""
    need = model_needs(model, params)
    needs = [Need(f, need[f], getattr(params, f)) for f, _, _ in MEMORIES]
    grown = {n.field: pow2(n.need) for n in needs if not n.ok}
    try:
        fitted = params.replace(**grown)
    except ValueError:
        fitted = None              # beyond what any EIE array may have (EIEParams' limits)
    return FitResult(params, needs, fitted, max(l.shape[1] for l in model.layers),
                     max(l.shape[0] for l in model.layers))


def fit_params(model, params, explicit=()):
    """Smallest power-of-two memory depths that hold `model` (a CompressedModel)
    for params' N and word format; depths named in `explicit` are kept (the
    sizing `eiegen pack --fit`, the end-to-end flow and the benchmarks use)."""
    need = {k: pow2(v) for k, v in model_needs(model, params).items() if k not in explicit}
    try:
        return params.replace(**need)
    except ValueError as exc:
        raise EiegenError(f"the model does not fit any array with these parameters: {exc}") from None


def capacity(params):
    """The largest model an array with EIEParams `params` accepts, as
    {'max_inputs', 'max_outputs', 'entries_per_pe', 'nonzeros', 'pointers',
    'rows', 'layers'}:

    - a layer's input and output vectors each hold at most `max_inputs`
      values (N activation files of act_depth);
    - each PE holds `entries_per_pe` entries (v, z) for all layers together
      (a non-zero is one entry; a run of 16 zeros in a column of a PE costs a
      padding entry), so a perfectly balanced model has at most `nonzeros`;
    - the layers together use at most `pointers` column pointers (a layer of
      n inputs uses n rounded up to a multiple of N, plus one);
    - and at most `rows` output rows (n outputs rounded up to N);
    - `layers` layers."""
    n = params.n_pes
    return {
        "max_inputs": n * params.act_depth,
        "max_outputs": n * params.act_depth,
        "entries_per_pe": params.entry_capacity,
        "nonzeros": n * params.entry_capacity,
        "pointers": 2 * params.ptr_depth,
        "rows": n * params.bias_depth,
        "layers": params.max_layers,
    }


def inference_cycles(image, fifo_depth, inputs=None):
    """Cycles of one inference by the cycle model (sim/eie_cycles.py):
    with `inputs` (int16, (batch, n_in)) their mean and range, else the
    slowest case, every activation of every layer non-zero. Returns
    (mean, min, max)."""
    from ..sim.eie_cycles import simulate
    if inputs is None:
        worst = [np.ones(layer.n_in, dtype=np.int64) for layer in image.layers]
        c = simulate(image, worst[0], fifo_depth=fifo_depth, layer_inputs=worst).total_cycles
        return float(c), int(c), int(c)
    counts = [simulate(image, x, fifo_depth=fifo_depth).total_cycles
              for x in np.atleast_2d(np.asarray(inputs))]
    return float(np.mean(counts)), int(min(counts)), int(max(counts))
