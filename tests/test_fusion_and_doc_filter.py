"""Reciprocal rank fusion and Chroma-style where_document filters (pure functions)."""

from __future__ import annotations

import pytest

from memvid_base.errors import InvalidInputError
from memvid_base.index.doc_filter import matches, required_terms, validate_where_document
from memvid_base.index.fusion import alpha_weights, fuse_checked, reciprocal_rank_fusion

# ---------------------------------------------------------------------------------------------- fusion


def test_rrf_scores_follow_the_formula() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 62)
    assert [i for i, _ in reciprocal_rank_fusion([["a", "b"], ["b", "c"]])] == ["b", "a", "c"]


def test_rrf_weights_and_alpha() -> None:
    vec, kw = ["v1", "shared", "v2"], ["k1", "shared"]
    only_vec = reciprocal_rank_fusion([vec, kw], weights=alpha_weights(1.0))
    assert [i for i, _ in only_vec] == vec  # keyword-only ids vanish at alpha=1
    only_kw = reciprocal_rank_fusion([vec, kw], weights=alpha_weights(0.0))
    assert [i for i, _ in only_kw] == kw
    leaning = reciprocal_rank_fusion([["x"], ["y"]], weights=[0.7, 0.3])
    assert [i for i, _ in leaning] == ["x", "y"]
    assert alpha_weights(0.25) == (0.25, 0.75)


def test_rrf_ties_are_deterministic() -> None:
    # "b" and "a" tie on score; both reached rank 1 somewhere: the id decides.
    a = reciprocal_rank_fusion([["b", "x"], ["a", "y"]])
    b = reciprocal_rank_fusion([["a", "y"], ["b", "x"]])
    assert a == b
    assert [i for i, _ in a][:2] == ["a", "b"]


def test_rrf_duplicates_count_once_and_empty_inputs() -> None:
    assert dict(reciprocal_rank_fusion([["a", "a", "b"]]))["a"] == pytest.approx(1 / 61)
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []


def _reference_rrf(lists: list[list[str]], k: int, weights: list[float]) -> list[tuple[str, float]]:
    """RRF written out the slow, obvious way: the fast path must agree with it exactly."""
    scores: dict[str, float] = {}
    best: dict[str, int] = {}
    for ranked, weight in zip(lists, weights):
        first_rank: dict[str, int] = {}
        for rank, item in enumerate(ranked, start=1):
            first_rank.setdefault(item, rank)
        for item, rank in first_rank.items():
            if weight > 0:
                scores[item] = scores.get(item, 0.0) + weight / (k + rank)
                best[item] = min(best.get(item, rank), rank)
    return sorted(scores.items(), key=lambda p: (-p[1], best[p[0]], p[0]))


def test_the_search_s_unchecked_fusion_ranks_exactly_like_the_formula() -> None:
    import random

    rng = random.Random(7)
    for _ in range(300):
        lists = [[f"id{rng.randrange(12)}" for _ in range(rng.randrange(0, 15))] for _ in range(rng.randrange(1, 4))]
        weights = [rng.choice([0.0, 0.25, 0.5, 1.0, rng.random()]) for _ in lists]
        k = rng.choice([0, 1, 60])
        expected = _reference_rrf(lists, k, weights)
        assert fuse_checked(lists, k, weights) == expected
        assert reciprocal_rank_fusion(lists, k, weights) == expected


@pytest.mark.parametrize(("lists", "kwargs"), [
    ("ab", {}), ([["a"]], {"k": -1}), ([["a"]], {"k": 1.5}), ([["a"]], {"weights": [1, 2]}),
    ([["a"]], {"weights": [-1]}), ([["a"]], {"weights": [float("nan")]}), ([[1]], {}), (["ab"], {}),
])
def test_rrf_rejects_bad_input(lists: object, kwargs: dict) -> None:
    with pytest.raises(InvalidInputError):
        reciprocal_rank_fusion(lists, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("alpha", [-0.1, 1.1, "0.5", None, True, float("nan")])
def test_alpha_rejects_bad_values(alpha: object) -> None:
    with pytest.raises(InvalidInputError):
        alpha_weights(alpha)  # type: ignore[arg-type]

# ---------------------------------------------------------------------------------------------- where_document


TEXT = "Use libzstd for fast compression; gzip is slower."


@pytest.mark.parametrize(("wd", "expected"), [
    ({"$contains": "zstd"}, True),  # substring, as in Chroma: matches inside "libzstd"
    ({"$contains": "ZSTD"}, False),  # case-sensitive
    ({"$not_contains": "zstd"}, False),
    ({"$not_contains": "brotli"}, True),
    ({"$and": [{"$contains": "zstd"}, {"$contains": "gzip"}]}, True),
    ({"$and": [{"$contains": "zstd"}, {"$not_contains": "gzip"}]}, False),
    ({"$or": [{"$contains": "brotli"}, {"$contains": "gzip"}]}, True),
    ({"$or": [{"$contains": "brotli"}, {"$contains": "lz4"}]}, False),
    ({"$and": [{"$or": [{"$contains": "lz4"}, {"$contains": "fast"}]}, {"$not_contains": "xz"}]}, True),
])
def test_matches_has_chroma_semantics(wd: dict, expected: bool) -> None:
    assert matches(wd, TEXT) is expected


def _nest(depth: int) -> dict:
    wd: dict = {"$contains": "a"}
    for _ in range(depth - 1):
        wd = {"$and": [wd, {"$contains": "b"}]}
    return wd


@pytest.mark.parametrize("wd", [
    "zstd", {}, {"$contains": "a", "$not_contains": "b"}, {"$has": "a"}, {"$regex": "a.*"},
    {"$contains": 3}, {"$contains": ""}, {"$contains": ["a"]}, {"$and": []}, {"$and": [{"$contains": "a"}]},
    {"$or": {"$contains": "a"}}, {"$and": [{"$contains": "a"}, "b"]}, _nest(33),
])
def test_validate_rejects_bad_filters(wd: object) -> None:
    with pytest.raises(InvalidInputError) as err:
        validate_where_document(wd)
    assert str(err.value)  # a message, not a bare exception


def test_validate_accepts_deep_but_bounded_nesting() -> None:
    validate_where_document(_nest(32))
    assert matches(_nest(32), "ab")


def test_matches_rejects_non_str_text() -> None:
    with pytest.raises(InvalidInputError):
        matches({"$contains": "a"}, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("wd", "terms"), [
    ({"$contains": "zstd"}, ["zstd"]),
    ({"$not_contains": "zstd"}, None),
    ({"$and": [{"$contains": "zstd"}, {"$contains": "gzip"}, {"$not_contains": "xz"}]}, ["gzip", "zstd"]),
    ({"$or": [{"$contains": "zstd"}, {"$contains": "gzip"}]}, None),
    ({"$or": [{"$contains": "libzstd"}, {"$and": [{"$contains": "zstd"}, {"$contains": "x"}]}]}, ["zstd"]),
    ({"$and": [{"$or": [{"$contains": "a1"}, {"$contains": "b1"}]}, {"$contains": "c"}]}, ["c"]),
    ({"$and": [{"$not_contains": "a"}, {"$not_contains": "b"}]}, None),
])
def test_required_terms(wd: dict, terms: list[str] | None) -> None:
    assert required_terms(wd) == terms


@pytest.mark.parametrize("text", [TEXT, "zstd only", "gzip and x", "libzstd x", "", "nothing here"])
@pytest.mark.parametrize("wd", [
    {"$contains": "zstd"},
    {"$and": [{"$contains": "zstd"}, {"$not_contains": "gzip"}]},
    {"$or": [{"$contains": "libzstd"}, {"$and": [{"$contains": "zstd"}, {"$contains": "x"}]}]},
])
def test_required_terms_are_necessary(wd: dict, text: str) -> None:
    terms = required_terms(wd)
    if matches(wd, text) and terms is not None:
        assert all(t in text for t in terms)
