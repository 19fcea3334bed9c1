"""BLAKE2b, the checksum of records and segment boxes, without importing hashlib.

hashlib loads OpenSSL (``_hashlib``: 3-5 ms of a fresh process's start, measured with
``python -X importtime``) even to hand out BLAKE2b, which CPython builds in as ``_blake2``.
The two give the same digests; hashlib's is the fallback for an interpreter built without it.
"""

from __future__ import annotations

try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - every CPython build we support has it
    from hashlib import blake2b

__all__ = ["blake2b"]
