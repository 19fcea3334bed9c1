"""Reader processes keep searching, and see whole versions, while one writer appends, deletes and compacts.

The writer does a fixed amount of work and the readers search until it is done, so the test does the
same work on a slow machine as on a fast one. Each reader checks every result: the text must be exactly the text written for that id in some
committed version. A reader that raises, crashes (a segfault shows as a negative exit code) or sees
wrong text fails the test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from core_fixtures import hash_embed

from memvid_base import Memory

REPO = Path(__file__).resolve().parents[1]
WRITE_ROUNDS = 6  # each round upserts and deletes; every second round also compacts
MAX_SECONDS = 120  # readers stop when the writer is done, or at this bound

_READER = textwrap.dedent(
    """
    import json, sys, time
    sys.path[:0] = [{tests!r}, {repo!r}]
    from core_fixtures import hash_embed
    from memvid_base import Memory


    import os
    mem = Memory({video!r}, embedding_model=hash_embed)
    stop = time.monotonic() + {seconds}
    searches, errors, wrong = 0, [], 0
    while time.monotonic() < stop and not os.path.exists({done!r}):
        try:
            for chunk in mem.search("alpha beta gamma delta", top_k=5):
                if chunk.text != chunk.metadata["expect"]:
                    wrong += 1
            for chunk in mem.search("gamma", top_k=3, mode="hybrid"):
                if chunk.text != chunk.metadata["expect"]:
                    wrong += 1
            searches += 1
            time.sleep(0.01)  # leave the writer a core: a loaded machine otherwise starves it for tens of seconds
            if searches == 1:
                open({ready!r} + str(os.getpid()), "w").close()  # tell the writer this reader is searching
        except Exception as exc:
            errors.append(f"{{type(exc).__name__}}: {{exc}}")
    print(json.dumps({{"searches": searches, "errors": errors[:5], "n_errors": len(errors), "wrong": wrong}}))
    """
)


def _text(k: int, rev: int) -> str:
    return f"Chunk {k} revision {rev}: alpha beta gamma delta words for chunk {k}."


def test_readers_in_other_processes_survive_appends_deletes_and_compactions(tmp_path: Path) -> None:
    video = tmp_path / "kb.mp4"
    texts = [_text(k, 0) for k in range(40)]
    mem = Memory.build(video, None, texts, [{"expect": t} for t in texts], [f"c{k}" for k in range(40)],
                       embedding_model=hash_embed)
    mem.search("warm", top_k=1, mode="keyword")  # the keyword index exists, so writers keep it in step
    script = tmp_path / "reader.py"
    done = tmp_path / "writer.done"
    ready = str(tmp_path / "reader.ready.")
    script.write_text(_READER.format(tests=str(REPO / "tests"), repo=str(REPO), video=str(video), seconds=MAX_SECONDS,
                                     done=str(done), ready=ready))
    readers = [subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    # Start writing only once both readers are searching (a loaded machine can take many seconds to start them).
    deadline = time.monotonic() + MAX_SECONDS
    while len(list(tmp_path.glob("reader.ready.*"))) < len(readers) and time.monotonic() < deadline:
        assert all(p.poll() is None for p in readers), "a reader died before its first search"
        time.sleep(0.1)
    assert len(list(tmp_path.glob("reader.ready.*"))) == len(readers), "the readers never managed a first search"
    ops = []
    for rev in range(1, WRITE_ROUNDS + 1):
        new = [_text(k, rev) for k in range(rev % 5, 40, 5)]
        ids = [f"c{k}" for k in range(rev % 5, 40, 5)]
        mem.add(new, [{"expect": t} for t in new], ids)  # upserts
        ops.append("add")
        mem.delete(ids=[f"c{(rev * 7) % 40}"])
        ops.append("delete")
        if rev % 2 == 0:
            mem.compact()
            ops.append("compact")
    time.sleep(1.0)  # let the readers search the last version too
    done.touch()
    results = []
    for proc in readers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"reader died with {proc.returncode}: {err[-2000:]}"
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert ops.count("compact") == WRITE_ROUNDS // 2
    for res in results:
        assert res["n_errors"] == 0, res["errors"]
        assert res["wrong"] == 0
        assert res["searches"] >= 2  # the first, before the writer began, and at least one more
    # Old store folders are removed once no reader holds them.
    mem.add(["one more write collects what the readers let go"], [{"expect": "x"}])
    assert len(mem.layout.store_dirs()) == 1
