"""One surface contract case, run in a fresh process: open a memory through one surface, search, write, count.

Usage: ``python tests/surface_driver.py SURFACE TARGET INDEX QUERY NOTE`` where INDEX is ``-`` for the
default and NOTE is a markdown file to add (``-`` to skip writing). Prints one JSON object:

* ``count``: the chunks the surface sees before writing;
* ``hits``: ``[id, text]`` of the top 5 for QUERY (id ``null`` where the surface shows none);
* ``write``: ``"ok"``, ``"skipped"`` (the surface does not write), or ``"<ErrorClass>: message"``;
* ``count_after``: the chunks the surface sees after writing.

Every surface embeds with :func:`tests.core_fixtures.hash_embed` (the memory was built with it), so no
model is loaded and the case measures the surface, not the model.

The contract suite runs each case through :func:`run_in_child` in a process forked from a
``multiprocessing`` fork server that has imported the libraries in :data:`PRELOAD` and done nothing
else: no memory opened, no client made, so every case still starts from a clean process, without
paying seconds of imports 42 times.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.core_fixtures import hash_embed  # noqa: E402

EMBED_SPEC = "tests.core_fixtures:hash_embed"
# What the fork server imports once: every surface's libraries (imports only; nothing is opened).
PRELOAD = ["memvid_base", "chromadb", "memvid_langchain", "langchain_core.embeddings", "memvid_llamaindex",
           "llama_index.core.schema", "llama_index.core.vector_stores.types", "memvid_base.apps.cli",
           "memvid_base.apps.interactive", "mcp.client.stdio", "tests.core_fixtures", "tests.surface_driver"]
TOP_K = 5
Result = dict[str, Any]


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _write(fn: Callable[[], Any]) -> str:
    from memvid_base import MemvidError

    try:
        fn()
    except MemvidError as exc:  # the contract: a refused write is a package error, never a raw traceback
        return _error(exc)
    return "ok"


def seed(target: str, index: str | None, query: str, note: Path | None) -> Result:
    from memvid_base import MemvidRetriever

    def count() -> int:
        with_stats = MemvidRetriever(target, index, embedding_model=hash_embed)
        n = int(with_stats.get_stats()["chunks"])
        with_stats.close()
        return n

    r = MemvidRetriever(target, index, embedding_model=hash_embed)
    hits = [[h["chunk_id"], h["text"]] for h in r.search_with_metadata(query, top_k=TOP_K)]
    keyword = r.search(query, top_k=TOP_K, mode="keyword")  # the seed retriever speaks the modes too
    assert all(isinstance(t, str) for t in keyword)
    r.close()
    return {"count": count(), "hits": hits, "write": "skipped", "count_after": count()}


class _HashEmbeddings:
    """A LangChain ``Embeddings`` over the test's hash embedder (imported lazily: langchain is an extra)."""

    def __new__(cls) -> Any:
        from langchain_core.embeddings import Embeddings

        class Hash(Embeddings):
            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return hash_embed(texts).tolist()

            def embed_query(self, text: str) -> list[float]:
                return hash_embed([text])[0].tolist()

        return Hash()


def langchain(target: str, index: str | None, query: str, note: Path | None) -> Result:
    from memvid_langchain import MemvidVectorStore

    store = MemvidVectorStore(target, index, embedding=_HashEmbeddings())
    before = len(store.memory)
    hits = [[d.id, d.page_content] for d in store.similarity_search(query, k=TOP_K)]
    write = "skipped" if note is None else _write(lambda: store.add_texts([note.read_text()]))
    return {"count": before, "hits": hits, "write": write, "count_after": len(store.memory)}


def llamaindex(target: str, index: str | None, query: str, note: Path | None) -> Result:
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery

    from memvid_llamaindex import MemvidVectorStore

    store = MemvidVectorStore(target, index)  # no embed_model: LlamaIndex hands over vectors
    before = len(store.memory)
    found = store.query(VectorStoreQuery(query_embedding=hash_embed([query])[0].tolist(), similarity_top_k=TOP_K))
    hits = [[n.node_id, n.get_content()] for n in found.nodes or []]
    text = None if note is None else note.read_text()
    node = None if text is None else TextNode(text=text, embedding=hash_embed([text])[0].tolist())
    write = "skipped" if node is None else _write(lambda: store.add([node]))
    return {"count": before, "hits": hits, "write": write, "count_after": len(store.memory)}


def _cli(*args: str) -> tuple[int, str]:
    """``memvid ARGS`` as the entry point runs it: exit code, and stdout (or stderr when it failed)."""
    from memvid_base.apps.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue() if code == 0 else err.getvalue()


def cli(target: str, index: str | None, query: str, note: Path | None) -> Result:
    idx = [] if index is None else ["--index", index]

    def count() -> int:
        code, out = _cli("info", target, *idx, "--json")
        assert code == 0, out
        return int(json.loads(out)["chunks"])

    before = count()
    code, out = _cli("search", target, query, "-k", str(TOP_K), "--json", "--embedding-model", EMBED_SPEC, *idx)
    assert code == 0, out
    hits = [[r["id"], r["text"]] for r in json.loads(out)]
    write = "skipped"
    if note is not None:
        code, out = _cli("encode", str(note), "-o", target, "--append", "--quiet", "--embedding-model", EMBED_SPEC, *idx)
        write = "ok" if code == 0 else f"exit {code}: {' '.join(out.split())}"
    return {"count": before, "hits": hits, "write": write, "count_after": count()}


async def _mcp(target: str, index: str | None, query: str, note: Path | None) -> Result:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    args = ["-m", "memvid_base.apps.cli", "mcp", target, "--embedding-model", EMBED_SPEC, "--writable"]
    args += [] if index is None else ["--index", index]
    params = StdioServerParameters(command=sys.executable, args=args, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                   cwd=str(ROOT))
    async with stdio_client(params) as (read, write_stream), ClientSession(read, write_stream) as session:
        await session.initialize()

        async def call(name: str, **kwargs: Any) -> Any:
            result = await session.call_tool(name, kwargs)
            if result.is_error:
                return {"error": " ".join(c.text for c in result.content if hasattr(c, "text"))}
            return result.structured_content.get("result", result.structured_content)

        before = (await call("info"))["chunks"]
        hits = [[h["id"], h["text"]] for h in await call("search", query=query, top_k=TOP_K)]
        write = "skipped"
        if note is not None:
            added = await call("add", texts=[note.read_text()])
            write = "ok" if "error" not in added else f"ToolError: {' '.join(added['error'].split())}"
        after = (await call("info"))["chunks"]
    return {"count": before, "hits": hits, "write": write, "count_after": after}


def mcp(target: str, index: str | None, query: str, note: Path | None) -> Result:
    return asyncio.run(_mcp(target, index, query, note))


def web(target: str, index: str | None, query: str, note: Path | None) -> Result:
    from memvid_base import MemvidInteractive

    app = MemvidInteractive(target, index, embedding_model=hash_embed)
    before = len(app.memory)
    hits = [[r["id"], r["text"]] for r in app.search(query, top_k=TOP_K, mode="vector")]
    write = "skipped"
    if note is not None:
        ok, message = app.add_files([str(note)])
        write = "ok" if ok else f"refused: {message}"
    return {"count": before, "hits": hits, "write": write, "count_after": len(app.memory)}


def chat(target: str, index: str | None, query: str, note: Path | None) -> Result:
    from memvid_base import MemvidChat

    bot = MemvidChat(target, index, embedding_model=hash_embed, top_k=TOP_K)
    answer = bot.chat(query)
    cited = bot.last_sources
    assert answer.strip() and cited, answer  # offline: an extractive answer with its sources
    hits = [[c.id, c.text] for c in bot.memory.search(query, TOP_K)]
    return {"count": len(bot.memory), "hits": hits, "write": "skipped", "count_after": len(bot.memory),
            "cited": [[c.id, c.text] for c in cited]}


SURFACES: dict[str, Callable[[str, str | None, str, Path | None], Result]] = {
    "seed": seed, "langchain": langchain, "llamaindex": llamaindex, "cli": cli, "mcp": mcp, "web": web, "chat": chat,
}


def run_in_child(surface: str, target: str, index: str | None, query: str, note: str | None, env: dict[str, str],
                 stdout: str, stderr: str) -> None:
    """One case as a ``multiprocessing`` target: the case's environment, its output to files, the JSON last."""
    os.environ.update(env)
    from memvid_base.index import vectors

    for name in ("FLAT_MAX_ROWS", "SCAN_FROM_ROWS", "SCAN_MAX_ROWS"):  # read at import, and the fork server imported before this env
        if f"MEMVID_{name}" in env:
            setattr(vectors, name, int(env[f"MEMVID_{name}"]))
    for fd, path in ((1, stdout), (2, stderr)):
        out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, fd)
        os.close(out)
    result = SURFACES[surface](target, index, query, None if note is None else Path(note))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    surface, target, index, query, note = sys.argv[1:6]
    result = SURFACES[surface](target, None if index == "-" else index, query, None if note == "-" else Path(note))
    print(json.dumps(result))
