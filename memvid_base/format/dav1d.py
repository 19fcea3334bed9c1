"""AV1 frames decoded by libdav1d through ctypes: a read of an AV1 memory never imports PyAV.

PyAV costs a fresh process about 85 ms (70 to import its modules, 15 to tear them down at exit),
more than a keyword query itself.  Reading a frame needs none of it: the packet's bytes come from
the file (:mod:`memvid_base.format.packets`), and the decoder under PyAV is libdav1d.  This module
calls the libdav1d that PyAV's wheel ships (``av.libs``), found without importing PyAV.

Only fields that are stable across libdav1d's API versions 6 and 7 are touched: the first six
``int`` fields of ``Dav1dSettings`` and its logger, the leading ``data``/``stride``/``p``/``m`` fields
of ``Dav1dPicture``, and the sequence header's colour range.  :func:`available` checks the library's
API version (a library without ``dav1d_version_api`` is not used) and that its default settings sit
where this module expects them; if anything differs, readers decode with PyAV as before.
``MEMVID_DAV1D=0`` turns this path off.

The settings are ffmpeg's for this decoder (one thread, no frame delay, the base layer only), and
the pixels are what PyAV's ``to_ndarray(format="gray")`` gives: limited-range luma stretched to full
range, full-range luma as it is.

Each decoder is single-threaded and used by one thread at a time; ctypes releases the GIL during
each call, so a query's frames still decode in parallel, one decoder per thread.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import threading
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from ..errors import FrameDecodeError

_SUPPORTED_API_MAJORS = (6, 7)  # the fields used here did not move across them (libdav1d 1.x)
_EAGAIN = -errno.EAGAIN  # DAV1D_ERR(EAGAIN)
_SETTINGS_BYTES = 1024  # larger than Dav1dSettings (96 bytes in API 7): the library fills what it has
_PICTURE_BYTES = 1024  # larger than Dav1dPicture (about 280 bytes)
_DATA_BYTES = 256  # larger than Dav1dData (72 bytes)
_LAYOUT_I420 = 1
_MAX_PIXELS = 1 << 26  # more than AV1's largest level allows (8192 x 4352)
# Byte offsets in Dav1dSettings.
_N_THREADS, _MAX_FRAME_DELAY, _APPLY_GRAIN, _ALL_LAYERS, _FRAME_SIZE_LIMIT = 0, 4, 8, 16, 20
_LOGGER_CALLBACK, _INLOOP_FILTERS = 56, 72
# Byte offsets in Dav1dPicture: seq_hdr, frame_hdr, data[3], stride[2], then p = {w, h, layout, bpc}.
_SEQ_HDR, _DATA0, _STRIDE0, _WIDTH, _HEIGHT, _LAYOUT, _BPC = 0, 16, 40, 56, 60, 64, 68
_COLOR_RANGE = 33  # Dav1dSequenceHeader.color_range (uint8 after profile, 2 ints, 5 enums and hbd): 1 = full
# swscale's limited-range luma to full-range gray, as PyAV converts it (checked against PyAV for all 256 values).
_STUDIO_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
_PICTURE_TIMESTAMP = 72  # Dav1dPicture.m.timestamp, copied from the Dav1dData that made it
# Byte offsets in Dav1dData: the size left to consume, and m.timestamp (a label the picture carries back).
_DATA_SIZE, _DATA_TIMESTAMP = 8, 24
_POINTERS = struct.Struct("P")
_PLANE = struct.Struct("n8x4i")  # stride[0] (stride[1] skipped), then p.w, p.h, p.layout, p.bpc
assert _PLANE.size == _BPC + 4 - _STRIDE0 and _STRIDE0 + 16 == _WIDTH
_TIMESTAMP = struct.Struct("q")
_SIZE = struct.Struct("N")

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
# The same library with calls that keep the GIL: for the calls that take microseconds. Releasing the GIL
# around each of them let another decoding thread take it, and taking it back waited on that thread's Python
# (a query's frames decode on two threads): only the decode itself (dav1d_send_data) lets go of it.
_quick: ctypes.PyDLL | None = None
# ctypes.memmove, keeping the GIL (ctypes' own is a CFUNCTYPE, which releases it) for the same reason.
_memmove = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t)(ctypes._memmove_addr)  # type: ignore[attr-defined]
_checked = False


def _candidates() -> list[Path]:
    """libdav1d files to try: the one PyAV's wheel bundles, found without importing PyAV."""
    try:
        spec = find_spec("av")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    found: list[Path] = []
    for package in spec.submodule_search_locations:
        root = Path(package)
        for libs in (root.parent / "av.libs", root / ".dylibs"):  # auditwheel (Linux), delocate (macOS)
            if libs.is_dir():
                found.extend(sorted(libs.glob("libdav1d*.so*")) + sorted(libs.glob("libdav1d*.dylib")))
    return found


def _configure(lib: ctypes.CDLL) -> bool:  # a PyDLL is a CDLL too
    """Declare the signatures used, and check the API version and the default settings' layout."""
    lib.dav1d_version_api.restype = ctypes.c_uint
    lib.dav1d_version_api.argtypes = []
    if lib.dav1d_version_api() >> 16 not in _SUPPORTED_API_MAJORS:
        return False
    voidp = ctypes.c_void_p
    lib.dav1d_default_settings.argtypes = [voidp]
    lib.dav1d_default_settings.restype = None
    lib.dav1d_open.argtypes = [ctypes.POINTER(voidp), voidp]
    lib.dav1d_open.restype = ctypes.c_int
    lib.dav1d_close.argtypes = [ctypes.POINTER(voidp)]
    lib.dav1d_close.restype = None
    lib.dav1d_data_create.argtypes = [voidp, ctypes.c_size_t]
    lib.dav1d_data_create.restype = voidp
    lib.dav1d_data_unref.argtypes = [voidp]
    lib.dav1d_data_unref.restype = None
    lib.dav1d_send_data.argtypes = [voidp, voidp]
    lib.dav1d_send_data.restype = ctypes.c_int
    lib.dav1d_get_picture.argtypes = [voidp, voidp]
    lib.dav1d_get_picture.restype = ctypes.c_int
    lib.dav1d_picture_unref.argtypes = [voidp]
    lib.dav1d_picture_unref.restype = None
    settings = (ctypes.c_ubyte * _SETTINGS_BYTES)()
    lib.dav1d_default_settings(settings)
    ints = np.frombuffer(memoryview(settings), dtype="<i4", count=20)
    # The documented defaults: grain and all layers on, no size limit, every in-loop filter (7).
    return bool(
        ints[_APPLY_GRAIN // 4] == 1
        and ints[_ALL_LAYERS // 4] == 1
        and ints[_FRAME_SIZE_LIMIT // 4] == 0
        and ints[_INLOOP_FILTERS // 4] == 7
    )


def library() -> ctypes.CDLL | None:
    """The checked libdav1d, or None when there is none this module can use (readers then use PyAV)."""
    global _lib, _quick, _checked
    if _checked:
        return _lib
    with _lock:
        if not _checked:
            if os.environ.get("MEMVID_DAV1D", "1") != "0":
                for path in _candidates():
                    try:
                        lib, quick = ctypes.CDLL(str(path)), ctypes.PyDLL(str(path))
                        if _configure(lib) and _configure(quick):
                            _lib, _quick = lib, quick
                            break
                    except (OSError, AttributeError):  # not loadable here, or a symbol is missing
                        continue
            _checked = True
    return _lib


def _quick_library() -> ctypes.PyDLL:
    library()
    assert _quick is not None, "only called once library() found one"
    return _quick


def available() -> bool:
    """Whether AV1 frames can be decoded without PyAV in this process."""
    return library() is not None


class Dav1dDecoder:
    """One libdav1d decoder for the 8-bit 4:2:0 AV1 frames of one segment; returns each frame's luma plane.

    The luma plane of a 4:2:0 frame is what ``VideoFrame.to_ndarray(format="gray")`` returns, pixel
    for pixel (tests compare the two on every codec setting memvid writes).

    Every packet of an all-intra AV1 track carries its sequence header, as ffmpeg's decoder expects
    too: the ``av1C`` box's copy is not sent (ffmpeg only parses it).

    Args:
        width: the frame width the track declares; a frame of any other size is refused.
        height: the frame height the track declares.

    Raises:
        FrameDecodeError: libdav1d is not available, or refused to open.
    """

    def __init__(self, width: int, height: int) -> None:
        lib = library()
        if lib is None:
            raise FrameDecodeError("libdav1d is not available in this process; frames decode through PyAV instead.")
        self._lib = lib  # dav1d_send_data, the decode (and open, close): the GIL is released
        self._quick = _quick_library()  # the rest: the GIL is kept
        self._dims = (width, height)
        settings = (ctypes.c_ubyte * _SETTINGS_BYTES)()
        lib.dav1d_default_settings(settings)
        ints = np.frombuffer(memoryview(settings), dtype="<i4", count=20)
        ints[_N_THREADS // 4] = 1  # frames are small, and a query decodes several at once, one per thread
        ints[_MAX_FRAME_DELAY // 4] = 1  # a picture for every packet, never held back
        ints[_ALL_LAYERS // 4] = 0  # the highest spatial layer only, as ffmpeg outputs
        # A frame header cannot size a picture beyond the track's frames (nor AV1's largest level).
        ints[_FRAME_SIZE_LIMIT // 4] = min(max(1, width * height), _MAX_PIXELS)
        ctypes.c_void_p.from_buffer(settings, _LOGGER_CALLBACK).value = None  # no messages on stderr: errors are raised
        self._picture = (ctypes.c_ubyte * _PICTURE_BYTES)()
        self._data = (ctypes.c_ubyte * _DATA_BYTES)()
        self._plane: tuple[int, type[ctypes.Array[ctypes.c_ubyte]]] = (0, ctypes.c_ubyte * 1)
        self._ctx = ctypes.c_void_p()
        if lib.dav1d_open(ctypes.byref(self._ctx), settings) != 0 or not self._ctx.value:
            raise FrameDecodeError("libdav1d could not open a decoder (out of memory?)")

    def decode(self, packet: bytes, pts: int) -> np.ndarray:
        """Decode one all-intra packet on its own and return its luma plane (a new array).

        Args:
            packet: the frame's compressed bytes.
            pts: its timestamp: the picture must come back with it (it came from this packet).

        Raises:
            FrameDecodeError: the packet does not decode to exactly one 8-bit 4:2:0 frame of the
                track's size.
        """
        if not self._ctx.value:
            raise FrameDecodeError("the decoder was closed")  # libdav1d must never see a null context
        self._send(packet, pts)
        picture = self._picture  # reused: dav1d_picture_unref clears it
        got = self._quick.dav1d_get_picture(self._ctx, picture)
        if got != 0:
            raise FrameDecodeError(f"the packet decoded to no frame (libdav1d error {got})")
        try:
            header, pointer = _POINTERS.unpack_from(picture, _SEQ_HDR)[0], _POINTERS.unpack_from(picture, _DATA0)[0]
            stride, width, height, layout, bpc = _PLANE.unpack_from(picture, _STRIDE0)
            if _TIMESTAMP.unpack_from(picture, _PICTURE_TIMESTAMP)[0] != pts:
                raise FrameDecodeError("the decoder returned a picture of another packet")
            if (width, height) != self._dims or layout != _LAYOUT_I420 or bpc != 8:
                raise FrameDecodeError(
                    f"the packet decoded to a {width}x{height} frame (layout {layout}, {bpc} bits), not the track's "
                    f"{self._dims[0]}x{self._dims[1]} 8-bit 4:2:0 frames"
                )
            if not pointer or not header or stride < width:
                raise FrameDecodeError("libdav1d returned a picture without a luma plane or a sequence header")
            plane = self._plane_type(stride * height).from_address(pointer)
            luma = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(height, stride)[:, :width]
            full_range = ctypes.c_uint8.from_address(header + _COLOR_RANGE).value == 1
            luma = luma.copy() if full_range else np.take(_STUDIO_TO_FULL, luma)  # a new array, as PyAV gives
        finally:
            self._quick.dav1d_picture_unref(picture)
        if (more := self._quick.dav1d_get_picture(self._ctx, picture)) != _EAGAIN:
            if more == 0:
                self._quick.dav1d_picture_unref(picture)
            self.close()  # it held another picture: its state is unknown, so it is not reused
            raise FrameDecodeError("the packet decoded to more than one frame")
        return luma

    def _plane_type(self, size: int) -> type[ctypes.Array[ctypes.c_ubyte]]:
        """The ctypes array type of a ``size``-byte plane (made once: making a type costs more than a decode's copy)."""
        if self._plane[0] != size:
            self._plane = (size, ctypes.c_ubyte * size)
        return self._plane[1]

    def _send(self, chunk: bytes, pts: int) -> None:
        data = self._data  # reused: a packet is taken whole, or the data is unreferenced below
        buffer = self._quick.dav1d_data_create(data, len(chunk))
        if not buffer:
            raise FrameDecodeError(f"libdav1d could not allocate {len(chunk)} bytes for a packet")
        _memmove(buffer, chunk, len(chunk))
        _TIMESTAMP.pack_into(data, _DATA_TIMESTAMP, pts)
        result = self._lib.dav1d_send_data(self._ctx, data)
        left = _SIZE.unpack_from(data, _DATA_SIZE)[0]
        if left:
            self._quick.dav1d_data_unref(data)
        if result != 0 or left:  # a packet is one whole temporal unit: all of it is taken at once, or it is damaged
            raise FrameDecodeError(f"libdav1d refused the packet (error {result}, {left} bytes left)")

    def close(self) -> None:
        """Free the decoder; safe to call twice."""
        if self._ctx.value:
            self._lib.dav1d_close(ctypes.byref(self._ctx))
            self._ctx.value = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown may have torn ctypes down first
            pass
