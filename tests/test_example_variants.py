"""Variants of the user's examples (teacher/example_variants.py) on a real DuckDB sandbox.

Every variant must run with a non-empty result, say in its question what its SQL does (the
literal grounding of the runtime finds nothing to correct), and keep the example's conventions;
changes are made only where the words and the SQL pair up without doubt.
"""

from __future__ import annotations

import calendar
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemadistill.literals import ground_literals, question_atoms
from schemadistill.sandbox import Executor, build_sandbox
from schemadistill.schema import load_schema
from teacher.example_variants import FAMILY, SOURCE, vary_examples
from teacher.lexicon import Lexicon
from teacher.pair import Candidate
from teacher.slots import SchemaView

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchemaView]:
    schema = load_schema(ROOT / "examples" / "ecommerce" / "schema.sql")
    db = tmp_path_factory.mktemp("variants") / "sandbox.duckdb"
    build_sandbox(schema, db, rows=800, seed=0, progress=False)
    with Executor(db, timeout_s=10, row_cap=1000) as ex:
        yield SchemaView(schema, ex, Lexicon(schema, seed=0))


def _busiest_month(view: SchemaView) -> tuple[int, int]:
    sessions = view.table("ecommerce.sessions")
    assert sessions is not None and sessions.time is not None
    month = max(sessions.time.months, key=lambda mc: mc[1])[0]
    return month.year, month.month


def _ex(question: str, sql: str) -> Candidate:
    return Candidate(question=question, sql=sql, family="examples", source="examples")


def _check_all(view: SchemaView, variants: list[Candidate]) -> None:
    for v in variants:
        assert v.family == FAMILY and v.source == SOURCE
        res = view.executor.run(v.sql)
        assert res.ok, (v.question, v.sql, res.error)
        assert res.rows, (v.question, v.sql)
        # the words and the literals agree: grounding has nothing to correct
        assert ground_literals(v.sql, v.question)[1] == [], (v.question, v.sql)


def test_values_and_months_change_together(view: SchemaView) -> None:
    y, m = _busiest_month(view)
    name = calendar.month_name[m]
    ex = _ex(f"How many customers used the Chrome browser in {name} {y}?",
             "SELECT COUNT(DISTINCT user_id) AS customers FROM ecommerce.sessions WHERE "
             f"(CAST(DATE_TRUNC('MONTH', action_date) AS DATE) = '{y}-{m:02d}-01') AND (browser = 'Chrome')")
    variants = vary_examples([ex], view, random.Random(0), per_example=12)
    assert 6 <= len(variants) <= 12
    _check_all(view, variants)
    browsers = {"Chrome", "Safari", "Firefox", "Edge", "Opera"}
    for v in variants:
        said = {b for b in browsers if b in v.question}
        assert len(said) == 1 and f"browser = '{said.pop()}'" in v.sql  # the words name the SQL's value
        assert "COUNT(DISTINCT user_id) AS customers" in v.sql  # the convention stays
    assert any("Chrome" not in v.question for v in variants)
    assert any(f"{name} {y}" not in v.question for v in variants)
    # deterministic for a seed
    again = vary_examples([ex], view, random.Random(0), per_example=12)
    assert [(v.question, v.sql) for v in again] == [(v.question, v.sql) for v in variants]
    assert vary_examples([ex], view, random.Random(0), per_example=0) == []


def test_years_move_whole_when_the_sql_names_a_month_by_number(view: SchemaView) -> None:
    y, m = _busiest_month(view)
    ex = _ex(f"Total revenue in {calendar.month_abbr[m]} {y}",
             f"SELECT SUM(revenue) AS revenue FROM ecommerce.sessions WHERE YEAR(action_date) = {y} "
             f"AND MONTH(action_date) = {m}")
    variants = vary_examples([ex], view, random.Random(1), per_example=5)
    for v in variants:
        year = int(re.search(r"\b(?:19|20)\d{2}\b", v.question).group(0))  # type: ignore[union-attr]
        assert f"YEAR(action_date) = {year}" in v.sql and f"MONTH(action_date) = {m}" in v.sql
        assert f" in {calendar.month_abbr[m]} {year}" in v.question  # the month stays as written
    assert variants
    _check_all(view, variants)


def test_numbers_move_with_their_comparison(view: SchemaView) -> None:
    ex = _ex("How many customers aged 30-40 made a purchase?",
             "SELECT COUNT(DISTINCT s.user_id) AS customers FROM ecommerce.sessions AS s JOIN ecommerce.users AS u "
             "ON s.user_id = u.user_id WHERE (revenue > 0) AND (u.age >= 30) AND (u.age <= 40)")
    variants = vary_examples([ex], view, random.Random(0), per_example=6)
    assert variants
    for v in variants:
        lo, hi = (int(x) for x in re.search(r"aged (\d+)-(\d+)", v.question).groups())  # type: ignore[union-attr]
        assert hi - lo == 10 and f"u.age >= {lo}" in v.sql and f"u.age <= {hi}" in v.sql
        assert "revenue > 0" in v.sql
    _check_all(view, variants)


def test_group_by_dimension_and_measure_swap(view: SchemaView) -> None:
    """A GROUP BY column the words name becomes another dimension; "purchase revenue" (the measure
    under the named filter revenue > 0) becomes another measure without that filter."""
    ex = _ex("What are the median and interquartile range (IQR) of purchase revenue for each country, "
             "excluding users under 25 years old?",
             "SELECT country, QUANTILE_CONT(revenue, 0.5) AS median_revenue, QUANTILE_CONT(revenue, 0.25) AS "
             "percentile_25_revenue, QUANTILE_CONT(revenue, 0.75) AS percentile_75_revenue FROM ecommerce.sessions "
             "AS s INNER JOIN ecommerce.users AS u ON u.user_id = s.user_id WHERE (revenue > 0) AND (u.age >= 25) "
             "GROUP BY country")
    variants = vary_examples([ex], view, random.Random(0), per_example=20)
    _check_all(view, variants)
    moved = [v for v in variants if "session duration" in v.question]
    assert moved, [v.question for v in variants]
    for v in moved:
        assert "purchase revenue" not in v.question and "revenue" not in v.sql
        assert v.sql.count("QUANTILE_CONT(session_duration") == 3  # the three columns stay three
    regrouped = [v for v in variants if "for each country" not in v.question]
    assert regrouped
    for v in regrouped:
        assert "GROUP BY s." in v.sql and "country" not in v.sql
    for v in variants:
        if "purchase revenue" in v.question:
            assert "revenue > 0" in v.sql


def test_no_change_where_words_and_sql_do_not_pair(view: SchemaView) -> None:
    # a date no stated period explains (a launch date), a filtered GROUP BY column, words
    # naming the value twice, and a derived table whose columns the outer query cannot see
    y, m = _busiest_month(view)
    lone = _ex("How many sessions since the relaunch?",
               f"SELECT COUNT(*) FROM ecommerce.sessions WHERE action_date >= '{y}-{m:02d}-01'")
    assert vary_examples([lone], view, random.Random(0), per_example=5) == []
    twice = _ex("Sessions on Chrome: how many Chrome sessions?",
                "SELECT COUNT(*) FROM ecommerce.sessions WHERE browser = 'Chrome'")
    assert vary_examples([twice], view, random.Random(0), per_example=5) == []
    filtered = _ex("Sessions per browser on Chrome",
                   "SELECT browser, COUNT(*) FROM ecommerce.sessions WHERE browser = 'Chrome' GROUP BY browser")
    assert all("GROUP BY browser" in v.sql for v in vary_examples([filtered], view, random.Random(0), 5))
    derived = _ex(f"Which country had the most first-time users in Q{(m - 1) // 3 + 1} {y}?",
                  "SELECT u.country, COUNT(DISTINCT t.user_id) AS users FROM (SELECT user_id, MIN(action_date) AS "
                  "first_date FROM ecommerce.sessions GROUP BY user_id HAVING CAST(DATE_TRUNC('QUARTER', first_date) "
                  f"AS DATE) = '{y}-{3 * ((m - 1) // 3) + 1:02d}-01') AS t INNER JOIN ecommerce.users AS u "
                  "ON t.user_id = u.user_id GROUP BY u.country ORDER BY users DESC LIMIT 1")
    for v in vary_examples([derived], view, random.Random(0), per_example=8):
        assert "u.country" in v.sql  # no dimension of the inner table: the outer query cannot read it
        assert view.executor.run(v.sql).ok
        quarters = [a for a in question_atoms(v.question) if a.kind == "quarter"]
        assert len(quarters) == 1 and f"'{quarters[0].start.isoformat()}'" in v.sql  # type: ignore[union-attr]
