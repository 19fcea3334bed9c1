"""Codec presets and the settings a memory's video is written with."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import InvalidInputError, UnsupportedCodecError

# Byte-mode capacity of QR versions 1..40 at error level L (ISO/IEC 18004 table 7).
_QR_CAPACITY_L = (
    17, 32, 53, 78, 106, 134, 154, 192, 230, 271, 321, 367, 425, 458, 520, 586, 644, 718, 792, 858,
    929, 1003, 1091, 1171, 1273, 1367, 1465, 1528, 1628, 1732, 1840, 1952, 2068, 2188, 2303, 2431,
    2563, 2699, 2809, 2953,
)  # fmt: skip
QUIET_MODULES = 2  # zxing-cpp and zbar both read a 2-module quiet zone reliably


@dataclass(frozen=True)
class CodecPreset:
    """How one user-facing codec name maps onto an ffmpeg encoder."""

    name: str
    encoder: str
    default_crf: int
    module_px: int  # pixels per QR module; lossy codecs blur 1-px modules away
    options: dict[str, str] = field(default_factory=dict)
    default_qr_version: int = 40  # the QR version new memories' frames are sized for (frame_size picks another)


CODECS: dict[str, CodecPreset] = {
    # Screen-content AV1 keeps 1-px QR modules intact; the lossy codecs need 3-px modules (2 px failed at
    # x265 crf 28). All-intra gives exact, cheap seeks.
    # Version 38 (176 px frames), not 40 (184): a cold query decodes a whole frame to read one chunk of it, and
    # libdav1d's time follows the frame's pixels. On all of the pydoc topics 176 px stored the text in the same
    # bytes as 184 (0.492x against 0.491x); 168 px decoded faster still but reached 0.50x, the most the tests allow
    # (benchmarks/bench_frame_size.py).
    "av1": CodecPreset("av1", "libsvtav1", 30, 1, {"svtav1-params": "scm=1", "preset": "8"}, default_qr_version=38),
    # Deblocking, SAO, psy-rd and adaptive quantisation smear QR module edges; off, crf 28 decodes reliably.
    "h265": CodecPreset(
        "h265", "libx265", 28, 3, {"x265-params": "log-level=error:sao=0:deblock=-6,-6:psy-rd=0:psy-rdoq=0:aq-mode=0"}
    ),
    "h264": CodecPreset("h264", "libx264", 23, 3, {"x264-params": "deblock=-6,-6:psy-rd=0,0:aq-mode=0"}),
    "mp4v": CodecPreset("mp4v", "mpeg4", 8, 3, {}),
}
_ALIASES = {"hevc": "h265", "avc": "h264", "libx264": "h264", "libx265": "h265", "libsvtav1": "av1", "mpeg4": "mp4v"}


def resolve_codec(name: str) -> CodecPreset:
    """Return the preset for a codec name such as ``"av1"`` or ``"h265"``."""
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in CODECS:
        raise UnsupportedCodecError(f"Unknown video codec {name!r}. Use one of: {', '.join(CODECS)}.")
    return CODECS[key]


def qr_capacity(version: int) -> int:
    """Bytes one QR code of ``version`` carries at error level L, minus mode/length headers."""
    return _QR_CAPACITY_L[version - 1] - 3


@dataclass(frozen=True)
class VideoSettings:
    """Everything needed to write, and later read, a memory's frames."""

    codec: str = "av1"
    fps: int = 30
    frame_size: int = 192
    crf: int = 30
    module_px: int = 1
    qr_version: int = 40
    qr_backend: str = "zxing"

    @classmethod
    def create(
        cls,
        codec: str = "av1",
        fps: float = 30,
        frame_size: int | None = None,
        crf: int | None = None,
        qr_backend: str = "zxing",
    ) -> VideoSettings:
        """Validate user settings and pick the largest QR code that fits the frame."""
        preset = resolve_codec(codec)
        if qr_backend not in ("zxing", "qrcode"):
            raise InvalidInputError(f"Unknown qr_backend {qr_backend!r}. Use 'zxing' (fast) or 'qrcode' (qrcode + pyzbar).")
        if not (isinstance(fps, (int, float)) and 1 <= fps <= 240):
            raise InvalidInputError(f"fps must be between 1 and 240, got {fps!r}.")
        module_px = preset.module_px if qr_backend == "zxing" else max(2, preset.module_px)  # zbar misreads 1-px modules
        def fitting(version: int) -> int:  # the smallest frame, a multiple of 8 pixels, that holds that version
            side = (17 + 4 * version + 2 * QUIET_MODULES) * module_px
            return side + (-side) % 8

        default_size, largest = fitting(preset.default_qr_version), fitting(40)
        size = default_size if frame_size is None else int(frame_size)
        if size % 2:
            raise InvalidInputError(f"frame_size must be even (video chroma subsampling), got {size}.")
        if size > 4 * largest:  # 8192 px took 3.7 GB and 7 s to write a 5 KB memory
            raise InvalidInputError(
                f"frame_size={size} is more than {preset.name} can use: its largest QR code fills {largest} px "
                f"frames, and larger ones only add blank border. Use at most {4 * largest} (default {default_size})."
            )
        crf_v = preset.default_crf if crf is None else int(crf)
        if not 0 <= crf_v <= 63:
            raise InvalidInputError(f"crf must be between 0 and 63, got {crf_v}.")
        modules = size // module_px - 2 * QUIET_MODULES
        version = min(40, (modules - 17) // 4)
        if version < 5:
            smallest = (17 + 4 * 5 + 2 * QUIET_MODULES) * module_px
            raise InvalidInputError(
                f"frame_size={size} is too small for {preset.name}: use at least {smallest + smallest % 2} pixels."
            )
        return cls(preset.name, int(fps), size, crf_v, module_px, version, qr_backend)

    @property
    def preset(self) -> CodecPreset:
        return resolve_codec(self.codec)

    @property
    def frame_capacity(self) -> int:
        """Payload bytes one frame holds, after the frame header and text-safe encoding."""
        raw = qr_capacity(self.qr_version)
        if self.qr_backend == "qrcode":
            raw = raw * 3 // 4  # base64, because zbar mangles binary QR payloads
        return raw

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoSettings:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class VideoOptions:
    """The five video arguments users pass when creating a memory, validated by :meth:`settings`."""

    codec: str = "av1"
    fps: float = 30
    frame_size: int | None = None
    crf: int | None = None
    qr_backend: str = "zxing"

    def settings(self) -> VideoSettings:
        return VideoSettings.create(self.codec, self.fps, self.frame_size, self.crf, self.qr_backend)
