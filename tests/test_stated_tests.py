"""Comparisons a question writes in SQL's own terms (schemadistill/stated_tests.py), through
value grounding as the runtime calls it.

    .venv/bin/pytest -q tests/test_stated_tests.py
"""

from __future__ import annotations

from pathlib import Path

import pytest

from schemadistill.grounding import ground_sql
from schemadistill.schema import load_schema
from schemadistill.schema.model import Schema
from schemadistill.stated_tests import stated_tests

ROOT = Path(__file__).resolve().parents[1]
S = "ecommerce.sessions"


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema(ROOT / "examples" / "ecommerce" / "schema.sql")


def test_reading_stated_tests(schema: Schema) -> None:
    q = "sessions where session_duration<=500 and revenue != 0, age > 35.5, browser = 'Safari', action_date > 2024-01-01"
    got = [(t.column, t.op, t.number) for t in stated_tests(q, schema)]
    assert got == [("session_duration", "<=", 500.0), ("revenue", "<>", 0.0), ("age", ">", 35.5)]
    # words, not column names: "duration under 500" is left to the literal rules
    assert stated_tests("sessions with duration < 500", schema) == []
    # user_id is a column of both tables: both holders are kept
    assert {t.table for t in stated_tests("user_id = 7", schema)} == {S, "ecommerce.users"}


@pytest.mark.parametrize("question,sql,want", [
    # the swapped numbers: the stated test takes its own, the literal rules give the other to the interval
    ("What is the count of sessions where session_duration < 750 in the last 365 days (as of 2024-12-31)?",
     f"SELECT COUNT(*) FROM {S} WHERE action_date >= CAST('2024-12-31' AS DATE) - INTERVAL '750' DAY "
     "AND session_duration >= 365",
     f"SELECT COUNT(*) FROM {S} WHERE action_date >= CAST('2024-12-31' AS DATE) - INTERVAL '365' DAY "
     "AND session_duration < 750"),
    # dropped: added where a SELECT reads the table
    ("how many users made visits for which revenue > 0 and the browser is Chrome?",
     f"SELECT COUNT(DISTINCT user_id) FROM {S} WHERE browser = 'Chrome'",
     f"SELECT COUNT(DISTINCT user_id) FROM {S} WHERE browser = 'Chrome' AND sessions.revenue > 0"),
    # the operator turned
    ("the three people where age > 35 with the least age",
     "SELECT user_id, age FROM ecommerce.users WHERE age >= 35 ORDER BY age, user_id LIMIT 3",
     "SELECT user_id, age FROM ecommerce.users WHERE age > 35 ORDER BY age, user_id LIMIT 3"),
])
def test_stated_tests_are_put_in(schema: Schema, question: str, sql: str, want: str) -> None:
    g = ground_sql(sql, question, None, schema=schema)
    assert g.sql == want and any("the question states it" in c for c in g.changes)


@pytest.mark.parametrize("question,sql", [
    # already there, in a CASE: a rate's numerator, not a filter
    ("share of sessions with is_fraud = 1 per browser",
     f"SELECT browser, 100.0 * COUNT(CASE WHEN is_fraud = 1 THEN 1 END) / COUNT(*) FROM {S} GROUP BY browser"),
    # the column is tested twice, with other numbers: which test the number belongs to is the model's
    ("users where age > 54", "SELECT COUNT(*) FROM ecommerce.users WHERE age >= 50 AND age <= 60"),
    # read inside a CASE with another number: not ours to change
    ("sessions where revenue > 10", f"SELECT SUM(CASE WHEN revenue > 5 THEN 1 END) FROM {S}"),
])
def test_stated_tests_left_alone(schema: Schema, question: str, sql: str) -> None:
    g = ground_sql(sql, question, None, schema=schema)
    assert g.sql == sql and not any("the question states it" in c for c in g.changes)


@pytest.mark.parametrize("question,sql,want", [
    ("What percentage of buyers with visits for which age < 54 are fraudulent?",
     "SELECT COUNT(*) FROM ecommerce.users WHERE age >= 54 AND age <= 54 AND country = 'France'",
     "SELECT COUNT(*) FROM ecommerce.users WHERE age < 54 AND country = 'France'"),
    ("the age band with the fewest visits with is_active = 0",
     "SELECT COUNT(*) FROM ecommerce.users WHERE is_active = 1 AND is_active = 0",
     "SELECT COUNT(*) FROM ecommerce.users WHERE is_active = 0"),
    ("users where age > 54", "SELECT COUNT(*) FROM ecommerce.users WHERE age > 54 AND age <= 54",
     "SELECT COUNT(*) FROM ecommerce.users WHERE age > 54"),
    # one of two tests has the stated number: it becomes the stated test, the other stays
    ("users where age > 54", "SELECT COUNT(*) FROM ecommerce.users WHERE age >= 54 AND age <= 60",
     "SELECT COUNT(*) FROM ecommerce.users WHERE age > 54 AND age <= 60"),
])
def test_a_stated_test_written_wrong_twice_is_written_once(schema: Schema, question: str, sql: str, want: str) -> None:
    assert ground_sql(sql, question, None, schema=schema).sql == want
