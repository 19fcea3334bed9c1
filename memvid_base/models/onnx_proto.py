"""Just enough of the ONNX protobuf format to write a small inference graph, without the ``onnx`` package.

onnxruntime runs a model from its serialized ``ModelProto`` bytes.  The graph that
:mod:`memvid_base.models.minilm` builds has no weights in it (they are handed to onnxruntime as
external initializers), so it is a few kilobytes of nodes; writing those bytes here avoids a
dependency of about 16 MB and the ``onnx`` import (which the first query would wait for).

Field numbers are those of ``onnx/onnx.proto`` (proto2; repeated scalars are written unpacked,
which every protobuf parser accepts).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

FLOAT, UINT8, INT8, INT32, INT64 = 1, 2, 3, 6, 7  # TensorProto.DataType
_DTYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.uint8): UINT8, np.dtype(np.int8): INT8,
           np.dtype(np.int32): INT32, np.dtype(np.int64): INT64}
# AttributeProto.AttributeType
_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_INTS = 1, 2, 3, 7


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 values are written as 10-byte two's complement
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, data: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _str(field: int, text: str) -> bytes:
    return _bytes(field, text.encode("utf-8"))


def tensor(name: str, array: np.ndarray) -> bytes:
    """A ``TensorProto`` holding ``array`` (float32, uint8, int8, int32 or int64) as little-endian raw data."""
    array = np.ascontiguousarray(array)
    head = b"".join(_int(1, d) for d in array.shape) + _int(2, _DTYPES[array.dtype]) + _str(8, name)
    return head + _bytes(9, array.astype(array.dtype.newbyteorder("<")).tobytes())


def external_tensor(name: str, array: np.ndarray) -> bytes:
    """A ``TensorProto`` that declares ``array``'s name, type and shape, its data given at session creation.

    Pass the array itself with ``SessionOptions.add_external_initializers``: the model bytes stay small
    and onnxruntime reads the weights where they already lie in memory, with no serialising.
    """
    head = b"".join(_int(1, d) for d in array.shape) + _int(2, _DTYPES[array.dtype]) + _str(8, name)
    location = _str(1, "location") + _str(2, "memvid-external")  # never read: the data is given in memory
    return head + _bytes(13, location) + _int(14, 1)  # external_data, data_location = EXTERNAL


def _attribute(name: str, value: int | float | str | Sequence[int]) -> bytes:
    head = _str(1, name)
    if isinstance(value, bool) or isinstance(value, int):
        return head + _int(20, _ATTR_INT) + _int(3, int(value))
    if isinstance(value, float):
        return head + _int(20, _ATTR_FLOAT) + _varint(2 << 3 | 5) + struct.pack("<f", value)
    if isinstance(value, str):
        return head + _int(20, _ATTR_STRING) + _bytes(4, value.encode("utf-8"))
    return head + _int(20, _ATTR_INTS) + b"".join(_int(8, v) for v in value)


def node(op_type: str, inputs: Sequence[str], outputs: Sequence[str],
         **attributes: int | float | str | Sequence[int]) -> bytes:
    """A ``NodeProto`` of the default ONNX domain; keyword arguments become its attributes (int, float, string or ints)."""
    out = b"".join(_str(1, i) for i in inputs) + b"".join(_str(2, o) for o in outputs)
    out += _str(3, f"{op_type}_{outputs[0]}") + _str(4, op_type)
    out += b"".join(_bytes(5, _attribute(k, v)) for k, v in attributes.items())
    return out


def value_info(name: str, elem_type: int, dims: Sequence[int | str]) -> bytes:
    """A ``ValueInfoProto``: a graph input or output of a tensor type; string dims are symbolic."""
    shape = b"".join(_bytes(1, _str(2, d) if isinstance(d, str) else _int(1, d)) for d in dims)
    tensor_type = _int(1, elem_type) + _bytes(2, shape)
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))


def model(nodes: Sequence[bytes], inputs: Sequence[bytes], outputs: Sequence[bytes], initializers: Sequence[bytes],
          opset: int, name: str = "graph", ir_version: int = 8) -> bytes:
    """A serialized ``ModelProto`` of one graph using the default ONNX operator set ``opset``."""
    graph = b"".join(_bytes(1, n) for n in nodes) + _str(2, name)
    graph += b"".join(_bytes(5, t) for t in initializers)
    graph += b"".join(_bytes(11, i) for i in inputs) + b"".join(_bytes(12, o) for o in outputs)
    return _int(1, ir_version) + _bytes(8, _str(1, "") + _int(2, opset)) + _str(2, "memvid") + _bytes(7, graph)
