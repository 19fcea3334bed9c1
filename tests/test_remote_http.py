"""Remote read-only memories: a real memory segment served by a real nginx, read with range requests.

nginx comes from ``bash scripts/install_nginx.sh``; without it these tests skip.  Byte counts are read
from nginx's own access log (``$body_bytes_sent``), not from the client.
"""

from __future__ import annotations

import functools
import http.server
import importlib
import os
import pydoc
import random
import shutil
import socket
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from nginx_server import NginxServer, nginx, require_nginx, serve_folder  # noqa: F401  (nginx is a fixture)

from memvid_base.chunking import chunk_text
from memvid_base.config import VideoSettings
from memvid_base.errors import CorruptMemoryError, InvalidInputError, MemvidError
from memvid_base.files.segments import plan_segment, write_plan
from memvid_base.format.opening import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_FETCH_SIZE,
    RangeFile,
    RemoteFileChangedError,
    RemoteUnavailableError,
    cache_dir_for,
    frame_timestamps,
    is_remote,
    open_remote,
    open_video,
    range_file_of,
)
from memvid_base.format.payload import Record
from memvid_base.format.qr import read_frame
from memvid_base.format.video import VideoReader

SETTINGS = VideoSettings.create("av1")
DOC_MODULES = ["argparse", "collections", "email.message", "http.client", "json", "os", "pathlib", "re", "subprocess"]


@dataclass
class Served:
    """The memory segment under test: where it is, on disk and on the server, and its frames' payloads."""

    path: Path
    url: str
    payloads: list[bytes]
    server: NginxServer

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def _real_text_records() -> list[Record]:
    """About a megabyte of real English: Python's help topics and the documentation of a few modules."""
    from core_fixtures import pydoc_chunks

    texts = pydoc_chunks()
    for name in DOC_MODULES:
        texts.extend(chunk_text(pydoc.plain(pydoc.TextDoc().document(importlib.import_module(name))), 512, 50))
    return [Record.make(f"c{k}", text, {"k": k}) for k, text in enumerate(dict.fromkeys(texts))]


@pytest.fixture(scope="module")
def served(nginx: NginxServer) -> Served:  # noqa: F811
    plan = plan_segment(_real_text_records(), SETTINGS)
    path = nginx.root / "kb.mp4"
    write_plan(plan, SETTINGS, path, version=1, relative_to=nginx.root)
    return Served(path, nginx.url_for("kb.mp4"), plan.payloads, nginx)


def read_at(container: av.container.InputContainer, pts: list[int], index: int) -> np.ndarray:
    """Frame ``index`` as VideoReader.read does it: seek to its pts (keyframes only) and check it landed."""
    stream = container.streams.video[0]
    target = pts[index]
    container.seek(target, stream=stream, backward=True, any_frame=False)
    for frame in container.decode(stream):
        if frame.pts is not None and frame.pts >= target:
            assert frame.pts == target, f"seek to frame {index} landed on pts {frame.pts}"
            return frame.to_ndarray(format="gray")
    raise AssertionError(f"frame {index} never decoded")


@pytest.fixture()
def remote_video(served: Served) -> Iterator[av.container.InputContainer]:
    container = open_video(served.url)
    yield container
    remote = range_file_of(container)
    container.close()
    assert remote is not None
    remote.close()


# -- (a) exact frames ---------------------------------------------------------------------------


def test_every_frame_decodes_through_range_requests_exactly_as_locally(
    served: Served, remote_video: av.container.InputContainer
) -> None:
    n = len(served.payloads)
    assert n >= 60 and served.size > 250_000  # many frames, a few hundred KB: a cold read is a small part of it
    local = open_video(served.path)
    try:
        local_pts = frame_timestamps(local)
        remote_pts = frame_timestamps(remote_video)
        assert remote_pts == local_pts and len(remote_pts) == n
        order = list(range(n))
        random.Random(12).shuffle(order)  # random access, as a search does it
        for index in order:
            remote_payload = read_frame(read_at(remote_video, remote_pts, index), SETTINGS.qr_backend)
            local_payload = read_frame(read_at(local, local_pts, index), SETTINGS.qr_backend)
            assert remote_payload == local_payload == served.payloads[index], f"frame {index} differs"
    finally:
        local.close()
    remote = range_file_of(remote_video)
    assert remote is not None and remote.bytes_fetched <= served.size  # every block was fetched at most once


def test_sequential_decode_through_range_requests(served: Served, remote_video: av.container.InputContainer) -> None:
    payloads = [read_frame(f.to_ndarray(format="gray"), SETTINGS.qr_backend) for f in remote_video.decode(video=0)]
    assert payloads == served.payloads


def test_range_file_reads_the_exact_bytes_with_a_tiny_cache(served: Served) -> None:
    expected = served.path.read_bytes()
    with open_remote(served.url, block_size=4096, max_cached_bytes=8192) as remote:
        assert remote.size == len(expected) and remote.seekable() and remote.readable()
        assert remote.read() == expected  # readall loops over short reads: the cache never holds two blocks more
        assert remote.bytes_fetched == len(expected)
        for offset, length in [(0, 10), (len(expected) - 5, 100), (5000, 20000), (4095, 2), (len(expected), 7)]:
            remote.seek(offset)
            data = remote.read(length)  # a raw read may be short (at most the cache), never wrong
            assert data == expected[offset : offset + len(data)] and (data or offset == len(expected))
            assert remote.tell() == offset + len(data)
        assert remote.seek(-3, os.SEEK_END) == len(expected) - 3 and remote.read() == expected[-3:]
        with pytest.raises(ValueError):
            remote.seek(-1)
    with pytest.raises(ValueError):
        remote.read(1)  # closed


# -- (b) a cold read costs a few frames, not the file ---------------------------------------------


def test_cold_random_reads_transfer_a_few_frames_not_the_file(served: Served) -> None:
    served.server.clear_log()
    container = open_video(served.url)
    remote = range_file_of(container)
    assert remote is not None
    try:
        pts = frame_timestamps(container)
        opened = served.server.bytes_sent("/kb.mp4")
        n = len(pts)
        for index in (n // 5, n // 2, 4 * n // 5):
            assert read_frame(read_at(container, pts, index), SETTINGS.qr_backend) == served.payloads[index]
    finally:
        container.close()
        remote.close()
    entries = [e for e in served.server.log_entries() if e.path == "/kb.mp4"]
    sent = sum(e.body_bytes_sent for e in entries)
    assert all(e.status == 206 and e.range is not None for e in entries)  # never a whole-file 200
    assert sent == remote.bytes_fetched  # the client's count agrees with the server's log
    assert len(entries) == remote.requests
    frame_bytes = (sent - opened) / 3
    print(
        f"\ncold open + 3 frames: {sent} of {served.size} bytes ({100 * sent / served.size:.1f}%), "
        f"{len(entries)} requests; open {opened} B, {frame_bytes:.0f} B per frame "
        f"(mean frame {served.size / n:.0f} B; block {DEFAULT_BLOCK_SIZE} B, fetch {DEFAULT_FETCH_SIZE} B)"
    )
    assert sent < 0.25 * served.size
    assert frame_bytes <= DEFAULT_FETCH_SIZE + 2 * DEFAULT_BLOCK_SIZE


def test_the_video_reader_reads_packets_over_range_requests(served: Served) -> None:
    served.server.clear_log()
    remote_reader, local_reader = VideoReader(served.url), VideoReader(served.path)
    try:
        n = len(served.payloads)
        for index in (n // 5, n // 2, 4 * n // 5, 1):
            got = remote_reader.read(index)
            assert np.array_equal(got, local_reader.read(index)), f"frame {index} differs from the local file"
            assert read_frame(got, SETTINGS.qr_backend) == served.payloads[index]
        assert remote_reader._packets is not None  # the packet path, not a seek, was taken over HTTP
        remote = range_file_of(remote_reader._container)  # type: ignore[arg-type]
        assert remote is not None
        fetched = remote.bytes_fetched
    finally:
        remote_reader.close()
        local_reader.close()
    sent = sum(e.body_bytes_sent for e in served.server.log_entries() if e.path == "/kb.mp4")
    assert sent == fetched and sent < 0.25 * served.size  # a few frames, not the file


# -- (c) server down, slow or broken -------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_a_clear_error() -> None:
    with pytest.raises(RemoteUnavailableError, match="refused the connection"):
        open_remote(f"http://127.0.0.1:{_closed_port()}/kb.mp4")


def test_server_stopping_mid_read_is_a_clear_error(served: Served, tmp_path: Path) -> None:
    with serve_folder(served.path.parent, tmp_path / "nginx") as second:
        remote = open_remote(second.url_for("kb.mp4"))
        container = open_video(remote)
        pts = frame_timestamps(container)
        second.stop()
        with pytest.raises(RemoteUnavailableError, match=r"127\.0\.0\.1"):
            read_at(container, pts, len(pts) - 2)  # not cached: needs the server
        container.close()
        remote.close()


def test_a_silent_server_times_out() -> None:
    with socket.socket() as listener:  # accepts connections (the kernel's backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        with pytest.raises(RemoteUnavailableError, match=r"timed out after 0\.3 s"):
            open_remote(f"http://127.0.0.1:{port}/kb.mp4", timeout=0.3)


def test_http_errors_say_what_happened(served: Served) -> None:
    with pytest.raises(RemoteUnavailableError, match=r"HTTP 404.*check the URL"):
        open_remote(served.server.url_for("missing.mp4"))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _Hostile(http.server.BaseHTTPRequestHandler):
    """Answers every range request with one scripted lie."""

    mode = ""

    def do_GET(self) -> None:
        size, body = 100_000, b"x" * 40_000
        self.send_response(206)
        if self.mode == "wrong-range":
            self.send_header("Content-Range", f"bytes 1000-2023/{size}")
            self.send_header("Content-Length", "1024")
        elif self.mode == "too-long":
            self.send_header("Content-Range", f"bytes 0-{DEFAULT_FETCH_SIZE - 1}/{size}")
            self.send_header("Content-Length", str(len(body)))
        elif self.mode == "gzip":
            self.send_header("Content-Range", f"bytes 0-{DEFAULT_FETCH_SIZE - 1}/{size}")
            self.send_header("Content-Encoding", "gzip")
        elif self.mode == "no-range":
            self.send_header("Content-Length", str(DEFAULT_FETCH_SIZE))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client hung up, as it should

    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client hanging up on a body it refused is the point of these tests


@contextmanager
def python_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A Python HTTP server on 127.0.0.1 in a thread; yields its base URL."""
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("wrong-range", f"sent bytes 1000-2023 when 0-{DEFAULT_FETCH_SIZE - 1} were asked for"),
        ("too-long", f"announced a '40000'-byte body for a {DEFAULT_FETCH_SIZE}-byte range"),
        ("gzip", "'gzip'-encoded body"),
        ("no-range", "without a usable Content-Range"),
    ],
)
def test_a_lying_server_is_refused(mode: str, message: str) -> None:
    handler = type("Scripted", (_Hostile,), {"mode": mode})
    with python_server(handler) as base, pytest.raises(RemoteUnavailableError, match=message):
        open_remote(f"{base}/kb.mp4")


def test_a_server_that_ignores_range_is_refused_before_downloading(served: Served) -> None:
    handler = functools.partial(_Quiet, directory=str(served.path.parent))
    with python_server(handler) as base:  # type: ignore[arg-type]
        with pytest.raises(RemoteUnavailableError, match="ignores HTTP Range"):
            open_remote(f"{base}/kb.mp4")


def _redirecting_to(location: str) -> type[http.server.BaseHTTPRequestHandler]:
    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Redirect


def test_redirects_are_followed_to_the_file_and_loops_refused(served: Served) -> None:
    with python_server(_redirecting_to(served.url)) as base, open_remote(f"{base}/kb.mp4") as remote:
        assert remote.size == served.size and remote.requests == 2
        remote.seek(served.size - 100)
        assert remote.read(100) == served.path.read_bytes()[-100:]
    with python_server(_redirecting_to("/again")) as base:
        with pytest.raises(RemoteUnavailableError, match="redirected more than"):
            open_remote(f"{base}/kb.mp4")
    with python_server(_redirecting_to("file:///etc/passwd")) as base:
        with pytest.raises(RemoteUnavailableError, match="unusable location"):
            open_remote(f"{base}/kb.mp4")


def test_a_small_file_sent_whole_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "small.bin").write_bytes(b"tiny file" * 100)  # smaller than one fetch: a 200 is all we asked for
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    with python_server(handler) as base, open_remote(f"{base}/small.bin") as remote:  # type: ignore[arg-type]
        assert remote.size == 900 and remote.read() == b"tiny file" * 100 and remote.requests == 1


# -- (d) the file changes under the reader --------------------------------------------------------


def test_a_file_replaced_between_reads_is_detected(served: Served) -> None:
    path = served.path.parent / "changing.mp4"
    shutil.copyfile(served.path, path)
    try:
        container = open_video(served.server.url_for(path.name))
        remote = range_file_of(container)
        assert remote is not None
        pts = frame_timestamps(container)
        assert read_frame(read_at(container, pts, 1), SETTINGS.qr_backend) == served.payloads[1]
        # Same bytes, new modification time: nginx's ETag and Last-Modified change, so the reader must stop.
        stamp = path.stat().st_mtime + 100
        os.utime(path, (stamp, stamp))
        with pytest.raises(RemoteFileChangedError, match=r"changed while it was being read.*Open the memory again"):
            read_at(container, pts, len(pts) - 3)
        requests = remote.requests
        with pytest.raises(RemoteFileChangedError):
            read_at(container, pts, len(pts) - 10)  # stays failed, without asking the server again
        assert remote.requests == requests
        container.close()
        remote.close()

        remote = open_remote(served.server.url_for(path.name))
        with open(path, "r+b") as fh:  # now truncated to half: a different size
            fh.truncate(served.size // 2)
        remote.seek(served.size - 10)
        with pytest.raises(RemoteFileChangedError) as info:
            remote.read(5)
        assert isinstance(info.value, CorruptMemoryError)
        remote.close()
    finally:
        path.unlink()


# -- (e) names and caches -------------------------------------------------------------------------


def test_is_remote() -> None:
    assert is_remote("http://host/kb.mp4") and is_remote("HTTPS://host/kb.mp4")
    assert not is_remote("kb.mp4") and not is_remote("/data/kb.mp4") and not is_remote("ftp://host/kb.mp4")
    assert not is_remote(Path("http://host/kb.mp4"))  # a Path collapses "//": never a URL
    assert not is_remote("s3://bucket/kb.mp4") and not is_remote("httpx://host")
    with pytest.raises(InvalidInputError):
        RangeFile("kb.mp4")
    with pytest.raises(InvalidInputError):
        RangeFile("http://127.0.0.1:1/kb.mp4", block_size=10)


def test_cache_dir_for_is_private_stable_and_per_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMVID_CACHE_DIR", str(tmp_path / "override"))
    url = "https://files.example.org/kb.mp4"
    folder = cache_dir_for(url)
    assert folder.parent == tmp_path / "override" and len(folder.name) == 16 and int(folder.name, 16) >= 0
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert cache_dir_for(url) == folder  # stable
    assert cache_dir_for(url + "?v=2") != folder and cache_dir_for("https://other.org/kb.mp4") != folder
    assert cache_dir_for(tmp_path / "kb.mp4") == cache_dir_for(str(tmp_path / "x" / ".." / "kb.mp4"))

    monkeypatch.delenv("MEMVID_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir_for(url) == tmp_path / "xdg" / "memvid" / folder.name
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir_for(url) == tmp_path / "home" / ".cache" / "memvid" / folder.name


def test_cache_dir_for_refuses_a_symlink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMVID_CACHE_DIR", str(tmp_path / "cache"))
    url = "http://host/kb.mp4"
    victim = tmp_path / "elsewhere"
    victim.mkdir()
    real = cache_dir_for(url)
    real.rmdir()
    real.symlink_to(victim)
    with pytest.raises(MemvidError, match="not a folder"):
        cache_dir_for(url)
