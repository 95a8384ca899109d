"""Session-wide rules of the test suite.

Tests marked `icarus` run the generated Verilog in Icarus Verilog, the second
simulator, which is a system package (not on PyPI). `make test` installs it
where it can (as root with apt-get); otherwise those tests are skipped with
the command that installs it. CI sets EIEGEN_REQUIRE_ICARUS=1, which turns a
missing Icarus into a failure, so CI always runs both simulators.
"""

import os

import pytest

from eiegen.sw import toolchain

REQUIRE_ICARUS = "EIEGEN_REQUIRE_ICARUS"


def icarus_required():
    return os.environ.get(REQUIRE_ICARUS, "").strip().lower() not in ("", "0", "no", "false")


def pytest_collection_modifyitems(config, items):
    if toolchain.have_icarus() or icarus_required():
        return
    skip = pytest.mark.skip(reason=f"Icarus Verilog is not installed (install it with "
                                   f"`{toolchain.icarus_install_command()}`; "
                                   f"{REQUIRE_ICARUS}=1 makes this a failure)")
    for item in items:
        if item.get_closest_marker("icarus"):
            item.add_marker(skip)


def pytest_runtest_setup(item):
    if item.get_closest_marker("icarus") and icarus_required() and not toolchain.have_icarus():
        pytest.fail(f"Icarus Verilog (iverilog, vvp) is not installed and {REQUIRE_ICARUS} is set; "
                    f"install it with `{toolchain.icarus_install_command()}`", pytrace=False)
