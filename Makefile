# eiegen — the commands users meet: sim, test, bench, bitstream.
# The first target that needs Python creates .venv and installs eiegen into
# it (editable, with the dev extras); nothing outside .venv is used except
# python3 itself and, for the second simulator, Icarus Verilog: `make test`
# installs it when it is missing and it can (root with apt-get, as .ci/run),
# otherwise the Icarus tests are skipped with the command that installs it
# (EIEGEN_REQUIRE_ICARUS=1, set by CI, makes a missing Icarus a failure).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.eiegen-installed
JOBS   ?= 2

BOARD  ?= icebreaker
DESIGN ?= eie
PES    ?=
SIMULATOR ?= verilator

.PHONY: all venv icarus sim test test-full bench bitstream report docs-figures clean distclean help

all: test

help:
	@echo "make sim                 train, compress, pack and run a digits MLP on the generated EIE RTL"
	@echo "make test                the test suite (fast subset of the RTL sweeps)"
	@echo "make test-full           the full regression sweep (also run by CI)"
	@echo "make bench               benchmarks (estimate first; a few minutes), plots in build/bench/"
	@echo "make docs-figures        rewrite README's and docs' figures from runs (sim, bench, samples)"
	@echo "make bitstream BOARD=icebreaker|ulx3s [DESIGN=eie|systolic] [PES=n]"

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

sim: $(STAMP)
	$(BIN)/eiegen sim --simulator $(SIMULATOR)

# System packages the tests use (not on PyPI): Icarus Verilog, the second
# simulator, and the lz4 headers Verilator's FST wave writer includes. Installed
# when missing and possible (root with apt-get), else the command is printed;
# the Icarus tests then skip (or fail with EIEGEN_REQUIRE_ICARUS=1, see
# tests/conftest.py) and FST waves from Verilator are refused with that command.
HAVE_ICARUS = { command -v iverilog && command -v vvp; } >/dev/null 2>&1
HAVE_LZ4    = { echo '\#include <lz4.h>' | c++ -E -x c++ -; } >/dev/null 2>&1

icarus: $(STAMP)
	@missing=""; \
	$(HAVE_ICARUS) || missing=" iverilog"; \
	$(HAVE_LZ4) || missing="$$missing liblz4-dev"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing$$missing (system packages the tests use: apt-get install -y$$missing)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing >/dev/null 2>&1 || \
	    { DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing >/dev/null 2>&1; } || \
	    echo "make: could not install$$missing with apt-get"; \
	fi; \
	if ! $(HAVE_ICARUS); then \
	    echo "make: Icarus Verilog is not installed: its tests are skipped; install it with:" \
	         "$$($(BIN)/python -c 'from eiegen.sw.toolchain import icarus_install_command as c; print(c())')"; \
	fi

test: $(STAMP) icarus
	$(BIN)/python -m pytest -n $(JOBS) -m "not full"

test-full: $(STAMP) icarus
	$(BIN)/python -m pytest -n $(JOBS)

bench: $(STAMP)
	$(BIN)/eiegen bench

report: $(STAMP)
	$(BIN)/eiegen report

# README.md and docs/ figures that come from runs: regenerated, never typed
# (sw/docsfig.py; `eiegen bench --full -o build/bench-full` must have run once,
# for the duration of a --full run)
docs-figures: $(STAMP)
	$(BIN)/python -m eiegen.sw.docsfig

bitstream: $(STAMP)
	$(BIN)/eiegen build --board $(BOARD) --design $(DESIGN) $(if $(PES),--pes $(PES))

clean:
	rm -rf build .pytest_cache

distclean: clean
	rm -rf $(VENV) *.egg-info
