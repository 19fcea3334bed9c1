"""zstd for the formats: the one place that imports it, and the few helpers the payloads need.

The standard library's ``compression.zstd`` on Python 3.14+, its backport ``backports.zstd`` before that
(same API). The frames are plain zstd frames, byte for byte what ``zstandard`` wrote with the same settings:
content size in the header, no checksum, no dictionary id. Reading is bounded: the window a frame may ask
for, the bytes it may produce, and nothing may follow it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import partial

if sys.version_info >= (3, 14):
    from compression.zstd import (
        CompressionParameter,
        DecompressionParameter,
        ZstdCompressor,
        ZstdDecompressor,
        ZstdDict,
        ZstdError,
        get_frame_info,
        train_dict,
    )
else:
    from backports.zstd import (
        CompressionParameter,
        DecompressionParameter,
        ZstdCompressor,
        ZstdDecompressor,
        ZstdDict,
        ZstdError,
        get_frame_info,
        train_dict,
    )

__all__ = [  # the helpers, and the library's names that tests use to forge frames
    "WINDOW_LOG_MAX", "CompressionParameter", "ZstdCompressor", "ZstdDecompressor", "ZstdDict", "ZstdError",
    "compressor", "declared_size", "decompress_frame", "load_dictionary", "train",
]  # fmt: skip

WINDOW_LOG_MAX = 27  # a frame asking for a larger window is refused (ours are never larger than their content)
_READ_OPTIONS: dict[int, int] = {DecompressionParameter.window_log_max: WINDOW_LOG_MAX}


def compressor(level: int, dictionary: ZstdDict | None = None) -> Callable[[bytes], bytes]:
    """A function that compresses its argument into one whole frame (reusable, thread-safe).

    The header carries the content size (so a reader can refuse a bomb before allocating), no checksum
    (the formats have their own) and no dictionary id (a segment names its own dictionary).
    """
    options: dict[int, int] = {
        CompressionParameter.compression_level: level,
        CompressionParameter.content_size_flag: 1,
        CompressionParameter.checksum_flag: 0,
        CompressionParameter.dict_id_flag: 0,
    }
    return partial(ZstdCompressor(options=options, zstd_dict=dictionary).compress, mode=ZstdCompressor.FLUSH_FRAME)


def load_dictionary(data: bytes) -> ZstdDict:
    """A dictionary for compressing and decompressing, trained (zstd's magic) or raw content, as zstd decides.

    Raises:
        ValueError: ``data`` is shorter than the 8 bytes zstd requires of any dictionary.
    """
    # is_raw only skips the magic check: zstd still loads a trained dictionary as one, the rest as raw content.
    return ZstdDict(data, is_raw=True)


def train(samples: Sequence[bytes], size: int) -> bytes:
    """A trained dictionary of at most ``size`` bytes (zstd's fastCover; raises ZstdError on too few samples)."""
    return train_dict(samples, size).dict_content


def declared_size(frame: bytes) -> int | None:
    """The content size a frame's header declares, None when it does not; raises ZstdError on a non-frame."""
    return get_frame_info(frame).decompressed_size


def decompress_frame(frame: bytes, size: int, dictionary: ZstdDict | None = None) -> bytes:
    """The ``size`` bytes that the one zstd frame in ``frame`` holds, producing at most ``size + 1``.

    Raises:
        ZstdError: The frame is damaged, asks for a window over 2**27 bytes, holds another number of bytes,
            is cut short, or other bytes follow it.
    """
    dctx = ZstdDecompressor(dictionary, _READ_OPTIONS)
    data = dctx.decompress(frame, size)
    if not dctx.eof and len(data) == size:
        data += dctx.decompress(b"", 1)  # ends the frame, or shows that it holds more
    if len(data) > size:
        raise ZstdError(f"decompressed to {len(data)}+ bytes, not the declared {size}")
    if not dctx.eof:
        raise ZstdError(f"the frame is cut short after {len(data)} of the declared {size} bytes")
    if len(data) != size:
        raise ZstdError(f"decompressed to {len(data)} bytes, not the declared {size}")
    if dctx.unused_data:
        raise ZstdError(f"{len(dctx.unused_data)} bytes of unused data follow the frame")
    return data
