"""The folders are the layers: a lower layer never imports a higher one, and no two modules import each other.

Read from the source (every ``from .x import`` at any depth, ``TYPE_CHECKING`` blocks apart), so a
new module that breaks the rule fails here before anyone has to find the cycle at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import memvid_base
from memvid_base._aliases import MOVED

PKG = Path(memvid_base.__file__).parent
BASICS = {"errors", "types", "config", "embeddings", "chunking", "loaders", "present", "safe_files", "boundary", "_aliases",
          "decode_pool"}
FACES = {"memory", "reading", "view", "encoder", "retriever", "chat", "__init__"}
RANK = {"models": 0, "remote": 1, "format": 2, "files": 3, "index": 4, "storage": 5, "apps": 7}
# The one sanctioned upward import: the package's lazy ``MemvidInteractive`` attribute (gradio is optional).
# And ``memvid_base.remote``'s lazy attributes for code that imported the 0.2 module of that name.
ALLOWED_UP = {
    ("memvid_base", "memvid_base.apps.interactive"),
    ("memvid_base.remote", "memvid_base.format"),
    ("memvid_base.remote", "memvid_base.format.opening"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def rank(module: str) -> int:
    parts = module.split(".")[1:]
    if not parts:
        return 6  # the package itself is the public face
    if parts[0] in RANK:
        return RANK[parts[0]]
    if parts[0] in BASICS:
        return 0
    assert parts[0] in FACES, f"{module}: a new top-level module must be added to BASICS or FACES in this test"
    return 6


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def imports(path: Path, modules: set[str]) -> dict[str, bool]:
    """The memvid_base modules ``path`` imports, each mapped to whether the import is for type checking only."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, bool] = {}

    def visit(node: ast.AST, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                visit(child, True)
                continue
            if isinstance(child, ast.ImportFrom) and child.level:
                base = package.split(".")[: len(package.split(".")) - child.level + 1]
                target = ".".join(base + ([child.module] if child.module else []))
                for candidate in [target, *(f"{target}.{a.name}" for a in child.names)]:
                    if candidate in modules and candidate != name:
                        found[candidate] = found.get(candidate, True) and typing_only
            visit(child, typing_only)

    visit(ast.parse(path.read_text()), False)
    return found


def graph() -> dict[str, dict[str, bool]]:
    paths = {module_name(p): p for p in PKG.rglob("*.py")}
    return {name: imports(path, set(paths)) for name, path in paths.items()}


def test_every_module_sits_in_a_layer_and_imports_only_downwards() -> None:
    broken = [
        f"{src} (layer {rank(src)}) imports {dst} (layer {rank(dst)})"
        for src, deps in graph().items()
        for dst, typing_only in deps.items()
        if not typing_only and rank(dst) > rank(src) and (src, dst) not in ALLOWED_UP
    ]
    assert broken == []


def test_no_two_modules_import_each_other_even_for_types() -> None:
    g = {src: set(deps) for src, deps in graph().items()}
    cycles = []
    for start in g:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in g[node]:
                if nxt == start and len(path) > 1:
                    cycles.append(" -> ".join([*path, start]))
                elif nxt not in seen and nxt != "memvid_base":
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    assert cycles == []


def test_each_layer_says_what_it_owns_and_may_import() -> None:
    for layer in RANK:
        doc = (PKG / layer / "__init__.py").read_text()
        assert f"Layer {RANK[layer]}" in doc and "import" in doc


def test_old_module_paths_still_import_the_same_module() -> None:
    import importlib

    for old, new in MOVED.items():
        if old.endswith(("interactive", "interactive_page", "mcp_server")):
            continue  # optional extras (gradio, mcp): covered by their own tests
        assert importlib.import_module(old) is importlib.import_module(new)
    from memvid_base import layout  # type: ignore[attr-defined]  # the 0.2 spelling
    from memvid_base.remote import open_remote  # the 0.2 module memvid_base.remote is now a package

    assert layout.__name__ == "memvid_base.files.layout" and open_remote.__module__ == "memvid_base.format.opening"
