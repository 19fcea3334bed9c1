"""Old module paths keep working: ``memvid_base.layout`` is ``memvid_base.files.layout``, and so on.

memvid-rag 0.2 kept every module at the top of ``memvid_base``; 0.3 groups them by layer. Code that
imported a module by its old path gets the same module object (so patches and ``isinstance`` checks
still agree), and ``python -m memvid_base.apps.cli`` still runs. Everything but the names
``memvid_base.__all__`` exports is internal and may move again.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from types import CodeType, ModuleType

_LAYERS = {
    "remote": ("cache_dirs", "range_file", "range_http"),  # memvid_base.remote is now the package (see its __init__)
    "format": ("container", "packets", "payload", "qr", "qr_encode", "qr_pure", "segment_meta", "vector_codec", "video"),
    "files": ("layout", "locate", "manifest", "segments", "self_describe"),
    "index": ("chroma_io", "doc_filter", "fusion", "keyword_cache", "keywords", "mmr", "query", "reader", "retrieval",
              "vectors"),
    "storage": ("creation", "export", "ingest", "lazy_metadata", "maintenance", "recovery", "transaction"),
    "apps": ("cli", "cli_commands", "cli_common", "cli_parser", "interactive", "interactive_page", "mcp_server",
             "terminal_chat"),
}
MOVED = {f"memvid_base.{name}": f"memvid_base.{layer}.{name}" for layer, names in _LAYERS.items() for name in names}


class _Alias:
    """Finds an old path and hands back the module at its new one.

    A meta path finder and loader by protocol: subclassing ``importlib.abc`` would import
    ``importlib.resources`` and more, 12 ms on every ``import memvid_base``.
    """

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        return importlib.machinery.ModuleSpec(fullname, self) if fullname in MOVED else None  # type: ignore[arg-type]

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        pass  # already executed under its new name

    def get_code(self, fullname: str) -> CodeType:
        """What ``python -m memvid_base.apps.cli`` runs: the new module, run as ``__main__`` under its own package."""
        return compile(f"import runpy; runpy.run_module({MOVED[fullname]!r}, run_name='__main__', alter_sys=True)",
                       f"<memvid_base alias of {MOVED[fullname]}>", "exec")


def install() -> None:
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.append(_Alias())
