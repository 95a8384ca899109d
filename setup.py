# The repository's top-level folders hw/, sw/, sim/ and boards/ are installed
# as eiegen.hw, eiegen.sw, eiegen.sim and eiegen.boards (docs/design.md): the
# repository root is the `eiegen` package, so no generic top-level name such
# as `hw` or `sw` lands in site-packages.
from setuptools import setup, find_packages

SUBPACKAGES = ("hw", "sw", "sim", "boards")
packages = ["eiegen"] + [
    f"eiegen.{name}" for name in find_packages(".", include=[f"{s}" for s in SUBPACKAGES] + [f"{s}.*" for s in SUBPACKAGES])
]

setup(
    packages=packages,
    package_dir={"eiegen": "."},
    package_data={"eiegen.hw": ["**/*.v"], "eiegen.sim": ["**/*.v"]},
    include_package_data=True,
)
