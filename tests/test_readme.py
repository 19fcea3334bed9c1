"""The README's LangChain and LlamaIndex examples run as written (with a stand-in LLM, since tests are offline)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def example(heading: str) -> str:
    """The first ```python block after ``heading``."""
    text = README.read_text()
    start = text.index(heading)
    match = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert match, heading
    return match.group(1)


def test_langchain_example_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_core.language_models import FakeListChatModel

    monkeypatch.chdir(tmp_path)
    llm = FakeListChatModel(responses=["On 20 July 1969."])
    scope = {"llm": llm}
    exec(example("## LangChain"), scope)
    assert (tmp_path / "kb.mp4").is_file()
    docs = scope["retriever"].invoke("When did humans land on the Moon?")
    assert docs[0].page_content == "Apollo 11 landed on the Moon on 20 July 1969."


def test_llamaindex_example_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llama_index.core.llms import MockLLM

    monkeypatch.chdir(tmp_path)
    scope = {"llm": MockLLM()}
    exec(example("## LlamaIndex"), scope)
    response = scope["engine"].query("When did humans land on the Moon?")
    assert response.source_nodes[0].node.get_content() == "Apollo 11 landed on the Moon on 20 July 1969."
