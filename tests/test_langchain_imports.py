"""The public surface of memvid_langchain, checked as LangChain's partner packages check theirs."""

from __future__ import annotations

import memvid_langchain
from memvid_langchain import __all__

EXPECTED_ALL = [
    "MemvidChat",
    "MemvidEmbeddings",
    "MemvidVectorStore",
    "MemvidVectorStoreRetriever",
    "__version__",
]


def test_all_imports() -> None:
    assert sorted(EXPECTED_ALL) == sorted(__all__)
    for name in __all__:
        assert getattr(memvid_langchain, name) is not None


def test_py_typed_ships() -> None:
    from pathlib import Path

    assert (Path(memvid_langchain.__file__).parent / "py.typed").is_file()
