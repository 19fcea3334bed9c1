"""The query set: identifiers that occur once in the Python docs, and the docs' own topic titles.

*Keyword queries* are identifiers found by three patterns: environment-variable style
``ALL_CAPS_WITH_UNDERSCORES``, dotted names (``os.path.join``, ``object.__getattr__``) and
``CamelCaseError``/``Exception``/``Warning`` names.  Only identifiers that occur exactly once in the
whole corpus are kept, so each points at one place in the text: the chunk that holds it (two chunks when
the overlap repeats it; both count).  They are chosen on the text, not on a chunking, so the same
queries judge every chunker.

*Semantic queries* are the topic titles (the first line of each ``pydoc_data.topics`` entry, such as
``Customizing attribute access``); every chunk of that topic is relevant.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

Chunker = Callable[[str, int, int], list[str]]

_IDENT = re.compile(
    r"(?<![\w.])(?:"
    r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+"  # PYTHONHASHSEED-style names with underscores
    r"|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+"  # dotted names
    r"|[A-Z][a-z]+(?:[A-Z][a-z]+)*(?:Error|Exception|Warning)"  # CamelCaseError
    r"|PYTHON[A-Z0-9]+"  # PYTHONHASHSEED, PYTHONPATH: environment variables without underscores
    r")(?![\w.])"
)


@dataclass(frozen=True)
class Query:
    """One query: its text, its type (``keyword`` or ``semantic``) and the ids of the relevant chunks."""

    text: str
    kind: str
    relevant: frozenset[str] = field(default_factory=frozenset)


@dataclass
class Corpus:
    """Chunk ids (``"topic:n"``), their texts, and the topic of each chunk."""

    ids: list[str]
    texts: list[str]
    topic_of: dict[str, str]


def topic_texts() -> dict[str, str]:
    from pydoc_data import topics

    return {k: topics.topics[k] for k in sorted(topics.topics)}


def build_corpus(chunker: Chunker, chunk_size: int = 512, overlap: int = 50) -> Corpus:
    """Chunk each topic on its own, so every chunk belongs to one topic."""
    ids: list[str] = []
    texts: list[str] = []
    topic_of: dict[str, str] = {}
    for key, text in topic_texts().items():
        for n, chunk in enumerate(chunker(text, chunk_size, overlap)):
            cid = f"{key}:{n}"
            ids.append(cid)
            texts.append(chunk)
            topic_of[cid] = key
    return Corpus(ids, texts, topic_of)


def _is_identifier(name: str) -> bool:
    parts = name.split(".")
    # Drop version numbers, file names and sentence fragments such as "e.g" or "i.e".
    return not (len(name) < 5 or any(len(p) < 2 for p in parts) or parts[-1] in {"py", "txt", "html", "com", "org"})


def keyword_terms() -> list[str]:
    """Identifiers occurring exactly once in the whole corpus, in corpus order."""
    counts: Counter[str] = Counter()
    order: list[str] = []
    for text in topic_texts().values():
        for m in _IDENT.finditer(text):
            name = m.group(0)
            if name not in counts:
                order.append(name)
            counts[name] += 1
    full = "\n".join(topic_texts().values())
    # Count raw substrings too: "os.path" is not unique if "os.path.join" also appears.
    return [t for t in order if counts[t] == 1 and _is_identifier(t) and full.count(t) == 1]


def build_queries(corpus: Corpus) -> list[Query]:
    """Keyword queries (relevant: chunks containing the identifier) and semantic ones (topic titles)."""
    queries: list[Query] = []
    for term in keyword_terms():
        relevant = frozenset(cid for cid, text in zip(corpus.ids, corpus.texts) if term in text)
        if relevant:  # a term cut by a hard split is in no chunk whole: skip it
            queries.append(Query(term, "keyword", relevant))
    by_topic: dict[str, set[str]] = {}
    for cid, topic in corpus.topic_of.items():
        by_topic.setdefault(topic, set()).add(cid)
    seen: set[str] = set()
    for topic, text in topic_texts().items():
        title = text.strip().splitlines()[0].strip()
        if title and title not in seen:
            seen.add(title)
            queries.append(Query(title, "semantic", frozenset(by_topic.get(topic, ()))))
    return queries
