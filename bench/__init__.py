"""Benchmarks: each prints its figures and saves JSON under results/bench/ (see BENCHMARKS.md)."""
