"""Rates whose own condition also filters their rows (schemadistill/rates.py), through literal
grounding as the runtime calls it.

    .venv/bin/pytest -q tests/test_rates.py
"""

from __future__ import annotations

import duckdb
import pytest

from schemadistill.literals import ground_literals

RATE = "100.0 * COUNT(CASE WHEN s.is_fraud = 1 THEN 1 END) / COUNT(*)"


@pytest.mark.parametrize("sql,want", [
    (f"SELECT {RATE} AS r FROM s WHERE s.os = 'Android' AND (s.is_fraud = 1)",
     f"SELECT {RATE} AS r FROM s WHERE s.os = 'Android'"),
    # qualifiers aside; COUNT_IF and the only WHERE condition
    ("SELECT 100.0 * COUNT_IF(is_fraud = 1) / COUNT(*) AS r FROM s WHERE s.is_fraud = 1",
     "SELECT 100.0 * COUNT_IF(is_fraud = 1) / COUNT(*) AS r FROM s"),
    # a rate inside a grouped subquery
    (f"SELECT MAX(r) FROM (SELECT os, {RATE} AS r FROM s WHERE s.is_fraud = 1 GROUP BY os) AS x",
     f"SELECT MAX(r) FROM (SELECT os, {RATE} AS r FROM s GROUP BY os) AS x"),
])
def test_a_rate_is_not_filtered_by_its_own_condition(sql: str, want: str) -> None:
    out, changes = ground_literals(sql, "the fraud rate")
    assert out == want and len(changes) == 1 and "100%" in changes[0]


@pytest.mark.parametrize("sql", [
    # two conditions counted, one filtered: the share of purchases among fraud sessions is a real rate
    "SELECT 100.0 * COUNT(CASE WHEN is_fraud = 1 AND revenue > 0 THEN 1 END) / COUNT(*) AS r FROM s WHERE is_fraud = 1",
    # another condition counted than the one filtered
    "SELECT 100.0 * COUNT(CASE WHEN revenue > 0 THEN 1 END) / COUNT(*) AS r FROM s WHERE is_fraud = 1",
    # the denominator counts by the condition too (a ratio of two conditional counts)
    "SELECT COUNT(CASE WHEN is_fraud = 1 THEN 1 END) / COUNT(CASE WHEN is_fraud = 0 THEN 1 END) AS r FROM s "
    "WHERE is_fraud = 1",
])
def test_real_rates_are_left_alone(sql: str) -> None:
    assert ground_literals(sql, "the rate") == (sql, [])


def test_the_rate_then_measures_something() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT * FROM (VALUES (1, 'Android'), (0, 'Android'), (0, 'Android'), "
                "(1, 'iOS')) AS t(is_fraud, os)")
    sql = f"SELECT {RATE} AS r FROM s WHERE s.os = 'Android' AND s.is_fraud = 1"
    assert con.execute(sql).fetchall() == [(100.0,)]
    out, _ = ground_literals(sql, "the fraud rate of Android sessions")
    assert con.execute(out).fetchone()[0] == pytest.approx(100.0 / 3)
