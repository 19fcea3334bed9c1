"""How long a person waits for one answer: `memvid search` end to end, and the first MCP search, in fresh processes.

Builds (once, reused) a memory of N real chunks whose vectors are hashed 384-d stand-ins recorded under the
default model's name, so that the default all-MiniLM-L6-v2 embeds each query, as it would for a real memory
(ranking quality is not what this measures). Then, each in a new process, from process start to the last byte
of output:

* ``memvid search kb.mp4 "q"`` in vector, hybrid and keyword mode (the keyword index built once beforehand,
  as any memory that has seen one keyword search has it);
* the keyword search run as the installed command runs it (``console()``, the heap frozen before exit) and as
  plain ``sys.exit(main())``, alternating, to show what skipping the interpreter's last collection saves;
* the first MCP ``search`` over stdio, timed from the end of ``initialize`` to its result;
* a Python process that imports memvid_base, opens the memory and runs one keyword search (issue 24's
  "fresh process: open + first keyword query"), whole process wall, with the import and the query timed
  inside it, and an empty ``python -c pass`` beside it for the interpreter's own start.

Goals: search ≤ 1.5 s at 10,000 chunks in vector and hybrid mode, first MCP search ≤ 1 s (issue 23);
fresh process open + first keyword query ≤ 250 ms (issue 24).

Usage: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_cli_start.py [--chunks 10000] [--repeats 5]``
Results: ``benchmarks/results/cli_start.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, WORK, distinct_chunks, hashed_vectors, log, machine_info, write_json

QUERY = "How do I close a file that was opened for writing?"
# Without PYTHONDONTWRITEBYTECODE: a user's second run finds bytecode on disk, so the timed runs should too.
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
       "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "PYTHONPATH": str(ROOT)}


def build(folder: Path, n: int) -> Path:
    video = folder / "kb.mp4"
    if video.is_file():
        return video
    from memvid_base import Memory

    folder.mkdir(parents=True, exist_ok=True)
    texts = distinct_chunks(n)
    log(f"building {n} chunks in {folder}")
    mem = Memory.create(video, codec="av1")  # the default model's name is recorded; no model is loaded
    mem.add(texts, embeddings=hashed_vectors(texts), show_progress=True)
    mem.search("warm the keyword index", top_k=1, mode="keyword")
    mem.close()
    return video


def time_cli(video: Path, mode: str, repeats: int) -> dict[str, float]:
    cmd = [str(ROOT / ".venv" / "bin" / "memvid"), "search", str(video), QUERY, "-k", "5", "--mode", mode]
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=str(ROOT))
        runs.append(time.perf_counter() - start)
        assert proc.returncode == 0 and "1. score" in proc.stdout, proc.stderr[-500:]
    return {"median_s": round(statistics.median(runs), 3), "min_s": round(min(runs), 3), "max_s": round(max(runs), 3)}


_KEYWORD_PROCESS = """
import sys, time, json
t0 = time.perf_counter()
from memvid_base import Memory
t1 = time.perf_counter()
hits = Memory(sys.argv[1]).search(sys.argv[2], top_k=5, mode="keyword")
t2 = time.perf_counter()
assert hits
print(json.dumps({"import_s": t1 - t0, "open_and_query_s": t2 - t1}))
"""


def time_keyword_process(video: Path, repeats: int) -> dict[str, float]:
    """Whole-process wall of import + open + one keyword query, and of ``python -c pass``, alternating."""
    import json

    walls, empties, imports, queries = [], [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=ENV)
        empties.append(time.perf_counter() - start)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _KEYWORD_PROCESS, str(video), QUERY], capture_output=True, text=True,
                              env=ENV, cwd=str(ROOT))
        walls.append(time.perf_counter() - start)
        assert proc.returncode == 0, proc.stderr[-500:]
        inner = json.loads(proc.stdout.strip().splitlines()[-1])
        imports.append(inner["import_s"])
        queries.append(inner["open_and_query_s"])
    med = statistics.median
    return {"median_s": round(med(walls), 3), "min_s": round(min(walls), 3), "import_s": round(med(imports), 3),
            "open_and_query_s": round(med(queries), 3), "python_c_pass_s": round(med(empties), 3)}


def time_exit_freeze(video: Path, repeats: int) -> dict[str, float]:
    """`memvid search --mode keyword` as the installed command runs it (``console()``: the heap frozen before
    exit) and as plain ``sys.exit(main())``, alternating in fresh processes: what skipping the last collection saves."""
    runners = {"console": "from memvid_base.apps.cli import console; console()",
               "main": "import sys; from memvid_base.apps.cli import main; sys.exit(main())"}
    walls: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, code in runners.items():
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", code, "search", str(video), QUERY, "-k", "5", "--mode", "keyword"],
                                  capture_output=True, text=True, env=ENV, cwd=str(ROOT))
            walls[name].append(time.perf_counter() - start)
            assert proc.returncode == 0 and "1. score" in proc.stdout, proc.stderr[-500:]
    return {f"{name}_median_s": round(statistics.median(w), 3) for name, w in walls.items()}


async def first_mcp_search(video: Path) -> tuple[float, float]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=str(ROOT / ".venv" / "bin" / "memvid"), args=["mcp", str(video)], env=ENV,
                                   cwd=str(ROOT))
    start = time.perf_counter()
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        ready = time.perf_counter()
        result = await session.call_tool("search", {"query": QUERY, "top_k": 5})
        done = time.perf_counter()
        assert not result.is_error, result.content
    return ready - start, done - ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    machine = machine_info()
    video = build(WORK / f"cli_start_{args.chunks}", args.chunks)
    results: dict[str, object] = {"machine": machine, "chunks": args.chunks, "repeats": args.repeats}
    for mode in ("vector", "hybrid", "keyword"):
        results[f"memvid search --mode {mode}"] = row = time_cli(video, mode, args.repeats)
        log(f"memvid search --mode {mode}: {row}")
    results["python: import + open + first keyword query"] = row = time_keyword_process(video, args.repeats)
    log(f"python: import + open + first keyword query: {row}")
    results["keyword search: console() vs sys.exit(main())"] = row = time_exit_freeze(video, args.repeats)
    log(f"keyword search, frozen heap at exit vs not: {row}")
    starts, firsts = [], []
    for _ in range(args.repeats):
        start, first = asyncio.run(first_mcp_search(video))
        starts.append(start)
        firsts.append(first)
    results["mcp: process start to initialized"] = {"median_s": round(statistics.median(starts), 3)}
    results["mcp: first search after initialize"] = {"median_s": round(statistics.median(firsts), 3),
                                                     "max_s": round(max(firsts), 3)}
    log(f"mcp initialize {statistics.median(starts):.3f} s, first search {statistics.median(firsts):.3f} s")
    results["goals"] = {"search_vector_hybrid_s": 1.5, "mcp_first_search_s": 1.0, "fresh_keyword_process_s": 0.25}
    print(write_json("cli_start.json", results))


if __name__ == "__main__":
    sys.exit(main())
