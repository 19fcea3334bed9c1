"""An MCP (Model Context Protocol) server over one memory, so any AI app can search it.

``memvid mcp kb.mp4`` serves over stdio (what Claude Desktop, Cursor and IDE agents spawn);
``--http`` serves streamable HTTP on 127.0.0.1. Binding another interface needs an explicit
``--host`` and then a bearer token, checked on every request before the MCP layer sees it.

Tools: ``search``, ``get``, ``info`` always; ``add`` and ``delete`` do something only with
``--writable`` (otherwise they answer with an error result saying so). Resources:
``memvid://info`` and ``memvid://history``. Every text returned was decoded from the video.

Needs the ``mcp`` extra: ``pip install 'memvid-rag[mcp]'``.
"""

from __future__ import annotations

import hmac
import io
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Annotated, Any, Literal, cast

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import ErrorData, JSONRPCError, ToolAnnotations
from pydantic import Field

from .. import __version__
from ..errors import InvalidInputError, MemvidError
from ..memory import Chunk, Memory
from ..present import chunk_record, source_label
from .cli_common import resolve_embedding_model  # noqa: F401  (its old home; the CLI shares it)

TOKEN_ENV = "MEMVID_MCP_TOKEN"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_TOP_K = 100
SEARCH_MODES = ("vector", "keyword", "hybrid")
MAX_IDS = 1000
MAX_TEXTS = 1000
RESULT_KEYS = ("id", "text", "score", "source", "frame", "segment", "metadata")
READ_ONLY_MESSAGE = "This memory is served read-only: restart the server with `memvid mcp MEMORY --writable` to allow {op}."

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def chunk_result(chunk: Chunk) -> dict[str, Any]:
    """A chunk as the JSON object the tools return: id, text, score, source, frame, segment, metadata.

    ``source`` is :func:`memvid_base.present.source_label` (``apollo_11.md, page 2``), or
    ``segment <uid>`` for a chunk with no file, source or title in its metadata.
    """
    record = chunk_record(0, chunk)
    record["source"] = source_label(chunk.metadata, f"segment {chunk.segment}")
    return {key: record[key] for key in RESULT_KEYS}


def _tool_error(exc: Exception) -> ToolError:
    return ToolError(" ".join(str(exc).split()) or type(exc).__name__)


async def _run(fn: Callable[[], Any]) -> Any:
    """Run blocking memory work in a thread, so one slow decode never stalls other sessions."""
    try:
        return await anyio.to_thread.run_sync(fn)
    except (MemvidError, ValueError, TypeError, KeyError) as exc:  # Chroma reports bad filters as ValueError
        raise _tool_error(exc) from exc
    except OSError as exc:  # a full disk during a write: the client is told why, not "Error executing tool"
        raise _tool_error(exc) from exc


def _check_ids(ids: list[str]) -> list[str]:
    if not ids:
        raise ToolError("ids must be a non-empty list of chunk ids.")
    if len(ids) > MAX_IDS:
        raise ToolError(f"At most {MAX_IDS} ids per call, got {len(ids)}.")
    return ids


def build_server(memory: Memory, *, writable: bool = False) -> MCPServer:
    """An :class:`MCPServer` with the memory's tools and resources registered.

    Args:
        memory: The open memory to serve.
        writable: Whether ``add`` and ``delete`` may change it.

    Returns:
        The server, ready for ``run()`` or ``streamable_http_app()``.
    """
    server: MCPServer = MCPServer(
        name="memvid",
        version=__version__,
        instructions=(
            f"A memvid memory ({memory.video_path.name}): text chunks stored as QR codes in video. "
            "Use `search` to find passages and cite each by its `source`; texts are decoded from the video."
        ),
        log_level="WARNING",
    )
    read_only = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
    writes = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
    removes = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)
    disabled = "" if writable else " Disabled: this server is read-only (start it with --writable)."

    @server.tool(annotations=read_only)
    async def search(
        query: Annotated[str, Field(description="What to look for, in natural language.")],
        top_k: Annotated[int, Field(description=f"How many chunks to return (1-{MAX_TOP_K}).")] = 5,
        mode: Annotated[
            Literal["vector", "keyword", "hybrid"],
            Field(description='"vector" ranks by meaning, "keyword" by exact words (BM25), "hybrid" fuses both '
                              "(best for names, identifiers and error codes)."),
        ] = "vector",
        where: Annotated[dict[str, Any] | None, Field(description='Chroma metadata filter, e.g. {"file": "a.md"}.')] = None,
        where_document: Annotated[
            dict[str, Any] | None,
            Field(description='Filter on the text, as in Chroma: {"$contains": "zstd"}, {"$not_contains": "gzip"}, '
                              'or {"$and": [...]} / {"$or": [...]} of them (case-sensitive substrings).'),
        ] = None,
    ) -> list[dict[str, Any]]:
        """Search the memory. Returns chunks best first: id, text, score (0-1), source, frame, segment, metadata."""
        if not query.strip():
            raise ToolError("query must be a non-empty string.")
        if isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
            raise ToolError(f"top_k must be an integer from 1 to {MAX_TOP_K}, got {top_k!r}.")
        if mode not in SEARCH_MODES:  # the schema says so too; a client may not check it
            raise ToolError(f"mode must be one of {', '.join(SEARCH_MODES)}, got {mode!r}.")
        chunks = await _run(lambda: memory.search(query, top_k, where or None, mode=mode,
                                                  where_document=where_document or None))
        return [chunk_result(c) for c in chunks]

    @server.tool(annotations=read_only)
    async def get(
        ids: Annotated[list[str], Field(description=f"Chunk ids (at most {MAX_IDS}).")],
    ) -> list[dict[str, Any]]:
        """Fetch chunks by id, in the order asked; unknown ids are left out."""
        _check_ids(ids)
        chunks = await _run(lambda: memory.get_by_ids(ids))
        return [chunk_result(c) for c in chunks]

    @server.tool(annotations=read_only)
    async def info() -> dict[str, Any]:
        """Figures about the memory: chunks, frames, versions, codec, sizes, embedding model."""
        return dict(await _run(memory.info))

    @server.tool(annotations=writes, description="Add text chunks as one new version; returns their ids." + disabled)
    async def add(
        texts: Annotated[list[str], Field(description=f"The texts to add (at most {MAX_TEXTS}).")],
        metadatas: Annotated[
            list[dict[str, Any]] | None, Field(description="One metadata object per text, e.g. {\"file\": \"notes.md\"}.")
        ] = None,
        ids: Annotated[list[str] | None, Field(description="One id per text; an existing id is replaced.")] = None,
    ) -> dict[str, Any]:
        if not writable:
            raise ToolError(READ_ONLY_MESSAGE.format(op="add"))
        if not texts:
            raise ToolError("texts must be a non-empty list of strings.")
        if len(texts) > MAX_TEXTS:
            raise ToolError(f"At most {MAX_TEXTS} texts per call, got {len(texts)}.")
        new_ids = await _run(lambda: memory.add(texts, metadatas=metadatas, ids=ids))
        return {"ids": list(new_ids), "version": memory.version}

    @server.tool(annotations=removes, description="Delete chunks by id as one new version; returns how many." + disabled)
    async def delete(ids: Annotated[list[str], Field(description=f"Chunk ids (at most {MAX_IDS}).")]) -> dict[str, Any]:
        if not writable:
            raise ToolError(READ_ONLY_MESSAGE.format(op="delete"))
        _check_ids(ids)
        deleted = await _run(lambda: memory.delete(ids=ids))
        return {"deleted": int(deleted), "version": memory.version}

    @server.resource("memvid://info", name="info", mime_type="application/json",
                     description="Figures about the memory (same as the info tool).")
    async def info_resource() -> str:
        return json.dumps(await anyio.to_thread.run_sync(memory.info), indent=2, default=str)

    @server.resource("memvid://history", name="history", mime_type="application/json",
                     description="The memory's versions: number, operation, note, time.")
    async def history_resource() -> str:
        def read() -> list[dict[str, Any]]:
            memory.refresh()
            return memory.history()

        return json.dumps(await anyio.to_thread.run_sync(read), indent=2, default=str)

    return server


def require_bearer(app: ASGIApp, token: str) -> ASGIApp:
    """Wrap an ASGI app so every HTTP request must carry ``Authorization: Bearer <token>``; others get 401.

    Args:
        app: The app to protect.
        token: The shared secret, compared in constant time.

    Returns:
        The guarded app.
    """
    expected = f"Bearer {token}".encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, expected):
                body = b'{"error": "unauthorized: send Authorization: Bearer <token>"}'
                await send({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                    (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return guarded


def check_http_options(*, http: bool, host: str | None, port: int | None, token: str | None) -> tuple[str, int, str | None]:
    """Validate the transport options; returns ``(host, port, token)``.

    Raises:
        InvalidInputError: ``--host``/``--port``/``--token`` without ``--http``, a bad port, or ``--host``
            without a token.
    """
    if not http:
        if host is not None or port is not None or token is not None:
            raise InvalidInputError("--host, --port and --token only apply with --http (stdio is the default transport).")
        return "", 0, None
    port = 8000 if port is None else port
    if not 0 < port < 65536:
        raise InvalidInputError(f"--port must be between 1 and 65535, got {port}.")
    if host is not None and not token:
        raise InvalidInputError(
            f"--host {host} needs a bearer token: pass --token or set {TOKEN_ENV}; clients then send 'Authorization: Bearer <token>'."
        )
    return host or "127.0.0.1", port, token or None


# The SDK's JSON reader (pydantic) refuses messages nested deeper than 200 levels and then drops them
# without a reply, so the client waits forever.  Deeper than this, memvid answers the request itself.
MAX_MESSAGE_DEPTH = 128


def too_deep(line: str, limit: int = MAX_MESSAGE_DEPTH) -> tuple[bool, str | int | None]:
    """Whether a JSON text nests arrays and objects deeper than ``limit``, and then the ``id`` of the request in it.

    One pass over the text: the id is read from its top level, with every nested value elided, so
    no parser recurses into the deep part.
    """
    if line.count("[") + line.count("{") <= limit:
        return False, None  # cannot nest deeper: the common case costs two C-level counts
    top: list[str] = []  # the text with every value below the top level replaced by null
    depth = deepest = 0
    in_string = escaped = False
    for ch in line:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if depth == 2:
                top.append("null")
            if depth >= 2:
                continue
        elif ch in "]}":
            depth -= 1
            if depth >= 1:
                continue
        if depth <= 1:
            top.append(ch)
    if deepest <= limit:
        return False, None
    try:
        found = json.loads("".join(top)).get("id")
    except (ValueError, AttributeError):
        return True, None
    return True, found if isinstance(found, (str, int)) and not isinstance(found, bool) else None


class _DepthGuard:
    """stdin for the SDK's stdio transport that answers too-deep requests instead of passing them on."""

    def __init__(self, stdin: Any) -> None:
        self._stdin = stdin
        self.write_stream: Any = None
        self.ready = anyio.Event()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        async for line in self._stdin:
            deep, rid = too_deep(line)
            if not deep:
                yield line
                continue
            if rid is None:
                continue  # a notification (or no request at all): JSON-RPC sends no reply
            await self.ready.wait()
            error = ErrorData(
                code=-32600,
                message=f"The request nests JSON more than {MAX_MESSAGE_DEPTH} levels deep; memvid refuses it. "
                "Flatten the filter (a where or where_document needs a few levels).",
            )
            await self.write_stream.send(SessionMessage(JSONRPCError(jsonrpc="2.0", id=rid, error=error)))


async def run_stdio(server: MCPServer) -> None:
    """``server.run("stdio")``, with requests nested too deeply for the SDK's reader answered by an error."""
    stdin = _DepthGuard(anyio.wrap_file(io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")))
    async with stdio_server(stdin=cast(Any, stdin)) as (read_stream, write_stream):
        stdin.write_stream = write_stream
        stdin.ready.set()
        lowlevel = server._lowlevel_server  # what MCPServer.run_stdio_async runs on these streams
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


def serve(
    memory: Memory,
    *,
    writable: bool = False,
    http: bool = False,
    host: str | None = None,
    port: int | None = None,
    token: str | None = None,
) -> None:
    """Serve ``memory`` over MCP until interrupted (stdio by default).

    Args:
        memory: The open memory.
        writable: Allow ``add`` and ``delete``.
        http: Serve streamable HTTP at ``http://HOST:PORT/mcp`` instead of stdio.
        host: Interface to bind; only with ``http``, and then ``token`` is required. Default 127.0.0.1.
        port: TCP port (default 8000); only with ``http``.
        token: Bearer token every HTTP request must carry. Optional on the default host.

    Raises:
        InvalidInputError: See :func:`check_http_options`.
    """
    bind, port, token = check_http_options(http=http, host=host, port=port, token=token)
    server = build_server(memory, writable=writable)
    if not http:
        anyio.run(run_stdio, server)
        return
    import uvicorn

    app: ASGIApp = server.streamable_http_app(host=bind)
    if token:
        app = require_bearer(app, token)
    config = uvicorn.Config(app, host=bind, port=port, log_level="warning")
    anyio.run(uvicorn.Server(config).serve)
