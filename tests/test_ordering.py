"""Sort words on grouped queries (schemadistill/ordering.py), through literal grounding as the
runtime calls it.

    .venv/bin/pytest -q tests/test_ordering.py
"""

from __future__ import annotations

import pytest
import sqlglot

from schemadistill.literals import ground_literals
from schemadistill.ordering import ground_key_sort, stated_direction, stated_key_sort, stated_sort


@pytest.mark.parametrize("question,want", [
    ("Revenue per OS, largest first", "DESC"), ("sorted from highest to lowest", "DESC"),
    ("in descending order", "DESC"), ("(descending)", "DESC"), ("sort it descending", "DESC"),
    ("lowest first", "ASC"), ("from the smallest to the largest", "ASC"), ("in ascending order", "ASC"),
    ("Revenue per OS", None), ("highest first, then lowest first", None),
])
def test_stated_sort(question: str, want: str | None) -> None:
    assert stated_sort(question) == want



@pytest.mark.parametrize("question,want", [
    ("Top 5 sessions by revenue", "DESC"), ("the lowest age", "ASC"), ("at least 3 sessions", None),
    ("Top user per country ranked by age ascending (ties included)", "ASC"),
    ("Bottom three browsers, descending", "DESC"),
    ("top 3 by revenue, bottom 3 by age", None), ("ascending by age, then descending by revenue", None),
    # no superlative: a count of ends, or a verb of place after "that/which/who"
    ("the last five users by user ID", "DESC"), ("the first 3 sessions", "ASC"), ("sessions in the last 3 months", None),
    ("the first 5 users with the highest age", "DESC"), ("the browser that leads on the Safari share", "DESC"),
    ("the OS which trails on revenue", "ASC"), ("How many leads came in the last 2 weeks?", None),
    # a superlative of an aggregate: the first word ranks
    ("Which OS has the lowest maximum revenue?", "ASC"), ("the browser with the highest minimum age", "DESC"),
])
def test_stated_direction(question: str, want: str | None) -> None:
    """A way said outright ("ascending") wins over "top", which names the ranks kept."""
    assert stated_direction(question) == want

def test_a_ranked_listing_turns_the_way_its_words_rank() -> None:
    """"The last five users by user ID" is user_id DESC; "the OS that leads on" keeps one row sorted DESC."""
    out, changes = ground_literals("SELECT user_id, age FROM u ORDER BY user_id LIMIT 5", "Show the last five users by user ID")
    assert out == "SELECT user_id, age FROM u ORDER BY user_id DESC LIMIT 5" and len(changes) == 1
    sql = "SELECT os, SUM(revenue) AS total FROM s GROUP BY os ORDER BY total ASC, os LIMIT 1"
    assert ground_literals(sql, "Find the OS that leads on revenue, and its value.")[0].endswith("ORDER BY total DESC, os LIMIT 1")
    assert ground_literals(sql, "Find the OS that trails on revenue, and its value.") == (sql, [])


def test_a_sorted_breakdown_gets_its_order_and_every_group() -> None:
    sql = "SELECT os, SUM(revenue) AS total FROM s GROUP BY os LIMIT 1"
    out, changes = ground_literals(sql, "Total revenue per OS, highest first")
    assert out == "SELECT os, SUM(revenue) AS total FROM s GROUP BY os ORDER BY total DESC, os" and len(changes) == 2
    # the model's own sort by the group key gives way; an unaliased measure is sorted by itself
    out, _ = ground_literals("SELECT os, COUNT(*) FROM s GROUP BY os ORDER BY os", "sessions by OS, in descending order")
    assert out.endswith("GROUP BY os ORDER BY COUNT(*) DESC, os")
    # the measure already sorts, the other way (by position too): it turns
    out, _ = ground_literals("SELECT os, MAX(r) AS m FROM s GROUP BY 1 ORDER BY 2 DESC", "max r by os, lowest first")
    assert out.endswith("ORDER BY 2")
    # a count the question states keeps the LIMIT
    out, _ = ground_literals("SELECT os, SUM(r) AS t FROM s GROUP BY os LIMIT 3", "top 3 OS by r, largest first")
    assert out.endswith("ORDER BY t DESC, os LIMIT 3")


@pytest.mark.parametrize("sql", [
    "SELECT os, SUM(r) AS t, AVG(r) AS a FROM s GROUP BY os",  # two measures: which one is meant?
    "SELECT os, r FROM s ORDER BY os",  # no groups
    "SELECT os, SUM(r) AS t FROM s GROUP BY os ORDER BY t DESC, os",  # already so
])
def test_left_alone(sql: str) -> None:
    assert ground_literals(sql, "revenue by OS, highest first") == (sql, [])


@pytest.mark.parametrize(("question", "sql", "want"), [
    # no word of ranking: the rank column goes, the ORDER BY sorts by what it ranked by
    ("What is the total session length per OS, in descending order?",
     "SELECT os, SUM(session_duration) AS total, DENSE_RANK() OVER (ORDER BY SUM(session_duration) DESC) AS rnk "
     "FROM ecommerce.sessions GROUP BY os ORDER BY rnk, os",
     "SELECT os, SUM(session_duration) AS total FROM ecommerce.sessions GROUP BY os "
     "ORDER BY SUM(session_duration) DESC, os"),
    ("Average and maximum revenue for each OS?",
     "SELECT os, AVG(revenue) AS a, ROW_NUMBER() OVER (ORDER BY AVG(revenue) DESC, os) AS rnk, MAX(revenue) AS m "
     "FROM ecommerce.sessions GROUP BY os ORDER BY rnk, os",
     "SELECT os, AVG(revenue) AS a, MAX(revenue) AS m FROM ecommerce.sessions GROUP BY os "
     "ORDER BY AVG(revenue) DESC, os"),
    # asked for, read by a filter, partitioned (top-k per group), or sorted by position: kept
    ("Rank the OSes by revenue", "SELECT os, RANK() OVER (ORDER BY SUM(revenue) DESC) AS r FROM s GROUP BY os", None),
    ("The two best OSes by revenue",
     "SELECT os, RANK() OVER (ORDER BY SUM(revenue) DESC) AS r FROM s GROUP BY os QUALIFY r <= 2", None),
    ("The longest session in each browser",
     "SELECT browser, session_id, ROW_NUMBER() OVER (PARTITION BY browser ORDER BY d DESC) AS r FROM s", None),
    ("Revenue per OS", "SELECT os, SUM(revenue), RANK() OVER (ORDER BY SUM(revenue) DESC) AS r FROM s GROUP BY os "
     "ORDER BY 3", None),
])
def test_drop_unasked_rank(question: str, sql: str, want: str | None) -> None:
    from schemadistill.ordering import drop_unasked_rank

    tree = sqlglot.parse_one(sql, read="duckdb")
    changes = drop_unasked_rank(tree, question)
    assert bool(changes) == (want is not None)
    assert tree.sql(dialect="duckdb") == (want or sqlglot.parse_one(sql, read="duckdb").sql(dialect="duckdb"))


def test_an_unasked_rank_goes_before_the_sort() -> None:
    """A rank column nobody asked for is dropped, then the stated sort applies (ground_literals)."""
    sql = "SELECT os, SUM(r) AS t, RANK() OVER (ORDER BY SUM(r) DESC) AS k FROM s GROUP BY os"
    out, changes = ground_literals(sql, "revenue by OS, highest first")
    assert out == "SELECT os, SUM(r) AS t FROM s GROUP BY os ORDER BY t DESC, os"
    assert changes[0].startswith("dropped RANK()")
    assert ground_literals(sql, "revenue by OS with its rank, highest first") == (sql, [])  # asked: a window ranks


@pytest.mark.parametrize("question,want", [
    ("Show the lowest session duration by browser, sorted by browser.", "browser"),
    ("The total number of visits split by device OS (sorted by device OS)", "device OS"),
    ("Break down the minimum duration in each OS family, in OS order, thank you?", "OS"),
    ("Count of users per country, in alphabetical order", ""),
    ("Revenue by OS in descending order", None), ("Sessions per browser, sorted by the count", None),
    ("Revenue per OS", None),
])
def test_stated_key_sort(question: str, want: str | None) -> None:
    assert stated_key_sort(question) == want


def _is_measure(words: str) -> bool:
    return words.lower() in ("revenue", "gmv")


@pytest.mark.parametrize("question,sql,want", [
    ("What is the average revenue per platform, sorted by platform?",
     "SELECT os, AVG(revenue) AS r FROM s GROUP BY os", "SELECT os, AVG(revenue) AS r FROM s GROUP BY os ORDER BY os"),
    # the model sorted by the measure and kept one row: the question sorts the whole breakdown by its key
    ("Show the lowest session duration by browser, sorted by browser.",
     "SELECT browser, MIN(d) AS m FROM s GROUP BY browser ORDER BY m ASC, browser LIMIT 1",
     "SELECT browser, MIN(d) AS m FROM s GROUP BY browser ORDER BY browser"),
    ("Visits by country in alphabetical order", "SELECT u.country, COUNT(*) AS n FROM s GROUP BY u.country",
     "SELECT u.country, COUNT(*) AS n FROM s GROUP BY u.country ORDER BY u.country"),
])
def test_a_breakdown_sorted_by_its_key(question: str, sql: str, want: str) -> None:
    tree = sqlglot.parse_one(sql, read="duckdb")
    assert ground_key_sort(tree, question, _is_measure) and tree.sql(dialect="duckdb") == want


@pytest.mark.parametrize("question,sql", [
    ("Revenue per OS, sorted by GMV", "SELECT os, SUM(revenue) AS r FROM s GROUP BY os"),  # the measure's word
    ("Revenue per OS and browser, sorted by OS", "SELECT os, b, SUM(revenue) AS r FROM s GROUP BY os, b"),  # 2 keys
    ("The top 5 countries by revenue, sorted by country",
     "SELECT c, SUM(r) AS t FROM s GROUP BY c ORDER BY t DESC LIMIT 5"),  # a count of rows: a ranking
    ("Revenue per OS, sorted by OS", "SELECT os, SUM(revenue) AS r FROM s GROUP BY os ORDER BY os"),  # already
    ("Sessions sorted by browser", "SELECT session_id, browser FROM s"),  # no breakdown
])
def test_key_sort_left_alone(question: str, sql: str) -> None:
    tree = sqlglot.parse_one(sql, read="duckdb")
    assert ground_key_sort(tree, question, _is_measure) == [] and tree.sql(dialect="duckdb") == sql
