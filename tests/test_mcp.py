"""The MCP server, driven by the official SDK's own client over stdio and streamable HTTP.

The memory is built once from ``corpus/*.md`` with the deterministic hashing embedder of
``tests/core_fixtures.py``; the server subprocess loads the same function through
``--embedding-model tests.core_fixtures:hash_embed``. That keeps each server start free of torch
(a few seconds per spawn on a loaded 2-core machine) while exercising exactly the code path a user
with a custom embedding function takes. The default-model path is covered by the CLI tests.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

import httpx2
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextResourceContents

from memvid_base import Memory, MemvidEncoder
from memvid_base.apps.mcp_server import chunk_result
from tests.core_fixtures import hash_embed

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
EMBED_SPEC = "tests.core_fixtures:hash_embed"
TOKEN = "s3cret-test-token"
ENV = {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


@pytest.fixture(scope="module")
def corpus_memory(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A memory of the corpus markdown files, and every encoded chunk text mapped to its file."""
    out = tmp_path_factory.mktemp("mcp") / "kb.mp4"
    enc = MemvidEncoder(chunk_size=400, embedding_model=hash_embed, n_workers=1)
    files = sorted(CORPUS.glob("*.md"))
    assert len(files) >= 3
    for f in files:
        enc.add_file(f)
    enc.build_video(out, codec="h264", show_progress=False)
    originals = {text: meta["file"] for text, meta in zip(enc.chunks, enc.metadatas)}
    return out, originals


def server_args(memory: Path, *extra: str) -> list[str]:
    return ["-m", "memvid_base.apps.cli", "mcp", str(memory), "--embedding-model", EMBED_SPEC, *extra]


@asynccontextmanager
async def stdio_session(memory: Path, *extra: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=sys.executable, args=server_args(memory, *extra), env=ENV, cwd=str(ROOT))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def payload(result: Any) -> Any:
    """The JSON a successful tool call returned (structured content when given, else its text)."""
    assert not result.is_error, result.content
    if result.structured_content is not None:
        data = result.structured_content
        return data["result"] if set(data) == {"result"} else data
    return json.loads(result.content[0].text)


async def read_json(session: ClientSession, uri: str) -> Any:
    contents = (await session.read_resource(uri)).contents
    assert len(contents) == 1 and isinstance(contents[0], TextResourceContents)
    assert contents[0].mime_type == "application/json"
    return json.loads(contents[0].text)


def error_text(result: Any) -> str:
    assert result.is_error, result
    return " ".join(c.text for c in result.content if getattr(c, "text", None))


async def check_read_tools(session: ClientSession, originals: dict[str, str]) -> None:
    """search/get/info and the resources answer with the memory's decoded text and correct citations."""
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert {"search", "get", "info", "add", "delete"} <= set(tools)
    schema = tools["search"].input_schema
    assert schema["properties"]["query"]["type"] == "string"
    assert schema["properties"]["top_k"]["type"] == "integer"
    assert schema["required"] == ["query"]

    hits = payload(await session.call_tool("search", {"query": "Apollo 11 Moon landing astronauts", "top_k": 3}))
    assert 1 <= len(hits) <= 3
    assert set(hits[0]) == {"id", "text", "score", "source", "frame", "segment", "metadata"}
    assert hits[0]["metadata"]["file"] == "apollo_11.md"
    for hit in hits:
        assert originals[hit["text"]] == hit["metadata"]["file"]  # exact text of an encoded chunk, from its file
        assert hit["source"] == hit["metadata"]["file"]
        assert 0.0 <= hit["score"] <= 1.0
        assert isinstance(hit["frame"], int)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)

    where = payload(await session.call_tool("search", {"query": "light energy", "top_k": 2, "where": {"file": "honeybees.md"}}))
    assert where and all(h["metadata"]["file"] == "honeybees.md" for h in where)

    got = payload(await session.call_tool("get", {"ids": [hits[0]["id"], "no-such-id"]}))
    assert [g["id"] for g in got] == [hits[0]["id"]]
    assert got[0]["text"] == hits[0]["text"] and got[0]["score"] is None

    info = payload(await session.call_tool("info", {}))
    assert info["chunks"] == len(originals) and info["embedding_model"].startswith("callable:")

    resources = {str(r.uri) for r in (await session.list_resources()).resources}
    assert resources == {"memvid://info", "memvid://history"}
    history = await read_json(session, "memvid://history")
    assert history and history[-1]["version"] == info["version"]
    assert (await read_json(session, "memvid://info"))["chunks"] == info["chunks"]


async def check_search_modes(session: ClientSession, originals: dict[str, str]) -> None:
    """keyword and hybrid modes find an exact identifier; where_document keeps only matching chunks."""
    schema = {t.name: t for t in (await session.list_tools()).tools}["search"].input_schema
    assert set(schema["properties"]["mode"]["enum"]) == {"vector", "keyword", "hybrid"}
    assert "where_document" in schema["properties"]
    for mode in ("keyword", "hybrid"):  # "1202" (a program alarm) occurs once in the corpus, in apollo_11.md
        hits = payload(await session.call_tool("search", {"query": "1202", "top_k": 3, "mode": mode}))
        assert hits[0]["source"] == "apollo_11.md" and '"1202"' in hits[0]["text"], mode
        assert originals[hits[0]["text"]] == "apollo_11.md"  # exact text of an encoded chunk
        assert all(0.0 <= h["score"] <= 1.0 for h in hits)
    wd = {"$and": [{"$contains": "Eagle"}, {"$not_contains": "Columbia"}]}
    expected = {t for t in originals if "Eagle" in t and "Columbia" not in t}
    assert expected and len(expected) < len(originals)
    for mode in ("vector", "keyword", "hybrid"):
        hits = payload(await session.call_tool("search", {"query": "lunar module Eagle landing", "top_k": 100,
                                                          "mode": mode, "where_document": wd}))
        assert all("Eagle" in h["text"] and "Columbia" not in h["text"] for h in hits), mode  # no false positives
        if mode != "keyword":  # vector and hybrid rank every chunk, so every match comes back
            assert {h["text"] for h in hits} == expected, mode


async def check_bad_arguments(session: ClientSession) -> None:
    """Bad arguments come back as error results, and the server keeps serving."""
    assert "top_k" in error_text(await session.call_tool("search", {"query": "bees", "top_k": 0}))
    assert "mode" in error_text(await session.call_tool("search", {"query": "bees", "mode": "fuzzy"}))
    assert "$regex" in error_text(await session.call_tool("search", {"query": "bees", "where_document": {"$regex": "b.*"}}))
    assert "$contains needs a string" in error_text(
        await session.call_tool("search", {"query": "bees", "where_document": {"$contains": 3}}))
    assert "query" in error_text(await session.call_tool("search", {"query": 42}))
    assert "query" in error_text(await session.call_tool("search", {"query": "   "}))
    assert "query" in error_text(await session.call_tool("search", {}))
    assert error_text(await session.call_tool("search", {"query": "bees", "where": {"file": {"$bogus": 1}}}))
    assert "ids" in error_text(await session.call_tool("get", {"ids": []}))
    assert payload(await session.call_tool("search", {"query": "bees", "top_k": 1}))  # still alive


async def test_stdio_read_only(corpus_memory: tuple[Path, dict[str, str]]) -> None:
    memory, originals = corpus_memory
    async with stdio_session(memory) as session:
        await check_read_tools(session, originals)
        await check_search_modes(session, originals)
        await check_bad_arguments(session)
        refused = error_text(await session.call_tool("add", {"texts": ["A new fact about bees."]}))
        assert "read-only" in refused and "--writable" in refused
        assert "--writable" in error_text(await session.call_tool("delete", {"ids": ["x"]}))
    assert Memory(memory, embedding_model=hash_embed).info()["chunks"] == len(originals)  # nothing changed


async def test_stdio_writable_add_then_delete(corpus_memory: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    source, originals = corpus_memory
    shutil.copytree(source.parent, tmp_path / "copy")
    memory = tmp_path / "copy" / source.name
    fact = "Hummingbird hawk-moths hover in front of flowers like hummingbirds."
    async with stdio_session(memory, "--writable") as session:
        added = payload(await session.call_tool("add", {"texts": [fact], "metadatas": [{"file": "moths.md", "page": 2}], "ids": ["moth-1"]}))
        assert added["ids"] == ["moth-1"] and added["version"] >= 2
        hits = payload(await session.call_tool("search", {"query": "hummingbird hawk-moths hover flowers", "top_k": 1}))
        assert hits[0]["id"] == "moth-1" and hits[0]["text"] == fact and hits[0]["source"] == "moths.md, page 2"
        assert "metadatas" in error_text(await session.call_tool("add", {"texts": ["a", "b"], "metadatas": [{}]}))
        assert payload(await session.call_tool("delete", {"ids": ["moth-1"]}))["deleted"] == 1
        assert payload(await session.call_tool("get", {"ids": ["moth-1"]})) == []
        history = await read_json(session, "memvid://history")
        assert [h["op"] for h in history[-2:]] == ["add", "delete"]
    mem = Memory(memory, embedding_model=hash_embed)
    assert mem.info()["chunks"] == len(originals) and mem.get_by_ids(["moth-1"]) == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_server(corpus_memory: tuple[Path, dict[str, str]]) -> Iterator[str]:
    """A server on 127.0.0.1 that requires TOKEN; yields its /mcp URL and kills it afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, *server_args(corpus_memory[0], "--http", "--port", str(port), "--token", TOKEN)],
        cwd=ROOT, env={**os.environ, **ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 45
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the MCP HTTP server did not start listening within 45 s")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_http_requires_token(http_server: str, corpus_memory: tuple[Path, dict[str, str]]) -> None:
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx2.AsyncClient() as raw:
        for auth in (None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN):
            response = await raw.post(http_server, json=init, headers={**headers, **({"Authorization": auth} if auth else {})})
            assert response.status_code == 401, auth
            assert response.headers["www-authenticate"] == "Bearer"
        assert (await raw.get(http_server)).status_code == 401

    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client, \
            streamable_http_client(http_server, http_client=client) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await check_read_tools(session, corpus_memory[1])
        assert "--writable" in error_text(await session.call_tool("add", {"texts": ["x"]}))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "memvid_base.apps.cli", "mcp", *args], cwd=ROOT, env={**os.environ, **ENV},
                          capture_output=True, text=True, timeout=60)


def test_cli_refuses_unsafe_or_meaningless_options(corpus_memory: tuple[Path, dict[str, str]]) -> None:
    memory = str(corpus_memory[0])
    env_free = {k: v for k, v in os.environ.items() if k != "MEMVID_MCP_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "memvid_base.apps.cli", "mcp", memory, "--http", "--host", "0.0.0.0"],
                          cwd=ROOT, env={**env_free, **ENV}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "token" in done.stderr and "MEMVID_MCP_TOKEN" in done.stderr
    done = run_cli(memory, "--token", "t")
    assert done.returncode == 1 and "--http" in done.stderr
    done = run_cli(memory, "--http", "--port", "0")
    assert done.returncode == 1 and "--port" in done.stderr
    done = run_cli(str(corpus_memory[0].parent / "absent.mp4"))
    assert done.returncode == 1 and "no memory there" in done.stderr
    done = run_cli(memory, "--embedding-model", "tests.core_fixtures:nothing_here")
    assert done.returncode == 1 and "cannot import" in done.stderr


def test_chunk_result_source() -> None:
    from memvid_base import Chunk

    def source(meta: dict[str, Any]) -> str:
        return str(chunk_result(Chunk(id="a", text="t", metadata=meta, frame=3, segment="abc123", score=0.5))["source"])

    assert source({"file": "a.pdf", "page": 2}) == "a.pdf, page 2"
    assert source({"source": "https://x.org/p", "page": 0}) == "https://x.org/p, page 0"
    assert source({"file": "notes.md"}) == "notes.md"
    assert source({}) == "segment abc123"
    result = chunk_result(Chunk(id="a", text="t", metadata={"file": "n.md"}, frame=3, segment="s", score=0.1234567))
    assert result == {"id": "a", "text": "t", "score": 0.123457, "source": "n.md", "frame": 3, "segment": "s",
                      "metadata": {"file": "n.md"}}
