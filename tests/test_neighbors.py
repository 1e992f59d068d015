"""The neighbor index: BM25 over training questions, numbers alike, one answer per distinct SQL.

    .venv/bin/pytest -q tests/test_neighbors.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemadistill.neighbors import NeighborIndex, load_neighbors, words

COUNT_2023 = "SELECT COUNT(*) FROM s WHERE YEAR(d) = 2023"
AVG_BY_OS = "SELECT os, AVG(revenue) FROM s GROUP BY os"
USERS_DE = "SELECT COUNT(*) FROM u WHERE country = 'Germany'"
PAIRS = [
    {"question": "How many sessions were there in 2023?", "sql": COUNT_2023},
    {"question": "Number of sessions during 2023", "sql": COUNT_2023},  # another phrasing, same SQL
    {"question": "Average revenue per operating system", "sql": AVG_BY_OS},
    {"question": "How many users are from Germany?", "sql": USERS_DE},
    {"question": "How many users are from Germany?", "sql": USERS_DE},  # a replayed copy
    {"question": "", "sql": "SELECT 1"},  # nothing to match: skipped
]


def test_words_make_every_number_alike() -> None:
    assert words("Sessions in 2023, revenue >= 1.5k?") == ["sessions", "in", "0", "revenue", ">=", "0", "k"]
    assert words("in 2024") == words("in 1999") and words("over 1,700") == ["over", "0"]


def test_from_pairs_keeps_distinct_pairs_and_shares_sql() -> None:
    index = NeighborIndex.from_pairs(PAIRS)
    assert len(index) == 4 and index.sqls == [COUNT_2023, AVG_BY_OS, USERS_DE]
    assert index.sql_of == [0, 0, 1, 2]


def test_nearest_ranks_by_wording_one_pair_per_sql() -> None:
    index = NeighborIndex.from_pairs(PAIRS)
    # other values (a year, a country) find the same question: grounding puts the values in later
    assert index.nearest("How many sessions were there in 2024?", k=1) == [
        ("How many sessions were there in 2023?", COUNT_2023)]
    assert index.nearest("how many users are from France", k=1)[0][1] == USERS_DE
    got = index.nearest("How many sessions in 2022?", k=3)
    assert got[0][1] == COUNT_2023
    assert len({sql for _, sql in got}) == len(got)  # the second phrasing of COUNT_2023 is not repeated
    assert index.nearest("average revenue by operating system", k=5)[0][1] == AVG_BY_OS
    assert index.nearest("zzz qqq", k=3) == []  # no shared word, no neighbor
    assert index.nearest("How many sessions?", k=0) == []
    assert NeighborIndex([], [], []).nearest("How many sessions?") == []


def test_json_round_trip(tmp_path: Path) -> None:
    index = NeighborIndex.from_pairs(PAIRS)
    index.save(tmp_path / "neighbors.json")
    back = load_neighbors(tmp_path / "neighbors.json")
    assert (back.questions, back.sqls, back.sql_of) == (index.questions, index.sqls, index.sql_of)
    assert back.nearest("sessions in 2021", 1) == index.nearest("sessions in 2021", 1)
    data = json.loads((tmp_path / "neighbors.json").read_text())
    with pytest.raises(ValueError, match="format"):
        NeighborIndex.from_json({**data, "format": 99})
    with pytest.raises(ValueError, match="index of its SQL"):
        NeighborIndex(["q"], [], [0])


def test_nearest_agrees_with_a_plain_bm25_and_breaks_ties_by_order() -> None:
    """The numpy scoring against BM25 written out longhand, on many pairs with ties."""
    import math
    from collections import Counter

    rows = [{"question": f"{w} sessions with {v} in {y}", "sql": f"SELECT {i % 40}"}
            for i, (w, v, y) in enumerate((w, v, y) for w in ("count", "list", "total revenue of", "how many")
                                          for v in ("chrome", "safari", "a purchase", "no purchase", "windows")
                                          for y in (2022, 2023, 2024))]
    index = NeighborIndex.from_pairs(rows)
    docs = [words(q) for q in index.questions]
    avg = sum(map(len, docs)) / len(docs)
    df = Counter(w for d in docs for w in set(d))

    def bm25(query: str, d: list[str]) -> float:
        tf = Counter(d)
        return sum(math.log(1 + (len(docs) - df[w] + 0.5) / (df[w] + 0.5)) * tf[w] * 2.2
                   / (tf[w] + 1.2 * (0.25 + 0.75 * len(d) / avg)) for w in set(words(query)) if w in tf)

    for query in ("how many sessions with chrome in 2021", "total revenue with a purchase", "list windows"):
        scores = [bm25(query, d) for d in docs]
        want, taken = [], set()
        for i in sorted(range(len(docs)), key=lambda i: (-round(scores[i], 9), i)):
            if scores[i] > 0 and index.sql_of[i] not in taken:
                taken.add(index.sql_of[i])
                want.append((index.questions[i], index.sqls[index.sql_of[i]]))
        assert index.nearest(query, k=5) == want[:5]
