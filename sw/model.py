"""Models as eiegen sees them: an ordered chain of fully connected layers.

A *float model* holds trained weights W (outputs x inputs), biases and a
ReLU flag per layer. A *compressed model* holds, per layer, a codebook of
float centroids (entry 0 reserved for 0.0) and a matrix of codebook indices
(0 = pruned), which is what Deep Compression produces and the packer reads.

File formats (see docs/model-files.md):
- float .npz: arrays `<layer>.weight` (2-D) and optional `<layer>.bias`
  (1-D) and `<layer>.relu` (0-d bool), layers in archive order; the last
  layer has no ReLU unless `<layer>.relu` says so;
- PyTorch state_dict (.pt/.pth), same names, read only when torch is installed;
- compressed .npz: marker `__eiegen_compressed__` and, per layer,
  `<layer>.codebook`, `<layer>.index`, `<layer>.bias`, `<layer>.relu`.
"""

import dataclasses
import zipfile
from pathlib import Path

import numpy as np

from .errors import ModelError
from .atomic import atomic_file

__all__ = ["FloatLayer", "FloatModel", "CompressedLayer", "CompressedModel",
           "load_model", "load_float_model", "save_float_model", "save_compressed_model",
           "COMPRESSED_MARKER"]

COMPRESSED_MARKER = "__eiegen_compressed__"


def _check_matrix(name, what, a, ndim):
    a = np.asarray(a)
    if a.ndim != ndim:
        raise ModelError(f"layer '{name}': {what} must be {ndim}-D, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise ModelError(f"layer '{name}': {what} has non-real dtype {a.dtype}")
    if a.size == 0:
        raise ModelError(f"layer '{name}': {what} is empty (shape {a.shape})")
    if np.issubdtype(a.dtype, np.floating):
        bad = ~np.isfinite(a)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            kind = "NaN" if np.isnan(a[idx]) else "Inf"
            raise ModelError(f"layer '{name}': {what} has {int(bad.sum())} non-finite value(s); "
                             f"first is {kind} at index {idx}")
    return a


@dataclasses.dataclass
class FloatLayer:
    name: str
    weight: np.ndarray            # (outputs, inputs) float
    bias: np.ndarray | None = None
    relu: bool = True

    def __post_init__(self):
        self.weight = _check_matrix(self.name, "weight", self.weight, 2).astype(np.float64)
        if self.bias is not None:
            self.bias = _check_matrix(self.name, "bias", self.bias, 1).astype(np.float64)
            if self.bias.shape[0] != self.weight.shape[0]:
                raise ModelError(f"layer '{self.name}': bias has {self.bias.shape[0]} entries "
                                 f"but the weight has {self.weight.shape[0]} outputs")
        self.relu = bool(self.relu)

    @property
    def shape(self):
        return self.weight.shape


@dataclasses.dataclass
class CompressedLayer:
    name: str
    codebook: np.ndarray          # (K,) float, K <= 16 for EIE, codebook[0] == 0.0
    index: np.ndarray             # (outputs, inputs) uint8, 0 = pruned
    bias: np.ndarray | None = None
    relu: bool = True

    def __post_init__(self):
        self.codebook = _check_matrix(self.name, "codebook", self.codebook, 1).astype(np.float64)
        if self.codebook[0] != 0.0:
            raise ModelError(f"layer '{self.name}': codebook entry 0 is reserved for 0.0, "
                             f"got {self.codebook[0]}")
        index = _check_matrix(self.name, "index", self.index, 2)
        if not np.issubdtype(index.dtype, np.integer):
            raise ModelError(f"layer '{self.name}': index must be integer, got {index.dtype}")
        if index.min() < 0 or index.max() >= len(self.codebook):
            raise ModelError(f"layer '{self.name}': index values must be in [0, {len(self.codebook)}), "
                             f"got [{index.min()}, {index.max()}]")
        self.index = index.astype(np.uint8)
        if self.bias is not None:
            self.bias = _check_matrix(self.name, "bias", self.bias, 1).astype(np.float64)
            if self.bias.shape[0] != self.index.shape[0]:
                raise ModelError(f"layer '{self.name}': bias has {self.bias.shape[0]} entries "
                                 f"but the layer has {self.index.shape[0]} outputs")
        self.relu = bool(self.relu)

    @property
    def shape(self):
        return self.index.shape

    def dense(self):
        """The quantized weight matrix as floats."""
        return self.codebook[self.index]


def _check_chain(layers, kind):
    if not layers:
        raise ModelError(f"the {kind} model has no layers")
    names = set()
    for prev, layer in zip([None] + layers[:-1], layers):
        if layer.name in names:
            raise ModelError(f"layer name '{layer.name}' appears twice")
        names.add(layer.name)
        if prev is not None and prev.shape[0] != layer.shape[1]:
            raise ModelError(f"layer chain mismatch: '{prev.name}' has {prev.shape[0]} outputs "
                             f"but '{layer.name}' takes {layer.shape[1]} inputs")


@dataclasses.dataclass
class FloatModel:
    layers: list

    def __post_init__(self):
        _check_chain(self.layers, "float")

    def forward(self, x):
        """Plain float64 inference; x is (inputs,) or (batch, inputs)."""
        x = np.asarray(x, dtype=np.float64)
        for layer in self.layers:
            x = x @ layer.weight.T
            if layer.bias is not None:
                x = x + layer.bias
            if layer.relu:
                x = np.maximum(x, 0)
        return x


@dataclasses.dataclass
class CompressedModel:
    layers: list

    def __post_init__(self):
        _check_chain(self.layers, "compressed")

    def forward(self, x):
        """Float inference with the quantized weights (no fixed point)."""
        x = np.asarray(x, dtype=np.float64)
        for layer in self.layers:
            x = x @ layer.dense().T
            if layer.bias is not None:
                x = x + layer.bias
            if layer.relu:
                x = np.maximum(x, 0)
        return x


def _layers_from_arrays(arrays, source):
    """Group `<layer>.weight|bias|relu` arrays (in order) into FloatLayers."""
    order, groups = [], {}
    for key, value in arrays.items():
        if "." not in key:
            raise ModelError(f"{source}: array '{key}' is not named '<layer>.weight' or '<layer>.bias'")
        lname, _, field = key.rpartition(".")
        if field not in ("weight", "bias", "relu"):
            raise ModelError(f"{source}: array '{key}': unknown field '{field}' "
                             "(expected weight, bias or relu)")
        if lname not in groups:
            order.append(lname)
            groups[lname] = {}
        groups[lname][field] = value
    layers = []
    for i, lname in enumerate(order):
        g = groups[lname]
        if "weight" not in g:
            raise ModelError(f"{source}: layer '{lname}' has no '{lname}.weight'")
        relu = bool(np.asarray(g["relu"]).item()) if "relu" in g else (i < len(order) - 1)
        layers.append(FloatLayer(lname, g["weight"], g.get("bias"), relu))
    return layers


def _open_npz(path):
    try:
        return np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ModelError(f"{path}: not a readable .npz archive ({exc})") from None


def load_float_model(path):
    model = load_model(path)
    if not isinstance(model, FloatModel):
        raise ModelError(f"{path}: expected a float model, got a compressed one")
    return model


def load_model(path):
    """Load a float or compressed model from .npz, or a float model from a
    PyTorch state_dict (.pt, .pth)."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with _open_npz(path) as npz:
            try:
                arrays = {k: npz[k] for k in npz.files}
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
                raise ModelError(f"{path}: corrupted .npz archive ({exc})") from None
        if COMPRESSED_MARKER in arrays:
            return _compressed_from_arrays(arrays, path)
        return FloatModel(_layers_from_arrays(arrays, path))
    if suffix in (".pt", ".pth"):
        try:
            import torch
        except ImportError:
            raise ModelError(f"{path}: reading a PyTorch state_dict needs torch, which is not "
                             "installed (pip install torch), or save the weights as .npz") from None
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelError(f"{path}: not a readable PyTorch file ({exc})") from None
        if not isinstance(state, dict):
            raise ModelError(f"{path}: expected a state_dict (a dict of tensors), got {type(state).__name__}")
        arrays = {}
        for key, value in state.items():
            if not hasattr(value, "detach"):
                raise ModelError(f"{path}: entry '{key}' is not a tensor")
            arrays[key] = value.detach().cpu().double().numpy()
        return FloatModel(_layers_from_arrays(arrays, path))
    raise ModelError(f"{path}: unknown model format '{suffix or '(no extension)'}'; "
                     "expected .npz (float or compressed) or .pt/.pth (PyTorch state_dict)")


def _compressed_from_arrays(arrays, source):
    order, groups = [], {}
    for key, value in arrays.items():
        if key == COMPRESSED_MARKER:
            continue
        lname, _, field = key.rpartition(".")
        if field not in ("codebook", "index", "bias", "relu"):
            raise ModelError(f"{source}: array '{key}': unknown field in a compressed model")
        if lname not in groups:
            order.append(lname)
            groups[lname] = {}
        groups[lname][field] = value
    layers = []
    for lname in order:
        g = groups[lname]
        for need in ("codebook", "index", "relu"):
            if need not in g:
                raise ModelError(f"{source}: compressed layer '{lname}' lacks '{lname}.{need}'")
        layers.append(CompressedLayer(lname, g["codebook"], g["index"], g.get("bias"),
                                      bool(np.asarray(g["relu"]).item())))
    return CompressedModel(layers)


def save_float_model(model, path):
    arrays = {}
    for layer in model.layers:
        arrays[f"{layer.name}.weight"] = layer.weight
        if layer.bias is not None:
            arrays[f"{layer.name}.bias"] = layer.bias
        arrays[f"{layer.name}.relu"] = np.array(layer.relu)
    with atomic_file(path) as f:
        np.savez(f, **arrays)


def save_compressed_model(model, path):
    arrays = {COMPRESSED_MARKER: np.array(1)}
    for layer in model.layers:
        arrays[f"{layer.name}.codebook"] = layer.codebook
        arrays[f"{layer.name}.index"] = layer.index
        if layer.bias is not None:
            arrays[f"{layer.name}.bias"] = layer.bias
        arrays[f"{layer.name}.relu"] = np.array(layer.relu)
    with atomic_file(path) as f:
        np.savez_compressed(f, **arrays)
