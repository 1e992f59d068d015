"""Execution-accuracy evaluation: result comparison rules and the report, on a real DuckDB sandbox."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from schemadistill.errors import UserError
from schemadistill.evaluate import (
    difficulty_bucket,
    evaluate,
    evaluate_file,
    gold_is_ordered,
    result_key,
    results_match,
)
from schemadistill.sandbox import ExecResult, Executor
from schemadistill.schema import load_schema
from schemadistill.schema.model import Schema
from schemadistill.sqlcheck import parse_sql


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("eval") / "sandbox.duckdb"
    con = duckdb.connect(str(path))
    con.execute("""
        CREATE SCHEMA shop;
        CREATE TABLE shop.users (user_id INTEGER PRIMARY KEY, name VARCHAR, country VARCHAR,
                                 age INTEGER, score DOUBLE, is_active BOOLEAN, signup DATE);
        INSERT INTO shop.users VALUES
          (1, 'Ann', 'DE', 30, 1.5, true, DATE '2024-01-01'),
          (2, 'Bob', 'DE', 41, 2.25, false, DATE '2024-02-01'),
          (3, 'Cy', 'FR', NULL, NULL, true, DATE '2024-02-15'),
          (4, 'Di', 'US', 25, 0.1, true, DATE '2024-03-01'),
          (5, 'Ed', 'US', 25, 0.2, false, NULL);
        CREATE TABLE shop.orders (order_id INTEGER PRIMARY KEY, user_id INTEGER, amount DECIMAL(10, 2));
        INSERT INTO shop.orders VALUES (10, 1, 9.99), (11, 1, 5.00), (12, 2, 20.00), (13, 4, 1.00);
    """)
    con.close()
    return path


@pytest.fixture(scope="module")
def ex(db: Path):
    with Executor(db, timeout_s=5) as e:
        yield e


@pytest.fixture(scope="module")
def schema(db: Path) -> Schema:
    return load_schema(db)


def R(rows: list[tuple[Any, ...]], cols: int | None = None, **kw: Any) -> ExecResult:  # noqa: N802
    n = cols if cols is not None else (len(rows[0]) if rows else 1)
    return ExecResult(ok=True, columns=[f"c{i}" for i in range(n)], rows=rows, **kw)


def match(ex: Executor, gold: str, pred: str) -> bool:
    g, p = ex.run(gold), ex.run(pred)
    assert g.ok and p.ok, (g.error, p.error)
    return results_match(g, p, gold_is_ordered(gold))


# -- results_match -----------------------------------------------------------------------------


def test_row_order_matters_only_with_order_by(ex: Executor) -> None:
    assert match(ex, "SELECT name FROM shop.users", "SELECT name FROM shop.users ORDER BY name DESC")
    assert not match(ex, "SELECT name FROM shop.users ORDER BY user_id",
                     "SELECT name FROM shop.users ORDER BY user_id DESC")
    assert match(ex, "SELECT name FROM shop.users ORDER BY user_id", "SELECT name FROM shop.users ORDER BY 1")
    assert gold_is_ordered("SELECT a FROM t ORDER BY a LIMIT 3")
    assert gold_is_ordered("WITH x AS (SELECT 1 AS a) SELECT a FROM x ORDER BY a")
    assert gold_is_ordered("SELECT 1 AS a UNION SELECT 2 ORDER BY a")
    assert not gold_is_ordered("SELECT * FROM (SELECT a FROM t ORDER BY a) AS s")  # inner order only
    assert not gold_is_ordered("SELECT a FROM t WHERE a IN (SELECT b FROM u ORDER BY b)")
    assert not gold_is_ordered("not sql at all (")


def test_columns_match_as_a_permutation(ex: Executor) -> None:
    assert match(ex, "SELECT user_id, name FROM shop.users", "SELECT name AS n, user_id AS i FROM shop.users")
    assert match(ex, "SELECT user_id, name, user_id FROM shop.users",
                 "SELECT name, user_id, user_id AS again FROM shop.users")
    # same values per column, but paired differently across rows: no permutation fits
    assert not results_match(R([(1, 2), (2, 1)]), R([(1, 1), (2, 2)]), ordered=False)
    # two identical columns in gold, one of them different in pred
    assert not results_match(R([(1, 1), (2, 2)]), R([(1, 1), (2, 3)]), ordered=False)
    # same column count required: an extra column is another answer
    assert not match(ex, "SELECT name FROM shop.users", "SELECT name, country FROM shop.users")


def test_numbers_compare_by_value_within_tolerance() -> None:
    assert results_match(R([(0.1 + 0.2,)]), R([(0.3,)]), ordered=False)
    assert results_match(R([(3,)]), R([(3.0,)]), ordered=False)
    assert results_match(R([(Decimal("9.99"),)]), R([(9.99,)]), ordered=False)
    assert results_match(R([(Decimal("3.00"),)]), R([(3,)]), ordered=False)
    assert not results_match(R([(1.0,)]), R([(1.001,)]), ordered=False)
    assert results_match(R([(1.0,)]), R([(1.001,)]), ordered=False, float_tol=1e-2)
    assert not results_match(R([(2**62,)]), R([(2**62 + 1,)]), ordered=False)  # integers exact
    assert results_match(R([(float("nan"),)]), R([(float("nan"),)]), ordered=False)
    assert not results_match(R([("3",)]), R([(3,)]), ordered=False)  # text is not a number


def test_avg_and_sum_in_sql_match_despite_types(ex: Executor) -> None:
    assert match(ex, "SELECT SUM(amount) FROM shop.orders", "SELECT SUM(CAST(amount AS DOUBLE)) FROM shop.orders")
    assert match(ex, "SELECT COUNT(*) FROM shop.users", "SELECT CAST(COUNT(*) AS DOUBLE) FROM shop.users")


def test_nulls_bools_and_dates() -> None:
    assert results_match(R([(None, 1)]), R([(1, None)]), ordered=False)
    assert not results_match(R([(None,)]), R([(0,)]), ordered=False)
    assert not results_match(R([(None,)]), R([("",)]), ordered=False)
    assert results_match(R([(True,), (False,)]), R([(1,), (0,)]), ordered=True)  # documented choice
    assert results_match(R([(dt.date(2024, 1, 1),)]), R([(dt.datetime(2024, 1, 1),)]), ordered=False)
    assert not results_match(R([(dt.date(2024, 1, 1),)]), R([(dt.datetime(2024, 1, 1, 5),)]), ordered=False)
    assert not results_match(R([(dt.date(2024, 1, 1),)]), R([("2024-01-01",)]), ordered=False)


def test_result_key_shares_the_scoring_normalisation() -> None:
    """The runtime's candidates vote with result_key: results the scoring calls equal (in any row
    and column order) share a key, and different ones do not."""
    same = [
        ([(3, "a"), (None, "b")], [("b", None), ("a", Decimal("3.00"))]),
        ([(dt.datetime(2024, 1, 1), 1)], [(1, dt.date(2024, 1, 1))]),
        ([(True, 0.1 + 0.2)], [(0.3, 1)]),
        ([(-0.0,)], [(0,)]),
    ]
    for a, b in same:
        assert results_match(R(a), R(b), ordered=False)
        assert result_key(a) == result_key(b), (a, b)
    differ = [
        ([(1, 1), (2, 2)], [(1, 2), (2, 1)]),  # each row's own values, not the columns', must agree
        ([(1,), (1,)], [(1,)]),  # duplicates count
        ([(2**62,)], [(2**62 + 1,)]),  # integers past float precision stay exact
        ([("3",)], [(3,)]),  # text is not a number
        ([(None,)], [("None",)]),
    ]
    for a, b in differ:
        assert not results_match(R(a), R(b), ordered=False)
        assert result_key(a) != result_key(b), (a, b)


def test_null_safe_in_sql(ex: Executor) -> None:
    assert match(ex, "SELECT age FROM shop.users", "SELECT age FROM shop.users ORDER BY age NULLS FIRST")
    assert not match(ex, "SELECT age FROM shop.users", "SELECT COALESCE(age, 0) FROM shop.users")


def test_duplicates_count_as_a_multiset(ex: Executor) -> None:
    assert not results_match(R([(1,), (1,), (2,)]), R([(1,), (2,), (2,)]), ordered=False)
    assert results_match(R([(1,), (1,), (2,)]), R([(2,), (1,), (1,)]), ordered=False)
    assert not match(ex, "SELECT country FROM shop.users", "SELECT DISTINCT country FROM shop.users")


def test_row_counts_and_failed_results() -> None:
    assert not results_match(R([(1,), (2,)]), R([(1,)]), ordered=False)
    assert results_match(R([], cols=2), R([], cols=2), ordered=False)
    assert not results_match(R([], cols=2), R([], cols=1), ordered=False)
    assert not results_match(R([(1,)]), ExecResult(ok=False), ordered=False)
    assert not results_match(R([(1,)], truncated=True), R([(1,)]), ordered=False)


# -- evaluate ----------------------------------------------------------------------------------


def item(gold: str, pred: str, **kw: Any) -> dict[str, Any]:
    return {"question": kw.pop("question", f"q: {pred}"), "gold_sql": gold, "pred_sql": pred, **kw}


def test_evaluate_counts_each_failure_kind(ex: Executor, schema: Schema, db: Path) -> None:
    gold = "SELECT name FROM shop.users WHERE country = 'DE'"
    items = [
        item(gold, gold),  # exact
        item(gold, "SELECT u.name FROM shop.users u WHERE u.country IN ('DE')"),  # right, not exact
        item(gold, "SELECT name FROM shop.users WHERE country = 'FR'"),  # wrong result
        item(gold, "SELEC name FROM shop.users"),  # invalid
        item(gold, "SELECT nickname FROM shop.users"),  # unknown column
        item(gold, "SELECT name FROM shop.customers"),  # unknown table
        item(gold, "DROP TABLE shop.users"),  # refused
        item(gold, ""),  # empty prediction
        item("SELECT missing_col FROM shop.users", "SELECT 1"),  # gold fails: excluded
    ]
    rep = evaluate(items, ex, schema)
    assert rep["n"] == 8 and rep["gold_errors"] == 1
    assert rep["execution_accuracy"] == pytest.approx(2 / 8)
    assert rep["exact_match_rate"] == pytest.approx(1 / 8)
    assert rep["valid_sql_rate"] == pytest.approx(3 / 8)
    assert rep["unknown_name_rate"] == pytest.approx(2 / 8)
    assert rep["failure_counts"] == {"invalid_sql": 3, "unknown_name": 2, "wrong_result": 1, "gold_failed": 1}
    whys = {f["pred"]: f for f in rep["failures"]}
    assert whys["SELECT nickname FROM shop.users"]["why"] == "unknown_name"
    assert "nickname" in whys["SELECT nickname FROM shop.users"]["detail"]
    assert whys["SELECT name FROM shop.customers"]["why"] == "unknown_name"
    assert whys["DROP TABLE shop.users"]["why"] == "invalid_sql"
    assert whys["DROP TABLE shop.users"]["detail"].startswith("refused")
    assert whys["SELEC name FROM shop.users"]["why"] == "invalid_sql"
    wrong = whys["SELECT name FROM shop.users WHERE country = 'FR'"]
    assert wrong["why"] == "wrong_result" and "rows: gold 2, pred 1" in wrong["detail"]
    assert any(f["why"] == "gold_failed" for f in rep["failures"])
    assert ex.run("SELECT count(*) FROM shop.users").rows == [(5,)]  # the refusal really refused
    assert len(evaluate(items, ex, schema, max_failures=2)["failures"]) == 2


def test_wrong_result_detail_names_first_differing_row(ex: Executor, schema: Schema) -> None:
    rep = evaluate([item("SELECT name FROM shop.users ORDER BY user_id",
                         "SELECT name FROM shop.users ORDER BY user_id DESC")], ex, schema)
    detail = rep["failures"][0]["detail"]
    assert "another order" in detail and "row 0" in detail and "'Ann'" in detail
    rep = evaluate([item("SELECT name FROM shop.users", "SELECT country FROM shop.users")], ex, schema)
    assert "first gold row not in pred" in rep["failures"][0]["detail"]


def test_breakdowns(ex: Executor, schema: Schema) -> None:
    simple = "SELECT name FROM shop.users"
    grouped = ("SELECT country, COUNT(*) FROM shop.users u JOIN shop.orders o ON u.user_id = o.user_id "
               "GROUP BY country HAVING COUNT(*) > 0")
    items = [
        item(simple, simple, family="list", phase=1, kind="generate"),
        item(simple, "SELECT country FROM shop.users", family="list", phase=1, kind="generate"),
        item(grouped, grouped, family="group", phase=2, kind="generate"),
        item(grouped, "SELECT 1", family="group", phase=2, kind="repair", difficulty=42),
        item(simple, simple),  # no family/phase: only in the totals and by_difficulty
    ]
    rep = evaluate(items, ex, schema)
    assert rep["by_family"]["list"]["n"] == 2 and rep["by_family"]["list"]["execution_accuracy"] == 0.5
    assert rep["by_family"]["group"]["execution_accuracy"] == 0.5
    assert set(rep["by_phase"]) == {"1", "2"} and rep["by_phase"]["2"]["n"] == 2
    assert rep["by_kind"]["repair"]["n"] == 1
    assert sum(b["n"] for b in rep["by_difficulty"].values()) == 5
    assert rep["by_difficulty"]["11+"]["n"] == 1  # the given difficulty wins over the computed one
    assert difficulty_bucket(1) == "1-3" and difficulty_bucket(5) == "4-6" and difficulty_bucket(10) == "7-10"


def test_skip_flags(ex: Executor, schema: Schema) -> None:
    gold = "SELECT COUNT(*) FROM shop.users"
    items = [item(gold, gold), item(gold, "SELECT 0", empty_or_null_result=True),
             item(gold, "SELECT 0", time_dependent=True, empty_or_null_result=True)]
    rep = evaluate(items, ex, schema)
    assert rep["n"] == 1 and rep["execution_accuracy"] == 1.0 and rep["skipped"] == 2
    assert rep["skipped_by_flag"] == {"empty_or_null_result": 2, "time_dependent": 1}
    rep = evaluate(items, ex, schema, skip_flags=())
    assert rep["n"] == 3 and rep["skipped"] == 0


def test_evaluate_file(ex: Executor, schema: Schema, tmp_path: Path) -> None:
    rows = [{"question": "how many users", "sql": "SELECT COUNT(*) FROM shop.users"},
            {"question": "names in DE", "sql": "SELECT name FROM shop.users WHERE country = 'DE'",
             "time_dependent": True},
            {"question": "total amount", "sql": "SELECT SUM(amount) FROM shop.orders", "family": "sum"}]
    path = tmp_path / "golden.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    preds = ["SELECT COUNT(user_id) FROM shop.users", "SELECT 1", "SELECT SUM(amount) + 1 FROM shop.orders"]
    rep = evaluate_file(path, preds, ex, schema)
    assert (rep["n"], rep["skipped"], rep["execution_accuracy"]) == (2, 1, 0.5)
    assert rep["by_family"] == {"sum": rep["by_family"]["sum"]} and rep["by_family"]["sum"]["n"] == 1

    asked: list[list[str]] = []

    def predictor(questions: list[str]) -> list[str]:
        asked.append(questions)
        return [next(r["sql"] for r in rows if r["question"] == q) for q in questions]
    rep = evaluate_file(path, predictor, ex, schema)
    assert asked == [["how many users", "total amount"]]  # skipped rows are never predicted
    assert rep["execution_accuracy"] == 1.0 and rep["skipped_by_flag"] == {"time_dependent": 1}

    rep = evaluate_file(path, {"how many users": "SELECT COUNT(*) FROM shop.users"}, ex, schema, skip_flags=())
    assert rep["n"] == 3 and rep["execution_accuracy"] == pytest.approx(1 / 3)
    assert rep["failure_counts"] == {"invalid_sql": 2}  # questions without a prediction

    with pytest.raises(UserError):
        evaluate_file(path, ["SELECT 1"], ex, schema)  # misaligned list
    with pytest.raises(UserError):
        evaluate_file(tmp_path / "missing.jsonl", preds, ex, schema)
    (tmp_path / "bad.jsonl").write_text('{"question": "no sql"}\n')
    with pytest.raises(UserError):
        evaluate_file(tmp_path / "bad.jsonl", ["SELECT 1"], ex, schema)


def test_degenerate_deeply_nested_prediction_is_invalid_not_a_crash(ex: Executor, schema: Schema) -> None:
    """A badly trained student can write "SELECT ((((((...": sqlglot's recursive parser would
    overflow the stack; it is an invalid prediction like any other."""
    from export.guard import check_sql

    deep = "SELECT " + "(" * 600 + "1" + ")" * 600
    rep = evaluate([item("SELECT name FROM shop.users", deep)], ex, schema)
    assert rep["failure_counts"] == {"invalid_sql": 1}
    assert "nests parentheses" in rep["failures"][0]["detail"]
    verdict = check_sql(deep, schema, "duckdb", ex)
    assert not verdict.ok and not verdict.refused and "nests parentheses" in (verdict.error or "")
    assert parse_sql("SELECT '((((((' AS x, (1 + (2))").sql() == "SELECT '((((((' AS x, (1 + (2))"


@pytest.mark.parametrize("deep", ["SELECT " + "- " * 2000 + "1", "SELECT name FROM shop.users WHERE " + "NOT " * 2000 + "TRUE"])
def test_degenerate_chain_without_parentheses_is_invalid_not_a_crash(ex: Executor, schema: Schema, deep: str) -> None:
    """The same without a parenthesis: a quickstart whose phase-1 student wrote such a chain
    died in its first evaluation (RecursionError from the sandbox's parse)."""
    from export.guard import check_sql

    rep = evaluate([item("SELECT name FROM shop.users", deep)], ex, schema)
    assert rep["failure_counts"] == {"invalid_sql": 1}
    for executor in (ex, None):
        verdict = check_sql(deep, schema, "duckdb", executor)
        assert not verdict.ok and not verdict.refused and "too deeply nested" in (verdict.error or "")
