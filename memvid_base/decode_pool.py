"""The process's decode threads, and sharing a list of jobs between them and the caller.

Video decoding and numpy release the GIL, so a query's frames decode faster on several threads.
One pool serves every memory in the process: a query does not start (and join) threads of its own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
WORKERS = 4


def pool() -> ThreadPoolExecutor:
    """The shared pool, started on first use."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(WORKERS, thread_name_prefix="memvid-decode")
        return _POOL


def _forget_pool() -> None:
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()  # a forked child has none of the parent's threads: it starts its own


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def share(jobs: Sequence[T], run: Callable[[T], R], helpers: int = 1) -> list[R]:
    """``[run(job) for job in jobs]``, with up to ``helpers`` pool threads taking jobs beside the caller.

    The caller takes jobs too, and helpers that have not started when the jobs run out are cancelled,
    so this never waits on a queued task: it cannot deadlock when called from a pool thread, however
    busy the pool is, and it still works alone once the pool refuses work (interpreter shutdown).
    Jobs are taken in order and none is taken after one fails, so the error raised, once every job
    already taken has ended, is that of the first failing job, whatever the threads' timing.
    """
    if len(jobs) < 2 or helpers < 1:
        return [run(job) for job in jobs]
    results: list[R | None] = [None] * len(jobs)
    taken = iter(range(len(jobs)))
    lock = threading.Lock()
    failed: list[tuple[int, BaseException]] = []

    def work() -> None:
        k: int | None = -1
        try:
            while not failed:
                with lock:
                    k = next(taken, None)
                if k is None:
                    return
                results[k] = run(jobs[k])
        except BaseException as exc:  # recorded first, so that the other threads take no more jobs
            failed.append((len(jobs) if k is None or k < 0 else k, exc))
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt, SystemExit: at once, in the caller

    futures: list[Future[None]] = []
    for _ in range(min(helpers, len(jobs) - 1)):
        try:
            futures.append(pool().submit(work))
        except RuntimeError:  # the interpreter is shutting down: no new threads, the caller does the rest
            break
    try:
        work()
    finally:
        # A helper not started yet is cancelled (the caller did its share).  wait() on a cancelled future
        # would still wait for a pool thread to dequeue it, so only the started ones are waited for.
        wait([future for future in futures if not future.cancel()])
    if failed:
        raise min(failed, key=lambda f: f[0])[1]
    return results  # type: ignore[return-value]
