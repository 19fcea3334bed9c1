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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memvid_base import CorruptMemoryError, Memory, MemvidError
from memvid_base.remote.cache_dirs import cache_dir_for

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


# ----------------------------------------------------------------------------------- properties

CACHE_FILES = ["index.json", "pending", "lock", "keywords/memvid-keywords.json", "staging-0123456789abcdef.json",
               "promote-0123456789abcdef.tmp"]
DAMAGE = ["garbage", "truncate", "flip", "empty", "link-to-file", "link-to-folder", "dangling-link", "folder", "fifo"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A memory whose cache folder holds every kind of file memvid keeps there (keywords included)."""
    folder = tmp_path_factory.mktemp("template")
    mem = build(folder / "kb.mp4")
    mem.search("exceptions", top_k=2, mode="keyword")
    mem.close()
    return folder


def damage(path: Path, how: str, data: st.DataObject, outside: Path) -> None:
    old = (path.read_bytes() if path.is_file() else b'') or b'{"x": 1}'
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "garbage":
        path.write_bytes(data.draw(st.binary(max_size=64)))
    elif how == "truncate":
        path.write_bytes(old[: data.draw(st.integers(0, max(len(old) - 1, 0)))])
    elif how == "flip":
        buf = bytearray(old)
        buf[data.draw(st.integers(0, len(buf) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        path.write_bytes(bytes(buf))
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "link-to-file":
        path.symlink_to(outside / "precious.txt")
    elif how == "link-to-folder":
        path.symlink_to(outside)
    elif how == "dangling-link":
        path.symlink_to(outside / "created-elsewhere")
    elif how == "folder":
        path.mkdir()
    else:
        os.mkfifo(path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_damaged_cache_file_gives_the_right_text_or_a_memvid_error_and_touches_nothing_outside(
    template: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    work = tmp_path_factory.mktemp("damaged")
    shutil.copytree(template, work, dirs_exist_ok=True)
    outside = work / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    name, how = data.draw(st.sampled_from(CACHE_FILES)), data.draw(st.sampled_from(DAMAGE))
    damage(work / ".kb.mp4.memvid-cache" / name, how, data, outside)
    expected = dict(zip([f"c{k}" for k in range(len(CHUNKS))], CHUNKS))
    try:
        mem = Memory(work / "kb.mp4", embedding_model=hash_embed)
        try:
            assert all(expected[c.id] == c.text for c in mem.search("exceptions", top_k=3))
            assert all(expected[c.id] == c.text for c in mem.search("exceptions", top_k=3, mode="keyword"))
            mem.add(["written after the damage"], ids=["after"])
            assert texts(mem) == {**expected, "after": "written after the damage"}
        finally:
            mem.close()
    except MemvidError:
        pass
    assert sorted(p.name for p in outside.iterdir()) == ["precious.txt"]
    assert (outside / "precious.txt").read_text() == "keep me"
