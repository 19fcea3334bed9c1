"""Keyword and hybrid search, and keyword filters, on a real corpus: what users get from ``mode=``."""

from __future__ import annotations

from pathlib import Path

import pytest
from core_fixtures import hash_embed, pydoc_chunks, unique_identifiers

from memvid_base import InvalidInputError, Memory


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return pydoc_chunks(limit=240)


@pytest.fixture
def memory(tmp_path: Path, corpus: list[str]) -> Memory:
    files = [{"file": f"topic{k % 4}.txt"} for k in range(len(corpus))]
    return Memory.build(tmp_path / "kb.mp4", None, corpus, files, embedding_model=hash_embed)



def test_keyword_mode_finds_the_one_chunk_with_an_exact_identifier(memory: Memory, corpus: list[str]) -> None:
    names = unique_identifiers(corpus)
    assert len(names) >= 5
    for name, k in list(names.items())[:8]:
        top = memory.search(name, top_k=3, mode="keyword")
        assert top[0].text == corpus[k], name
        assert 0 < top[0].score <= 1.0  # type: ignore[operator]


def test_hybrid_keeps_exact_matches_in_the_top_results(memory: Memory, corpus: list[str]) -> None:
    names = unique_identifiers(corpus)
    found = sum(corpus[k] in [c.text for c in memory.search(n, top_k=5, mode="hybrid")] for n, k in names.items())
    vector = sum(corpus[k] in [c.text for c in memory.search(n, top_k=5)] for n, k in names.items())
    assert found >= 0.8 * len(names)  # most exact names survive fusion with the vector side
    assert found > vector


def test_metadata_filters_apply_to_keyword_and_hybrid(memory: Memory, corpus: list[str]) -> None:
    for mode in ("keyword", "hybrid"):
        hits = memory.search("function argument", top_k=10, mode=mode, where={"file": "topic1.txt"})
        assert hits and all(c.metadata["file"] == "topic1.txt" for c in hits)


@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
def test_where_document_has_no_false_positives_and_misses_nothing_in_the_top(memory: Memory, corpus: list[str], mode: str) -> None:
    wd = {"$and": [{"$contains": "object"}, {"$not_contains": "class"}]}
    expected = {t for t in corpus if "object" in t and "class" not in t}
    hits = memory.search("the object model", top_k=500, mode=mode, where_document=wd)
    assert all("object" in c.text and "class" not in c.text for c in hits)
    if mode == "vector":
        assert {c.text for c in hits} == expected  # every match is reachable
    either = memory.search("import", top_k=50, mode=mode, where_document={"$or": [{"$contains": "import"}, {"$contains": "yield"}]})
    assert either and all("import" in c.text or "yield" in c.text for c in either)


def test_keyword_index_follows_adds_upserts_deletes_and_versions(memory: Memory) -> None:
    memory.search("warm", top_k=1, mode="keyword")  # builds the keyword index
    v_before = memory.version
    memory.add(["The ZEPHYRINE_LIMIT setting caps the flux."], ids=["z"])
    assert memory.search("ZEPHYRINE_LIMIT", top_k=1, mode="keyword")[0].id == "z"
    memory.add(["Now the QUILLOPHANE_MODE setting applies."], ids=["z"])  # upsert
    assert [c.id for c in memory.search("ZEPHYRINE_LIMIT", top_k=3, mode="keyword")] != ["z"]
    assert memory.search("QUILLOPHANE_MODE", top_k=1, mode="hybrid")[0].id == "z"
    old = Memory(memory.video_path, embedding_model=hash_embed, as_of=v_before + 1)
    assert old.search("ZEPHYRINE_LIMIT", top_k=1, mode="keyword")[0].text.startswith("The ZEPHYRINE_LIMIT")
    memory.delete(ids=["z"])
    assert "z" not in [c.id for c in memory.search("QUILLOPHANE_MODE", top_k=5, mode="keyword")]
    memory.compact()
    assert memory.search("QUILLOPHANE_MODE", top_k=5, mode="keyword") == [] or "z" not in [
        c.id for c in memory.search("QUILLOPHANE_MODE", top_k=5, mode="keyword")
    ]


def test_a_reader_keeps_its_keyword_snapshot_until_another_writer_commits_a_version(memory: Memory) -> None:
    """A reader searches one keyword snapshot while its version stands (no reload per query), and sees
    another writer's rows and deletions at the first search after that writer's version is committed."""
    reader = Memory(memory.video_path, embedding_model=hash_embed)
    reader.search("warm", top_k=1, mode="keyword")
    memory.add(["The VORTICELLA_GAIN knob sets the gain."], ids=["v"])
    assert [c.id for c in reader.search("VORTICELLA_GAIN", top_k=1, mode="keyword")] == ["v"]
    assert reader.search("VORTICELLA_GAIN", top_k=1, mode="hybrid")[0].id == "v"
    memory.delete(ids=["v"])
    assert "v" not in [c.id for c in reader.search("VORTICELLA_GAIN", top_k=3, mode="keyword")]
    assert "v" not in [c.id for c in reader.search("VORTICELLA_GAIN", top_k=3, mode="hybrid")]
    reader.close()


def test_the_keyword_index_is_a_cache_rebuilt_from_the_video(memory: Memory, corpus: list[str]) -> None:
    first = [(c.id, c.text) for c in memory.search("exception handling", top_k=5, mode="hybrid")]
    folder = memory.layout.keyword_dir
    assert folder.is_dir()
    sample = corpus[3][:40].encode()
    assert not any(sample in p.read_bytes() for p in folder.rglob("*") if p.is_file())  # it holds no text
    memory.close()
    import shutil

    shutil.rmtree(folder)
    again = Memory(memory.video_path, embedding_model=hash_embed)
    assert [(c.id, c.text) for c in again.search("exception handling", top_k=5, mode="hybrid")] == first


def test_a_writer_without_the_keyword_index_leaves_it_to_be_rebuilt(memory: Memory) -> None:
    memory.search("loop", top_k=1, mode="keyword")
    other = Memory(memory.video_path, embedding_model=hash_embed)
    other.add(["Fresh text about GLIMMERWORT_COUNT."], ids=["g"])
    assert memory.search("GLIMMERWORT_COUNT", top_k=1, mode="keyword")[0].id == "g"


def test_mmr_runs_on_hybrid_candidates(memory: Memory) -> None:
    picked = memory.mmr_search("for loop statement", top_k=4, fetch_k=20, mode="hybrid")
    assert len(picked) == 4 and len({c.id for c in picked}) == 4


def test_bad_modes_and_filters_are_clear_errors(memory: Memory) -> None:
    with pytest.raises(InvalidInputError, match="mode"):
        memory.search("x", mode="fuzzy")
    with pytest.raises(InvalidInputError, match="alpha"):
        memory.search("x", mode="hybrid", alpha=2)
    with pytest.raises(InvalidInputError):
        memory.search("x", where_document={"$regex": "a.*"})
    with pytest.raises(InvalidInputError, match="query text"):
        memory.retrieve(None, [0.1] * 64, mode="keyword")


def _slow_path(memory: Memory, monkeypatch: pytest.MonkeyPatch, query: str, vector: object = None) -> list[tuple]:
    """Hybrid results with the quick path off: Chroma metadata for the whole fusion depth."""
    from memvid_base import retrieval

    with monkeypatch.context() as m:
        m.setattr(retrieval.Ranker, "_quick", lambda self, req: False)
        return [(c.id, c.text, c.score, c.distance) for c in memory.retrieve(query, vector, top_k=8, mode="hybrid")]


@pytest.mark.parametrize("query", ["exception handling", "for loop statement", "PYTHONHASHSEED", "zzqxv nonsense"])
def test_hybrid_quick_path_matches_the_full_lookup(memory: Memory, monkeypatch: pytest.MonkeyPatch, query: str) -> None:
    # The quick path asks Chroma for ids alone and places the winners from the keyword index.
    quick = [(c.id, c.text, c.score, c.distance) for c in memory.retrieve(query, None, top_k=8, mode="hybrid")]
    assert len(quick) == 8
    slow = _slow_path(memory, monkeypatch, query)
    # The first query of a store is ranked by HNSW, later ones by the exact in-memory index (VectorStore.flat):
    # ids, text and fused scores agree exactly, distances to float32 rounding.
    assert [q[:3] for q in quick] == [s[:3] for s in slow]
    assert [q[3] for q in quick] == pytest.approx([s[3] for s in slow], abs=1e-5)


def test_hybrid_winners_only_the_vector_side_found_need_no_store_lookup(
    memory: Memory, corpus: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    memory.search("warm", top_k=1, mode="keyword")  # builds the keyword index
    vector = hash_embed([corpus[7]])[0]
    expected = [c.text for c in memory.search_by_vector(vector, top_k=5)]
    store = memory.open_store()

    def no_lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError("the store was asked for rows")

    monkeypatch.setattr(type(store), "rows_by_id", no_lookup)
    found = memory.retrieve("qqzzxv", vector, top_k=5, mode="hybrid", alpha=1.0)  # no keyword matches the text
    assert [c.text for c in found] == expected
    assert found[0].text == corpus[7] and found[0].distance is not None


def test_hybrid_ignores_rows_of_a_writer_that_has_not_committed(memory: Memory, corpus: list[str]) -> None:
    # Rows a writer added to the store before its manifest commit are not visible, on either path.
    from memvid_base.index.vectors import make_row

    memory.search("warm", top_k=1, mode="keyword")
    vector = hash_embed([corpus[11]])[0]
    before = [(c.id, c.text) for c in memory.retrieve(corpus[11][:60], vector, top_k=5, mode="hybrid")]
    row0 = memory.open_store().rows_by_id([f"{before[0][0]}@1"], memory.version)
    assert row0, "the fixture's rows are written at version 1"
    (hit,) = row0.values()
    for count in (3, 40):  # fewer and more than the quick query's spare room
        rows = [make_row(f"ghost{count}-{k}", hit.row.segment, hit.row.frame, hit.row.frames, hit.row.checksum,
                         memory.version + 1, hit.row.text_bytes) for k in range(count)]
        memory.open_store().add(rows, hash_embed([corpus[11]] * count), [{}] * count)
        assert [(c.id, c.text) for c in memory.retrieve(corpus[11][:60], vector, top_k=5, mode="hybrid")] == before
