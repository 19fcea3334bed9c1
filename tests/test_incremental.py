"""Incremental memory: append, upsert, delete, compaction, versions, crash safety and concurrency."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from core_fixtures import hash_embed, pydoc_chunks

from memvid_base import Memory, MemoryLockedError, VersionNotAvailableError
from memvid_base.files.manifest import WriterLock

REPO = Path(__file__).resolve().parents[1]


def _texts(mem: Memory) -> dict[str, str]:
    return {c.id: c.text for c in mem.get()}


@pytest.fixture
def memory(tmp_path: Path) -> Memory:
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    mem.add(["alpha apples", "beta bananas", "gamma grapes"], metadatas=[{"file": "a.md"}, {"file": "b.md"}, {"file": "a.md"}], ids=["a", "b", "g"])
    return mem


def test_append_keeps_existing_segments_untouched(memory: Memory) -> None:
    base = memory.video_path.read_bytes()
    memory.add(["delta dates"], ids=["d"])
    assert memory.video_path.read_bytes() == base  # nothing already written is re-encoded
    assert _texts(memory) == {"a": "alpha apples", "b": "beta bananas", "g": "gamma grapes", "d": "delta dates"}
    assert memory.search("dates", top_k=1)[0].id == "d"  # searchable as soon as add returns
    assert memory.info()["segments"] == 2


def test_upsert_replaces_and_search_never_returns_the_old_text(memory: Memory) -> None:
    memory.add(["beta blueberries"], ids=["b"])
    assert memory.get_by_ids(["b"])[0].text == "beta blueberries"
    hits = memory.search("beta bananas", top_k=10)
    assert [h.text for h in hits if h.id == "b"] == ["beta blueberries"]
    assert len(hits) == 3 == len(memory)


def test_delete_by_id_and_by_filter(memory: Memory) -> None:
    assert memory.delete(ids=["b", "missing"]) == 1
    assert set(_texts(memory)) == {"a", "g"}
    assert memory.delete(where={"file": "a.md"}) == 2
    assert memory.search("apples") == [] and len(memory) == 0
    with pytest.raises(Exception, match="needs ids or a where"):
        memory.delete()


def test_every_version_can_be_opened_as_of(memory: Memory) -> None:
    v_initial = memory.version
    memory.add(["beta blueberries"], ids=["b"])
    memory.delete(ids=["a"])
    v_final = memory.version
    old = Memory(memory.video_path, embedding_model=hash_embed, as_of=v_initial)
    assert _texts(old) == {"a": "alpha apples", "b": "beta bananas", "g": "gamma grapes"}
    assert [h.text for h in old.search("bananas", top_k=1)] == ["beta bananas"]
    assert _texts(Memory(memory.video_path, embedding_model=hash_embed, as_of=v_final)) == {"b": "beta blueberries", "g": "gamma grapes"}
    with pytest.raises(VersionNotAvailableError):
        Memory(memory.video_path, embedding_model=hash_embed, as_of=v_final + 1)
    with pytest.raises(Exception, match="read-only"):
        old.add(["nope"])


def test_compaction_reclaims_space_and_keeps_ids(memory: Memory) -> None:
    for k in range(5):
        memory.add([f"filler {k} " * 20], ids=[f"f{k}"])
    memory.delete(ids=[f"f{k}" for k in range(5)])
    memory.add(["beta blueberries"], ids=["b"])
    before = memory.info()
    stats = memory.compact()
    after = memory.info()
    assert stats["bytes_after"] < stats["bytes_before"]
    assert after["segments"] == 1 and after["dead_rows"] == 0
    assert _texts(memory) == {"a": "alpha apples", "b": "beta blueberries", "g": "gamma grapes"}
    assert memory.video_path.exists() and not list((memory.video_path.parent / "kb_segments").glob("*.mp4"))
    assert memory.verify().ok
    with pytest.raises(VersionNotAvailableError, match="compacted"):
        Memory(memory.video_path, embedding_model=hash_embed, as_of=before["version"])
    assert memory.search("blueberries", top_k=1)[0].id == "b"


def test_compaction_can_keep_history(memory: Memory) -> None:
    v = memory.version
    memory.delete(ids=["a"])
    memory.compact(keep_history=True)
    assert "a" in _texts(Memory(memory.video_path, embedding_model=hash_embed, as_of=v))
    assert "a" not in _texts(memory)


def test_rebuild_index_replays_history_from_the_video(memory: Memory) -> None:
    v = memory.version
    memory.add(["beta blueberries"], ids=["b"])
    memory.delete(ids=["g"])
    now = [(c.id, c.text) for c in memory.search("fruit", top_k=5)]
    memory.rebuild_index()
    assert [(c.id, c.text) for c in memory.search("fruit", top_k=5)] == now
    assert _texts(Memory(memory.video_path, embedding_model=hash_embed, as_of=v))["b"] == "beta bananas"


def test_a_second_writer_gets_a_clear_locked_error(memory: Memory) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from memvid_base.files.manifest import WriterLock
            with WriterLock(Path({str(memory.layout.lock)!r})):
                print("locked", flush=True)
                time.sleep(30)
        """)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(MemoryLockedError, match="locked by another writer"):
            memory.add(["blocked"])
        assert memory.search("alpha", top_k=1)[0].id == "a"  # readers are not blocked
    finally:
        holder.kill()
        holder.wait()
    memory.add(["now it works"], ids=["w"])
    assert memory.get_by_ids(["w"])[0].text == "now it works"


_WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from core_fixtures import hash_embed
    from memvid_base import Memory
    mem = Memory({video!r}, embedding_model=hash_embed)
    start = int(sys.argv[1])
    for k in range(start, start + int(sys.argv[2])):
        mem.add([f"streamed chunk number {{k}} " + "lorem ipsum " * (k % 7)], ids=[f"s{{k}}"])
        mem.add([f"replacement for alpha {{k}}"], ids=["a"])
        print(k, flush=True)
""")


def _writer(tmp: Path, video: Path, start: int, count: int, fault: str | None = None) -> subprocess.Popen[str]:
    script = tmp / "writer.py"
    script.write_text(_WRITER.format(tests=str(REPO / "tests"), video=str(video)))
    env = {**os.environ, **({"MEMVID_FAULT": fault} if fault else {})}
    return subprocess.Popen([sys.executable, str(script), str(start), str(count)], env=env, stdout=subprocess.PIPE, text=True)


def _assert_consistent(video: Path) -> Memory:
    mem = Memory(video, embedding_model=hash_embed)
    texts = _texts(mem)
    assert len(texts) == mem.manifest.live_chunks
    assert mem.verify().ok
    for cid, text in texts.items():
        if cid.startswith("s"):
            assert text.startswith(f"streamed chunk number {cid[1:]} ")
    hits = mem.search("streamed chunk", top_k=50)
    assert all(texts[h.id] == h.text for h in hits)
    return mem


@pytest.mark.parametrize("fault", ["segment-written", "rows-added", "rows-updated", "committed"])
def test_kill_9_at_each_commit_step_leaves_the_last_committed_version(memory: Memory, tmp_path: Path, fault: str) -> None:
    before = _texts(memory)
    v = memory.version
    proc = _writer(tmp_path, memory.video_path, 0, 1, fault)
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    mem = _assert_consistent(memory.video_path)
    if fault == "committed":
        assert mem.version == v + 1 and mem.get_by_ids(["s0"])[0].text.startswith("streamed chunk number 0")
    else:
        assert mem.version == v and _texts(mem) == before
    mem.add(["after the crash"], ids=["post"])  # the next writer repairs and carries on
    assert _texts(mem)["post"] == "after the crash"
    _assert_consistent(memory.video_path)


def test_kill_9_at_random_moments_never_loses_committed_data(memory: Memory, tmp_path: Path) -> None:
    start = 0
    for delay in (0.6, 1.1, 1.7, 2.3):
        proc = _writer(tmp_path, memory.video_path, start, 50)
        time.sleep(delay + 1.5)  # the writer's imports take about 1.5 s
        proc.kill()
        out, _ = proc.communicate()
        done = [int(x) for x in out.split()]
        mem = _assert_consistent(memory.video_path)
        texts = _texts(mem)
        for k in done:  # everything the writer reported as committed survived
            assert f"s{k}" in texts
        start += 50


def test_readers_see_whole_versions_while_a_writer_appends(memory: Memory, tmp_path: Path) -> None:
    proc = _writer(tmp_path, memory.video_path, 100, 12)
    reader = Memory(memory.video_path, embedding_model=hash_embed)
    seen_versions = set()
    try:
        while proc.poll() is None:
            hits = reader.search("streamed chunk alpha replacement", top_k=1000)  # refreshes to the latest version
            version, expected = reader.version, reader.manifest.live_chunks
            assert len(hits) == expected, f"version {version}: {len(hits)} hits for {expected} live chunks"
            assert len({h.id for h in hits}) == len(hits)  # an upserted id never shows twice
            seen_versions.add(version)
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == 0
    assert len(seen_versions) >= 3


def test_readers_are_not_blocked_by_the_writer_lock(memory: Memory) -> None:
    with WriterLock(memory.layout.lock):
        assert Memory(memory.video_path, embedding_model=hash_embed).search("grapes", top_k=1)[0].id == "g"


def test_streaming_appends_work_one_chunk_at_a_time(tmp_path: Path) -> None:
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    chunks = pydoc_chunks(limit=15)
    for k, chunk in enumerate(chunks):
        mem.add([chunk], ids=[f"c{k}"])
    assert mem.version == len(chunks)
    assert [mem.get_by_ids([f"c{k}"])[0].text for k in range(len(chunks))] == chunks
    assert mem.compact()["live_chunks"] == len(chunks)
    assert sorted(_texts(mem).values()) == sorted(chunks)


def test_a_failed_embedding_leaves_no_video_behind(memory: Memory) -> None:
    # The segment renders beside the embedding; when the embedding fails, its temporary file goes too.
    def files() -> list[str]:  # segment files and their temporaries ("kb_segments" is absent when empty)
        folder = memory.layout.segments_dir
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    before = files()
    version = memory.version

    def broken(texts: list[str]):  # answers the one-text dimension probe, then fails on the real batch
        if len(texts) > 1:
            raise RuntimeError("model crashed")
        return hash_embed(texts)

    writer = Memory(memory.video_path, embedding_model=broken)
    with pytest.raises(Exception, match="model crashed"):
        writer.add([f"chunk {k} " * 40 for k in range(200)])
    assert files() == before
    assert Memory(memory.video_path, embedding_model=hash_embed).version == version
