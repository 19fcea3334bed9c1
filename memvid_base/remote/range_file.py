"""``RangeFile``: a read-only, seekable file over one HTTP(S) URL, read with range requests.

PyAV reads a video from any Python file object, so a remote segment is decoded through
:class:`RangeFile`, which turns PyAV's small reads into a few ``Range: bytes=a-b`` requests over one
keep-alive connection and keeps the blocks it fetched in a small LRU.  Only the standard library is
used.  Every response passes :mod:`memvid_base.remote.range_http`'s checks against the first answer, so a
file replaced under a reader raises :class:`RemoteFileChangedError` instead of mixing two versions,
and no answer can make the reader allocate more than the block it asked for.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import urljoin

from ..errors import InvalidInputError, MemvidError
from .range_http import (
    REDIRECTS,
    UNSATISFIED_RANGE,
    RemoteFileChangedError,
    RemoteUnavailableError,
    check_announced_length,
    check_encoding,
    check_range,
    check_url,
    check_validators,
    display_url,
    is_remote,
    status_error,
    unavailable_error,
)

if TYPE_CHECKING:  # http.client and ssl load with the first request: a local memory never needs them
    import http.client

# Measured against nginx on a 51-frame AV1 segment (~4.2 KiB a frame), open + 3 random cold frames:
# 4 KiB blocks with 8 KiB fetches cost 11 KiB / 2 requests to open and 9 KiB / 1.1 requests a frame;
# 16 KiB fetches 14 KiB / 0.9; 64 KiB blocks 30 KiB / 0.4 (and 81 KiB to open).  Blocks (the cache's
# unit) are small so a fetch starts at the block the reader needs, not at an aligned boundary before it.
DEFAULT_BLOCK_SIZE = 4096
DEFAULT_FETCH_SIZE = 8192
DEFAULT_MAX_CACHED_BYTES = 8 * 1024 * 1024
DEFAULT_TIMEOUT = 10.0
DEFAULT_DEADLINE = 120.0  # one request, start to last byte: a fetch is at most a few MiB
DEADLINE_ENV = "MEMVID_HTTP_DEADLINE"
MAX_BLOCK_SIZE = 16 * 1024 * 1024
MAX_REDIRECTS = 5
_T = TypeVar("_T")


class RangeFile(io.RawIOBase):
    """A read-only, seekable file over one HTTP(S) URL, read with range requests and cached in blocks.

    The first request fetches the start of the file and learns its size and validators; every later
    response must carry the same ones.  Reads are rounded out to whole blocks; a read that misses
    fetches, in one request, its missing blocks and the ones after them up to ``fetch_size``.
    Thread-safe.

    Attributes:
        url: the URL as given.
        size: the file's size in bytes.
        bytes_fetched: body bytes received so far.
        requests: HTTP requests sent so far (redirects and retries included).
    """

    def __init__(
        self,
        url: str,
        *,
        block_size: int = DEFAULT_BLOCK_SIZE,
        fetch_size: int = DEFAULT_FETCH_SIZE,
        max_cached_bytes: int = DEFAULT_MAX_CACHED_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float | None = None,
    ) -> None:
        """Open ``url`` and fetch its first bytes.

        Redirects (at most ``MAX_REDIRECTS``) are followed to any http(s) URL, another host included,
        as browsers and ``curl -L`` do: release downloads, presigned object stores and CDNs answer
        that way, and the server named by the URL vouches for where it sends us.  Every answer is
        still checked against the first one (size, ETag, Last-Modified), memvid sends no credentials
        or cookies anywhere, and a redirect from https to plain http is refused (it would drop TLS).
        ``final_url`` is where the bytes come from.

        Args:
            url: an http:// or https:// URL.
            block_size: the cache's unit, in bytes.
            fetch_size: the fewest bytes one request asks for (rounded up to whole blocks); a read that
                misses the cache fetches from its first missing block on.
            max_cached_bytes: the most block bytes kept (least recently used go first).
            timeout: seconds allowed for connecting and for each read from the socket.
            deadline: seconds allowed for one whole request, from connecting to its last byte (a server
                that trickles bytes cannot hold a reader forever); default ``$MEMVID_HTTP_DEADLINE``,
                else ``DEFAULT_DEADLINE``.

        Raises:
            InvalidInputError: a malformed or non-http(s) URL, or bad sizes.
            RemoteUnavailableError: the server is unreachable, answers an error, ignores ``Range``, or
                a request runs past its deadline.
        """
        super().__init__()
        if not is_remote(url):
            raise InvalidInputError(f"{url!r} is not an http:// or https:// URL.")
        check_url(url)
        if deadline is None:
            deadline = default_deadline()
        if not 512 <= block_size <= MAX_BLOCK_SIZE:
            raise InvalidInputError(f"block_size must be between 512 and {MAX_BLOCK_SIZE} bytes, got {block_size}.")
        if not block_size <= fetch_size <= MAX_BLOCK_SIZE:
            raise InvalidInputError(f"fetch_size must be between block_size and {MAX_BLOCK_SIZE}, got {fetch_size}.")
        if max_cached_bytes < fetch_size:
            raise InvalidInputError(f"max_cached_bytes ({max_cached_bytes}) must hold at least one fetch ({fetch_size}).")
        if not timeout > 0:
            raise InvalidInputError(f"timeout must be positive, got {timeout}.")
        if not deadline > 0:
            raise InvalidInputError(f"deadline must be positive, got {deadline}.")
        self.url = url
        self.block_size = block_size
        self.fetch_blocks = -(-fetch_size // block_size)
        self.max_cached_bytes = max_cached_bytes
        self.timeout = float(timeout)
        self.deadline = float(deadline)
        self._watch: _Watchdog | None = None  # the request in flight
        self.bytes_fetched = 0
        self.requests = 0
        self._target = url  # after redirects
        self._conn: http.client.HTTPConnection | None = None
        self._conn_reused = False
        self._lock = threading.RLock()
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._cached = 0
        self._pos = 0
        self._changed: RemoteFileChangedError | None = None  # once the file changed, every read fails the same way
        self._etag: str | None = None
        self._last_modified: str | None = None
        self.size = 0
        self._probe()

    # -- io.RawIOBase ---------------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        with self._lock:
            self._check_open()
            if whence == io.SEEK_SET:
                pos = offset
            elif whence == io.SEEK_CUR:
                pos = self._pos + offset
            elif whence == io.SEEK_END:
                pos = self.size + offset
            else:
                raise ValueError(f"invalid whence ({whence})")
            if pos < 0:
                raise ValueError(f"negative seek position {pos}")
            self._pos = pos
            return pos

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the current position; may return fewer bytes (at most the cache's size)."""
        with self._lock:
            self._check_open()
            out = memoryview(buffer).cast("B")
            start = self._pos
            end = min(start + len(out), self.size)
            if end <= start:
                return 0
            bs = self.block_size
            # The blocks of one read, plus one fetch's read-ahead, must fit in the cache together.
            last_allowed = start // bs + self.max_cached_bytes // bs - self.fetch_blocks
            end = min(end, (last_allowed + 1) * bs)
            first, last = start // bs, (end - 1) // bs
            for index in range(first, last + 1):
                if index in self._blocks:
                    self._blocks.move_to_end(index)  # so fetching the others cannot evict them
            self._ensure(first, last)
            written = 0
            for index in range(first, last + 1):
                block = self._blocks[index]
                self._blocks.move_to_end(index)
                lo = max(start, index * bs) - index * bs
                hi = min(end, (index + 1) * bs) - index * bs
                out[written : written + hi - lo] = block[lo:hi]
                written += hi - lo
            self._pos = end
            return written

    @property
    def final_url(self) -> str:
        """The URL the bytes are read from, after redirects."""
        return self._target

    def close(self) -> None:
        with self._lock:
            self._drop_connection()
            self._blocks.clear()
            self._cached = 0
            super().close()

    # -- blocks ---------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"I/O operation on closed RangeFile for {display_url(self.url)}")

    def _ensure(self, first: int, last: int) -> None:
        """Fetch the missing blocks among ``first..last``, each run of consecutive ones in one request."""
        index = first
        while index <= last:
            if index in self._blocks:
                index += 1
                continue
            run_end = index
            limit = max(last, index + self.fetch_blocks - 1, 0)
            limit = min(limit, (self.size - 1) // self.block_size, index + self.max_cached_bytes // self.block_size - 1)
            while run_end + 1 <= limit and run_end + 1 not in self._blocks:
                run_end += 1
            lo = index * self.block_size
            hi = min((run_end + 1) * self.block_size, self.size) - 1
            data = self._fetch(lo, hi)
            for k in range(index, run_end + 1):
                offset = (k - index) * self.block_size
                self._store(k, data[offset : offset + self.block_size])
            index = run_end + 1

    def _store(self, index: int, data: bytes) -> None:
        self._blocks[index] = data
        self._cached += len(data)
        while self._cached > self.max_cached_bytes:
            _, old = self._blocks.popitem(last=False)
            self._cached -= len(old)

    # -- HTTP -----------------------------------------------------------------------------------

    def _probe(self) -> None:
        """Fetch block 0 (following redirects) and learn the size and validators of the file."""
        for _ in range(MAX_REDIRECTS + 1):
            want = self.block_size * self.fetch_blocks
            response = self._send(0, want - 1)
            status = response.status
            if status in REDIRECTS:
                location = response.getheader("Location")
                self._drop_connection()
                target = urljoin(self._target, location or "")
                if not location or not is_remote(target) or _invalid(target):
                    raise RemoteUnavailableError(
                        f"{display_url(self.url)} redirects to an unusable location ({display_url(target)!r})."
                    )
                if self._target[:6].lower() == "https:" and target[:6].lower() != "https:":
                    raise RemoteUnavailableError(
                        f"{display_url(self.url)} redirects from https to plain http ({display_url(target)}); refusing "
                        "to drop TLS. Use the https URL the server should serve."
                    )
                self._target = target
                continue
            self._etag = response.getheader("ETag")
            self._last_modified = response.getheader("Last-Modified")
            if status == 206:
                total = self._checked(check_range, response, 0, want - 1, None)
                self.size = total
                body = self._read_body(response, min(want, total))
                for k in range(0, len(body), self.block_size):
                    self._store(k // self.block_size, body[k : k + self.block_size])
            elif status == 416:
                match = UNSATISFIED_RANGE.fullmatch(response.getheader("Content-Range") or "")
                self._drop_connection()
                if not match or int(match.group(1)) != 0:
                    raise RemoteUnavailableError(f"{display_url(self.url)} refused a range request (HTTP 416).")
                self.size = 0
            elif status == 200:
                length = response.getheader("Content-Length")
                if length is None or not length.isdigit() or int(length) > want:
                    self._drop_connection()  # never read a whole file the server pushes at us
                    raise RemoteUnavailableError(
                        f"{display_url(self.url)} ignores HTTP Range requests, so reading it would download the whole "
                        "file. Serve it from a server that supports ranges (nginx, Apache, S3, most CDNs)."
                    )
                self._checked(check_encoding, response)
                self.size = int(length)  # a small file sent whole is fine: it is all we asked for
                body = self._read_body(response, self.size)
                for k in range(0, len(body), self.block_size):
                    self._store(k // self.block_size, body[k : k + self.block_size])
            else:
                self._raise_status(response)
            return
        raise RemoteUnavailableError(f"{display_url(self.url)} redirected more than {MAX_REDIRECTS} times.")

    def _fetch(self, lo: int, hi: int) -> bytes:
        """Bytes ``lo..hi`` (inclusive) of the file, checked against the first response."""
        if self._changed is not None:
            raise self._changed
        try:
            return self._fetch_checked(lo, hi)
        except RemoteFileChangedError as exc:
            self._changed = exc
            raise

    def _fetch_checked(self, lo: int, hi: int) -> bytes:
        response = self._send(lo, hi)
        if response.status != 206:
            self._drop_connection()
            if response.status == 200 or response.status == 416:
                raise RemoteFileChangedError(
                    f"{display_url(self.url)} answered HTTP {response.status} to a range request it served before: the "
                    "file was replaced or truncated while it was being read. Open the memory again."
                )
            self._raise_status(response)
        self._checked(check_validators, response, self._etag, self._last_modified)
        self._checked(check_range, response, lo, hi, self.size)
        return self._read_body(response, hi - lo + 1)

    def _connection(self) -> http.client.HTTPConnection:
        import http.client
        import ssl

        if self._conn is None:
            parts = check_url(self._target)
            host = parts.hostname or ""
            if parts.scheme.lower() == "https":
                self._conn = http.client.HTTPSConnection(
                    host, parts.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                self._conn = http.client.HTTPConnection(host, parts.port, timeout=self.timeout)
            self._conn_reused = False
        return self._conn

    def _drop_connection(self) -> None:
        self._end_request()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _end_request(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    def _past_deadline(self) -> bool:
        return self._watch is not None and self._watch.fired

    def _deadline_error(self) -> RemoteUnavailableError:
        self._drop_connection()
        return RemoteUnavailableError(
            f"{display_url(self.url)} did not finish one request within {self.deadline:g} s (the server sends too "
            f"slowly or stalls). Try again later, or allow more time with {DEADLINE_ENV}=<seconds>."
        )

    def _failed(self, exc: BaseException) -> RemoteUnavailableError:
        """The error for a request that failed with ``exc``: the deadline's if it has passed, else the server's."""
        if self._past_deadline():
            return self._deadline_error()
        self._drop_connection()
        return unavailable_error(self.url, exc, self.timeout)

    def _send(self, lo: int, hi: int) -> http.client.HTTPResponse:
        """Send ``GET`` with ``Range: bytes=lo-hi`` and return the response, its body not yet read."""
        import http.client

        parts = check_url(self._target)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"Range": f"bytes={lo}-{hi}", "Accept-Encoding": "identity", "User-Agent": "memvid-rag"}
        for attempt in range(2):
            conn = self._connection()
            reused = self._conn_reused
            self._end_request()
            self._watch = _Watchdog(self.deadline, conn)  # until the body is read (_read_body) or the connection dropped
            try:
                self.requests += 1
                conn.request("GET", path, headers=headers)
                self._watch.armed()
                response = conn.getresponse()
                self._conn_reused = True
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                if self._past_deadline():
                    raise self._deadline_error() from exc
                self._drop_connection()
                if reused and attempt == 0:
                    continue  # the server closed an idle keep-alive connection: one fresh try
                raise unavailable_error(self.url, exc, self.timeout) from exc
            except (OSError, http.client.HTTPException) as exc:
                raise self._failed(exc) from exc
            if self._past_deadline():
                raise self._deadline_error()
            return response
        raise AssertionError("unreachable")

    def _checked(self, check: Callable[..., _T], *args: Any) -> _T:
        """Run one of :mod:`range_http`'s checks on a response, dropping the connection if it fails.

        A refused response's body is never read, so the connection cannot carry another request.
        """
        try:
            return check(self.url, *args)
        except MemvidError:
            self._drop_connection()
            raise

    def _raise_status(self, response: http.client.HTTPResponse) -> NoReturn:
        error = status_error(self.url, response)
        self._drop_connection()  # the error body is never read
        raise error

    def _read_body(self, response: http.client.HTTPResponse, expected: int) -> bytes:
        """Read exactly ``expected`` body bytes, refusing a longer or shorter body."""
        import http.client

        self._checked(check_announced_length, response, expected)
        try:
            body = response.read(expected + 1)  # one more than asked: a longer body is detected, not buffered
        except (OSError, http.client.HTTPException) as exc:
            raise self._failed(exc) from exc
        if self._past_deadline():
            raise self._deadline_error()
        self._end_request()
        self.bytes_fetched += len(body)
        if len(body) != expected:
            self._drop_connection()
            raise RemoteUnavailableError(
                f"{display_url(self.url)} sent {len(body)} bytes for a {expected}-byte range (connection cut?). Try again."
            )
        if not response.isclosed():
            self._drop_connection()  # an unread tail would poison the next request on this connection
        return body


def default_deadline() -> float:
    """Seconds one request may take in all: ``$MEMVID_HTTP_DEADLINE`` when set to a positive number, else the default."""
    raw = os.environ.get(DEADLINE_ENV, "").strip()
    if not raw:
        return DEFAULT_DEADLINE
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise InvalidInputError(f"{DEADLINE_ENV}={raw!r} must be a positive number of seconds.")
    return value


def _invalid(url: str) -> bool:
    try:
        check_url(url)
    except InvalidInputError:
        return True
    return False


class _Watchdog:
    """Cuts one request's socket when its total deadline passes.

    The socket timeout bounds each read, not a request: a server sending a byte every few seconds
    would never trip it.  A timer shuts the socket down instead, which makes the blocked read return
    at once; the reader then sees :attr:`fired` and reports the deadline.
    """

    def __init__(self, seconds: float, conn: http.client.HTTPConnection) -> None:
        self.fired = False
        self._conn = conn
        self._start = time.monotonic()
        self._seconds = seconds
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        sock = self._conn.sock
        if sock is not None:
            try:
                import socket  # loaded by http.client already; not at module level, which local opens import

                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def armed(self) -> None:
        """Called once the socket exists: a deadline that passed while connecting cuts it now."""
        if time.monotonic() - self._start >= self._seconds:
            self._fire()

    def cancel(self) -> None:
        self._timer.cancel()
