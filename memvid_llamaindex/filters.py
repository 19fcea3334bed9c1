"""LlamaIndex ``MetadataFilters`` to Chroma ``where`` clauses, as small pure functions.

Supported operators are the ones Chroma can express: ``==``, ``!=``, ``>``, ``>=``, ``<``, ``<=``,
``in`` and ``nin``; conditions ``and`` and ``or``, nested to any depth.  Anything else (``any``,
``all``, ``contains``, ``text_match``, ``is_empty``, the ``not`` condition) raises
:class:`UnsupportedFilterError` instead of being silently ignored.

Filters on the node *text* are not ``MetadataFilters``.  In LlamaIndex ``TEXT_MATCH`` and
``CONTAINS`` test a metadata field (a substring of a string value, an element of a list value),
and a key such as ``"text"`` could be real metadata, so mapping them onto the node text would
change their meaning.  Text filters use Chroma's ``where_document`` instead, passed as a query
keyword as ``ChromaVectorStore`` takes it: ``store.query(q, where_document={"$contains": "zstd"})``,
or ``index.as_retriever(vector_store_kwargs={"where_document": ...})``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters

from memvid_base import RESERVED_PREFIX, InvalidInputError, and_where

REF_DOC_KEY = "ref_doc_id"  # written by llama_index's node_to_metadata_dict

OPERATORS: dict[FilterOperator, str] = {
    FilterOperator.EQ: "$eq",
    FilterOperator.NE: "$ne",
    FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte",
    FilterOperator.LT: "$lt",
    FilterOperator.LTE: "$lte",
    FilterOperator.IN: "$in",
    FilterOperator.NIN: "$nin",
}
CONDITIONS: dict[FilterCondition, str] = {FilterCondition.AND: "$and", FilterCondition.OR: "$or"}
_LIST_OPERATORS = (FilterOperator.IN, FilterOperator.NIN)
_TEXT_OPERATORS = (FilterOperator.TEXT_MATCH, FilterOperator.TEXT_MATCH_INSENSITIVE, FilterOperator.CONTAINS)


class UnsupportedFilterError(InvalidInputError):
    """A metadata filter uses an operator or condition the memory's Chroma index cannot express."""


def transform_operator(operator: FilterOperator | str) -> str:
    """``FilterOperator.GTE`` -> ``"$gte"``; raises :class:`UnsupportedFilterError` for the rest."""
    try:
        return OPERATORS[FilterOperator(operator)]
    except (KeyError, ValueError):
        supported = ", ".join(op.value for op in OPERATORS)
        hint = ""
        if operator in _TEXT_OPERATORS:
            hint = (" To filter on the node text, pass where_document={'$contains': '...'} to query() "
                    "(or vector_store_kwargs={'where_document': ...} to as_retriever()).")
        raise UnsupportedFilterError(
            f"Filter operator {getattr(operator, 'value', operator)!r} is not supported by MemvidVectorStore "
            f"(Chroma cannot express it on metadata). Supported operators: {supported}.{hint}"
        ) from None


def transform_condition(condition: FilterCondition | str | None) -> str:
    """``FilterCondition.OR`` -> ``"$or"`` (``None`` means AND); ``not`` raises."""
    if condition is None:
        return "$and"
    try:
        return CONDITIONS[FilterCondition(condition)]
    except (KeyError, ValueError):
        raise UnsupportedFilterError(
            f"Filter condition {getattr(condition, 'value', condition)!r} is not supported by MemvidVectorStore "
            "(Chroma has no negation). Use 'and' or 'or', and negate single filters with '!=' or 'nin'."
        ) from None


def filter_to_clause(flt: MetadataFilter) -> dict[str, Any]:
    """One ``MetadataFilter`` (or legacy ``ExactMatchFilter``) -> ``{key: {"$op": value}}``."""
    operator = getattr(flt, "operator", FilterOperator.EQ)
    op = transform_operator(operator)
    key, value = flt.key, flt.value
    if key.startswith(RESERVED_PREFIX):
        raise UnsupportedFilterError(f"Metadata key {key!r} is reserved for memvid and cannot be filtered on.")
    if value is None:
        raise UnsupportedFilterError(f"Filter on {key!r} has no value; Chroma cannot filter on None.")
    if FilterOperator(operator) in _LIST_OPERATORS:
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if not values:
            raise UnsupportedFilterError(f"Filter {key!r} {FilterOperator(operator).value!r} needs a non-empty list of values.")
        return {key: {op: values}}
    if isinstance(value, (list, tuple)):
        raise UnsupportedFilterError(
            f"Filter {key!r} {FilterOperator(operator).value!r} got a list; use 'in' or 'nin' to match any of several values."
        )
    return {key: {op: value}}


def to_chroma_where(filters: MetadataFilters | None) -> dict[str, Any] | None:
    """``MetadataFilters`` (nested to any depth) -> a Chroma ``where`` dict, or ``None`` if there is nothing to filter."""
    if filters is None:
        return None
    clauses: list[dict[str, Any]] = []
    for item in filters.filters:
        clause = to_chroma_where(item) if isinstance(item, MetadataFilters) else filter_to_clause(item)
        if clause is not None:
            clauses.append(clause)
    condition = transform_condition(filters.condition)
    if not clauses:
        return None
    if len(clauses) == 1:
        return clauses[0]  # Chroma wants at least two clauses under $and / $or
    return {condition: clauses}


def restrict_where(where: dict[str, Any] | None, doc_ids: Sequence[str] | None = None) -> dict[str, Any] | None:
    """AND a where clause with a ``doc_ids`` (source documents) restriction.

    Node ids are not a metadata filter: they go to the core as ``ids=``.
    """
    extra = None if doc_ids is None else {REF_DOC_KEY: {"$in": [str(d) for d in doc_ids]}}
    return and_where(where, extra)
