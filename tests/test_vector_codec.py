"""Compact vector storage: round-trip error bounds, exact sizes, and strict validation of stored bytes."""

from __future__ import annotations

import numpy as np
import pytest

from memvid_base.errors import CorruptMemoryError, InvalidInputError
from memvid_base.format.vector_codec import (
    VECTOR_KINDS,
    bytes_per_vector,
    decode_int8_parts,
    decode_vectors,
    encode_vectors,
    int8_parts,
)


def _unit_vectors(n: int = 200, dim: int = 384, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", VECTOR_KINDS)
def test_round_trip_size_and_shape(kind: str) -> None:
    vecs = _unit_vectors()
    data = encode_vectors(vecs, kind)
    assert len(data) == 200 * bytes_per_vector(kind, 384)
    out = decode_vectors(data, kind, 200, 384)
    assert out.dtype == np.float32 and out.shape == (200, 384)
    assert out.flags.writeable  # a fresh array, not a view of the bytes


def test_bytes_per_vector() -> None:
    assert bytes_per_vector("float32", 384) == 1536
    assert bytes_per_vector("float16", 384) == 768
    assert bytes_per_vector("int8", 384) == 388  # 384 bytes + one float32 scale


def test_float32_is_exact() -> None:
    vecs = _unit_vectors()
    assert np.array_equal(decode_vectors(encode_vectors(vecs, "float32"), "float32", 200, 384), vecs)


def test_float16_error_bound() -> None:
    vecs = _unit_vectors() * 3.0
    out = decode_vectors(encode_vectors(vecs, "float16"), "float16", 200, 384)
    # half precision keeps 11 significant bits: relative error at most 2**-11 (normal range)
    assert np.all(np.abs(out - vecs) <= np.abs(vecs) * 2.0**-11 + 1e-7)


def test_int8_error_bound_per_vector_scale() -> None:
    vecs = _unit_vectors()
    vecs[0] *= 1000.0  # scales are per vector: one large row must not coarsen the others
    vecs[1] *= 0.001
    out = decode_vectors(encode_vectors(vecs, "int8"), "int8", 200, 384)
    step = np.abs(vecs).max(axis=1, keepdims=True) / 127.0
    assert np.all(np.abs(out - vecs) <= step / 2 * (1 + 1e-5))
    cos = np.sum(out * vecs, axis=1) / (np.linalg.norm(out, axis=1) * np.linalg.norm(vecs, axis=1))
    assert cos.min() > 0.999


def test_int8_zero_row_and_empty() -> None:
    vecs = np.zeros((2, 8), np.float32)
    vecs[1, 3] = -0.5
    out = decode_vectors(encode_vectors(vecs, "int8"), "int8", 2, 8)
    assert np.array_equal(out[0], np.zeros(8, np.float32))
    assert out[1, 3] == pytest.approx(-0.5)
    for kind in VECTOR_KINDS:
        empty = encode_vectors(np.zeros((0, 8), np.float32), kind)
        assert empty == b""
        assert decode_vectors(empty, kind, 0, 8).shape == (0, 8)


@pytest.mark.parametrize(
    "arr",
    [np.zeros(8, np.float32), np.zeros((2, 0), np.float32), np.array([[1.0, np.nan]]), np.array([[np.inf, 0.0]])],
    ids=["1-d", "no-columns", "nan", "inf"],
)
def test_encode_rejects_bad_arrays(arr: np.ndarray) -> None:
    with pytest.raises(InvalidInputError):
        encode_vectors(arr, "int8")


def test_encode_rejects_unknown_kind_and_float16_overflow() -> None:
    with pytest.raises(InvalidInputError, match="Unknown vector encoding"):
        encode_vectors(_unit_vectors(2, 4), "int4")
    with pytest.raises(InvalidInputError, match="float16 range"):
        encode_vectors(np.array([[1e6, 0.0]], np.float32), "float16")


@pytest.mark.parametrize("kind", VECTOR_KINDS)
def test_decode_rejects_wrong_length(kind: str) -> None:
    data = encode_vectors(_unit_vectors(3, 16), kind)
    for bad in (data[:-1], data + b"\0", b""):
        with pytest.raises(CorruptMemoryError, match="damaged"):
            decode_vectors(bad, kind, 3, 16)
    with pytest.raises(CorruptMemoryError):
        decode_vectors(data, kind, 4, 16)


@pytest.mark.parametrize("n, dim", [(-1, 16), (3, 0), (3, 10**9), (True, 16), (3, 16.0)])
def test_decode_rejects_bad_shape(n: object, dim: object) -> None:
    with pytest.raises(CorruptMemoryError, match="shape"):
        decode_vectors(b"", "float32", n, dim)  # type: ignore[arg-type]


def test_decode_rejects_unknown_kind_and_non_finite_values() -> None:
    with pytest.raises(CorruptMemoryError, match="Unknown vector encoding"):
        decode_vectors(b"\0" * 8, "bfloat16", 1, 4)
    nan16 = np.array([[np.nan, 0, 0, 0]], np.float32).astype("<f2").tobytes()
    with pytest.raises(CorruptMemoryError, match="NaN"):
        decode_vectors(nan16, "float16", 1, 4)
    body = np.array([1, 2, 3, 4], np.int8).tobytes()
    with pytest.raises(CorruptMemoryError, match="scale"):
        decode_vectors(np.array([-1.0], "<f4").tobytes() + body, "int8", 1, 4)
    with pytest.raises(CorruptMemoryError, match="scale"):
        decode_vectors(np.array([np.inf], "<f4").tobytes() + body, "int8", 1, 4)
    huge = np.array([3e38], "<f4").tobytes() + np.array([127, 0, 0, 0], np.int8).tobytes()
    with pytest.raises(CorruptMemoryError, match="infinity"):  # finite scale, but value overflows float32
        decode_vectors(huge, "int8", 1, 4)


def test_int8_parts_are_the_codes_and_scales_that_decode_to_the_stored_vectors() -> None:
    vecs = np.random.default_rng(2).standard_normal((50, 24)).astype(np.float32)
    codes, scales = int8_parts(vecs)
    assert codes.dtype == np.int8 and scales.dtype == np.float32 and codes.shape == (50, 24)
    data = encode_vectors(vecs, "int8")
    assert np.array_equal(np.multiply(codes, scales[:, None], dtype=np.float32), decode_vectors(data, "int8", 50, 24))


def test_int8_parts_of_a_strangers_block_are_checked_like_a_decode() -> None:
    good = encode_vectors(np.ones((2, 4), dtype=np.float32), "int8")
    with pytest.raises(CorruptMemoryError, match="bytes"):
        decode_int8_parts(good[:-1], 2, 4)
    for bad_scale in (-1.0, float("nan"), float("inf")):
        with pytest.raises(CorruptMemoryError, match="scale"):
            decode_int8_parts(np.float32(bad_scale).tobytes() + good[4:], 2, 4)
    huge = np.float32(3e38).tobytes() + good[4:]  # 127 * 3e38 overflows float32
    with pytest.raises(CorruptMemoryError):
        decode_int8_parts(huge, 2, 4)
    with pytest.raises(CorruptMemoryError, match="shape"):
        decode_int8_parts(good, 2, 0)


def test_a_zero_scale_makes_a_zero_row_whatever_its_codes() -> None:
    good = encode_vectors(np.ones((2, 4), dtype=np.float32), "int8")
    for zero in (0.0, -0.0):  # a stranger's block: scale 0 with codes that are not
        data = np.float32(zero).tobytes() + good[4:]
        codes, scales = decode_int8_parts(data, 2, 4)
        assert scales[0] == 0
        assert not codes[0].any() and codes[1].any()
        assert not decode_vectors(data, "int8", 2, 4)[0].any()
