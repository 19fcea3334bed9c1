"""Shared helpers for the benchmark scripts: real offline corpora, deterministic vectors, timing, RSS.

Nothing here touches the network.  The corpora are texts every Python install carries:

* ``pydoc_chunks``: the ``pydoc_data.topics`` help texts (about 466 KB), chunked at 512 characters.
* ``distinct_chunks(n)``: ``n`` distinct chunks of real text, taken in a fixed order from the
  ``pydoc_data`` topics, then the standard library's ``.py`` sources, then the ``.py`` sources of the
  packages installed in the benchmark's own venv (only if the standard library runs out), then other
  text files of both (only past about 757,000 chunks).

``hashed_vectors`` is a deterministic stand-in for an embedding model at scales where running MiniLM
would take too long on this machine (100k chunks would take about 20-30 minutes): a signed,
sublinear bag-of-words hashed into 384 dimensions and normalised.  Similar texts get similar vectors,
so an HNSW index over them behaves like one over real text embeddings; the query latency of a vector
store does not depend on which model produced the vectors.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import re
import resource
import statistics
import sys
import sysconfig
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _use_core_from_env() -> None:
    """``MEMVID_BENCH_CORE=DIR`` benchmarks the ``memvid_base`` package found in DIR instead of the installed one.

    Handy for comparing two checkouts (e.g. ``git archive HEAD memvid_base | tar -x -C /tmp/head``).
    The editable install's import hook would otherwise win over ``sys.path``, so it is taken out.
    """
    src = os.environ.get("MEMVID_BENCH_CORE")
    if not src:
        return
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()
                        and "editable" not in getattr(f, "__name__", "").lower()]
    sys.path.insert(0, str(Path(src).resolve()))


_use_core_from_env()
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / ".bench" / "work"
DIM = 384
CHUNK_CHARS = 512


# ---------------------------------------------------------------------------------------------- corpora


def pydoc_text() -> str:
    from pydoc_data import topics

    return "\n\n".join(topics.topics[k] for k in sorted(topics.topics))


def pydoc_chunks(limit: int | None = None) -> list[str]:
    """The pydoc topics split with memvid's own chunker (512 characters, 50 overlap), as users would."""
    from memvid_base.chunking import chunk_text

    chunks = chunk_text(pydoc_text(), chunk_size=CHUNK_CHARS, overlap=50)
    return chunks[:limit] if limit else chunks


_MORE_TEXT = (".pyi", ".h", ".c", ".hpp", ".cpp", ".cuh", ".pyx", ".pxd", ".rst", ".md", ".txt", ".js", ".json", ".csv",
              ".decTest", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".html", ".css", ".xml", ".sh",
              "")  # no suffix: METADATA, LICENSE, RECORD ... (binaries fail to decode and are skipped)


def _source_files() -> Iterator[Path]:
    """The standard library's ``.py`` files, then the venv's; then other text files of both (stubs, C
    headers and sources, docs, scripts, data), which only the million-chunk tier reaches (the ``.py`` files
    give about 757,000 distinct chunks; with the rest, over a million in this project's venv)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    purelib = Path(sysconfig.get_paths()["purelib"])
    skip = {"site-packages", "dist-packages", "__pycache__"}
    yield from sorted(p for p in stdlib.rglob("*.py") if not skip & set(p.relative_to(stdlib).parts))
    yield from sorted(p for p in purelib.rglob("*.py") if "__pycache__" not in p.parts)
    yield from sorted(p for p in stdlib.rglob("*") if p.suffix in _MORE_TEXT and p.is_file()
                      and not skip & set(p.relative_to(stdlib).parts))
    yield from sorted(p for p in purelib.rglob("*") if p.suffix in _MORE_TEXT and p.is_file() and "__pycache__" not in p.parts)


def _pack_lines(text: str, size: int) -> Iterator[str]:
    """Greedy line packing into chunks of at most ``size`` characters (long lines are cut)."""
    cur: list[str] = []
    n = 0
    for line in text.splitlines():
        while len(line) > size:
            if cur:
                yield "\n".join(cur)
                cur, n = [], 0
            yield line[:size]
            line = line[size:]
        if n + len(line) + 1 > size and cur:
            yield "\n".join(cur)
            cur, n = [], 0
        cur.append(line)
        n += len(line) + 1
    if cur:
        yield "\n".join(cur)


def iter_distinct_chunks(size: int = CHUNK_CHARS, min_chars: int = 120) -> Iterator[str]:
    """Distinct chunks of real text (pydoc topics, then Python sources), in a fixed order, one at a time.

    Remembers an 8-byte digest per chunk, not the chunk, so a million chunks cost about 100 MB here.
    """
    import hashlib

    seen: set[bytes] = set()

    def texts() -> Iterable[str]:
        yield pydoc_text()
        for path in _source_files():
            try:
                yield path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue

    for text in texts():
        for chunk in _pack_lines(text, size):
            chunk = chunk.strip()
            if len(chunk) < min_chars:
                continue
            key = hashlib.blake2b(chunk.encode("utf-8", "surrogatepass"), digest_size=8).digest()
            if key in seen:
                continue
            seen.add(key)
            yield chunk


def distinct_chunks(n: int, size: int = CHUNK_CHARS, min_chars: int = 120) -> list[str]:
    """``n`` distinct chunks of real text (pydoc topics, then Python sources), in a fixed order."""
    out = list(itertools.islice(iter_distinct_chunks(size, min_chars), n))
    if len(out) < n:
        raise RuntimeError(f"Only found {len(out)} distinct chunks of real text, {n} were asked for.")
    return out


def queries_from(chunks: list[str], n: int, seed: int = 7) -> list[str]:
    """``n`` deterministic queries: a run of 4-10 words taken from randomly chosen chunks."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for k in rng.choice(len(chunks), size=n, replace=len(chunks) < n):
        words = re.findall(r"[A-Za-z_][A-Za-z_0-9]+", chunks[int(k)])
        if len(words) < 4:
            words = chunks[int(k)].split() or ["python"]
        length = int(rng.integers(4, 11))
        start = int(rng.integers(0, max(1, len(words) - length)))
        out.append(" ".join(words[start : start + length]))
    return out


# ---------------------------------------------------------------------------------------------- vectors

_TOKEN = re.compile(r"[a-z_][a-z_0-9]*|\d+")


def hashed_vectors(texts: list[str], dim: int = DIM) -> np.ndarray:
    """Deterministic text vectors: signed feature hashing of words and word pairs, log-scaled, unit length."""
    cache: dict[str, int] = {}
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for i, text in enumerate(texts):
        toks = _TOKEN.findall(text.lower())
        feats = toks + [a + " " + b for a, b in itertools.pairwise(toks)]
        hs = []
        for f in feats:
            h = cache.get(f)
            if h is None:
                h = cache[f] = zlib.crc32(f.encode())
            hs.append(h)
        arr = np.asarray(hs, dtype=np.int64)
        rows.append(np.full(len(arr), i, dtype=np.int64))
        cols.append(arr)
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    h = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    sign = np.where((h >> 16) & 1, 1.0, -1.0).astype(np.float32)
    out = np.zeros((len(texts), dim), dtype=np.float32)
    np.add.at(out, (r, h % dim), sign)
    out = np.sign(out) * np.log1p(np.abs(out))
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms == 0, 1, norms)).astype(np.float32)


# ---------------------------------------------------------------------------------------------- measuring


def rss_mb() -> float:
    """Current resident set size of this process, in MB."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def peak_rss_mb() -> float:
    """Peak RSS of this process (VmHWM), in MB.

    Not ``getrusage().ru_maxrss``: on Linux a child started by fork+exec inherits the parent's
    high-water mark there, so a small worker launched from a big benchmark process would report the
    parent's peak.  ``VmHWM`` belongs to the process's own address space and starts fresh at exec.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def latency_summary(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50_ms": round(pct(ms, 0.50), 3),
        "p95_ms": round(pct(ms, 0.95), 3),
        "mean_ms": round(statistics.fmean(ms), 3) if ms else float("nan"),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
    }


class Timer:
    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.s = time.perf_counter() - self.t0


def core_info() -> dict[str, Any]:
    """Which memvid_base was measured: its path, the git commit, and whether it differs from that commit."""
    import subprocess

    import memvid_base

    out: dict[str, Any] = {"memvid_base": str(Path(memvid_base.__file__).parent), "version": memvid_base.__version__}
    try:
        out["git_head"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                         text=True, check=True).stdout.strip()
        if Path(out["memvid_base"]) == ROOT / "memvid_base":
            diff = subprocess.run(["git", "status", "--porcelain", "memvid_base"], cwd=ROOT, capture_output=True, text=True)
            out["uncommitted_changes"] = bool(diff.stdout.strip())
        else:
            out["source"] = f"MEMVID_BENCH_CORE={os.environ.get('MEMVID_BENCH_CORE')}"
    except (OSError, subprocess.CalledProcessError):
        pass
    return out


def machine_info() -> dict[str, Any]:
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in load],
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def write_json(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2, default=float) + "\n")
    return path


def log(msg: str) -> None:
    """A progress line with the time of day (benchmarks run for minutes to half an hour)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def fmt(x: Any, unit: str = "", nd: int = 2) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{nd}f}{unit}"
    return f"{x}{unit}"
