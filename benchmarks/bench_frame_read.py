"""What reading one frame's text costs, step by step: the libdav1d decode, the fast QR read, and the records.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_frame_read.py            # 4,000 chunks, 300 frames
    PYTHONPATH=. .venv/bin/python benchmarks/bench_frame_read.py --frames 600

Builds (once, under ``.bench/work/frame_read_<N>``) a memory of real distinct chunks with hashed 384-d vectors at
the default frame size, then times, on one thread, each step a cold search takes for one group (p50 over the
frames, each step run on all of them in turn, three rounds):

* ``decode``: libdav1d turning the frame's packet into pixels (``VideoReader.read``);
* ``qr_checked`` / ``qr_unchecked``: the fast QR reader with and without its Reed-Solomon check (a search reads
  unchecked, and the frame's CRC32 checks the bytes);
* ``records_all``: decompressing the group and parsing all of its records, then checking the one a search
  needs (what a search did before issue 24's one-record parse);
* ``records_one``: decompressing it and parsing only that record (``find_record``).

Results: ``benchmarks/results/frame_read.json``; the load average is recorded at the start.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import WORK, core_info, distinct_chunks, hashed_vectors, log, machine_info, write_json


def _p50_us(jobs: list[Any], step: Callable[[Any], object], rounds: int = 3) -> float:
    """Median microseconds of ``step`` over ``jobs``, the best of ``rounds`` passes."""
    best = []
    for _ in range(rounds):
        times = []
        for job in jobs:
            t = time.perf_counter()
            step(job)
            times.append(time.perf_counter() - t)
        best.append(statistics.median(times) * 1e6)
    return round(min(best), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=4000)
    ap.add_argument("--frames", type=int, default=300, help="groups measured (one frame each)")
    ap.add_argument("--out", default="frame_read.json", help="results file name")
    args = ap.parse_args()
    from memvid_base import Memory
    from memvid_base.format.payload import decode_records, find_record, parse_frame, records_text
    from memvid_base.format.qr_pure import read_pure

    res: dict[str, Any] = {"machine": machine_info(), "core": core_info(), "chunks": args.chunks}
    work = WORK / f"frame_read_{args.chunks}"
    if not (work / "ok").exists():
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        texts = distinct_chunks(args.chunks)
        log(f"building {args.chunks} chunks")
        mem = Memory.create(work / "kb.mp4")
        mem.add(texts, embeddings=hashed_vectors(texts))
        mem.close()
        (work / "ok").write_text("ok\n")
    mem = Memory(work / "kb.mp4")
    cache = mem._view.segments
    seg = max(mem._view.seg_by_uid.values(), key=lambda s: s.frames)
    uid = bytes.fromhex(seg.uid)
    reader = cache.reader(seg)
    dictionary = cache.dictionary(seg)
    ends = [*seg.group_starts[1:], seg.frames]
    one_frame = [f for f, e in zip(seg.group_starts, ends) if e - f == 1 and f >= seg.dict_frames]
    firsts = random.Random(5).sample(one_frame, min(args.frames, len(one_frame)))
    frames = {f: reader.read(f) for f in firsts}
    bodies = {f: parse_frame(read_pure(frames[f]) or b"", uid, f)[2] for f in firsts}
    wanted = {}  # the record a search would ask for in each group: the middle one
    for f in firsts:
        records = decode_records([bodies[f]], dictionary, verify=False)
        wanted[f] = records[len(records) // 2]

    def all_records(f: int) -> object:
        rec = next(r for r in decode_records([bodies[f]], dictionary, verify=False) if r.id == wanted[f].id)
        rec.verify()
        return rec

    def one_record(f: int) -> object:
        rec = find_record(records_text([bodies[f]], dictionary), wanted[f].id, wanted[f].checksum)
        assert rec == wanted[f]
        return rec

    assert all(read_pure(frames[f], checked=False) == read_pure(frames[f]) for f in firsts)
    res["frame_size"] = int(frames[firsts[0]].shape[0])
    res["groups"] = len(firsts)
    res["p50_us"] = {
        "decode": _p50_us(firsts, reader.read),
        "qr_checked": _p50_us(firsts, lambda f: read_pure(frames[f])),
        "qr_unchecked": _p50_us(firsts, lambda f: read_pure(frames[f], checked=False)),
        "records_all": _p50_us(firsts, all_records),
        "records_one": _p50_us(firsts, one_record),
    }
    log(f"{len(firsts)} one-frame groups at {res['frame_size']} px: "
        + ", ".join(f"{k} {v} us" for k, v in res["p50_us"].items()))
    mem.close()
    log(f"-> {write_json(args.out, res)}")


if __name__ == "__main__":
    main()
