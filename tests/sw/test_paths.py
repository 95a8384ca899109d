"""sw/paths.py: caches and scratch in one documented place, never the
current directory by surprise."""

from pathlib import Path

from eiegen.sw import paths


def test_the_environment_variable_wins(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "c"))
    assert paths.cache_dir("sim") == tmp_path / "c" / "sim"


def test_a_checkout_uses_its_build_folder(monkeypatch):
    monkeypatch.delenv(paths.CACHE_ENV, raising=False)
    root = paths.checkout_root()
    assert root is not None and (root / "pyproject.toml").exists()      # the tests run from a checkout
    assert paths.cache_dir("sim") == root / "build" / "sim"


def test_an_installed_copy_uses_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.CACHE_ENV, raising=False)
    monkeypatch.setattr(paths, "_PACKAGE_ROOT", tmp_path / "site-packages" / "eiegen")
    assert paths.checkout_root() is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.cache_dir("sim") == tmp_path / "xdg" / "eiegen" / "sim"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.cache_dir() == tmp_path / "home" / ".cache" / "eiegen"


def test_simulator_builds_do_not_depend_on_the_current_folder(monkeypatch, tmp_path):
    """`eiegen run --port sim` from another folder used to create ./build/sim there."""
    from eiegen.sim import board_harness, eie_harness
    from eiegen.sw.systolic import rtl
    monkeypatch.delenv(paths.CACHE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    for root in (eie_harness.default_build_root(), board_harness.default_build_root(),
                 rtl.default_build_root()):
        assert root == paths.cache_dir("sim") and root.is_absolute()
        assert tmp_path not in root.parents
    assert list(Path(tmp_path).iterdir()) == []
