"""Benchmarks at province scale: the synthetic-data generator and the measurements."""
