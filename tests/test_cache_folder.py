"""One MP4 is the whole memory: every cache lives in one hidden folder beside it, ``.kb.mp4.memvid-cache``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from core_fixtures import hash_embed, pydoc_chunks

from memvid_base import CorruptMemoryError, Embedder, Memory, MemvidEncoder, MemvidRetriever, resolve_paths
from memvid_base.files.layout import Layout
from memvid_base.index.vectors import make_row

CACHE = ".kb.mp4.memvid-cache"
QUERIES = ["generators yield values", "exception handling", "class definitions and methods"]
STAGING_LEFTOVERS = ("staging-", "promote-", "pending")


def refusing_embedder() -> Embedder:
    def refuse(texts: list[str]) -> list[list[float]]:
        raise AssertionError("the embedding model was called")

    return Embedder(refuse, dimension=64)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def results(mem: Memory) -> list[list[tuple[str, str, float]]]:
    return [[(c.id, c.text, round(c.score or 0, 6)) for c in mem.search_by_vector(hash_embed([q])[0], 5)] for q in QUERIES]


def assert_clean_cache(folder: Path) -> None:
    """The cache folder holds the manifest, stores, keywords and the lock: no temporary file was left behind."""
    left = [n for n in names(folder / CACHE) if n.startswith(STAGING_LEFTOVERS) or n.endswith((".tmp", ".building"))]
    assert left == []


@pytest.fixture
def memory(tmp_path: Path) -> Memory:
    chunks = pydoc_chunks(limit=60)
    return Memory.build(tmp_path / "kb.mp4", None, chunks, [{"file": f"f{k % 3}.txt"} for k in range(60)],
                        embedding_model=hash_embed)


def test_build_video_makes_one_file_and_one_hidden_cache_folder(tmp_path: Path) -> None:
    enc = MemvidEncoder(embedding_model=hash_embed)
    enc.add_chunks(pydoc_chunks(limit=20))
    stats = enc.build_video(tmp_path / "kb.mp4", show_progress=False)
    assert names(tmp_path) == [CACHE, "kb.mp4"]
    assert Path(stats["index_file"]) == tmp_path / CACHE / "index.json"
    assert_clean_cache(tmp_path)


def test_append_keyword_search_verify_and_compact_keep_the_documented_file_set(memory: Memory) -> None:
    folder = memory.root
    assert names(folder) == [CACHE, "kb.mp4"]
    info = memory.info()
    assert Path(info["index_file"]) == folder / CACHE / "index.json" and Path(info["cache_dir"]) == folder / CACHE
    assert memory.manifest.store["path"].startswith(CACHE + "/")  # recorded relative to the memory's folder
    memory.add(["An appended chunk about generators and yield."], ids=["new"])
    assert names(folder) == [CACHE, "kb.mp4", "kb_segments"]  # appended segments are data, not cache
    assert memory.search("appended generators", top_k=1, mode="keyword")[0].id == "new"
    assert "keywords" in names(folder / CACHE)
    memory.delete(ids=["5"])
    assert memory.verify().ok
    assert names(folder) == [CACHE, "kb.mp4", "kb_segments"]
    memory.compact()
    assert names(folder) == [CACHE, "kb.mp4"]  # the compacted segment became kb.mp4; the empty folder went
    assert [p.name for p in memory.layout.store_dirs()] == [Path(memory.manifest.store["path"]).name]
    assert memory.search("appended generators", top_k=1, mode="keyword")[0].id == "new"
    assert_clean_cache(folder)


def test_deleting_the_cache_folder_rebuilds_it_from_the_mp4_files(memory: Memory) -> None:
    memory.add(["An appended chunk about generators and yield."], [{"file": "new.txt"}], ids=["new"])
    memory.delete(ids=["5"])
    before, texts, history, version = results(memory), {c.id: c.text for c in memory.get()}, memory.history(), memory.version
    memory.close()
    shutil.rmtree(memory.layout.cache)
    assert names(memory.root) == ["kb.mp4", "kb_segments"]
    again = Memory(memory.video_path, embedding_model=refusing_embedder())
    assert names(memory.root) == [CACHE, "kb.mp4", "kb_segments"]
    assert again.index_path == memory.root / CACHE / "index.json"
    assert again.version == version and {c.id: c.text for c in again.get()} == texts
    assert [(v["version"], v["live_chunks"]) for v in again.history()] == [(v["version"], v["live_chunks"]) for v in history]
    assert results(again) == before  # same ids, text, order and scores: the vectors came from the file
    assert again.search("appended generators", top_k=1, mode="keyword")[0].id == "new"
    assert again.verify().ok


def test_a_memory_with_the_earlier_sibling_layout_opens_appends_and_moves_its_store(tmp_path: Path) -> None:
    video, legacy = tmp_path / "kb.mp4", tmp_path / "kb_index.json"
    mem = Memory.build(video, legacy, pydoc_chunks(limit=40), embedding_model=hash_embed)
    before = results(mem)
    mem.close()
    # Rewrite it into exactly what an earlier version left: the store beside the video, named in the manifest.
    old_store = tmp_path / "kb_index_chroma"
    shutil.move(str(mem.layout.resolve(mem.manifest.store["path"])), old_store)
    data = json.loads(legacy.read_text())
    data["store"]["path"] = "kb_index_chroma"
    legacy.write_text(json.dumps(data))
    shutil.rmtree(tmp_path / CACHE)

    again = Memory(video, embedding_model=hash_embed)  # no index named: the sibling kb_index.json is found
    assert again.index_path == legacy and again.root == tmp_path
    assert results(again) == before
    again.add(["Appended to a memory of the earlier layout."], ids=["late"])
    assert again.get_by_ids(["late"])[0].text == "Appended to a memory of the earlier layout."
    assert names(tmp_path) == [CACHE, "kb.mp4", "kb_index.json", "kb_index_chroma", "kb_segments"]
    assert old_store in again.layout.store_dirs()
    again.compact()  # the rows move to a new store in the cache folder; the old sibling store is collected
    assert again.manifest.store["path"].startswith(CACHE + "/")
    assert names(tmp_path) == [CACHE, "kb.mp4", "kb_index.json"]
    assert results(again)[0] == before[0]
    assert_clean_cache(tmp_path)


@pytest.mark.parametrize("target", ["outside", "inside", "a real cache"])
def test_a_cache_folder_that_is_a_symlink_is_refused(memory: Memory, tmp_path: Path, target: str) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    shutil.copy(memory.video_path, stranger / "kb.mp4")
    link = stranger / CACHE
    if target == "outside":
        link.symlink_to(victim)
    elif target == "inside":
        (stranger / "data").mkdir()
        link.symlink_to(stranger / "data")
    else:
        link.symlink_to(memory.layout.cache)  # even a valid cache is not followed
    real_cache = names(memory.layout.cache)
    with pytest.raises(CorruptMemoryError, match="symbolic link"):
        Memory(stranger / "kb.mp4", embedding_model=hash_embed)
    with pytest.raises(CorruptMemoryError, match="symbolic link"):
        Memory.build(stranger / "kb.mp4", None, ["x"], embedding_model=hash_embed)
    assert names(victim) == ["precious.txt"] and (victim / "precious.txt").read_text() == "keep me"
    assert names(memory.layout.cache) == real_cache
    if target == "inside":
        assert names(stranger / "data") == []


def test_a_cache_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / CACHE).write_text("not a folder")
    with pytest.raises(CorruptMemoryError, match="not a folder"):
        Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    assert names(tmp_path) == [CACHE]


def test_the_seed_api_with_an_explicit_index_keeps_it_where_it_was_asked(tmp_path: Path) -> None:
    enc = MemvidEncoder(embedding_model=hash_embed)
    enc.add_chunks(pydoc_chunks(limit=20))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        stats = enc.build_video("space.mp4", "space_index.json", show_progress=False)
        assert Path(stats["index_file"]).resolve() == (tmp_path / "space_index.json").resolve()
        r = MemvidRetriever("space.mp4", "space_index.json", embedding_model=hash_embed)
        found = r.search(enc.chunks[3], top_k=1)
        default = MemvidRetriever("space.mp4", embedding_model=hash_embed)  # finds space_index.json by itself
        assert default.memory.index_path == Path("space_index.json") and default.search(enc.chunks[3], top_k=1) == found
    finally:
        os.chdir(cwd)
    assert found == [enc.chunks[3]]
    assert names(tmp_path) == [".space.mp4.memvid-cache", "space.mp4", "space_index.json"]


def test_the_cache_manifest_path_names_the_memory(memory: Memory) -> None:
    index = memory.layout.cache / "index.json"
    assert resolve_paths(index) == (memory.video_path, index)
    layout = Layout.of(index)
    assert (layout.video, layout.root, layout.cache) == (memory.video_path, memory.root, memory.layout.cache)
    assert len(Memory(index, embedding_model=hash_embed)) == len(memory)


def test_an_export_leaves_one_file_and_opens_into_its_own_cache(memory: Memory, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    memory.export(out_dir / "portable.mp4")
    assert names(out_dir) == ["portable.mp4"]
    copy = Memory(out_dir / "portable.mp4", embedding_model=refusing_embedder())
    assert results(copy) == results(memory)
    assert names(out_dir) == [".portable.mp4.memvid-cache", "portable.mp4"]


def test_leftovers_of_a_crashed_writer_of_either_layout_are_undone(tmp_path: Path) -> None:
    video, legacy = tmp_path / "kb.mp4", tmp_path / "kb_index.json"
    mem = Memory.build(video, legacy, pydoc_chunks(limit=20), embedding_model=hash_embed)
    # An earlier version's writer staged a row, then died: its marker is beside the manifest, not in the cache.
    mem.open_store().add([make_row("ghost", "a" * 16, 0, 1, "s", mem.version + 1, 3)], hash_embed(["ghost"]), [{}])
    Path(f"{legacy}.pending").touch()
    # A build killed mid-way left its staging manifest and lock in the cache folder.
    for name in ("staging-0123456789abcdef.json", "staging-0123456789abcdef.lock"):
        (mem.layout.cache / name).write_text("{}")
    again = Memory(video, embedding_model=hash_embed)
    assert again.search(pydoc_chunks(limit=20)[2], top_k=1)[0].id == "2"  # not refused as a restored older index
    again.add(["after the crash"], ids=["after"])
    assert "ghost" not in {c.id for c in again.get()} and again.verify().ok
    assert names(tmp_path) == [CACHE, "kb.mp4", "kb_index.json", "kb_segments"]
    assert_clean_cache(tmp_path)
