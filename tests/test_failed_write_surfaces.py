"""A write that fails at its commit, through every surface that keeps a memory open between calls.

The store objects of LangChain and LlamaIndex, the MCP server and the web UI hold one ``Memory`` for their
whole life. A write through them that fails at the commit point (here: a full disk at the manifest replace)
must leave that same object answering from the committed version, on a fresh build and on a bare copy of the
MP4 (opened from its boxes). A CLI write is its own process; the seed retriever and chat only read.
``tests/test_reliability.py`` proves the same on ``Memory`` itself.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from core_fixtures import hash_embed, pydoc_chunks

import memvid_base.storage.transaction as transaction
from memvid_base import Memory, MemvidError

N = 20
WORD = "UNCOMMITTED_ZEPHYR"


def _disk_full(*args: object, **kwargs: object) -> None:
    raise OSError(28, "No space left on device")


@pytest.fixture(params=["fresh", "bare_copy"])
def video(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    built = tmp_path / "built" / "kb.mp4"
    built.parent.mkdir()
    Memory.build(built, None, pydoc_chunks(limit=N), None, [f"c{k}" for k in range(N)], embedding_model=hash_embed).close()
    if request.param == "fresh":
        return built
    copy = tmp_path / "copy" / "kb.mp4"
    copy.parent.mkdir()
    shutil.copyfile(built, copy)  # the MP4 alone: the cache folder is rebuilt from its boxes
    return copy


def _fails_then_still_committed(
    memory: Memory, write: Callable[[], Any], monkeypatch: pytest.MonkeyPatch,
    error: type[BaseException] | tuple[type[BaseException], ...] = (MemvidError, OSError),
) -> None:
    version, count = memory.version, len(memory)
    monkeypatch.setattr(transaction, "write_manifest", _disk_full)
    with pytest.raises(error, match="No space left"):
        write()
    monkeypatch.undo()
    assert (memory.version, len(memory)) == (version, count)
    assert memory.search(WORD, top_k=3, mode="keyword") == []
    assert memory.verify().ok


def test_langchain_store(video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_core.embeddings import Embeddings

    from memvid_langchain import MemvidVectorStore

    class Hash(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return hash_embed(texts).tolist()  # type: ignore[no-any-return]

        def embed_query(self, text: str) -> list[float]:
            return hash_embed([text])[0].tolist()  # type: ignore[no-any-return]

    store = MemvidVectorStore(video, embedding=Hash())
    before = [(d.id, d.page_content) for d in store.similarity_search("reference cycles", k=3)]
    _fails_then_still_committed(store.memory, lambda: store.add_texts([f"The {WORD} knob."]), monkeypatch)
    assert [(d.id, d.page_content) for d in store.similarity_search("reference cycles", k=3)] == before
    store.add_texts([f"Now the {WORD} knob is committed."], ids=["z"])
    assert [d.id for d in store.similarity_search(WORD, k=1)] == ["z"]


def test_llamaindex_store(video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery

    from memvid_llamaindex import MemvidVectorStore

    store = MemvidVectorStore(video)
    query = VectorStoreQuery(query_embedding=hash_embed(["reference cycles"])[0].tolist(), similarity_top_k=3)
    before = [(n.node_id, n.get_content()) for n in store.query(query).nodes or []]
    text = f"The {WORD} knob."
    node = TextNode(text=text, embedding=hash_embed([text])[0].tolist())
    _fails_then_still_committed(store.memory, lambda: store.add([node]), monkeypatch)
    assert [(n.node_id, n.get_content()) for n in store.query(query).nodes or []] == before
    store.add([node])
    assert len(store.memory) == N + 1


def test_mcp_server(video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp.server.mcpserver.exceptions import ToolError

    from memvid_base.apps.mcp_server import build_server

    memory = Memory(video, embedding_model=hash_embed)
    server = build_server(memory, writable=True)

    def call(name: str, **arguments: Any) -> Any:
        return asyncio.run(server.call_tool(name, arguments))

    before = json.dumps(call("search", query="reference cycles", top_k=3), default=str)
    # The client is told why (a ToolError reaches it as an error result with this text).
    _fails_then_still_committed(memory, lambda: call("add", texts=[f"The {WORD} knob."]), monkeypatch, ToolError)
    assert json.dumps(call("search", query="reference cycles", top_k=3), default=str) == before
    call("add", texts=[f"Now the {WORD} knob is committed."], ids=["z"])
    assert memory.version == 2 and len(memory) == N + 1


def test_web_ui(video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from memvid_base import MemvidInteractive

    ui = MemvidInteractive(video, embedding_model=hash_embed)
    note = tmp_path / "note.md"
    note.write_text(f"The {WORD} knob sets the gain.\n")
    version, count = ui.memory.version, len(ui.memory)
    monkeypatch.setattr(transaction, "write_manifest", _disk_full)
    ok, message = ui.add_files([str(note)])
    monkeypatch.undo()
    assert not ok and "No space left" in message and "Nothing was added" in message
    assert (ui.memory.version, len(ui.memory)) == (version, count)
    assert f"version {version}" in ui.header()
    assert ui.memory.search(WORD, top_k=3, mode="keyword") == []
    assert ui.add_files([str(note)])[0] and len(ui.memory) == count + 1
    ui.close()
