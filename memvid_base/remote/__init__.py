"""Reading a memory's bytes from elsewhere: HTTP range requests, a bounded block cache, the user cache folder.

Layer 1. May import: the top-level basics (``errors``, ``types``, ``config``). Nothing above.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """``from memvid_base.remote import open_remote`` (the 0.2 module path) still works, without importing PyAV early."""
    from ..format import opening

    try:
        return getattr(opening, name)
    except AttributeError:
        raise AttributeError(f"module 'memvid_base.remote' has no attribute {name!r}") from None
