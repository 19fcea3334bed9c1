"""The vector side of a memory: one Chroma row per chunk version, and the rules for which rows are visible.

This is the only module that knows memvid's row schema.  Rows never hold text.  Each row carries
the chunk id, its segment, the version range ``[v0, v1)`` in which it is live, and one packed
``frame|frames|checksum|text bytes`` string, plus the user's scalar metadata for filtering.  Chroma
stores every metadata key of a row as its own SQLite row, so the fields memvid never filters on share
one key (rows written before this packing, with one key per field, are still read).  A row is visible
at version ``V`` when ``v0 <= V < v1``; this is what makes ``as_of`` time travel and crash recovery
work without rewriting anything.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import CorruptMemoryError, InvalidInputError, StoreError
from ..types import Hit, Row
from .chroma_io import guarded
from .flat import FlatIndex
from .int8_scan import ScanIndex

LIVE = 2**62  # v1 of a row that has not been deleted or replaced
RESERVED_PREFIX = "_mv_"
_ID_BATCH = 1000  # ids per `$in` clause

# The row schema: Chroma metadata keys memvid uses for its own bookkeeping.  _LOC packs the fields no
# filter uses; _FRAME, _FRAMES, _SUM and _BYTES are how older stores spelled them (still read).
_ID, _SEG, _V0, _V1, _LOC = (f"{RESERVED_PREFIX}{k}" for k in ("id", "seg", "v0", "v1", "loc"))
_FRAME, _FRAMES, _SUM, _BYTES = (f"{RESERVED_PREFIX}{k}" for k in ("frame", "frames", "sum", "bytes"))
_MAX_INT_DIGITS = 18  # fields parsed from a store are bounded: it may come from a stranger


def filterable_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The part of user metadata Chroma can filter on: str/int/float/bool values; reserved keys are refused."""
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if key.startswith(RESERVED_PREFIX):
            raise InvalidInputError(f"Metadata key {key!r} is reserved: keys starting with {RESERVED_PREFIX!r} are memvid's.")
        if isinstance(value, (str, bool, int, float)) and not (isinstance(value, int) and abs(value) >= 2**63):
            out[key] = value
    return out


_FIELD_OPS = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"}
_MAX_WHERE_DEPTH = 32


def validate_where(where: object, depth: int = 0) -> None:
    """Check a user's metadata filter before Chroma sees it, so a mistake is a clear :class:`InvalidInputError`."""
    if depth > _MAX_WHERE_DEPTH:
        raise InvalidInputError(f"where is nested more than {_MAX_WHERE_DEPTH} levels deep.")
    if not isinstance(where, Mapping) or not where:
        raise InvalidInputError(f"where must be a non-empty dict such as {{'file': 'a.md'}}, got {where!r:.80}.")
    for key, value in where.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise InvalidInputError(f"where {key} takes a non-empty list of filters, got {value!r:.80}.")
            for clause in value:
                validate_where(clause, depth + 1)
        elif not isinstance(key, str) or not key or key.startswith("$"):
            raise InvalidInputError(f"Unknown where operator {key!r}. Use $and, $or, or a metadata key.")
        elif key.startswith(RESERVED_PREFIX):
            raise InvalidInputError(f"where cannot filter on {key!r}: keys starting with {RESERVED_PREFIX!r} are memvid's.")
        elif isinstance(value, Mapping):
            if len(value) != 1:
                raise InvalidInputError(f"where[{key!r}] must hold exactly one operator such as {{'$eq': 1}}.")
            (op, operand), = value.items()
            if op not in _FIELD_OPS:
                raise InvalidInputError(f"Unknown where operator {op!r} on {key!r}. Use one of {', '.join(sorted(_FIELD_OPS))}.")
            if op in ("$in", "$nin"):
                if not isinstance(operand, list) or not all(_is_scalar(v) for v in operand):
                    raise InvalidInputError(f"where[{key!r}][{op!r}] takes a list of str, int, float or bool.")
            elif not _is_scalar(operand):
                raise InvalidInputError(f"where[{key!r}][{op!r}] takes a str, int, float or bool, got {operand!r:.80}.")
        elif not _is_scalar(value):
            raise InvalidInputError(f"where[{key!r}] must be a str, int, float or bool (or an operator dict), got {value!r:.80}.")


def where_matches(where: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool:
    """Whether a row's metadata passes a (validated) ``where`` filter, with Chroma's meaning."""
    for key, cond in where.items():
        if key == "$and":
            if not all(where_matches(c, metadata) for c in cond):
                return False
        elif key == "$or":
            if not any(where_matches(c, metadata) for c in cond):
                return False
        elif not _field_matches(metadata.get(key, _MISSING), cond):
            return False
    return True


_MISSING = object()


def _field_matches(value: Any, cond: Any) -> bool:
    (op, operand), = cond.items() if isinstance(cond, Mapping) else (("$eq", cond),)
    if op == "$ne":
        return value is _MISSING or not _same(value, operand)
    if op == "$nin":
        return value is _MISSING or not any(_same(value, o) for o in operand)
    if value is _MISSING:
        return False
    if op == "$eq":
        return _same(value, operand)
    if op == "$in":
        return any(_same(value, o) for o in operand)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or isinstance(operand, bool):
        return False  # Chroma compares numbers only, and never a bool with a number
    return bool({"$gt": value > operand, "$gte": value >= operand, "$lt": value < operand,
                 "$lte": value <= operand}[op])


def _same(a: Any, b: Any) -> bool:
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def _is_scalar(value: object) -> bool:
    return isinstance(value, (str, int, float, bool)) and not (isinstance(value, float) and value != value)


def and_where(*clauses: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Combine Chroma ``where`` clauses with AND; Chroma wants ``$and`` around more than one condition."""
    flat: list[dict[str, Any]] = []
    for clause in clauses:
        if not clause:
            continue
        clause = dict(clause)
        if set(clause) == {"$and"}:
            flat.extend(clause["$and"])
        elif len(clause) > 1 and not any(k.startswith("$") for k in clause):
            flat.extend({k: v} for k, v in clause.items())
        else:
            flat.append(clause)
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else {"$and": flat}


def visible_at(version: int) -> dict[str, Any]:
    """Rows live at ``version``."""
    return {"$and": [{_V0: {"$lte": version}}, {_V1: {"$gt": version}}]}


def ids_clause(chunk_ids: Sequence[str]) -> dict[str, Any]:
    return {_ID: {"$in": [str(i) for i in chunk_ids]}}


def make_row(
    chunk_id: str, segment: str, frame: int, frames: int, checksum: str, version: int, text_bytes: int,
    v1: int = LIVE,
) -> Row:
    """The row for a chunk written at ``version``; it is live until replaced or deleted (``v1``)."""
    return Row(f"{chunk_id}@{version}", chunk_id, segment, frame, frames, checksum, version, v1, text_bytes)


def row_metadata(row: Row, user_metadata: Mapping[str, Any]) -> dict[str, Any]:
    meta = filterable_metadata(user_metadata)
    meta.update({_ID: row.chunk_id, _SEG: row.segment, _V0: row.v0, _V1: row.v1,
                 _LOC: f"{row.frame}|{row.frames}|{row.checksum}|{row.text_bytes}"})
    return meta


def _unpack_loc(loc: Any) -> tuple[int, int, str, int]:
    """``frame|frames|checksum|text bytes`` back into its fields; ValueError if it is not one of ours."""
    parts = loc.split("|") if isinstance(loc, str) else []
    if len(parts) != 4 or not all(parts[k].isdigit() and len(parts[k]) <= _MAX_INT_DIGITS for k in (0, 1, 3)):
        raise ValueError(f"bad {_LOC} {loc!r:.60}")
    return int(parts[0]), int(parts[1]), parts[2], int(parts[3])


def row_payload(row: Row) -> str:
    """Where a row lives, as the keyword index stores it beside the row id (no text)."""
    return f"{row.segment}|{row.frame}|{row.frames}|{row.checksum}|{row.text_bytes}"


def row_from_payload(row_id: str, payload: str) -> Row | None:
    """The live row a keyword hit names, from its stored payload; None if the payload is not one of ours."""
    chunk_id, _, version = row_id.rpartition("@")
    parts = payload.split("|")
    numbers = (version, parts[1], parts[2], parts[4]) if len(parts) == 5 else ()
    if not numbers or not all(n.isdigit() and len(n) <= 18 for n in numbers):  # bounded: this is read from a file
        return None
    return Row(row_id, chunk_id, parts[0], int(parts[1]), int(parts[2]), parts[3], int(version), LIVE, int(parts[4]))


def row_from_metadata(row_id: str, meta: Mapping[str, Any] | None) -> Row:
    try:
        assert meta is not None
        if _LOC in meta:
            frame, frames, checksum, text_bytes = _unpack_loc(meta[_LOC])
        else:  # a store written before the fields were packed
            frame, frames, checksum, text_bytes = (int(meta[_FRAME]), int(meta[_FRAMES]), str(meta[_SUM]),
                                                   int(meta.get(_BYTES, 0)))
        return Row(row_id, str(meta[_ID]), str(meta[_SEG]), frame, frames, checksum, int(meta[_V0]), int(meta[_V1]),
                   text_bytes)
    except (AssertionError, KeyError, TypeError, ValueError) as exc:
        raise CorruptMemoryError(
            f"Vector row {row_id!r} lacks memvid's bookkeeping ({exc}). Rebuild the store: `memvid verify --rebuild-index`."
        ) from exc


# HNSW settings of every collection memvid creates.  Chroma does not build the same graph twice (a
# rebuilt store, or the store of a copied MP4, differs from the original), so ef_search is set where
# two builds of the same 20,000 MiniLM rows agree on the whole top-5 for >= 99 % of queries:
# ef_search 100 / 200 / 300 / 400 / 600 gave 94.7 / 98.7 / 99.7 / 99.7 / 99.7 % (benchmarks/bench_ef_search.py),
# recall against exact search 97.7 -> 99.9 %; 400 keeps a margin over 300.  The price is slower vector queries.
HNSW_CONFIGURATION: dict[str, Any] = {"hnsw": {"space": "cosine", "ef_search": 400, "ef_construction": 200}}
# The largest unfiltered query nearest() widens to before it filters: ef_search, beyond which HNSW looks no further.
WIDEST_UNFILTERED: int = HNSW_CONFIGURATION["hnsw"]["ef_search"]
# Up to FLAT_MAX_ROWS rows (SCAN_FROM_ROWS where the segments have boxes: see below), an unfiltered query ranks on an
# exact in-memory copy of the store's vectors instead of HNSW: at 2,000 rows the search took 0.2 ms against
# Chroma's 1-4 ms (benchmarks/profile_search.py), and being exact, every copy of the MP4 returns the same list.
# The copy is read once per committed version, from the segments' boxes (without importing Chroma) or, where a
# segment has no box, from the store from the second query on (0.6 s at 10,000 rows).
# Above SCAN_FROM_ROWS and up to SCAN_MAX_ROWS rows, the exact index is the boxes' int8 rows scanned by onnxruntime
# (index/int8_scan.py): exact like the flat one, so copies agree without HNSW's ef_search 400.  It reads
# only boxes (a store without them keeps the flat index up to FLAT_MAX_ROWS, then HNSW).  Above it, HNSW is
# faster: a scan grows with the rows.  The scan starts at 3,000 rows, not at FLAT_MAX_ROWS, because it reads a
# quarter of the bytes.  Its call to nearest() against the flat index's, warm caches / emptied caches: 1.44x / 0.96x
# the time at 2,000 MiniLM rows, 1.14x / 0.74x at 3,000, 0.92x / 0.65x at 3,800, 0.29x / 0.36x at 10,000, where
# the float32 rows (15 MB, twice: as stored and as directions) no longer stay in the cache
# (benchmarks/bench_exact_tiers.py, exact_tiers.json).
# All three can be set per process: MEMVID_FLAT_MAX_ROWS, MEMVID_SCAN_FROM_ROWS, MEMVID_SCAN_MAX_ROWS (a max
# of 0 turns that tier off; the scan starts above the smaller of SCAN_FROM_ROWS and FLAT_MAX_ROWS).


def _rows_setting(name: str, default: int) -> int:
    """A row count from the environment variable ``name``, else ``default`` (a bad value is refused loudly)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise InvalidInputError(f"{name}={raw!r} is not a row count; set a whole number such as {default}, or unset it.")
    return int(raw)


FLAT_MAX_ROWS = _rows_setting("MEMVID_FLAT_MAX_ROWS", 10_000)
SCAN_FROM_ROWS = _rows_setting("MEMVID_SCAN_FROM_ROWS", 3_000)
SCAN_MAX_ROWS = _rows_setting("MEMVID_SCAN_MAX_ROWS", 200_000)
ExactIndex = FlatIndex | ScanIndex


class VectorStore:
    """One Chroma collection holding a memory's rows. The collection handle is created once and guarded.

    With ``opener`` (a function returning the client, and ``client`` None) nothing is opened until the
    store is first used, so a search that needs no vector row (keyword mode on its quick path) never
    imports or opens Chroma; ``on_open`` then runs once on the opened store.  ``flat_source(head, base)`` gives
    the exact index of the rows and vectors the store holds at committed version ``head`` without opening it
    (None when it cannot), extending ``base`` (the last one it gave) where it can: a small or medium store's
    unfiltered queries then never open Chroma either (see :meth:`flat`).
    """

    def __init__(
        self,
        client: Any,
        collection: str,
        dimension: int | None = None,
        create: bool = False,
        *,
        opener: Callable[[], Any] | None = None,
        on_open: Callable[[VectorStore], None] | None = None,
        flat_source: Callable[[int, ExactIndex | None], ExactIndex | None] | None = None,
    ) -> None:
        self.name = collection
        self._dimension, self._create = dimension, create
        self._opener = opener
        self._on_open = on_open
        self._client: Any = client
        self._collection: Any = None
        self._batch = 5000
        self._open_lock = threading.RLock()
        self._flat: ExactIndex | None = None
        self._flat_failed: int | None = None  # the head at which reading the vectors failed
        self._flat_asked: int | None = None  # the head a first query was answered at (by HNSW)
        self._flat_source = flat_source
        self._exact_base: ExactIndex | None = None  # the last index read: a later head may extend it (kept across writes)
        self._source_failed: int | None = None  # the head at which flat_source could not answer
        self._writes = 0  # a flat index read while this store was being written is dropped
        if opener is None:
            self._open()

    @property
    def opened(self) -> bool:
        return self._collection is not None

    def _open(self) -> None:
        with self._open_lock:  # the two sides of a hybrid search may both be first to need it
            if self._collection is None:
                self._open_now()

    def _open_now(self) -> None:
        client = self._client if self._opener is None else self._opener()
        if self._create:
            collection = guarded(client.get_or_create_collection)(
                self.name,
                embedding_function=None,
                configuration=copy.deepcopy(HNSW_CONFIGURATION),
                metadata={"memvid": True, "dimension": self._dimension or 0},
            )
        else:
            try:
                collection = client.get_collection(self.name, embedding_function=None)
            except Exception as exc:
                raise CorruptMemoryError(
                    f"The vector store has no collection {self.name!r}. Run `memvid verify --rebuild-index` "
                    "(or Memory.rebuild_index()) to rebuild it from the video."
                ) from exc
        try:
            self._batch = int(client.get_max_batch_size())
        except Exception:
            self._batch = 5000
        self._client, self._collection = client, collection
        if self._on_open is not None:
            on_open, self._on_open = self._on_open, None
            on_open(self)

    @property
    def client(self) -> Any:
        if self._collection is None:
            self._open()
        return self._client

    @property
    def collection(self) -> Any:
        if self._collection is None:
            self._open()
        return self._collection

    @property
    def batch(self) -> int:
        if self._collection is None:
            self._open()
        return self._batch

    # ---------------------------------------------------------------- writing

    @guarded
    def add(self, rows: Sequence[Row], vectors: np.ndarray, user_metadata: Sequence[Mapping[str, Any]]) -> None:
        self._forget_flat()
        metas = [row_metadata(r, m) for r, m in zip(rows, user_metadata)]
        for k in range(0, len(rows), self.batch):
            self.collection.add(
                ids=[r.row_id for r in rows[k : k + self.batch]],
                embeddings=vectors[k : k + self.batch],
                metadatas=metas[k : k + self.batch],
            )

    @guarded
    def set_metadata(self, row_ids: Sequence[str], metadatas: Sequence[Mapping[str, Any]]) -> None:
        """Replace rows' metadata with ``metadatas`` (each a full :func:`row_metadata`), vectors unchanged."""
        self._forget_flat()
        for k in range(0, len(row_ids), self.batch):
            self.collection.update(ids=list(row_ids[k : k + self.batch]), metadatas=list(metadatas[k : k + self.batch]))

    @guarded
    def set_removed(self, row_ids: Sequence[str], version: int) -> None:
        """Rows stop being live at ``version`` (their chunk was replaced or deleted then)."""
        self._forget_flat()
        for k in range(0, len(row_ids), self.batch):
            part = list(row_ids[k : k + self.batch])
            self.collection.update(ids=part, metadatas=[{_V1: version}] * len(part))

    @guarded
    def delete_rows(self, row_ids: Sequence[str]) -> None:
        self._forget_flat()
        for k in range(0, len(row_ids), self.batch):
            self.collection.delete(ids=list(row_ids[k : k + self.batch]))

    @guarded
    def undo_after(self, version: int) -> None:
        """Undo an interrupted writer: drop rows newer than ``version`` and make live again what it removed."""
        self._forget_flat()
        self.delete_rows([h.row.row_id for h in self.rows_after(version)])
        reopened = self._get({"$and": [{_V1: {"$gt": version}}, {_V1: {"$lt": LIVE}}]})
        for k in range(0, len(reopened), self.batch):
            part = [h.row.row_id for h in reopened[k : k + self.batch]]
            self.collection.update(ids=part, metadatas=[{_V1: LIVE}] * len(part))

    def _forget_flat(self) -> None:
        self._flat = self._flat_failed = None
        self._writes += 1

    # ---------------------------------------------------------------- reading

    def flat(self, head: int | None, total_rows: int) -> ExactIndex | None:
        """The exact in-memory index for queries at versions up to ``head``, or None to use HNSW.

        Read by the first query at a new head (every row's vector and bookkeeping), so that every query
        of a small or medium store ranks the same way; None for stores of more than :data:`SCAN_MAX_ROWS`
        rows (``total_rows``: the manifest's count).  From ``flat_source`` when it answers; a small store
        (:data:`FLAT_MAX_ROWS`) without boxes reads it from the store itself, from the second query at a head on.
        """
        if head is None or total_rows > max(FLAT_MAX_ROWS, SCAN_MAX_ROWS):
            return None
        if self._flat is not None and self._flat.head == head:
            return self._flat
        if self._flat_failed == head:
            return None
        if self._flat_source is not None and self._source_failed != head:
            writes = self._writes
            # The segments' boxes: about 0.1 s at 10,000 rows and 0.6-1.2 s at 100,000 (benchmarks/bench_search.py's
            # first query; after a write only the new segments are read into the last index), Chroma not imported.
            found = self._flat_source(head, self._exact_base)
            if found is not None and self._writes == writes:
                self._flat = self._exact_base = found
                return self._flat
            self._source_failed = head
        if total_rows > FLAT_MAX_ROWS:
            return None
        if self._flat_asked != head:
            # A process that asks once (`memvid search`, a first MCP call) would pay more to read every vector
            # (0.6 s at 10,000 rows) than HNSW costs: the index is read when a second query comes.
            self._flat_asked = head
            return None
        writes = self._writes
        try:
            hits = self._get(None, include_embeddings=True)
        except StoreError:
            # Chroma fails to return the vectors of rows a killed writer left half-added ("Error finding id"),
            # while its HNSW query still works: use that until a write or a new version.
            self._flat_failed = head
            return None
        if self._writes != writes or len(hits) > FLAT_MAX_ROWS:
            return None
        dim = len(hits[0].embedding) if hits and hits[0].embedding is not None else 0
        vectors = np.asarray([h.embedding for h in hits], dtype=np.float32).reshape(len(hits), dim)
        self._flat = FlatIndex(head, [h.row for h in hits], vectors)
        return self._flat

    def rows_after(self, version: int) -> list[Hit]:
        """Rows written by versions after ``version`` (an uncommitted writer's, or a newer manifest's)."""
        return self._get({_V0: {"$gt": version}})

    @guarded
    def copy_to(self, other: VectorStore) -> int:
        """Copy every row, vectors and metadata included, into ``other``; returns how many."""
        offset = 0
        while True:
            res = self.collection.get(include=["metadatas", "embeddings"], limit=self.batch, offset=offset)
            if not res["ids"]:
                return offset
            other.collection.add(ids=res["ids"], embeddings=res["embeddings"], metadatas=res["metadatas"])
            offset += len(res["ids"])

    def rows_in_segment(self, segment_uid: str) -> list[Hit]:
        return self._get({_SEG: segment_uid}, limit=1)

    def all_rows(self) -> list[Hit]:
        """Every row, of every retained version."""
        return self._get(None)

    @guarded
    def rows_by_id(
        self, row_ids: Sequence[str], version: int, where: Mapping[str, Any] | None = None, include_embeddings: bool = False
    ) -> dict[str, Hit]:
        """The given rows that are visible at ``version`` and match ``where``, by row id."""
        # Fetch by id alone and filter here: Chroma applies a ``where`` by scanning the whole collection,
        # which made an id lookup grow with the size of the memory.
        out: dict[str, Hit] = {}
        include = ["metadatas", "embeddings"] if include_embeddings else ["metadatas"]
        for k in range(0, len(row_ids), _ID_BATCH):
            res = self.collection.get(ids=list(row_ids[k : k + _ID_BATCH]), include=include)
            embs = res.get("embeddings") if include_embeddings else None
            for j, rid in enumerate(res["ids"]):
                meta = (res["metadatas"] or [])[j]
                row = row_from_metadata(rid, meta)
                if row.visible_at(version) and (where is None or where_matches(where, meta or {})):
                    emb = None if embs is None else np.asarray(embs[j], dtype=np.float32)
                    out[rid] = Hit(row, None, emb)
        return out

    def live_rows(self, include_embeddings: bool = False) -> list[Hit]:
        """Every row that is live at the head version."""
        return self._get({_V1: LIVE}, include_embeddings)

    def rows_removed_by(self, version: int) -> list[Hit]:
        """Rows that no version at or after ``version`` can see (what compaction reclaims)."""
        return self._get({_V1: {"$lte": version}})

    def live_rows_for(self, chunk_ids: Sequence[str], version: int) -> list[Hit]:
        """The head rows of the given chunk ids, as committed at ``version``."""
        # Asked by id alone, liveness checked here: with the version condition in the clause Chroma scans
        # every row's bookkeeping once per batch, so an add's upsert check grew with the store.
        out: list[Hit] = []
        for k in range(0, len(chunk_ids), _ID_BATCH):
            found = self._get(ids_clause(chunk_ids[k : k + _ID_BATCH]))
            out.extend(h for h in found if h.row.v1 == LIVE and h.row.v0 <= version)
        return out

    def lookup(
        self,
        version: int,
        where: Mapping[str, Any] | None = None,
        chunk_ids: Sequence[str] | None = None,
        include_embeddings: bool = False,
        limit: int | None = None,
    ) -> list[Hit]:
        """Rows visible at ``version`` that match ``where`` (and ``chunk_ids`` if given)."""
        if chunk_ids is None:
            return self._get(and_where(where, visible_at(version)), include_embeddings, limit)
        out: list[Hit] = []
        for k in range(0, len(chunk_ids), _ID_BATCH):  # visibility checked here, as in live_rows_for
            clause = and_where(where, ids_clause(chunk_ids[k : k + _ID_BATCH]))
            out.extend(h for h in self._get(clause, include_embeddings) if h.row.visible_at(version))
        return out[:limit] if limit else out

    def nearest(
        self,
        vector: np.ndarray,
        top_k: int,
        version: int,
        where: Mapping[str, Any] | None = None,
        chunk_ids: Sequence[str] | None = None,
        include_embeddings: bool = False,
        invisible_rows: int | None = None,
        head: int | None = None,
        total_rows: int = FLAT_MAX_ROWS + 1,
    ) -> list[Hit]:
        """The ``top_k`` rows visible at ``version`` nearest to ``vector``, best first.

        ``invisible_rows`` is how many rows the collection may hold that are not visible (dead rows
        of older versions); when it is small and there is no filter, a slightly larger unfiltered query
        is faster than a filtered one.  ``head`` (the committed version) and ``total_rows`` allow the
        exact in-memory search of :meth:`flat` when there is no ``where``.
        """
        if where is None and head is not None and version <= head:
            flat = self.flat(head, total_rows)
            if flat is not None:
                return flat.nearest(vector, top_k, version, chunk_ids, include_embeddings)
        if where is None and chunk_ids is None and invisible_rows is not None and invisible_rows <= 256:
            # Rows a writer has added but not committed yet (or a killed writer left for the next one to undo)
            # are rare: widen the unfiltered query before falling back to the filtered one, which has Chroma
            # scan the store's metadata.
            n = top_k + invisible_rows
            while True:
                found = self._query(vector, n, None, include_embeddings)
                hits = [h for h in found if h.row.visible_at(version)]
                if len(hits) >= top_k or len(found) < n:
                    return hits[:top_k]
                if n >= WIDEST_UNFILTERED:
                    break
                n = min(WIDEST_UNFILTERED, n * 4)
        clause = and_where(where, ids_clause(chunk_ids) if chunk_ids is not None else None, visible_at(version))
        return [h for h in self._query(vector, top_k, clause, include_embeddings) if h.row.visible_at(version)][:top_k]

    @guarded
    def _query(self, vector: np.ndarray, n: int, where: Mapping[str, Any] | None, include_embeddings: bool) -> list[Hit]:
        include = ["metadatas", "distances"] + (["embeddings"] if include_embeddings else [])
        res = self.collection.query(query_embeddings=[vector], n_results=n, where=where, include=include)
        embs = res.get("embeddings")
        return [
            Hit(row_from_metadata(rid, res["metadatas"][0][k]), float(res["distances"][0][k]),
                None if embs is None else np.asarray(embs[0][k], dtype=np.float32))
            for k, rid in enumerate(res["ids"][0])
        ]

    @guarded
    def nearest_ids(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """``(row id, distance)`` of the ``n`` nearest rows of any version, best first, without their metadata.

        Reading 50 rows' metadata from SQLite costs more than the vector search itself; a caller that
        can tell visibility from the row id (the version that wrote it) and needs only a few rows' placements
        asks for ids alone.
        """
        res = self.collection.query(query_embeddings=[vector], n_results=n, include=["distances"])
        return [(str(rid), float(d)) for rid, d in zip(res["ids"][0], res["distances"][0])]

    @guarded
    def _get(self, where: Mapping[str, Any] | None, include_embeddings: bool = False, limit: int | None = None) -> list[Hit]:
        include = ["metadatas", "embeddings"] if include_embeddings else ["metadatas"]
        out: list[Hit] = []
        offset = 0
        page = min(self.batch, limit) if limit else self.batch
        while True:
            res = self.collection.get(where=where, include=include, limit=page, offset=offset)
            embs = res.get("embeddings") if include_embeddings else None
            for k, rid in enumerate(res["ids"]):
                emb = None if embs is None else np.asarray(embs[k], dtype=np.float32)
                out.append(Hit(row_from_metadata(rid, (res["metadatas"] or [])[k]), None, emb))
            offset += len(res["ids"])
            if len(res["ids"]) < page or (limit and offset >= limit):
                return out
