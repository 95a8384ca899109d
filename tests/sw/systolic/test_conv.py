"""Convolutions through the compiler: im2col lowering (against the golden
model's direct convolution), the host's gather between layers, layouts,
stride and padding, program checks and errors."""

import numpy as np
import pytest

from eiegen.hw.systolic import SystolicParams
from eiegen.sim.systolic_cycles import simulate
from eiegen.sim.systolic_golden import Machine, conv2d_acc, conv2d_layer
from eiegen.sw.systolic import SystolicError
from eiegen.sw.systolic.compiler import (Conv2d, Layer, compile_layers, conv_output_hw,
                                         im2col_index)
from eiegen.sw.systolic.rtl import golden_output


def big(R=4, C=3, **kw):
    d = dict(rows=R, cols=C, ub_depth=4096, acc_depth=64, wmem_depth=4096, imem_depth=4096)
    d.update(kw)
    return SystolicParams(**d)


def _machine(comp, x):
    mach = Machine(comp.params)
    for mem, base, rows in comp.memory_writes(x):
        if mem != "imem":
            mach.write(mem, base, rows)
    mach.run(comp.program, host=comp.machine_host())
    return comp.unpack_output(mach.read(*comp.output_read()))


def test_conv2d_acc_is_the_naive_sum():
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (2, 3, 6, 5))
    w = rng.integers(-128, 128, (4, 3, 3, 2))
    for stride, pad in ((1, 0), (2, 1), (3, 2)):
        y = conv2d_acc(x, w, stride, pad)
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        ho, wo = conv_output_hw(6, 5, 3, 2, stride, pad)
        assert y.shape == (2, 4, ho, wo)
        for n, o, yy, xx in np.ndindex(y.shape):
            want = sum(int(xp[n, c, yy * stride + ky, xx * stride + kx]) * int(w[o, c, ky, kx])
                       for c in range(3) for ky in range(3) for kx in range(2))
            assert y[n, o, yy, xx] == want


def test_im2col_matrix_times_weights_is_the_convolution():
    rng = np.random.default_rng(1)
    n, c, h, w, o, k, s, pad = 2, 3, 7, 6, 5, 3, 2, 1
    x = rng.integers(-128, 128, (n, c, h, w))
    wt = rng.integers(-128, 128, (o, c, k, k))
    idx = im2col_index(n, c, h, w, k, k, s, pad)
    flat = x.transpose(0, 2, 3, 1).reshape(-1)
    cols = np.where(idx >= 0, flat[np.maximum(idx, 0)], 0)
    y = cols @ wt.transpose(2, 3, 1, 0).reshape(k * k * c, o)
    ho, wo = conv_output_hw(h, w, k, k, s, pad)
    np.testing.assert_array_equal(y.reshape(n, ho, wo, o).transpose(0, 3, 1, 2), conv2d_acc(x, wt, s, pad))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_cnn_chain_on_the_golden_machine(layout):
    """conv (pad 1) -> conv (stride 2) -> dense: the program, with the host's
    gathers at its RHMs, leaves the golden model's result in the unit's memory."""
    rng = np.random.default_rng(2)
    p = big()
    layers = [Conv2d(rng.integers(-128, 128, (5, 2, 3, 3)), stride=1, padding=1, mult=3, shift=10,
                     relu=True, layout=layout, input_hw=(6, 5)),
              Conv2d(rng.integers(-128, 128, (4, 5, 2, 2)), stride=2, mult=5, shift=11, relu=True,
                     layout=layout),
              Layer(rng.integers(-128, 128, (4 * 3 * 2, 7)), 7, 12, False)]
    comp = compile_layers(2, layers, p)
    assert [i.op for i in comp.program].count("RHM") == 2 == len(comp.host_steps)
    x = rng.integers(-128, 128, comp.input_shape)
    assert comp.input_shape == ((2, 2, 6, 5) if layout == "NCHW" else (2, 6, 5, 2))
    np.testing.assert_array_equal(_machine(comp, x), golden_output(comp, x))
    # by hand: the golden layers one after the other
    xn = x if layout == "NCHW" else x.transpose(0, 3, 1, 2)
    h1 = conv2d_layer(xn, layers[0].weight, 3, 10, True, 1, 1)
    h2 = conv2d_layer(h1, layers[1].weight, 5, 11, True, 2, 0)
    flat = (h2 if layout == "NCHW" else h2.transpose(0, 2, 3, 1)).reshape(2, -1)
    from eiegen.sim.systolic_golden import dense_layer
    np.testing.assert_array_equal(golden_output(comp, x), dense_layer(flat, layers[2].weight, 7, 12))
    # the cycle model runs the program (host waits take no modelled time)
    assert simulate(comp.program, p).cycles > 0


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_conv_last_layer_int8_and_int32(layout):
    rng = np.random.default_rng(3)
    p = big(R=3, C=2, acc_depth=256)
    conv = Conv2d(rng.integers(-128, 128, (3, 4, 3, 3)), stride=2, padding=2, mult=9, shift=12,
                  layout=layout, input_hw=(5, 7))
    for output in ("int8", "int32"):
        comp = compile_layers(3, [conv], p, output=output)
        x = rng.integers(-128, 128, comp.input_shape)
        y = _machine(comp, x)
        ref = golden_output(comp, x)
        np.testing.assert_array_equal(y, ref)
        ho, wo = conv_output_hw(5, 7, 3, 3, 2, 2)
        assert y.shape == ((3, 3, ho, wo) if layout == "NCHW" else (3, ho, wo, 3))
        assert not comp.host_steps          # the host writes the first im2col with the input


def test_errors():
    p = big()
    w = np.ones((2, 1, 3, 3), dtype=int)
    with pytest.raises(SystolicError, match="input_hw"):
        compile_layers(1, [Conv2d(w)], p)
    with pytest.raises(SystolicError, match="does not fit"):
        compile_layers(1, [Conv2d(w, input_hw=(2, 2))], p)
    with pytest.raises(SystolicError, match="stride must be"):
        compile_layers(1, [Conv2d(w, stride=0, input_hw=(4, 4))], p)
    with pytest.raises(SystolicError, match="layout"):
        compile_layers(1, [Conv2d(w, layout="NWHC", input_hw=(4, 4))], p)
    with pytest.raises(SystolicError, match="input channels"):
        compile_layers(1, [Conv2d(w, input_hw=(4, 4)), Conv2d(np.ones((2, 3, 1, 1), dtype=int))], p)
    with pytest.raises(SystolicError, match="features"):
        compile_layers(1, [Conv2d(w, input_hw=(4, 4)), Layer(np.ones((9, 2), dtype=int))], p)
    with pytest.raises(SystolicError, match="cannot follow a dense"):
        compile_layers(1, [Layer(np.ones((4, 4), dtype=int)), Conv2d(w, input_hw=(2, 2))], p)
    with pytest.raises(SystolicError, match=r"weight\[0, 0\] = 200"):
        compile_layers(1, [Conv2d(np.full((2, 1, 3, 3), 200), input_hw=(4, 4))], p)
    comp = compile_layers(1, [Conv2d(w, input_hw=(4, 4))], p)
    with pytest.raises(SystolicError, match="compiled for"):
        comp.pack_input(np.zeros((1, 1, 5, 4), dtype=int))
