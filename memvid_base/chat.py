"""``MemvidChat``: answer questions from a memory, with an LLM or, offline, extractively with citations."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .chunking import split_sentences
from .errors import InvalidInputError
from .index.query import check_count
from .memory import Memory
from .present import cite
from .types import Chunk

SYSTEM_PROMPT = (
    "You answer questions using only the numbered context passages from the user's memory. "
    "Cite passages as [1], [2]. If the context does not contain the answer, say so."
)


# provider -> (module, class, API-key environment variable or None, default model, pip extra)
PROVIDERS: dict[str, tuple[str, str, str | None, str, str]] = {
    "openai": ("langchain_openai", "ChatOpenAI", "OPENAI_API_KEY", "gpt-4o-mini", "openai"),
    "anthropic": ("langchain_anthropic", "ChatAnthropic", "ANTHROPIC_API_KEY", "claude-3-5-haiku-latest", "anthropic"),
    "google": ("langchain_google_genai", "ChatGoogleGenerativeAI", "GOOGLE_API_KEY", "gemini-1.5-flash", "google"),
    "ollama": ("langchain_ollama", "ChatOllama", None, "llama3.2", "ollama"),
}


def create_chat_model(provider: str, model: str | None = None, api_key: str | None = None, timeout: float = 60) -> Any:
    """Build the LangChain chat model for ``provider``; a missing package or key is a clear error.

    Every model gets a request ``timeout`` (seconds) and at most one retry, so a chat never hangs.
    """
    name = provider.lower()
    if name not in PROVIDERS:
        raise InvalidInputError(f"Unknown provider {provider!r}. Use one of: none, {', '.join(PROVIDERS)}.")
    module_name, cls_name, env, default_model, extra = PROVIDERS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInputError(
            f"Provider {name!r} needs the {module_name.replace('_', '-')} package: pip install 'memvid-rag[{extra}]'."
        ) from exc
    key = api_key or (os.environ.get(env) if env else None)
    if env and not key:
        raise InvalidInputError(f"Provider {name!r} needs an API key: set {env} or pass api_key=. Or use --provider none.")
    kwargs: dict[str, Any] = {"model": model or default_model}
    if env:
        kwargs["api_key"] = key
    if name == "ollama":
        # A local server: the timeout goes to its httpx client, so a stalled server cannot hang a chat.
        kwargs["client_kwargs"] = {"timeout": timeout}
    else:
        kwargs["timeout"] = timeout
        kwargs["max_retries"] = 1  # Google's default of 6 retries would keep a user waiting for minutes
    try:
        return getattr(module, cls_name)(**kwargs)
    except Exception as exc:  # pydantic validation of a bad model name or key format
        raise InvalidInputError(f"Could not set up provider {name!r}: {exc}") from exc


def resolve_llm(llm: Any = None, provider: str | None = None, model: str | None = None, api_key: str | None = None) -> Any:
    """The chat model to use: ``llm`` itself, else one built for ``provider``; None means offline answers."""
    if llm is None and provider and provider.lower() != "none":
        return create_chat_model(provider, model, api_key)
    return llm


def format_context(chunks: Sequence[Chunk]) -> str:
    return "\n\n".join(f"{cite(c, k)}\n{c.text}" for k, c in enumerate(chunks, start=1))


def follow_up_query(message: str, previous_questions: Sequence[str]) -> str:
    """What to search for: a short follow-up ("and when did it end?") carries the previous question along."""
    previous = list(previous_questions)[-1:]
    return " ".join([*previous, message]) if previous and len(message.split()) < 6 else message


@dataclass
class Answer:
    text: str
    sources: list[Chunk]


def extractive_answer(question: str, chunks: Sequence[Chunk], memory: Memory, max_sentences: int = 3) -> Answer:
    """Quote the sentences from the retrieved chunks that are closest to the question, with citations."""
    if not chunks:
        return Answer("I could not find anything about that in the memory.", [])
    candidates: list[tuple[int, str]] = []
    for k, chunk in enumerate(chunks):
        # Whole sentences, not lines: prose is hard-wrapped, and a heading is not an answer.
        for a, b in split_sentences(chunk.text):
            sentence = " ".join(chunk.text[a:b].split())
            if len(sentence) >= 3 and not sentence.startswith("#"):
                candidates.append((k, sentence))
    if not candidates:
        candidates = [(k, c.text.strip()) for k, c in enumerate(chunks)]
    q = memory.embed_query(question)
    vecs = memory.embedder.embed_documents([s for _, s in candidates])
    # Prefer sentences from better-ranked chunks a little, so the top hit usually leads.
    scores = vecs @ q - 0.02 * np.array([k for k, _ in candidates])
    ranked = [int(i) for i in np.argsort(-scores)]
    # Quote only sentences nearly as relevant as the best one; a stray fragment helps nobody.
    order = [i for i in ranked[:max_sentences] if scores[i] >= 0.6 * scores[ranked[0]] and len(candidates[i][1]) >= 12]
    order = order or ranked[:1]
    used: dict[int, int] = {}
    lines = []
    for i in order:
        k, sentence = candidates[i]
        number = used.setdefault(k, len(used) + 1)
        lines.append(f'> "{sentence}" [{number}]')
    cited = sorted(used, key=used.get)  # type: ignore[arg-type]
    sources = [chunks[k] for k in cited]
    text = "From the memory:\n" + "\n".join(lines) + "\n\nSources:\n" + "\n".join(cite(c, used[k]) for k, c in zip(cited, sources))
    return Answer(text, sources)


class MemvidChat:
    """Chat over a memory. With no LLM it answers offline by quoting the memory, with citations.

    Args:
        video_file: The memory's MP4 (or index JSON).
        index_file: Its index; found from the video when omitted (see :mod:`memvid_base.files.layout`).
        llm: A LangChain chat model (anything with ``.invoke(messages)``) or a callable ``prompt -> str``.
        llm_provider: ``"openai"``, ``"anthropic"``, ``"google"``, ``"ollama"`` or ``"none"``; used when ``llm`` is None.
        llm_model: Model name for ``llm_provider``.
        api_key: API key for ``llm_provider`` (else read from its usual environment variable).
        top_k: Chunks retrieved per question.

    Example:
        >>> MemvidChat("space.mp4", "space_index.json").chat("When did humans land on the Moon?")  # doctest: +SKIP
        'From the memory:\\n> "Apollo 11 landed on the Moon in 1969" [1] ...'
    """

    def __init__(
        self,
        video_file: str | os.PathLike[str] | None = None,
        index_file: str | os.PathLike[str] | None = None,
        llm: Any = None,
        llm_provider: str | None = None,
        llm_model: str | None = None,
        api_key: str | None = None,
        config: Mapping[str, Any] | None = None,
        *,
        memory: Memory | None = None,
        top_k: int = 5,
        embedding_model: Any = None,
        max_history: int = 10,
    ) -> None:
        check_count(top_k, "top_k")  # checked here, not at the first question
        if not isinstance(max_history, int) or isinstance(max_history, bool) or max_history < 0:
            raise InvalidInputError(f"max_history must be a whole number of exchanges (0 or more), got {max_history!r}.")
        if memory is None:
            if video_file is None:
                raise InvalidInputError("MemvidChat needs a video_file (or a memory=).")
            memory = Memory(video_file, index_file, embedding_model=embedding_model)
        self.memory = memory
        self.llm = resolve_llm(llm, llm_provider, llm_model, api_key)
        self.top_k = top_k
        self.max_history = max_history
        self.history: list[tuple[str, str]] = []
        self.last_sources: list[Chunk] = []

    def chat(self, message: str) -> str:
        """Answer ``message`` from the memory; the exchange is kept as history for follow-ups."""
        if not isinstance(message, str) or not message.strip():
            raise InvalidInputError("Ask a question: the message is empty.")
        chunks = self.memory.search(self._search_query(message), self.top_k)
        self.last_sources = chunks
        if self.llm is None:
            answer = extractive_answer(message, chunks, self.memory)
            reply, self.last_sources = answer.text, answer.sources
        else:
            reply = self._ask_llm(message, chunks)
        self.history.extend([("human", message), ("ai", reply)])
        del self.history[: max(0, len(self.history) - 2 * self.max_history)]  # [-0:] would keep everything
        return reply

    def search_context(self, query: str, top_k: int | None = None) -> list[str]:
        return [c.text for c in self.memory.search(query, top_k or self.top_k)]

    def _search_query(self, message: str) -> str:
        # Follow-ups like "and when did it end?" need the previous question to retrieve well.
        return follow_up_query(message, [m for role, m in self.history if role == "human"])

    def _ask_llm(self, message: str, chunks: Sequence[Chunk]) -> str:
        prompt = f"Context:\n{format_context(chunks)}\n\nQuestion: {message}"
        if hasattr(self.llm, "invoke"):
            messages = [("system", SYSTEM_PROMPT), *self.history, ("human", prompt)]
            result = self.llm.invoke(messages)
            return str(getattr(result, "content", result))
        if callable(self.llm):
            return str(self.llm(f"{SYSTEM_PROMPT}\n\n{prompt}"))
        raise InvalidInputError("llm must be a LangChain chat model or a callable taking a prompt string.")

    def clear_history(self) -> None:
        self.history.clear()

    reset = clear_history

    def get_history(self) -> list[tuple[str, str]]:
        return list(self.history)

    def interactive_chat(self) -> None:  # pragma: no cover - needs a terminal
        print("Chat with your memory. Type 'quit' to leave, 'clear' to forget the conversation.")
        while True:
            try:
                message = input("\nYou: ").strip()
            except (EOFError, KeyboardInterrupt):
                break
            if message.lower() in {"quit", "exit", "q"}:
                break
            if message.lower() == "clear":
                self.clear_history()
                continue
            if message:
                print(f"\nAssistant: {self.chat(message)}")


def chat_with_memory(video_file: str, index_file: str | None = None, **kwargs: Any) -> None:  # pragma: no cover
    """Start an interactive terminal chat (the original memvid helper)."""
    MemvidChat(video_file, index_file, **kwargs).interactive_chat()


def quick_chat(video_file: str, index_file: str | None, message: str, **kwargs: Any) -> str:
    """One question, one answer (the original memvid helper)."""
    return MemvidChat(video_file, index_file, **kwargs).chat(message)
