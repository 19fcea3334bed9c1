"""The audit: every public method and every CLI command, driven with hostile files and hostile arguments.

Whatever it is given, a public call returns or raises a MemvidError of the right family (bad input:
InvalidInputError and its kin; a bad file: CorruptMemoryError, MemoryNotFoundError or a remote
error), and a CLI command exits with a one-line error, never a traceback.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from core_fixtures import HOSTILE_VALUES, hash_embed, pydoc_chunks

from memvid_base import (
    CorruptMemoryError,
    DimensionMismatchError,
    InvalidInputError,
    Memory,
    MemoryNotFoundError,
    MemvidEncoder,
    MemvidError,
    MemvidRetriever,
    VersionNotAvailableError,
)
from memvid_base.apps.cli import main
from memvid_base.remote import RemoteUnavailableError

CHUNKS = pydoc_chunks(limit=12)
IDS = [f"c{k}" for k in range(len(CHUNKS))]
INPUT_ERRORS = (InvalidInputError, DimensionMismatchError, VersionNotAvailableError)
FILE_ERRORS = (CorruptMemoryError, MemoryNotFoundError, RemoteUnavailableError, InvalidInputError)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A good memory (two segments) and hostile memories made from it, by name."""
    root = tmp_path_factory.mktemp("audit")
    os.environ["MEMVID_CACHE_DIR"] = str(root / "user-cache")  # module scope: restored below
    good = Memory.build(root / "good" / "kb.mp4", None, CHUNKS, None, IDS, embedding_model=hash_embed)
    good.add(["an appended chunk"], ids=["appended"])
    good.close()
    data = (root / "good" / "kb.mp4").read_bytes()

    def bare(name: str, content: bytes) -> Path:
        (root / name).mkdir()
        (root / name / "kb.mp4").write_bytes(content)
        return root / name / "kb.mp4"

    bomb = bytearray(data)
    struct.pack_into(">II", bomb, data.find(b"stsz", data.find(b"moov")) + 8, 1, 30_000_000)
    linked = root / "linked"
    shutil.copytree(root / "good", linked)
    (linked / ".kb.mp4.memvid-cache" / "index.json").unlink()
    (linked / ".kb.mp4.memvid-cache" / "index.json").symlink_to(root / "good" / ".kb.mp4.memvid-cache" / "index.json")
    return {
        "root": root,
        "good": root / "good" / "kb.mp4",
        "hostile": {
            "missing": root / "nowhere" / "kb.mp4",
            "garbage": bare("garbage", os.urandom(5000)),
            "truncated": bare("truncated", data[: len(data) // 2]),
            "empty": bare("empty", b""),
            "unknown codec": bare("fourcc", data.replace(b"av01", b"zzzz")),
            "sample bomb": bare("bomb", bytes(bomb)),
            "a folder": root / "good",
            "linked manifest": linked / "kb.mp4",
            "malformed URL": "http://127.0.0.1:99999/kb.mp4",
            "nobody listening": f"http://127.0.0.1:{closed_port()}/kb.mp4",
        },
    }


@pytest.fixture(scope="module", autouse=True)
def _restore_cache_dir() -> Any:
    before = os.environ.get("MEMVID_CACHE_DIR")
    yield
    if before is None:
        os.environ.pop("MEMVID_CACHE_DIR", None)
    else:
        os.environ["MEMVID_CACHE_DIR"] = before


METHODS: dict[str, Callable[[Memory, Path], Any]] = {
    "search": lambda m, _: m.search("exceptions", top_k=2),
    "search keyword": lambda m, _: m.search("exceptions", top_k=2, mode="keyword"),
    "search hybrid": lambda m, _: m.search("exceptions", top_k=2, mode="hybrid", where_document={"$contains": "the"}),
    "search_by_vector": lambda m, _: m.search_by_vector(hash_embed(["q"])[0], 2, where={"file": "x"}),
    "mmr_search": lambda m, _: m.mmr_search("exceptions", top_k=2),
    "get": lambda m, _: m.get(),
    "get_by_ids": lambda m, _: m.get_by_ids(["c1"]),
    "iter_chunks": lambda m, _: list(m.iter_chunks()),
    "frame_pixels": lambda m, _: m.frame_pixels(m.manifest.segments[0].uid, 0),
    "fill_metadata": lambda m, _: m.fill_metadata(),
    "info": lambda m, _: m.info(),
    "history": lambda m, _: m.history(),
    "verify": lambda m, _: m.verify(),
    "add": lambda m, _: m.add(["x"], ids=["x"]),
    "delete": lambda m, _: m.delete(["c1"]),
    "rebuild_index": lambda m, _: m.rebuild_index(),
    "repair": lambda m, _: m.repair(),
    "export": lambda m, out: m.export(out / "exported.mp4"),
    "compact": lambda m, _: m.compact(),
}


def test_every_public_method_on_every_hostile_memory_raises_only_memvid_errors(files: dict[str, Any]) -> None:
    out = files["root"] / "out"
    out.mkdir(exist_ok=True)
    opened = []
    for name, path in files["hostile"].items():
        try:
            mem = Memory(path, embedding_model=hash_embed)
        except FILE_ERRORS:
            continue
        opened.append(name)
        for method, call in METHODS.items():
            try:
                result = call(mem, out)
            except MemvidError:
                continue
            finally:
                (out / "exported.mp4").unlink(missing_ok=True)
            if method == "verify":
                assert not result.ok, f"{name}: verify passed a hostile memory"
        mem.close()
    assert sorted(opened) == ["sample bomb", "unknown codec"]  # bare copies open from their boxes; the frames fail later



CALLS: dict[str, Callable[[Memory, Any], Any]] = {
    "Memory(path)": lambda m, v: Memory(v, embedding_model=hash_embed),
    "Memory(index)": lambda m, v: Memory(m.video_path, v, embedding_model=hash_embed),
    "Memory(as_of)": lambda m, v: Memory(m.video_path, embedding_model=hash_embed, as_of=v),
    "Memory(cache_size)": lambda m, v: Memory(m.video_path, embedding_model=hash_embed, cache_size=v),
    "search(query)": lambda m, v: m.search(v, top_k=2),
    "search(top_k)": lambda m, v: m.search("q", top_k=v),
    "search(where)": lambda m, v: m.search("q", where=v),
    "search(mode)": lambda m, v: m.search("q", mode=v),
    "search(where_document)": lambda m, v: m.search("q", where_document=v),
    "search(alpha)": lambda m, v: m.search("q", mode="hybrid", alpha=v),
    "search_by_vector(vector)": lambda m, v: m.search_by_vector(v, 2),
    "search_by_vector(ids)": lambda m, v: m.search_by_vector(np.ones(64), 2, ids=v),
    "mmr_search(fetch_k)": lambda m, v: m.mmr_search("q", top_k=2, fetch_k=v),
    "mmr_search(lambda_mult)": lambda m, v: m.mmr_search("q", top_k=2, lambda_mult=v),
    "get(ids)": lambda m, v: m.get(ids=v),
    "get(where)": lambda m, v: m.get(where=v),
    "get(limit)": lambda m, v: m.get(limit=v),
    "get_by_ids": lambda m, v: m.get_by_ids(v),
    "frame_pixels(segment)": lambda m, v: m.frame_pixels(v, 0),
    "frame_pixels(frame)": lambda m, v: m.frame_pixels(m.manifest.segments[0].uid, v),
    "add(texts)": lambda m, v: m.add(v),
    "add(metadata)": lambda m, v: m.add(["x"], metadatas=[v], ids=["meta"]),
    "add(ids)": lambda m, v: m.add(["x"], ids=[v]),
    "add(embeddings)": lambda m, v: m.add(["x"], embeddings=[v], ids=["emb"]),
    "delete(ids)": lambda m, v: m.delete(v),
    "delete(where)": lambda m, v: m.delete(where=v),
    "export(path)": lambda m, v: m.export(v),
    "MemvidEncoder(chunk_size)": lambda m, v: MemvidEncoder(chunk_size=v, embedding_model=hash_embed),
    "MemvidEncoder.add_chunks": lambda m, v: MemvidEncoder(embedding_model=hash_embed).add_chunks(v),
    "MemvidEncoder.add_file": lambda m, v: MemvidEncoder(embedding_model=hash_embed).add_file(v),
    "MemvidRetriever(path)": lambda m, v: MemvidRetriever(v, embedding_model=hash_embed),
    "MemvidRetriever.search(top_k)": lambda m, v: MemvidRetriever(str(m.video_path), embedding_model=hash_embed).search("q", v),
    "MemvidRetriever.get_chunk_by_id": lambda m, v: MemvidRetriever(str(m.video_path), embedding_model=hash_embed).get_chunk_by_id(v),
}


PATH_CALLS = {"Memory(path)", "Memory(index)", "export(path)", "MemvidEncoder.add_file", "MemvidRetriever(path)"}


def test_hostile_arguments_to_every_public_method_are_input_errors(
    files: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(files["good"].parent, tmp_path / "m")
    monkeypatch.chdir(tmp_path)  # a string is a valid path: an index named "5" is created here, not in the repo
    mem = Memory(tmp_path / "m" / "kb.mp4", embedding_model=hash_embed)
    refused: dict[str, int] = {}
    for name, call in CALLS.items():
        for value in HOSTILE_VALUES:
            try:
                call(mem, value)
            except INPUT_ERRORS as exc:
                assert len(str(exc)) < 2000, name  # a message, not a dump of the argument
                refused[name] = refused.get(name, 0) + 1
            except MemvidError as exc:  # only a path can name something that is missing or not a memory
                assert name in PATH_CALLS and isinstance(exc, FILE_ERRORS), (name, value, exc)
    assert set(refused) == set(CALLS)  # every call refuses some of these values as bad input


def test_counts_beyond_any_store_are_bad_input_not_store_errors(files: dict[str, Any]) -> None:
    mem = Memory(files["good"], embedding_model=hash_embed)
    for call in (lambda: mem.search("q", top_k=2**63), lambda: mem.search_by_vector(np.ones(64), 2**63),
                 lambda: mem.get(limit=2**63), lambda: mem.mmr_search("q", top_k=2, fetch_k=2**63)):
        with pytest.raises(InvalidInputError, match="no larger than"):
            call()
    assert len(mem.search("q", top_k=2**31 - 1)) == len(CHUNKS) + 1  # the largest allowed: every chunk
    mem.close()


CLI_CASES = [
    ["info", "{m}"], ["info", "{m}", "--json"], ["verify", "{m}"], ["verify", "{m}", "--repair"],
    ["search", "{m}", "q", "--mode", "keyword"], ["search", "{m}", "q", "-k", "0"], ["compact", "{m}"],
    ["export", "{m}", "-o", "{out}/x.mp4"], ["chat", "{m}"], ["mcp", "{m}", "--embedding-model", "tests.core_fixtures:hash_embed"],
]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def test_every_cli_command_on_hostile_memories_exits_with_a_one_line_error(
    files: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, path in files["hostile"].items():
        opens = name in ("sample bomb", "unknown codec")  # opened from the box: only reading frames fails
        for case in CLI_CASES:
            if opens and case[0] in ("chat", "mcp"):
                continue  # they would start serving
            argv = [a.format(m=path, out=tmp_path) for a in case]
            code, err = run_cli(argv, capsys)
            (tmp_path / "x.mp4").unlink(missing_ok=True)
            assert "Traceback" not in err, (name, argv, err)
            if opens and case[0] == "info":
                assert code == 0  # info reads the boxes only
            else:
                assert code in (1, 2) and ("error" in err), (name, argv, code, err)


def test_hostile_cli_arguments_are_usage_errors(files: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "garbage.pdf").write_bytes(os.urandom(2000))
    good = str(files["good"])
    cases = [
        ["encode", str(tmp_path / "nothing-here"), "-o", str(tmp_path / "kb.mp4")],
        ["encode", str(tmp_path / "garbage.pdf"), "-o", str(tmp_path / "kb.mp4")],
        ["encode", good, "-o", str(tmp_path / "kb.txt")],
        ["encode", good, "-o", str(tmp_path / "kb.mp4"), "--chunk-size", "0"],
        ["encode", str(tmp_path / "garbage.pdf"), "-o", str(files["hostile"]["garbage"]), "--append"],
        ["search", good, "q", "-k", "99999999999999999999"], ["search", good, "q", "--mode", "fuzzy"],
        ["search", "http://[::1/kb.mp4", "q"],
        ["serve", good, "--port", "99999"], ["chat", good, "-k", "-3"],
        ["mcp", good, "--host", "0.0.0.0", "--embedding-model", "tests.core_fixtures:hash_embed"],
        ["mcp", good, "--embedding-model", "no.such:thing"], ["export", good, "-o", str(tmp_path)],
        ["info", good, "--index", str(tmp_path / "garbage.pdf")], ["nonsense"],
    ]
    for argv in cases:
        code, err = run_cli(argv, capsys)
        assert "Traceback" not in err, (argv, err)
        assert code in (1, 2) and err.strip(), (argv, code, err)
    code, err = run_cli(["search", good, "\x00\ud800" * 1000, "--mode", "keyword"], capsys)  # odd, but a query
    assert code in (0, 1) and "Traceback" not in err and len(err.splitlines()) <= 1
