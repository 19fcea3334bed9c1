"""A memory read from where it cannot write: over HTTP from a real nginx, or from a read-only folder.

Its index, vector store and keyword index are caches built from the MP4 in the user's cache folder.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from core_fixtures import hash_embed, pydoc_chunks
from nginx_server import NginxServer, nginx  # noqa: F401  (the fixture)

from memvid_base import Embedder, InvalidInputError, Memory, MemvidRetriever

QUERIES = ["generators yield values", "exception handling", "class definitions and methods"]


def refusing_embedder() -> Embedder:
    def refuse(texts: list[str]) -> list[list[float]]:
        raise AssertionError("the embedding model was called")

    return Embedder(refuse, dimension=64)


def results(mem: Memory) -> list[list[tuple[str, str]]]:
    return [[(c.id, c.text) for c in mem.search_by_vector(hash_embed([q])[0], 5)] for q in QUERIES]


def assert_same_results(got: list[list[tuple[str, str]]], expected: list[list[tuple[str, str]]]) -> None:
    """Exact text for every id; the same ranking up to the vector index's approximation (HNSW)."""
    texts = {i: t for ranking in expected for i, t in ranking}
    overlap = []
    for g, e in zip(got, expected):
        assert all(texts.get(i, t) == t for i, t in g)
        overlap.append(len({i for i, _ in g} & {i for i, _ in e}) / len(e))
    assert sum(overlap) / len(overlap) >= 0.8, overlap


@pytest.fixture
def single_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[list[tuple[str, str]]]]:
    monkeypatch.setenv("MEMVID_CACHE_DIR", str(tmp_path / "user-cache"))
    chunks = pydoc_chunks(limit=500)
    mem = Memory.build(tmp_path / "src" / "kb.mp4", None, chunks, [{"file": f"f{k % 3}.txt"} for k in range(len(chunks))],
                       embedding_model=hash_embed)
    mem.compact()
    return mem.video_path, results(mem)


def test_a_memory_served_over_http_is_searched_with_range_requests(nginx: NginxServer, single_file) -> None:  # noqa: F811
    video, expected = single_file
    shutil.copy(video, nginx.root / "kb.mp4")
    url = nginx.url_for("kb.mp4")
    mem = Memory(url, embedding_model=refusing_embedder())  # builds its caches from the file, no model
    assert_same_results(results(mem), expected)
    size = (nginx.root / "kb.mp4").stat().st_size
    for query in QUERIES:
        mem.close()  # a cold query: no open reader, no cached blocks
        nginx.sync()
        nginx.clear_log()
        mem.search_by_vector(hash_embed([query])[0], 3)
        nginx.sync()
        sent = nginx.bytes_sent("/kb.mp4")
        assert 0 < sent < size / 2, (sent, size)  # reopening the file (its moov) and a few frames, not the file
    with pytest.raises(InvalidInputError, match="read-only"):
        mem.add(["no writes over HTTP"])
    assert len(MemvidRetriever(url, embedding_model=hash_embed).search(QUERIES[1], top_k=5)) == 5


def test_a_bare_mp4_in_a_read_only_folder_opens_with_caches_elsewhere(tmp_path: Path, single_file) -> None:
    video, expected = single_file
    folder = tmp_path / "ro"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)], capture_output=True).returncode:
        pytest.skip("mounting a tmpfs is not permitted here (needs root); a read-only folder cannot be made for root")
    try:
        shutil.copy(video, folder / "kb.mp4")
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)
        mem = Memory(folder / "kb.mp4", embedding_model=refusing_embedder())
        assert_same_results(results(mem), expected)
        assert sorted(p.name for p in folder.iterdir()) == ["kb.mp4"]
        with pytest.raises(InvalidInputError, match="read-only"):
            mem.add(["no writes here"])
        mem.close()
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)



WHERES = [{"file": "f1.txt"}, {"$or": [{"file": "f0.txt"}, {"n": {"$gte": 400}}]}]


def store_rows(mem: Memory) -> dict[str, tuple[dict, list[float]]]:
    """Every row of the memory's vector store: its metadata and its vector."""
    res = mem.open_store().collection.get(include=["metadatas", "embeddings"])
    return {rid: (dict(meta), [float(x) for x in emb]) for rid, meta, emb in zip(res["ids"], res["metadatas"], res["embeddings"])}


def exact_results(mem: Memory) -> list[object]:
    """Searches whose answers do not depend on the vector index's approximation: filters and BM25 over everything."""
    out: list[object] = [[(c.id, c.text, c.metadata) for c in mem.get(where=where)] for where in WHERES]
    for q in QUERIES:
        hits = mem.search(q, 1000, mode="keyword", where=WHERES[0])
        out.append(sorted((c.id, round(c.score or 0, 5), c.text, tuple(sorted(c.metadata.items()))) for c in hits))
    return out


def filtered_results(mem: Memory) -> list[list[tuple[str, str]]]:
    """Vector searches with metadata and document filters; every chunk must pass its filter."""
    out = []
    for q in QUERIES:
        vec = hash_embed([q])[0]
        for where in WHERES:
            got = mem.search_by_vector(vec, 5, where=where)
            assert got and all(c.metadata["file"] == "f1.txt" for c in got) if where is WHERES[0] else got
            out.append([(c.id, c.text) for c in got])
        got = mem.search_by_vector(vec, 5, where_document={"$contains": "the"})
        assert got and all("the" in c.text for c in got)
        out.append([(c.id, c.text) for c in got])
    return out


def from_every_frame(video: Path) -> Memory:
    """Open a bare MP4 with its store rebuilt from every frame at once: the reference for the box-only open."""
    from memvid_base.files.layout import Layout
    from memvid_base.storage.recovery import recover

    assert recover(Layout.of(video), from_frames=True)
    return Memory(video, embedding_model=hash_embed)


@pytest.fixture
def filtered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Memory]:
    """A single-file memory with user metadata, and the same file in a writable folder, its store rebuilt from every frame."""
    monkeypatch.setenv("MEMVID_CACHE_DIR", str(tmp_path / "user-cache"))
    chunks = pydoc_chunks(limit=600)
    metas = [{"file": f"f{k % 3}.txt", "n": k} for k in range(len(chunks))]
    mem = Memory.build(tmp_path / "src" / "kb.mp4", None, chunks, metas, embedding_model=hash_embed)
    mem.compact()
    mem.close()
    (tmp_path / "copy").mkdir()
    shutil.copy(mem.video_path, tmp_path / "copy" / "kb.mp4")
    eager = from_every_frame(tmp_path / "copy" / "kb.mp4")
    assert "user_metadata" not in eager.manifest.store
    return mem.video_path, eager


def test_a_remote_memory_opens_from_its_box_and_reads_frames_only_for_metadata(nginx: NginxServer, filtered) -> None:  # noqa: F811
    video, eager = filtered
    shutil.copy(video, nginx.root / "lazy.mp4")
    size = (nginx.root / "lazy.mp4").stat().st_size
    url = nginx.url_for("lazy.mp4")
    nginx.clear_log()
    mem = Memory(url, embedding_model=refusing_embedder())
    opened = nginx.bytes_sent("/lazy.mp4")
    assert 0 < opened < size / 2, (opened, size)  # the box (ids, placements, vectors), not the frames
    assert mem.manifest.store.get("user_metadata") == "pending"
    lazy_rows, eager_rows = store_rows(mem), store_rows(eager)
    assert lazy_rows.keys() == eager_rows.keys()
    for rid, (meta, vector) in lazy_rows.items():  # the same rows and vectors, user metadata still to come
        assert vector == eager_rows[rid][1]
        assert meta == {k: v for k, v in eager_rows[rid][0].items() if k not in ("file", "n")}

    assert_same_results(results(mem), results(eager))  # plain vector searches: a few frames each, no backfill
    assert mem.manifest.store.get("user_metadata") == "pending"
    assert nginx.bytes_sent("/lazy.mp4") < size, "vector searches read the whole file"

    assert_same_results(filtered_results(mem), filtered_results(eager))  # the first one fills the metadata in
    assert "user_metadata" not in mem.manifest.store
    assert store_rows(mem) == eager_rows
    mem.use_embedder(hash_embed)
    assert exact_results(mem) == exact_results(eager)
    hybrid = [[(c.id, c.text) for c in m.search(q, 5, mode="hybrid")] for m in (mem, eager) for q in QUERIES]
    assert_same_results(hybrid[: len(QUERIES)], hybrid[len(QUERIES) :])
    mem.close()

    nginx.clear_log()
    again = Memory(url, embedding_model=hash_embed)  # reopened: the caches are kept, nothing is read again
    assert again.fill_metadata() is False
    assert nginx.bytes_sent("/lazy.mp4") < 4096 * 8, "reopening read more than the box's head"
    assert exact_results(again) == exact_results(eager)
    again.close()


def test_an_interrupted_metadata_backfill_is_redone(nginx: NginxServer, filtered, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from memvid_base import lazy_metadata
    from memvid_base.errors import CorruptMemoryError
    from memvid_base.index.vectors import VectorStore

    video, eager = filtered
    shutil.copy(video, nginx.root / "crash.mp4")
    mem = Memory(nginx.url_for("crash.mp4"), embedding_model=hash_embed)
    monkeypatch.setattr(lazy_metadata, "_BATCH", 100)
    real = VectorStore.set_metadata
    calls = []

    def dies_midway(self: VectorStore, ids: list[str], metas: list[dict]) -> None:
        calls.append(len(ids))
        if len(calls) == 3:
            raise KeyboardInterrupt  # the process is stopped half way through
        real(self, ids, metas)

    monkeypatch.setattr(VectorStore, "set_metadata", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        mem.get(where=WHERES[0])
    assert mem.manifest.store.get("user_metadata") == "pending"  # some rows have metadata, the mark stays
    assert sum(1 for meta, _ in store_rows(mem).values() if "file" in meta) == sum(calls[:2])
    monkeypatch.setattr(VectorStore, "set_metadata", real)
    mem.close()

    reopened = Memory(nginx.url_for("crash.mp4"), embedding_model=hash_embed)
    assert reopened.manifest.store.get("user_metadata") == "pending"
    assert exact_results(reopened) == exact_results(eager)  # redone in full
    assert store_rows(reopened) == store_rows(eager)

    index = reopened.index_path
    index.write_text(index.read_text().replace('"next_id"', '"user_metadata": "done?",\n  "next_id"'))
    with pytest.raises(CorruptMemoryError, match="user_metadata"):
        Memory(nginx.url_for("crash.mp4"), embedding_model=hash_embed).get(where=WHERES[0])
    reopened.close()


def test_a_read_only_folder_with_history_opens_from_its_boxes_like_a_full_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several segments, an upsert and a delete: the rows replayed from the boxes are those replayed from the frames."""
    from memvid_base.files.layout import Layout

    monkeypatch.setenv("MEMVID_CACHE_DIR", str(tmp_path / "user-cache"))
    chunks = pydoc_chunks(limit=60)
    mem = Memory.build(tmp_path / "src" / "kb.mp4", None, chunks, [{"file": f"f{k % 3}.txt"} for k in range(60)],
                       embedding_model=hash_embed)
    mem.add(["An appended chunk about generators and yield.", "A replaced chunk."], [{"file": "new.txt"}, {"file": "f1.txt"}],
            ids=["new", "7"])
    mem.delete(ids=["5"])
    mem.delete(where={"file": "f2.txt"})
    mem.close()
    for name in ("eager", "lazy"):
        shutil.copytree(tmp_path / "src", tmp_path / name, ignore=shutil.ignore_patterns("kb_index*", "*.memvid-cache"))  # the MP4s only
    eager = from_every_frame(tmp_path / "eager" / "kb.mp4")
    mirrored = Layout.mirrored(str(tmp_path / "lazy" / "kb.mp4"))
    monkeypatch.setattr(Layout, "of", classmethod(lambda cls, video, index=None: mirrored))  # as if read-only
    lazy = Memory(tmp_path / "lazy" / "kb.mp4", embedding_model=refusing_embedder())
    assert lazy.manifest.store.get("user_metadata") == "pending"
    assert (lazy.manifest.live_chunks, lazy.manifest.dead_rows) == (eager.manifest.live_chunks, eager.manifest.dead_rows)
    eager_rows = store_rows(eager)
    assert {rid: vec for rid, (_, vec) in store_rows(lazy).items()} == {rid: vec for rid, (_, vec) in eager_rows.items()}
    assert len(eager_rows) > eager.manifest.live_chunks  # dead rows of earlier versions are there too
    assert lazy.fill_metadata(show_progress=False) is True
    assert store_rows(lazy) == eager_rows
    for version in range(lazy.manifest.history_floor, lazy.version + 1):
        old_lazy = Memory(tmp_path / "lazy" / "kb.mp4", embedding_model=hash_embed, as_of=version)
        old_eager = Memory(tmp_path / "eager" / "kb.mp4", embedding_model=hash_embed, as_of=version)
        assert [(c.id, c.text, c.metadata) for c in old_lazy.get(where={"file": "f1.txt"})] == \
            [(c.id, c.text, c.metadata) for c in old_eager.get(where={"file": "f1.txt"})]
