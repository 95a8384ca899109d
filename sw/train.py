"""Training and Deep Compression retraining of fully connected networks, in numpy.

The one implementation of the retraining behind `eiegen compress --data`
(docs/compression.md) and `eiegen sim` (docs/sim.md): a fully connected
network with ReLU hidden layers (a user's model, or an MLP trained here with
softmax cross-entropy and Adam, e.g. on scikit-learn's 8 x 8 digits, no
download) is compressed the way Deep Compression does it (Han's thesis ch. 3-4):

1. iterative magnitude pruning (or load-balance-aware pruning for N PEs)
   with masked retraining after every step: pruned weights stay zero, their
   gradients are masked;
2. trained quantization: k-means weight sharing (eiegen.sw.compress.
   quantize_layer), then fine-tuning of the shared centroids: the gradient
   of a centroid is the sum of the gradients of the weights that share it
   (eiegen.sw.compress.finetune_centroids), computed here by backprop
   through the quantized network; biases are fine-tuned along with them.

Around it: data set files (load_dataset_npz), the int16 accuracy of the
packed model through the golden model (golden_accuracy), the per-layer
sensitivity scan behind `--sparsity auto` (sensitivity_scan) and the
accuracy-vs-sparsity sweep of the plots (sparsity_sweep).

Everything is deterministic for a given seed. Weights follow eiegen's
model convention: W is (outputs, inputs), y = x @ W.T + b.
"""

import dataclasses
import time

import numpy as np

from .errors import EiegenError, ModelError
from .model import CompressedLayer, CompressedModel, FloatLayer, FloatModel

__all__ = ["Dataset", "load_digits_dataset", "load_dataset_npz", "init_mlp", "forward",
           "loss_and_grads", "Adam", "train", "accuracy", "predict", "prune_and_retrain",
           "quantize_and_finetune", "deep_compress", "prune_schedule", "sparsity_sweep",
           "DIGITS_HIDDEN", "stratified_split", "check_data_for_model", "golden_predict",
           "golden_accuracy", "sensitivity_scan", "SENSITIVITY_SPARSITIES", "estimate_seconds"]

DIGITS_HIDDEN = (128, 64)      # hidden layers of the digits MLP of `eiegen sim` and the benchmarks


# -- data --------------------------------------------------------------------

@dataclasses.dataclass
class Dataset:
    name: str
    x_train: np.ndarray | None      # (n, inputs) float, None when only a test set is known
    y_train: np.ndarray | None      # (n,) int class labels
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_inputs(self):
        return self.x_test.shape[1]

    @property
    def n_classes(self):
        ys = [self.y_test] + ([self.y_train] if self.y_train is not None else [])
        return int(max(int(y.max()) for y in ys)) + 1


def load_digits_dataset(test_fraction=0.2, seed=0):
    """scikit-learn's 1797 8 x 8 digit images (bundled, no download), pixels
    0..16 scaled to [0, 1] so they fit any fixed-point format with at least
    one integer bit; a fixed shuffled, class-stratified split."""
    from sklearn.datasets import load_digits
    d = load_digits()
    x = d.data.astype(np.float64) / 16.0
    y = d.target.astype(np.int64)
    tr, te = stratified_split(y, test_fraction, seed)
    return Dataset("digits", x[tr], y[tr], x[te], y[te])


def stratified_split(y, test_fraction=0.2, seed=0):
    """(train indices, test indices): per class, a shuffled round(test_fraction
    * count) samples go to the test split (in index order); the training
    indices are shuffled. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        test[idx[:int(round(test_fraction * len(idx)))]] = True
    tr, te = np.flatnonzero(~test), np.flatnonzero(test)
    tr = tr[rng.permutation(len(tr))]
    return tr, te


DATA_KEYS = ("x_train", "y_train", "x_test", "y_test")
SPLIT_TEST_FRACTION = 0.2


def load_dataset_npz(path, *, require_train=False):
    """A data set file (.npz) with integer class labels 0, 1, ...:

    - x_train, y_train, x_test, y_test; or
    - x_test, y_test alone (a test set: no retraining; not with require_train); or
    - x, y: split here into 80 % training and 20 % test samples, class by
      class, with a fixed seed (stratified_split, seed 0): the same split
      on every run.

    x arrays are (samples, features), or (samples, ...) flattened row-major
    (e.g. 28 x 28 images); labels are integers (or whole floats) >= 0."""
    import zipfile
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise EiegenError(f"{path}: no such data set file") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise EiegenError(f"{path}: not a readable .npz data set ({exc})") from None
    has = ", ".join(arrays) or "none"
    form = "x_train, y_train, x_test, y_test (or x, y to be split 80/20)"
    if "x" in arrays or "y" in arrays:
        if not ("x" in arrays and "y" in arrays):
            raise EiegenError(f"{path}: data set has '{'x' if 'x' in arrays else 'y'}' but no "
                              f"'{'y' if 'x' in arrays else 'x'}' (expected {form}; has: {has})")
        clash = [k for k in DATA_KEYS if k in arrays]
        if clash:
            raise EiegenError(f"{path}: data set has both x, y and {', '.join(clash)}; give one form: {form}")
        x = _features(path, "x", arrays["x"])
        y = _labels(path, "y", arrays["y"], len(x))
        tr, te = stratified_split(y, SPLIT_TEST_FRACTION, 0)
        if not len(tr) or not len(te):
            raise EiegenError(f"{path}: {len(y)} samples are too few to split into training and test")
        return Dataset(str(path), x[tr], y[tr], x[te], y[te])
    needed = DATA_KEYS if require_train else ("x_test", "y_test")
    for k in needed:
        if k not in arrays:
            raise EiegenError(f"{path}: data set has no '{k}' array (expected {form}; has: {has})")
    has_train = "x_train" in arrays or "y_train" in arrays
    if has_train and not ("x_train" in arrays and "y_train" in arrays):
        raise EiegenError(f"{path}: give both x_train and y_train, or neither")
    out = {}
    for split in ("train", "test"):
        if split == "train" and not has_train:
            out["x_train"] = out["y_train"] = None
            continue
        x = _features(path, f"x_{split}", arrays[f"x_{split}"])
        out[f"x_{split}"], out[f"y_{split}"] = x, _labels(path, f"y_{split}", arrays[f"y_{split}"], len(x))
    if has_train and out["x_train"].shape[1] != out["x_test"].shape[1]:
        raise EiegenError(f"{path}: x_train has {out['x_train'].shape[1]} features, x_test "
                          f"{out['x_test'].shape[1]}")
    return Dataset(str(path), **out)


def _features(path, key, x):
    if x.ndim < 2 or not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise EiegenError(f"{path}: {key} must be a numeric array of samples x features, got shape "
                          f"{x.shape} {x.dtype}")
    if len(x) == 0:
        raise EiegenError(f"{path}: {key} has no samples")
    x = x.reshape(len(x), -1)
    bad = ~np.isfinite(x)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise EiegenError(f"{path}: {key} has {int(bad.sum())} non-finite value(s); first is "
                          f"{x[i, j]} at sample {i}, feature {j}")
    return x.astype(np.float64)


def _labels(path, key, y, n):
    if y.ndim != 1 or len(y) != n or not (np.issubdtype(y.dtype, np.integer)
                                          or (np.issubdtype(y.dtype, np.floating)
                                              and np.isfinite(y).all() and (y == np.round(y)).all())):
        raise EiegenError(f"{path}: {key} must be {n} integer labels, got shape {y.shape} {y.dtype}")
    if y.min() < 0:
        i = int(np.argmin(y))
        raise EiegenError(f"{path}: {key} has the negative label {y[i]:g} at sample {i} "
                          "(labels are class indices 0, 1, ...)")
    return y.astype(np.int64)


def check_data_for_model(data, model):
    """EiegenError unless the data set fits the model: as many features as
    the first layer's inputs, every label below the last layer's outputs."""
    first, last = model.layers[0], model.layers[-1]
    n_in, n_out = first.shape[1], last.shape[0]
    if data.n_inputs != n_in:
        raise EiegenError(f"{data.name}: the samples have {data.n_inputs} features; the model's first "
                          f"layer '{first.name}' takes {n_in} inputs")
    for key in ("y_train", "y_test"):
        y = getattr(data, key)
        if y is not None and y.max() >= n_out:
            i = int(np.argmax(y >= n_out))
            raise EiegenError(f"{data.name}: {key} has the label {int(y[i])} at sample {i}; the model's "
                              f"last layer '{last.name}' has {n_out} outputs (classes 0..{n_out - 1})")


# -- the network ---------------------------------------------------------------

def init_mlp(sizes, seed=0, names=None):
    """He-initialised FloatModel with layer sizes [inputs, hidden..., outputs];
    ReLU on every layer but the last."""
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ModelError(f"an MLP needs at least two positive layer sizes, got {list(sizes)}")
    rng = np.random.default_rng(seed)
    n = len(sizes) - 1
    names = names or [f"fc{i + 1}" for i in range(n)]
    layers = []
    for i in range(n):
        fan_in, fan_out = int(sizes[i]), int(sizes[i + 1])
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_out, fan_in))
        layers.append(FloatLayer(names[i], w, np.zeros(fan_out), relu=i < n - 1))
    return FloatModel(layers)


def _params(model):
    """(weights, biases, relus) of a float or compressed model (dense floats)."""
    ws, bs, rs = [], [], []
    for l in model.layers:
        ws.append(l.weight if isinstance(l, FloatLayer) else l.dense())
        bs.append(l.bias if l.bias is not None else np.zeros(l.shape[0]))
        rs.append(l.relu)
    return ws, bs, rs


def forward(weights, biases, relus, x):
    """Returns the logits and the per-layer inputs/pre-activations for backprop."""
    acts, pres = [x], []
    h = x
    for w, b, r in zip(weights, biases, relus):
        z = h @ w.T + b
        pres.append(z)
        h = np.maximum(z, 0.0) if r else z
        acts.append(h)
    return h, (acts, pres)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def loss_and_grads(weights, biases, relus, x, y):
    """Mean softmax cross-entropy of the batch and its gradients dW, db
    (same shapes as the weights and biases)."""
    logits, (acts, pres) = forward(weights, biases, relus, x)
    p = _softmax(logits)
    n = len(y)
    loss = float(-np.log(np.maximum(p[np.arange(n), y], 1e-300)).mean())
    g = p
    g[np.arange(n), y] -= 1.0
    g /= n
    if relus[-1]:
        g = g * (pres[-1] > 0)
    dws, dbs = [None] * len(weights), [None] * len(weights)
    for i in range(len(weights) - 1, -1, -1):
        dws[i] = g.T @ acts[i]
        dbs[i] = g.sum(axis=0)
        if i:
            g = g @ weights[i]
            if relus[i - 1]:
                g = g * (pres[i - 1] > 0)
    return loss, dws, dbs


class Adam:
    def __init__(self, shapes, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps = lr, b1, b2, eps
        self.m = [np.zeros(s) for s in shapes]
        self.v = [np.zeros(s) for s in shapes]
        self.t = 0

    def step(self, params, grads):
        """Update `params` (list of arrays) in place."""
        self.t += 1
        c1 = 1 - self.b1 ** self.t
        c2 = 1 - self.b2 ** self.t
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


def predict(model, x):
    """Class indices of a float or compressed model in float arithmetic."""
    return np.argmax(model.forward(x), axis=1)


def accuracy(model, x, y):
    return float(np.mean(predict(model, x) == y))


def _batches(n, batch, rng):
    order = rng.permutation(n)
    for s in range(0, n, batch):
        yield order[s:s + batch]


def _need_train(data, what):
    if data.x_train is None:
        raise EiegenError(f"{what} needs training data (x_train, y_train); the data set "
                          f"'{data.name}' has only a test set")


def train(model, data, *, epochs=30, lr=2e-3, batch=32, seed=0, masks=None, weight_decay=0.0,
          progress=None, label="train"):
    """Train a FloatModel with Adam (a new model is returned). masks: per
    layer a boolean array, True = weight kept; pruned weights and their
    gradients stay zero (masked retraining)."""
    _need_train(data, label)
    ws, bs, rs = _params(model)
    ws = [w.copy() for w in ws]
    bs = [b.copy() for b in bs]
    if masks is not None:
        ws = [w * m for w, m in zip(ws, masks)]
    opt = Adam([w.shape for w in ws] + [b.shape for b in bs], lr=lr)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for ep in range(epochs):
        tot = 0.0
        for idx in _batches(len(data.y_train), batch, rng):
            loss, dws, dbs = loss_and_grads(ws, bs, rs, data.x_train[idx], data.y_train[idx])
            tot += loss * len(idx)
            if weight_decay:
                dws = [g + weight_decay * w for g, w in zip(dws, ws)]
            if masks is not None:
                dws = [g * m for g, m in zip(dws, masks)]
            opt.step(ws + bs, dws + dbs)
            if masks is not None:
                for w, m in zip(ws, masks):
                    w *= m
        if progress is not None and (ep == epochs - 1 or (ep + 1) % max(1, epochs // 5) == 0):
            m = _rebuild_float(model, ws, bs)
            progress(f"{label}: epoch {ep + 1}/{epochs}, loss {tot / len(data.y_train):.4f}, "
                     f"test accuracy {accuracy(m, data.x_test, data.y_test):.2%} "
                     f"({time.perf_counter() - t0:.1f} s)")
    return _rebuild_float(model, ws, bs)


def _rebuild_float(model, ws, bs):
    return FloatModel([FloatLayer(l.name, w.copy(), b.copy(), l.relu)
                       for l, w, b in zip(model.layers, ws, bs)])


# -- Deep Compression with retraining ------------------------------------------

def prune_schedule(sparsity, steps):
    """Target sparsities of iterative pruning: `steps` values ending at
    `sparsity`, equal ratios of the kept fraction (density)."""
    s = float(sparsity)
    if steps < 1:
        raise ValueError("steps must be >= 1")
    if s <= 0.0:
        return [0.0]
    dens = (1.0 - s) ** (np.arange(1, steps + 1) / steps)
    out = [float(1.0 - d) for d in dens]
    out[-1] = s
    return out


def _prune_weight(w, s, pes, balance, name, group=1):
    from .compress import prune_balanced, prune_magnitude
    if balance:
        return prune_balanced(w, s, pes, group=group, name=name)
    return prune_magnitude(w, s, name=name)


def prune_and_retrain(model, data, sparsity, *, steps=3, epochs=10, lr=1e-3, pes=1, balance=False,
                      group=1, seed=0, progress=None):
    """Iterative pruning with masked retraining. sparsity: {layer: fraction pruned}.
    Every step prunes each layer to the next target of prune_schedule (by
    magnitude, or load-balance-aware for `pes` PEs in column groups of
    `group`), then retrains with the pruned weights and their gradients held
    at zero. Returns (pruned FloatModel, masks)."""
    sched = {n: prune_schedule(s, steps) for n, s in sparsity.items()}
    nsteps = max(len(v) for v in sched.values())
    cur = model
    masks = None
    for k in range(nsteps):
        layers, targets = [], []
        for l in cur.layers:
            sl = sched[l.name]
            s = sl[min(k, len(sl) - 1)]
            targets.append(f"{l.name} {s:.3g}")
            layers.append(FloatLayer(l.name, _prune_weight(l.weight, s, pes, balance, l.name, group),
                                     l.bias, l.relu))
        cur = FloatModel(layers)
        masks = [l.weight != 0.0 for l in cur.layers]
        if progress is not None:
            dens = sum(int(m.sum()) for m in masks) / sum(m.size for m in masks)
            progress(f"prune step {k + 1}/{nsteps}: sparsity {', '.join(targets)}; density {dens:.2%}, "
                     f"before retraining test accuracy {accuracy(cur, data.x_test, data.y_test):.2%}")
        if epochs and data.x_train is not None:
            cur = train(cur, data, epochs=epochs, lr=lr, masks=masks, seed=seed + 1 + k,
                        progress=progress, label=f"  retrain {k + 1}/{nsteps}")
    return cur, masks


def quantize_and_finetune(model, data, *, bits=4, epochs=10, lr=1e-3, momentum=0.9, batch=32,
                          seed=0, progress=None):
    """k-means weight sharing of a (pruned) FloatModel, then centroid fine-tuning
    with finetune_centroids (SGD with momentum on the weight gradients, which
    the bincount of finetune_centroids turns into centroid gradients) and
    Adam on the biases. Returns a CompressedModel."""
    from .compress import finetune_centroids, quantize_layer
    cm = CompressedModel([quantize_layer(l, bits) for l in model.layers])
    if progress is not None:
        progress(f"quantized to {bits} bits ({', '.join(str(len(l.codebook)) for l in cm.layers)} "
                 f"codebook entries): test accuracy {accuracy(cm, data.x_test, data.y_test):.2%}")
    if not epochs or data.x_train is None:
        return cm
    layers = list(cm.layers)
    rs = [l.relu for l in layers]
    bs = [l.bias.copy() if l.bias is not None else np.zeros(l.shape[0]) for l in layers]
    has_bias = [l.bias is not None for l in layers]
    opt = Adam([b.shape for b in bs], lr=lr)
    vel = [np.zeros(l.shape) for l in layers]
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for ep in range(epochs):
        tot = 0.0
        for idx in _batches(len(data.y_train), batch, rng):
            ws = [l.dense() for l in layers]
            loss, dws, dbs = loss_and_grads(ws, bs, rs, data.x_train[idx], data.y_train[idx])
            tot += loss * len(idx)
            for i, l in enumerate(layers):
                vel[i] = momentum * vel[i] + dws[i]
                layers[i] = finetune_centroids(l, vel[i], lr)
            opt.step(bs, [g if hb else np.zeros_like(g) for g, hb in zip(dbs, has_bias)])
        for i, l in enumerate(layers):
            layers[i] = CompressedLayer(l.name, l.codebook, l.index,
                                        bs[i].copy() if has_bias[i] else None, l.relu)
        if progress is not None and (ep == epochs - 1 or (ep + 1) % max(1, epochs // 5) == 0):
            progress(f"  fine-tune centroids: epoch {ep + 1}/{epochs}, loss {tot / len(data.y_train):.4f}, "
                     f"test accuracy {accuracy(CompressedModel(layers), data.x_test, data.y_test):.2%} "
                     f"({time.perf_counter() - t0:.1f} s)")
    return CompressedModel(layers)


def deep_compress(model, data, sparsity, *, bits=4, pes=1, balance=False, group=1, prune_steps=3,
                  retrain_epochs=10, finetune_epochs=10, lr=1e-3, seed=0, progress=None):
    """Deep Compression with retraining, the one implementation behind
    `eiegen compress --data` and `eiegen sim`: iterative pruning with masked
    retraining (prune_and_retrain), then k-means weight sharing with centroid
    fine-tuning (quantize_and_finetune). sparsity: a float, one per layer or
    {layer: float}. Returns (CompressedModel, pruned FloatModel); each
    compressed layer records its sparsity target."""
    from .compress import check_sparsity, sparsity_per_layer
    names = [l.name for l in model.layers]
    sparsity = sparsity_per_layer(sparsity, names)
    sparsity = {n: check_sparsity(sparsity[n], n) for n in names}
    pruned, _ = prune_and_retrain(model, data, sparsity, steps=prune_steps, epochs=retrain_epochs,
                                  lr=lr, pes=pes, balance=balance, group=group, seed=seed,
                                  progress=progress)
    cm = quantize_and_finetune(pruned, data, bits=bits, epochs=finetune_epochs, lr=lr,
                               seed=seed + 100, progress=progress)
    cm = CompressedModel([dataclasses.replace(l, sparsity=sparsity[l.name]) for l in cm.layers])
    return cm, pruned


def golden_predict(compressed, x, *, frac=8, acc_width=32):
    """Class indices of a compressed model as the EIE hardware computes them:
    the packed image through the bit-exact int16 golden model
    (eiegen.sim.eie_golden; inputs rounded to int16 with `frac` fractional
    bits). Needs codebooks of at most 16 entries (4-bit indices)."""
    from ..hw.eie.params import EIEParams
    from ..sim.eie_golden import image_forward
    from .fixedpoint import to_fixed
    from .packer import pack
    image = pack(compressed, EIEParams(n_pes=1, frac=frac, acc_width=acc_width), check=False)
    y = image_forward(image.decode(), to_fixed(x, frac), frac=frac, acc_width=acc_width)
    return np.argmax(y, axis=1)


def golden_accuracy(compressed, x, y, *, frac=8, acc_width=32):
    return float(np.mean(golden_predict(compressed, x, frac=frac, acc_width=acc_width) == y))


SENSITIVITY_SPARSITIES = (0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.94, 0.95, 0.96,
                          0.97, 0.98, 0.99)


def sensitivity_scan(model, data, *, max_loss_pp=1.0, candidates=SENSITIVITY_SPARSITIES, pes=1,
                     balance=False, group=1, progress=None):
    """Per-layer sparsity by a sensitivity scan, as the Deep Compression
    paper chooses it by hand: prune one layer alone (the others dense, no
    retraining) to each candidate sparsity, measure the accuracy on the
    training split (the test split stays for the reported figures), and keep
    the largest sparsity up to which every candidate loses at most
    `max_loss_pp` percentage points against the unpruned model (0 when even
    the first loses more). Returns a dict: float accuracy, candidates,
    accuracy per layer and candidate, the chosen sparsity per layer."""
    _need_train(data, "the sensitivity scan")
    x, y = data.x_train, data.y_train
    base = accuracy(model, x, y)
    out = {"split": "train", "samples": int(len(y)), "float": base, "max_loss_pp": float(max_loss_pp),
           "candidates": [float(c) for c in candidates], "accuracy": {}, "chosen": {}}
    for i, l in enumerate(model.layers):
        accs, chosen = [], 0.0
        for s in candidates:
            layers = list(model.layers)
            layers[i] = FloatLayer(l.name, _prune_weight(l.weight, s, pes, balance, l.name, group),
                                   l.bias, l.relu)
            accs.append(accuracy(FloatModel(layers), x, y))
        for s, a in zip(candidates, accs):
            if 100.0 * (base - a) > max_loss_pp + 1e-9:
                break
            chosen = float(s)
        out["accuracy"][l.name] = accs
        out["chosen"][l.name] = chosen
        if progress is not None:
            progress(f"sensitivity of {l.name}: sparsity {chosen:g} is the largest within "
                     f"{max_loss_pp:g} pp of {base:.2%} (training split, no retraining)")
    return out


def estimate_seconds(model, data, epochs, *, batch=32, seed=0):
    """Rough wall time of `epochs` training epochs over data's training split:
    a few timed batches of forward, backward and update, scaled."""
    if data.x_train is None or not epochs:
        return 0.0
    ws, bs, rs = _params(model)
    opt = Adam([w.shape for w in ws] + [b.shape for b in bs])
    ws, bs = [w.copy() for w in ws], [b.copy() for b in bs]
    rng = np.random.default_rng(seed)
    n = len(data.y_train)
    k = min(8, -(-n // batch))
    for i in range(k + 1):                  # the first batch warms up, untimed
        if i == 1:
            t0 = time.perf_counter()
        idx = rng.integers(0, n, min(batch, n))
        _, dws, dbs = loss_and_grads(ws, bs, rs, data.x_train[idx], data.y_train[idx])
        opt.step(ws + bs, dws + dbs)
    per_batch = (time.perf_counter() - t0) / k
    return per_batch * -(-n // batch) * epochs


def sparsity_sweep(float_model, data, sparsities, *, bits=4, pes=1, balance=False, prune_steps=2,
                   retrain_epochs=8, finetune_epochs=5, lr=1e-3, seed=0, progress=None):
    """Accuracy against sparsity (every layer pruned alike): per sparsity,
    prune with retraining (accuracy 'pruned'), then quantize to `bits` with
    centroid fine-tuning (accuracy 'both'), float accuracy on the test split;
    sizes as fractions of the dense fp32 weights (the thesis Fig. 4.9 size
    model, eiegen.sw.compress.pruned_model_bits / quantized_model_bits)."""
    from .compress import dense_weight_bits, pruned_model_bits, quantized_model_bits
    out = {"sparsities": list(sparsities), "bits": bits,
           "float": accuracy(float_model, data.x_test, data.y_test),
           "pruned": [], "both": [], "size_pruned": [], "size_both": [], "density": []}
    dense = dense_weight_bits(float_model)
    for s in sparsities:
        t0 = time.perf_counter()
        sp = {l.name: s for l in float_model.layers}
        pruned, _ = prune_and_retrain(float_model, data, sp, steps=prune_steps, epochs=retrain_epochs,
                                      lr=lr, pes=pes, balance=balance, seed=seed)
        cm = quantize_and_finetune(pruned, data, bits=bits, epochs=finetune_epochs, lr=lr, seed=seed + 100)
        out["pruned"].append(accuracy(pruned, data.x_test, data.y_test))
        out["both"].append(accuracy(cm, data.x_test, data.y_test))
        out["size_pruned"].append(pruned_model_bits(pruned) / dense)
        out["size_both"].append(quantized_model_bits(cm, pruned=True) / dense)
        out["density"].append(sum(int((l.weight != 0).sum()) for l in pruned.layers)
                              / sum(l.weight.size for l in pruned.layers))
        if progress is not None:
            progress(f"  sparsity {s:g}: pruned {out['pruned'][-1]:.2%}, + {bits}-bit quantization "
                     f"{out['both'][-1]:.2%} ({time.perf_counter() - t0:.1f} s)")
    return out
