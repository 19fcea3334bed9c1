"""A cache folder someone else prepared: planted links, folders and damaged files.

Every cache file memvid reads or writes is a plain file it made itself (memvid_base/safe_files.py):
a link is refused or replaced, never followed; a damaged file is rebuilt; a folder where a file
belongs is refused before anything changes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from core_fixtures import hash_embed, pydoc_chunks

from memvid_base import CorruptMemoryError, Memory, MemvidError
from memvid_base.cache_dirs import cache_dir_for

CHUNKS = pydoc_chunks(limit=12)


def build(video: Path) -> Memory:
    return Memory.build(video, None, CHUNKS, None, [f"c{k}" for k in range(len(CHUNKS))], embedding_model=hash_embed)


def texts(mem: Memory) -> dict[str, str]:
    return {c.id: c.text for c in mem.get()}


@pytest.fixture
def memory(tmp_path: Path) -> Memory:
    return build(tmp_path / "kb.mp4")


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text("keep me")
    return path


@pytest.fixture
def read_only_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """A bare MP4 in a read-only folder: its caches live in the user's cache folder. Yields (video, cache folder)."""
    monkeypatch.setenv("MEMVID_CACHE_DIR", str(tmp_path / "user-cache"))
    source = build(tmp_path / "src" / "kb.mp4")
    source.close()
    folder = tmp_path / "ro"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], capture_output=True).returncode:
        pytest.skip("mounting a tmpfs needs root; a read-only folder cannot be made for root otherwise")
    try:
        shutil.copy(source.video_path, folder / "kb.mp4")
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)
        Memory(folder / "kb.mp4", embedding_model=hash_embed).close()  # builds the caches once
        yield folder / "kb.mp4", cache_dir_for(str((folder / "kb.mp4").resolve()))
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


# ----------------------------------------------------------------------------------- issue 22, items 4-7


def test_a_manifest_that_is_a_link_to_another_memory_is_refused(memory: Memory, tmp_path: Path) -> None:
    other = Memory.build(tmp_path / "other" / "kb.mp4", None, ["only in the other memory"], embedding_model=hash_embed)
    index = memory.layout.index
    index.unlink()
    index.symlink_to(other.layout.index)
    with pytest.raises(CorruptMemoryError, match="symbolic link"):
        Memory(memory.video_path, embedding_model=hash_embed).info()


def test_a_source_identity_link_in_a_user_cache_is_replaced_not_written_through(
    read_only_memory: tuple[Path, Path], victim: Path
) -> None:
    video, cache = read_only_memory
    (cache / "index.json").unlink()  # the next open rebuilds the cache and writes the identity again
    (cache / "source-identity").unlink()
    (cache / "source-identity").symlink_to(victim)
    mem = Memory(video, embedding_model=hash_embed)
    assert texts(mem) == dict(zip([f"c{k}" for k in range(len(CHUNKS))], CHUNKS))
    assert victim.read_text() == "keep me"
    assert not (cache / "source-identity").is_symlink()


@pytest.mark.parametrize("damage", [b"\xff\xfe\x00garbage", b"", b"1:" + b"0" * 5000])
def test_a_damaged_source_identity_rebuilds_the_cache(read_only_memory: tuple[Path, Path], damage: bytes) -> None:
    video, cache = read_only_memory
    (cache / "source-identity").write_bytes(damage)
    mem = Memory(video, embedding_model=hash_embed)
    assert texts(mem) == dict(zip([f"c{k}" for k in range(len(CHUNKS))], CHUNKS))
    assert (cache / "source-identity").read_bytes() != damage  # rebuilt, so the next open trusts it again


def test_a_folder_named_pending_is_refused_before_the_write_and_nothing_changes(memory: Memory) -> None:
    marker = memory.layout.pending_marker
    marker.mkdir()
    before = memory.version
    for _ in range(2):  # and on every later write, the same clear error
        with pytest.raises(CorruptMemoryError, match="pending marker must be a plain file"):
            memory.add(["never committed"], ids=["new"])
    assert Memory(memory.video_path, embedding_model=hash_embed).version == before
    marker.rmdir()
    memory.add(["committed once the folder is gone"], ids=["new"])
    assert memory.version == before + 1 and not os.path.lexists(marker)


# ----------------------------------------------------------------------------------- the helper itself


def test_the_helper_refuses_links_folders_and_fifos_and_replaces_links_on_write(tmp_path: Path, victim: Path) -> None:
    from memvid_base.safe_files import read_text_nofollow, touch_nofollow, unlink_file, write_text_atomic

    link = tmp_path / "link"
    link.symlink_to(victim)
    with pytest.raises(CorruptMemoryError, match="symbolic link"):
        read_text_nofollow(link, 100)
    with pytest.raises(CorruptMemoryError, match="symbolic link"):
        touch_nofollow(link)
    write_text_atomic(link, "new")
    assert victim.read_text() == "keep me" and link.read_text() == "new" and not link.is_symlink()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(CorruptMemoryError, match="not a plain file"):
        read_text_nofollow(fifo, 100)  # never blocks waiting for a writer
    with pytest.raises(CorruptMemoryError, match="a folder"):
        unlink_file(tmp_path)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "created-elsewhere")
    with pytest.raises(CorruptMemoryError):
        touch_nofollow(dangling)
    assert not (tmp_path / "created-elsewhere").exists()
    with pytest.raises(CorruptMemoryError, match="more than"):
        read_text_nofollow(victim, 3)


def test_a_user_cache_root_owned_by_someone_else_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "shared-cache"
    root.mkdir()
    try:
        os.chown(root, os.getuid() + 1, -1)  # another user's folder
    except PermissionError:
        pytest.skip("giving a folder to another user needs root")
    monkeypatch.setenv("MEMVID_CACHE_DIR", str(root))
    with pytest.raises(MemvidError, match=r"belongs to another user.*MEMVID_CACHE_DIR"):
        cache_dir_for("http://127.0.0.1:9/kb.mp4")
    assert list(root.iterdir()) == []
    monkeypatch.setenv("MEMVID_CACHE_DIR", str(tmp_path / "a-file"))
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(MemvidError, match="cannot be used"):
        cache_dir_for("http://127.0.0.1:9/kb.mp4")
