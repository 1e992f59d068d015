"""teacher.repair: every mutation breaks SQL the way it claims, with DuckDB's real error text."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from test_validate import build_tiny, cand, tiny_schema

from schemadistill.config import TeacherConfig
from schemadistill.sandbox import Executor
from schemadistill.schema.model import Schema
from teacher.pair import Pair
from teacher.repair import MUTATIONS, RUNS_WRONG, describe_difference, make_repairs, mutate, near_misses
from teacher.validate import Validator

JOIN = ("SELECT u.country, SUM(s.revenue) AS revenue FROM shop.sessions AS s "
        "JOIN shop.users AS u ON s.user_id = u.user_id GROUP BY u.country")
MONTHLY = ("SELECT CAST(DATE_TRUNC('MONTH', action_date) AS DATE) AS month, COUNT(DISTINCT user_id) AS users "
           "FROM shop.sessions WHERE os = 'iOS' AND revenue > 0 GROUP BY 1")
HAVING = "SELECT os, COUNT(*) AS n FROM shop.sessions GROUP BY os HAVING COUNT(*) > 10"
TOP = "SELECT user_id, age FROM shop.users WHERE is_active = 1 ORDER BY age DESC, user_id LIMIT 5"

# mutation -> (a query it applies to, a phrase of the error DuckDB gives)
CASES: dict[str, tuple[str, str]] = {
    "misspelt_column": (HAVING, "not found in FROM clause"),
    "misspelt_table": (HAVING, "does not exist"),
    "wrong_table_column": (HAVING, "not found in FROM clause"),
    "missing_group_by": (JOIN, "must appear in the GROUP BY clause"),
    "aggregate_in_where": (HAVING, "WHERE clause cannot contain aggregates"),
    "ambiguous_column": (JOIN, "Ambiguous reference to column name"),
    "foreign_function": (MONTHLY, "does not exist"),
    "wrong_join_key": (JOIN, ""),
    "dropped_filter": (MONTHLY, "the query ran"),
    "count_rows": (MONTHLY, "the query ran"),
    "sort_direction": (TOP, "the query ran"),
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Schema, Executor]]:
    db = build_tiny(tmp_path_factory.mktemp("tiny_repair") / "tiny_sandbox.duckdb")
    with Executor(db) as ex:
        yield tiny_schema(), ex


def test_cases_cover_every_mutation() -> None:
    assert set(CASES) == set(MUTATIONS)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_mutation_gives_the_real_error(kind: str, tiny: tuple[Schema, Executor]) -> None:
    schema, ex = tiny
    sql, phrase = CASES[kind]
    made = None
    for seed in range(20):  # some random picks are no use (e.g. a near-miss that still binds)
        made = mutate(kind, sql, schema, ex, random.Random(seed))
        if made is not None:
            break
    assert made is not None, f"{kind} never produced a useful mutation of {sql}"
    broken, error = made
    assert broken != sql and phrase in error
    again = ex.run(broken)
    if error.startswith("the query ran"):
        assert kind in RUNS_WRONG and again.ok
        assert sorted(again.rows) != sorted(ex.run(sql).rows)
    else:
        assert not again.ok and again.error is not None
        assert again.error.message == error  # verbatim, exactly what DuckDB raises


def test_foreign_functions_are_other_dialects(tiny: tuple[Schema, Executor]) -> None:
    schema, ex = tiny
    broken = set()
    for seed in range(30):
        made = mutate("foreign_function", MONTHLY, schema, ex, random.Random(seed))
        if made:
            broken.add(made[0])
    joined = " ".join(broken)
    assert "toStartOfMonth(action_date)" in joined and "uniqExact(user_id)" in joined


def test_near_misses() -> None:
    assert "user" in near_misses("users")
    assert "countries" in near_misses("country")
    assert "sessionduration" in near_misses("session_duration")
    assert all(n != "os" and len(n) >= 3 for n in near_misses("os"))


def test_describe_difference_is_derived_from_results(tiny: tuple[Schema, Executor]) -> None:
    from schemadistill.sqlcheck import parse_sql

    _, ex = tiny
    good = ex.run("SELECT country, count(*) FROM shop.users GROUP BY country")
    bad = ex.run("SELECT count(*) FROM shop.users")
    text = describe_difference(good, bad, parse_sql("SELECT country, count(*) FROM shop.users GROUP BY country"))
    assert text == "the query ran but returned 1 row where the question asks for 4, one per country"
    one = ex.run("SELECT count(*) FROM shop.users WHERE is_active = 1")
    more = ex.run("SELECT count(*) FROM shop.users")
    assert "40, which is too high" in describe_difference(one, more, parse_sql("SELECT 1"))


def _pairs(schema: Schema, ex: Executor) -> tuple[Validator, list[Pair]]:
    v = Validator(schema, ex, "duckdb", TeacherConfig())
    sqls = [JOIN, MONTHLY, HAVING, TOP,
            "SELECT os, AVG(duration) AS avg_duration FROM shop.sessions GROUP BY os",
            "SELECT COUNT(*) FROM shop.sessions AS s JOIN shop.users AS u ON s.user_id = u.user_id "
            "WHERE u.country = 'Spain' AND s.action_date >= DATE '2024-03-01'"]
    pairs = []
    for i, sql in enumerate(sqls):
        for k in range(2):
            res = v.check(cand(sql, f"question {i} phrasing {k}", instance=f"inst{i}"))
            assert isinstance(res, Pair), res
            pairs.append(res)
    return v, pairs


def test_make_repairs_validate_and_keep_their_source(tiny: tuple[Schema, Executor]) -> None:
    schema, ex = tiny
    v, pairs = _pairs(schema, ex)
    cands = make_repairs(pairs, schema, ex, random.Random(0), 14)
    assert 8 <= len(cands) <= 14
    by_sql = {p.sql: p for p in pairs}
    for c in cands:
        src = by_sql[c.sql]
        assert c.kind == "repair" and c.phase == 3 and c.family == f"repair_{c.meta['mutation']}"
        assert c.instance == src.instance and c.question.startswith(f"question {pairs.index(src) // 2} ")
        res = v.check(c)
        assert isinstance(res, Pair), (c.family, c.broken_sql, c.error, res)
    assert len({c.family for c in cands}) >= 6  # kinds are spread, not one kind repeated
    again = make_repairs(pairs, schema, ex, random.Random(0), 14)
    assert [(c.broken_sql, c.error) for c in again] == [(c.broken_sql, c.error) for c in cands]


def test_sort_direction_says_which_end(tiny: tuple[Schema, Executor]) -> None:
    schema, ex = tiny
    made = mutate("sort_direction", TOP, schema, ex, random.Random(0))
    assert made is not None and "ORDER BY age ASC" in made[0]
    assert made[1] == "the query ran but returned the lowest age first where the question asks for the highest"
