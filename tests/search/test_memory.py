import pytest

from core.search._memory import STORAGE_TYPES, bytes_per_vector, matrix_nbytes, memory_table


@pytest.mark.parametrize(
    ("dtype", "d", "expected"),
    [
        ("float64", 384, 3072),
        ("float32", 384, 1536),
        ("float16", 384, 768),
        ("int8", 384, 384),
        ("binary", 384, 48),
        ("binary", 385, 49),
        ("binary", 1, 1),
    ],
)
def test_bytes_per_vector(dtype, d, expected):
    assert bytes_per_vector(d, dtype) == expected


def test_matrix_nbytes_scales_with_rows():
    assert matrix_nbytes(10_000, 1536, "float32") == 10_000 * 1536 * 4
    assert matrix_nbytes(0, 8, "int8") == 0


def test_memory_table_has_every_type_relative_to_float32():
    rows = {r["dtype"]: r for r in memory_table(1_000_000, 1536)}
    assert list(rows) == list(STORAGE_TYPES)
    assert rows["float32"]["total_mb"] == pytest.approx(1_000_000 * 1536 * 4 / 2**20)
    assert rows["float64"]["vs_float32"] == 2.0
    assert rows["float16"]["vs_float32"] == 0.5
    assert rows["binary"]["vs_float32"] == pytest.approx(1 / 32)
    assert memory_table(0, 8)[0]["vs_float32"] == 2.0  # no NaN for an empty collection


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((8, "bfloat16"), r"unknown storage type 'bfloat16'; use one of float64, float32"),
        ((0, "float32"), r"dimension must be at least 1, got 0"),
    ],
)
def test_bytes_per_vector_errors(args, message):
    with pytest.raises(ValueError, match=message):
        bytes_per_vector(*args)


def test_matrix_nbytes_refuses_negative_rows():
    with pytest.raises(ValueError, match="row count must be 0 or more, got -1"):
        matrix_nbytes(-1, 3, "float32")
