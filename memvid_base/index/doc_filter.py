"""Chroma-style ``where_document`` filters on chunk text (pure functions, no I/O).

Supported, with Chroma's own meaning (checked against chromadb 1.5.9 here): ``{"$contains": s}`` is a
case-sensitive substring test (``"zstd"`` matches ``"libzstd"``, not ``"ZSTD"``), ``{"$not_contains": s}``
its negation, and ``{"$and": [...]}`` / ``{"$or": [...]}`` of two or more filters, nested freely.  As in
Chroma, each filter dict has exactly one operator and operands are non-empty strings.  ``$regex`` and
``$not_regex`` are refused with a clear message.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputError

__all__ = ["MAX_DEPTH", "matches", "required_terms", "validate_where_document"]

MAX_DEPTH = 32
_LEAVES = ("$contains", "$not_contains")
_BRANCHES = ("$and", "$or")


def validate_where_document(wd: Any) -> None:
    """Check that ``wd`` is a filter this module can apply.

    Raises:
        InvalidInputError: Not a dict with one known operator, an operand of the wrong type, an empty
            string, a ``$and``/``$or`` list with fewer than two filters, or nesting deeper than 32.
    """
    _validate(wd, 1)


def _validate(wd: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidInputError(f"where_document is nested deeper than {MAX_DEPTH} levels.")
    if not isinstance(wd, dict):
        raise InvalidInputError(f"where_document must be a dict such as {{'$contains': 'word'}}, got {type(wd).__name__}.")
    if len(wd) != 1:
        raise InvalidInputError(f"Each where_document filter needs exactly one operator, got {sorted(map(str, wd))}.")
    ((op, operand),) = wd.items()
    if op in _LEAVES:
        if not isinstance(operand, str):
            raise InvalidInputError(f"{op} needs a string, got {type(operand).__name__}.")
        if not operand:
            raise InvalidInputError(f"{op} needs a non-empty string.")
    elif op in _BRANCHES:
        if not isinstance(operand, list):
            raise InvalidInputError(f"{op} needs a list of where_document filters, got {type(operand).__name__}.")
        if len(operand) < 2:
            raise InvalidInputError(f"{op} needs at least two filters, got {len(operand)}.")
        for sub in operand:
            _validate(sub, depth + 1)
    elif op in ("$regex", "$not_regex"):
        raise InvalidInputError(f"where_document operator {op} is not supported; use $contains or $not_contains.")
    else:
        raise InvalidInputError(
            f"Unknown where_document operator {op!r}; expected one of $contains, $not_contains, $and, $or.")


def matches(wd: dict[str, Any], text: str) -> bool:
    """Whether ``text`` satisfies the filter ``wd`` (validated first).

    Raises:
        InvalidInputError: ``wd`` is not a valid filter or ``text`` is not a str.
    """
    validate_where_document(wd)
    if not isinstance(text, str):
        raise InvalidInputError(f"text must be a str, got {type(text).__name__}.")
    return _match(wd, text)


def _match(wd: dict[str, Any], text: str) -> bool:
    ((op, operand),) = wd.items()
    if op == "$contains":
        return operand in text
    if op == "$not_contains":
        return operand not in text
    if op == "$and":
        return all(_match(sub, text) for sub in operand)
    return any(_match(sub, text) for sub in operand)


def required_terms(wd: dict[str, Any]) -> list[str] | None:
    """Substrings that every matching text must contain, for keyword-index prefiltering.

    ``$contains`` gives its term; ``$and`` gives the union of its children's terms; ``$or`` gives the
    terms that every branch requires (directly or inside a longer required term).  ``None`` means
    the filter cannot be narrowed that way (only ``$not_contains``, or an ``$or`` whose branches share
    no term): the caller must scan every row.

    Raises:
        InvalidInputError: ``wd`` is not a valid filter.

    Example:
        >>> required_terms({"$and": [{"$contains": "zstd"}, {"$not_contains": "gzip"}]})
        ['zstd']
    """
    validate_where_document(wd)
    terms = _required(wd)
    return sorted(terms) if terms else None


def _required(wd: dict[str, Any]) -> set[str]:
    ((op, operand),) = wd.items()
    if op == "$contains":
        return {operand}
    if op == "$not_contains":
        return set()
    if op == "$and":
        return set().union(*(_required(sub) for sub in operand))
    # A term is necessary for the $or if every branch requires it or a longer term that contains it.
    branches = [_required(sub) for sub in operand]
    return {t for t in set().union(*branches) if all(any(t in u for u in b) for b in branches)}
