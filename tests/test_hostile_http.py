"""Remote memories against hostile servers and malformed URLs: a clear MemvidError, quickly.

Servers here are tiny Python sockets on 127.0.0.1; deadlines are passed short so each test takes
about a second.
"""

from __future__ import annotations

import http.server
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from core_fixtures import hash_embed

from memvid_base import InvalidInputError, Memory, MemvidError
from memvid_base.remote import RemoteUnavailableError, open_remote
from memvid_base.remote.cache_dirs import cache_dir_for
from memvid_base.remote.range_file import RangeFile


@contextmanager
def trickling_server(seconds: float = 2.0) -> Iterator[str]:
    """Answers each request with a valid 206 head and an 8 KiB body, one byte every 20 ms, then hangs up.

    Each byte comes well within any socket timeout, so only a total deadline stops the reader early.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            head = b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-8191/100000\r\nContent-Length: 8192\r\n\r\n"
            conn.sendall(head)
            end = time.monotonic() + seconds
            while time.monotonic() < end and not stop.is_set():
                try:
                    conn.sendall(b"x")
                except OSError:
                    return
                time.sleep(0.02)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/kb.mp4"
    finally:
        stop.set()
        listener.close()


class Ranges(http.server.BaseHTTPRequestHandler):
    """Serves ``data`` with exact range answers."""

    data = b""

    def do_GET(self) -> None:
        lo, hi = (int(x) for x in self.headers["Range"].removeprefix("bytes=").split("-"))
        hi = min(hi, len(self.data) - 1)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {lo}-{hi}/{len(self.data)}")
        self.send_header("Content-Length", str(hi - lo + 1))
        self.end_headers()
        self.wfile.write(self.data[lo : hi + 1])

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_trickling_server_is_cut_at_the_requests_deadline() -> None:
    with trickling_server() as url:
        start = time.monotonic()
        with pytest.raises(RemoteUnavailableError, match=r"did not finish one request within 0\.5 s.*MEMVID_HTTP_DEADLINE"):
            open_remote(url, timeout=0.3, deadline=0.5)
        assert time.monotonic() - start < 1.5


def test_memory_over_a_trickling_server_fails_at_the_deadline_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMVID_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MEMVID_HTTP_DEADLINE", "0.5")
    with trickling_server() as url:
        start = time.monotonic()
        with pytest.raises(RemoteUnavailableError, match=r"within 0\.5 s"):
            Memory(url, embedding_model=hash_embed)
        assert time.monotonic() - start < 1.5
    monkeypatch.setenv("MEMVID_HTTP_DEADLINE", "soon")
    with pytest.raises(InvalidInputError, match="MEMVID_HTTP_DEADLINE"):
        open_remote("http://127.0.0.1:9/kb.mp4")


MALFORMED = [
    "http://127.0.0.1:99999/kb.mp4",  # port out of range
    "http://127.0.0.1:abc/kb.mp4",  # port not a number
    "http://[::1/kb.mp4",  # unclosed IPv6 bracket
    "http:///kb.mp4",  # no host
    "http://127.0.0.1:0/kb.mp4",  # port 0
]


@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_url_is_invalid_input_everywhere(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMVID_CACHE_DIR", str(tmp_path / "cache"))
    for call in (lambda: open_remote(url), lambda: cache_dir_for(url), lambda: Memory(url, embedding_model=hash_embed)):
        with pytest.raises(InvalidInputError, match="URL"):
            call()
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())  # nothing made for it


def test_credentials_in_a_malformed_url_stay_out_of_the_message() -> None:
    with pytest.raises(InvalidInputError) as info:
        open_remote("http://user:s3cret@127.0.0.1:99999/kb.mp4?token=abc")
    assert "s3cret" not in str(info.value) and "token" not in str(info.value)


class _Scripted:
    """A response whose status and headers the test sets: enough for RangeFile's redirect handling."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status, self.reason, self._headers = status, "Found", headers

    def getheader(self, name: str, default: Any = None) -> Any:
        return self._headers.get(name, default)


def test_a_redirect_from_https_to_http_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Policy: redirects to another host are followed (CDNs, release downloads); dropping TLS is not."""
    monkeypatch.setattr(RangeFile, "_send", lambda self, lo, hi: _Scripted(302, {"Location": "http://cdn.example/kb.mp4"}))
    with pytest.raises(RemoteUnavailableError, match="from https to plain http"):
        RangeFile("https://memory.example/kb.mp4")


def test_a_redirect_to_another_origin_is_followed_and_reported(tmp_path: Path) -> None:
    from test_remote_http import _redirecting_to, python_server

    body = os.urandom(3000)

    class Whole(Ranges):
        data = body

    with python_server(Whole) as target, python_server(_redirecting_to(f"{target}/kb.mp4")) as origin:
        with open_remote(f"{origin}/kb.mp4") as remote:
            assert remote.read() == body
            assert remote.final_url == f"{target}/kb.mp4" and remote.url == f"{origin}/kb.mp4"


def test_an_error_from_a_remote_memory_is_a_memvid_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMVID_CACHE_DIR", str(tmp_path / "cache"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(MemvidError):
        Memory(f"http://127.0.0.1:{port}/kb.mp4", embedding_model=hash_embed)
