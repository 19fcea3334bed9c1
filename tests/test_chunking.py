"""Sentence-aligned chunking: size bound, coverage, sentence starts, sentence-aligned overlap."""

from __future__ import annotations

import itertools

import pytest

from memvid_base.chunking import chunk_text, split_sentences
from memvid_base.errors import InvalidInputError

PROSE = (
    "The Apollo program was the third United States human spaceflight program. "
    "It was carried out by NASA and achieved landing the first humans on the Moon. "
    "Apollo 11 launched from Kennedy Space Center on July 16, 1969! "
    "Was it watched by millions? Yes, e.g. many families watched it on television. "
    "Short one. Another short one. "
    "The program used the Saturn V rocket as its launch vehicle.\n\n"
    "A new paragraph starts here. It has two sentences."
)


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_split_sentences() -> None:
    got = sentences(PROSE)
    assert got[0] == "The Apollo program was the third United States human spaceflight program."
    assert "Apollo 11 launched from Kennedy Space Center on July 16, 1969!" in got
    assert "Was it watched by millions?" in got
    assert "Yes, e.g. many families watched it on television." in got  # abbreviation kept inside
    assert got[-1] == "It has two sentences."
    assert sentences("3.14 is pi; os.path.join works.") == ["3.14 is pi; os.path.join works."]
    assert sentences("これは文です。次の文です！") == ["これは文です。", "次の文です！"]


@pytest.mark.parametrize(("size", "overlap"), [(80, 0), (80, 40), (120, 60), (200, 50), (512, 50)])
def test_chunks_bounded_cover_every_sentence_and_start_on_sentences(size: int, overlap: int) -> None:
    chunks = chunk_text(PROSE, size, overlap)
    sents = sentences(PROSE)
    assert all(0 < len(c) <= size for c in chunks)
    for s in sents:
        assert any(s in c for c in chunks), s
    for c in chunks:  # every sentence is shorter than size here, so chunks start and end on sentences
        assert any(c.startswith(s) for s in sents), c
        assert any(c.endswith(s) for s in sents), c


def test_overlap_is_whole_sentences_within_budget() -> None:
    chunks = chunk_text(PROSE, 120, 60)
    overlapped = 0
    for prev, cur in itertools.pairwise(chunks):
        prev_s, cur_s = sentences(prev), sentences(cur)
        shared = [s for s in cur_s if s in prev_s]
        if shared:
            overlapped += 1
            assert cur_s[: len(shared)] == shared  # the overlap is the chunk's head
            assert prev_s[-len(shared):] == shared  # ...and the previous chunk's tail
            assert cur.index(shared[-1]) + len(shared[-1]) <= 60
    assert overlapped >= 1  # "Short one. Another short one." fit the 60-char budget
    no_overlap = chunk_text(PROSE, 120, 0)
    assert all(not set(sentences(a)) & set(sentences(b)) for a, b in itertools.pairwise(no_overlap))


def test_long_sentences_fall_back_to_words_then_characters() -> None:
    words = " ".join(f"word{i}" for i in range(100))  # one 'sentence' of ~590 chars
    chunks = chunk_text(words, 50, 0)
    assert all(len(c) <= 50 for c in chunks)
    assert " ".join(chunks) == words  # cut only at spaces
    url = "https://example.com/" + "x" * 130
    assert chunk_text(url, 50, 0) == [url[:50], url[50:100], url[100:]]


def test_cjk_without_punctuation_still_chunks() -> None:
    text = "漢字テキスト" * 50
    chunks = chunk_text(text, 64, 8)
    assert all(len(c) <= 64 for c in chunks)
    assert "".join(chunks) == text


def test_edge_cases_and_validation() -> None:
    assert chunk_text("", 10, 0) == []
    assert chunk_text("   \n\n  ", 10, 0) == []
    assert chunk_text("One. Two. Three.", 10, 0) == ["One. Two.", "Three."]
    for bad in [(1, 10, 0), ("x", 0, 0), ("x", 10, 10), ("x", 10, -1), ("x", True, 0)]:
        with pytest.raises(InvalidInputError):
            chunk_text(*bad)  # type: ignore[arg-type]


def start_offsets(text: str, chunks: list[str]) -> list[int]:
    out, pos = [], 0
    for c in chunks:
        pos = text.index(c, pos)
        out.append(pos)
        pos += 1
    return out


def test_real_corpus_is_deterministic_and_mostly_sentence_aligned() -> None:
    from pydoc_data import topics

    text = "\n\n".join(topics.topics[k] for k in sorted(topics.topics)[:60])
    a = chunk_text(text, 512, 50)
    assert a == chunk_text(text, 512, 50)
    assert all(len(c) <= 512 for c in a)
    sentence_starts = {s for s, _ in split_sentences(text)}
    offsets = start_offsets(text, a)
    # Hard-wrapped prose and code blocks longer than a chunk force a few line-level starts.
    assert sum(o in sentence_starts for o in offsets) / len(a) > 0.9
    # Never in the middle of a word.
    assert all(o == 0 or not (text[o - 1].isalnum() and text[o].isalnum()) for o in offsets)
