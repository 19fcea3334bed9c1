"""The MP4 is the memory: its boxes and frames rebuild the manifest and the vector store, with no embedding model."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pytest
from core_fixtures import hash_embed, pydoc_chunks

from memvid_base import Embedder, Memory
from memvid_base.files.self_describe import read_segment_meta

QUERIES = ["generators yield values", "exception handling", "class definitions and methods"]


def refusing_embedder() -> Embedder:
    def refuse(texts: list[str]) -> list[list[float]]:
        raise AssertionError("the embedding model was called")

    return Embedder(refuse, dimension=64)


def results(mem: Memory) -> list[list[tuple[str, str, float]]]:
    return [[(c.id, c.text, round(c.score or 0, 6)) for c in mem.search_by_vector(hash_embed([q])[0], 5)] for q in QUERIES]


@pytest.fixture
def memory(tmp_path: Path) -> Memory:
    chunks = pydoc_chunks(limit=80)
    mem = Memory.build(tmp_path / "kb.mp4", None, chunks, [{"file": f"f{k % 4}.txt"} for k in range(80)],
                       embedding_model=hash_embed)
    mem.add(["An appended chunk about generators and yield."], [{"file": "new.txt"}], ids=["new"])
    mem.delete(ids=["5"])
    return mem


def test_every_segment_describes_itself_and_stays_a_playable_mp4(memory: Memory) -> None:
    for seg in memory.manifest.segments:
        path = memory.root / seg.file
        meta = read_segment_meta(path)
        assert meta is not None and meta.segment_uid == seg.uid and meta.version == seg.version
        assert meta.settings == memory.settings and meta.embedding_dim == 64
        with av.open(str(path)) as container:
            assert sum(1 for _ in container.decode(video=0)) == seg.frames


def test_a_lost_index_and_store_are_rebuilt_from_the_video_with_history(memory: Memory) -> None:
    before, history, version = results(memory), memory.history(), memory.version
    memory.close()
    for path in memory.root.iterdir():
        if path.name not in ("kb.mp4", "kb_segments"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    again = Memory(memory.video_path, embedding_model=refusing_embedder())
    assert again.version == version and len(again) == 80
    assert [(v["version"], v["op"], v["live_chunks"]) for v in again.history()] == [
        (v["version"], v["op"] if v["op"] != "build" else "add", v["live_chunks"]) for v in history]
    assert results(again) == before  # same ids, text, order and scores: the vectors came from the file
    assert again.verify().ok
    first = Memory(memory.video_path, embedding_model=hash_embed, as_of=1)
    assert "5" in {c.id for c in first.get()}  # the tombstone of version 3 is history, not loss


def test_a_compacted_memory_is_one_file_that_opens_anywhere(memory: Memory, tmp_path: Path) -> None:
    memory.compact()
    before = results(memory)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(memory.video_path, elsewhere / "kb.mp4")  # copy only the MP4
    copy = Memory(elsewhere / "kb.mp4", embedding_model=refusing_embedder())
    assert results(copy) == before
    assert copy.get_by_ids(["new"])[0].text == "An appended chunk about generators and yield."
    copy.add(["Appending to the copy still works."], embeddings=hash_embed(["Appending to the copy still works."]))
    assert len(copy) == len(memory) + 1


def test_a_lost_store_is_rebuilt_from_the_boxes_without_the_model(memory: Memory) -> None:
    before = results(memory)
    memory.close()
    for folder in memory.layout.store_dirs():
        shutil.rmtree(folder)
    again = Memory(memory.video_path, embedding_model=refusing_embedder())
    assert again.rebuild_index() == 80
    assert results(again) == before


def _filtered(mem: Memory, where: dict[str, str]) -> list[list[tuple[float, str]]]:
    """Scores and the filtered key of each hit (hashed vectors tie at times, so ids at equal scores may swap)."""
    return [[(round(c.score or 0, 6), c.metadata["file"]) for c in mem.search_by_vector(hash_embed([q])[0], 5, where=where)]
            for q in QUERIES]


def test_a_bare_copy_opens_from_its_box_and_reads_the_frames_only_when_metadata_is_needed(
    memory: Memory, tmp_path: Path
) -> None:
    from memvid_base.storage.lazy_metadata import is_pending

    memory.compact()
    before, filtered = results(memory), _filtered(memory, {"file": "f1.txt"})
    copies = []
    for name in ("reader", "writer"):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(memory.video_path, folder / "kb.mp4")
        copies.append(Memory(folder / "kb.mp4", embedding_model=refusing_embedder()))
    reader, writer = copies
    assert is_pending(reader.manifest) and is_pending(writer.manifest)  # vectors and placements from the box only
    assert results(reader) == before and is_pending(reader.manifest)  # a plain vector search needs no metadata
    assert _filtered(reader, {"file": "f1.txt"}) == filtered  # a filter reads the frames once, then matches
    assert {s for row in filtered for s in row} and all(f == "f1.txt" for row in filtered for _, f in row)
    assert not is_pending(reader.manifest)
    hits = reader.search_by_vector(hash_embed([QUERIES[0]])[0], 5, where={"file": "f1.txt"})
    assert [c.text for c in hits] == [c.text for c in memory.get_by_ids([c.id for c in hits])]  # exact text
    # A writer fills the metadata in before it changes anything, so its store is complete afterwards.
    writer.add(["Appended to a bare copy."], [{"file": "f1.txt"}], ids=["fresh"],
               embeddings=hash_embed(["Appended to a bare copy."]))
    assert not is_pending(writer.manifest)
    assert {c.id for c in writer.get(where={"file": "f1.txt"})} == {c.id for c in memory.get(where={"file": "f1.txt"})} | {"fresh"}
    assert Memory(writer.video_path, embedding_model=refusing_embedder()).verify().ok
