"""The spread a question states (schemadistill/spreads.py): its words, and the SQL it fixes."""

from __future__ import annotations

import pytest
import sqlglot

from schemadistill.spreads import fix_range, fix_spread, stated_range, stated_spread

PHRASES = {"revenue": ("ecommerce.sessions", "revenue"), "income": ("ecommerce.sessions", "revenue"),
           "age": ("ecommerce.users", "age"), "session duration": ("ecommerce.sessions", "session_duration")}


@pytest.mark.parametrize(("question", "kind"), [
    ("Calculate the standard deviation (sample) of customer age", "sample"),
    ("What is the sample standard deviation of age per country?", "sample"),
    ("Sample stddev of revenue", "sample"),
    ("How spread out is revenue? Give the population standard deviation.", "population"),
    ("Population variance of session duration", "population"),
    ("What is the standard deviation of age?", None),  # no kind stated
    ("the sample and the population standard deviation of age", None),  # both
    ("a sample of 10 sessions with the highest revenue", None),  # "sample" without a spread
])
def test_stated_spread(question: str, kind: str | None) -> None:
    assert stated_spread(question) == kind


def test_fix_spread_turns_the_function_not_the_column() -> None:
    tree = sqlglot.parse_one("SELECT os, STDDEV_POP(revenue) AS s, VAR_POP(revenue) AS v FROM ecommerce.sessions "
                             "GROUP BY os", read="duckdb")
    changes = fix_spread(tree, "sample")
    assert len(changes) == 2
    assert tree.sql(dialect="duckdb") == ("SELECT os, STDDEV_SAMP(revenue) AS s, VARIANCE(revenue) AS v "
                                          "FROM ecommerce.sessions GROUP BY os")
    assert fix_spread(tree, "sample") == [] and fix_spread(tree, None) == []


@pytest.mark.parametrize(("question", "ref"), [
    ("Calculate the range of income across sessions", ("ecommerce.sessions", "revenue")),
    ("the range of ages per country", ("ecommerce.users", "age")),
    ("What is the range of the session duration?", ("ecommerce.sessions", "session_duration")),
    ("users in the age range 30-40", None),  # a range stated, not asked for
    ("the range of revenue and the range of age", None),  # two measures
])
def test_stated_range(question: str, ref: tuple[str, str] | None) -> None:
    assert stated_range(question, PHRASES) == ref


@pytest.mark.parametrize(("sql", "want"), [
    ("SELECT SUM(revenue) - MIN(revenue) AS r FROM ecommerce.sessions", "SELECT MAX(revenue) - MIN(revenue) AS r "
     "FROM ecommerce.sessions"),
    ("SELECT os, SUM(revenue) AS r FROM ecommerce.sessions GROUP BY os", "SELECT os, MAX(revenue) - MIN(revenue) AS r "
     "FROM ecommerce.sessions GROUP BY os"),
    ("SELECT MAX(revenue) - MIN(revenue) FROM ecommerce.sessions", None),  # already the range
    ("SELECT SUM(session_duration) FROM ecommerce.sessions", None),  # another column: left to the model
    ("SELECT MIN(revenue), MAX(revenue) FROM ecommerce.sessions", None),  # two projections of it
])
def test_fix_range(sql: str, want: str | None) -> None:
    tree = sqlglot.parse_one(sql, read="duckdb")
    change = fix_range(tree, ("ecommerce.sessions", "revenue"))
    assert (change is not None) == (want is not None)
    assert tree.sql(dialect="duckdb") == (want or sql)
