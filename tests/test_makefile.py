"""`make test` on a fresh machine without Icarus Verilog (the Makefile's
`icarus` target and tests/conftest.py), and CI's variable that turns a missing
Icarus into a failure (.ci/run).

The machine running these tests may have Icarus installed and be root: each
case runs with a PATH of its own (a folder of stand-in tools), so `iverilog`,
`vvp`, `apt-get` and `id` are what the case says they are. Nothing is
installed and no simulator runs.
"""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.executable).parent.parent
MAKE = shutil.which("make")

pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed (README: python3 and make)")

ICARUS_TEST = "tests/sw/test_simflow.py::test_flow_on_icarus_with_waves"


def _script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _bin(tmp_path, *, uid, apt_get=None):
    """A PATH folder: `id` answering `uid`, no iverilog or vvp, and with
    `apt_get` (a shell body) a stand-in apt-get that logs its arguments."""
    b = tmp_path / "bin"
    b.mkdir()
    _script(b / "id", f'echo {uid}\n')
    if apt_get is not None:
        _script(b / "apt-get", f'echo "$@" >> {tmp_path}/apt-get.log\n{apt_get}')
    return b


def _make(target, path, *extra):
    """`make target` with PATH=path; the venv is not remade (-o: taken as up to date)."""
    stamp = VENV / ".eiegen-installed"
    env = {"PATH": str(path), "HOME": os.environ.get("HOME", "/tmp")}
    r = subprocess.run([MAKE, "-C", str(ROOT), f"VENV={VENV}", "-o", str(stamp), *extra, target],
                       env=env, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def test_not_root_skips_with_the_install_command(tmp_path):
    rc, out = _make("icarus", _bin(tmp_path, uid=1000))
    assert rc == 0, out
    assert "installing" not in out
    assert "make: Icarus Verilog is not installed: its tests are skipped; install it with:" in out, out
    assert "Icarus Verilog (https://steveicarus.github.io/iverilog/)" in out      # no package manager here


def test_root_with_apt_get_installs_it(tmp_path):
    """As root with apt-get the Makefile installs Icarus as .ci/run does; the
    stand-in apt-get "installs" iverilog and vvp into the PATH folder."""
    b = tmp_path / "bin"
    fake = ('case "$*" in *install*iverilog*) '
            f'printf "#!/bin/sh\\n" > {b}/iverilog; printf "#!/bin/sh\\n" > {b}/vvp; '
            f'{shutil.which("chmod")} +x {b}/iverilog {b}/vvp;; esac\n')
    rc, out = _make("icarus", _bin(tmp_path, uid=0, apt_get=fake))
    assert rc == 0, out
    assert "make: installing iverilog" in out, out
    assert "install -y iverilog" in (tmp_path / "apt-get.log").read_text()
    assert "not installed" not in out, out


def test_a_failed_install_still_runs_the_rest(tmp_path):
    rc, out = _make("icarus", _bin(tmp_path, uid=0, apt_get="exit 100\n"))
    assert rc == 0, out
    assert "could not install iverilog" in out, out
    assert "its tests are skipped; install it with: apt-get install iverilog" in out, out
    log = (tmp_path / "apt-get.log").read_text().splitlines()
    assert log[0].startswith("install -y iverilog") and "update" in log   # retried after an update


def test_make_test_checks_icarus_before_pytest(tmp_path):
    rc, out = _make("test", _bin(tmp_path, uid=1000), "-n")
    assert rc == 0, out
    assert out.index("command -v iverilog") < out.index("-m pytest"), out


def _pytest(tmp_path, **env):
    path = _bin(tmp_path, uid=1000, apt_get="exit 1\n")       # apt-get, but no iverilog
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", ICARUS_TEST],
                       cwd=ROOT, env={"PATH": str(path), "HOME": os.environ.get("HOME", "/tmp"), **env},
                       capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


def test_pytest_skips_icarus_tests_with_the_command(tmp_path):
    rc, out = _pytest(tmp_path)
    assert rc == 0, out
    assert "1 skipped" in out, out
    assert "Icarus Verilog is not installed (install it with `" in out and "apt-get install iverilog" in out, out


def test_ci_makes_a_missing_icarus_a_failure(tmp_path):
    rc, out = _pytest(tmp_path, EIEGEN_REQUIRE_ICARUS="1")
    assert rc != 0, out
    assert "Icarus Verilog (iverilog, vvp) is not installed and EIEGEN_REQUIRE_ICARUS is set" in out, out
    assert "skipped" not in out, out


def test_ci_run_sets_the_variable_for_make_test(tmp_path):
    """.ci/run exports EIEGEN_REQUIRE_ICARUS=1 before `make test` (a stand-in
    make reports what it was given, and fails so nothing else runs)."""
    b = tmp_path / "bin"
    b.mkdir()
    for tool in ("dirname",):
        (b / tool).symlink_to(shutil.which(tool))
    _script(b / "make", 'echo "make $* EIEGEN_REQUIRE_ICARUS=$EIEGEN_REQUIRE_ICARUS"; exit 7\n')
    r = subprocess.run(["/bin/sh", str(ROOT / ".ci" / "run")], env={"PATH": str(b)},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 7, r.stdout + r.stderr
    assert r.stdout.strip() == "make test EIEGEN_REQUIRE_ICARUS=1"
