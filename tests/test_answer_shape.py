"""How many rows a question asks for, and the group keys it shows (schemadistill/answer_shape.py),
through literal grounding as the runtime calls it.

    .venv/bin/pytest -q tests/test_answer_shape.py
"""

from __future__ import annotations

import duckdb
import pytest
import sqlglot

from schemadistill.answer_shape import drop_constant_grouping
from schemadistill.literals import ground_literals, question_atoms


@pytest.mark.parametrize("question,count", [
    ("Which 10 customers have the highest session count?", 10.0),
    ("what are the 10 users where the user is active with the most customer age?", 10.0),
    ("What are the 5 browser values with the highest revenue?", 5.0),
    ("Show the three visits with the lowest revenue", 3.0),
])
def test_a_count_named_before_its_ranking_is_a_count_of_rows(question: str, count: float) -> None:
    assert [a.number for a in question_atoms(question) if a.rank] == [count]


@pytest.mark.parametrize("question", [
    "Which browser had the most sessions in the last 30 days?",  # a span of time
    "Sessions of the first 3 months, highest revenue first",
    "Users with 10 sessions, which has the highest age?",  # "with 10": a value
])
def test_spans_and_values_are_not_counts(question: str) -> None:
    assert not any(a.rank for a in question_atoms(question))


@pytest.mark.parametrize("question,sql,want", [
    # the count goes into the LIMIT; a period's "1" (Q1) is not a count
    ("Top 5 browsers by time spent during Q1 2024",
     "SELECT browser, SUM(d) AS t FROM s WHERE q = 1 GROUP BY browser ORDER BY t DESC, browser LIMIT 1",
     "SELECT browser, SUM(d) AS t FROM s WHERE q = 1 GROUP BY browser ORDER BY t DESC, browser LIMIT 5"),
    # the count copied into a filter goes with it
    ("what are the 10 users in France with the most age?",
     "SELECT user_id, age FROM users WHERE age <= 10 AND country = 'France' ORDER BY age DESC, user_id LIMIT 1",
     "SELECT user_id, age FROM users WHERE country = 'France' ORDER BY age DESC, user_id LIMIT 10"),
    # a sorted query without a LIMIT gets the stated count
    ("Show the three visits with the lowest revenue", "SELECT session_id, revenue FROM s ORDER BY revenue",
     "SELECT session_id, revenue FROM s ORDER BY revenue LIMIT 3"),
])
def test_a_stated_count_sets_the_limit(question: str, sql: str, want: str) -> None:
    assert ground_literals(sql, question)[0] == want


def test_a_count_stated_twice_keeps_its_filter_and_an_inner_limit_keeps_the_count() -> None:
    sql = "SELECT user_id, age FROM users WHERE n > 5 ORDER BY age DESC LIMIT 1"
    assert ground_literals(sql, "Which 5 users with more than 5 sessions have the highest age?")[0] == \
        "SELECT user_id, age FROM users WHERE n > 5 ORDER BY age DESC LIMIT 5"
    inner = "SELECT u FROM (SELECT * FROM t ORDER BY r DESC LIMIT 10) AS x ORDER BY age DESC LIMIT 1"
    assert ground_literals(inner, "Among the top 10 spenders, the lowest age")[0] == inner
    per_group = "SELECT c, u FROM t QUALIFY ROW_NUMBER() OVER (PARTITION BY c ORDER BY a DESC) <= 2 ORDER BY c"
    assert ground_literals(per_group, "the top 2 users per country by age")[0] == per_group


@pytest.mark.parametrize("question,sql,want", [
    ("Top OS family by number of fraudulent sessions",
     "SELECT os, COUNT(*) AS n FROM s WHERE f = 1 GROUP BY os ORDER BY n DESC, os LIMIT 3",
     "SELECT os, COUNT(*) AS n FROM s WHERE f = 1 GROUP BY os ORDER BY n DESC, os LIMIT 1"),
    ("Which country has the lowest average revenue per session?",
     "SELECT country, AVG(revenue) AS r FROM s GROUP BY country",
     "SELECT country, AVG(revenue) AS r FROM s GROUP BY country ORDER BY r, country LIMIT 1"),
    ("what is the age band that trails on number of visits, and its value?",
     "SELECT band, COUNT(*) AS n FROM s GROUP BY band ORDER BY band",
     "SELECT band, COUNT(*) AS n FROM s GROUP BY band ORDER BY n, band LIMIT 1"),
    ("Which browser ranks first by revenue?", "SELECT browser, SUM(r) AS t FROM s GROUP BY browser",
     "SELECT browser, SUM(r) AS t FROM s GROUP BY browser ORDER BY t DESC, browser LIMIT 1"),
])
def test_one_row_asked_for(question: str, sql: str, want: str) -> None:
    assert ground_literals(sql, question)[0] == want


@pytest.mark.parametrize("question,sql", [
    ("Top browsers by revenue", "SELECT b, SUM(r) AS t FROM s GROUP BY b ORDER BY t DESC LIMIT 3"),  # several
    ("Which countries have the lowest revenue?", "SELECT c, SUM(r) AS t FROM s GROUP BY c"),
    ("What is the highest revenue by browser?", "SELECT b, MAX(r) AS m FROM s GROUP BY b"),  # MAX per browser
    ("For each country, which browser has the most sessions?", "SELECT c, b, COUNT(*) AS n FROM s GROUP BY c, b"),
    ("Which browser has the most sessions?", "SELECT b, COUNT(*) AS n, SUM(r) AS t FROM s GROUP BY b"),  # two measures
])
def test_one_row_left_alone(question: str, sql: str) -> None:
    assert ground_literals(sql, question) == (sql, [])


def test_a_limit_no_word_asks_for_goes() -> None:
    sql = "SELECT user_id FROM users WHERE country = 'France' ORDER BY user_id LIMIT 1"
    out, changes = ground_literals(sql, "show me which people in France are missing from sessions")
    assert out == "SELECT user_id FROM users WHERE country = 'France' ORDER BY user_id" and len(changes) == 1
    for question in ("show me one person in France", "the first person in France", "a sample of people in France",
                     "show me 1 person in France", "the youngest person in France"):
        assert ground_literals(sql, question)[0] == sql, question


def test_a_hidden_group_key_is_shown_unless_the_where_fixes_it() -> None:
    sql = "SELECT browser, MEDIAN(revenue) AS m FROM s GROUP BY browser, os"
    out, changes = ground_literals(sql, "By browser and OS, the median revenue")
    assert out == "SELECT browser, os, MEDIAN(revenue) AS m FROM s GROUP BY browser, os"
    assert changes == ["shown os (a key of the GROUP BY)"]
    fixed = "SELECT browser, SUM(d) AS t FROM s WHERE is_fraud = 0 GROUP BY browser, is_fraud"
    assert ground_literals(fixed, "Total duration by browser, fraud excluded") == (fixed, [])
    # a key written twice is written once
    twice = "SELECT browser, SUM(d) AS t FROM s GROUP BY browser, browser"
    assert ground_literals(twice, "Total duration by browser")[0] == "SELECT browser, SUM(d) AS t FROM s GROUP BY browser"
    # no key shown at all (an aggregate of groups): nothing to put it next to
    inner = "SELECT AVG(n) FROM (SELECT COUNT(*) AS n FROM s GROUP BY user_id) AS x"
    assert ground_literals(inner, "average sessions per user") == (inner, [])


def test_what_the_rules_write_runs() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT * FROM (VALUES ('Chrome', 'iOS', 3.0), ('Safari', 'iOS', 5.0), "
                "('Chrome', 'Android', 7.0)) AS t(browser, os, revenue)")
    for question, sql in [
        ("Which browser has the lowest average revenue?", "SELECT browser, AVG(revenue) AS r FROM s GROUP BY browser"),
        ("By browser and OS, the median revenue", "SELECT browser, MEDIAN(revenue) AS m FROM s GROUP BY browser, os"),
    ]:
        out, changes = ground_literals(sql, question)
        assert changes and con.execute(out).fetchall()
    out, _ = ground_literals("SELECT browser, AVG(revenue) AS r FROM s GROUP BY browser",
                             "Which browser has the lowest average revenue?")
    assert con.execute(out).fetchall() == [("Chrome", 5.0)]


def test_a_grouping_the_where_holds_to_one_value() -> None:
    tree = sqlglot.parse_one("SELECT country, SUM(r) AS t FROM u WHERE country = 'Germany' GROUP BY country "
                             "ORDER BY country", read="duckdb")
    assert drop_constant_grouping(tree) and tree.sql(dialect="duckdb") == \
        "SELECT SUM(r) AS t FROM u WHERE country = 'Germany'"
    for sql in ("SELECT country, SUM(r) AS t FROM u WHERE country = 'Germany' GROUP BY country HAVING SUM(r) > 1",
                "SELECT country, os, SUM(r) AS t FROM u WHERE country = 'Germany' GROUP BY country, os",
                "SELECT country FROM u WHERE country = 'Germany' GROUP BY country"):
        tree = sqlglot.parse_one(sql, read="duckdb")
        assert drop_constant_grouping(tree) == [] and tree.sql(dialect="duckdb") == sql
