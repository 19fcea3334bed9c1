"""The HTTP side of reading a remote memory: its errors, and the checks every range response must pass.

Everything a server sends is judged here before it is trusted: the status, ``Content-Range``,
``Content-Length``, ``Content-Encoding`` and the validators (``ETag``, ``Last-Modified``) of the
first answer.  Each check raises one of this module's errors with a message that names the URL
(never its credentials or query string) and the fix; closing the connection is the caller's job.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from ..errors import CorruptMemoryError, InvalidInputError, MemvidError

if TYPE_CHECKING:  # http.client and ssl load with the first request: a local memory never needs them
    import http.client

CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
UNSATISFIED_RANGE = re.compile(r"bytes \*/(\d+)")
REDIRECTS = (301, 302, 303, 307, 308)


class RemoteUnavailableError(MemvidError):
    """A remote memory could not be reached or answered badly (refused, timed out, HTTP error, no range support)."""


class RemoteFileChangedError(CorruptMemoryError):
    """A remote memory changed while it was being read: its size, ETag or Last-Modified no longer match."""


def is_remote(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is an ``http://`` or ``https://`` URL (a ``Path`` never is: it collapses ``//``)."""
    if isinstance(path, os.PathLike):
        return False
    return isinstance(path, str) and path[:8].lower().startswith(("http://", "https://"))


def check_url(url: str) -> SplitResult:
    """Split an http(s) URL, refusing one that cannot be requested: no host, a bad port, broken brackets.

    Raises:
        InvalidInputError: the URL is malformed (``urlsplit`` and ``.port`` raise a bare ``ValueError``).
    """
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError for a port out of 0-65535 or not a number
        host = parts.hostname
    except ValueError as exc:
        raise InvalidInputError(f"{_shown_url(url)} is not a valid URL ({exc}). Check it and try again.") from exc
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise InvalidInputError(f"{_shown_url(url)} is not an http:// or https:// URL with a host name.")
    if port == 0:
        raise InvalidInputError(f"{_shown_url(url)} is not a usable URL: port 0 is no server's port.")
    return parts


def _shown_url(url: str) -> str:
    """A malformed URL for a message: cut before any query string, and short."""
    text = url.partition("?")[0].partition("#")[0]
    if "@" in text.partition("//")[2].partition("/")[0]:  # drop credentials
        scheme, _, rest = text.partition("//")
        text = f"{scheme}//{rest.partition('@')[2]}"
    return repr(text if len(text) <= 200 else text[:197] + "...")


def display_url(url: str) -> str:
    """The URL without credentials or query string, which may hold secrets (presigned URLs), for messages."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return _shown_url(url)
    return f"{parts.scheme}://{host}{parts.path}"


def unavailable_error(url: str, exc: BaseException, timeout: float) -> RemoteUnavailableError:
    """The error for a request to ``url`` that failed with ``exc`` (timeout, refusal, DNS, TLS...)."""
    import socket  # only here: every local open imports this module (is_remote), and socket costs it 4 ms

    if isinstance(exc, (TimeoutError, socket.timeout)):
        why = f"timed out after {timeout:g} s"
    elif isinstance(exc, ConnectionRefusedError):
        why = "refused the connection (is the server running?)"
    elif isinstance(exc, socket.gaierror):
        why = f"could not be resolved ({exc})"
    elif (ssl := sys.modules.get("ssl")) is not None and isinstance(exc, ssl.SSLError):  # loaded by any TLS request
        why = f"failed the TLS handshake ({exc})"
    else:
        why = f"failed ({type(exc).__name__}: {exc})"
    return RemoteUnavailableError(
        f"{display_url(url)} {why}. Check the URL and the network, then try again; a remote memory is "
        "read only while its server answers."
    )


def status_error(url: str, response: http.client.HTTPResponse) -> RemoteUnavailableError:
    """The error for an HTTP status that is neither a range answer nor a redirect."""
    status, reason = response.status, response.reason
    hint = {
        404: "The file is not there: check the URL.",
        401: "The server wants credentials.",
        403: "The server refuses access: check permissions or the presigned URL's expiry.",
    }.get(status, "Try again later, or check the server's logs.")
    return RemoteUnavailableError(f"{display_url(url)} answered HTTP {status} {reason}. {hint}")


def check_encoding(url: str, response: http.client.HTTPResponse) -> None:
    """Refuse a compressed body: byte ranges of it are not the file's."""
    encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise RemoteUnavailableError(
            f"{display_url(url)} sent a {encoding!r}-encoded body although identity was asked for; "
            "byte ranges of it are not the file's. Turn compression off for .mp4 files."
        )


def check_validators(url: str, response: http.client.HTTPResponse, etag: str | None, last_modified: str | None) -> None:
    """Refuse a response whose ``ETag`` or ``Last-Modified`` differ from the first answer's."""
    new_etag, modified = response.getheader("ETag"), response.getheader("Last-Modified")
    if new_etag != etag or modified != last_modified:
        raise RemoteFileChangedError(
            f"{display_url(url)} changed while it was being read (ETag {etag!r} -> {new_etag!r}, "
            f"Last-Modified {last_modified!r} -> {modified!r}). Open the memory again."
        )


def check_range(url: str, response: http.client.HTTPResponse, lo: int, hi: int, size: int | None) -> int:
    """Check that a 206 answers exactly ``lo..hi`` (clipped to the file); return the file's total size."""
    check_encoding(url, response)
    header = response.getheader("Content-Range") or ""
    match = CONTENT_RANGE.fullmatch(header.strip())
    if not match:
        raise RemoteUnavailableError(
            f"{display_url(url)} answered a range request without a usable Content-Range ({header!r})."
        )
    first, last, total = (int(g) for g in match.groups())
    if size is not None and total != size:
        raise RemoteFileChangedError(
            f"{display_url(url)} changed size while it was being read ({size} -> {total} bytes). Open the memory again."
        )
    if first != lo or last != min(hi, total - 1) or last < first:
        raise RemoteUnavailableError(
            f"{display_url(url)} sent bytes {first}-{last} when {lo}-{hi} were asked for; refusing it."
        )
    return total


def check_announced_length(url: str, response: http.client.HTTPResponse, expected: int) -> None:
    """Refuse a body whose ``Content-Length`` is not the ``expected`` size, before reading any of it."""
    length = response.getheader("Content-Length")
    if length is not None and (not length.strip().isdigit() or int(length) != expected):
        raise RemoteUnavailableError(
            f"{display_url(url)} announced a {length!r}-byte body for a {expected}-byte range; refusing it."
        )
