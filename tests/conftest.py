"""Suite-wide pytest hooks."""

from __future__ import annotations

import pytest

# The longest modules start first, so the two xdist workers finish together instead of one of them
# starting a long module when the other is nearly done.  scripts/test.sh passes --no-loadscope-reorder,
# without which xdist orders modules by their number of tests instead.
SLOW_FIRST = (
    "test_surface_contract.py",
    "test_concurrent_readers.py",
    "test_incremental.py",
    "test_notebooks.py",
    "test_embeddings_runtime.py",
    "test_mcp.py",
    "test_cli.py",
    "test_web_ui.py",
    "test_mirrored.py",
    "test_hybrid_search.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))  # stable: each module keeps its order
