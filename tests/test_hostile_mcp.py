"""The MCP server over stdio against requests the SDK's own reader cannot parse: every request gets a reply."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp")

from mcp.shared.exceptions import MCPError

from memvid_base.apps.mcp_server import MAX_MESSAGE_DEPTH, too_deep
from tests.test_mcp import corpus_memory, error_text, payload, stdio_session  # noqa: F401  (corpus_memory is a fixture)


def nested_and(depth: int) -> dict[str, Any]:
    where: dict[str, Any] = {"file": "honeybees.md"}
    for _ in range(depth):
        where = {"$and": [where]}
    return where


async def test_a_where_nested_too_deeply_for_the_sdk_gets_an_error_reply(corpus_memory) -> None:  # noqa: F811
    memory, _ = corpus_memory
    async with stdio_session(memory) as session:
        with anyio.fail_after(60):  # before the fix the client waited here forever
            with pytest.raises(MCPError, match=f"more than {MAX_MESSAGE_DEPTH} levels"):
                await session.call_tool("search", {"query": "bees", "where": nested_and(100)})
            assert error_text(await session.call_tool("search", {"query": "bees", "where": nested_and(40)}))
            assert payload(await session.call_tool("search", {"query": "bees", "top_k": 1}))  # still serving


def test_depth_and_id_are_read_without_parsing_the_deep_part() -> None:
    line = json.dumps({"jsonrpc": "2.0", "id": "r-1", "method": "tools/call",
                       "params": {"name": "search", "arguments": {"query": 'a "[{" string', "where": nested_and(300)}}})
    assert too_deep(line) == (True, "r-1")
    assert too_deep('{"q": "' + "[" * 500 + '"}') == (False, None)  # brackets inside a string do not nest
    assert too_deep('{"id": [1], "x": ' + "[" * 500 + "]" * 500 + "}") == (True, None)  # no usable id: no reply
    assert too_deep("[" * 5000) == (True, None)
