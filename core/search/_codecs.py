"""Codecs behind ``core.search``: how each memory mode stores rows and scores a block of them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.errors import InvalidInputError
from core.search import _compiled as compiled
from core.search import _kernels as kernels
from core.search._validation import row_blocks

_FIT_ROWS = 1 << 16  # rows encoded per step while building, to bound temporaries
# float32 bit mask keeping the sign (bit 31) and the shifted half-float bits (27..13) after
# a sign-extending int16 -> int32 widen and a 13-bit left shift; drops the sign copies (30..28).
_HALF_MASK = np.int32(0x8FFFE000 - (1 << 32))
_HALF_MIN_NORMAL = 2.0**-14
_BYTE_LANES = np.uint64(0x00FF00FF00FF00FF)
_LANE_SUM = np.uint64(0x0001000100010001)
_EIGHT, _FORTY_EIGHT = np.uint64(8), np.uint64(48)
_BINARY_GEMM_MIN_QUERIES = 8  # from here on, unpack + GEMM beats a popcount pass per query


def _blocks(n: int):
    for b in row_blocks(n, _FIT_ROWS):
        yield b.start, b.stop


def _scores_out(scratch, rows, qt):
    return kernels.buffer(scratch, "scores", (rows, qt.shape[1]), np.float32)


def _decode_half_bits(halves: np.ndarray, out: np.ndarray) -> None:
    """float16 (r, d) -> int32 (r, d) holding float32 bits of ``value * 2**-112``.

    Sign-extend each half into 32 bits, shift its exponent and mantissa into float32 position,
    keep the sign bit and clear the three sign copies (bits 30..28). Exact for normal halves
    and zeros (the index stores no subnormals).
    """
    np.copyto(out, halves.view(np.int16))
    np.left_shift(out, 13, out=out)
    np.bitwise_and(out, _HALF_MASK, out=out)


@dataclass
class Float16:
    """IEEE half floats; decoded in blocks by integer bit moves (values times 2**-112)."""

    codes: np.ndarray  # float16 (n, d)

    @classmethod
    def fit(cls, x: np.ndarray) -> Float16:
        codes = np.empty(x.shape, dtype=np.float16)
        for lo, hi in _blocks(x.shape[0]):
            block = np.asarray(x[lo:hi], dtype=np.float32)
            if np.abs(block).max(initial=0) > np.finfo(np.float16).max:
                raise InvalidInputError(
                    f"embeddings rows {lo}..{hi - 1} hold values beyond the float16 range "
                    "(±65504); use mode 'float32' or 'int8' for such vectors"
                )
            # Subnormal halves would decode to subnormal float32s (slow on some CPUs): round
            # them to 0 or the smallest normal, an error below 3.1e-5.
            tiny = np.abs(block) < _HALF_MIN_NORMAL
            if tiny.any():
                block = block.copy()  # never modify the caller's array
                small = block[tiny]
                snapped = np.where(np.abs(small) >= _HALF_MIN_NORMAL / 2, _HALF_MIN_NORMAL, 0)
                block[tiny] = np.copysign(snapped.astype(np.float32), small)
            codes[lo:hi] = block
        return cls(codes)

    @property
    def nbytes(self) -> int:
        return self.codes.nbytes

    def scale_queries(self, qt: np.ndarray) -> tuple[np.ndarray, float]:
        """Fold the decode factor 2**112 into (d, m) queries; returns (scaled, c) with
        ``decoded @ scaled == c * (x @ qt)`` for a power of two ``c`` that avoids overflow."""
        peak = float(np.abs(qt).max(initial=0.0))
        e = max(0, math.ceil(math.log2(peak)) - 14) if peak > 0 else 0
        return qt * np.float32(2.0 ** (112 - e)), 2.0**-e

    def block_product(self, lo: int, hi: int, qt: np.ndarray, scratch: dict) -> np.ndarray:
        buf = kernels.buffer(scratch, "decoded", (hi - lo, self.codes.shape[1]), np.int32)
        _decode_half_bits(self.codes[lo:hi], buf)
        return np.matmul(buf.view(np.float32), qt, out=_scores_out(scratch, hi - lo, qt))

    def decode(self, ids: np.ndarray) -> np.ndarray:
        rows = self.codes[ids.ravel()].astype(np.float32)
        return rows.reshape(*ids.shape, self.codes.shape[1])

    def decode_range(self, lo: int, hi: int) -> np.ndarray:
        out = np.empty((hi - lo, self.codes.shape[1]), dtype=np.int32)
        _decode_half_bits(self.codes[lo:hi], out)
        decoded = out.view(np.float32)
        decoded *= np.float32(2.0**112)  # exact: a power of two on normal numbers
        return decoded


@dataclass
class Int8:
    """Per-dimension affine int8 codes: ``x ~ codes * scale + offset``."""

    codes: np.ndarray  # int8 (n, d)
    scale: np.ndarray  # float32 (d,)
    offset: np.ndarray  # float32 (d,)

    @classmethod
    def fit(cls, x: np.ndarray, *, clip_quantile: float = 0.0) -> Int8:
        if not 0.0 <= clip_quantile < 0.5:
            raise InvalidInputError(f"clip_quantile must be in [0, 0.5), got {clip_quantile}")
        n, d = x.shape
        if clip_quantile > 0:
            sample = np.asarray(x[:: max(1, n // 100_000)], dtype=np.float32)
            lo = np.quantile(sample, clip_quantile, axis=0).astype(np.float32)
            hi = np.quantile(sample, 1 - clip_quantile, axis=0).astype(np.float32)
        else:
            lo = np.full(d, np.inf, np.float32)
            hi = np.full(d, -np.inf, np.float32)
            for a, b in _blocks(n):
                block = np.asarray(x[a:b], dtype=np.float32)
                np.minimum(lo, block.min(axis=0), out=lo)
                np.maximum(hi, block.max(axis=0), out=hi)
        span = hi - lo
        scale = np.where(span > 0, span / 255, 1.0).astype(np.float32)
        codes = np.empty((n, d), dtype=np.int8)
        for a, b in _blocks(n):
            block = np.asarray(x[a:b], dtype=np.float32)
            levels = np.rint((block - lo) / scale) - 128
            codes[a:b] = np.clip(levels, -128, 127)
        offset = (lo + 128 * scale).astype(np.float32)
        return cls(codes, scale, offset)

    @property
    def nbytes(self) -> int:
        return self.codes.nbytes + self.scale.nbytes + self.offset.nbytes

    def block_product(self, lo: int, hi: int, qt: np.ndarray, scratch: dict) -> np.ndarray:
        buf = kernels.buffer(scratch, "decoded", (hi - lo, self.codes.shape[1]), np.float32)
        np.copyto(buf, self.codes[lo:hi])
        return np.matmul(buf, qt, out=_scores_out(scratch, hi - lo, qt))

    def decode(self, ids: np.ndarray) -> np.ndarray:
        rows = self.codes[ids.ravel()] * self.scale + self.offset
        return rows.reshape(*ids.shape, self.codes.shape[1])

    def decode_range(self, lo: int, hi: int) -> np.ndarray:
        return self.codes[lo:hi] * self.scale + self.offset


@dataclass
class Binary:
    """Sign bits of ``x - center`` packed into uint64 words (d rounded up to 64 bits)."""

    codes: np.ndarray  # uint64 (n, words)
    center: np.ndarray  # float32 (d,)

    @classmethod
    def fit(cls, x: np.ndarray) -> Binary:
        n, d = x.shape
        total = np.zeros(d, np.float64)
        for lo, hi in _blocks(n):
            total += np.asarray(x[lo:hi], dtype=np.float32).sum(axis=0, dtype=np.float64)
        center = (total / max(n, 1)).astype(np.float32)
        codes = np.empty((n, -(-d // 64)), dtype=np.uint64)
        out = cls(codes, center)
        for lo, hi in _blocks(n):
            codes[lo:hi] = out.encode(np.asarray(x[lo:hi], dtype=np.float32))
        return out

    @property
    def nbytes(self) -> int:
        return self.codes.nbytes + self.center.nbytes

    def encode(self, x: np.ndarray) -> np.ndarray:
        """(m, d) float32 -> (m, words) uint64 sign bits of ``x - center``."""
        packed = np.packbits(x > self.center, axis=1)
        padded = np.zeros((x.shape[0], self.codes.shape[1] * 8), dtype=np.uint8)
        padded[:, : packed.shape[1]] = packed
        return padded.view(np.uint64)

    def candidates(self, q: np.ndarray, n_cand: int, budget) -> np.ndarray:
        """Ids (m, n_cand) with the smallest Hamming distance to each query's code.

        Few queries: XOR + ``np.bitwise_count`` per query (reads 1 bit per value). Many
        queries: NumPy has no popcount-GEMM, so blocks of bits are unpacked to 0/1 float32 and
        multiplied by the queries' +-1 signs in one GEMM: ``b . (2c - 1) = |c| - hamming``
        up to a per-query constant, the same ranking.
        """
        qc = self.encode(q)
        n, words = self.codes.shape
        m = q.shape[0]
        d = self.center.size
        popcount = compiled.popcount_module()
        if popcount is not None and budget is None:
            return popcount.hamming_candidates(self.codes, qc, n_cand, kernels.n_workers())
        if m >= _BINARY_GEMM_MIN_QUERIES:
            signs = np.unpackbits(qc.view(np.uint8), axis=1, count=d).astype(np.float32)
            qt = np.ascontiguousarray((2 * signs - 1).T)
            row_bytes = 5 * d
            score_block = self._gemm_block(qt)
        else:
            row_bytes = 9 * words + 24
            score_block = self._popcount_block(qc)
        rows = kernels.block_rows(
            n, m, row_bytes=row_bytes, budget_bytes=budget, workers=kernels.n_workers()
        )
        ids, _ = kernels.scan(n, m, n_cand, score_block, rows_per_block=rows, work=n * m * words)
        return ids

    def _popcount_block(self, qc):
        codes, words, m = self.codes, self.codes.shape[1], qc.shape[0]
        lanes = -(-words // 8)  # per-word counts (uint8) summed 8 at a time in one uint64

        def score_block(lo, hi, scratch):
            rows = hi - lo
            xor = kernels.buffer(scratch, "xor", (rows, words), np.uint64)
            counts = scratch.get("counts")
            if counts is None or counts.shape[0] < rows:
                counts = scratch["counts"] = np.zeros((rows, lanes * 8), np.uint8)  # pad = 0
            counts = counts[:rows]
            packed = counts.view(np.uint64)
            pair = kernels.buffer(scratch, "pair", (rows, lanes), np.uint64)
            tmp = kernels.buffer(scratch, "tmp", (rows, lanes), np.uint64)
            out = kernels.buffer(scratch, "scores", (m, rows), np.float32)
            for j in range(m):
                np.bitwise_xor(codes[lo:hi], qc[j], out=xor)
                np.bitwise_count(xor, out=counts[:, :words])
                # Sum 8 byte counts (each <= 64): add byte pairs into 16-bit lanes, then add
                # the four lanes with one multiply; the total (<= 512) lands in the top lane.
                np.right_shift(packed, _EIGHT, out=tmp)
                np.bitwise_and(tmp, _BYTE_LANES, out=tmp)
                np.bitwise_and(packed, _BYTE_LANES, out=pair)
                np.add(pair, tmp, out=pair)
                np.multiply(pair, _LANE_SUM, out=pair)
                np.right_shift(pair, _FORTY_EIGHT, out=pair)
                np.copyto(out[j], pair[:, 0], casting="unsafe")
                for lane in range(1, lanes):
                    np.add(out[j], pair[:, lane], out=out[j], casting="unsafe")
            np.negative(out, out=out)  # fewer differing bits ranks higher
            return out.T

        return score_block

    def _gemm_block(self, qt):
        packed, d = self.codes.view(np.uint8), self.center.size

        def score_block(lo, hi, scratch):
            buf = kernels.buffer(scratch, "decoded", (hi - lo, d), np.float32)
            np.copyto(buf, np.unpackbits(packed[lo:hi], axis=1, count=d))
            out = kernels.buffer(scratch, "scores", (hi - lo, qt.shape[1]), np.float32)
            return np.matmul(buf, qt, out=out)

        return score_block
