"""KeywordIndex: BM25 that stores no text, identifier-aware tokens, filters, stamps, crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from memvid_base.errors import CorruptMemoryError, InvalidInputError
from memvid_base.index.keywords import KeywordIndex

DOCS = {
    "env@1": "Set the PYTHONHASHSEED environment variable to 0 to disable hash randomization.",
    "path@1": "Use os.path.join to build paths; it joins one or more path components intelligently.",
    "err@1": "The client retries when the socket fails with ERR_CONN_RESET from the server.",
    "join@1": "A SQL join combines rows from two tables.",
    "cafe@1": "Le café est servi à 8h. 漢字テキストの例。",
    "quote@1": 'He said "hello (world)": key:value pairs are fine.',
}


@pytest.fixture()
def idx(tmp_path: Path):
    index = KeywordIndex.open(tmp_path / "kw")
    index.add(list(DOCS), list(DOCS.values()))
    index.commit("v1")
    yield index
    index.close()


def top(index: KeywordIndex, q: str, k: int = 5) -> list[str]:
    return [rid for rid, _ in index.search(q, k)]


@pytest.mark.parametrize(("query", "expected"), [
    ("PYTHONHASHSEED", "env@1"), ("pythonhashseed", "env@1"),
    ("os.path.join", "path@1"), ("ERR_CONN_RESET", "err@1"), ("café", "cafe@1"),
])
def test_identifiers_are_found_whole(idx: KeywordIndex, query: str, expected: str) -> None:
    assert top(idx, query)[0] == expected


def test_identifiers_are_found_by_parts(idx: KeywordIndex) -> None:
    assert top(idx, "conn reset")[0] == "err@1"
    assert set(top(idx, "join")) >= {"path@1", "join@1"}
    # The whole identifier outranks a chunk that only shares a part.
    assert top(idx, "os.path.join")[:1] == ["path@1"]


@pytest.mark.parametrize("query", ['"', 'key:value', "((", "a AND OR NOT", "field:[1 TO", "*", "\\", "😀", "\x00", "-", ""])
def test_query_parsing_never_raises(idx: KeywordIndex, query: str) -> None:
    hits = idx.search(query, 3)
    assert isinstance(hits, list)
    assert all(isinstance(r, str) and isinstance(s, float) for r, s in hits)


def test_empty_and_punctuation_only_queries_return_nothing(idx: KeywordIndex) -> None:
    assert idx.search("", 5) == []
    assert idx.search("() :: \"\"", 5) == []
    assert idx.search("zzznotthere", 5) == []


def test_scores_sorted_and_k_respected(idx: KeywordIndex) -> None:
    hits = idx.search("path join the server", 2)
    assert len(hits) == 2
    assert hits[0][1] >= hits[1][1]


def test_bad_arguments(idx: KeywordIndex) -> None:
    with pytest.raises(InvalidInputError):
        idx.search("x", 0)
    with pytest.raises(InvalidInputError):
        idx.search(b"x", 3)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        idx.add(["a"], ["x", "y"])
    with pytest.raises(InvalidInputError):
        idx.add("abc", ["a", "b", "c"])
    with pytest.raises(InvalidInputError):
        idx.add([""], ["x"])
    with pytest.raises(InvalidInputError):
        idx.commit(3)  # type: ignore[arg-type]


def test_index_holds_no_text(tmp_path: Path) -> None:
    secret = "Zyxwvutsrq-unique-marker sentence about PYTHONHASHSEED."
    index = KeywordIndex.open(tmp_path / "kw")
    index.add(["r@1"], [secret])
    index.commit("v1")
    index.close()
    blob = b"".join(p.read_bytes() for p in (tmp_path / "kw").rglob("*") if p.is_file())
    assert b"Zyxwvutsrq-unique-marker sentence" not in blob
    assert b"about PYTHONHASHSEED" not in blob
    assert b"r@1" in blob  # the row id is stored: that is how hits are reported


def test_staged_until_commit_and_stamp_persists(tmp_path: Path) -> None:
    index = KeywordIndex.open(tmp_path / "kw")
    assert index.stamp is None and len(index) == 0
    index.add(["a@1", "b@1"], ["alpha words", "beta words"])
    assert index.search("alpha", 5) == []  # not committed yet
    index.commit("m-1")
    assert index.stamp == "m-1" and len(index) == 2
    index.delete(["a@1"])
    index.close()  # uncommitted delete is dropped
    again = KeywordIndex.open(tmp_path / "kw")
    assert again.stamp == "m-1" and len(again) == 2
    again.delete(["a@1", "unknown@9"])
    again.commit("m-2")
    assert top(again, "alpha") == [] and top(again, "beta") == ["b@1"]
    again.clear()
    again.commit("m-3")
    assert len(again) == 0 and again.stamp == "m-3"
    again.close()


def test_a_reader_searches_one_snapshot_until_it_reloads(tmp_path: Path) -> None:
    """Another writer's commits (another process, in life) reach a reader at reload(), never between two
    searches: the stamp, the counts and the cached row ids of hits all describe the generation searched."""
    writer = KeywordIndex.open(tmp_path / "kw")
    writer.add(["a@1", "b@1"], ["alpha words", "beta words"], ["pa", "pb"])
    writer.commit("m-1")
    reader = KeywordIndex.open(tmp_path / "kw")
    assert {rid for rid, _, _ in reader.search_payloads("words", 5)} == {"a@1", "b@1"}

    writer.clear()  # a rebuild: the same document addresses now hold other rows
    writer.add(["c@2", "d@2"], ["gamma words", "delta words"], ["pc", "pd"])
    writer.commit("m-2")
    time.sleep(0.7)  # past Tantivy's own on-commit reload delay (500 ms), which must not reach the reader
    assert reader.stamp == "m-1" and len(reader) == 2
    assert sorted((rid, p) for rid, _, p in reader.search_payloads("words", 5)) == [("a@1", "pa"), ("b@1", "pb")]
    assert reader.payloads(["a@1", "c@2"]) == {"a@1": "pa"}

    reader.reload()
    assert reader.stamp == "m-2"
    assert sorted((rid, p) for rid, _, p in reader.search_payloads("words", 5)) == [("c@2", "pc"), ("d@2", "pd")]
    assert reader.payloads(["a@1", "c@2"]) == {"c@2": "pc"}
    assert top(reader, "alpha") == [] and top(reader, "gamma") == ["c@2"]
    writer.close()
    reader.close()


def test_add_replaces_same_row_id(idx: KeywordIndex) -> None:
    idx.add(["env@1"], ["now about tomatoes"])
    idx.commit("v2")
    assert top(idx, "tomatoes") == ["env@1"]
    assert "env@1" not in top(idx, "PYTHONHASHSEED")
    assert len(idx) == len(DOCS)


def test_payloads_are_looked_up_by_row_id(tmp_path: Path) -> None:
    index = KeywordIndex.open(tmp_path / "kw")
    index.add(["a@1", "b@1", "c@1"], ["alpha text", "beta text", "gamma text"], ["pa", "pb", "pc"])
    index.add(["n@1"], ["no payload here"])
    index.commit("v1")
    assert index.payloads(["c@1", "a@1", "missing@1", "a@1", "n@1"]) == {"c@1": "pc", "a@1": "pa", "n@1": None}
    assert index.payloads([]) == {}
    with pytest.raises(InvalidInputError):
        index.payloads("a@1")
    index.close()


def test_allowed_filter_does_not_starve(tmp_path: Path) -> None:
    index = KeywordIndex.open(tmp_path / "kw")
    ids = [f"r{i:04d}@1" for i in range(600)]
    # Every row matches "common"; the 590 best-scoring rows are the disallowed ones (shorter texts).
    texts = ["common common" if i < 590 else "common " + "filler " * 30 for i in range(600)]
    index.add(ids, texts)
    index.commit("v")
    allowed = {f"r{i:04d}@1" for i in range(590, 600)}
    calls: list[str] = []

    def ok(rid: str) -> bool:
        calls.append(rid)
        return rid in allowed

    hits = index.search("common", 10, allowed=ok)
    assert {r for r, _ in hits} == allowed
    assert len(calls) == len(set(calls))  # each row is judged once across retries
    assert index.search("common", 5, allowed=lambda r: False) == []
    index.close()


def test_candidates_are_a_case_sensitive_substring_superset(idx: KeywordIndex) -> None:
    assert idx.candidates(["HASHSEED"]) == ["env@1"]
    assert idx.candidates(["hashseed"]) == []  # $contains is case-sensitive
    assert idx.candidates(["path.jo", "intelligent"]) == ["path@1"]
    assert idx.candidates(["join", "SQL"]) == ["join@1"]
    assert idx.candidates(["テキスト"]) == ["cafe@1"]
    assert idx.candidates(["ab"]) is None  # too short to narrow: the caller scans
    assert idx.candidates([]) is None
    # Superset property: every row whose text contains the term is a candidate.
    for term in ["join", "the", "ERR_", "s:", '"hello (']:
        got = set(idx.candidates([term]) or DOCS)
        assert {r for r, t in DOCS.items() if term in t} <= got


def test_refuses_a_foreign_folder_and_recreates_a_damaged_index(tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(CorruptMemoryError):
        KeywordIndex.open(foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"

    folder = tmp_path / "kw"
    index = KeywordIndex.open(folder)
    index.add(["a@1"], ["alpha"])
    index.commit("v1")
    index.close()
    (folder / "meta.json").write_text("{not json")
    again = KeywordIndex.open(folder)
    assert again.stamp is None and len(again) == 0  # detectable: the caller rebuilds
    again.close()


_CHILD = textwrap.dedent("""
    import sys
    from memvid_base.index.keywords import KeywordIndex
    idx = KeywordIndex.open(sys.argv[1])
    text = " ".join(f"word{j}" for j in range(60))
    for i in range(1000):
        idx.add([f"r{i}-{j}" for j in range(200)], [text] * 200)
        print(f"committing {i}", flush=True)
        idx.commit(f"s{i + 1}")
""")


def test_kill_9_mid_commit_leaves_a_committed_state(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    for round_, delay in enumerate((0.0, 0.005, 0.02, 0.05)):
        folder = tmp_path / f"kw{round_}"
        proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(folder)], stdout=subprocess.PIPE, text=True,
                                cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
        assert proc.stdout is not None
        wanted = f"committing {2 + round_}"
        while proc.stdout.readline().strip() != wanted:  # at least two commits are durable by now
            pass
        time.sleep(delay)  # land inside add() or commit()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        index = KeywordIndex.open(folder)
        stamp = index.stamp
        assert stamp is not None and stamp.startswith("s")
        assert int(stamp[1:]) >= 2 + round_
        assert len(index) == 200 * int(stamp[1:])  # exactly the rows of the recorded commit
        index.add(["after@1"], ["the lock died with the writer"])  # a new writer can take over
        index.commit("after")
        assert top(index, "lock") == ["after@1"]
        index.close()
