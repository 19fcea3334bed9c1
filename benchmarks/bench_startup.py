"""Start-up cost, each figure from fresh processes: ``import memvid_base``, and one default-model query from cold.

* ``import memvid_base``: wall time of ``python -c "import memvid_base"`` minus that of ``python -c pass``,
  and the ``-X importtime`` total with the top-level packages it pulls in (cumulative) and memvid's own
  modules (self time), so a slow import can be traced; also which heavy packages it loaded.
* one query, cold: wall time of a process that imports memvid_base, loads the default model and embeds
  one query (process start to vector), for the onnxruntime default and, when the torch extra is
  installed, the same model through sentence-transformers (what ``Embedder(None)`` did before).

The machine is shared: the 1-minute load average at the start is recorded; medians of ``--repeats`` rounds,
and with ``--baseline`` an older checkout is timed in the same rounds, alternating with this one.

Usage::

    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_startup.py [--repeats 5] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import log, machine_info, write_json

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "sentence_transformers", "transformers", "onnxruntime", "chromadb", "tokenizers", "numpy")
QUERY = "When did Apollo 11 land on the Moon?"
SNIPPETS = {
    "python -c pass": "pass",
    "import memvid_base": "import memvid_base",
    "one query, Embedder(None) (the default)": f"from memvid_base import Embedder; Embedder(None).embed_query({QUERY!r})",
    "one query, sentence-transformers": ("from memvid_base import Embedder; from memvid_base.embeddings import "
                                         f"_load_default_model; Embedder(_load_default_model()).embed_query({QUERY!r})"),
}


def env(core: Path) -> dict[str, str]:
    # Without PYTHONDONTWRITEBYTECODE: a user's second run finds bytecode on disk, so the timed runs should too.
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**base, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
            "PYTHONPATH": str(core)}


def once(code: str, core: Path) -> float:
    """Wall seconds of one fresh process running ``code`` with ``core``'s memvid_base."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=core, env=env(core), capture_output=True)
    return time.perf_counter() - started


def summary(times: list[float]) -> dict[str, Any]:
    return {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3),
            "max_s": round(max(times), 3)}


def importtime(core: Path, top: int = 12) -> dict[str, Any]:
    """``-X importtime`` of ``import memvid_base``: its total, the top-level packages it pulls in, and its own modules."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import memvid_base"], check=True, cwd=core,
                          env=env(core), capture_output=True, text=True)
    rows = []  # (cumulative us, self us, name)
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
        if m:
            rows.append((int(m.group(2)), int(m.group(1)), m.group(3)))
    total = max(cum for cum, _, name in rows if name == "memvid_base")
    packages = sorted(((cum, name) for cum, _, name in rows if "." not in name and name != "memvid_base"
                       and not name.startswith("_")), reverse=True)[:top]
    own = sorted(((own_us, name) for _, own_us, name in rows if name.startswith("memvid_base.")), reverse=True)[:top]
    return {"memvid_base_cumulative_s": round(total / 1e6, 3),
            "packages_by_cumulative_s": {n: round(c / 1e6, 3) for c, n in packages},
            "memvid_base_modules_by_self_s": {n: round(c / 1e6, 4) for c, n in own}}


def loaded_by_import(core: Path) -> list[str]:
    code = f"import sys, memvid_base; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], check=True, cwd=core, env=env(core), capture_output=True,
                          text=True)
    return done.stdout.split()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="startup.json")
    parser.add_argument("--baseline", type=Path,
                        help="a folder holding another memvid_base to time in the same runs, alternating with this "
                             "checkout's (e.g. git archive COMMIT memvid_base | tar -x -C DIR)")
    args = parser.parse_args()
    cores = {"this checkout": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    info = machine_info()
    log(f"load average at start {info['loadavg_at_start']} (shared machine, not idle)")
    has_torch = importlib.util.find_spec("sentence_transformers") is not None
    snippets = {n: c for n, c in SNIPPETS.items() if has_torch or "sentence-transformers" not in n}
    times: dict[str, dict[str, list[float]]] = {c: {n: [] for n in snippets} for c in cores}
    for r in range(args.repeats):  # alternate checkouts and snippets in every round: the load changes
        for name, code in snippets.items():
            for label, core in cores.items():
                times[label][name].append(once(code, core))
        log(f"round {r}: " + "; ".join(f"{label} {name} {times[label][name][-1]:.2f} s"
                                       for label in cores for name in snippets if name != "python -c pass"))
    out: dict[str, Any] = {
        "machine": info,
        "note": "2 shared cores, not idle; medians of fresh processes, checkouts alternating; warm page cache",
        "repeats": args.repeats,
        "command": "HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_startup.py"
                   + (f" --baseline {args.baseline}" if args.baseline else ""),
    }
    for label, core in cores.items():
        wall = {n: summary(t) for n, t in times[label].items()}
        out[label] = {
            "memvid_base_from": str(core),
            "wall": wall,
            "import_memvid_base_minus_interpreter_s": round(wall["import memvid_base"]["median_s"]
                                                            - wall["python -c pass"]["median_s"], 3),
            "importtime": importtime(core),
            "heavy_modules_loaded_by_import": loaded_by_import(core),
        }
        log(f"{label}: import memvid_base {out[label]['import_memvid_base_minus_interpreter_s']} s over the "
            f"interpreter (-X importtime {out[label]['importtime']['memvid_base_cumulative_s']} s), loaded "
            f"{out[label]['heavy_modules_loaded_by_import']}; one default query from cold "
            f"{wall['one query, Embedder(None) (the default)']['median_s']} s")
    path = write_json(args.out, out)
    log(f"written {path}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
