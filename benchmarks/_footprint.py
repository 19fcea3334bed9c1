"""Where a Chroma store's bytes go: HNSW files and SQLite tables (with their indexes), per row.

Used by ``bench_million.py``; also runnable alone::

    python benchmarks/_footprint.py <chroma store dir> [rows]
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any


def sqlite_tables(db: Path) -> dict[str, int]:
    """Bytes of every table, its indexes counted with it (SQLite's ``dbstat``), plus the free pages."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        owners = {name: (tbl or name) for name, tbl in con.execute("SELECT name, tbl_name FROM sqlite_master")}
        out: dict[str, int] = {}
        for name, size in con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            key = owners.get(name, name)
            out[key] = out.get(key, 0) + int(size)
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        out["(free pages)"] = con.execute("PRAGMA freelist_count").fetchone()[0] * page_size
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))
    except sqlite3.OperationalError as exc:  # a build of SQLite without dbstat
        return {"(dbstat unavailable)": 0, "error": str(exc)}  # type: ignore[dict-item]
    finally:
        con.close()


def metadata_keys(db: Path) -> dict[str, int]:
    """How many SQLite rows each metadata key holds (one per Chroma row that carries it)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {k: int(n) for k, n in con.execute("SELECT key, COUNT(*) FROM embedding_metadata GROUP BY key")}
    except sqlite3.OperationalError:
        return {}
    finally:
        con.close()


def store_breakdown(store: Path, rows: int | None = None) -> dict[str, Any]:
    """Bytes of a Chroma persistent store by file kind and SQLite table, and per row when ``rows`` is given."""
    files: dict[str, int] = {}
    for path in Path(store).rglob("*"):
        if path.is_file():
            key = path.name if path.suffix in (".bin", ".sqlite3", ".pickle") or "sqlite3" in path.name else "other"
            files[key] = files.get(key, 0) + path.stat().st_size
    out: dict[str, Any] = {"total": sum(files.values()), "files": dict(sorted(files.items(), key=lambda kv: -kv[1]))}
    db = Path(store) / "chroma.sqlite3"
    if db.exists():
        out["sqlite_tables"] = sqlite_tables(db)
        out["metadata_rows_per_key"] = metadata_keys(db)
    if rows:
        out["per_row"] = {"total": round(out["total"] / rows, 1),
                          **{k: round(v / rows, 1) for k, v in out["files"].items()},
                          **{f"sqlite:{k}": round(v / rows, 1) for k, v in out.get("sqlite_tables", {}).items()}}
    return out


if __name__ == "__main__":
    print(json.dumps(store_breakdown(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else None), indent=1))
