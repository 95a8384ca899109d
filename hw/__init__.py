"""Amaranth generators: EIE PE array (eie), TPU-style systolic unit (systolic), shared blocks (common)."""
