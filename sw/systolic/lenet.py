"""A LeNet-5-shaped CNN on scikit-learn's 8 x 8 digits: trained in numpy,
quantised to int8, compiled for the systolic unit.

    C1  conv 6 @ 3 x 3, padding 1, ReLU      1 x 8 x 8  -> 6 x 8 x 8
    S2  average pool 2 x 2                               -> 6 x 4 x 4
    C3  conv 16 @ 3 x 3, padding 1, ReLU                 -> 16 x 4 x 4
    S4  average pool 2 x 2                               -> 16 x 2 x 2
    F5  dense 64 -> 120, ReLU
    F6  dense 120 -> 84, ReLU
    F7  dense 84 -> 10                                   (logits)

No biases (the unit adds none). Training: plain numpy forward and backward
passes (convolutions through im2col), softmax cross-entropy, Adam.
Quantisation: weights symmetric per layer (scale max|w| / 127); activations
by their largest value on the training set; the input pixels 0..16 times 8.
On the unit a pooling layer is a convolution with kernel 2, stride 2 and
weight 1 from each channel to itself, requantised by 1 / 4 (multiplier 1,
shift 2: the average, rounded half up); every other requantisation is the
(multiplier, shift) nearest to s_in * s_w / s_out (quant_from_scale). The
last layer leaves its int32 accumulators; the class is their argmax.
"""

import numpy as np

from .compiler import Conv2d, Layer, quant_from_scale

__all__ = ["load_digits", "train", "forward_float", "quantise", "int_layers", "int_input",
           "predict_int", "INPUT_SCALE"]

INPUT_SCALE = 8          # int8 input = pixel (0..16) * 8, clipped to 127


def load_digits(seed=0, test_fraction=0.2):
    """(x_train, y_train, x_test, y_test): x as (n, 1, 8, 8) floats 0..16."""
    from sklearn.datasets import load_digits as _load
    d = _load()
    x = d.images.astype(np.float64)[:, None]
    y = d.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(len(y) * test_fraction))
    te, tr = order[:n_test], order[n_test:]
    return x[tr], y[tr], x[te], y[te]


# -- numpy layers ------------------------------------------------------------------------
def _im2col(x, k, pad):
    """(n, c, h, w) -> (n * h * w, c * k * k) patches of a k x k, stride-1 convolution."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.empty((n, c, k, k, h, w))
    for ky in range(k):
        for kx in range(k):
            cols[:, :, ky, kx] = xp[:, :, ky:ky + h, kx:kx + w]
    return cols.transpose(0, 4, 5, 1, 2, 3).reshape(n * h * w, c * k * k)


def _col2im(cols, shape, k, pad):
    n, c, h, w = shape
    cols = cols.reshape(n, h, w, c, k, k).transpose(0, 3, 4, 5, 1, 2)
    xp = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    for ky in range(k):
        for kx in range(k):
            xp[:, :, ky:ky + h, kx:kx + w] += cols[:, :, ky, kx]
    return xp[:, :, pad:pad + h, pad:pad + w]


def _conv(x, w):
    n, _, h, wd = x.shape
    cols = _im2col(x, w.shape[2], 1)
    return (cols @ w.reshape(w.shape[0], -1).T).reshape(n, h, wd, -1).transpose(0, 3, 1, 2), cols


def _pool(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def _unpool(g):
    return np.repeat(np.repeat(g, 2, axis=2), 2, axis=3) / 4


SHAPES = {"c1": (6, 1, 3, 3), "c3": (16, 6, 3, 3), "f5": (64, 120), "f6": (120, 84), "f7": (84, 10)}


def forward_float(params, x, keep=False):
    """Logits of the float network (and the intermediate values when keep)."""
    a1, cols1 = _conv(x, params["c1"])
    h1 = np.maximum(a1, 0)
    p2 = _pool(h1)
    a3, cols3 = _conv(p2, params["c3"])
    h3 = np.maximum(a3, 0)
    p4 = _pool(h3)
    f = p4.reshape(len(x), -1)
    a5 = f @ params["f5"]
    h5 = np.maximum(a5, 0)
    a6 = h5 @ params["f6"]
    h6 = np.maximum(a6, 0)
    logits = h6 @ params["f7"]
    if keep:
        return logits, dict(cols1=cols1, a1=a1, h1=h1, p2=p2, cols3=cols3, a3=a3, h3=h3, p4=p4,
                            f=f, a5=a5, h5=h5, a6=a6, h6=h6)
    return logits


def _grads(params, x, y):
    logits, v = forward_float(params, x, keep=True)
    n = len(x)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(n), y] + 1e-12).mean()
    d = p
    d[np.arange(n), y] -= 1
    d /= n
    g = {"f7": v["h6"].T @ d}
    d = (d @ params["f7"].T) * (v["a6"] > 0)
    g["f6"] = v["h5"].T @ d
    d = (d @ params["f6"].T) * (v["a5"] > 0)
    g["f5"] = v["f"].T @ d
    d = (d @ params["f5"].T).reshape(v["p4"].shape)
    d = _unpool(d) * (v["a3"] > 0)                             # (n, 16, 4, 4)
    dm = d.transpose(0, 2, 3, 1).reshape(-1, 16)
    g["c3"] = (dm.T @ v["cols3"]).reshape(SHAPES["c3"])
    d = _col2im(dm @ params["c3"].reshape(16, -1), v["p2"].shape, 3, 1)
    d = _unpool(d) * (v["a1"] > 0)
    dm = d.transpose(0, 2, 3, 1).reshape(-1, 6)
    g["c1"] = (dm.T @ v["cols1"]).reshape(SHAPES["c1"])
    return loss, g


def train(seed=0, epochs=30, batch=32, lr=2e-3, data=None):
    """Float weights of the network (He initialisation, Adam)."""
    x, y, _, _ = data if data is not None else load_digits(seed)
    rng = np.random.default_rng(seed)
    params = {}
    for k, s in SHAPES.items():
        fan_in = int(np.prod(s[1:])) if k.startswith("c") else s[0]
        params[k] = rng.normal(0, np.sqrt(2 / fan_in), s)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    vv = {k: np.zeros_like(v) for k, v in params.items()}
    t = 0
    xs = x / 16.0
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for i in range(0, len(y), batch):
            idx = order[i:i + batch]
            _, g = _grads(params, xs[idx], y[idx])
            t += 1
            for k in params:
                m[k] = 0.9 * m[k] + 0.1 * g[k]
                vv[k] = 0.999 * vv[k] + 0.001 * g[k] ** 2
                mh, vh = m[k] / (1 - 0.9 ** t), vv[k] / (1 - 0.999 ** t)
                params[k] -= lr * mh / (np.sqrt(vh) + 1e-8)
    return params


# -- int8 ------------------------------------------------------------------------------
def quantise(params, x_calib):
    """Per-layer int8 weights and activation scales: {"w": {name: int array},
    "sw": weight scales, "sa": activation scales (input, after each layer)}."""
    w_q, s_w = {}, {}
    for k, w in params.items():
        s = float(np.max(np.abs(w))) / 127 or 1.0
        w_q[k], s_w[k] = np.clip(np.round(w / s), -127, 127).astype(np.int64), s
    # the network takes x / 16; the int8 input is x * 8: a scale of 1 / 128
    _, v = forward_float(params, x_calib / 16.0, keep=True)
    s_a = {"in": 1.0 / 128}
    for k, name in (("c1", "h1"), ("s2", "p2"), ("c3", "h3"), ("s4", "p4"), ("f5", "h5"),
                    ("f6", "h6")):
        s_a[k] = float(np.max(v[name])) / 127 or 1.0
    s_a["s2"], s_a["s4"] = s_a["c1"], s_a["c3"]     # average pooling keeps the scale
    return {"w": w_q, "sw": s_w, "sa": s_a}


def int_layers(q, unit_params, layout="NCHW"):
    """The network as compiler layers (Conv2d, Layer) for the systolic unit."""
    w, sw, sa = q["w"], q["sw"], q["sa"]

    def mq(s_in, k, s_out):
        return quant_from_scale(s_in * sw[k] / s_out, unit_params)

    def pool(c):
        return Conv2d(np.einsum("oc,yx->ocyx", np.eye(c, dtype=np.int64), np.ones((2, 2), np.int64)),
                      stride=2, mult=1, shift=2, layout=layout)

    m1, s1 = mq(sa["in"], "c1", sa["c1"])
    m3, s3 = mq(sa["s2"], "c3", sa["c3"])
    m5, s5 = mq(sa["s4"], "f5", sa["f5"])
    m6, s6 = mq(sa["f5"], "f6", sa["f6"])
    layers = [Conv2d(w["c1"], stride=1, padding=1, mult=m1, shift=s1, relu=True, layout=layout,
                     name="C1", input_hw=(8, 8)),
              pool(6), Conv2d(w["c3"], stride=1, padding=1, mult=m3, shift=s3, relu=True,
                              layout=layout, name="C3"),
              pool(16), Layer(_flat_rows(w["f5"], layout), m5, s5, True, "F5"),
              Layer(w["f6"], m6, s6, True, "F6"), Layer(w["f7"], 1, 0, False, "F7")]
    layers[1].name, layers[3].name = "S2", "S4"
    return layers


def _flat_rows(w5, layout):
    """F5's weight rows in the flatten order of `layout` (trained on NCHW's (c, y, x))."""
    if layout == "NCHW":
        return w5
    return w5.reshape(16, 2, 2, -1).transpose(1, 2, 0, 3).reshape(64, -1)


def int_input(x, layout="NCHW"):
    """Pixels 0..16 (n, 1, 8, 8) as the int8 input tensor."""
    xi = np.clip(np.round(np.asarray(x) * INPUT_SCALE), -128, 127).astype(np.int64)
    return xi if layout == "NCHW" else xi.transpose(0, 2, 3, 1)


def predict_int(layers, x, in_width=8, acc_width=32):
    """Classes (and logits) from the golden model of the int8 network (input
    as int_input gives it)."""
    from ...sim.systolic_golden import forward
    logits = forward(x, layers, in_width, acc_width, raw_last=True)
    return np.argmax(logits, axis=1), logits
