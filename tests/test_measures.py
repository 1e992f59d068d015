"""schemadistill/measures.py: the aggregates a question names (the SQL side is in
tests/fixtures/grounding/ecommerce.sql)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from schemadistill.measures import (
    measure_words,
    orient_ratio,
    plain_count,
    stated_measures,
    stated_ratio,
    stated_superlative,
)
from schemadistill.schema import load_schema

ROOT = Path(__file__).resolve().parent.parent
S, U = "ecommerce.sessions", "ecommerce.users"


@pytest.fixture(scope="module")
def phrases() -> dict[str, tuple[str, str]]:
    return measure_words(load_schema(ROOT / "examples" / "ecommerce" / "schema.sql"))


def test_measure_words_are_the_lexicons(phrases: dict[str, tuple[str, str]]) -> None:
    assert phrases["session length"] == (S, "session_duration")
    assert phrases["revenue"] == phrases["money spent"] == (S, "revenue")
    assert phrases["age"] == (U, "age")
    assert not any(col in ("user_id", "session_id", "is_fraud") for _, col in phrases.values())  # ids, flags


@pytest.mark.parametrize("question,expected", [
    ("What are the average session duration and total revenue for each browser?",
     [("AVG", S, "session_duration"), ("SUM", S, "revenue")]),
    ("What are the average and maximum purchase revenues for active users?",
     [("AVG", S, "revenue"), ("MAX", S, "revenue")]),
    ("Median session length, and the mean age of the users, per country",
     [("MEDIAN", S, "session_duration"), ("AVG", U, "age")]),
    ("Total revenue per browser", [("SUM", S, "revenue")]),
    # a condition, not a column to show
    ("Total revenue per browser of users whose average session duration is above 500?", [("SUM", S, "revenue")]),
    ("How many sessions per browser?", []),
    ("Which OS has the max mean revenue per session?", [("AVG", S, "revenue")]),  # "max" of the means
    # the teacher's words for a total
    ("The aggregate age and the mean age of users in France", [("SUM", U, "age"), ("AVG", U, "age")]),
    ("Overall session duration and combined revenue by browser",
     [("SUM", S, "session_duration"), ("SUM", S, "revenue")]),
    # a superlative listed after a named aggregate is one too; alone it may rank rows instead
    ("For active users, the average age, the lowest age and the largest age",
     [("AVG", U, "age"), ("MIN", U, "age"), ("MAX", U, "age")]),
    ("What is the average age and the biggest age of customers, by country?", [("AVG", U, "age"), ("MAX", U, "age")]),
    ("The average revenue and the highest revenue above 100", [("AVG", S, "revenue")]),  # a condition
    ("The user with the highest age", []),
])
def test_stated_measures(phrases: dict[str, tuple[str, str]], question: str,
                         expected: list[tuple[str, str, str]]) -> None:
    assert stated_measures(question, phrases) == expected


def test_no_phrases_no_measures() -> None:
    assert stated_measures("average revenue and total duration", {}) == []


@pytest.mark.parametrize("question,expected", [
    ("How many active users from France had sessions in January 2024?", U),
    ("How many sessions were conducted by users aged between 30 and 40?", S),
    ("How many unique active customers had at least one session in November 2024?", U),
    ("What is the number of fraudulent sessions in December 2024, by country?", S),
    ("Which country had the highest number of first-time Android users in 2020?", U),
    ("How many site visits came from Germany?", S),
    ("Return the number of ussers that had web sessions on Chrome", None),  # the counted noun is misspelt
    ("What is the total revenue per browser?", None),
])
def test_stated_count(question: str, expected: str | None) -> None:
    from schemadistill.measures import count_words, stated_count

    tables = count_words(load_schema(ROOT / "examples" / "ecommerce" / "schema.sql"))
    assert stated_count(question, tables) == expected


D, R = (S, "session_duration"), (S, "revenue")


@pytest.mark.parametrize("question,expected", [
    ("Per OS, total session duration divided by total revenue?", (D, R)),
    ("What is the ratio of total revenue to total session length per browser?", (R, D)),
    ("For each OS, divide the sum of money spent by the sum of session duration", (R, D)),
    ("How much revenue is there per visit length in each OS?", (R, D)),
    ("Session length per unit of revenue by browser", (D, R)),
    ("Average revenue per OS", None),  # "per" a dimension: no ratio
    ("Revenue and session length to date", None),  # "to" without "ratio of"
    ("Revenue divided by session length, and session length divided by revenue", None),  # both ways
])
def test_stated_ratio(phrases: dict[str, tuple[str, str]], question: str, expected: object) -> None:
    assert stated_ratio(question, phrases) == expected


def test_the_ratio_turns_the_way_the_question_divides() -> None:
    tree = sqlglot.parse_one("SELECT os, SUM(revenue) / NULLIF(SUM(session_duration), 0) AS r FROM s GROUP BY os")
    assert orient_ratio(tree, (D, R)) is not None
    assert tree.sql() == "SELECT os, SUM(session_duration) / NULLIF(SUM(revenue), 0) AS r FROM s GROUP BY os"
    assert orient_ratio(tree, (D, R)) is None  # already so
    # the division of a percentage (CASE inside), or two divisions: the model's
    for sql in ["SELECT 100.0 * SUM(CASE WHEN revenue > 0 THEN 1 END) / COUNT(*) FROM s",
                "SELECT SUM(revenue) / SUM(session_duration), AVG(revenue) / AVG(session_duration) FROM s"]:
        assert orient_ratio(sqlglot.parse_one(sql), (D, R)) is None


def test_plain_count_of_an_unstated_condition() -> None:
    def unstated(cond: exp.Expr) -> bool:
        return "Windows" in cond.sql()

    for form in ("COUNT(CASE WHEN os = 'Windows' THEN 1 END)", "SUM(CASE WHEN os = 'Windows' THEN 1 ELSE 0 END)",
                 "COUNT_IF(os = 'Windows')"):
        tree = sqlglot.parse_one(f"SELECT browser, {form} AS n FROM s GROUP BY browser", read="duckdb")
        assert plain_count(tree, unstated) and tree.sql(dialect="duckdb") == \
            "SELECT browser, COUNT(*) AS n FROM s GROUP BY browser"
    # a stated condition, a rate's numerator, a sum of values: left alone
    for sql in ("SELECT COUNT(CASE WHEN os = 'iOS' THEN 1 END) FROM s",
                "SELECT 100.0 * COUNT(CASE WHEN os = 'Windows' THEN 1 END) / COUNT(*) FROM s",
                "SELECT SUM(CASE WHEN os = 'Windows' THEN revenue ELSE 0 END) FROM s"):
        tree = sqlglot.parse_one(sql, read="duckdb")
        assert plain_count(tree, unstated) == [] and tree.sql(dialect="duckdb") == sql


def test_stated_distinct_reads_the_counted_dimension() -> None:
    from schemadistill.measures import stated_distinct
    dims = {"country": ("u", "country"), "territory": ("u", "country"), "browser": ("s", "browser"),
            "web client": ("s", "browser")}
    assert stated_distinct("How many different countries do users come from?", dims) == ("u", "country")
    assert stated_distinct("count the distinct territory in clients", dims) == ("u", "country")
    assert stated_distinct("the number of unique web clients", dims) == ("s", "browser")
    assert stated_distinct("How many users per country?", dims) is None
    assert stated_distinct("how many distinct users", dims) is None


@pytest.mark.parametrize("question,want", [
    ("the session with the highest income", ("DESC", ("s", "revenue"))),
    ("Which user has the least user age?", ("ASC", ("u", "age"))),
    ("list the users with the two largest age values", ("DESC", ("u", "age"))),
    ("users with at least 3 sessions", None),                        # a comparison, not a ranking
    ("the highest income and the lowest age", None),                 # two measures: not one ranking
])
def test_the_measure_a_superlative_ranks_by(question: str, want: tuple[str, tuple[str, str]] | None) -> None:
    phrases = {"income": ("s", "revenue"), "age": ("u", "age"), "user age": ("u", "age")}
    assert stated_superlative(question, phrases) == want
