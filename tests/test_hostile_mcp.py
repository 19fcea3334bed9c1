"""The MCP server over stdio against requests the SDK's own reader cannot parse: every request gets a reply."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp")

from mcp.shared.exceptions import MCPError

from memvid_base.mcp_server import MAX_MESSAGE_DEPTH, message_depth, request_id
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
    assert message_depth(line) > MAX_MESSAGE_DEPTH and request_id(line) == "r-1"
    assert message_depth('{"q": "' + "[" * 500 + '"}') <= MAX_MESSAGE_DEPTH  # brackets inside a string do not nest
    assert request_id('{"id": [1], "method": "x"}') is None and request_id("[" * 5000) is None
