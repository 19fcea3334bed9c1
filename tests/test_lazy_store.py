"""A reader opens its vector store only when a query needs it: keyword search never does, nor does an unfiltered
vector query of a small memory (answered from the segments' boxes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from memvid_base import Memory
from memvid_base.errors import CorruptMemoryError
from tests.core_fixtures import hash_embed, pydoc_chunks

REPO = Path(__file__).resolve().parent.parent

_READER = """
import json, sys
from memvid_base import Memory
mem = Memory(sys.argv[1])
kw = mem.search("PYTHONHASHSEED", top_k=3, mode="keyword")
after_keyword = "chromadb" in sys.modules
unneeded = sorted(m for m in ("http.client", "ssl", "socket", "filelock", "importlib.abc", "multiprocessing",
                               "secrets", "tempfile", "typing_extensions", "zxingcpp", "memvid_base.format.qr_encode",
                               "memvid_base.encoder", "memvid_base.chat", "memvid_base.chunking",
                               "memvid_base.storage.ingest", "memvid_base.storage.maintenance",
                               "memvid_base.storage.creation", "av", "concurrent.futures", "logging", "hashlib",
                               "shutil") if m in sys.modules)
vec = mem.search_by_vector(json.loads(sys.argv[2]), top_k=2)
after_vector = "chromadb" in sys.modules
filtered = mem.search_by_vector([0.1] * 64, top_k=2, where={"file": "none"})
print(json.dumps({"keyword": [c.text for c in kw], "chroma_after_keyword": after_keyword, "unneeded": unneeded,
                  "vector": [c.text for c in vec], "chroma_after_vector": after_vector,
                  "filtered": len(filtered), "chroma_after_filter": "chromadb" in sys.modules}))
"""


def test_keyword_search_in_a_fresh_process_imports_neither_chroma_nor_what_it_does_not_use(tmp_path: Path) -> None:
    corpus = [*pydoc_chunks(60), "Set PYTHONHASHSEED to 0 for reproducible hashes."]
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    mem.add(corpus, embeddings=hash_embed(corpus))
    assert mem.search("PYTHONHASHSEED", top_k=1, mode="keyword")  # builds the keyword index
    mem.close()
    query = json.dumps(hash_embed([corpus[-1]])[0].tolist())
    out = subprocess.run([sys.executable, "-c", _READER, str(tmp_path / "kb.mp4"), query], capture_output=True, text=True,
                         cwd=REPO, timeout=300, env={"PYTHONPATH": str(REPO), "ANONYMIZED_TELEMETRY": "False",
                                                     "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert "PYTHONHASHSEED" in res["keyword"][0]  # text decoded from the video
    assert res["chroma_after_keyword"] is False
    # A local search needs no HTTP, TLS, sockets, writer lock or process pool; nor the write path, the chat, or
    # zxing-cpp (the fallback for damaged frames), nor PyAV (AV1 frames decode through libdav1d directly); nor
    # concurrent.futures and logging (the decode pool is its own), hashlib's OpenSSL, or shutil's bz2 and lzma.
    assert res["unneeded"] == []
    # A small memory's unfiltered vector query is answered from the vectors in the MP4's own box.
    assert res["vector"][0] == corpus[-1] and len(res["vector"]) == 2
    assert res["chroma_after_vector"] is False
    assert res["filtered"] == 0 and res["chroma_after_filter"] is True  # metadata filters are Chroma's job


def test_a_lazily_opened_store_still_refuses_a_rolled_back_manifest(tmp_path: Path) -> None:
    corpus = pydoc_chunks(20)
    mem = Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed)
    mem.add(corpus[:10], embeddings=hash_embed(corpus[:10]))
    old = mem.index_path.read_bytes()
    mem.add(corpus[10:], embeddings=hash_embed(corpus[10:]))
    mem.close()
    mem.index_path.write_bytes(old)  # an old manifest restored over a newer store
    reader = Memory(tmp_path / "kb.mp4", embedding_model=hash_embed)
    with pytest.raises(CorruptMemoryError):
        reader.search_by_vector(hash_embed([corpus[0]])[0], top_k=1)


def test_every_public_name_imports_lazily_and_none_is_missing() -> None:
    import memvid_base
    from memvid_base import errors

    eager = {name for name in memvid_base.__all__ if hasattr(errors, name)} | {"__version__"}
    assert set(memvid_base.__all__) == eager | set(memvid_base._LAZY)  # __all__ and the lazy table agree
    for name in memvid_base.__all__:
        if name != "MemvidInteractive":  # gradio is an extra: its lazy import is tested with the web UI
            assert getattr(memvid_base, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        memvid_base.nothing_here  # noqa: B018
