# eiegen — the commands users meet: sim, test, bench, bitstream.
# The first target that needs Python creates .venv and installs eiegen into
# it (editable, with the dev extras); nothing outside .venv is used except
# python3 itself and, for the second simulator, Icarus Verilog.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.eiegen-installed
JOBS   ?= 2

BOARD  ?= icebreaker
DESIGN ?= eie
PES    ?=
SIMULATOR ?= verilator

.PHONY: all venv sim test test-full bench bitstream report clean distclean help

all: test

help:
	@echo "make sim                 train, compress, pack and run a digits MLP on the generated EIE RTL"
	@echo "make test                the test suite (fast subset of the RTL sweeps)"
	@echo "make test-full           the full regression sweep (also run by CI)"
	@echo "make bench               benchmarks, printed as tables, plots in build/bench/"
	@echo "make bitstream BOARD=icebreaker|ulx3s [DESIGN=eie|systolic] [PES=n]"

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

sim: $(STAMP)
	$(BIN)/eiegen sim --simulator $(SIMULATOR)

test: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) -m "not full"

test-full: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS)

bench: $(STAMP)
	$(BIN)/eiegen bench

report: $(STAMP)
	$(BIN)/eiegen report

bitstream: $(STAMP)
	$(BIN)/eiegen build --board $(BOARD) --design $(DESIGN) $(if $(PES),--pes $(PES))

clean:
	rm -rf build .pytest_cache

distclean: clean
	rm -rf $(VENV) *.egg-info
