"""The original memvid README's API, called exactly as written there, with the real offline MiniLM."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from memvid_base import InvalidInputError, MemvidChat, MemvidEncoder, MemvidRetriever

SPACE = [
    "NASA was founded in 1958 to run the United States civilian space program.",
    "Apollo 11 landed on the Moon in 1969; Neil Armstrong was the first person to walk on it.",
    "The International Space Station has been continuously occupied since November 2000.",
    "Voyager 1, launched in 1977, became the first spacecraft to reach interstellar space in 2012.",
    "The Hubble Space Telescope was launched in 1990 aboard the Space Shuttle Discovery.",
]
NOTES = """# Rockets

A rocket engine produces thrust by expelling reaction mass at high speed. Liquid-fuel rockets
mix a fuel such as kerosene or liquid hydrogen with an oxidiser, usually liquid oxygen.

# Orbits

A satellite in low Earth orbit circles the planet roughly every ninety minutes. Geostationary
satellites orbit at about 35,786 km, where one orbit takes exactly one sidereal day.
"""


def _make_pdf(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    pages = [
        "Deep learning uses neural networks with many layers.",
        "Backpropagation computes gradients of the loss with respect to every weight.",
    ]
    with PdfPages(path) as pdf:
        for text in pages:
            fig = Figure(figsize=(8.5, 11))
            fig.text(0.1, 0.9, text, fontsize=10)
            pdf.savefig(fig)


@pytest.fixture(scope="module")
def space(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("seed")
    pdf = folder / "deep_learning.pdf"
    _make_pdf(pdf)
    from memvid_base.embeddings import _load_default_model

    model = _load_default_model()  # a SentenceTransformer object, as users pass one
    enc = MemvidEncoder(chunk_size=512, n_workers=2, embedding_model=model)
    enc.add_chunks(SPACE)
    enc.add_text(NOTES, metadata={"file": "notes.md"})
    enc.add_pdf(str(pdf))
    enc.add_chunks_parallel([f"Mission log {k}: telemetry nominal, all systems go." for k in range(8)])
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        stats = enc.build_video("space.mp4", "space_index.json", fps=60, frame_size=256, video_codec="h265", crf=28)
    finally:
        os.chdir(cwd)
    assert stats["codec"] == "h265" and stats["fps"] == 60 and stats["frame_size"] == 256 and stats["crf"] == 28
    assert stats["total_chunks"] == len(enc.chunks)
    assert ("hint" in stats) == (stats["ratio_to_raw_text"] > 3.0)  # a large lossy video says how to shrink it
    return folder


def test_search_returns_the_right_passage(space: Path) -> None:
    r = MemvidRetriever(str(space / "space.mp4"), str(space / "space_index.json"))
    hits = r.search("When did humans land on the Moon?", top_k=5)
    assert len(hits) == 5
    assert hits[0] == SPACE[1]


def test_search_with_metadata_carries_file_page_and_frame(space: Path) -> None:
    r = MemvidRetriever(space / "space.mp4")
    hit = r.search_with_metadata("how are gradients computed for the weights", top_k=1)[0]
    assert "Backpropagation" in hit["text"]
    assert hit["metadata"] == {"file": "deep_learning.pdf", "page": 2}
    assert 0 <= hit["score"] <= 1 and isinstance(hit["frame"], int) and hit["chunk_id"]
    orbit = r.search_with_metadata("how long does a low Earth orbit take", top_k=1)[0]
    assert orbit["metadata"] == {"file": "notes.md"} and "ninety minutes" in orbit["text"]


def test_chat_answers_offline_with_citations(space: Path) -> None:
    answer = MemvidChat(str(space / "space.mp4"), str(space / "space_index.json")).chat("When did humans land on the Moon?")
    assert "1969" in answer
    assert "Sources:" in answer and "frame" in answer


def test_chat_uses_a_plugged_in_llm_with_the_retrieved_context(space: Path) -> None:
    prompts: list[str] = []

    def llm(prompt: str) -> str:
        prompts.append(prompt)
        return "It was 1969 [1]."

    chat = MemvidChat(space / "space.mp4", llm=llm)
    assert chat.chat("When did Apollo 11 land?") == "It was 1969 [1]."
    assert SPACE[1] in prompts[0]


def test_chat_keeps_at_most_max_history_exchanges_and_refuses_bad_settings(space: Path) -> None:
    chat = MemvidChat(space / "space.mp4", llm=lambda prompt: "ok", max_history=1)
    chat.chat("When did Apollo 11 land?")
    chat.chat("And how long is an orbit?")
    assert chat.get_history() == [("human", "And how long is an orbit?"), ("ai", "ok")]
    forgetful = MemvidChat(space / "space.mp4", llm=lambda prompt: "ok", max_history=0)
    forgetful.chat("When did Apollo 11 land?")
    assert forgetful.get_history() == []
    for bad in ({"top_k": 0}, {"top_k": "5"}, {"max_history": -1}, {"max_history": 2.5}):
        with pytest.raises(InvalidInputError):
            MemvidChat(space / "space.mp4", **bad)  # type: ignore[arg-type]


def test_add_chunks_parallel_matches_sequential_chunking() -> None:
    from memvid_base.chunking import chunk_text

    texts = [NOTES * 3, "short"] * 3
    enc = MemvidEncoder(chunk_size=120, n_workers=2)
    added = enc.add_chunks_parallel(texts)
    expected = [c for t in texts for c in chunk_text(t, 120, enc.overlap)]
    assert enc.chunks == expected and added == len(expected)


def test_size_hint_speaks_only_for_large_lossy_videos() -> None:
    from memvid_base.encoder import size_hint

    hint = size_hint({"codec": "h265", "frame_size": 256, "ratio_to_raw_text": 6.9})
    assert hint is not None and "6.9x" in hint and "av1" in hint and "\n" not in hint
    assert size_hint({"codec": "h265", "frame_size": 544, "ratio_to_raw_text": 2.5}) is None
    assert size_hint({"codec": "av1", "frame_size": 192, "ratio_to_raw_text": 9.0}) is None


def test_interactive_ui_class_is_exported() -> None:
    from memvid_base import MemvidInteractive

    assert callable(getattr(MemvidInteractive, "run", None))


def test_nothing_reaches_the_network(space: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    r = MemvidRetriever(space / "space.mp4")
    assert r.search("Hubble telescope launch", top_k=1)[0] == SPACE[4]
