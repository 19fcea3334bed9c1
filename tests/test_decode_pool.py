"""The shared decode threads: a list of jobs split between the caller and the pool, in order, never deadlocking.

Also the first read of a segment, which decodes the dictionary's frames and the group's together, and
decodes a dictionary once however many threads ask for groups at the same time.
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from memvid_base import decode_pool
from memvid_base.config import VideoSettings
from memvid_base.errors import FrameDecodeError
from memvid_base.files.manifest import Segment
from memvid_base.files.segments import SegmentCache, plan_segment
from memvid_base.format.payload import Record
from tests.core_fixtures import pydoc_chunks


def test_results_come_back_in_job_order_and_the_pool_takes_a_share() -> None:
    threads: set[int] = set()
    both = threading.Barrier(2, timeout=10)  # the first two jobs meet: two threads must be working at once

    def square(x: int) -> int:
        threads.add(threading.get_ident())
        if x < 2:
            both.wait()
        return x * x

    assert decode_pool.share(list(range(40)), square, helpers=2) == [x * x for x in range(40)]
    assert len(threads) >= 2


def test_one_job_or_no_helper_runs_on_the_caller_alone() -> None:
    threads: list[int] = []
    assert decode_pool.share([3], lambda x: threads.append(threading.get_ident()) or x) == [3]
    assert decode_pool.share([1, 2], lambda x: threads.append(threading.get_ident()) or x, helpers=0) == [1, 2]
    assert set(threads) == {threading.get_ident()}


def test_an_error_raises_once_every_job_already_taken_has_ended() -> None:
    running = Counter[str]()
    lock = threading.Lock()

    def job(x: int) -> int:
        with lock:
            running["started"] += 1
        try:
            time.sleep(0.01)
            if x == 3:
                raise FrameDecodeError("frame 3 is damaged")
            return x
        finally:
            with lock:
                running["ended"] += 1

    with pytest.raises(FrameDecodeError, match="frame 3"):
        decode_pool.share(list(range(30)), job, helpers=3)
    assert running["started"] == running["ended"]  # nothing still running after share returned
    assert running["started"] < 30  # no new job was taken once one failed


def test_the_error_raised_is_the_first_failing_jobs_whatever_the_timing() -> None:
    def job(x: int) -> int:
        if x in (2, 5):
            time.sleep(0.05 if x == 2 else 0)  # job 5 fails first in time; job 2 was taken first
            raise FrameDecodeError(f"frame {x} is damaged")
        time.sleep(0.002)
        return x

    for _ in range(5):
        with pytest.raises(FrameDecodeError, match="frame 2 "):
            decode_pool.share(list(range(12)), job, helpers=3)


def test_once_the_pool_refuses_work_the_caller_does_every_job(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't create new thread at interpreter shutdown")

    fresh = decode_pool.Pool(2, "test-pool")  # no thread yet: the first submit must start one
    monkeypatch.setattr(decode_pool, "pool", lambda: fresh)
    monkeypatch.setattr(threading.Thread, "start", refuse)
    with pytest.raises(RuntimeError, match="interpreter shutdown"):
        fresh.submit(lambda: None)
    assert decode_pool.share(list(range(6)), lambda x: x + 1, helpers=3) == [1, 2, 3, 4, 5, 6]


def test_a_task_gives_its_value_or_its_error_and_a_queued_one_can_be_cancelled() -> None:
    pool = decode_pool.Pool(1, "test-pool")
    release = threading.Event()
    busy = pool.submit(release.wait, 30)  # holds the only thread
    queued = pool.submit(lambda: 1 / 0)
    assert queued.cancel() and queued.cancel()  # dropped before any thread took it (and cancelling again agrees)
    with pytest.raises(RuntimeError, match="cancelled"):
        queued.result(timeout=1)
    failing = pool.submit(lambda: 1 / 0)
    release.set()
    assert busy.result(timeout=30) is True
    with pytest.raises(ZeroDivisionError):
        failing.result(timeout=30)  # the call's own error, raised where the result is asked for
    assert not busy.cancel()  # it ran: too late to cancel
    assert pool.submit(pow, 2, 10).result(timeout=30) == 1024


def test_the_pool_reuses_idle_threads_and_never_runs_more_than_its_workers() -> None:
    pool = decode_pool.Pool(3, "test-pool")
    for _ in range(5):
        assert pool.submit(threading.get_ident).result(timeout=30)  # one at a time: the idle thread takes each
    assert pool._threads == 1
    gate = threading.Barrier(4, timeout=30)
    tasks = [pool.submit(lambda: (gate.wait(), threading.current_thread())[1]) for _ in range(3)]
    gate.wait()  # all three ran at once, so three threads exist
    threads = {t.result(timeout=30) for t in tasks}
    assert len(threads) == 3 and pool._threads == 3
    assert all(t.daemon for t in threads)  # an idle pool never keeps the interpreter from exiting
    assert all(t.result(timeout=30) for t in [pool.submit(threading.get_ident) for _ in range(20)])
    assert pool._threads == 3


def test_calls_from_every_pool_thread_at_once_finish() -> None:
    # Every pool thread is busy in share() and asks the same pool for helpers: a share that waited for
    # queued helpers would hang here; cancelled helpers let each caller finish its jobs alone.
    def inner(x: int) -> int:
        time.sleep(0.002)
        return x + 1

    futures = [decode_pool.pool().submit(decode_pool.share, list(range(20)), inner, 3)
               for _ in range(decode_pool.WORKERS)]
    assert [f.result(timeout=60) for f in futures] == [list(range(1, 21))] * decode_pool.WORKERS


def test_an_idle_pool_thread_keeps_nothing_of_a_finished_share_alive() -> None:
    class Result:  # weakly referenceable, like a decoded frame
        pass

    both = threading.Barrier(2, timeout=10)

    def run(x: int) -> Result:
        if x < 2:
            both.wait()  # a helper really takes a job
        return Result()

    out = decode_pool.share(list(range(4)), run, helpers=1)
    refs = [weakref.ref(r) for r in out]
    del out
    gc.collect()
    assert [r() for r in refs] == [None] * 4  # no pool thread holds share()'s closure, and so its results


_AT_SHUTDOWN = """
import sys
from memvid_base import decode_pool

class Closer:  # runs while the interpreter finalizes, before any pool thread was started
    def __del__(self):
        got = decode_pool.share(list(range(8)), lambda x: x * 2, helpers=3)
        sys.stdout.write(f"shared {got}\\n")
        sys.stdout.flush()

keep = Closer()
"""


def test_share_at_interpreter_shutdown_runs_alone_instead_of_hanging() -> None:
    # Python 3.11's Thread.start() at shutdown waits forever for a thread that cannot run: submit() refuses first.
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _AT_SHUTDOWN], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "shared [0, 2, 4, 6, 8, 10, 12, 14]" in out.stdout


SETTINGS = VideoSettings.create()


class _CountingReader:
    """Stands in for VideoReader: frame k decodes to ``payloads[k]``, and every read is counted."""

    def __init__(self, payloads: list[bytes]) -> None:
        self.payloads = payloads
        self.path = Path("kb.mp4")
        self.reads = Counter[int]()
        self._lock = threading.Lock()

    def read(self, frame: int) -> bytes:
        with self._lock:
            self.reads[frame] += 1
        time.sleep(0.001)  # a decode takes time: threads asking at once overlap
        return self.payloads[frame]


def _cache_over(payloads: list[bytes], monkeypatch: pytest.MonkeyPatch) -> tuple[SegmentCache, _CountingReader]:
    """A segment cache whose frames decode to ``payloads`` (the QR step is tested elsewhere), and its reader."""
    import memvid_base.files.segments as segments

    monkeypatch.setattr(segments, "read_frame", lambda data, backend, accept=None: data)
    cache = SegmentCache(Path("."), SETTINGS)
    reader = _CountingReader(payloads)
    monkeypatch.setattr(cache, "reader", lambda s: reader)
    return cache, reader


@pytest.fixture(scope="module")
def plan() -> tuple[Segment, list[bytes], dict[str, Record]]:
    records = [Record.make(str(k), t, {"k": k}) for k, t in enumerate(pydoc_chunks(160))]  # > 64 KiB: a dictionary
    planned = plan_segment(records, SETTINGS)
    seg = Segment(planned.uid.hex(), "kb.mp4", len(planned.payloads), planned.dict_frames, 1, 0, 0, len(records),
                  planned.group_crcs, planned.group_starts)
    assert seg.dict_frames >= 2 and len(seg.group_starts) > 8
    return seg, planned.payloads, {r.id: r for r in records}


def test_a_segments_dictionary_is_decoded_once_when_many_threads_read_its_groups(
    plan: tuple[Segment, list[bytes], dict[str, Record]], monkeypatch: pytest.MonkeyPatch
) -> None:
    seg, payloads, by_id = plan
    cache, reader = _cache_over(payloads, monkeypatch)
    firsts = seg.group_starts[1:9]  # eight record groups after the dictionary's
    with ThreadPoolExecutor(8) as pool:
        groups = list(pool.map(lambda first: cache.group(seg, first), firsts))
    assert all(reader.reads[f] == 1 for f in range(seg.dict_frames))  # each dictionary frame decoded once
    for records in groups:
        assert records and all(r == by_id[r.id] for r in records)  # exact records, through the dictionary


def test_a_damaged_dictionary_frame_fails_the_group_read_and_is_read_again_next_time(
    plan: tuple[Segment, list[bytes], dict[str, Record]], monkeypatch: pytest.MonkeyPatch
) -> None:
    seg, payloads, by_id = plan
    damaged = list(payloads)
    damaged[1] = damaged[1][:-1] + bytes([damaged[1][-1] ^ 1])
    cache, _ = _cache_over(damaged, monkeypatch)
    with pytest.raises(FrameDecodeError, match="Frame 1 failed its CRC32"):
        cache.group(seg, seg.group_starts[1])
    monkeypatch.setattr(cache, "reader", lambda s: _CountingReader(payloads))  # the file restored
    records = cache.group(seg, seg.group_starts[1])
    assert records and all(r == by_id[r.id] for r in records)


def test_a_group_the_index_says_spans_millions_of_frames_is_refused_before_any_read(
    plan: tuple[Segment, list[bytes], dict[str, Record]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses
    import tracemalloc

    seg, payloads, _ = plan
    hostile = dataclasses.replace(seg, frames=10_000_000, dict_frames=0, group_starts=(0,), group_crcs=seg.group_crcs[:1])
    cache, reader = _cache_over(payloads, monkeypatch)
    tracemalloc.start()
    try:
        with pytest.raises(FrameDecodeError, match="spans 10000000 frames"):
            cache.group(hostile, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000 and not reader.reads  # no plan of ten million reads, and no read at all
