"""The segment metadata payload: exact round trip, and every hostile or damaged field refused."""

from __future__ import annotations

import copy
import io
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memvid_base import segment_meta as sm
from memvid_base.config import VideoSettings
from memvid_base.errors import CorruptMemoryError, InvalidInputError
from memvid_base.format import zstd
from memvid_base.format.container import append_box, read_box
from memvid_base.format.segment_meta import HEADER_SIZE, ChunkEntry, SegmentMeta


def _meta(encoding: str = "int8", n: int = 50, dim: int = 16) -> tuple[SegmentMeta, np.ndarray]:
    rng = np.random.default_rng(3)
    chunks = [ChunkEntry(str(k), 1 + k // 10, 1, f"{k:016x}", 400 + k) for k in range(n)]
    chunks.append(ChunkEntry("gone", 6, 1, "ab" * 8, 0, deleted=True))  # a tombstone has no vector
    vecs = rng.normal(size=(n, dim)).astype(np.float32)
    meta = SegmentMeta.build(
        vecs, encoding, segment_uid="0123456789abcdef", version=7, settings=VideoSettings.create("av1"),
        embedding_model="all-MiniLM-L6-v2", chunks=chunks, frames=7, dict_frames=1,
        group_starts=[0, 1, 2, 3, 4, 5, 6], group_crcs=[1, 2, 3, 4, 5, 6, 2**32 - 1], created=1.7e9, op="add",
        extra={"note": "x", "n": 3},
    )  # fmt: skip
    return meta, vecs


def _doc(blob: bytes) -> dict[str, Any]:
    _, _, _, zlen, _, _ = struct.unpack_from(">8sHHIIQ", blob)
    return json.loads(zstd.ZstdDecompressor().decompress(blob[HEADER_SIZE : HEADER_SIZE + zlen]))


def _forge(
    doc: Any, vectors: bytes = b"", jlen: int | None = None, raw: bytes | None = None, packed: bytes | None = None
) -> bytes:
    """A payload with a *valid* digest around arbitrary content: what a hostile file can contain."""
    body = raw if raw is not None else json.dumps(doc).encode()
    packed = zstd.compressor(3)(body) if packed is None else packed
    prefix = struct.pack(">8sHHIIQ", sm.MAGIC, sm.FORMAT_VERSION, 0, len(packed), len(body) if jlen is None else jlen, len(vectors))
    return prefix + sm._digest(prefix, packed, vectors) + packed + vectors


@pytest.mark.parametrize("encoding", ["int8", "float16", "float32"])
def test_round_trip(encoding: str) -> None:
    meta, vecs = _meta(encoding)
    blob = meta.encode()
    back = SegmentMeta.decode(blob)
    assert back == meta
    assert back.live_count == 50 and back.chunks[-1].deleted and back.chunks[-1].id == "gone"
    out = back.decode_vectors()
    assert out.shape == (50, 16)
    assert np.allclose(out, vecs, atol=np.abs(vecs).max() / 127)
    assert back.settings == VideoSettings.create("av1")


def test_a_decoded_table_is_columns_that_read_as_the_entries_written() -> None:
    meta, _ = _meta()
    back = SegmentMeta.decode(meta.encode())
    table = back.chunks
    assert isinstance(table, sm.ChunkTable)  # columns: no object per chunk until one is asked for
    assert table == meta.chunks and meta.chunks == table and list(table) == list(meta.chunks)
    assert len(table) == 51 and table.live_count == 50
    assert table[0] == meta.chunks[0] and table[-1] == meta.chunks[-1] and table[-1].deleted
    assert table[10:13] == meta.chunks[10:13]
    with pytest.raises(IndexError):
        table[51]
    assert hash(table) == hash(tuple(meta.chunks))
    assert SegmentMeta.decode(back.encode()) == meta  # a decoded meta encodes to the same table


def test_payload_holds_no_text_fields() -> None:
    meta, _ = _meta()
    doc = _doc(meta.encode())
    assert set(doc["chunks"]) == {"ids", "frame_delta", "frames", "checksum", "text_bytes", "deleted"}
    assert doc["chunks"]["frame_delta"][:12] == [1] + [0] * 9 + [1, 0]


def test_through_a_real_box(tmp_path: Path) -> None:
    from memvid_base.format.video import write_video

    path = tmp_path / "s.mp4"
    write_video(path, [np.zeros((128, 128), np.uint8)] * 7, VideoSettings.create("h264", frame_size=128))
    meta, _ = _meta()
    append_box(path, meta.encode())
    payload = read_box(path)
    assert payload is not None and SegmentMeta.decode(payload) == meta


def test_encode_refuses_invalid_meta() -> None:
    meta, _ = _meta()
    fields = dict(meta.__dict__)
    fields["chunks"] = (*meta.chunks, ChunkEntry("0", 0, 1, "00", 1))  # duplicate id
    with pytest.raises(InvalidInputError, match="appears twice"):
        SegmentMeta(**fields).encode()
    with pytest.raises(CorruptMemoryError, match="vector block"):
        SegmentMeta(**{**meta.__dict__, "vectors": meta.vectors[:-1]}).validate()


def test_damage_is_detected() -> None:
    blob = _meta()[0].encode()
    for k in (0, 9, 11, 14, 30, HEADER_SIZE + 3, len(blob) - 1):
        bad = bytearray(blob)
        bad[k] ^= 0x01
        with pytest.raises(CorruptMemoryError):
            SegmentMeta.decode(bytes(bad))
    for cut in (0, 10, HEADER_SIZE, len(blob) - 1):
        with pytest.raises(CorruptMemoryError):
            SegmentMeta.decode(blob[:cut])
    with pytest.raises(CorruptMemoryError):
        SegmentMeta.decode(blob + b"\0")


def test_unsupported_format_version() -> None:
    blob = bytearray(_meta()[0].encode())
    blob[8:10] = struct.pack(">H", 99)
    with pytest.raises(CorruptMemoryError, match="format 99 is not supported"):
        SegmentMeta.decode(bytes(blob))


def test_decompression_is_bounded() -> None:
    bomb = b"[" + b"0," * 5_000_000 + b"0]"  # 10 MB of JSON that zstd squeezes to a few hundred bytes
    with pytest.raises(CorruptMemoryError, match="refusing to inflate"):
        SegmentMeta.decode(_forge(None, raw=bomb))
    # A small declared size with a frame that inflates further: stop at size + 1, never inflate the rest.
    with pytest.raises(CorruptMemoryError, match="not the declared"):
        SegmentMeta.decode(_forge(None, raw=bomb, jlen=1000))
    with pytest.raises(CorruptMemoryError, match="decompress"):
        SegmentMeta.decode(_forge(None, raw=b"x" * 100, packed=b"not a zstd frame at all"))


def test_forged_valid_document_round_trips() -> None:
    meta, _ = _meta()
    blob = meta.encode()
    assert SegmentMeta.decode(_forge(_doc(blob), meta.vectors)) == meta


def _mutations() -> list[tuple[str, Any]]:
    def set_(path: str, value: Any) -> Any:
        def apply(doc: dict[str, Any]) -> None:
            *keys, last = path.split(".")
            node = doc
            for key in keys:
                node = node[key]
            if value is _DELETE:
                del node[last]
            else:
                node[last] = value

        return apply

    return [
        ("uid", set_("segment_uid", "../../etc/passwd")),
        ("version-neg", set_("version", -1)),
        ("version-bool", set_("version", True)),
        ("created-str", set_("created", "yesterday")),
        ("op-long", set_("op", "x" * 5000)),
        ("codec", set_("settings.codec", "rm -rf")),
        ("fps", set_("settings.fps", 0)),
        ("frame-size-odd", set_("settings.frame_size", 193)),
        ("frame-size-huge", set_("settings.frame_size", 10**6)),
        ("crf", set_("settings.crf", 99)),
        ("qr-version", set_("settings.qr_version", 41)),
        ("qr-backend", set_("settings.qr_backend", "os.system")),
        ("settings-extra-key", set_("settings.evil", 1)),
        ("settings-missing-key", set_("settings.fps", _DELETE)),
        ("dim", set_("embedding.dim", 10**7)),
        ("model", set_("embedding.model", 5)),
        ("encoding", set_("vectors.encoding", "pickle")),
        ("count", set_("vectors.count", 49)),
        ("frames", set_("frames", -1)),
        ("dict-frames", set_("dict_frames", 8)),
        ("group-order", set_("group_starts", [0, 2, 1, 3, 4, 5, 6])),
        ("group-crc", set_("group_crcs", [0, 0, 0, 0, 0, 0, 2**32])),
        ("group-len", set_("group_crcs", [0])),
        ("extra-nested", set_("extra", {"a": {"b": 1}})),
        ("unknown-key", set_("surprise", 1)),
        ("missing-key", set_("frames", _DELETE)),
        ("ids-short", set_("chunks.ids", ["0"])),
        ("id-type", set_("chunks.ids", [5] * 51)),
        ("id-dup", set_("chunks.ids", ["a"] * 51)),
        ("id-long", set_("chunks.ids", [str(k) * 9000 for k in range(51)])),
        ("frame-outside", set_("chunks.frame_delta", [100] + [0] * 50)),
        ("frame-negative", set_("chunks.frame_delta", [-1] + [0] * 50)),
        ("span-zero", set_("chunks.frames", [0] * 51)),
        ("checksum", set_("chunks.checksum", ["not hex!"] * 51)),
        ("text-bytes", set_("chunks.text_bytes", [-5] * 51)),
        ("deleted-range", set_("chunks.deleted", [51])),
        ("deleted-dup", set_("chunks.deleted", [50, 50])),
        ("chunks-not-object", set_("chunks", [])),
    ]


_DELETE = object()


@pytest.mark.parametrize("name, mutate", _mutations(), ids=[m[0] for m in _mutations()])
def test_hostile_fields_are_refused(name: str, mutate: Any) -> None:
    meta, _ = _meta()
    doc = copy.deepcopy(_doc(meta.encode()))
    mutate(doc)
    with pytest.raises(CorruptMemoryError, match="Segment metadata is invalid"):
        SegmentMeta.decode(_forge(doc, meta.vectors))


@pytest.mark.parametrize("raw", [b"{not json", b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe", b"[1, 2]", b'{"created": NaN}'])
def test_garbage_documents_are_refused(raw: bytes) -> None:
    with pytest.raises(CorruptMemoryError):
        SegmentMeta.decode(_forge(None, raw=raw))


def test_vector_block_of_wrong_size_is_refused() -> None:
    meta, _ = _meta()
    doc = _doc(meta.encode())
    with pytest.raises(CorruptMemoryError, match="vector block"):
        SegmentMeta.decode(_forge(doc, meta.vectors[:-388]))


def test_decode_reads_from_any_buffer() -> None:
    meta, _ = _meta()
    assert SegmentMeta.decode(io.BytesIO(meta.encode()).getvalue()) == meta
