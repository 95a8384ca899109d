"""Bit-exact numpy golden models, cycle models and the cocotb harness helpers."""
