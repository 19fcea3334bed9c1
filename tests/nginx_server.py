"""A real nginx on 127.0.0.1 for tests and benchmarks: serves one folder, honours Range, logs bytes sent.

Python's ``http.server`` ignores ``Range``, so remote-memory tests need a real server.  Debian's nginx
(``bash scripts/install_nginx.sh``) is started in the foreground with a generated config whose every
path (pid, logs, temp folders) lives in a private work folder, so it never touches the system's
nginx.  Use :func:`serve_folder` as a context manager, or the ``nginx`` pytest fixture (module
scope) which serves a fresh folder, ``nginx.root``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

NGINX = Path("/usr/sbin/nginx")
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
_SYNC_PATH = "/__memvid_log_sync__/"
_FIELDS = ("msec", "request", "status", "http_range", "body_bytes_sent")


@dataclass(frozen=True)
class LogEntry:
    """One access-log line: the request line, its status, the Range header asked for and body bytes sent."""

    request: str
    status: int
    range: str | None
    body_bytes_sent: int

    @property
    def path(self) -> str:
        parts = self.request.split(" ")
        return parts[1] if len(parts) > 1 else ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(root: Path, work: Path, port: int) -> str:
    user = "user root;\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
    temps = "\n".join(
        f"    {name}_temp_path {work / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    log_format = "\t".join(f"${field}" for field in _FIELDS)  # tab-separated: nginx escapes tabs inside values
    return f"""daemon off;
{user}worker_processes 1;
pid {work / "nginx.pid"};
error_log {work / "error.log"} warn;
events {{ worker_connections 64; }}
http {{
    types {{ video/mp4 mp4; application/json json; }}
    default_type application/octet-stream;
{temps}
    log_format memvid '{log_format}';
    access_log {work / "access.log"} memvid;
    keepalive_timeout 30s;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {root};
        location / {{ }}
    }}
}}
"""


class NginxServer:
    """One nginx serving ``root`` on ``127.0.0.1:port``; its config, logs and temp files live in ``work``."""

    def __init__(self, root: Path, work: Path) -> None:
        self.root = Path(root).resolve()
        self.work = Path(work).resolve()
        self.port = 0
        self._syncs = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def access_log(self) -> Path:
        return self.work / "access.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start nginx on a free port and wait (at most ``START_TIMEOUT_S``) until it accepts connections."""
        if not NGINX.exists():
            raise RuntimeError(f"{NGINX} is missing: run scripts/install_nginx.sh")
        self.work.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):  # the free port may be taken between choosing and binding it
            self.port = _free_port()
            conf = self.work / "nginx.conf"
            conf.write_text(_config(self.root, self.work, self.port))
            self._process = subprocess.Popen(
                [str(NGINX), "-p", str(self.work), "-c", str(conf), "-e", str(self.work / "error.log")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if self._wait_ready():
                return
            self.stop()
            if attempt == 2:
                break
        errors = (self.work / "error.log").read_text(errors="replace") if (self.work / "error.log").exists() else ""
        raise RuntimeError(f"nginx did not start on 127.0.0.1:{self.port}: {errors[-2000:]}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop nginx (SIGTERM, then SIGKILL after ``STOP_TIMEOUT_S``) and wait for it; idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        if process.stderr is not None:
            process.stderr.close()

    def url_for(self, name: str) -> str:
        """The URL of ``root/name``."""
        return f"http://127.0.0.1:{self.port}/{quote(name)}"

    def sync(self) -> None:
        """Wait until every request nginx has answered is in its access log.

        nginx logs a request just after sending its last byte, so a client can read a response before
        its log line exists.  One worker handles events in order: once a marker request made now is
        logged, every earlier one is too.  Bounded by ``START_TIMEOUT_S``; a no-op when nginx is down.
        """
        if not self.running:
            return
        self._syncs += 1
        marker = f"{_SYNC_PATH}{self._syncs}"
        with socket.create_connection(("127.0.0.1", self.port), timeout=START_TIMEOUT_S) as sock:
            sock.sendall(f"GET {marker} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
            while sock.recv(65536):
                pass
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if f"GET {marker} " in self._read_log():
                return
            time.sleep(0.01)
        raise RuntimeError(f"nginx did not log {marker} within {START_TIMEOUT_S} s")

    def _read_log(self) -> str:
        return self.access_log.read_text(errors="replace") if self.access_log.exists() else ""

    def log_entries(self) -> list[LogEntry]:
        """Every request answered so far, oldest first (after :meth:`sync`; its own markers left out)."""
        self.sync()
        entries = []
        for line in self._read_log().splitlines():
            fields = line.split("\t")
            if len(fields) != len(_FIELDS) or f" {_SYNC_PATH}" in fields[1]:
                continue
            _, request, status, range_, sent = fields
            entries.append(LogEntry(request, int(status), None if range_ == "-" else range_, int(sent)))
        return entries

    def clear_log(self) -> None:
        """Forget the requests answered so far (nginx appends, so truncating is safe)."""
        self.sync()
        if self.access_log.exists():
            with open(self.access_log, "r+b") as fh:
                fh.truncate(0)

    def bytes_sent(self, path: str | None = None) -> int:
        """Body bytes sent so far, for every request or only those for ``path`` (e.g. ``"/kb.mp4"``)."""
        return sum(e.body_bytes_sent for e in self.log_entries() if path is None or e.path == path)


@contextmanager
def serve_folder(root: Path, work: Path) -> Iterator[NginxServer]:
    """Serve ``root`` with nginx for the duration of the ``with`` block; ``work`` holds its config and logs."""
    server = NginxServer(root, work)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def require_nginx() -> None:
    """Skip the calling test when nginx is not installed."""
    if not NGINX.exists():
        pytest.skip(f"{NGINX} is missing: run `bash scripts/install_nginx.sh` to install Debian's nginx")


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxServer]:
    """An nginx serving a fresh, empty folder ``nginx.root``; stopped when the module's tests are done."""
    require_nginx()
    root = tmp_path_factory.mktemp("www")
    with serve_folder(root, tmp_path_factory.mktemp("nginx")) as server:
        yield server
