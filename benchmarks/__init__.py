"""Benchmarks: scripts that measure and write numbers to benchmarks/results/, never tests."""
