"""Comparisons a question writes in SQL's own terms (schemadistill/stated_tests.py), through
value grounding as the runtime calls it.

    .venv/bin/pytest -q tests/test_stated_tests.py
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_grounding import _ecommerce

from schemadistill.grounding import ValueIndex, ground_sql
from schemadistill.sandbox import Executor
from schemadistill.schema import load_schema
from schemadistill.schema.model import Schema
from schemadistill.stated_tests import stated_tests, worded_tests

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


MEASURES = {"money spent": (S, "revenue"), "revenue": (S, "revenue"), "spend": (S, "revenue"),
            "session length": (S, "session_duration"), "session duration": (S, "session_duration"),
            "duration": (S, "session_duration"), "age": ("ecommerce.users", "age")}


@pytest.mark.parametrize("question,want", [
    ("unique people by platform where the money spent is not above 1700 and the session length is over 250?",
     [("revenue", "<=", 1700.0), ("session_duration", ">", 250.0)]),
    ("average duration of sessions where the session duration is more than 500 and os = 'Windows'",
     [("session_duration", ">", 500.0)]),
    ("sessions where revenue is at least $1.5k", [("revenue", ">=", 1500.0)]),
    ("users whose average revenue is over 100", []),             # an aggregate's test
    ("users who spend more than 100 in total", []),
    ("sessions with revenue between 100 and 900", []),           # a range: literal grounding's
    ("sessions with revenue over 100 and under 900", []),        # two tests of one column
    ("revenue of users whose age is over 30", []),               # ages are ages.py's
    ("what percentage of site visits have sales greater than 0 for each nation?", []),  # the rate's count
])
def test_reading_worded_tests(question: str, want: list[tuple[str, str, float]]) -> None:
    got = [(t.column, t.op, t.number) for t in worded_tests(question, MEASURES, {"age"})]
    assert got == want


@pytest.fixture(scope="module")
def eco_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Schema, ValueIndex]:
    schema, db = _ecommerce(tmp_path_factory.mktemp("worded"))
    with Executor(db) as ex:
        return schema, ValueIndex.from_database(ex, schema)


@pytest.mark.parametrize("question,sql,want", [
    # the number bound to the wrong column: that test goes, the stated one comes in
    ("Unique people by platform for sessions where the money spent is not above 1700?",
     "SELECT os, COUNT(DISTINCT user_id) FROM ecommerce.sessions WHERE session_duration <= 1700 GROUP BY os",
     "SELECT os, COUNT(DISTINCT user_id) FROM ecommerce.sessions WHERE revenue <= 1700 GROUP BY os"),
    # ... unless the question states a test of that column too: then it takes that one
    ("Unique people by platform for sessions where the money spent is not above 1700 and the session length is "
     "over 250?",
     "SELECT os, COUNT(DISTINCT user_id) FROM ecommerce.sessions WHERE session_duration <= 1700 GROUP BY os",
     "SELECT os, COUNT(DISTINCT user_id) FROM ecommerce.sessions WHERE session_duration > 250 AND revenue <= 1700 "
     "GROUP BY os"),
    # a stated test the answer dropped
    ("What was the average duration of sessions where the session duration is more than 500 and os = 'Windows'?",
     "SELECT AVG(session_duration) FROM ecommerce.sessions WHERE os = 'Windows'",
     "SELECT AVG(session_duration) FROM ecommerce.sessions WHERE os = 'Windows' AND session_duration > 500"),
    # an aggregate's test in HAVING is the model's
    ("Countries where the average revenue is over 1500",
     "SELECT u.country FROM ecommerce.sessions AS s JOIN ecommerce.users AS u ON s.user_id = u.user_id "
     "GROUP BY u.country HAVING AVG(s.revenue) > 1500",
     "SELECT u.country FROM ecommerce.sessions AS s JOIN ecommerce.users AS u ON s.user_id = u.user_id "
     "GROUP BY u.country HAVING AVG(s.revenue) > 1500"),
    # ... and so is one on a per-user total a CTE names (misspelt "monye" read as "money")
    ("Share of users whose monye spent is at least 38,000, in percent?",
     "WITH per_u AS (SELECT user_id, SUM(revenue) AS total_revenue FROM ecommerce.sessions GROUP BY user_id) "
     "SELECT 100.0 * COUNT(CASE WHEN total_revenue >= 38000 THEN 1 END) / COUNT(*) AS pct FROM per_u",
     "WITH per_u AS (SELECT user_id, SUM(revenue) AS total_revenue FROM ecommerce.sessions GROUP BY user_id) "
     "SELECT 100.0 * COUNT(CASE WHEN total_revenue >= 38000 THEN 1 END) / COUNT(*) AS pct FROM per_u"),
])
def test_worded_tests_through_grounding(eco_index: tuple[Schema, ValueIndex], question: str, sql: str,
                                        want: str) -> None:
    schema, index = eco_index
    def bare(text: str) -> str:  # an added test is qualified by its table's name
        return re.sub(r"\b\w+\.(?=revenue|session_duration)", "", text)
    assert bare(ground_sql(sql, question, index, schema=schema).sql) == bare(want)
