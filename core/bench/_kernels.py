"""Candidate kernels for the compressed modes, measured side by side in one run.

For each compressed mode the engine is timed with its pure-NumPy kernels
(``WORKBENCH_KERNELS=numpy``) and with the compiled kernels it uses by default
(``core.search._compiled``: SimSIMD for float16 / int8 with up to 4 queries, numba's popcount
for binary), against the wheels that could replace them (installed ones only): SimSIMD
(``simsimd.cdist``: float16 and int8 dot products, Hamming distance on packed bits, its own
threads) and FAISS (``IndexScalarQuantizer`` fp16 / 8-bit, ``IndexBinaryFlat``). Every
candidate does the same job as the engine's scan: score every row for the queries and keep
each query's best ``pool`` ids; the table records the time and how far its ids agree with the
NumPy engine's (1.0 = the same ids).
"""

from __future__ import annotations

import os

import numpy as np

from core.bench._grid import K, log, time_cell
from core.search._kernels import n_workers
from core.search._modes import build_index


def _topk(scores: np.ndarray, pool: int, *, higher: bool) -> np.ndarray:
    key = -scores if higher else scores
    part = np.argpartition(key, pool - 1, axis=1)[:, :pool]
    order = np.argsort(np.take_along_axis(key, part, 1), axis=1, kind="stable")
    return np.take_along_axis(part, order, 1)


def _agreement(ids: np.ndarray, reference: np.ndarray) -> float:
    hits = sum(np.intersect1d(a, b).size for a, b in zip(ids, reference, strict=True))
    return hits / reference.size


def _optional(name: str):
    try:
        return __import__(name)
    except ImportError:
        return None


def _numpy_kernels(fn):
    """``fn`` run with the compiled kernels switched off (the engine's NumPy path)."""

    def run():
        before = os.environ.get("WORKBENCH_KERNELS")
        os.environ["WORKBENCH_KERNELS"] = "numpy"
        try:
            return fn()
        finally:
            if before is None:
                del os.environ["WORKBENCH_KERNELS"]
            else:
                os.environ["WORKBENCH_KERNELS"] = before

    return run


def _engine_pair(record, mode, numpy_label, compiled_label, m, fn):
    """The engine with its NumPy kernels (the reference ids) and with its compiled ones."""
    slow = _numpy_kernels(fn)
    ref = np.asarray(slow())
    record(mode, numpy_label, m, slow, ref)
    record(mode, compiled_label, m, fn, ref)
    return ref


class _Recorder:
    def __init__(self, repeats: int) -> None:
        self.rows: list[dict] = []
        self.repeats = repeats

    def __call__(self, mode, kernel, m, fn, reference) -> None:
        t = time_cell(fn, self.repeats)
        ids = np.asarray(fn())
        self.rows.append(
            {
                "mode": mode,
                "kernel": kernel,
                "m": m,
                "median_s": t["median_s"],
                "agreement": _agreement(ids, reference),
            }
        )
        log(f"kernel {mode:8s} {kernel:36s} m={m:<3d} {t['median_s'] * 1e3:9.2f} ms")


def _float16(x, queries, batches, record, simsimd, faiss, workers) -> None:
    """The engine's bit-decode + float32 GEMM against SIMD / FAISS half-precision products."""
    index = build_index(x, "float16")
    codes = index.codec.codes
    sq = None
    if faiss is not None:
        sq = faiss.IndexScalarQuantizer(x.shape[1], faiss.ScalarQuantizer.QT_fp16, 0)
        sq.metric_type = faiss.METRIC_INNER_PRODUCT
        sq.train(x[:10_000])
        sq.add(x)
    for m in batches:
        q = queries[:m]
        ref = _engine_pair(
            record,
            "float16",
            "engine, NumPy (bit decode + GEMM)",
            "engine, compiled (SimSIMD f16, exact)",
            m,
            lambda q=q: index.search(q, K, "dot")[0],
        )
        if simsimd is not None:
            q16 = q.astype(np.float16)

            def simd(q16=q16):
                scores = simsimd.cdist(q16, codes, metric="dot", threads=workers)
                return _topk(np.asarray(scores), K, higher=True)

            record("float16", "simsimd.cdist f16 dot", m, simd, ref)
        if sq is not None:
            record(
                "float16", "faiss IndexScalarQuantizer fp16", m, lambda q=q: sq.search(q, K)[1], ref
            )


def _int8(x, queries, batches, record, simsimd, workers) -> None:
    """The engine's int8 -> float32 cast + GEMM (float queries) against int8 x int8 products
    (SimSIMD needs the queries quantised too: a different, less exact score)."""
    index = build_index(x, "int8")
    codes = index.codec.codes
    for m in batches:
        q = queries[:m]
        ref = _engine_pair(
            record,
            "int8",
            "engine, NumPy (int8 -> float32 + GEMM)",
            "engine, compiled (SimSIMD i8, exact)",
            m,
            lambda q=q: index.search(q, K, "dot")[0],
        )
        if simsimd is not None:
            qi = np.rint(q / (np.abs(q).max(axis=1, keepdims=True) / 127)).astype(np.int8)

            def simd(qi=qi):
                scores = simsimd.cdist(qi, codes, metric="dot", threads=workers)
                return _topk(np.asarray(scores), K, higher=True)

            record("int8", "simsimd.cdist i8 dot (int8 queries)", m, simd, ref)


def _binary(x, queries, batches, record, simsimd, faiss, workers) -> None:
    """The engine's XOR + popcount (or unpack + GEMM) pool against SIMD / FAISS Hamming."""
    index = build_index(x, "binary")
    pool = index.rescore_pool(K)
    packed = np.ascontiguousarray(index.codec.codes.view(np.uint8))
    flat = None
    if faiss is not None:
        flat = faiss.IndexBinaryFlat(packed.shape[1] * 8)
        flat.add(packed)
    for m in batches:
        q = queries[:m]
        ref = _engine_pair(
            record,
            "binary",
            "engine, NumPy (XOR + bitwise_count / GEMM)",
            "engine, compiled (numba popcount)",
            m,
            lambda q=q: index.codec.candidates(q, pool, None),
        )
        qc = np.ascontiguousarray(index.codec.encode(q).view(np.uint8))
        if simsimd is not None:

            def simd(qc=qc):
                scores = simsimd.cdist(qc, packed, metric="hamming", dtype="bin8", threads=workers)
                return _topk(np.asarray(scores), pool, higher=False)

            record("binary", "simsimd.cdist hamming (bin8)", m, simd, ref)
        if flat is not None:
            record(
                "binary", "faiss IndexBinaryFlat", m, lambda qc=qc: flat.search(qc, pool)[1], ref
            )


def candidates(x: np.ndarray, queries: np.ndarray, *, repeats: int = 5) -> dict:
    """Rows ``{"mode", "kernel", "m", "median_s", "agreement"}`` for float16, int8 and binary."""
    workers = n_workers()
    simsimd, faiss = _optional("simsimd"), _optional("faiss")
    batches = sorted({1, queries.shape[0]})
    record = _Recorder(repeats)
    _float16(x, queries, batches, record, simsimd, faiss, workers)
    _int8(x, queries, batches, record, simsimd, workers)
    _binary(x, queries, batches, record, simsimd, faiss, workers)
    return {"n": int(x.shape[0]), "d": int(x.shape[1]), "workers": workers, "rows": record.rows}
