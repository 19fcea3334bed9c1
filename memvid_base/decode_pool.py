"""The process's decode threads, and sharing a list of jobs between them and the caller.

Video decoding and numpy release the GIL, so a query's frames decode faster on several threads.
One pool serves every memory in the process: a query does not start (and join) threads of its own.

The pool is a small one of its own rather than ``concurrent.futures``: that package imports ``logging``,
``traceback`` and ``string``, 5-8 ms of every fresh process's first search (``python -X importtime``).
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

WORKERS = 4


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may run on (a container's limit too)
    except (AttributeError, OSError):
        return os.cpu_count() or 2


# Pool threads worth adding beside the caller: one per other CPU.  More only queue on the GIL and the cores:
# at 100,000 chunks on 2 CPUs, a cold query's groups decoded in 6.3-6.5 ms p50 with 1 helper, 6.4-6.9 with 2,
# 6.8-8.0 with 3 (the old setting) and 9.3-9.7 alone (two ad hoc runs of 120 queries, order alternated).
HELPERS = max(1, min(WORKERS - 1, _cpus() - 1))
_QUEUED, _RUNNING, _CANCELLED = range(3)


class Task(Generic[R]):
    """One call handed to the pool: it runs once, unless :meth:`cancel` comes before a thread takes it."""

    __slots__ = ("_call", "_done", "_error", "_pool", "_state", "_value")

    def __init__(self, pool: Pool, call: Callable[[], R]) -> None:
        self._pool, self._state = pool, _QUEUED
        self._call: Callable[[], R] | None = call
        self._done = threading.Event()
        self._value: R | None = None
        self._error: BaseException | None = None

    def cancel(self) -> bool:
        """Drop the call if no thread has taken it yet; False once it runs or has run."""
        with self._pool._cond:
            if self._state == _QUEUED:
                self._state = _CANCELLED
                self._call = None  # a cancelled task left in the queue must not keep its caller's data alive
                self._done.set()
                return True
            return self._state == _CANCELLED

    def wait(self, timeout: float | None = None) -> bool:
        """Whether the call has ended (or was cancelled) within ``timeout`` seconds."""
        return self._done.wait(timeout)

    def result(self, timeout: float | None = None) -> R:
        """The call's value, or its exception raised here."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"A pool task did not end within {timeout} s.")
        if self._state == _CANCELLED:
            raise RuntimeError("The task was cancelled before it ran.")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def _run(self) -> None:
        try:
            call = self._call
            assert call is not None  # taken once, while queued: only cancel() clears it before
            self._value = call()
        except BaseException as exc:  # handed to whoever asks for the result, as a Future does
            self._error = exc
        finally:
            self._call = None  # share()'s closure holds its jobs and results: not kept by an idle thread
            self._done.set()


class Pool:
    """Up to ``workers`` daemon threads taking tasks in order; one is started only when none is idle.

    The threads are daemons: an idle one must not hold the interpreter open at exit, and no call in this
    package leaves a task running behind it (:func:`share` waits for every task it started).
    """

    def __init__(self, workers: int, name: str) -> None:
        self._cond = threading.Condition()
        self._tasks: deque[Task[Any]] = deque()
        self._workers, self._name = workers, name
        self._threads = self._idle = 0

    def submit(self, fn: Callable[..., R], *args: Any) -> Task[R]:
        """Run ``fn(*args)`` on a pool thread. RuntimeError when a thread is needed and none can start
        (interpreter shutdown)."""
        if sys.is_finalizing():
            # Thread.start() would wait forever for a thread that can never take the GIL (Python 3.11), holding the
            # lock: refuse, and share() runs the jobs on the caller alone.
            raise RuntimeError("can't start a pool thread at interpreter shutdown")
        task: Task[R] = Task(self, (lambda: fn(*args)) if args else fn)
        with self._cond:
            if self._idle <= len(self._tasks) and self._threads < self._workers:
                threading.Thread(target=self._work, name=f"{self._name}_{self._threads}", daemon=True).start()
                self._threads += 1
            self._tasks.append(task)
            self._cond.notify()
        return task

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._tasks:
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                task = self._tasks.popleft()
                if task._state != _QUEUED:
                    del task
                    continue  # cancelled while queued
                task._state = _RUNNING
            task._run()
            del task  # an idle thread holds no finished task (nor, through it, a caller's results)


_POOL: Pool | None = None
_POOL_LOCK = threading.Lock()


def pool() -> Pool:
    """The shared pool, made on first use (its threads start as work arrives)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = Pool(WORKERS, "memvid-decode")
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

    tasks: list[Task[None]] = []
    for _ in range(min(helpers, len(jobs) - 1)):
        try:
            tasks.append(pool().submit(work))
        except RuntimeError:  # the interpreter is shutting down: no new threads, the caller does the rest
            break
    try:
        work()
    finally:
        for task in tasks:  # a helper not started yet is cancelled (the caller did its share); the rest are waited for
            if not task.cancel():
                task.wait()
    if failed:
        raise min(failed, key=lambda f: f[0])[1]
    return results  # type: ignore[return-value]
