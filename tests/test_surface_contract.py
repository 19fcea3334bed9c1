"""The surface contract: every surface a user touches keeps the core's promises on every rung of the ladder.

Like zarr's ``StoreTests`` run against every store, one contract runs against every surface (the seed
API, LangChain, LlamaIndex, the CLI, the MCP server, the web UI, chat) on every way a memory reaches a
user (a fresh build; a copy of the MP4 alone, searched by the small-memory or the medium-memory exact index;
that copy in a read-only folder; served by nginx over HTTP; the earlier ``kb_index.json`` layout; an explicit
index path that does not exist yet). Each case
runs in its own process (``tests/surface_driver.py``), forked from a server that has only imported the
libraries, and must:

* see all 50 chunks and return the original's top 5, ids and exact text;
* where the place is writable, add one chunk and keep every earlier one byte-exact;
* where it is not, refuse the write with a package error and change nothing.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from memvid_base import Memory
from tests.core_fixtures import hash_embed, pydoc_chunks
from tests.nginx_server import NGINX, serve_folder
from tests.surface_driver import PRELOAD, run_in_child

ROOT = Path(__file__).resolve().parent.parent
SURFACES = ("seed", "langchain", "llamaindex", "cli", "mcp", "web", "chat")
WRITERS = {"langchain", "llamaindex", "cli", "mcp", "web"}  # the seed retriever and chat only read
RUNGS = ("fresh", "bare_copy", "bare_copy_scan", "read_only_folder", "http", "legacy_layout", "new_explicit_index")
WRITABLE = {"fresh", "bare_copy", "bare_copy_scan", "legacy_layout", "new_explicit_index"}
# bare_copy_scan: the bare copy with the medium-memory tier on (this 50-chunk memory searched by the int8 scan,
# as one of 10,000-200,000 chunks is): its top 5 must still be the original's.
RUNG_ENV = {"bare_copy_scan": {"MEMVID_FLAT_MAX_ROWS": "10"}}
N_CHUNKS = 50
QUERY = "How does the garbage collector handle reference cycles?"
CASE_TIMEOUT_S = 180
FORKS = multiprocessing.get_context("forkserver")
FORKS.set_forkserver_preload(PRELOAD)


@dataclass(frozen=True)
class Original:
    folder: Path  # kb.mp4 and its cache folder
    legacy: Path  # the same chunks in the earlier layout: kb.mp4, kb_index.json, kb_index_chroma/
    texts: dict[str, str]  # id -> text
    top5: list[list[str]]  # [id, text] of the original's answer to QUERY


@dataclass(frozen=True)
class Case:
    surface: str
    rung: str
    target: str  # what the surface is given: a path or a URL
    index: str | None
    source: Path  # the file the case reads (a read-only or remote case must leave it unchanged)
    cache_dir: Path


@dataclass(frozen=True)
class Outcome:
    case: Case
    returncode: int
    result: dict
    stderr: str
    source_digest_before: str


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Original:
    texts = pydoc_chunks(limit=N_CHUNKS)
    ids = [f"c{k:02d}" for k in range(len(texts))]
    metas = [{"file": f"topic{k % 7}.md"} for k in range(len(texts))]
    folder = tmp_path_factory.mktemp("original")
    mem = Memory.build(folder / "kb.mp4", None, texts, metas, ids, embedding_model=hash_embed, codec="h264")
    top5 = [[c.id, c.text] for c in mem.search(QUERY, top_k=5)]
    mem.close()
    legacy = tmp_path_factory.mktemp("legacy")
    old = Memory.build(legacy / "kb.mp4", legacy / "kb_index.json", texts, metas, ids, embedding_model=hash_embed,
                       codec="h264")
    store = old.root / old.manifest.store["path"]
    old.close()
    shutil.move(store, legacy / "kb_index_chroma")  # where the earlier layout kept its store
    data = json.loads((legacy / "kb_index.json").read_text())
    data["store"]["path"] = "kb_index_chroma"
    (legacy / "kb_index.json").write_text(json.dumps(data))
    return Original(folder, legacy, dict(zip(ids, texts, strict=True)), top5)


@pytest.fixture(scope="module")
def read_only_folder(original: Original, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A read-only bind mount holding a bare copy of kb.mp4 (root ignores file modes, not a read-only mount)."""
    folder = tmp_path_factory.mktemp("ro")
    shutil.copy(original.folder / "kb.mp4", folder / "kb.mp4")
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode == 0
    if not mounted or subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True).returncode:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        pytest.skip("a read-only bind mount needs root here; the read-only rung cannot be built")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def prepare(surface: str, rung: str, original: Original, base: Path, ro: Path, www: Path, url: str) -> Case:
    work = base / f"{surface}-{rung}"
    work.mkdir()
    cache = work / "user-cache"
    if rung == "fresh":
        shutil.copytree(original.folder, work / "m")
        target, index, source = work / "m" / "kb.mp4", None, work / "m" / "kb.mp4"
    elif rung in ("bare_copy", "bare_copy_scan", "new_explicit_index"):
        (work / "m").mkdir()
        shutil.copy(original.folder / "kb.mp4", work / "m" / "kb.mp4")
        target, source = work / "m" / "kb.mp4", work / "m" / "kb.mp4"
        index = str(work / "m" / "space_index.json") if rung == "new_explicit_index" else None
    elif rung == "legacy_layout":
        shutil.copytree(original.legacy, work / "m")
        target, index, source = work / "m" / "kb.mp4", None, work / "m" / "kb.mp4"
    elif rung == "read_only_folder":
        target, index, source = ro / "kb.mp4", None, ro / "kb.mp4"
    else:
        return Case(surface, rung, url, None, www / "kb.mp4", cache)
    return Case(surface, rung, str(target), index, source, cache)


def run_case(case: Case, note: Path, fault: str | None = None) -> Outcome:
    """Run one case in a fresh forked process; ``fault`` sets ``MEMVID_FAULT`` (the process kills itself there)."""
    before = digest(case.source)
    env = {"MEMVID_CACHE_DIR": str(case.cache_dir), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
           "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT)}
    env |= RUNG_ENV.get(case.rung, {})
    if fault is not None:
        env["MEMVID_FAULT"] = fault
    out, err = case.cache_dir.with_name("stdout.txt"), case.cache_dir.with_name("stderr.txt")
    proc = FORKS.Process(target=run_in_child, args=(case.surface, case.target, case.index, QUERY,
                                                    str(note) if case.surface in WRITERS else None, env, str(out),
                                                    str(err)))
    proc.start()
    proc.join(CASE_TIMEOUT_S)
    if proc.is_alive():
        proc.kill()
        proc.join()
    lines = out.read_text().strip().splitlines() if out.exists() else []
    result = json.loads(lines[-1]) if proc.exitcode == 0 and lines else {}
    stderr = err.read_text() if err.exists() else ""
    return Outcome(case, proc.exitcode if proc.exitcode is not None else -1, result, stderr, before)


@pytest.fixture(scope="module")
def outcomes(original: Original, read_only_folder: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, str], Outcome]]:
    """Every surface on every rung, each in its own fresh process (two at a time: the machine has two cores)."""
    if not NGINX.exists():
        pytest.skip(f"{NGINX} is missing: run `bash scripts/install_nginx.sh`")
    www = tmp_path_factory.mktemp("www")
    shutil.copy(original.folder / "kb.mp4", www / "kb.mp4")
    base = tmp_path_factory.mktemp("cases")
    note = base / "note.md"
    note.write_text("# One more\n\nA note added through a surface: the first write must keep all fifty chunks.\n")
    with serve_folder(www, tmp_path_factory.mktemp("nginx")) as server:
        cases = [prepare(s, r, original, base, read_only_folder, www, server.url_for("kb.mp4")) for s in SURFACES for r in RUNGS]
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = list(pool.map(lambda c: run_case(c, note), cases))
        yield {(o.case.surface, o.case.rung): o for o in done}


def assert_every_original_chunk_exact(case: Case, original: Original, extra: int) -> None:
    mem = Memory(case.target, case.index, embedding_model=hash_embed)
    try:
        assert len(mem) == N_CHUNKS + extra
        found = {c.id: c.text for c in mem.get_by_ids(list(original.texts))}
        assert found == original.texts  # every committed chunk still there, byte-exact
    finally:
        mem.close()


@pytest.mark.parametrize("rung", RUNGS)
@pytest.mark.parametrize("surface", SURFACES)
def test_surface_keeps_the_contract(surface: str, rung: str, outcomes: dict[tuple[str, str], Outcome],
                                    original: Original) -> None:
    out = outcomes[(surface, rung)]
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    result = out.result
    assert result["count"] == N_CHUNKS  # the copy is the memory it is, never an empty one
    assert result["hits"] == original.top5  # the original's ids and exact text, decoded from the frames
    if surface not in WRITERS:
        assert result["write"] == "skipped" and result["count_after"] == N_CHUNKS
    elif rung in WRITABLE:
        assert result["write"] == "ok" and result["count_after"] == N_CHUNKS + 1
        assert_every_original_chunk_exact(out.case, original, extra=1)
    else:
        assert "read-only" in result["write"].lower()  # a package error that says why, not a traceback
        assert result["count_after"] == N_CHUNKS
        assert digest(out.case.source) == out.source_digest_before  # nothing written to the source
    if surface == "chat":
        assert result["cited"] and all(pair in original.top5 for pair in result["cited"])
    if rung == "new_explicit_index":
        assert Path(out.case.index or "").is_file()  # the index was rebuilt where the caller named it
    if rung in ("read_only_folder", "http"):
        assert (out.case.cache_dir).is_dir()  # its caches went to the user's cache folder


@pytest.mark.parametrize("surface", ["langchain", "llamaindex", "cli"])
def test_a_writer_killed_mid_write_loses_nothing(surface: str, original: Original, tmp_path: Path) -> None:
    """kill -9 a write started through an adapter or the CLI on a bare copy: every committed chunk survives."""
    (tmp_path / "m").mkdir()
    target = tmp_path / "m" / "kb.mp4"
    shutil.copy(original.folder / "kb.mp4", target)
    note = tmp_path / "note.md"
    note.write_text("A note whose writer is killed after its vector rows are added, before the commit.\n")
    case = Case(surface, "bare_copy", str(target), None, target, tmp_path / "user-cache")
    killed = run_case(case, note, fault="rows-added")
    assert killed.returncode == -9, killed.stderr[-2000:]  # SIGKILL, as a power cut or OOM killer would
    assert_every_original_chunk_exact(case, original, extra=0)
    again = run_case(case, note)  # the next writer undoes the leftovers and writes
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.result["count"] == N_CHUNKS and again.result["write"] == "ok"
    assert_every_original_chunk_exact(case, original, extra=1)
