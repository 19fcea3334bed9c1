"""``MemvidInteractive``: a Gradio web UI over a memory -- chat with citations, search, frame viewer, overview, upload.

It runs entirely on this machine: Gradio analytics are switched off, the theme uses system fonts (no
web-font downloads), the server binds 127.0.0.1 unless told otherwise, and answers come from the
offline extractive answerer unless an LLM is configured.  This class holds the memory and does the
work behind each panel (testable without a browser); :mod:`memvid_base.apps.interactive_page` lays out
the page and wires its events to these handlers.

Example:
    >>> MemvidInteractive("kb.mp4", "kb_index.json").run()   # doctest: +SKIP  (http://127.0.0.1:7860)
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no usage pings, no version checks
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

from ..chat import MemvidChat, resolve_llm
from ..errors import InvalidInputError, MemvidError
from ..loaders import SUPPORTED_SUFFIXES
from ..memory import Memory
from ..present import chunk_record, cite, info_rows, source_label
from ..types import Chunk

if TYPE_CHECKING:  # gradio (3 s to import) and PIL load when the page is built or a frame drawn
    import gradio as gr
    from PIL import Image

SEARCH_MODES = ("hybrid", "vector", "keyword")
# Hybrid by default: in benchmarks/bench_retrieval.py it beat vector search on exact-word queries by
# the margin and stayed within a point of it on paraphrases; people type both in a search box.
DEFAULT_SEARCH_MODE = "hybrid"


class MemvidInteractive:
    """A browser UI over one memory.

    Args:
        video_file: The memory's MP4 (or its index JSON).
        index_file: Its index; found from the video when omitted (see :mod:`memvid_base.files.layout`).
        llm: A LangChain chat model or a callable ``prompt -> str``; None answers offline, quoting the memory.
        llm_provider: ``"openai"``, ``"anthropic"``, ``"google"``, ``"ollama"`` or ``"none"``, used when ``llm`` is None.
        llm_model: Model name for ``llm_provider``.
        api_key: API key for ``llm_provider`` (else its usual environment variable).
        top_k: Chunks retrieved per question.
        max_upload_mb: Largest file the upload box accepts.
        allowed_types: File suffixes the upload box accepts (default: every type memvid can read).
        chunk_size: Characters per chunk for uploaded files.
        embedding_model: As for :class:`~memvid_base.memory.Memory`; must match the memory's model.
        title: Page title.
        search_mode: The search tab's starting mode: ``"hybrid"`` (default: keyword and vector
            search fused, good for both exact names and paraphrases), ``"vector"`` or ``"keyword"``.
            The chat tab retrieves by vector search.
    """

    def __init__(
        self,
        video_file: str | os.PathLike[str],
        index_file: str | os.PathLike[str] | None = None,
        llm: Any = None,
        llm_provider: str | None = None,
        llm_model: str | None = None,
        api_key: str | None = None,
        *,
        top_k: int = 5,
        max_upload_mb: float = 20,
        allowed_types: Sequence[str] | None = None,
        chunk_size: int = 512,
        embedding_model: Any = None,
        title: str = "memvid",
        memory: Memory | None = None,
        search_mode: str = DEFAULT_SEARCH_MODE,
    ) -> None:
        if search_mode not in SEARCH_MODES:
            raise InvalidInputError(f"search_mode must be one of {', '.join(SEARCH_MODES)}, got {search_mode!r}.")
        self.search_mode = search_mode
        self.memory = memory if memory is not None else Memory(video_file, index_file, embedding_model=embedding_model)
        llm = resolve_llm(llm, llm_provider, llm_model, api_key)
        self.llm = llm
        self.llm_label = "offline extractive answers" if llm is None else f"LLM: {llm_provider or type(llm).__name__}"
        if top_k < 1:
            raise InvalidInputError(f"top_k must be at least 1, got {top_k}.")
        if max_upload_mb <= 0:
            raise InvalidInputError(f"max_upload_mb must be positive, got {max_upload_mb}.")
        self.top_k = top_k
        self.max_upload_bytes = int(max_upload_mb * 1024 * 1024)
        self.max_upload_mb = max_upload_mb
        types = allowed_types if allowed_types is not None else sorted(SUPPORTED_SUFFIXES)
        self.allowed_types = sorted({t.lower() if t.startswith(".") else f".{t.lower()}" for t in types})
        unknown = set(self.allowed_types) - SUPPORTED_SUFFIXES
        if unknown:
            raise InvalidInputError(f"allowed_types has types memvid cannot read: {', '.join(sorted(unknown))}.")
        self.chunk_size = chunk_size
        self.title = title
        self._lock = threading.RLock()  # one memory, many browser sessions: one operation at a time
        self.demo: gr.Blocks | None = None

    # ------------------------------------------------------------------ the work behind each panel (testable without a browser)

    def new_chat(self) -> MemvidChat:
        return MemvidChat(memory=self.memory, llm=self.llm, top_k=self.top_k)

    def ask(self, message: str, chat: MemvidChat | None = None) -> tuple[str, list[Chunk], MemvidChat]:
        """Answer one question; returns ``(reply, cited sources, chat)``. LLM replies get their sources appended."""
        chat = chat or self.new_chat()
        with self._lock:
            reply = chat.chat(message)
        sources = list(chat.last_sources)
        if chat.llm is not None and sources:
            reply += "\n\nSources:\n" + "\n".join(cite(c, k) for k, c in enumerate(sources, start=1))
        return reply, sources, chat

    def search(self, query: str, top_k: int | None = None, mode: str | None = None) -> list[dict[str, Any]]:
        """Search results as records: rank, score, frame, segment, file, page, id, text.

        Args:
            query: What to look for.
            top_k: How many results (default: the app's ``top_k``).
            mode: ``"hybrid"``, ``"vector"`` or ``"keyword"`` (default: the app's ``search_mode``).
        """
        if not query or not query.strip():
            raise InvalidInputError("Type something to search for.")
        mode = mode or self.search_mode
        if mode not in SEARCH_MODES:
            raise InvalidInputError(f"Search mode must be one of {', '.join(SEARCH_MODES)}, got {mode!r}.")
        with self._lock:
            chunks = self.memory.search(query.strip(), top_k=int(top_k or self.top_k), mode=mode)
        return [chunk_record(k, c) for k, c in enumerate(chunks, start=1)]

    def search_table(self, query: str, top_k: float, mode: str | None) -> tuple[list[list[Any]], list[dict[str, Any]]]:
        """What the search panel shows: table rows (rank, score, frame, segment, file, page, id, preview) and records."""
        recs = self.search(query, int(top_k), mode)
        rows = [[r["rank"], round(r["score"] or 0.0, 3), r["frame"], r["segment"], r["file"] or "",
                 "" if r["page"] is None else r["page"], r["id"], _preview(r["text"])] for r in recs]
        return rows, recs

    def frame_image(self, segment: str, frame: int, scale: int = 3) -> Image.Image:
        """The QR frame a chunk was decoded from, enlarged with sharp pixels for viewing."""
        with self._lock:
            gray = self.memory.frame_pixels(segment, int(frame))
        from PIL import Image

        img = Image.fromarray(np.asarray(gray, dtype=np.uint8), mode="L")
        return img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)

    def overview(self) -> list[list[str]]:
        with self._lock:
            info = self.memory.info()
        return [[k, v] for k, v in info_rows(info)]

    def header(self) -> str:
        with self._lock:
            info = self.memory.info()
        return (
            f"## memvid · {Path(info['video_file']).name}\n"
            f"{info['chunks']} chunks in {info['frames']} QR frames · {info['codec']} · version {info['version']} · "
            f"{self.llm_label}"
        )

    def add_files(self, files: Sequence[Any] | None) -> tuple[bool, str]:
        """Append uploaded files to the memory (a new segment). Returns ``(ok, message)``; on error nothing changes."""
        from ..encoder import MemvidEncoder

        paths = [Path(getattr(f, "name", f)) for f in (files or []) if f]
        if not paths:
            return False, "Choose one or more files to add first."
        for p in paths:
            if p.suffix.lower() not in self.allowed_types:
                return False, (f"{p.name}: files of type {p.suffix or '(none)'!r} are not accepted. "
                               f"Allowed: {', '.join(self.allowed_types)}. Nothing was added.")
            size = p.stat().st_size if p.is_file() else -1
            if size < 0:
                return False, f"{p.name}: the upload did not arrive; try again. Nothing was added."
            if size > self.max_upload_bytes:
                return False, (f"{p.name} is {size / 1048576:.1f} MB; the limit is {self.max_upload_mb:g} MB per file. "
                               "Split it or add it with `memvid encode --append`. Nothing was added.")
            if size == 0:
                return False, f"{p.name} is empty. Nothing was added."
        encoder = MemvidEncoder(chunk_size=self.chunk_size, embedding_model=self.memory.embedder)
        try:
            for p in paths:  # read and chunk everything first: one bad file rejects the whole upload
                encoder.add_file(p)
            with self._lock:
                self.memory.add(encoder.chunks, encoder.metadatas)
                version = self.memory.version
        except (MemvidError, OSError) as exc:
            message = " ".join(str(exc).split())
            for p in paths:  # name the file as the user knows it, not by its temporary upload path
                message = message.replace(str(p), p.name)
            return False, f"{message} Nothing was added."
        names = ", ".join(p.name for p in paths)
        return True, f"Added {len(encoder.chunks)} chunks from {names} (memory version {version})."

    # ------------------------------------------------------------------ the Gradio app

    def build(self) -> gr.Blocks:
        """Build (once) and return the Gradio Blocks app."""
        if self.demo is None:
            try:
                from .interactive_page import build_page
            except ImportError as exc:
                raise ImportError(f"The web UI needs gradio ({exc}): pip install 'memvid-rag[web]'.") from exc
            self.demo = build_page(self, SEARCH_MODES)
        return self.demo

    def _frame_for(self, records: Sequence[dict[str, Any]], rank: Any) -> tuple[Image.Image | None, str, str]:
        """Frame image, caption and decoded text for the result with this rank (1-based)."""
        try:
            rec = next(r for r in records if int(r["rank"]) == int(rank))
        except (StopIteration, TypeError, ValueError):
            return None, "", ""
        try:
            image = self.frame_image(rec["segment"], rec["frame"])
        except (MemvidError, OSError) as exc:
            return None, f"Could not read frame {rec['frame']} of {rec['segment']}: {exc}", rec["text"]
        where = rec["file"] or "memory"
        if rec["page"] is not None:
            where += f", page {rec['page']}"
        score = "" if rec["score"] is None else f" · score {rec['score']:.3f}"
        caption = f"**[{rec['rank']}] {_escape_md(where)}** — frame {rec['frame']} of `{rec['segment']}`, chunk `{rec['id']}`{score}"
        return image, caption, rec["text"]

    @staticmethod
    def _sources_markdown(records: Sequence[dict[str, Any]], sources: Sequence[Chunk]) -> str:
        if not records:
            return "No sources: nothing in the memory matched."
        lines = []
        for rec, chunk in zip(records, sources, strict=True):
            score = "" if rec["score"] is None else f" · score {rec['score']:.3f}"
            lines.append(f"**[{rec['rank']}] {source_label(chunk.metadata)}** — frame {rec['frame']} of `{rec['segment']}`, "
                         f"chunk `{rec['id']}`{score}\n\n> {_escape_md(_preview(rec['text'], 240))}")
        return "\n\n".join(lines)

    def launch_kwargs(self, host: str, port: int | None, share: bool, block: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "server_name": host,
            "server_port": port,
            "share": share,
            "prevent_thread_lock": not block,
            "max_file_size": self.max_upload_bytes,
            "show_error": True,
            "quiet": True,
            "inbrowser": False,
        }
        from .interactive_page import style, theme_in_launch

        if theme_in_launch():
            kwargs.update(style())
        return kwargs

    def run(self, host: str = "127.0.0.1", port: int | None = 7860, share: bool = False, block: bool = True) -> Any:
        """Serve the UI at ``http://host:port``. ``block=False`` returns at once (the server runs in a thread).

        The default host is 127.0.0.1, reachable from this machine only; pass ``host="0.0.0.0"`` to expose it.
        """
        demo = self.build()
        demo.queue(default_concurrency_limit=4)
        return demo.launch(**self.launch_kwargs(host, port, share, block))

    launch = run

    def close(self) -> None:
        if self.demo is not None:
            self.demo.close()
        self.memory.close()


def _preview(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _escape_md(text: str) -> str:
    """Show text literally inside Markdown (chunks are often Markdown themselves)."""
    return re.sub(r"([\\`*_\[\]#|<>~])", r"\\\1", text)
