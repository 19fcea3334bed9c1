"""Read a ``.safetensors`` file as numpy arrays that map the file (no copy, no torch, no extra package).

The format: an 8-byte little-endian header length, a JSON header mapping each tensor name to its
``dtype``, ``shape`` and ``data_offsets`` (relative to the end of the header), then the raw data.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from ..errors import CorruptMemoryError

_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4"}
_MAX_HEADER = 100 * 2**20  # the format's own limit


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file, as read-only arrays backed by a memory map of the file.

    Args:
        path: The ``.safetensors`` file.

    Returns:
        Tensor name to array (``__metadata__`` is left out).

    Raises:
        CorruptMemoryError: The file is truncated or its header is not valid.
    """
    path = Path(path)
    with path.open("rb") as f:
        raw = f.read(8)
        size = struct.unpack("<Q", raw)[0] if len(raw) == 8 else -1
        if not 0 < size <= _MAX_HEADER:
            raise CorruptMemoryError(f"{path} is not a safetensors file (bad header length). Reinstall the package it came from.")
        try:
            header = json.loads(f.read(size))
        except ValueError as exc:
            raise CorruptMemoryError(f"{path} has a damaged header ({exc}). Reinstall the package it came from.") from exc
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = np.dtype(_DTYPES.get(info["dtype"], "V"))
        shape = tuple(info["shape"])
        if dtype.kind == "V" or end > data.size or end - begin != dtype.itemsize * int(np.prod(shape)):
            raise CorruptMemoryError(f"{path}: tensor {name!r} ({info['dtype']}, {shape}) does not fit the file. "
                                     "Reinstall the package it came from.")
        out[name] = data[begin:end].view(dtype).reshape(shape)
    return out
