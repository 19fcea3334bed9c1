"""A BM25 keyword index over chunks that holds no text: a rebuildable cache in the memory's cache folder.

Built on Tantivy (the ``tantivy`` Python binding), chosen by measurement over ``bm25s``
(``benchmarks/bench_keyword_choice.py``): Tantivy adds and deletes documents without a rebuild, and its
commits are atomic (a new ``meta.json`` replaces the old one in one rename), so a ``kill -9`` at any
point leaves the last committed state.

Every text field is *indexed, not stored*: the folder holds inverted lists, never the chunk text.  The
only stored values are the opaque row ids and the commit stamp.

Three analyses of each chunk are indexed:

* ``words``: identifier-aware tokens.  A run of letters, digits and ``_`` joined by ``.``, ``-`` or
  ``:`` is one lowercased token, so ``os.path.join``, ``PYTHONHASHSEED`` and ``ERR_CONN_RESET`` each
  match exactly and, being rare, score high.
* ``parts``: Tantivy's simple tokenizer (splits on anything not alphanumeric, ``_`` included), so the
  same identifiers are also found by their parts (``join``, ``conn``, ``reset``).
* ``tri``: case-sensitive character trigrams, positions-free.  They answer :meth:`KeywordIndex.candidates`
  for Chroma-style ``$contains`` (a case-sensitive *substring* test): every chunk containing a term
  contains all of its trigrams, so the candidates are a superset of the matches, never missing one.

Queries are analysed with the same Rust analyzers and built as term queries, never through a query
parser, so no user input (quotes, colons, parentheses, unicode) can raise.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import tantivy

from ..errors import CorruptMemoryError, InvalidInputError, MemvidError
from ..safe_files import read_text_nofollow, write_text_atomic

__all__ = ["KeywordIndex"]

_MARKER = "memvid-keywords.json"
_SCHEMA_VERSION = 2  # 2: a stored, opaque per-row payload (the row's placement; never text)
_STAMP_ID = "\x00stamp"  # a row id no caller can produce from "chunk-id@version" strings
_WORDS_RE = r"[\p{L}\p{N}_]+(?:[.\-:][\p{L}\p{N}_]+)*"
_MAX_CACHED_DOCS = 100_000  # row ids and payloads kept per pinned searcher (about 20 MB at most)
_MAX_QUERY_TERMS = 256  # a pasted page as a query must not build a giant boolean query
_MAX_TOKEN_CHARS = 64  # longer "words" (base64 blobs, hashes) would only bloat the term dictionary


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_text_field("row_id", stored=True, tokenizer_name="raw", index_option="basic")
    b.add_text_field("stamp", stored=True, tokenizer_name="raw", index_option="basic")
    b.add_text_field("payload", stored=True, tokenizer_name="raw", index_option="basic")
    b.add_text_field("words", stored=False, tokenizer_name="mv_words", index_option="freq")
    b.add_text_field("parts", stored=False, tokenizer_name="mv_parts", index_option="freq")
    b.add_text_field("tri", stored=False, tokenizer_name="mv_tri", index_option="basic")
    return b.build()


def _analyzers() -> dict[str, tantivy.TextAnalyzer]:
    lower, cap = tantivy.Filter.lowercase(), tantivy.Filter.remove_long(_MAX_TOKEN_CHARS)
    return {
        "mv_words": tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(_WORDS_RE)).filter(cap).filter(lower).build(),
        "mv_parts": tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(cap).filter(lower).build(),
        "mv_tri": tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.ngram(3, 3, False)).build(),
    }


def _check_ids(row_ids: Sequence[str]) -> list[str]:
    if isinstance(row_ids, str):
        raise InvalidInputError("row_ids must be a sequence of strings, not a single string.")
    ids = list(row_ids)
    for rid in ids:
        if not isinstance(rid, str) or not rid or rid == _STAMP_ID:
            raise InvalidInputError(f"Every row id must be a non-empty string, got {rid!r}.")
    return ids


class KeywordIndex:
    """BM25 over chunk texts, keyed by opaque row ids (e.g. ``"chunk-id@version"``); stores no text.

    Writes (:meth:`add`, :meth:`delete`, :meth:`clear`) are staged until :meth:`commit`, which makes
    them durable together with an opaque ``stamp`` (the memory's version or manifest id).  The caller
    compares :attr:`stamp` with its manifest on open and rebuilds the index from the video when they
    differ: that covers a crash between the memory's commit and this one, and a lost or stale cache.

    One process may write at a time (Tantivy holds a lock file while a writer is open); readers in
    other processes see each commit after it completes.

    Example:
        >>> idx = KeywordIndex.open(tmp_path / "kw")          # doctest: +SKIP
        >>> idx.add(["a@1"], ["Set PYTHONHASHSEED to 0."]); idx.commit("v1")
        >>> idx.search("PYTHONHASHSEED", k=5)
        [('a@1', 1.2...)]
    """

    def __init__(self, folder: Path, index: tantivy.Index, heap_size: int, num_threads: int) -> None:
        """Use :meth:`open`."""
        self._folder = folder
        self._index = index
        self._schema = index.schema
        self._analyzers = _analyzers()
        self._heap_size = heap_size
        self._num_threads = num_threads
        self._writer: Any = None
        self._closed = False
        # Every read goes through one pinned searcher, replaced only by reload() and commit(): Tantivy's own
        # reader may move to another process's commit at any moment, and the stamp and the cached stored
        # fields must describe the generation searched. The pair is read once per call, so a concurrent
        # reload() cannot match one generation's document addresses with another's fields.
        self._pinned: tuple[Any, dict[tuple[int, int], tuple[str, str | None]]] = (index.searcher(), {})
        self._stamp = self._read_stamp()

    # ------------------------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, folder: Path | str, *, heap_size: int = 64_000_000, num_threads: int = 1) -> KeywordIndex:
        """Open the index in ``folder``, creating it if missing.

        The folder is a cache owned by the index.  If it holds an index this version cannot read (an
        older schema, a damaged file), it is emptied and recreated, with :attr:`stamp` ``None`` so the
        caller rebuilds.  A non-empty folder that was never a keyword index is refused rather than
        emptied.

        Args:
            folder: Directory for the index files.
            heap_size: Indexing memory budget of the writer in bytes (Tantivy needs at least 15 MB per thread).
            num_threads: Indexing threads (0 lets Tantivy choose).

        Raises:
            CorruptMemoryError: ``folder`` is a non-empty directory that is not a keyword index.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / _MARKER
        if not marker.exists() and any(folder.iterdir()):
            raise CorruptMemoryError(
                f"{folder} is not empty and is not a memvid keyword index; refusing to overwrite it. "
                "Pass an empty or dedicated cache folder.")
        index = None
        try:
            meta = json.loads(read_text_nofollow(marker, 4096)) if os.path.lexists(marker) else None
            if meta is not None and meta.get("schema") == _SCHEMA_VERSION and tantivy.Index.exists(str(folder)):
                index = tantivy.Index.open(str(folder))
        except (OSError, ValueError, AttributeError, MemvidError):  # tantivy raises ValueError for damaged indexes
            index = None
        if index is None:
            cls._wipe(folder)
            index = tantivy.Index(_schema(), path=str(folder), reuse=False)
            write_text_atomic(marker, json.dumps({"schema": _SCHEMA_VERSION}))  # never through a planted link
        for name, analyzer in _analyzers().items():
            index.register_tokenizer(name, analyzer)
        index.reload()
        return cls(folder, index, heap_size, num_threads)

    @staticmethod
    def _wipe(folder: Path) -> None:
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                import shutil  # imported here: it loads bz2 and lzma, which readers never need
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def close(self) -> None:
        """Drop staged changes and release the writer lock.  Idempotent."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.rollback()
            self._writer = None
        self._closed = True

    def __enter__(self) -> KeywordIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ writes

    def _w(self) -> Any:
        if self._closed:
            raise InvalidInputError("This KeywordIndex is closed.")
        if self._writer is None:
            self._writer = self._index.writer(heap_size=self._heap_size, num_threads=self._num_threads)
        return self._writer

    def add(self, row_ids: Sequence[str], texts: Sequence[str], payloads: Sequence[str] | None = None) -> None:
        """Stage chunks for indexing (visible after :meth:`commit`); an existing row id is replaced.

        ``payloads`` are opaque strings stored with each row and returned by :meth:`search_payloads`
        (the caller keeps where a row lives there, so a hit needs no other lookup).  Never text.

        Raises:
            InvalidInputError: Lengths differ, or a row id or text is not a (non-empty) string.
        """
        ids = _check_ids(row_ids)
        if isinstance(texts, str) or len(ids) != len(texts):
            raise InvalidInputError(f"add() needs as many texts as row ids ({len(ids)}).")
        for text in texts:
            if not isinstance(text, str):
                raise InvalidInputError(f"Every text must be a str, got {type(text).__name__}.")
        if payloads is not None and (isinstance(payloads, str) or len(payloads) != len(ids)):
            raise InvalidInputError(f"add() needs as many payloads as row ids ({len(ids)}).")
        w = self._w()
        for k, (rid, text) in enumerate(zip(ids, texts)):
            w.delete_documents_by_term("row_id", rid)  # applies only to documents added before it
            extra = {} if payloads is None else {"payload": str(payloads[k])}
            w.add_document(tantivy.Document(row_id=rid, words=text, parts=text, tri=text, **extra))

    def delete(self, row_ids: Sequence[str]) -> None:
        """Stage removal of rows (unknown ids are ignored)."""
        w = self._w()
        for rid in _check_ids(row_ids):
            w.delete_documents_by_term("row_id", rid)

    def clear(self) -> None:
        """Stage removal of every row (the stamp too, until the next :meth:`commit` records one)."""
        self._w().delete_all_documents()

    def commit(self, stamp: str) -> None:
        """Make staged changes durable, recording ``stamp`` in the same atomic commit.

        Raises:
            InvalidInputError: ``stamp`` is not a string.
        """
        if not isinstance(stamp, str):
            raise InvalidInputError(f"stamp must be a str, got {type(stamp).__name__}.")
        w = self._w()
        w.delete_documents_by_term("row_id", _STAMP_ID)
        w.add_document(tantivy.Document(row_id=_STAMP_ID, stamp=stamp))
        w.commit()
        # Release Tantivy's writer lock now: the next writer may be another process.
        self._writer = None
        del w
        self._pin()
        self._stamp = stamp

    def reload(self) -> None:
        """See what other processes committed since this index was opened or last reloaded."""
        self._pin()
        self._stamp = self._read_stamp()

    def _pin(self) -> None:
        self._index.reload()
        self._pinned = (self._index.searcher(), {})

    # ------------------------------------------------------------------------------------ reads

    @property
    def stamp(self) -> str | None:
        """The stamp of the last commit, or ``None`` for a new (or recreated) index."""
        return self._stamp

    @property
    def folder(self) -> Path:
        """The directory holding the index files."""
        return self._folder

    def _read_stamp(self) -> str | None:
        searcher = self._pinned[0]
        hits = searcher.search(tantivy.Query.term_query(self._schema, "row_id", _STAMP_ID), 1).hits
        if not hits:
            return None
        value = searcher.doc(hits[0][1]).get_first("stamp")
        return value if isinstance(value, str) else None

    def __len__(self) -> int:
        """Committed rows (the stamp record excluded)."""
        return int(self._pinned[0].num_docs) - (0 if self._stamp is None else 1)

    def _terms(self, analyzer: str, text: str) -> list[str]:
        return list(dict.fromkeys(self._analyzers[analyzer].analyze(text)))[:_MAX_QUERY_TERMS]

    def search(self, query: str, k: int, allowed: Callable[[str], bool] | None = None) -> list[tuple[str, float]]:
        """Rank committed rows by BM25 against ``query``: ``(row_id, score)``, best first.

        Ties are broken by row id, so results are deterministic.  ``allowed`` filters rows (version
        visibility, metadata filters); the index over-fetches and retries with a larger limit until
        ``k`` rows pass or the matches run out, so filtering does not starve the results.

        Returns:
            At most ``k`` pairs; ``[]`` for a query with no searchable words (e.g. ``""`` or ``"()"``).

        Raises:
            InvalidInputError: ``query`` is not a str or ``k`` is not a positive int.
        """
        return [(rid, score) for rid, score, _ in self._search(query, k, allowed)]

    def search_payloads(self, query: str, k: int) -> list[tuple[str, float, str | None]]:
        """Like :meth:`search`, with each row's stored payload (None where none was given)."""
        return self._search(query, k, None)

    def _search(
        self, query: str, k: int, allowed: Callable[[str], bool] | None
    ) -> list[tuple[str, float, str | None]]:
        """The ranking behind :meth:`search` and :meth:`search_payloads`."""
        if not isinstance(query, str):
            raise InvalidInputError(f"query must be a str, got {type(query).__name__}.")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InvalidInputError(f"k must be a positive integer, got {k!r}.")
        clauses = [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, field, term, index_option="freq"))
                   for field, analyzer in (("words", "mv_words"), ("parts", "mv_parts"))
                   for term in self._terms(analyzer, query)]
        if not clauses:
            return []
        q = tantivy.Query.boolean_query(clauses)
        pinned = self._pinned
        searcher = pinned[0]
        total = int(searcher.num_docs)
        verdict: dict[str, bool] = {}
        limit = k if allowed is None else max(4 * k, 32)
        while True:
            hits = searcher.search(q, limit, count=False).hits
            scored = [(*_row_id_payload(pinned, addr), float(score)) for score, addr in hits]
            out: list[tuple[str, float, str | None]] = []
            for rid, payload, score in scored:
                if rid == _STAMP_ID:
                    continue
                if allowed is not None:
                    if rid not in verdict:
                        verdict[rid] = bool(allowed(rid))
                    if not verdict[rid]:
                        continue
                out.append((rid, score, payload))
            if len(out) >= k or len(hits) < limit or limit >= total:
                break
            limit *= 4
        out.sort(key=lambda p: (-p[1], p[0]))
        return out[:k]

    def payloads(self, row_ids: Sequence[str]) -> dict[str, str | None]:
        """The stored payload of each given row that the index holds (None where none was given).

        Raises:
            InvalidInputError: A row id is not a (non-empty) string.
        """
        ids = _check_ids(row_ids)
        if not ids:
            return {}
        q = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, "row_id", rid, index_option="basic"))
             for rid in dict.fromkeys(ids)])
        pinned = self._pinned
        found = (_row_id_payload(pinned, addr) for _, addr in pinned[0].search(q, len(ids), count=False).hits)
        return {rid: payload for rid, payload in found if rid != _STAMP_ID}

    def candidates(self, terms: Sequence[str], k: int | None = None) -> list[str] | None:
        """Row ids that may contain every term as a case-sensitive substring (a superset of the matches).

        Built for Chroma-style ``where_document`` ``$contains`` prefiltering: confirm each candidate
        against the decoded text.  Terms shorter than three characters cannot be looked up (they have
        no trigram) and constrain nothing.

        Args:
            terms: Substrings every row must contain.
            k: Return at most this many ids (in index order), or all when ``None``.

        Returns:
            Sorted row ids, or ``None`` when no term is long enough to narrow the search: the caller
            must then scan every row.
        """
        if isinstance(terms, str):
            raise InvalidInputError("terms must be a sequence of strings, not a single string.")
        grams: list[str] = []
        for term in terms:
            if not isinstance(term, str):
                raise InvalidInputError(f"Every term must be a str, got {type(term).__name__}.")
            grams.extend(self._analyzers["mv_tri"].analyze(term))
        grams = list(dict.fromkeys(grams))
        if not grams:
            return None
        q = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, tantivy.Query.term_query(self._schema, "tri", g, index_option="basic")) for g in grams])
        pinned = self._pinned
        searcher = pinned[0]
        limit = int(searcher.num_docs) if k is None else k
        if limit < 1:
            return []
        hits = searcher.search(q, limit, count=False).hits
        return sorted(rid for rid in (_row_id_payload(pinned, addr)[0] for _, addr in hits) if rid != _STAMP_ID)


def _row_id_payload(pinned: tuple[Any, dict[tuple[int, int], tuple[str, str | None]]], addr: Any) -> tuple[str, str | None]:
    """A hit's row id and payload, read once per pinned searcher (a hot query's 50 reads took 0.2 ms)."""
    searcher, docs = pinned
    key = (addr.segment_ord, addr.doc)
    found = docs.get(key)
    if found is None:
        doc = searcher.doc(addr)
        payload = doc.get_first("payload")
        found = (str(doc.get_first("row_id")), payload if isinstance(payload, str) else None)
        if len(docs) >= _MAX_CACHED_DOCS:
            docs.clear()
        docs[key] = found
    return found
