"""``Memory.export`` and ``memvid export``: every live chunk in one MP4 that opens alone, anywhere, without the model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from core_fixtures import hash_embed, pydoc_chunks
from test_cli import assert_one_line_error, run_main

from memvid_base import Embedder, Memory
from memvid_base.errors import InvalidInputError
from memvid_base.files.self_describe import read_segment_meta

QUERIES = ["generators yield values", "exception handling", "class definitions and methods",
           "string formatting", "an upserted chunk about lambdas"]


def refusing_embedder() -> Embedder:
    def refuse(texts: list[str]) -> list[list[float]]:
        raise AssertionError("the embedding model was called")

    return Embedder(refuse, dimension=64)


def results(mem: Memory) -> list[list[tuple[str, str, float]]]:
    return [[(c.id, c.text, c.score or 0.0) for c in mem.search_by_vector(hash_embed([q])[0], 5)] for q in QUERIES]


def chunks_by_id(mem: Memory) -> dict[str, tuple[str, dict]]:
    return {c.id: (c.text, c.metadata) for c in mem.get()}


def folder_state(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def memory(tmp_path_factory: pytest.TempPathFactory) -> Memory:
    """A memory of four segments with appends, deletes and upserts: its live chunks span every segment."""
    chunks = pydoc_chunks(limit=60)
    root = tmp_path_factory.mktemp("source")
    mem = Memory.build(root / "kb.mp4", None, chunks[:40], [{"file": f"f{k % 3}.txt", "n": k} for k in range(40)],
                       embedding_model=hash_embed)
    mem.add(chunks[40:], [{"file": "more.txt"} for _ in chunks[40:]], ids=[f"m{k}" for k in range(20)])
    mem.delete(ids=["3", "m7"])
    mem.delete(where={"file": "f2.txt"})
    mem.add(["An upserted chunk about lambdas and closures.", "A brand new chunk on decorators."],
            [{"file": "upsert.txt", "tags": "a,b"}, {}], ids=["5", "fresh"])
    assert len(mem.manifest.segments) >= 4
    return mem


@pytest.fixture(scope="module")
def exported(memory: Memory, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict[str, int]]:
    before = folder_state(memory.root)
    out = tmp_path_factory.mktemp("out") / "portable.mp4"
    stats = memory.export(out)
    return out, stats, before


def test_export_writes_one_self_describing_file_and_leaves_the_memory_alone(
        memory: Memory, exported: tuple[Path, dict, dict[str, int]]) -> None:
    out, stats, before = exported
    assert folder_state(memory.root) == before  # nothing in the source folder was written
    assert sorted(p.name for p in out.parent.iterdir()) == ["portable.mp4"]  # no temporary file left behind
    assert stats["chunks"] == len(memory) == len(memory.get())
    assert stats["bytes"] == out.stat().st_size and 0 < stats["box_bytes"] < stats["bytes"]
    assert stats["ratio_to_raw_text"] == pytest.approx(stats["bytes"] / stats["raw_text_bytes"], rel=1e-3)
    meta = read_segment_meta(out)
    assert meta is not None and meta.op == "build" and meta.version == 1 and meta.frames == stats["frames"]
    assert meta.embedding_dim == 64 and meta.live_count == stats["chunks"]
    assert {c.id for c in meta.chunks} == set(chunks_by_id(memory))


def test_the_exported_file_alone_opens_anywhere_with_the_same_chunks_and_results(
        memory: Memory, exported: tuple[Path, dict, dict[str, int]], tmp_path: Path) -> None:
    out, _, _ = exported
    shutil.copy(out, tmp_path / "copy.mp4")  # only the MP4 travels
    copy = Memory(tmp_path / "copy.mp4", embedding_model=refusing_embedder())
    assert len(copy.manifest.segments) == 1 and copy.version == 1
    assert chunks_by_id(copy) == chunks_by_id(memory)  # same ids, text and metadata, decoded from the frames
    assert copy.get_by_ids(["5"])[0].text == "An upserted chunk about lambdas and closures."
    assert not copy.get_by_ids(["3", "m7", "2"])  # deleted chunks stay deleted
    source, again = results(memory), results(copy)
    assert all(len(found) == 5 for found in source)
    for want, got in zip(source, again):
        assert [(cid, text) for cid, text, _ in got] == [(cid, text) for cid, text, _ in want]
        assert [s for *_, s in got] == pytest.approx([s for *_, s in want], abs=1e-5)  # the same int8 vectors
    assert copy.verify().ok
    copy.close()


def test_an_as_of_memory_exports_that_version(memory: Memory, tmp_path: Path) -> None:
    old = Memory(memory.video_path, embedding_model=hash_embed, as_of=1)
    old.export(tmp_path / "v1.mp4")
    copy = Memory(tmp_path / "v1.mp4", embedding_model=refusing_embedder())
    assert chunks_by_id(copy) == chunks_by_id(old) and len(copy) == 40
    copy.close()
    old.close()


def test_an_empty_memory_has_nothing_to_export(tmp_path: Path) -> None:
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    with pytest.raises(InvalidInputError, match="nothing to export"):
        mem.export(tmp_path / "out.mp4")
    mem.add(["only chunk"], ids=["a"])
    mem.delete(ids=["a"])
    with pytest.raises(InvalidInputError, match="nothing to export"):
        mem.export(tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()
    mem.close()


def test_export_refuses_paths_that_would_harm_the_memory(memory: Memory, tmp_path: Path) -> None:
    refused = {
        memory.video_path: "own file",
        memory.layout.segments_dir / "x.mp4": "own folders",
        memory.root / memory.manifest.store["path"] / "x.mp4": "own folders",
        memory.layout.cache / "x.mp4": "own folders",
        tmp_path / "out.txt": ".mp4",
        tmp_path / "missing" / "out.mp4": "does not exist",
    }
    for path, needle in refused.items():
        with pytest.raises(InvalidInputError, match=needle):
            memory.export(path)
    (tmp_path / "stale_index.json").write_text("{}")  # an index beside the target would be read as its own
    with pytest.raises(InvalidInputError, match="would not describe it"):
        memory.export(tmp_path / "stale.mp4")
    (tmp_path / ".cached.mp4.memvid-cache").mkdir()  # so would a cache folder left by an earlier file of that name
    with pytest.raises(InvalidInputError, match="memvid-cache exists"):
        memory.export(tmp_path / "cached.mp4")
    assert not any(p.suffix == ".mp4" for p in tmp_path.rglob("*"))


# ---------------------------------------------------------------------- the command line


def test_cli_export_writes_a_file_that_opens_alone_and_refuses_to_overwrite(
        memory: Memory, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "portable.mp4"
    code, stdout, _ = run_main(capsys, "export", str(memory.video_path), "-o", str(out), "--json", "--quiet")
    assert code == 0
    stats = json.loads(stdout)
    assert stats["chunks"] == len(memory) and stats["bytes"] == out.stat().st_size
    size = out.stat().st_size

    code, _, err = run_main(capsys, "export", str(memory.video_path), "-o", str(out))
    assert code == 1
    assert_one_line_error(err, "already exists", "--overwrite")
    assert out.stat().st_size == size

    code, stdout, _ = run_main(capsys, "export", str(memory.video_path), "-o", str(out), "--overwrite")
    assert code == 0 and f"Exported {len(memory)} live chunks" in stdout

    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(out, alone / "kb.mp4")
    copy = Memory(alone / "kb.mp4", embedding_model=refusing_embedder())
    assert chunks_by_id(copy) == chunks_by_id(memory)
    copy.close()


@pytest.mark.parametrize(("target", "needle"), [("video", "own file"), ("segments", "own folders"), ("txt", ".mp4")])
def test_cli_export_refuses_the_memory_own_files_in_one_line(
        memory: Memory, tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, needle: str) -> None:
    path = {"video": memory.video_path, "segments": memory.layout.segments_dir / "x.mp4",
            "txt": tmp_path / "out.txt"}[target]
    code, _, err = run_main(capsys, "export", str(memory.video_path), "-o", str(path), "--overwrite")
    assert code == 1
    assert_one_line_error(err, needle)


def test_cli_export_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run_main(capsys, "export", "--help")
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: memvid export") and "--overwrite" in out and "kb_index.json" in out
