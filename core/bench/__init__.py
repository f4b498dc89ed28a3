"""Benchmark harness: ``python -m core.bench`` writes BENCHMARKS.md and a JSON of every number.

Exact search (this engine, FAISS, the tutorial's approach) against the memory and compute floors
over corpus size x dimension x queries x method; the tutorial's claims re-measured; peak search
memory; and the memory modes of ``core.search`` (bytes per vector, speed, recall@10 on real text).
"""
