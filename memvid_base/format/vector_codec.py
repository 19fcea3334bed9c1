"""Compact storage of embedding vectors: float32, float16, or int8 with one scale per vector.

The layouts are plain little-endian arrays so any reader can decode them:

* ``float32``: ``n * dim`` float32 values, row by row (reference precision).
* ``float16``: ``n * dim`` IEEE half floats, row by row.
* ``int8``: ``n`` float32 scales, then ``n * dim`` signed bytes; value = byte * scale.  Each row's
  scale is ``max(abs(row)) / 127``, so every row uses the full int8 range.

Decoding validates the byte length against ``n`` and ``dim`` and rejects non-finite values, because
the bytes may come from a file written by a stranger.
"""

from __future__ import annotations

import numpy as np

from ..errors import CorruptMemoryError, InvalidInputError

VECTOR_KINDS = ("float32", "float16", "int8")
MAX_DIM = 65_536  # far above any text embedding model; bounds what a corrupt header can ask for
_INT8_MAX = 127.0
_INT8_SAFE_SCALE = np.float32(np.finfo(np.float32).max / 128)


def bytes_per_vector(kind: str, dim: int) -> int:
    """Bytes one ``dim``-dimensional vector takes in encoding ``kind``."""
    _check_kind(kind)
    if kind == "float32":
        return 4 * dim
    if kind == "float16":
        return 2 * dim
    return dim + 4  # int8 values plus one float32 scale


def encode_vectors(arr: np.ndarray, kind: str) -> bytes:
    """Encode an ``(n, dim)`` array of finite floats as ``kind``.

    Args:
        arr: Vectors, one per row. Any float dtype; converted to float32 first.
        kind: One of :data:`VECTOR_KINDS`.

    Returns:
        The encoded bytes, exactly ``n * bytes_per_vector(kind, dim)`` long.

    Raises:
        InvalidInputError: The array is not 2-D, has no columns, or holds NaN/inf, or the kind is unknown.
    """
    _check_kind(kind)
    vecs = np.asarray(arr, dtype=np.float32)
    if vecs.ndim != 2 or not 1 <= vecs.shape[1] <= MAX_DIM:
        raise InvalidInputError(f"Vectors must be a 2-D array with 1..{MAX_DIM} columns, got shape {vecs.shape}.")
    if not np.isfinite(vecs).all():
        raise InvalidInputError("Vectors contain NaN or infinity; they cannot be stored.")
    if kind == "float32":
        return vecs.astype("<f4").tobytes()
    if kind == "float16":
        if vecs.size and np.abs(vecs).max() > np.finfo(np.float16).max:
            raise InvalidInputError("Vectors exceed the float16 range (65504); store them as float32 or int8.")
        return vecs.astype("<f2").tobytes()
    peak = np.abs(vecs).max(axis=1) if vecs.size else np.zeros(0, np.float32)
    scales = (peak / _INT8_MAX).astype("<f4")
    safe = np.where(scales > 0, scales, 1.0).astype(np.float32)  # an all-zero row stays zero
    q = np.clip(np.rint(vecs / safe[:, None]), -_INT8_MAX, _INT8_MAX).astype(np.int8)
    return scales.tobytes() + q.tobytes()


def decode_vectors(data: bytes, kind: str, n: int, dim: int) -> np.ndarray:
    """Decode ``n`` vectors of ``dim`` dimensions from ``data``; returns a new float32 ``(n, dim)`` array.

    Raises:
        CorruptMemoryError: The length does not match ``n`` and ``dim``, a count is out of range, the
            kind is unknown, or a value is not finite.
    """
    if kind not in VECTOR_KINDS:
        raise CorruptMemoryError(f"Unknown vector encoding {kind!r}; expected one of {', '.join(VECTOR_KINDS)}.")
    if not (_is_int(n) and _is_int(dim) and n >= 0 and 1 <= dim <= MAX_DIM):
        raise CorruptMemoryError(f"Invalid vector block shape ({n!r}, {dim!r}).")
    want = n * bytes_per_vector(kind, dim)
    if len(data) != want:
        raise CorruptMemoryError(
            f"Vector block holds {len(data)} bytes but {n} {kind} vectors of dimension {dim} need {want}; the file is damaged."
        )
    if kind == "float32":
        out = np.frombuffer(data, dtype="<f4").astype(np.float32).reshape(n, dim)
    elif kind == "float16":
        out = np.frombuffer(data, dtype="<f2").astype(np.float32).reshape(n, dim)
    else:
        scales = np.frombuffer(data, dtype="<f4", count=n).astype(np.float32)
        if not (np.isfinite(scales).all() and (scales >= 0).all()):
            raise CorruptMemoryError("Vector block has a negative or non-finite int8 scale; the file is damaged.")
        q = np.frombuffer(data, dtype=np.int8, offset=4 * n).reshape(n, dim)
        with np.errstate(over="ignore"):  # a hostile scale may overflow; caught just below
            out = np.multiply(q, scales[:, None], dtype=np.float32)
        if not n or scales.max() <= _INT8_SAFE_SCALE:
            return out  # |byte| <= 128 keeps every value finite: no need to scan 4 million of them
    if not np.isfinite(out).all():
        raise CorruptMemoryError("Vector block contains NaN or infinity; the file is damaged.")
    return out


def int8_parts(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``arr`` as int8 codes and one float32 scale per row, exactly as :func:`encode_vectors` stores ``int8``."""
    vecs = np.asarray(arr, dtype=np.float32)
    data = encode_vectors(vecs, "int8")
    return decode_int8_parts(data, vecs.shape[0], vecs.shape[1])


def decode_int8_parts(data: bytes, n: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """An ``int8`` block's ``(n, dim)`` codes and ``(n,)`` scales, without widening them (views of ``data``).

    Row ``i`` decodes to ``codes[i] * scales[i]``, the values :func:`decode_vectors` gives.

    Raises:
        CorruptMemoryError: As :func:`decode_vectors` for the same block.
    """
    if not (_is_int(n) and _is_int(dim) and n >= 0 and 1 <= dim <= MAX_DIM):
        raise CorruptMemoryError(f"Invalid vector block shape ({n!r}, {dim!r}).")
    if len(data) != n * bytes_per_vector("int8", dim):
        decode_vectors(data, "int8", n, dim)  # raises with the lengths in its message
    scales = np.frombuffer(data, dtype="<f4", count=n).astype(np.float32)
    codes = np.frombuffer(data, dtype=np.int8, offset=4 * n).reshape(n, dim)
    if not (np.isfinite(scales).all() and (scales >= 0).all()):
        raise CorruptMemoryError("Vector block has a negative or non-finite int8 scale; the file is damaged.")
    if n and scales.max() > _INT8_SAFE_SCALE:
        decode_vectors(data, "int8", n, dim)  # a hostile scale: raises if a value overflows
    zero = scales == 0  # -0.0 too: such a row decodes to zeros, so its codes must say zero as well
    if zero.any() and codes[zero].any():
        codes = codes.copy()
        codes[zero] = 0
    return codes, scales


def _check_kind(kind: str) -> None:
    if kind not in VECTOR_KINDS:
        raise InvalidInputError(f"Unknown vector encoding {kind!r}; use one of {', '.join(VECTOR_KINDS)}.")


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def round_trip(arr: np.ndarray, kind: str) -> tuple[bytes, np.ndarray]:
    """``arr`` encoded as ``kind``, and the float32 vectors that encoding decodes to.

    The vector store is given the decoded vectors, so a store rebuilt from a segment's box holds
    exactly the vectors the original did.
    """
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim != 2 or not len(arr):
        return b"", arr.reshape(len(arr), -1) if arr.ndim else arr
    data = encode_vectors(arr, kind)
    return data, decode_vectors(data, kind, arr.shape[0], arr.shape[1])
