"""PCA and random projections: shapes, agreement with a reference PCA, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.viz._projection import fit_projection, format_share

TOL = {"rtol": 1e-4, "atol": 1e-4}


def _reference_pca(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition of the covariance matrix, float64: an independent route to PCA."""
    centred = x.astype(np.float64) - x.mean(axis=0)
    cov = centred.T @ centred
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:k]
    return vectors[:, order].T, values[order] / values.sum()


def test_pca_matches_covariance_eigenvectors_up_to_sign(rng):
    x = rng.standard_normal((200, 12)).astype(np.float32) * np.linspace(
        5, 0.5, 12, dtype=np.float32
    )
    proj = fit_projection(x, "pca")
    ref_components, ref_ratio = _reference_pca(x, 2)
    for got, want in zip(proj.components, ref_components, strict=True):
        sign = np.sign(got @ want)
        np.testing.assert_allclose(got, sign * want, **TOL)
    np.testing.assert_allclose(proj.explained_variance_ratio, ref_ratio, **TOL)


def test_pca_recovers_a_planar_dataset_exactly(rng):
    """Points on a 2-D plane in 50-D: two components explain all variance, distances kept."""
    plane = rng.standard_normal((2, 50))
    plane, _ = np.linalg.qr(plane.T)
    coords = rng.standard_normal((80, 2)) * [3.0, 1.0]
    x = (coords @ plane.T + 0.5).astype(np.float32)
    xy = fit_projection(x).transform(x)
    assert xy.shape == (80, 2) and xy.dtype == np.float32 and xy.flags.c_contiguous
    proj = fit_projection(x)
    assert proj.explained_variance_ratio.sum() == pytest.approx(1.0, abs=1e-4)
    dists_in = np.linalg.norm(x[:, None] - x[None], axis=-1)
    dists_out = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    np.testing.assert_allclose(dists_out, dists_in, rtol=1e-3, atol=1e-3)


def test_queries_land_next_to_their_twin_documents(rng):
    docs = rng.standard_normal((30, 16)).astype(np.float32)
    proj = fit_projection(docs)
    np.testing.assert_allclose(proj.transform(docs[7]), proj.transform(docs)[7:8], **TOL)


def test_signs_are_deterministic_and_largest_loading_positive(rng):
    x = rng.standard_normal((40, 8)).astype(np.float32)
    a, b = fit_projection(x), fit_projection(-x + 0)
    for row in a.components:
        assert row[np.argmax(np.abs(row))] > 0
    np.testing.assert_array_equal(a.components, fit_projection(x.copy()).components)
    # Negating the data does not change the principal axes; fixed signs keep them identical.
    np.testing.assert_allclose(b.components, a.components, atol=1e-5)


def test_single_document_and_one_dimension_are_finite():
    one = fit_projection(np.ones((1, 5), dtype=np.float32))
    np.testing.assert_array_equal(one.transform(np.ones((1, 5))), np.zeros((1, 2), np.float32))
    points = np.arange(6, dtype=np.float32).reshape(6, 1)
    line = fit_projection(points).transform(points)
    assert np.isfinite(line).all()
    np.testing.assert_array_equal(line[:, 1], 0.0)  # no second direction exists in 1-D


def test_random_projection_is_seeded_and_orthonormal(rng):
    x = rng.standard_normal((50, 20)).astype(np.float32)
    a = fit_projection(x, "random", seed=3)
    np.testing.assert_array_equal(a.components, fit_projection(x, "random", seed=3).components)
    np.testing.assert_allclose(a.components @ a.components.T, np.eye(2), atol=1e-5)
    pca = fit_projection(x, "pca")
    # PCA keeps the most variance any 2-D linear projection can keep.
    assert pca.explained_variance_ratio.sum() >= a.explained_variance_ratio.sum() - 1e-6


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.float32,
        st.tuples(st.integers(1, 25), st.integers(1, 10)),
        elements=st.floats(-1e3, 1e3, width=32),
    )
)
def test_projection_is_finite_with_variance_ratio_in_unit_interval(x):
    proj = fit_projection(x)
    xy = proj.transform(x)
    assert xy.shape == (x.shape[0], 2)
    assert np.isfinite(xy).all()
    assert np.all(proj.explained_variance_ratio >= 0)
    assert proj.explained_variance_ratio.sum() <= 1 + 1e-4


@pytest.mark.parametrize(
    ("x", "kwargs", "match"),
    [
        (np.zeros((0, 4)), {}, "empty"),
        (np.array([[1.0, np.nan]]), {}, "row 0"),
        (np.ones((3, 4)), {"method": "tsne"}, "unknown projection method 'tsne'"),
        (np.ones((3, 4)), {"n_components": 0}, "n_components must be at least 1"),
        (np.ones((2, 2, 2)), {}, "1-D .* or 2-D"),
    ],
)
def test_bad_input_is_refused_with_a_reason(x, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_projection(x, **kwargs)


def test_transform_refuses_other_dimension(rng):
    proj = fit_projection(rng.standard_normal((10, 6)))
    with pytest.raises(
        ValueError, match="dimension 5 but the projection was fitted on dimension 6"
    ):
        proj.transform(np.ones((2, 5)))


def test_large_corpus_route_matches_the_svd_route(rng, monkeypatch):
    """Above SVD_MAX_CELLS PCA uses the blocked scatter matrix; both give the same plane."""
    from core.viz import _projection as projection

    x = (rng.standard_normal((3_000, 24)) * np.linspace(4, 0.5, 24)).astype(np.float32)
    by_svd = fit_projection(x)
    monkeypatch.setattr(projection, "SVD_MAX_CELLS", 0)
    monkeypatch.setattr(projection, "_BLOCK_ROWS", 1_000)  # several blocks
    by_scatter = fit_projection(x)
    np.testing.assert_allclose(by_scatter.components, by_svd.components, atol=1e-5)
    np.testing.assert_allclose(
        by_scatter.explained_variance_ratio, by_svd.explained_variance_ratio, rtol=1e-6
    )
    np.testing.assert_allclose(by_scatter.transform(x), by_svd.transform(x), atol=1e-4)


def test_fit_on_a_row_sample_is_close_to_the_full_fit(rng):
    scales = np.array([10.0, 5.0] + [1.0] * 14)
    x = (rng.standard_normal((5_000, 16)) * scales).astype(np.float32)
    full = fit_projection(x, max_fit_rows=None)
    sampled = fit_projection(x, max_fit_rows=1_000)
    # The top two directions are well separated, so a fifth of the rows finds them closely.
    assert np.abs(np.sum(full.components * sampled.components, axis=1)).min() > 0.99
    assert sampled.transform(x).shape == (5_000, 2)
    np.testing.assert_array_equal(
        sampled.components, fit_projection(x, max_fit_rows=1_000).components
    )


@pytest.mark.parametrize(
    ("ratio", "text"),
    [
        (0.0, "0%"),
        (0.0000004, "<0.01%"),
        (0.00019, "0.02%"),
        (0.0019, "0.2%"),
        (0.0017, "0.2%"),
        (0.052, "5.2%"),
        (0.45, "45%"),
        (1.0, "100%"),
    ],
)
def test_format_share_keeps_small_shares_visible(ratio, text):
    assert format_share(ratio) == text


@pytest.mark.parametrize("ratio", [-0.1, float("nan")])
def test_format_share_refuses_what_is_not_a_share(ratio):
    with pytest.raises(ValueError, match="finite number >= 0"):
        format_share(ratio)


def test_axis_titles_name_the_method_and_never_show_zero_for_a_real_share(rng):
    # Random directions in 512-D keep a few tenths of a percent of isotropic variance each.
    x = rng.standard_normal((300, 512)).astype(np.float32)
    random = fit_projection(x, "random")
    assert np.all(random.explained_variance_ratio < 0.005)
    titles = random.axis_titles()
    assert len(titles) == 2
    for i, title in enumerate(titles, start=1):
        assert title.startswith(f"Random axis {i} (") and title.endswith("% of variance)")
        assert "(0%" not in title
    pca = fit_projection(x[:, :4] * [4.0, 1.0, 1.0, 1.0])
    assert pca.axis_titles()[0] == (
        f"PCA 1 ({format_share(float(pca.explained_variance_ratio[0]))} of variance)"
    )
