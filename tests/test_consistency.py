"""The consistency check (schemadistill/consistency.py): what an answer adds to its question or
leaves out, on examples/ecommerce with a real DuckDB database and its value index.

    .venv/bin/pytest -q tests/test_consistency.py

The golden cases live in tests/fixtures/consistency/ecommerce.sql: a question, an answer's SQL
and the issues found; each wrong answer sits beside the right one, which must have none.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_grounding import _ecommerce

from schemadistill.consistency import stated_grains, unsupported
from schemadistill.grounding import ValueIndex
from schemadistill.sandbox import Executor

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "fixtures" / "consistency" / "ecommerce.sql"


def _cases() -> list[tuple[str, str, list[str]]]:
    found = re.findall(r"^-- Q: (.+)\n(.+)\n-- => (.+)$", GOLDEN.read_text(encoding="utf-8"), flags=re.M)
    assert len(found) >= 20
    return [(q, sql, [] if out == "none" else out.split(" | ")) for q, sql, out in found]


@pytest.fixture(scope="module")
def eco(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ValueIndex]:
    schema, db = _ecommerce(tmp_path_factory.mktemp("consistency"))
    with Executor(db) as ex:
        return db, ValueIndex.from_database(ex, schema)


@pytest.mark.parametrize("case", _cases(), ids=[f"{c[0][:40]}:{len(c[2])}" for c in _cases()])
def test_golden_cases(eco: tuple[Path, ValueIndex], case: tuple[str, str, list[str]]) -> None:
    db, index = eco
    question, sql, expected = case
    assert unsupported(sql, question, index) == expected
    with Executor(db) as ex:  # the cases are answers a service could return: they run
        assert ex.run(sql).ok or "garbled" in " ".join(expected)


def test_every_right_answer_is_next_to_a_wrong_one() -> None:
    """Each question with issues has an answer without: the check tells two answers apart, which is
    what the runtime asks of it."""
    by_question: dict[str, set[bool]] = {}
    for q, _, issues in _cases():
        by_question.setdefault(q, set()).add(bool(issues))
    lone = [q for q, kinds in by_question.items() if kinds == {True}]
    assert lone == ["Aggregate session duration per country for April 2024 over 4900000",
                    "How many sessions were there on 2023-12-28?"]  # two model garbles: the right SQL is plain


def test_without_an_index_only_the_words_and_literals_are_checked() -> None:
    sql = "SELECT browser, COUNT(*) FROM ecommerce.sessions WHERE session_duration > 250 GROUP BY browser"
    question = "Sessions per country with turnover above 250"
    assert unsupported(sql, question) == []  # naming columns and breakdowns needs the lexicon's phrases
    assert unsupported(sql.replace("250", "300"), question) == [
        "the SQL's 300 is not in the question", "the question's 250 is not in the SQL"]


def test_misspelt_words_are_read_as_the_index_knows_them(eco: tuple[Path, ValueIndex]) -> None:
    _, index = eco
    sql = "SELECT COUNT(*) FROM ecommerce.sessions WHERE session_duration > 250"
    assert unsupported(sql, "How many sessions with a sesion duraton above 250?", index) == []
    assert unsupported(sql, "How many sessions with revenue above 250?", index) == [
        "the question compares revenue ('revenue'); the SQL does not test it",
        "the SQL tests session_duration; the question never names it"]


def test_unparsable_sql_has_no_issues_of_its_own() -> None:
    assert unsupported("SELEC oops FROM", "How many users?") == []  # the guard's checks report it


@pytest.mark.parametrize("question,grains", [
    ("Monthly revenue", {"month"}), ("revenue by week", {"week"}), ("sessions per day of the week", {"dow"}),
    ("quarter over quarter growth", {"quarter"}), ("annual revenue and daily sessions", {"year", "day"}),
    ("revenue in the last month", set()), ("sessions on weekdays", {"dow"}),
])
def test_stated_grains(question: str, grains: set[str]) -> None:
    assert stated_grains(question) == grains
