"""Measure what installing memvid-rag costs: venv size, install time and import time, per extra.

Each target gets a fresh venv in a temporary folder. torch==2.13.0 (the CPU build) is installed
first, pinned, as scripts/setup.sh does, then the package from a clean copy of this source tree
with ``-c constraints.txt``. The figures are for the pip cache as it is on this machine (warm, so
mostly unpacking and copying, not downloading); say so wherever you quote them.

Usage:
    python benchmarks/bench_install.py [--targets core langchain llamaindex] [--out benchmarks/results/install.json]
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
TARGETS = {"core": "", "langchain": "[langchain]", "llamaindex": "[llamaindex]", "all": "[all]"}
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
    venv = work / f"venv-{target}"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    venv_s = time.perf_counter() - started
    empty = du_bytes(venv)
    torch_s = pip(venv, TORCH)
    with_torch = du_bytes(venv)
    package_s = pip(venv, "-c", str(src / "constraints.txt"), f"{src}{TARGETS[target]}")
    size = du_bytes(venv)
    row: dict[str, Any] = {
        "target": target,
        "command": f"pip install {TORCH} && pip install -c constraints.txt 'memvid-rag{TARGETS[target]}'",
        "venv_bytes": size,
        "venv_mb": round(size / 2**20, 1),
        "empty_venv_mb": round(empty / 2**20, 1),
        "torch_mb": round((with_torch - empty) / 2**20, 1),
        "install_seconds": round(venv_s + torch_s + package_s, 1),
        "torch_install_seconds": round(torch_s, 1),
        "package_install_seconds": round(package_s, 1),
        "import_seconds": {m: import_seconds(venv, m) for m in MODULES},
    }
    shutil.rmtree(venv)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    head = "| install | venv size | install time (torch + rest) | import memvid_base | import memvid_langchain | import memvid_llamaindex |"
    lines = [head, "|---|---|---|---|---|---|"]
    for r in rows:
        imports = [r["import_seconds"][m] for m in MODULES]
        cells = [f"{v:.2f} s" if isinstance(v, float) else "not installed" for v in imports]
        lines.append(f"| `memvid-rag{TARGETS[r['target']]}` | {r['venv_mb']:.0f} MB | {r['install_seconds']:.0f} s "
                     f"({r['torch_install_seconds']:.0f} + {r['package_install_seconds']:.0f}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--targets", nargs="+", choices=sorted(TARGETS), default=["core", "langchain", "llamaindex"])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "install.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="memvid-install-") as tmp:
        work = Path(tmp)
        src = copy_source(work)
        rows = []
        for target in args.targets:
            print(f">> {target}: fresh venv, {TORCH}, then memvid-rag{TARGETS[target]}", file=sys.stderr, flush=True)
            rows.append(measure(target, work, src))
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
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
