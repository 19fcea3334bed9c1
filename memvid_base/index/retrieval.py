"""Ranking for the three search modes (vector, keyword, hybrid) and keyword filters on the decoded text.

* ``vector``: nearest rows in the vector store (cosine).
* ``keyword``: BM25 over the keyword index, restricted to rows visible at the version read.
* ``hybrid``: both lists fused by weighted reciprocal rank fusion (k=60); ``alpha`` weights the
  vector side (1 is vector only, 0 keyword only).

Metadata filters (``where``) and id restrictions apply to both sides.  ``where_document`` keeps
only chunks whose decoded text satisfies it (``$contains``, ``$not_contains``, ``$and``, ``$or``, as in
Chroma); candidates come from the keyword index where the filter allows, and every match is
confirmed against the text decoded from the video, so there are no false positives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..decode_pool import share
from ..errors import InvalidInputError
from ..files.manifest import Manifest
from ..types import Chunk, Hit, Row
from . import doc_filter
from .fusion import alpha_weights, fuse_checked
from .keywords import KeywordIndex
from .query import VectorQuery, as_vector, check_count, check_ids, nearest, require_dimension
from .vectors import ExactIndex, VectorStore, row_from_payload, validate_where

MODES = ("vector", "keyword", "hybrid")
DEFAULT_ALPHA = 0.3  # keyword-leaning: met both retrieval goals in benchmarks/bench_retrieval.py
RRF_K = 60
FUSION_DEPTH = 50  # candidates taken from each side before fusing
_MAX_CANDIDATE_IDS = 5000  # beyond this, a where_document prefilter is cheaper as a post-filter


def check_mode(mode: object) -> str:
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}.")
    return str(mode)


@dataclass(frozen=True)
class SearchRequest:
    """One validated search: what to rank, how, and which chunks may appear."""

    query: str | None
    vector: np.ndarray | None  # None in keyword mode
    top_k: int
    mode: str = "vector"
    where: Mapping[str, Any] | None = None
    ids: tuple[str, ...] | None = None  # restrict to these chunk ids
    where_document: Mapping[str, Any] | None = None
    alpha: float = DEFAULT_ALPHA
    with_embeddings: bool = False


@dataclass
class Ranker:
    """Runs search requests against one version of a memory.

    Args:
        store: The vector store.
        manifest: The manifest of the version read.
        version: That version.
        latest: Whether it is the head version (enables the unfiltered fast path).
        keywords: Returns a keyword index usable for this version (built on first use).
        materialize: Turns hits into chunks with text decoded from the video.
    """

    store: VectorStore
    manifest: Manifest
    version: int
    latest: bool
    keywords: Callable[[], KeywordIndex]
    materialize: Callable[[Sequence[Hit]], list[Chunk]]
    _hits: dict[str, Hit] = dataclasses.field(default_factory=dict, init=False, repr=False)  # from a full vector query
    _index: KeywordIndex | None = dataclasses.field(default=None, init=False, repr=False)
    _flat_memo: tuple[ExactIndex | None] | None = dataclasses.field(default=None, init=False, repr=False)

    def search(self, req: SearchRequest) -> list[Chunk]:
        """Up to ``top_k`` chunks, best first, text decoded from the video."""
        if req.where_document is None:
            ranked = self.ranked(req, req.top_k)
            return self._chunks(ranked[: req.top_k])
        req = self._prefiltered(req)
        depth, total = max(4 * req.top_k, FUSION_DEPTH), self.manifest.live_chunks + self.manifest.dead_rows
        while True:
            ranked = self.ranked(req, depth)
            kept = [c for c in self._chunks(ranked) if doc_filter.matches(dict(req.where_document or {}), c.text)]
            if len(kept) >= req.top_k or len(ranked) < depth or depth >= total:
                return kept[: req.top_k]
            depth *= 4

    def ranked(self, req: SearchRequest, depth: int) -> list[tuple[Hit, float | None]]:
        """``(hit, fused score)`` pairs, best first; the score is None in vector mode (distance ranks)."""
        if req.mode == "vector":
            return [(h, None) for h in self._vector(req, depth)]
        if req.mode == "keyword":
            found = self._keyword(req, depth)
            best = max((s for _, s, _ in found), default=1.0) or 1.0
            hits = self._resolve(found, {}, req)
            return [(hits[rid], s / best) for rid, s, _ in found if rid in hits]
        n = max(depth, FUSION_DEPTH)
        if self._flat(req) is not None:
            # Both sides take well under a millisecond here; handing one to a thread cost more on a busy machine.
            dense, sparse = self._dense(req, n), self._keyword(req, n)
        else:
            # The two sides run at once: Chroma and Tantivy both release the GIL while they search.
            # share(): the caller takes a side too, so it never waits on a task queued behind busy threads.
            sides: list[Callable[[], Any]] = [lambda: self._dense(req, n), lambda: self._keyword(req, n)]
            dense, sparse = share(sides, lambda side: side())
        weights = alpha_weights(req.alpha)
        fused = fuse_checked([[rid for rid, _ in dense], [rid for rid, _, _ in sparse]], RRF_K, weights)[:depth]
        winners = {rid for rid, _ in fused}
        known = self._resolve([f for f in sparse if f[0] in winners],
                              {rid: h for rid, h in self._hits.items() if rid in winners}, req)
        if len(known) < len(winners):
            known |= self._rows_of([rid for rid, _ in fused if rid not in known], req)
        distance = dict(dense)
        top = sum(weights) / (RRF_K + 1)  # rank 1 on both sides
        return [(dataclasses.replace(known[rid], distance=distance.get(rid)), score / top)
                for rid, score in fused if rid in known]

    def _quick(self, req: SearchRequest) -> bool:
        """Whether every committed row is visible and the keyword index tells where it lives (no store lookup).

        At the head of a memory with no dead rows every committed row is live, a row id carries the version
        that wrote it, and the index (usable only when it holds every committed row) stores its placement.
        """
        return self.latest and self.manifest.dead_rows == 0 and req.where is None and req.ids is None

    def _flat(self, req: SearchRequest) -> ExactIndex | None:
        """The store's exact in-memory index when it can answer this request's vector side."""
        if req.where is not None or req.vector is None:
            return None
        if self._flat_memo is None:  # asked once per request: the store counts the asks (see VectorStore.flat)
            self._flat_memo = (self.store.flat(self.manifest.version, self.manifest.live_chunks + self.manifest.dead_rows),)
        return self._flat_memo[0]

    def _dense(self, req: SearchRequest, n: int) -> list[tuple[str, float | None]]:
        """The vector side of a hybrid search: ``(row id, distance)``, best first.

        Fusion needs only ids, so on the quick path Chroma is asked for ids and distances alone (reading
        50 rows' metadata cost more than the search) and the few winners are placed by :meth:`_rows_of`.
        """
        flat = self._flat(req)
        if flat is not None and req.vector is not None:  # a small store answers from its exact in-memory copy
            found_hits = flat.nearest(req.vector, n, self.version, req.ids, req.with_embeddings)
            self._hits = {h.row.row_id: h for h in found_hits}
            return [(h.row.row_id, h.distance) for h in found_hits]
        if self._quick(req) and not req.with_embeddings and req.vector is not None:
            if self.manifest.live_chunks == 0:
                return []
            want = n + 8  # room for rows of a writer that has not committed yet
            found = self.store.nearest_ids(req.vector, want)
            kept: list[tuple[str, float | None]] = [(rid, d) for rid, d in found if _written_at(rid) <= self.version]
            if len(kept) >= n or len(found) < want:
                return kept[:n]
        hits = self._vector(req, n)
        self._hits = {h.row.row_id: h for h in hits}
        return [(h.row.row_id, h.distance) for h in hits]

    def _rows_of(self, row_ids: list[str], req: SearchRequest) -> dict[str, Hit]:
        """Hits for winners only the ids-only vector query found: placed by the keyword index, else by the store."""
        out: dict[str, Hit] = {}
        rest = row_ids
        if self._quick(req) and not req.with_embeddings:
            for rid, payload in self._keyword_index().payloads(rest).items():
                row = row_from_payload(rid, payload) if payload else None
                if row is not None:
                    out[rid] = Hit(row)
            rest = [rid for rid in rest if rid not in out]
        if rest:
            out |= self.store.rows_by_id(rest, self.version, req.where, req.with_embeddings)
        return out

    def _vector(self, req: SearchRequest, depth: int) -> list[Hit]:
        assert req.vector is not None, "vector and hybrid modes need a query vector"
        q = VectorQuery(req.vector, depth, req.where, req.ids, req.with_embeddings)
        return nearest(self.store, self.manifest, self.version, self.latest, q)

    def _resolve(
        self, found: list[tuple[str, float, Row | str | None]], known: dict[str, Hit], req: SearchRequest
    ) -> dict[str, Hit]:
        """Hits for keyword results: from rows already known or carried by the index, else from the store."""
        out = dict(known)
        missing = []
        for rid, _, placed in found:
            if rid in out:
                continue
            row = row_from_payload(rid, placed) if isinstance(placed, str) else placed
            if row is not None and not req.with_embeddings:
                out[rid] = Hit(row)
            else:
                missing.append(rid)
        if missing:
            out |= self.store.rows_by_id(missing, self.version, req.where, req.with_embeddings)
        return out

    def _keyword(self, req: SearchRequest, depth: int) -> list[tuple[str, float, Row | str | None]]:
        """BM25 ``(row id, score, row or its index payload if known)`` visible at this version that pass ``where``
        and the id restriction; payloads are parsed only for the rows that win (:meth:`_resolve`)."""
        if not req.query or not req.query.strip():
            return []
        index = self._keyword_index()
        limit, total = max(depth, FUSION_DEPTH), len(index)
        quick = self._quick(req)  # then no store lookup (one costs ~3-5 ms) is needed
        while True:
            found = index.search_payloads(req.query, limit)
            kept: list[tuple[str, float, Row | str | None]]
            if quick:
                kept = [(rid, s, p or None) for rid, s, p in found if _written_at(rid) <= self.version]
            else:
                rows = self.store.rows_by_id([rid for rid, _, _ in found], self.version, req.where)
                allowed = None if req.ids is None else set(req.ids)
                kept = [(rid, s, rows[rid].row) for rid, s, _ in found
                        if rid in rows and (allowed is None or rows[rid].row.chunk_id in allowed)]
            if len(kept) >= depth or len(found) < limit or limit >= total:
                return kept[:depth]
            limit *= 4

    def _keyword_index(self) -> KeywordIndex:
        if self._index is None:  # once per search: getting it reloads and checks the index
            self._index = self.keywords()
        return self._index

    def _prefiltered(self, req: SearchRequest) -> SearchRequest:
        """Narrow the candidates to chunks the keyword index says may match ``where_document``."""
        terms = doc_filter.required_terms(dict(req.where_document or {}))
        if not terms:
            return req
        candidates = self._keyword_index().candidates(terms)
        if candidates is None or len(candidates) > _MAX_CANDIDATE_IDS:
            return req
        chunk_ids = {rid.rpartition("@")[0] for rid in candidates}
        if req.ids is not None:
            chunk_ids &= set(req.ids)
        return dataclasses.replace(req, ids=tuple(sorted(chunk_ids)))

    def _chunks(self, ranked: Sequence[tuple[Hit, float | None]]) -> list[Chunk]:
        chunks = self.materialize([h for h, _ in ranked])
        return [c if s is None else dataclasses.replace(c, score=float(s)) for c, (_, s) in zip(chunks, ranked)]


def check_inputs(mode: object, top_k: object, text: str | None, vector: Any, where_document: Any) -> str:
    """Validate what a search needs before any work is done; returns the mode."""
    checked = check_mode(mode)
    check_count(top_k, "top_k")
    if where_document is not None:
        doc_filter.validate_where_document(where_document)
    if checked != "vector" and (not isinstance(text, str) or not text.strip()):
        raise InvalidInputError(f"{checked} search needs the query text, got {text!r}.")
    if vector is None and checked != "keyword" and text is None:
        raise InvalidInputError("Give a query text or a query vector.")
    return checked


def build_request(
    manifest: Manifest, text: str | None, vector: Any, top_k: int, mode: str, where: Mapping[str, Any] | None,
    ids: Sequence[str] | None, where_document: Mapping[str, Any] | None, alpha: float | None, embeddings: bool,
) -> SearchRequest:
    """A validated :class:`SearchRequest` against ``manifest``'s memory."""
    if where is not None:
        validate_where(where)
    vec = None
    if vector is not None:
        vec = as_vector(vector)
        require_dimension(manifest, vec.shape[0])
    weight = DEFAULT_ALPHA if alpha is None else alpha
    alpha_weights(weight)  # validates
    return SearchRequest(text, vec, top_k, mode, where, None if ids is None else tuple(check_ids(ids)),
                         where_document, weight, embeddings)


def _written_at(row_id: str) -> int:
    version = row_id.rpartition("@")[2]
    return int(version) if version.isdigit() and len(version) <= 18 else 2**62


def embeddings_of(chunks: Sequence[Chunk]) -> np.ndarray:
    return np.asarray([c.embedding for c in chunks], dtype=np.float32)
