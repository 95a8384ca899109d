import json
import os

import numpy as np
import pytest

from eiegen.hw.eie.params import EIEParams
from eiegen.sw.errors import ImageError, CapacityError
from eiegen.sw.image import read_image, write_image, parse_layer_descriptor, layer_descriptor
from eiegen.sw.packer import pack
from eiegen.sim.testdata import random_compressed_model

PARAMS = EIEParams(n_pes=3, entries_per_word=4, spmat_depth=512, ptr_depth=128, bias_depth=64,
                   act_depth=32, max_layers=4)


@pytest.fixture
def model():
    return random_compressed_model(np.random.default_rng(11), [40, 30, 12], [0.3, 0.5])


@pytest.fixture
def image_dir(tmp_path, model):
    write_image(pack(model, PARAMS), tmp_path / "img")
    return tmp_path / "img"


def test_files_and_roundtrip(image_dir, model):
    names = sorted(os.listdir(image_dir))
    for pe in range(3):
        for mem in ("spmat", "ptr_even", "ptr_odd", "bias"):
            assert f"pe{pe:02d}_{mem}.hex" in names
    assert {"manifest.json", "layers.hex", "codebook.hex"} <= set(names)
    im = read_image(image_dir)
    assert im.params == PARAMS.replace(fifo_depth=EIEParams().fifo_depth)
    for orig, dec in zip(model.layers, im.decode()):
        np.testing.assert_array_equal(dec.index, orig.index)


def test_hex_layouts(image_dir):
    im = read_image(image_dir)
    lines = (image_dir / "pe01_spmat.hex").read_text().split()
    assert all(len(l) == 8 for l in lines)                   # 4 entries x 8 bits
    word = int(lines[0], 16)
    assert [(word >> (8 * k)) & 0xFF for k in range(4)] == list(im.spmat[1][:4])
    ptr_lines = (image_dir / "pe00_ptr_even.hex").read_text().split()
    assert all(len(l) == -(-PARAMS.ptr_width // 4) for l in ptr_lines)
    assert [int(l, 16) for l in ptr_lines] == list(im.ptr[0][0::2])
    quarters = [int(l, 16) for l in (image_dir / "layers.hex").read_text().split()]
    assert len(quarters) == 8 and all(q < 1 << 16 for q in quarters)   # four 16-bit words a layer
    desc = [sum(quarters[4 * i + k] << (16 * k) for k in range(4)) for i in range(2)]
    d0 = parse_layer_descriptor(desc[0])
    assert d0 == {"in_local": 14, "out_local": 10, "ptr_base": 0, "bias_base": 0, "relu": True}
    d1 = parse_layer_descriptor(desc[1])
    assert d1["ptr_base"] == 14 * 3 + 1 and d1["bias_base"] == 10 and d1["relu"] is False
    assert layer_descriptor(im.layers[1]) == desc[1]
    cb = (image_dir / "codebook.hex").read_text().split()
    assert len(cb) == 32 and cb[0] == "0000" and cb[16] == "0000"


def test_manifest_fields(image_dir):
    m = json.loads((image_dir / "manifest.json").read_text())
    assert m["format"] == "eiegen-eie-image" and m["version"] == 2
    assert m["params"]["n_pes"] == 3 and m["params"]["frac"] == 8
    assert [l["name"] for l in m["layers"]] == ["fc1", "fc2"]
    assert m["memories"]["spmat"]["width"] == 32
    assert "pe00_spmat.hex" in m["files"] and len(m["files"]["pe00_spmat.hex"]["sha256"]) == 64
    assert 0 < m["stats"]["density"] < 1


def test_corrupted_file_is_refused(image_dir):
    p = image_dir / "pe02_spmat.hex"
    text = p.read_text()
    p.write_text(text[:5] + ("0" if text[5] != "0" else "1") + text[6:])
    with pytest.raises(ImageError, match=r"pe02_spmat.hex: checksum mismatch"):
        read_image(image_dir)


def test_truncated_file_is_refused(image_dir):
    p = image_dir / "pe00_ptr_odd.hex"
    p.write_bytes(p.read_bytes()[:-9])
    with pytest.raises(ImageError, match=r"pe00_ptr_odd.hex: checksum mismatch .*truncated"):
        read_image(image_dir)


def test_malformed_hex_even_with_matching_checksum(image_dir):
    # a file edited and re-checksummed must still parse as words of the right width
    import hashlib
    p = image_dir / "pe00_bias.hex"
    data = b"zz12\n" + p.read_bytes()[5:]
    p.write_bytes(data)
    m = json.loads((image_dir / "manifest.json").read_text())
    m["files"]["pe00_bias.hex"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (image_dir / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ImageError, match=r"pe00_bias.hex:1: expected a 16-bit word"):
        read_image(image_dir)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.pop("params"), "missing field 'params'"),
    (lambda m: m.update(version=99), "format version 99"),
    (lambda m: m.update(format="other"), "not an eiegen-eie-image manifest"),
    (lambda m: m["params"].update(n_pes="four"), "'n_pes' must be int"),
    (lambda m: m["params"].update(n_pes=0), "invalid params"),
    (lambda m: m["layers"][0].update(in_local=3), "layer 'fc1' in_local = 14, manifest says 3"),
])
def test_bad_manifest(image_dir, edit, message):
    mp = image_dir / "manifest.json"
    m = json.loads(mp.read_text())
    edit(m)
    mp.write_text(json.dumps(m))
    with pytest.raises(ImageError, match=message):
        read_image(image_dir)


def test_not_an_image(tmp_path):
    with pytest.raises(ImageError, match="not an image directory"):
        read_image(tmp_path / "nope")
    (tmp_path / "d").mkdir()
    with pytest.raises(ImageError, match="no manifest.json"):
        read_image(tmp_path / "d")
    (tmp_path / "d" / "manifest.json").write_text("{ not json")
    with pytest.raises(ImageError, match="corrupted manifest"):
        read_image(tmp_path / "d")


def test_missing_listed_file(image_dir):
    (image_dir / "pe01_bias.hex").unlink()
    with pytest.raises(ImageError, match="pe01_bias.hex: listed in the manifest but missing"):
        read_image(image_dir)


def test_failed_write_leaves_nothing(tmp_path, model):
    im = pack(model, PARAMS)
    im.params = PARAMS.replace(spmat_depth=2)       # no longer fits
    with pytest.raises(CapacityError):
        write_image(im, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_previous_image(tmp_path, model, image_dir):
    before = sorted((p.name, p.read_bytes()) for p in image_dir.iterdir())
    im = pack(model, PARAMS)
    im.params = PARAMS.replace(spmat_depth=2)
    with pytest.raises(CapacityError):
        write_image(im, image_dir)
    assert sorted((p.name, p.read_bytes()) for p in image_dir.iterdir()) == before
    assert [p.name for p in image_dir.parent.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("field, value, evidence", [
    ("n_pes", 4, "params.json"), ("n_pes", 2, "params.json"), ("frac", 9, "params.json"),
    ("acc_width", 40, "params.json"), ("entries_per_word", 2, "params.json"),
    ("spmat_depth", 1024, "params.json"), ("max_layers", 8, "params.json"),
])
def test_a_changed_manifest_param_is_named(image_dir, field, value, evidence):
    """Editing params in the manifest cannot re-target an image: the refusal
    names the field that disagrees, whatever it is."""
    m = json.loads((image_dir / "manifest.json").read_text())
    m["params"][field] = value
    (image_dir / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ImageError, match=rf"params\.{field} = {value} disagrees with the image: .*{evidence}"):
        read_image(image_dir)


def test_the_refusal_names_pack_s_own_option(image_dir):
    """The hint says the option `eiegen pack` has (`--pes`, not `--n-pes`)."""
    from eiegen.hw.eie.params import IMAGE_FIELDS
    from eiegen.sw.cli import build_parser
    from eiegen.sw.image import pack_option
    sub = build_parser()._subparsers._group_actions[0].choices["pack"]
    options = {o for a in sub._actions for o in a.option_strings}
    assert {pack_option(f) for f in IMAGE_FIELDS} <= options
    m = json.loads((image_dir / "manifest.json").read_text())
    m["params"]["n_pes"] = 2
    (image_dir / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ImageError, match=r"eiegen pack \.\.\. --pes N\)"):
        read_image(image_dir)


def _without_params_file(image_dir):
    """An image as written before params.json existed."""
    m = json.loads((image_dir / "manifest.json").read_text())
    del m["files"]["params.json"]
    (image_dir / "params.json").unlink()
    return m


@pytest.mark.parametrize("field, value, message", [
    ("n_pes", 4, r"params\.n_pes = 4 disagrees with the image: it holds memory files for 3 PE\(s\)"),
    ("n_pes", 2, r"params\.n_pes = 2 disagrees with the image: it holds memory files for 3 PE\(s\)"),
    ("frac", 9, r"params\.frac = 9 disagrees with the image: layer 'fc1': its codebook's float values "
                r"do not round to its codes with frac = 9 \(they were made with frac = 8\)"),
])
def test_older_images_are_cross_checked_from_their_contents(image_dir, field, value, message):
    m = _without_params_file(image_dir)
    m["params"][field] = value
    (image_dir / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ImageError, match=message):
        read_image(image_dir)


def test_params_file_matches_the_manifest(image_dir):
    m = json.loads((image_dir / "manifest.json").read_text())
    assert json.loads((image_dir / "params.json").read_text()) == m["params"]
    assert "params.json" in m["files"]
    read_image(image_dir)
    m = _without_params_file(image_dir)      # older images (no params.json) still read
    (image_dir / "manifest.json").write_text(json.dumps(m))
    assert read_image(image_dir).params.to_dict() == m["params"]
