"""``MemvidChat`` on LangChain runnables: retriever, prompt, chat model, and per-session message history."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough
from langchain_core.vectorstores import VectorStoreRetriever

from memvid_base import Chunk, InvalidInputError
from memvid_base.chat import SYSTEM_PROMPT, extractive_answer, follow_up_query, format_context, resolve_llm

from .vectorstores import MemvidVectorStore, PathLike, chunk_to_document


class ListHistory(BaseChatMessageHistory):
    """A conversation kept in a list (langchain-core deprecated its in-memory history class in 1.6)."""

    def __init__(self) -> None:
        self.messages: list[BaseMessage] = []

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        self.messages.extend(messages)

    def clear(self) -> None:
        self.messages = []


HUMAN_TEMPLATE = "Context:\n{context}\n\nQuestion: {question}"


class MemvidChat:
    """Chat with a memvid memory through a LangChain RAG chain.

    The chain is ``retriever | prompt | llm``: the question (with the previous question folded in
    for short follow-ups) goes to :attr:`retriever`; the passages, numbered and cited with their
    source, page and frame, fill :attr:`prompt` with the conversation so far; the chat model
    answers. Each ``session_id`` keeps its own message history.

    With no chat model it still answers, offline: it quotes the sentences from the retrieved
    passages closest to the question and cites their source and frame (the core's
    ``extractive_answer``).

    Args:
        video_file: The memory's video (``kb.mp4``). Not needed when ``store`` is given.
        index_file: Its index; found from the video when omitted.
        llm: Any LangChain chat model (``BaseChatModel``) or other runnable taking a prompt. ``None``
            answers extractively.
        llm_provider: ``"openai"``, ``"anthropic"``, ``"google"`` or ``"ollama"`` to build ``llm``
            from its optional package (``"none"`` or ``None``: no model).
        llm_model: Model name for ``llm_provider``.
        api_key: API key for ``llm_provider``; else its usual environment variable.
        embedding: The embeddings the memory was built with; default the bundled MiniLM.
        store: An open :class:`~memvid_langchain.MemvidVectorStore` to use instead of paths.
        top_k: Passages retrieved per question.
        search_type: ``"similarity"``, ``"mmr"``, ``"similarity_score_threshold"``, ``"hybrid"``
            (keyword and vector search fused) or ``"keyword"`` (BM25 only).
        search_kwargs: More retriever arguments, e.g. ``{"filter": {"file": "a.md"}}``,
            ``{"where_document": {"$contains": "zstd"}}`` or, for hybrid, ``{"alpha": 0.3}``.
        system_prompt: The system message given to the chat model.
        max_history: Past exchanges (question and answer pairs) put into the prompt.
        history_factory: ``session_id -> BaseChatMessageHistory``, to keep histories elsewhere;
            default: in memory.

    Example:
        >>> import os, tempfile
        >>> from memvid_langchain import MemvidChat, MemvidVectorStore
        >>> video = os.path.join(tempfile.mkdtemp(), "space.mp4")
        >>> _ = MemvidVectorStore.from_texts(
        ...     ["Apollo 11 landed on the Moon in 1969. Neil Armstrong walked first.",
        ...      "Mars has two small moons, Phobos and Deimos."],
        ...     metadatas=[{"file": "moon.md"}, {"file": "mars.md"}], video_file=video,
        ... )
        >>> chat = MemvidChat(video, top_k=1)
        >>> print(chat.chat("When did Apollo 11 land on the Moon?"))  # doctest: +ELLIPSIS
        From the memory:
        > "Apollo 11 landed on the Moon in 1969." [1]
        ...Sources:
        [1] moon.md (frame 0, chunk ...)

        With a chat model (any ``BaseChatModel``; here a fake one that repeats its prompt):

        >>> from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel
        >>> "Apollo 11" in MemvidChat(video, llm=ParrotFakeChatModel(), top_k=1).chat("Who walked on the Moon?")
        True
    """

    def __init__(
        self,
        video_file: PathLike | None = None,
        index_file: PathLike | None = None,
        llm: BaseChatModel | Runnable[Any, Any] | None = None,
        llm_provider: str | None = None,
        llm_model: str | None = None,
        api_key: str | None = None,
        *,
        embedding: Embeddings | None = None,
        store: MemvidVectorStore | None = None,
        top_k: int = 5,
        search_type: str = "similarity",
        search_kwargs: dict[str, Any] | None = None,
        system_prompt: str = SYSTEM_PROMPT,
        max_history: int = 10,
        history_factory: Callable[[str], BaseChatMessageHistory] | None = None,
    ) -> None:
        if store is None:
            if video_file is None:
                raise InvalidInputError("MemvidChat needs a video_file (or a store=).")
            store = MemvidVectorStore(video_file, index_file, embedding, create=False)
        self.store = store
        self.llm = resolve_llm(llm, llm_provider, llm_model, api_key)
        self.top_k = top_k
        self.max_history = max_history
        self.retriever: VectorStoreRetriever = store.as_retriever(
            search_type=search_type, search_kwargs={"k": top_k, **(search_kwargs or {})}
        )
        self.prompt = ChatPromptTemplate.from_messages(
            [("system", system_prompt), MessagesPlaceholder("history"), ("human", HUMAN_TEMPLATE)]
        )
        self._history_factory = history_factory
        self._histories: dict[str, BaseChatMessageHistory] = {}
        self.last_sources: list[Document] = []
        self.chain: Runnable[dict[str, Any], str] = self._build_chain()
        """``{"question": str, "history": list[BaseMessage]} -> answer``; no history is read or saved."""

    # ------------------------------------------------------------------ the chain

    def _build_chain(self) -> Runnable[dict[str, Any], str]:
        # Chunks, not documents: they keep the frame and segment that citations show.
        retrieve = RunnablePassthrough.assign(
            chunks=RunnableLambda(_search_query).with_config(run_name="search_query")
            | RunnableLambda(self._retrieve).with_config(run_name="retrieve")
        )
        answer: Runnable[dict[str, Any], str]
        if self.llm is None:
            answer = RunnableLambda(self._extractive).with_config(run_name="extractive_answer")
        else:
            answer = (
                RunnablePassthrough.assign(
                    context=lambda x: format_context(x["chunks"]),
                    history=lambda x: x["history"][-2 * self.max_history :],
                )
                | self.prompt
                | self.llm
                | StrOutputParser()
            )
        return retrieve | answer

    def _retrieve(self, query: str) -> list[Chunk]:
        chunks = self.store.search_chunks(query, self.retriever.search_type, **self.retriever.search_kwargs)
        self.last_sources = [chunk_to_document(c) for c in chunks]
        return chunks

    def _extractive(self, inputs: dict[str, Any]) -> str:
        answer = extractive_answer(inputs["question"], inputs["chunks"], self.store.memory)
        self.last_sources = [chunk_to_document(c) for c in answer.sources]
        return answer.text

    # ------------------------------------------------------------------ conversation

    def get_session_history(self, session_id: str = "default") -> BaseChatMessageHistory:
        """The message history of one conversation (created empty on first use)."""
        if session_id not in self._histories:
            factory = self._history_factory or (lambda _sid: ListHistory())
            self._histories[session_id] = factory(session_id)
        return self._histories[session_id]

    def _inputs(self, message: str, session_id: str) -> dict[str, Any]:
        if not isinstance(message, str) or not message.strip():
            raise InvalidInputError("Ask a question: the message is empty.")
        return {"question": message, "history": list(self.get_session_history(session_id).messages)}

    def _remember(self, session_id: str, message: str, reply: str) -> None:
        self.get_session_history(session_id).add_messages([HumanMessage(message), AIMessage(reply)])

    def chat(self, message: str, session_id: str = "default") -> str:
        """Answer ``message`` from the memory; the exchange joins the session's history.

        Args:
            message: The question.
            session_id: Which conversation this belongs to.

        Returns:
            The answer. The documents it drew on are in :attr:`last_sources`.
        """
        inputs = self._inputs(message, session_id)
        reply = self.chain.invoke(inputs)
        self._remember(session_id, message, reply)
        return reply

    def stream(self, message: str, session_id: str = "default") -> Iterator[str]:
        """Like :meth:`chat`, yielding the answer in pieces as the chat model produces them.

        Args:
            message: The question.
            session_id: Which conversation this belongs to.

        Yields:
            Pieces of the answer; the exchange is saved once the answer is complete.
        """
        inputs = self._inputs(message, session_id)
        parts: list[str] = []
        for piece in self.chain.stream(inputs):
            parts.append(piece)
            yield piece
        self._remember(session_id, message, "".join(parts))

    async def achat(self, message: str, session_id: str = "default") -> str:
        """Async :meth:`chat`."""
        inputs = self._inputs(message, session_id)
        reply = await self.chain.ainvoke(inputs)
        self._remember(session_id, message, reply)
        return reply

    async def astream(self, message: str, session_id: str = "default") -> AsyncIterator[str]:
        """Async :meth:`stream`."""
        inputs = self._inputs(message, session_id)
        parts: list[str] = []
        async for piece in self.chain.astream(inputs):
            parts.append(piece)
            yield piece
        self._remember(session_id, message, "".join(parts))

    def get_history(self, session_id: str = "default") -> list[tuple[str, str]]:
        """The session's exchanges as ``(role, text)`` pairs, roles ``"human"`` and ``"ai"``."""
        return [(m.type, str(m.content)) for m in self.get_session_history(session_id).messages]

    def clear_history(self, session_id: str | None = None) -> None:
        """Forget one session's history, or every session's."""
        for sid in [session_id] if session_id is not None else list(self._histories):
            if sid in self._histories:
                self._histories[sid].clear()

    reset = clear_history

    def search_context(self, query: str, top_k: int | None = None) -> list[str]:
        """The texts of the passages most similar to ``query``."""
        return [d.page_content for d in self.store.similarity_search(query, k=top_k or self.top_k)]


def _search_query(inputs: dict[str, Any]) -> str:
    history: Sequence[BaseMessage] = inputs.get("history") or []
    return follow_up_query(inputs["question"], [str(m.content) for m in history if m.type == "human"])
