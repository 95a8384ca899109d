"""Models as eiegen sees them: an ordered chain of fully connected layers.

A *float model* holds trained weights W (outputs x inputs), biases and a
ReLU flag per layer. A *compressed model* holds, per layer, a codebook of
float centroids (entry 0 reserved for 0.0) and a matrix of codebook indices
(0 = pruned), which is what Deep Compression produces and the packer reads.

File formats (docs/compression.md, "Input models" and "Compressed model file"):
- float .npz: arrays `<layer>.weight` (2-D) and optional `<layer>.bias`
  (1-D) and `<layer>.relu` (0-d bool), layers in archive order; the last
  layer has no ReLU unless `<layer>.relu` says so;
- PyTorch state_dict (.pt/.pth), same names, read only when torch is installed;
- ONNX (.onnx): a chain of Gemm or MatMul + Add layers with Relu, Flatten or
  Reshape at the input and an optional final Softmax (load_onnx_model);
- compressed .npz: marker `__eiegen_compressed__` and, per layer,
  `<layer>.codebook`, `<layer>.index`, `<layer>.bias`, `<layer>.relu` and
  the pruning target used, `<layer>.sparsity` (optional).
"""

import dataclasses
import zipfile
from pathlib import Path

import numpy as np

from .errors import ModelError
from .atomic import atomic_file

__all__ = ["FloatLayer", "FloatModel", "CompressedLayer", "CompressedModel",
           "load_model", "load_float_model", "load_onnx_model", "save_float_model",
           "save_compressed_model", "COMPRESSED_MARKER"]

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
    sparsity: float | None = None  # the pruning target that was used, when known

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
        if self.sparsity is not None:
            self.sparsity = float(self.sparsity)
            if not 0.0 <= self.sparsity < 1.0:
                raise ModelError(f"layer '{self.name}': sparsity {self.sparsity} is outside [0, 1)")

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
    """Load a float or compressed model from .npz, or a float model from ONNX
    (.onnx) or a PyTorch state_dict (.pt, .pth)."""
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
    if suffix == ".onnx":
        return load_onnx_model(path)
    raise ModelError(f"{path}: unknown model format '{suffix or '(no extension)'}'; "
                     "expected .npz (float or compressed), .onnx or .pt/.pth (PyTorch state_dict)")


def _compressed_from_arrays(arrays, source):
    order, groups = [], {}
    for key, value in arrays.items():
        if key == COMPRESSED_MARKER:
            continue
        lname, _, field = key.rpartition(".")
        if field not in ("codebook", "index", "bias", "relu", "sparsity"):
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
        sparsity = float(np.asarray(g["sparsity"]).item()) if "sparsity" in g else None
        layers.append(CompressedLayer(lname, g["codebook"], g["index"], g.get("bias"),
                                      bool(np.asarray(g["relu"]).item()), sparsity))
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
        if layer.sparsity is not None:
            arrays[f"{layer.name}.sparsity"] = np.array(layer.sparsity)
    with atomic_file(path) as f:
        np.savez_compressed(f, **arrays)


# -- ONNX ------------------------------------------------------------------------

ONNX_SUPPORTED = ("a chain of Gemm or MatMul + Add layers, each optionally followed by Relu, "
                  "with Flatten or Reshape at the input and an optional final Softmax")
_PASS_OPS = ("Identity", "Dropout")                      # no-ops at inference
_LABEL_OPS = ("ArgMax", "ZipMap")                        # a classifier's label output starts here
_HEAD_OPS = _LABEL_OPS + ("ArrayFeatureExtractor", "Reshape", "Cast", "Identity", "Squeeze")
_FLOAT_TYPES = (1, 10, 11, 16)                           # FLOAT, FLOAT16, DOUBLE, BFLOAT16


def _onnx_attrs(node):
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def load_onnx_model(path):
    """A FloatModel from an ONNX file, read with the onnx package alone (no
    onnxruntime): the graph must be a chain from its one input of

    - Gemm (transA = 0, any transB, alpha, beta; constant B and C), or MatMul
      with a constant 2-D right operand, optionally followed by Add of a
      constant bias: one fully connected layer;
    - Relu after a layer;
    - Flatten (axis 1) or Reshape to 2-D before the first layer;
    - Cast to a float type, Identity and Dropout anywhere (no-ops);
    - Transpose of a constant (a weight transposed ahead of its MatMul);
    - an optional Softmax at the end (dropped: the class is the argmax either way);
    - after the network, a classifier's label output (ArgMax, ZipMap,
      ArrayFeatureExtractor, Reshape, Cast, as scikit-learn's skl2onnx
      writes it), ignored when its class labels are 0, 1, ... in order.

    Constants come from initializers or Constant nodes. Any other node stops
    the import with a ModelError naming it and its op type. Layers are named
    fc1, fc2, ...
    """
    path = Path(path)
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ModelError(f"{path}: reading ONNX needs the onnx package (pip install onnx)") from None
    try:
        proto = onnx.load(str(path))
    except Exception as exc:          # noqa: BLE001 - protobuf raises several types
        raise ModelError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})") from None
    g = proto.graph
    if not len(g.node):
        raise ModelError(f"{path}: not an ONNX model (no graph nodes; ir_version {proto.ir_version})")
    nodes = list(g.node)

    def where(k):
        n = nodes[k]
        return f"{path}: node '{n.name}' ({n.op_type})" if n.name else f"{path}: node #{k} ({n.op_type})"

    const, folded = {}, set()       # folded: nodes computing a constant from constants
    try:
        for t in g.initializer:
            const[t.name] = numpy_helper.to_array(t)
        for k, n in enumerate(nodes):
            if n.op_type == "Constant":
                a = _onnx_attrs(n)
                if "value" in a:
                    const[n.output[0]] = numpy_helper.to_array(a["value"])
                else:
                    for key in ("value_float", "value_floats", "value_int", "value_ints"):
                        if key in a:
                            const[n.output[0]] = np.asarray(a[key])
            elif n.op_type == "Transpose" and n.input[0] in const:
                # the weight transposed ahead of a MatMul (PyTorch's dynamo exporter): fold it
                perm = _onnx_attrs(n).get("perm")
                const[n.output[0]] = np.transpose(const[n.input[0]], perm)
                folded.add(k)
    except Exception as exc:          # noqa: BLE001 - e.g. external data that is missing
        raise ModelError(f"{path}: cannot read the model's constants ({exc})") from None
    inputs = [i for i in g.input if i.name not in const]
    if len(inputs) != 1:
        raise ModelError(f"{path}: the graph has {len(inputs)} non-constant inputs "
                         f"({', '.join(i.name for i in inputs) or 'none'}); eiegen reads one input vector")
    x_in = inputs[0]
    rank = len(x_in.type.tensor_type.shape.dim) if x_in.type.HasField("tensor_type") else 0
    consumers = {}
    for k, n in enumerate(nodes):
        for t in n.input:
            if t:
                consumers.setdefault(t, []).append(k)

    def unsupported(k, why=""):
        return ModelError(f"{where(k)} is not supported{': ' + why if why else ''}; eiegen reads "
                          + ONNX_SUPPORTED)

    def need_const(k, name, what):
        if name not in const:
            raise unsupported(k, f"its {what} '{name}' is not a constant (weights must be "
                                 "initializers or Constant nodes)")
        a = np.asarray(const[name])
        if not np.issubdtype(a.dtype, np.number):
            raise unsupported(k, f"its {what} '{name}' has dtype {a.dtype}")
        return a.astype(np.float64)

    def bias_vector(k, b, n_out):
        if b.size == 1:
            return np.full(n_out, float(b.ravel()[0]))
        if b.size != n_out or (b.ndim == 2 and b.shape[0] != 1) or b.ndim > 2:
            raise ModelError(f"{where(k)}: bias of shape {b.shape} does not broadcast over the "
                             f"{n_out} outputs")
        return b.reshape(n_out)

    layers = []                       # [weight, bias or None, relu]
    used = set()
    cur, end = x_in.name, None
    while end is None:
        cons = [k for k in consumers.get(cur, []) if k not in used]
        if not cons:
            end = cur
            break
        if any(nodes[k].op_type in _LABEL_OPS for k in cons) and layers:
            end = cur
            break
        if len(cons) > 1:
            raise unsupported(cons[1], f"the graph branches at tensor '{cur}' (it feeds "
                                       f"{len(cons)} nodes)")
        k = cons[0]
        n = nodes[k]
        op, a = n.op_type, _onnx_attrs(n)
        used.add(k)
        others = [t for t in n.input if t and t != cur]
        if op == "Gemm":
            if list(n.input[:1]) != [cur] or a.get("transA", 0):
                raise unsupported(k, "the activations must be its first input, not transposed")
            w = need_const(k, n.input[1], "B")
            if w.ndim != 2:
                raise unsupported(k, f"its B is {w.ndim}-D")
            w = (w if a.get("transB", 0) else w.T) * float(a.get("alpha", 1.0))
            b = None
            if len(n.input) > 2 and n.input[2]:
                b = bias_vector(k, need_const(k, n.input[2], "C") * float(a.get("beta", 1.0)), w.shape[0])
            if not layers and rank > 2:
                raise unsupported(k, f"the input '{x_in.name}' has rank {rank}; flatten it "
                                     "(Flatten or Reshape) before the first layer")
            layers.append([w, b, False])
        elif op == "MatMul":
            if list(n.input[:1]) != [cur] or len(n.input) != 2:
                raise unsupported(k, "the activations must be its left operand")
            w = need_const(k, n.input[1], "right operand")
            if w.ndim != 2:
                raise unsupported(k, f"its right operand is {w.ndim}-D")
            if not layers and rank > 2:
                raise unsupported(k, f"the input '{x_in.name}' has rank {rank}; flatten it "
                                     "(Flatten or Reshape) before the first layer")
            layers.append([w.T, None, False])
        elif op == "Add":
            if not layers or layers[-1][2] or len(others) != 1:
                raise unsupported(k, "Add is read only as the bias of a MatMul or Gemm layer")
            b = bias_vector(k, need_const(k, others[0], "bias"), layers[-1][0].shape[0])
            layers[-1][1] = b if layers[-1][1] is None else layers[-1][1] + b
        elif op == "Relu":
            if not layers or layers[-1][2]:
                raise unsupported(k, "Relu is read only after a layer")
            layers[-1][2] = True
        elif op in ("Flatten", "Reshape"):
            if layers:
                raise unsupported(k, f"{op} is read only at the input, before the first layer")
            if op == "Flatten" and a.get("axis", 1) != 1:
                raise unsupported(k, f"Flatten with axis {a['axis']} (only axis 1)")
            if op == "Reshape":
                shape = need_const(k, n.input[1], "shape") if len(n.input) > 1 else np.zeros(0)
                if shape.ndim != 1 or len(shape) != 2:
                    raise unsupported(k, f"Reshape to shape {shape.astype(int).tolist()} "
                                         "(only to 2-D: batch x features)")
            rank = 2
        elif op == "Cast":
            if a.get("to") not in _FLOAT_TYPES:
                raise unsupported(k, f"Cast to type {a.get('to')} (only to a float type)")
        elif op in _PASS_OPS:
            pass
        elif op == "Softmax":
            if not layers:
                raise unsupported(k, "Softmax is read only at the end")
            if a.get("axis", -1) not in (-1, 1):
                raise unsupported(k, f"Softmax over axis {a['axis']}")
            end = n.output[0]
        else:
            raise unsupported(k)
        if end is None:
            cur = n.output[0]
    if not layers:
        raise ModelError(f"{path}: the graph has no Gemm or MatMul layer; eiegen reads " + ONNX_SUPPORTED)
    # everything else: Constant nodes, and a label output downstream of the network's end
    downstream, frontier = set(), [end]
    while frontier:
        t = frontier.pop()
        for k in consumers.get(t, []):
            if k not in used and k not in downstream:
                downstream.add(k)
                frontier.extend(o for o in nodes[k].output if o)
    n_out = layers[-1][0].shape[0]
    for k, n in enumerate(nodes):
        if k in used or k in folded or n.op_type == "Constant":
            continue
        if k not in downstream or n.op_type not in _HEAD_OPS:
            raise unsupported(k)
        if n.op_type == "ArrayFeatureExtractor" and n.input[0] in const:
            classes = np.asarray(const[n.input[0]])
            if classes.shape != (n_out,) or not np.array_equal(classes, np.arange(n_out)):
                shown = ", ".join(str(c) for c in classes.ravel()[:8].tolist())
                raise ModelError(f"{where(k)}: the model labels its {n_out} classes "
                                 f"[{shown}{', ...' if classes.size > 8 else ''}]; "
                                 f"eiegen's class is the output index 0..{n_out - 1}: train with "
                                 "labels 0, 1, ... (e.g. sklearn's LabelEncoder)")
    try:
        return FloatModel([FloatLayer(f"fc{i + 1}", w, b, r) for i, (w, b, r) in enumerate(layers)])
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None
