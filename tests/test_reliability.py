"""What issue 11 found, each as a test: rolled-back indexes, verify and repair, time travel after
compaction, bad input as clear errors, and a full disk."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from core_fixtures import hash_embed, pydoc_chunks

from memvid_base import CorruptMemoryError, InvalidInputError, Memory, MemvidError, VersionNotAvailableError


@pytest.fixture
def memory(tmp_path: Path) -> Memory:
    chunks = pydoc_chunks(limit=30)
    return Memory.build(tmp_path / "kb.mp4", None, chunks, [{"file": f"f{k % 3}.txt"} for k in range(30)],
                        [f"c{k}" for k in range(30)], embedding_model=hash_embed)


def test_a_restored_older_index_is_detected_and_never_destroys_newer_data(memory: Memory, tmp_path: Path) -> None:
    v1_index = tmp_path / "v1_index.json"
    shutil.copy(memory.index_path, v1_index)
    memory.add(["Added in version two."], ids=["v2"])
    v2_segments = {memory.root / s.file for s in memory.manifest.segments if s.file}
    shutil.copy(v1_index, memory.index_path)  # an operator restores last week's index
    restored = Memory(memory.video_path, embedding_model=hash_embed)
    with pytest.raises(CorruptMemoryError, match="restored from an older copy"):
        restored.search("anything")
    with pytest.raises(CorruptMemoryError, match="verify --repair"):
        restored.add(["a write must not undo version two"])
    assert all(p.exists() for p in v2_segments)  # nothing was deleted
    assert not restored.verify().ok
    report = restored.repair()
    assert report["dropped_newer_rows"] == 1 and report["ok"]
    assert restored.search("Added in version two", top_k=30)  # the memory works again at the restored version
    assert "v2" not in {c.id for c in restored.get()}


def test_verify_fails_when_rows_are_missing_or_point_at_the_wrong_frame(memory: Memory) -> None:
    assert memory.verify().ok
    store = memory.open_store()
    rows = store.lookup(memory.version, limit=3)
    store.delete_rows([h.row.row_id for h in rows[:2]])
    report = memory.verify()
    assert not report.ok and any("live rows" in e for e in report.errors)
    repaired = memory.repair()
    assert repaired["rebuilt_store"] and repaired["ok"] and repaired["live_chunks"] == 30
    store = memory.open_store()
    hit = store.lookup(memory.version, limit=1)[0]
    r = hit.row
    store.collection.update(ids=[r.row_id], metadatas=[{"_mv_loc": f"{r.frame + 1}|{r.frames}|{r.checksum}|{r.text_bytes}"}])
    assert not memory.verify().ok  # a frame pointer that does not hold its chunk


def test_time_travel_after_compaction_raises_instead_of_returning_nothing(memory: Memory) -> None:
    memory.add(["second version"], ids=["x"])
    old = Memory(memory.video_path, embedding_model=hash_embed, as_of=1)
    assert old.search("second version", top_k=3)
    memory.compact()
    with pytest.raises(VersionNotAvailableError, match="compacted away"):
        old.search("second version", top_k=3)
    kept = Memory(memory.video_path, embedding_model=hash_embed)
    kept.add(["third"], ids=["y"])
    history = Memory(memory.video_path, embedding_model=hash_embed, as_of=kept.version - 1)
    kept.compact(keep_history=True)
    assert {c.id for c in history.get()} >= {"x"}  # keep_history: the old version still reads


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.get(limit=-1),
        lambda m: m.get(where="file"),
        lambda m: m.search("q", where={"file": {"$like": "a"}}),
        lambda m: m.search_by_vector([float("nan")] * 64),
        lambda m: m.add(["x"], metadatas=[{"$and": 1}]),
        lambda m: m.add(["x"], metadatas=[{"": 1}]),
        lambda m: m.add(["x"], embeddings=[["a"] * 64]),
        lambda m: Memory(m.video_path, embedding_model=hash_embed, as_of="1"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_is_a_clear_invalid_input_error(memory: Memory, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError):
        call(memory)


def test_deeply_nested_metadata_is_refused_as_bad_input(memory: Memory) -> None:
    meta: dict = {}
    node = meta
    for _ in range(5000):
        node["k"] = {}
        node = node["k"]
    with pytest.raises(InvalidInputError, match="nested"):
        memory.add(["deep"], metadatas=[meta])


def test_a_full_disk_fails_writes_cleanly_and_keeps_reads_working(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs is not permitted here (needs root); the disk-full test cannot run")
    try:
        chunks = pydoc_chunks(limit=40)
        mem = Memory.build(disk / "kb.mp4", None, chunks, None, [f"c{k}" for k in range(40)], embedding_model=hash_embed)
        before = [(c.id, c.text) for c in mem.search("exceptions", top_k=5)]
        filler = disk / "filler"
        with open(filler, "wb") as fh:  # fill the disk to the last byte
            try:
                while True:
                    fh.write(b"\0" * 65536)
            except OSError:
                pass
        big = [t * 40 for t in pydoc_chunks(limit=60)]
        with pytest.raises(MemvidError):
            mem.add(big, embeddings=np.ones((len(big), 64), np.float32))
        reader = Memory(disk / "kb.mp4", embedding_model=hash_embed)
        try:
            assert [(c.id, c.text) for c in reader.search("exceptions", top_k=5)] == before
        except MemvidError as exc:  # a clear error is acceptable; a raw traceback is not
            assert "disk" in str(exc).lower() or "store" in str(exc).lower()
        filler.unlink()
        again = Memory(disk / "kb.mp4", embedding_model=hash_embed)
        assert [(c.id, c.text) for c in again.search("exceptions", top_k=5)] == before
        assert again.verify().ok
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.mark.parametrize("name", ["lock", "pending", "keywords"])
def test_a_planted_symlink_is_refused_and_nothing_outside_is_touched(memory: Memory, tmp_path: Path, name: str) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    link = memory.layout.cache / name
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    else:
        link.unlink(missing_ok=True)
    link.symlink_to(victim / "precious.txt" if name in ("lock", "pending") else victim)
    stranger = Memory(memory.video_path, embedding_model=hash_embed)
    with pytest.raises(CorruptMemoryError, match="symbolic link"):
        stranger.add(["x"], ids=["x"]) if name != "keywords" else stranger.search("x", mode="keyword")
    assert sorted(p.name for p in victim.iterdir()) == ["precious.txt"]
    assert (victim / "precious.txt").read_text() == "keep me"


def test_a_planted_readers_lock_link_is_not_followed(memory: Memory, tmp_path: Path) -> None:
    memory.close()
    store_dir = memory.layout.resolve(memory.manifest.store["path"])
    target = tmp_path / "created-elsewhere"
    lock = store_dir / "memvid-readers.lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(target)  # dangling: following it would create the target
    stranger = Memory(memory.video_path, embedding_model=hash_embed)
    assert stranger.search("exceptions", top_k=2)
    assert not target.exists()


def test_a_write_that_fails_at_its_commit_leaves_this_object_on_the_committed_version(
    memory: Memory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The object that wrote goes on answering from what is committed, not from the manifest its write half-built."""
    import memvid_base.storage.transaction as transaction

    memory.search("warm", top_k=1, mode="keyword")  # the keyword index exists, so the write stages rows in it
    version, count = memory.version, len(memory)
    before = [(c.id, c.text) for c in memory.search("exceptions", top_k=5)]

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(transaction, "write_manifest", disk_full)
    with pytest.raises((MemvidError, OSError)):
        memory.add(["The PHANTASMAL_LIMIT never got committed."], ids=["ghost"])
    monkeypatch.undo()
    assert (memory.version, len(memory)) == (version, count)
    assert memory.search("PHANTASMAL_LIMIT", top_k=3, mode="keyword") == []
    assert memory.get_by_ids(["ghost"]) == []
    assert [(c.id, c.text) for c in memory.search("exceptions", top_k=5)] == before
    assert memory.verify().ok
    memory.add(["The SOLID_LIMIT is committed."], ids=["solid"])  # and the next write works
    assert memory.version == version + 1
    assert [c.id for c in memory.search("SOLID_LIMIT", top_k=1, mode="keyword")] == ["solid"]


def test_reader_threads_of_the_writing_object_never_see_a_version_before_it_commits(
    memory: Memory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from memvid_base.storage.transaction import WriteTransaction

    memory.search("warm", top_k=1, mode="keyword")
    version, count = memory.version, len(memory)
    before = [(c.id, c.text) for c in memory.search("exceptions", top_k=5, mode="hybrid")]
    in_commit, release = threading.Event(), threading.Event()
    original = WriteTransaction.write

    def slow_write(tx: WriteTransaction) -> None:
        if not in_commit.is_set():  # the version is bumped and the keyword index committed: pause here
            in_commit.set()
            assert release.wait(60)
        original(tx)

    monkeypatch.setattr(WriteTransaction, "write", slow_write)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            memory.add(["The HALFWAY_SETTING is being written."], ids=["half"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert in_commit.wait(60)
        assert (memory.version, len(memory)) == (version, count)
        assert memory.search("HALFWAY_SETTING", top_k=3, mode="keyword") == []
        assert [(c.id, c.text) for c in memory.search("exceptions", top_k=5, mode="hybrid")] == before
        assert memory.get_by_ids(["half"]) == []
    finally:
        release.set()
        writer.join(60)
    assert not errors
    assert memory.version == version + 1
    assert [c.id for c in memory.search("HALFWAY_SETTING", top_k=1, mode="keyword")] == ["half"]
