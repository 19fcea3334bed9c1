"""One rule, asked by every surface: a memory exists where its MP4 (or its index) exists, and nothing is created over it.

Regression tests for the data loss of memvid-rag 0.2: an adapter or ``memvid encode --append`` opened a
copied MP4 as a new, empty memory, and the first write replaced its chunks with one.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from memvid_base import (
    Memory,
    MemoryExistsError,
    MemoryNotFoundError,
    MemvidEncoder,
    MemvidRetriever,
    NotAMemoryError,
    locate,
    memory_exists,
)
from memvid_base.apps.cli import main
from memvid_base.config import VideoOptions
from memvid_base.files.layout import Layout
from memvid_base.storage.creation import write_empty
from memvid_langchain import MemvidVectorStore
from memvid_llamaindex import MemvidVectorStore as LlamaStore
from tests.core_fixtures import hash_embed, pydoc_chunks, unique_identifiers

N = 30


class HashEmbeddings(Embeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return hash_embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return hash_embed([text])[0].tolist()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    texts = pydoc_chunks(limit=N)
    ids = [f"t{k}" for k in range(N)]
    video = tmp_path_factory.mktemp("built") / "kb.mp4"
    Memory.build(video, None, texts, None, ids, embedding_model=hash_embed, codec="h264").close()
    return video, dict(zip(ids, texts, strict=True))


@pytest.fixture
def copy(built: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    """The MP4 alone in another folder, as after ``scp kb.mp4 server:``."""
    target = tmp_path / "kb.mp4"
    shutil.copy(built[0], target)
    return target


def ordinary_video(path: Path) -> Path:
    """A two-frame H.264 MP4 that any player opens and that is no memory."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=1)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for _ in range(2):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def texts_of(path: Path | str) -> dict[str, str]:
    with Memory(path, embedding_model=hash_embed) as mem:
        return {c.id: c.text for c in mem.get_by_ids([f"t{k}" for k in range(N)])}


def test_the_rule_sees_a_bare_mp4_an_index_nothing_and_foreign_files(copy: Path, tmp_path: Path) -> None:
    assert locate(copy).state == "memory" and memory_exists(copy)
    assert locate(tmp_path / "none.mp4").state == "absent"
    movie = locate(ordinary_video(tmp_path / "movie.mp4"))
    assert movie.state == "foreign" and "MP4 video without memvid's data box" in movie.why
    text = tmp_path / "notes.mp4"
    text.write_text("just some notes\n")
    assert locate(text).state == "foreign" and "not an MP4 file at all" in locate(text).why
    assert not list(tmp_path.glob(".*memvid-cache"))  # asking never creates anything


def test_langchain_opens_a_copied_mp4_and_its_first_write_keeps_every_chunk(
    copy: Path, built: tuple[Path, dict[str, str]]
) -> None:
    store = MemvidVectorStore(video_file=copy, embedding=HashEmbeddings())
    assert len(store.memory) == N and store.similarity_search("garbage collection", k=3)
    store.add_texts(["one more"], ids=["new"])
    assert texts_of(copy) == built[1] and len(Memory(copy, embedding_model=hash_embed)) == N + 1


def test_after_an_adapter_opened_the_copy_the_seed_retriever_still_sees_it(copy: Path) -> None:
    MemvidVectorStore(video_file=copy, embedding=HashEmbeddings())
    LlamaStore(copy)
    assert MemvidRetriever(copy, embedding_model=hash_embed).get_stats()["chunks"] == N


def test_llamaindex_opens_a_copied_mp4(copy: Path) -> None:
    assert len(LlamaStore(copy).memory) == N


def test_an_empty_cache_written_beside_a_copy_by_an_earlier_version_is_healed(
    copy: Path, built: tuple[Path, dict[str, str]]
) -> None:
    layout = Layout.of(copy)
    write_empty(Memory, layout, hash_embed, VideoOptions("h264", 30, None, None, "zxing"), None, None).close()
    assert texts_of(copy) == built[1]  # the MP4 wins over the empty index that shadowed it


def test_cli_append_to_a_copied_mp4_keeps_every_chunk(
    copy: Path, built: tuple[Path, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nAppended to a copied memory.\n")
    code = main(["encode", str(note), "-o", str(copy), "--append", "--quiet", "--embedding-model",
                 "tests.core_fixtures:hash_embed"])
    assert code == 0, capsys.readouterr().err
    assert texts_of(copy) == built[1] and len(Memory(copy, embedding_model=hash_embed)) == N + 1


def test_a_memory_made_at_the_old_default_frame_size_keeps_it_through_every_surfaces_append(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # New AV1 memories use 176 px frames; one made before (184 px, QR version 40), copied bare, must take every
    # append at its own size and keep every chunk.
    from llama_index.core.schema import TextNode

    texts = pydoc_chunks(limit=12)
    ids = [f"t{k}" for k in range(len(texts))]
    made = tmp_path / "old" / "kb.mp4"
    made.parent.mkdir()
    Memory.build(made, None, texts, None, ids, embedding_model=hash_embed, frame_size=184).close()
    copy = tmp_path / "kb.mp4"
    shutil.copy(made, copy)

    MemvidVectorStore(video_file=copy, embedding=HashEmbeddings()).add_texts(["from LangChain"], ids=["lc"])
    LlamaStore(copy).add([TextNode(id_="li", text="from LlamaIndex", embedding=hash_embed(["from LlamaIndex"])[0].tolist())])
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nFrom the CLI.\n")
    code = main(["encode", str(note), "-o", str(copy), "--append", "--quiet", "--embedding-model",
                 "tests.core_fixtures:hash_embed"])
    assert code == 0, capsys.readouterr().err

    with Memory(copy, embedding_model=hash_embed) as mem:
        assert (mem.settings.frame_size, mem.settings.qr_version) == (184, 40)
        assert len(mem.manifest.segments) == 4  # the build and three appends, all written at 184 px
        assert {c.id: c.text for c in mem.get_by_ids(ids)} == dict(zip(ids, texts, strict=True))
        assert [c.text for c in mem.get_by_ids(["lc", "li"])] == ["from LangChain", "from LlamaIndex"]
        assert mem.verify().ok  # every frame of every segment decodes at the memory's own size


def test_cli_encode_never_replaces_a_memory_or_a_video_without_overwrite(
    copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nA new memory.\n")
    spec = ["--embedding-model", "tests.core_fixtures:hash_embed", "--quiet"]
    assert main(["encode", str(note), "-o", str(copy), *spec]) == 1
    assert "A memory already exists" in capsys.readouterr().err and len(texts_of(copy)) == N
    movie = ordinary_video(tmp_path / "movie.mp4")
    before = movie.read_bytes()
    assert main(["encode", str(note), "-o", str(movie), *spec]) == 1
    err = capsys.readouterr().err
    assert "not a memvid memory" in err and "--overwrite" in err and movie.read_bytes() == before
    assert main(["encode", str(note), "-o", str(movie), "--overwrite", *spec]) == 0
    assert len(Memory(movie, embedding_model=hash_embed)) == 1


def test_memory_create_refuses_an_existing_memory_or_file_and_overwrites_only_when_told(
    copy: Path, tmp_path: Path
) -> None:
    with pytest.raises(MemoryExistsError, match="overwrite=True"):
        Memory.create(copy, embedding_model=hash_embed)
    assert len(Memory.create(copy, embedding_model=hash_embed, exist_ok=True)) == N
    movie = ordinary_video(tmp_path / "movie.mp4")
    with pytest.raises(NotAMemoryError, match="refusing to write over it"):
        Memory.create(movie, embedding_model=hash_embed, exist_ok=True)
    fresh = Memory.create(copy, embedding_model=hash_embed, overwrite=True)
    assert len(fresh) == 0 and not copy.exists()  # replaced on purpose: the old MP4 went with it
    fresh.add(["after the overwrite"], ids=["a"])
    assert [c.id for c in Memory(copy, embedding_model=hash_embed).get_by_ids(["a", "t0"])] == ["a"]
    emptied = Memory.create(movie, embedding_model=hash_embed, overwrite=True)
    assert len(emptied) == 0 and not movie.exists()


def test_build_video_over_a_memory_replaces_it_and_says_so(
    copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    enc = MemvidEncoder(embedding_model=hash_embed)
    enc.add_chunks(["a rebuilt memory"])
    with caplog.at_level(logging.WARNING, logger="memvid_base"):
        enc.build_video(copy, show_progress=False)  # the seed documents rebuilding over a path
    assert f"which held {N} chunks" in caplog.text
    assert [c.text for c in Memory(copy, embedding_model=hash_embed).search("rebuilt", top_k=5)] == ["a rebuilt memory"]
    movie = ordinary_video(tmp_path / "movie.mp4")
    with pytest.raises(NotAMemoryError, match="overwrite=True"):
        enc.build_video(movie, show_progress=False)
    enc.build_video(movie, show_progress=False, overwrite=True)
    assert len(Memory(movie, embedding_model=hash_embed)) == 1


def test_opening_what_is_not_a_memory_says_what_it_is_and_leaves_nothing(tmp_path: Path) -> None:
    movie = ordinary_video(tmp_path / "movie.mp4")
    with pytest.raises(NotAMemoryError, match="MP4 video without memvid's data box"):
        Memory(movie)
    text = tmp_path / "notes.mp4"
    text.write_text("just some notes\n")
    with pytest.raises(NotAMemoryError, match="not an MP4 file at all"):
        MemvidRetriever(text)
    with pytest.raises(MemoryNotFoundError, match="memvid encode"):
        Memory(tmp_path / "none.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie.mp4", "notes.mp4"]  # no empty cache folder


def test_seed_retriever_searches_in_every_mode(built: tuple[Path, dict[str, str]]) -> None:
    video, texts = built
    ident, k = next(iter(unique_identifiers(list(texts.values())).items()))
    retriever = MemvidRetriever(video, embedding_model=hash_embed)
    assert retriever.search(ident, top_k=5, mode="keyword")[0] == list(texts.values())[k]
    assert list(texts.values())[k] in retriever.search(ident, top_k=5, mode="hybrid")
    assert len(retriever.search(ident, top_k=5, mode="vector")) == 5
    hit = retriever.search_with_metadata(ident, top_k=1, mode="keyword")[0]
    assert hit["text"] == list(texts.values())[k]


def test_export_never_replaces_a_file_unless_told(built: tuple[Path, dict[str, str]], copy: Path, tmp_path: Path) -> None:
    source = Memory(built[0], embedding_model=hash_embed)
    before = copy.read_bytes()
    with pytest.raises(MemoryExistsError, match="already a memory"):
        source.export(copy)  # a bare copy of another memory, with no cache beside it
    assert copy.read_bytes() == before
    source.export(copy, overwrite=True)
    assert texts_of(copy) == built[1]
    source.close()
