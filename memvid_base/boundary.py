"""The public boundary: a call into memvid raises a MemvidError, never a raw traceback, whatever it is given.

Every public method validates what it knows to expect, but a caller can pass anything: ``None``
for a list, an int for a path, a string with a NUL byte or a lone surrogate, a filter nested a
thousand levels deep.  Python then raises ``TypeError``, ``ValueError``, ``UnicodeError``,
``OverflowError`` or ``RecursionError`` from somewhere inside.  :func:`public_errors` wraps each
public method of a class so that those arrive as :class:`~memvid_base.errors.InvalidInputError`
naming the call, with the original exception as its cause (a ``TypeError`` as
:class:`~memvid_base.errors.UnexpectedArgumentError`, which is a ``TypeError`` too).  Errors memvid raises on purpose, and
every other exception type, pass through unchanged.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from .errors import InvalidInputError, MemvidError, UnexpectedArgumentError

_C = TypeVar("_C", bound=type)
# What a bad argument makes Python raise deep inside a call (a RecursionError: a value nested too deeply).
ARGUMENT_ERRORS: tuple[type[BaseException], ...] = (TypeError, ValueError, UnicodeError, OverflowError, RecursionError)


def _converted(where: str, exc: BaseException) -> InvalidInputError:
    detail = "a value nested too deeply" if isinstance(exc, RecursionError) else f"{type(exc).__name__}: {exc}"
    if len(detail) > 300:
        detail = detail[:297] + "..."
    message = f"{where} cannot use one of its arguments ({detail}). Check their types and values."
    # A TypeError stays one (code that catches a wrong call keeps working), and is a MemvidError as well.
    return UnexpectedArgumentError(message) if isinstance(exc, TypeError) else InvalidInputError(message)


class _Converting:
    """Turns what a bad argument makes Python raise into InvalidInputError; one per wrapped method (no state)."""

    __slots__ = ("passthrough", "where")

    def __init__(self, where: str, passthrough: tuple[type[BaseException], ...]) -> None:
        self.where, self.passthrough = where, passthrough

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, ARGUMENT_ERRORS) and not isinstance(exc, self.passthrough):
            raise _converted(self.where, exc) from exc


def _wrap(where: str, fn: Callable[..., Any], keep: tuple[type[BaseException], ...]) -> Callable[..., Any]:
    converting = _Converting(where, (MemvidError, *keep))
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def coroutine(*args: Any, **kwargs: Any) -> Any:
            with converting:
                return await fn(*args, **kwargs)

        return coroutine

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Any:
            with converting:
                yield from fn(*args, **kwargs)

        return generator

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        with converting:
            return fn(*args, **kwargs)

    return call


@overload
def public_errors(cls: _C, /) -> _C: ...
@overload
def public_errors(*, keep: tuple[type[BaseException], ...] = ()) -> Callable[[_C], _C]: ...


def public_errors(cls: _C | None = None, /, *, keep: tuple[type[BaseException], ...] = ()) -> _C | Callable[[_C], _C]:
    """Class decorator: every public method (and ``__init__``, class and static methods, coroutines too) of ``cls``
    raises only MemvidError for bad arguments.  Methods inherited from a base class are wrapped where the base is
    decorated.

    Args:
        cls: The class (``@public_errors``); or leave it out to pass ``keep`` (``@public_errors(keep=...)``).
        keep: Exception types that pass through unchanged, e.g. a framework's own validation error that its
            callers catch (pydantic's ``ValidationError`` in the adapters).
    """

    def decorate(target: _C) -> _C:
        for name, value in list(vars(target).items()):
            if name.startswith("_") and name != "__init__":
                continue
            where = f"{target.__name__}.{name}" if name != "__init__" else target.__name__
            if isinstance(value, classmethod):
                setattr(target, name, classmethod(_wrap(where, value.__func__, keep)))
            elif isinstance(value, staticmethod):
                setattr(target, name, staticmethod(_wrap(where, value.__func__, keep)))
            elif inspect.isfunction(value):
                setattr(target, name, _wrap(where, value, keep))
        return target

    return decorate if cls is None else decorate(cls)
