"""Reading the comparison a question states around a number (schemadistill/comparisons.py) and
literal grounding's use of it (schemadistill/literals.py ``_ground_comparisons``).

    .venv/bin/pytest -q tests/test_comparisons.py
"""

from __future__ import annotations

import re

import pytest

from schemadistill.comparisons import stated_comparison
from schemadistill.literals import ground_literals


def _op(text: str) -> str | None:
    m = re.search(r"\d+", text)
    assert m is not None
    return stated_comparison(text, m.start(), m.end())


@pytest.mark.parametrize("text,op", [
    ("users whose age is greater than or equal to 35", ">="), ("at least 3 sessions", ">="),
    ("no less than 10", ">="), ("the user's age is no under 54", ">="), ("aged 54 and above", ">="),
    ("30 years old or older", ">="), ("10 sessions or more", ">="), ("age >= 71", ">="), ("age>=71", ">="),
    ("less than or equal to 500", "<="), ("at most 2", "<="), ("no more than 2", "<="), ("not above 90", "<="),
    ("up to 40", "<="), ("a duration of 500 or less", "<="), ("age <= 71", "<="),
    ("more than 5 sessions", ">"), ("over 30", ">"), ("older than 40", ">"), ("age > 3", ">"),
    ("under 54", "<"), ("lower than 71", "<"), ("fewer than 3 sessions", "<"), ("age < 9", "<"),
    ("exactly 3 sessions", "="), ("age = 35", "="), ("age != 35", "<>"), ("age not equal to 35", "<>"),
    # a negated verb or contraction: "isn't over 71" is 71 or less
    ("the user's age isn't over 71", "<="), ("ages that aren't under 30", ">="), ("age doesn't exceed 40", "<="),
    ("age does not exceed 40", "<="), ("a session length that is never above 90", "<="),
    # "at or above" is not "above"
    ("what percentage of buyers are at or above 9", ">="), ("sessions at or below 500", "<="),
    ("revenue equal to or greater than 100", ">="), ("age equal to or less than 30", "<="),
])
def test_stated_comparisons(text: str, op: str) -> None:
    assert _op(text) == op


@pytest.mark.parametrize("text", [
    "the 500 sessions", "top 10 users", "over the last 30 days", "between 100 and 750",
    "excluding users under 30",  # what an exclusion means for the SQL is not worth guessing
    "over 30 or less",  # words that disagree
    "user 4012371",
])
def test_no_stated_comparison(text: str) -> None:
    assert _op(text) is None


def test_the_test_of_the_stated_number_says_it_the_stated_way() -> None:
    # the one test compares the other way: it turns (literal on the left too)
    out, changes = ground_literals("SELECT COUNT(*) FROM u WHERE age < 71", "users aged 71 or less")
    assert out.endswith("WHERE age <= 71") and len(changes) == 1
    out, _ = ground_literals("SELECT COUNT(*) FROM u WHERE 71 > age", "users with age at least 71")
    assert out.endswith("WHERE 71 <= age")
    # two tests of the stated number, one of them right: the other goes
    out, _ = ground_literals("SELECT COUNT(*) FROM u WHERE age >= 35 AND age <= 35", "age greater than or equal to 35")
    assert out.endswith("WHERE age >= 35")
    # beside it, a test of the same column with a number stated nowhere goes too; others stay
    out, _ = ground_literals("SELECT COUNT(*) FROM u WHERE age < 35 AND score < 35 AND age < 71", "age under 71")
    assert out.endswith("WHERE score < 35 AND age < 71")


def test_comparisons_left_alone() -> None:
    # the stated number tests two columns: which one the words are about is not clear
    sql = "SELECT COUNT(*) FROM u WHERE age > 30 AND score > 30"
    assert ground_literals(sql, "users over 30")[1] == []
    # a number stated twice
    sql = "SELECT COUNT(*) FROM u WHERE age > 30 AND score < 30"
    assert ground_literals(sql, "age over 30 and score 30 or less")[1] == []
    # "is_fraud = 0": a flag's test is value grounding's, whatever else compares with 0
    sql = "SELECT COUNT(*) FROM s WHERE revenue > 0 AND is_fraud = 1"
    assert ground_literals(sql, "sessions with a purchase and is_fraud = 0")[1] == []
    # only WHERE tests are dropped: the CASE's stays
    sql = "SELECT SUM(CASE WHEN age <= 35 THEN 1 END) FROM u WHERE age >= 35"
    assert ground_literals(sql, "how many users at least 35")[1] == []


def test_a_date_made_of_a_stated_number_goes() -> None:
    sql = ("SELECT os, COUNT(*) FROM s WHERE CAST(DATE_TRUNC('YEAR', d) AS DATE) = '500-01-01' "
           "AND duration <= 500 GROUP BY os")
    out, changes = ground_literals(sql, "Sessions by OS where the time spent is less than or equal to 500")
    assert "500-01-01" not in out and out.endswith("WHERE duration <= 500 GROUP BY os") and len(changes) == 1
    # a date the question states stays, and a year that is no number of the question too
    kept = sql.replace("'500-01-01'", "'2023-01-01'")
    assert "'2023-01-01'" in ground_literals(kept, "Sessions by OS in 2023 with duration 500 or less")[0]


def test_several_ranges_of_one_column_keep_the_stated_one() -> None:
    sql = "SELECT COUNT(*) FROM s WHERE revenue BETWEEN 0 AND 1700 AND os = 'iOS' AND revenue BETWEEN 0 AND 1"
    out, changes = ground_literals(sql, "iOS sessions with revenue between 0 and 1.7k")
    assert out.endswith("WHERE revenue BETWEEN 0 AND 1700 AND os = 'iOS'") and len(changes) == 1
    # ranges of two columns: each may be meant
    two = "SELECT COUNT(*) FROM s WHERE revenue BETWEEN 0 AND 1700 AND d BETWEEN 0 AND 1"
    assert ground_literals(two, "revenue between 0 and 1.7k")[1] == []
