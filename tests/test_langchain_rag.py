"""End to end on a real corpus with the default (offline MiniLM) embeddings: LCEL RAG chain, MemvidChat, doctests."""

from __future__ import annotations

import doctest
import tempfile
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
    ParrotFakeChatModel,
)
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough

import memvid_langchain.chat
import memvid_langchain.embeddings
import memvid_langchain.vectorstores
from memvid_base.chunking import chunk_text
from memvid_base.loaders import read_pdf
from memvid_langchain import MemvidChat, MemvidEmbeddings, MemvidVectorStore

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def corpus_documents() -> list[Document]:
    docs: list[Document] = []
    for path in sorted(CORPUS.glob("*.md")):
        for k, piece in enumerate(chunk_text(path.read_text(encoding="utf-8"), 400, 40)):
            docs.append(Document(page_content=piece, metadata={"file": path.name, "chunk": k}))
    for text, meta in read_pdf(CORPUS / "video_codecs.pdf"):
        for k, piece in enumerate(chunk_text(text, 400, 40)):
            docs.append(Document(page_content=piece, metadata={**meta, "chunk": k}))
    return docs


@pytest.fixture(scope="module")
def embeddings() -> MemvidEmbeddings:
    return MemvidEmbeddings()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, embeddings: MemvidEmbeddings) -> MemvidVectorStore:
    docs = corpus_documents()
    assert 20 <= len(docs) <= 80
    video = tmp_path_factory.mktemp("corpus") / "corpus.mp4"
    return MemvidVectorStore.from_documents(docs, embeddings, video_file=video)


class PromptRecorder(BaseCallbackHandler):
    """Keeps the messages every chat model call received."""

    def __init__(self) -> None:
        self.prompts: list[list[BaseMessage]] = []

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any) -> None:
        self.prompts.append(messages[0])


def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(f"[{d.metadata['file']}] {d.page_content}" for d in docs)


# ---------------------------------------------------------------------- retrieval and an LCEL chain

QUESTIONS = [
    ("Who were the astronauts on the first crewed Moon landing?", "apollo_11.md", "Armstrong"),
    ("How do foragers tell their nestmates where food is?", "honeybees.md", "waggle"),
    ("Why are leaves green?", "photosynthesis.md", "chlorophyll"),
    ("Who invented the QR code and when?", "qr_codes.md", "Masahiro Hara"),
    ("Which companies founded the Alliance for Open Media?", "video_codecs.pdf", "Alliance for Open Media"),
]


@pytest.mark.parametrize(("question", "file", "phrase"), QUESTIONS)
def test_default_embeddings_retrieve_the_right_passage(
    store: MemvidVectorStore, question: str, file: str, phrase: str
) -> None:
    hits = store.similarity_search_with_relevance_scores(question, k=3)
    assert hits[0][0].metadata["file"] == file
    assert any(phrase in d.page_content for d, _ in hits)
    assert all(d.id for d, _ in hits)
    scores = [s for _, s in hits]
    assert 0.5 < scores[-1] <= scores[0] <= 1.0


def test_pdf_pages_and_multi_key_filter(store: MemvidVectorStore) -> None:
    hits = store.similarity_search("video codec", k=20, filter={"file": "video_codecs.pdf", "page": 2})
    assert hits and {(d.metadata["file"], d.metadata["page"]) for d in hits} == {("video_codecs.pdf", 2)}


def test_mmr_retriever_spreads_over_sources(store: MemvidVectorStore) -> None:
    question = "Apollo 11 Moon landing"
    plain = store.similarity_search(question, k=4)
    mmr = store.as_retriever(search_type="mmr", search_kwargs={"k": 4, "fetch_k": 20, "lambda_mult": 0.2}).invoke(
        question
    )
    assert mmr[0].id == plain[0].id  # MMR starts from the most relevant passage
    assert len({d.id for d in mmr}) == 4
    assert {d.id for d in mmr} != {d.id for d in plain}  # diversity displaced some near-duplicates
    assert len({d.metadata["file"] for d in mmr}) >= len({d.metadata["file"] for d in plain})


def test_lcel_rag_chain_end_to_end(store: MemvidVectorStore) -> None:
    recorder = PromptRecorder()
    llm = ParrotFakeChatModel(callbacks=[recorder])  # answers with its prompt, so we see what reached it
    prompt = ChatPromptTemplate.from_template("Answer from this context only.\n{context}\n\nQuestion: {question}")
    chain = (
        {"context": store.as_retriever(search_kwargs={"k": 2}) | format_docs, "question": RunnablePassthrough()}
        | prompt
        | llm
        | StrOutputParser()
    )
    answer = chain.invoke("When did Eagle touch down on the Moon?")
    assert "[apollo_11.md]" in answer and "20 July 1969" in answer
    assert answer.endswith("Question: When did Eagle touch down on the Moon?")
    assert recorder.prompts and "Sea of Tranquility" in recorder.prompts[0][-1].content
    streamed = list(chain.stream("When did Eagle touch down on the Moon?"))
    assert "".join(streamed) == answer


async def test_lcel_rag_chain_async(store: MemvidVectorStore) -> None:
    chain = store.as_retriever(search_kwargs={"k": 1}) | format_docs
    assert "[honeybees.md]" in await chain.ainvoke("royal jelly and queen larvae")


# ---------------------------------------------------------------------- MemvidChat


def test_chat_without_llm_answers_extractively_with_citations(store: MemvidVectorStore) -> None:
    chat = MemvidChat(store=store, top_k=3)
    answer = chat.chat("On what date did the Eagle touch down?")
    assert answer.startswith("From the memory:") and '> "' in answer
    assert "touched down in the Sea of Tranquility on 20 July 1969" in answer
    assert "Sources:\n[1] apollo_11.md (frame " in answer
    assert chat.last_sources and chat.last_sources[0].metadata["file"] == "apollo_11.md"
    pdf = chat.chat("Who founded the Alliance for Open Media?")
    assert "video_codecs.pdf, page 2 (frame" in pdf
    assert [r for r, _ in chat.get_history()] == ["human", "ai", "human", "ai"]
    streamed = list(chat.stream("On what date did the Eagle touch down?", session_id="other"))
    assert "".join(streamed) == answer and len(chat.get_history("other")) == 2


def test_chat_from_paths_opens_the_memory(store: MemvidVectorStore) -> None:
    chat = MemvidChat(store.memory.video_path, store.memory.index_path, top_k=2)
    assert "honeybees.md" in chat.chat("What is royal jelly fed to?")
    assert chat.search_context("chlorophyll absorbs light", top_k=1)[0].count("chlorophyll") >= 1
    with pytest.raises(FileNotFoundError):
        MemvidChat(store.memory.video_path.with_name("missing.mp4"))


def test_chat_with_llm_puts_retrieved_context_in_the_prompt(store: MemvidVectorStore) -> None:
    recorder = PromptRecorder()
    chat = MemvidChat(store=store, llm=ParrotFakeChatModel(callbacks=[recorder]), top_k=2)
    reply = chat.chat("What does RuBisCO do?")
    (messages,) = recorder.prompts
    assert messages[0].type == "system" and "Cite passages" in messages[0].content
    human = str(messages[-1].content)
    assert human.startswith("Context:\n[1] photosynthesis.md (frame ") and "RuBisCO fixes carbon dioxide" in human
    assert human.endswith("Question: What does RuBisCO do?")
    assert reply == human  # the parrot answers with its prompt
    assert chat.last_sources[0].metadata["file"] == "photosynthesis.md"


def test_chat_multi_turn_history_and_follow_up_retrieval(store: MemvidVectorStore) -> None:
    recorder = PromptRecorder()
    llm = GenericFakeChatModel(
        messages=iter(["Armstrong, Collins and Aldrin.", "On 20 July 1969.", "Yes."]), callbacks=[recorder]
    )
    chat = MemvidChat(store=store, llm=llm, top_k=2, max_history=1)
    assert chat.chat("Who was on the crew of Apollo 11?") == "Armstrong, Collins and Aldrin."
    assert chat.chat("And when did they land?") == "On 20 July 1969."
    second = recorder.prompts[1]
    assert [m.type for m in second] == ["system", "human", "ai", "human"]
    assert (
        second[1].content == "Who was on the crew of Apollo 11?"
        and second[2].content == "Armstrong, Collins and Aldrin."
    )
    # the short follow-up was searched together with the previous question, so the context is about Apollo 11
    assert all(d.metadata["file"] == "apollo_11.md" for d in chat.last_sources)
    chat.chat("Anything else?")
    third = recorder.prompts[2]
    assert [m.type for m in third] == ["system", "human", "ai", "human"]  # max_history=1 keeps only the last exchange
    assert third[1].content == "And when did they land?"
    assert len(chat.get_history()) == 6 and chat.get_history("new") == []
    chat.clear_history()
    assert chat.get_history() == []


def test_chat_streams_llm_tokens_and_saves_history(store: MemvidVectorStore) -> None:
    llm = GenericFakeChatModel(messages=iter(["Bees dance to share where food is."]))
    chat = MemvidChat(store=store, llm=llm, top_k=1)
    pieces = list(chat.stream("How do bees share where food is?"))
    assert len(pieces) > 1 and "".join(pieces) == "Bees dance to share where food is."
    assert chat.get_history()[-1] == ("ai", "Bees dance to share where food is.")


async def test_chat_async(store: MemvidVectorStore) -> None:
    chat = MemvidChat(store=store, llm=FakeListChatModel(responses=["first", "second answer"]), top_k=1)
    assert await chat.achat("What is a QR code?") == "first"
    assert "".join([p async for p in chat.astream("What error correction do QR codes use?")]) == "second answer"
    assert [t for _, t in chat.get_history()] == [
        "What is a QR code?",
        "first",
        "What error correction do QR codes use?",
        "second answer",
    ]


def test_chat_rejects_empty_questions(store: MemvidVectorStore) -> None:
    with pytest.raises(ValueError, match="empty"):
        MemvidChat(store=store).chat("   ")


# ---------------------------------------------------------------------- docstring examples run


@pytest.mark.parametrize("module", [memvid_langchain.vectorstores, memvid_langchain.embeddings, memvid_langchain.chat])
def test_docstring_examples_run(module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the examples' mkdtemp() lands here
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_documents_are_langchain_documents(store: MemvidVectorStore) -> None:
    doc = store.similarity_search("honey", k=1)[0]
    assert isinstance(doc, Document) and doc.id and isinstance(doc.metadata["chunk"], int)
