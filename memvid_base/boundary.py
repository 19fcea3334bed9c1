"""The public boundary: a call into memvid raises a MemvidError, never a raw traceback, whatever it is given.

Every public method validates what it knows to expect, but a caller can pass anything: ``None``
for a list, an int for a path, a string with a NUL byte or a lone surrogate, a filter nested a
thousand levels deep.  Python then raises ``TypeError``, ``ValueError``, ``UnicodeError``,
``OverflowError`` or ``RecursionError`` from somewhere inside.  :func:`public_errors` wraps each
public method of a class so that those arrive as :class:`~memvid_base.errors.InvalidInputError`
naming the call, with the original exception as its cause.  Errors memvid raises on purpose, and
every other exception type, pass through unchanged.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import InvalidInputError, MemvidError

_C = TypeVar("_C", bound=type)
# What a bad argument makes Python raise deep inside a call (a RecursionError: a value nested too deeply).
ARGUMENT_ERRORS: tuple[type[BaseException], ...] = (TypeError, ValueError, UnicodeError, OverflowError, RecursionError)


def _converted(where: str, exc: BaseException) -> InvalidInputError:
    detail = "a value nested too deeply" if isinstance(exc, RecursionError) else f"{type(exc).__name__}: {exc}"
    if len(detail) > 300:
        detail = detail[:297] + "..."
    return InvalidInputError(f"{where} cannot use one of its arguments ({detail}). Check their types and values.")


def _wrap(where: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except MemvidError:
                raise
            except ARGUMENT_ERRORS as exc:
                raise _converted(where, exc) from exc

        return generator

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MemvidError:
            raise
        except ARGUMENT_ERRORS as exc:
            raise _converted(where, exc) from exc

    return call


def public_errors(cls: _C) -> _C:
    """Class decorator: every public method (and ``__init__``, class and static methods) of ``cls`` raises only
    MemvidError for bad arguments.  Methods inherited from a base class are wrapped where the base is decorated."""
    for name, value in list(vars(cls).items()):
        if name.startswith("_") and name != "__init__":
            continue
        where = f"{cls.__name__}.{name}" if name != "__init__" else cls.__name__
        if isinstance(value, classmethod):
            setattr(cls, name, classmethod(_wrap(where, value.__func__)))
        elif isinstance(value, staticmethod):
            setattr(cls, name, staticmethod(_wrap(where, value.__func__)))
        elif inspect.isfunction(value):
            setattr(cls, name, _wrap(where, value))
    return cls
