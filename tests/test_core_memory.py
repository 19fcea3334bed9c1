"""The core contract: text lives in the video, every codec round-trips, bad input gets a clear error."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from core_fixtures import hash_embed, pydoc_chunks

from memvid_base import (
    CorruptMemoryError,
    DimensionMismatchError,
    FrameDecodeError,
    InvalidInputError,
    Memory,
    MemoryNotFoundError,
    MemvidEncoder,
    MemvidRetriever,
    UnsupportedCodecError,
    VideoSettings,
)


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return pydoc_chunks(limit=160)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, corpus: list[str]) -> Path:
    folder = tmp_path_factory.mktemp("built")
    enc = MemvidEncoder(chunk_size=512, embedding_model=hash_embed)
    enc.add_chunks(corpus, metadata=[{"file": "topics.txt", "n": k} for k in range(len(corpus))])
    enc.build_video(folder / "kb.mp4", folder / "kb_index.json", show_progress=False)
    return folder


def _all_files_bytes(folder: Path, exclude_suffix: str = ".mp4") -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.suffix != exclude_suffix)


def test_every_chunk_decodes_byte_exact_from_the_video(built: Path, corpus: list[str]) -> None:
    mem = Memory(built / "kb.mp4", embedding_model=hash_embed)
    texts = {c.id: c.text for c in mem.get()}
    assert [texts[str(k)] for k in range(len(corpus))] == corpus
    report = mem.verify()
    assert report.ok, report.errors
    assert report.chunks_checked == len(corpus)


def test_index_and_store_never_hold_the_text(built: Path, corpus: list[str]) -> None:
    everything_but_video = _all_files_bytes(built)
    # Long distinctive sentences from the corpus must appear nowhere outside the MP4.
    probes = [c[:60].encode() for c in corpus[::20] if len(c) > 60]
    assert probes
    for probe in probes:
        assert probe not in everything_but_video


def test_search_decodes_from_frames_after_the_cache_is_dropped(built: Path) -> None:
    mem = Memory(built / "kb.mp4", embedding_model=hash_embed)
    first = [(c.id, c.text) for c in mem.search("for loop iteration over a sequence", top_k=5)]
    mem.clear_cache()
    mem.segments.close()  # drop decoders and decoded groups entirely
    again = [(c.id, c.text) for c in mem.search("for loop iteration over a sequence", top_k=5)]
    assert first == again and len(first) == 5


def test_video_alone_rebuilds_the_store_with_identical_results(tmp_path: Path, built: Path) -> None:
    work = tmp_path / "copy"
    shutil.copytree(built, work)
    mem = Memory(work / "kb.mp4", embedding_model=hash_embed)
    before = [(c.id, c.text, round(c.score or 0, 5)) for c in mem.search("exception handling try except", top_k=5)]
    store = mem.layout.resolve(mem.manifest.store["path"])
    assert store.parent == work / ".kb.mp4.memvid-cache"  # a memory with an explicit index keeps its store in the cache folder
    mem.close()
    shutil.rmtree(store)
    broken = Memory(work / "kb.mp4", embedding_model=hash_embed)
    # Unfiltered searches of a small memory rank on the vectors in the MP4's boxes and need no store...
    assert [(c.id, c.text, round(c.score or 0, 5)) for c in broken.search("exception handling try except", top_k=5)] == before
    # ...a filter does, and says how to get it back.
    with pytest.raises(CorruptMemoryError, match="rebuild_index"):
        broken.search("exception handling", where={"file": "a.md"})
    assert broken.rebuild_index() == len(before) * 0 + broken.manifest.live_chunks
    after = [(c.id, c.text, round(c.score or 0, 5)) for c in broken.search("exception handling try except", top_k=5)]
    assert after == before


def test_damaged_frame_raises_instead_of_returning_text(tmp_path: Path, built: Path) -> None:
    work = tmp_path / "copy"
    shutil.copytree(built, work)
    video = work / "kb.mp4"
    data = bytearray(video.read_bytes())
    for k in range(len(data) // 3, len(data) * 2 // 3, 97):  # scribble over the middle frames
        data[k] ^= 0xFF
    video.write_bytes(bytes(data))
    mem = Memory(video, embedding_model=hash_embed)
    report = mem.verify()
    assert not report.ok and report.errors
    with pytest.raises(FrameDecodeError):
        for chunk in mem.get():  # at least one chunk sits in a damaged frame
            assert chunk.text


def test_truncated_video_is_detected(tmp_path: Path, built: Path) -> None:
    work = tmp_path / "copy"
    shutil.copytree(built, work)
    video = work / "kb.mp4"
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    mem = Memory(video, embedding_model=hash_embed)
    assert not mem.verify().ok
    with pytest.raises(FrameDecodeError):
        mem.get()


@pytest.mark.parametrize("codec", ["av1", "h265", "h264", "mp4v"])
def test_each_codec_round_trips_exactly_at_its_defaults(tmp_path: Path, codec: str) -> None:
    chunks = pydoc_chunks(limit=60)
    mem = Memory.build(tmp_path / "kb.mp4", None, chunks, embedding_model=hash_embed, codec=codec)
    assert mem.info()["codec"] == codec
    assert sorted(c.text for c in mem.get()) == sorted(chunks)
    assert mem.verify().ok


def test_default_settings_store_text_in_at_most_half_its_size(tmp_path: Path) -> None:
    chunks = pydoc_chunks()  # all of pydoc_data's topics, ~460 KB
    mem = Memory.build(tmp_path / "kb.mp4", None, chunks, embedding_model=hash_embed)
    info = mem.info()
    assert info["raw_text_bytes"] > 400_000
    assert info["frames_ratio_to_raw_text"] <= 0.5, info  # the QR frames: the text itself
    # The file also carries each chunk's table row and int8 vector (64-d here: 68 bytes a chunk).
    assert 0 < info["box_bytes"] < 120 * len(chunks)
    assert info["ratio_to_raw_text"] == pytest.approx(info["frames_ratio_to_raw_text"] + info["box_bytes"] / info["raw_text_bytes"], abs=1e-3)


def test_settings_that_cannot_decode_fail_the_build_and_keep_the_old_memory(tmp_path: Path) -> None:
    video = tmp_path / "kb.mp4"
    Memory.build(video, None, ["the original memory"], embedding_model=hash_embed)
    original = video.read_bytes()
    with pytest.raises(CorruptMemoryError, match="did not decode back exactly"):
        Memory.build(video, None, pydoc_chunks(limit=20), embedding_model=hash_embed, codec="h264", crf=51, frame_size=128)
    assert video.read_bytes() == original
    mem = Memory(video, embedding_model=hash_embed)
    assert [c.text for c in mem.get()] == ["the original memory"]
    assert not list((tmp_path / "kb_segments").glob("*.mp4"))


def test_chunks_larger_than_a_frame_span_several_frames(tmp_path: Path) -> None:
    big = "".join(pydoc_chunks(limit=80))  # ~35 KB: a dozen frames of payload
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    mem.add([big, "small"], ids=["big", "small"])
    assert mem.info()["frames"] > 3
    assert mem.get_by_ids(["big"])[0].text == big
    assert mem.verify().ok


UNICODE = [
    "日本語のテキストと中文文本，한국어 텍스트",
    "emoji 👩‍👩‍👧‍👦🏳️‍🌈 and flags 🇫🇷",
    "עברית מימין לשמאל والعربية أيضا",
    "combining: e\u0301 a\u0308 Z\u0335\u0321",
    "NUL \x00 inside \x00\x00 and \t tabs \r\n newlines",
    "lone surrogate \ud800 kept exactly",
    "\ufeffBOM and zero\u200bwidth",
]


def test_all_of_unicode_round_trips(tmp_path: Path) -> None:
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    ids = mem.add(UNICODE, metadatas=[{"label": t[:5]} for t in UNICODE])
    got = {c.id: (c.text, c.metadata) for c in mem.get_by_ids(ids)}
    assert [got[i][0] for i in ids] == UNICODE
    assert [got[i][1]["label"] for i in ids] == [t[:5] for t in UNICODE]


def test_metadata_round_trips_exactly_and_non_scalars_stay_unfilterable(tmp_path: Path) -> None:
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    meta = {"file": "a.md", "page": 3, "score": 0.5, "ok": True, "tags": ["x", "y"], "nested": {"k": [1, None]}, "none": None}
    mem.add(["some text"], metadatas=[meta], ids=["m"])
    assert mem.get_by_ids(["m"])[0].metadata == meta
    assert [c.id for c in mem.search("text", where={"page": 3})] == ["m"]
    with pytest.raises(InvalidInputError, match="cannot be stored"):
        mem.add(["x"], metadatas=[{"when": object()}])
    with pytest.raises(InvalidInputError, match="reserved"):
        mem.add(["x"], metadatas=[{"_mv_id": "sneaky"}])


def test_empty_inputs(tmp_path: Path) -> None:
    enc = MemvidEncoder(embedding_model=hash_embed)
    with pytest.raises(InvalidInputError, match="empty"):
        enc.add_text("   ")
    with pytest.raises(InvalidInputError, match="empty"):
        enc.add_chunks(["fine", ""])
    with pytest.raises(InvalidInputError, match="No chunks"):
        enc.build_video(tmp_path / "kb.mp4")
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    assert mem.search("anything") == []
    assert mem.add([]) == []
    assert mem.get_by_ids(["nope"]) == []


def test_top_k_bounds(built: Path, corpus: list[str]) -> None:
    r = MemvidRetriever(built / "kb.mp4", embedding_model=hash_embed)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidInputError, match="top_k"):
            r.search("x", top_k=bad)  # type: ignore[arg-type]
    assert len(r.search("lambda", top_k=10_000)) == len(corpus)


def test_missing_and_corrupt_files(tmp_path: Path, built: Path) -> None:
    with pytest.raises(MemoryNotFoundError, match="Build one"):
        MemvidRetriever(tmp_path / "nothing.mp4")
    work = tmp_path / "copy"
    shutil.copytree(built, work)
    (work / "kb_index.json").write_text("{ not json")
    with pytest.raises(CorruptMemoryError, match="not valid JSON"):
        Memory(work / "kb.mp4", embedding_model=hash_embed)
    (work / "kb_index.json").write_text(json.dumps({"frames": [1, 2]}))  # an original-memvid style index
    with pytest.raises(CorruptMemoryError, match="not a memvid index"):
        Memory(work / "kb.mp4", embedding_model=hash_embed)
    shutil.copy(built / "kb_index.json", work / "kb_index.json")
    (work / "kb.mp4").unlink()
    with pytest.raises(MemoryNotFoundError, match="missing"):
        Memory(work / "kb.mp4", embedding_model=hash_embed).search("anything")


def test_unknown_codec_and_bad_settings() -> None:
    enc = MemvidEncoder(embedding_model=hash_embed)
    enc.add_chunks(["x"])
    with pytest.raises(UnsupportedCodecError, match="Use one of"):
        enc.build_video("never.mp4", video_codec="divx")
    with pytest.raises(InvalidInputError, match="too small"):
        enc.build_video("never.mp4", frame_size=32)
    with pytest.raises(InvalidInputError, match="even"):
        enc.build_video("never.mp4", frame_size=255)
    with pytest.raises(InvalidInputError, match="at most 736"):  # 8192 px took 3.7 GB to write five bytes of text
        enc.build_video("never.mp4", frame_size=8192)
    with pytest.raises(InvalidInputError, match="at most 2176"):
        Memory.create("never.mp4", embedding_model=hash_embed, codec="h265", frame_size=20000)
    assert not Path("never.mp4").exists()
    assert not Path(".never.mp4.memvid-cache").exists()  # bad settings fail before anything touches the disk


def test_new_av1_memories_default_to_176_px_frames_and_accept_the_largest_qr_code() -> None:
    # 176 px (version 38) reads a cold hit's frame sooner than 184 (version 40) in the same bytes
    # (benchmarks/bench_frame_size.py); 184 px and its largest symbol stay one argument away.
    default, largest = VideoSettings.create("av1"), VideoSettings.create("av1", frame_size=184)
    assert (default.frame_size, default.qr_version) == (176, 38)
    assert (largest.frame_size, largest.qr_version) == (184, 40)
    assert VideoSettings.create("h264").qr_version == 40  # the lossy codecs keep their largest code


def test_a_search_reads_intact_frames_without_zxing(built: Path, corpus: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # The fast QR read, checked by each frame's header and CRC32, serves every intact frame; zxing-cpp is for damage.
    import zxingcpp

    calls: list[int] = []
    real = zxingcpp.read_barcodes
    monkeypatch.setattr(zxingcpp, "read_barcodes", lambda *a, **k: calls.append(1) or real(*a, **k))
    mem = Memory(built / "kb.mp4", built / "kb_index.json", embedding_model=hash_embed)
    hits = mem.search(corpus[7], top_k=5)
    assert corpus[7] in [h.text for h in hits] and all(h.text in corpus for h in hits)
    assert calls == []


def test_wrong_embedding_dimension_is_a_clear_error(built: Path) -> None:
    mem = Memory(built / "kb.mp4", embedding_model=lambda texts: np.ones((len(texts), 7)))
    with pytest.raises(DimensionMismatchError, match="64-d"):
        mem.search("anything")
    with pytest.raises(DimensionMismatchError):
        Memory(built / "kb.mp4", embedding_model=hash_embed).search_by_vector(np.ones(3))


def test_bad_pdfs_get_clear_errors(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    enc = MemvidEncoder(embedding_model=hash_embed)
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.4 this is not really a pdf")
    with pytest.raises(InvalidInputError, match="not a readable PDF"):
        enc.add_pdf(junk)
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret")
    locked = tmp_path / "locked.pdf"
    with open(locked, "wb") as fh:
        writer.write(fh)
    with pytest.raises(InvalidInputError, match="encrypted"):
        enc.add_pdf(locked)
    with pytest.raises(MemoryNotFoundError):
        enc.add_pdf(tmp_path / "absent.pdf")


def test_pzbar_backend_round_trips(tmp_path: Path) -> None:
    chunks = pydoc_chunks(limit=12)
    mem = Memory.build(tmp_path / "kb.mp4", None, chunks, embedding_model=hash_embed, qr_backend="qrcode")
    assert mem.info()["qr_backend"] == "qrcode"
    assert sorted(c.text for c in mem.get()) == sorted(chunks)


def test_chroma_http_server_backs_a_memory(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys
    import time

    import chromadb

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    chroma = Path(sys.executable).with_name("chroma")
    server = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        client = None
        for _ in range(100):
            try:
                client = chromadb.HttpClient(host="127.0.0.1", port=port)
                client.heartbeat()
                break
            except Exception:
                time.sleep(0.2)
        assert client is not None
        chunks = pydoc_chunks(limit=30)
        Memory.build(tmp_path / "kb.mp4", None, chunks, embedding_model=hash_embed, client=client)
        assert not list((tmp_path / ".kb.mp4.memvid-cache").glob("chroma*"))  # vectors live on the server
        mem = Memory(tmp_path / "kb.mp4", embedding_model=hash_embed, client=client)
        hits = mem.search(chunks[3], top_k=1)
        assert hits[0].text == chunks[3]
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_editing_a_results_metadata_never_changes_what_the_next_search_returns(tmp_path: Path) -> None:
    meta = {"file": "a.md", "tags": ["x", {"deep": [1, 2]}], "page": 3, "ok": True, "none": None}
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    mem.add(["nested metadata survives edits", "another chunk"], metadatas=[meta, {}], ids=["a", "b"])
    first = mem.search("nested metadata", top_k=1)[0]
    assert first.metadata == meta
    first.metadata["tags"][1]["deep"].append(3)  # the caller's copy, however deep
    first.metadata["file"] = "edited"
    for chunk in (mem.search("nested metadata", top_k=1)[0], mem.get_by_ids(["a"])[0]):
        assert chunk.metadata == meta
