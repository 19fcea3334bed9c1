"""``MemvidEncoder``: collect chunks, then build them into a video memory (the original memvid API)."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .boundary import public_errors
from .chunking import chunk_text
from .embeddings import Embedder
from .errors import InvalidInputError
from .loaders import iter_files, read_pdf, read_text_file
from .memory import Memory

HINT_RATIO = 3.0  # video / raw text above which build_video prints a hint

logger = logging.getLogger(__name__)
_PARALLEL_MIN = 2000  # below this many chunks a process pool costs more than it saves


@public_errors  # bad arguments raise InvalidInputError, never a raw traceback (boundary.py)
class MemvidEncoder:
    """Collects text chunks and builds them into an MP4 memory with a semantic index.

    Args:
        config: Optional dict in the original memvid shape (``{"chunking": {"chunk_size": ..., "overlap": ...}}``).
        chunk_size: Maximum characters per chunk for ``add_text``/``add_pdf``.
        overlap: Characters shared by consecutive chunks.
        n_workers: Processes used for chunking in ``add_chunks_parallel`` and for QR rendering in ``build_video``.
        embedding_model: ``None`` for the bundled offline all-MiniLM-L6-v2, or any model ``Embedder`` accepts.

    Example:
        >>> enc = MemvidEncoder(chunk_size=512)                               # doctest: +SKIP
        >>> enc.add_chunks(["NASA was founded in 1958", "Apollo 11 landed on the Moon in 1969"])  # doctest: +SKIP
        >>> enc.build_video("space.mp4", "space_index.json")                  # doctest: +SKIP
    """

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        chunk_size: int | None = None,
        overlap: int | None = None,
        n_workers: int | None = None,
        embedding_model: Any = None,
    ) -> None:
        chunking = dict((config or {}).get("chunking", {}))
        self.chunk_size = int(chunk_size if chunk_size is not None else chunking.get("chunk_size", 512))
        self.overlap = int(overlap if overlap is not None else chunking.get("overlap", min(50, self.chunk_size // 4)))
        if self.chunk_size < 1:
            raise InvalidInputError(f"chunk_size must be positive, got {self.chunk_size}.")
        self.n_workers = max(1, int(n_workers if n_workers is not None else min(2, os.cpu_count() or 1)))
        self.embedder = embedding_model if isinstance(embedding_model, Embedder) else Embedder(embedding_model)
        self.chunks: list[str] = []
        self.metadatas: list[dict[str, Any]] = []
        self.ids: list[str | None] = []

    # ------------------------------------------------------------------ adding content

    def add_chunks(self, chunks: Sequence[str], metadata: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
                   ids: Sequence[str] | None = None) -> None:
        """Add pre-split chunks exactly as given. A chunk larger than one frame spans several frames."""
        if isinstance(chunks, str):
            raise InvalidInputError("add_chunks takes a list of strings; use add_text for one text.")
        chunks = list(chunks)
        for k, chunk in enumerate(chunks):
            if not isinstance(chunk, str):
                raise InvalidInputError(f"Chunk {k} must be a str, got {type(chunk).__name__}.")
            if not chunk.strip():
                raise InvalidInputError(f"Chunk {k} is empty; remove empty chunks before adding them.")
        metas = self._metadata_list(metadata, len(chunks))
        if ids is not None and len(ids) != len(chunks):
            raise InvalidInputError(f"Got {len(ids)} ids for {len(chunks)} chunks.")
        self.chunks.extend(chunks)
        self.metadatas.extend(metas)
        self.ids.extend(list(ids) if ids is not None else [None] * len(chunks))

    def add_text(self, text: str, chunk_size: int | None = None, overlap: int | None = None,
                 metadata: Mapping[str, Any] | None = None) -> int:
        """Split ``text`` into chunks and add them; returns how many chunks were added."""
        if not isinstance(text, str):
            raise InvalidInputError(f"add_text takes a str, got {type(text).__name__}.")
        if not text.strip():
            raise InvalidInputError("add_text got empty text; there is nothing to add.")
        size = chunk_size or self.chunk_size
        pieces = chunk_text(text, size, self.overlap if overlap is None else overlap)
        self.add_chunks(pieces, dict(metadata or {}))
        return len(pieces)

    def add_pdf(self, pdf_path: str | os.PathLike[str], chunk_size: int | None = None, overlap: int | None = None) -> int:
        """Add a PDF page by page; each chunk's metadata has the file name and its page number."""
        added = 0
        for text, meta in read_pdf(pdf_path):
            added += self.add_text(text, chunk_size, overlap, metadata=meta)
        if added == 0:
            raise InvalidInputError(f"{pdf_path} has no extractable text (scanned images?). OCR it first.")
        return added

    def add_file(self, path: str | os.PathLike[str], metadata: Mapping[str, Any] | None = None) -> int:
        """Add a PDF, Markdown or text file; the file name goes into each chunk's metadata."""
        p = os.fspath(path)
        if p.lower().endswith(".pdf"):
            return self.add_pdf(p)
        return self.add_text(read_text_file(p), metadata={"file": os.path.basename(p), **dict(metadata or {})})

    def add_files(self, paths: Iterable[str | os.PathLike[str]]) -> int:
        """Add files and folders (recursively); returns the number of chunks added."""
        return sum(self.add_file(p) for p in iter_files(list(paths)))

    def add_chunks_parallel(self, chunks: Sequence[str], metadata: Mapping[str, Any] | None = None) -> int:
        """Chunk many texts at once in ``n_workers`` processes and add the pieces, in order.

        Each text is split to ``chunk_size`` like ``add_text`` (short texts stay whole). Returns the
        number of chunks added.
        """
        texts = list(chunks)
        for k, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise InvalidInputError(f"Text {k} is empty or not a str.")
        args = [(t, self.chunk_size, self.overlap) for t in texts]
        if self.n_workers > 1 and len(texts) >= _PARALLEL_MIN:
            import multiprocessing  # here: `import memvid_base` must not pay for it (8 ms per CLI call)
            from concurrent.futures import ProcessPoolExecutor

            ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
            with ProcessPoolExecutor(self.n_workers, mp_context=ctx) as pool:
                pieces = list(pool.map(_chunk_one, args, chunksize=max(1, len(args) // (self.n_workers * 8))))
        else:
            pieces = [_chunk_one(a) for a in args]
        flat = [p for group in pieces for p in group]
        self.add_chunks(flat, dict(metadata or {}))
        return len(flat)

    # ------------------------------------------------------------------ building

    def build_video(
        self,
        output_file: str | os.PathLike[str],
        index_file: str | os.PathLike[str] | None = None,
        fps: float = 30,
        frame_size: int | None = None,
        video_codec: str | None = None,
        crf: int | None = None,
        show_progress: bool = True,
        *,
        codec: str | None = None,
        qr_backend: str = "zxing",
        client: Any = None,
        overwrite: bool = False,
        **legacy: Any,
    ) -> dict[str, Any]:
        """Encode all chunks into ``output_file`` and index them; returns build statistics.

        With no ``index_file``, the index and every other cache go in one hidden folder beside the
        video, ``.<video name>.memvid-cache`` (or the index stays ``<stem>_index.json`` when a memory
        of the earlier layout is there); with one, the index is written exactly there and the other
        caches still go in the hidden folder. ``info()["index_file"]`` says where it went.

        The build is verified (every frame decoded back byte-exact) before it replaces anything at
        these paths. A memory already there is replaced, as the original API did, and a warning says
        how many chunks it held; any other file at ``output_file`` (an ordinary video) is replaced
        only with ``overwrite=True``. ``codec`` is an alias of ``video_codec``; the original memvid's
        ``auto_build_docker``/``allow_fallback`` are accepted and ignored (no Docker is needed).
        """
        unknown = set(legacy) - {"auto_build_docker", "allow_fallback"}
        if unknown:
            raise InvalidInputError(f"build_video got unexpected arguments: {', '.join(sorted(unknown))}.")
        if not self.chunks:
            raise InvalidInputError("No chunks to encode. Add content with add_text, add_chunks or add_pdf first.")
        started = time.perf_counter()
        memory = Memory.build(
            output_file,
            index_file,
            self.chunks,
            self.metadatas,
            self.ids,
            embedding_model=self.embedder,
            codec=video_codec or codec or "av1",
            fps=fps,
            frame_size=frame_size,
            crf=crf,
            qr_backend=qr_backend,
            client=client,
            n_workers=self.n_workers,
            show_progress=show_progress,
            overwrite=overwrite,
        )
        info = memory.info()
        memory.close()
        info.update(
            total_chunks=info["chunks"],
            total_frames=info["frames"],
            video_size_mb=round(info["video_bytes"] / 1e6, 4),
            build_seconds=round(time.perf_counter() - started, 3),
        )
        hint = size_hint(info)
        if hint:
            info["hint"] = hint
            print(hint, file=sys.stderr)
        return info

    def clear(self) -> None:
        self.chunks, self.metadatas, self.ids = [], [], []

    def get_stats(self) -> dict[str, Any]:
        total = sum(len(c) for c in self.chunks)
        return {
            "total_chunks": len(self.chunks),
            "total_characters": total,
            "avg_chunk_size": total / len(self.chunks) if self.chunks else 0,
            "chunk_size": self.chunk_size,
            "overlap": self.overlap,
            "n_workers": self.n_workers,
            "embedding_model": self.embedder.name,
        }

    @classmethod
    def from_documents(cls, documents: Iterable[str], chunk_size: int = 512, overlap: int = 50, **kwargs: Any) -> MemvidEncoder:
        enc = cls(chunk_size=chunk_size, overlap=overlap, **kwargs)
        for doc in documents:
            enc.add_text(doc)
        return enc

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], chunk_size: int = 512, overlap: int = 50, **kwargs: Any) -> MemvidEncoder:
        enc = cls(chunk_size=chunk_size, overlap=overlap, **kwargs)
        enc.add_file(path)
        return enc

    @staticmethod
    def _metadata_list(metadata: Any, n: int) -> list[dict[str, Any]]:
        if metadata is None or isinstance(metadata, Mapping):
            return [dict(metadata or {}) for _ in range(n)]
        metas = list(metadata)
        if len(metas) != n:
            raise InvalidInputError(f"Got {len(metas)} metadata dicts for {n} chunks.")
        return [dict(m or {}) for m in metas]


def size_hint(info: Mapping[str, Any]) -> str | None:
    """One line of advice when a lossy codec made the video much larger than the text it holds."""
    ratio = info.get("ratio_to_raw_text")
    if info.get("codec") == "av1" or not isinstance(ratio, (int, float)) or ratio <= HINT_RATIO:
        return None
    return (f"memvid: this {info.get('codec')} video at {info.get('frame_size')} px is {ratio:.1f}x the raw text "
            "(lossy codecs need 3-px QR modules); video_codec='av1', the default, stores the text in about 0.5x.")


def _chunk_one(args: tuple[str, int, int]) -> list[str]:
    text, size, overlap = args
    return chunk_text(text, size, overlap)
