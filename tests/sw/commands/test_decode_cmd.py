import json
import re

import numpy as np
import pytest

from eiegen.sw.fixedpoint import to_fixed
from eiegen.sw.model import load_model


def test_round_trip_compress_pack_decode(cli, compressed, image, tmp_path):
    out = tmp_path / "dense.npz"
    rc, stdout, err = cli("decode", image, "-o", out)
    assert rc == 0, err
    assert f"wrote {out}: 3 layer(s)" in stdout
    c = load_model(compressed)
    with np.load(out) as d:
        for l in c.layers:
            n = l.name
            assert np.array_equal(d[f"{n}.index"], l.index)
            q = to_fixed(l.codebook, 8)[l.index]               # the dense quantized matrix, FRAC 8
            assert d[f"{n}.weight_q"].dtype == np.int16
            assert np.array_equal(d[f"{n}.weight_q"], q)
            assert np.array_equal(d[f"{n}.weight"], q / 256.0)
            assert np.array_equal(d[f"{n}.bias_q"], to_fixed(l.bias, 8))
            assert bool(d[f"{n}.relu"]) == l.relu
            # within half an LSB of the compressed model's float matrix (no codebook saturation here)
            assert np.abs(d[f"{n}.weight"] - l.dense()).max() <= 0.5 / 256


def _flip(image):
    p = image / "pe01_spmat.hex"
    t = p.read_text()
    p.write_text(("1" if t[0] == "0" else "0") + t[1:])
    return "pe01_spmat.hex: checksum mismatch"


def _truncate(image):
    p = image / "pe02_ptr_even.hex"
    p.write_bytes(p.read_bytes()[:-5])
    return "pe02_ptr_even.hex: checksum mismatch (file corrupted or truncated"


def _manifest(image):
    p = image / "manifest.json"
    p.write_text(p.read_text()[:40])
    return "manifest.json: corrupted manifest"


def _no_manifest(image):
    (image / "manifest.json").unlink()
    return "no manifest.json (not an eiegen image, or truncated)"


def _missing_file(image):
    (image / "pe03_bias.hex").unlink()
    return "pe03_bias.hex: listed in the manifest but missing"


def _version(image):
    p = image / "manifest.json"
    m = json.loads(p.read_text())
    m["version"] = 7
    p.write_text(json.dumps(m))
    return "format version 7"


def _not_a_dir(image):
    return "not an image directory"


BREAK = [_flip, _truncate, _manifest, _no_manifest, _missing_file, _version]


@pytest.mark.parametrize("damage", BREAK + [_not_a_dir], ids=lambda f: f.__name__[1:])
def test_damaged_image(cli, image, tmp_path, leftovers, damage):
    message = damage(image)
    target = image if damage is not _not_a_dir else tmp_path / "nowhere"
    before = leftovers(tmp_path)
    out = tmp_path / "dense.npz"
    rc, _, err = cli("decode", target, "-o", out)
    assert rc != 0
    assert err.startswith("eiegen decode: error: ") and len(err.strip().splitlines()) == 1
    assert message in err, err
    assert not out.exists() and leftovers(tmp_path) == before
