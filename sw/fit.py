"""Memory depths fitted to a model: the smallest EIE array that holds it.

Plain Python beside the packer (core layer): the CLI (`eiegen pack --fit`),
the end-to-end flow and the benchmarks all size their arrays here.
"""

from .errors import EiegenError

__all__ = ["fit_params"]


def _pow2(n):
    return 1 << max(0, (max(1, int(n)) - 1).bit_length())


def fit_params(model, params, explicit=()):
    """Smallest power-of-two memory depths that hold `model` (a CompressedModel)
    for params' N and word format; depths named in `explicit` are kept."""
    from .packer import pack
    big = params.replace(spmat_depth=1 << 20, ptr_depth=1 << 16, bias_depth=1 << 15,
                         act_depth=1 << 12, max_layers=max(len(model.layers), 1))
    image = pack(model, big, check=False)
    epw = params.entries_per_word
    need = {
        "spmat_depth": _pow2(max(-(-len(s) // epw) for s in image.spmat)),
        "ptr_depth": _pow2(max(-(-len(p) // 2) for p in image.ptr)),
        "bias_depth": _pow2(max(len(b) for b in image.bias)),
        "act_depth": _pow2(max(max(l.in_local, l.out_local) for l in image.layers)),
        "max_layers": _pow2(len(model.layers)),
    }
    for k in explicit:
        need.pop(k, None)
    try:
        return params.replace(**need)
    except ValueError as exc:
        raise EiegenError(f"the model does not fit any array with these parameters: {exc}") from None
