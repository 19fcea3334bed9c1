"""Each optional extra fails with one line naming it when its package is missing.

A missing package is simulated in a fresh interpreter by ``sys.modules[name] = None`` (which makes
``import name`` raise ImportError), so the shared venv is never modified.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_without(missing: list[str], code: str) -> subprocess.CompletedProcess[str]:
    shim = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in missing)
    return subprocess.run([sys.executable, "-c", shim + textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_langchain_adapter_names_its_extra() -> None:
    done = run_without(["langchain_core"], """
        try:
            import memvid_langchain
        except ImportError as exc:
            print("ERR", exc)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ERR memvid_langchain needs langchain-core: pip install 'memvid-rag[langchain]'"


def test_llamaindex_adapter_names_its_extra() -> None:
    done = run_without(["llama_index.core"], """
        try:
            import memvid_llamaindex
        except ImportError as exc:
            print("ERR", exc)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ERR memvid_llamaindex needs llama-index-core: pip install 'memvid-rag[llamaindex]'"


def test_core_imports_without_any_extra_and_pdf_names_its_extra() -> None:
    done = run_without(["langchain_core", "llama_index", "llama_index.core", "gradio", "mcp", "pypdf"], """
        import memvid_base
        from memvid_base import InvalidInputError, Memory, MemvidEncoder
        from memvid_base.loaders import read_pdf
        assert not any(m.split(".")[0] in {"langchain_core", "llama_index", "gradio", "mcp", "pypdf"}
                       for m, v in sys.modules.items() if v is not None)
        try:
            list(read_pdf("corpus/video_codecs.pdf"))
        except InvalidInputError as exc:
            print("ERR", exc)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ERR Reading video_codecs.pdf needs pypdf: pip install 'memvid-rag[pdf]'."


def test_cli_serve_and_mcp_name_their_extras(tmp_path: Path) -> None:
    for command, module, extra in (("serve", "gradio", "web"), ("mcp", "mcp", "mcp")):
        done = run_without([module], f"""
            from memvid_base.apps.cli import main
            raise SystemExit(main([{command!r}, {str(tmp_path / "kb.mp4")!r}]))
        """)
        assert done.returncode == 1, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("memvid: error:"), done.stderr
        assert f"pip install 'memvid-rag[{extra}]'" in lines[0]
