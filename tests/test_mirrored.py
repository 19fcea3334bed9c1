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
