"""teacher.validate: one test per reject reason, the kept pair's fields, dedup rules, the cache.

Everything runs on a tiny hand-made DuckDB sandbox (``build_tiny``, also used by test_repair),
so these tests do not depend on the template families.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from schemadistill.config import TeacherConfig
from schemadistill.sandbox import ExecResult, Executor
from schemadistill.schema.model import Column, ForeignKey, Schema, Table
from teacher.pair import Candidate, Pair, Reject, stable_id
from teacher.slots import touches_a_value
from teacher.validate import Collector, Validator, normalise_question, normalise_value


def tiny_schema() -> Schema:
    users = Table("users", "shop", [
        Column("user_id", "integer", nullable=False), Column("country", "text"), Column("age", "integer"),
        Column("is_active", "integer"), Column("signup_date", "date"),
    ], primary_key=["user_id"])
    sessions = Table("sessions", "shop", [
        Column("session_id", "integer", nullable=False), Column("user_id", "integer"),
        Column("action_date", "date"), Column("os", "text"), Column("revenue", "float"),
        Column("duration", "integer"),
    ], primary_key=["session_id"], time_column="action_date")
    return Schema(tables=[users, sessions],
                  foreign_keys=[ForeignKey("shop.sessions", ["user_id"], "shop.users", ["user_id"])],
                  dialect="duckdb", source="tiny.sql")


COUNTRIES = ["France", "Germany", "Spain", "Italy"]
OSES = ["iOS", "Android", "Windows"]


def build_tiny(path: Path) -> Path:
    """40 users and 400 sessions with fixed, formula-made values (no randomness)."""
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA shop")
    con.execute("CREATE TABLE shop.users (user_id BIGINT NOT NULL, country VARCHAR, age BIGINT, "
                "is_active INTEGER, signup_date DATE)")
    con.execute("CREATE TABLE shop.sessions (session_id BIGINT NOT NULL, user_id BIGINT, action_date DATE, "
                "os VARCHAR, revenue DOUBLE, duration BIGINT)")
    start = dt.date(2024, 1, 1)
    con.executemany("INSERT INTO shop.users VALUES (?, ?, ?, ?, ?)", [
        (i, COUNTRIES[i % 4], 20 + (i * 7) % 30, i % 3 != 0, start + dt.timedelta(days=i)) for i in range(1, 41)])
    con.executemany("INSERT INTO shop.sessions VALUES (?, ?, ?, ?, ?, ?)", [
        (1000 + j, 1 + (j * 13) % 40, start + dt.timedelta(days=j % 180), OSES[j % 3],
         float((j * 37) % 50) if j % 4 else 0.0, 30 + (j * 11) % 600) for j in range(400)])
    con.close()
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Schema, Executor]]:
    db = build_tiny(tmp_path_factory.mktemp("tiny") / "tiny_sandbox.duckdb")
    with Executor(db, timeout_s=5.0, row_cap=1000) as ex:
        yield tiny_schema(), ex


@pytest.fixture()
def validator(tiny: tuple[Schema, Executor]) -> Validator:
    schema, ex = tiny
    return Validator(schema, ex, "duckdb", TeacherConfig(row_cap=100))


def cand(sql: str, question: str = "How many users are there?", **kw: Any) -> Candidate:
    kw.setdefault("family", "test_family")
    kw.setdefault("source", "template")
    return Candidate(question=question, sql=sql, **kw)


def reason(v: Validator, sql: str, question: str = "How many users are there?") -> str:
    res = v.check(cand(sql, question))
    return res.reason if isinstance(res, Reject) else "kept"


# -- one test per reason ----------------------------------------------------------------------


def test_parse_error(validator: Validator) -> None:
    res = validator.check(cand("SELECT FROM WHERE shop.users"))
    assert isinstance(res, Reject) and res.reason == "parse_error" and res.detail


def test_unknown_table_column_and_ambiguous(validator: Validator) -> None:
    assert reason(validator, "SELECT count(*) FROM shop.customers") == "unknown_name"
    assert reason(validator, "SELECT contry FROM shop.users") == "unknown_name"
    amb = validator.check(cand("SELECT user_id FROM shop.users u JOIN shop.sessions s ON u.user_id = s.user_id"))
    assert isinstance(amb, Reject) and amb.reason == "unknown_name"


def test_not_read_only(validator: Validator) -> None:
    assert reason(validator, "DELETE FROM shop.users WHERE age > 30") == "not_read_only"
    assert reason(validator, "UPDATE shop.users SET age = 1") == "not_read_only"


def test_exec_error_keeps_class_and_message(validator: Validator) -> None:
    res = validator.check(cand("SELECT CAST(country AS INTEGER) AS c FROM shop.users"))
    assert isinstance(res, Reject) and res.reason == "exec_error"
    assert res.detail.startswith("ConversionException: Conversion Error:")


def test_timeout(tiny: tuple[Schema, Executor]) -> None:
    schema, ex = tiny
    with Executor(ex.db, timeout_s=0.05) as slow:
        v = Validator(schema, slow, "duckdb", TeacherConfig())
        sql = ("SELECT count(*) FROM shop.sessions a, shop.sessions b, shop.sessions c, shop.sessions d "
               "WHERE (a.duration * b.duration + c.duration * d.duration) % 9973 = 17")
        assert reason(v, sql) == "timeout"


def test_a_timeout_gets_one_longer_run(tiny: tuple[Schema, Executor]) -> None:
    """A pair that ran past the limit because the machine was busy is kept when a second run
    with a longer limit finishes; the limit is restored afterwards."""
    from schemadistill.sandbox.executor import ExecError, ExecResult
    from teacher import validate

    schema, ex = tiny
    limits: list[float] = []

    class Busy(Executor):
        def run(self, sql: str, dialect: str = "duckdb", tree: Any = None) -> ExecResult:
            limits.append(self.timeout_s)
            if self.timeout_s < 1.0:
                return ExecResult(False, error=ExecError("timeout", "InterruptException", "query timed out"))
            return super().run(sql, dialect, tree)

    with Busy(ex.db, timeout_s=0.5) as busy:
        v = Validator(schema, busy, "duckdb", TeacherConfig())
        assert not isinstance(v.check(cand("SELECT count(*) AS n FROM shop.users")), Reject)
        assert limits == [0.5, 0.5 * validate.TIMEOUT_RETRY_FACTOR] and busy.timeout_s == 0.5
        assert v.stats.timeout_retries == 1


def test_empty_result_no_rows_nulls_and_zero(validator: Validator) -> None:
    assert reason(validator, "SELECT user_id FROM shop.users WHERE age > 1000") == "empty_result"
    assert reason(validator, "SELECT max(age) FROM shop.users WHERE age > 1000") == "empty_result"
    assert reason(validator, "SELECT count(*) FROM shop.users WHERE country = 'Peru'") == "empty_result"
    # the user's own examples may legitimately count nothing on the sandbox
    ok = validator.check(cand("SELECT count(*) FROM shop.users WHERE country = 'Peru'", source="examples"))
    assert isinstance(ok, Pair)


def test_degenerate_rate(validator: Validator) -> None:
    rate = "100.0 * COUNT(CASE WHEN s.age > 30 THEN 1 END) / COUNT(*)"
    res = validator.check(cand(f"SELECT {rate} AS r FROM shop.users AS s WHERE s.country = 'Germany' AND age > 30"))
    assert isinstance(res, Reject) and res.reason == "degenerate_rate" and "100%" in res.detail
    assert reason(validator, f"SELECT {rate} AS r FROM shop.users AS s WHERE s.country = 'Germany'") == "kept"


def test_too_many_rows(validator: Validator) -> None:
    assert reason(validator, "SELECT session_id FROM shop.sessions") == "too_many_rows"  # 400 > 100


def test_nondeterministic_random_and_limit_without_order(validator: Validator) -> None:
    assert reason(validator, "SELECT random() AS r FROM shop.users ORDER BY r LIMIT 1") == "nondeterministic"
    assert reason(validator, "SELECT user_id FROM shop.users LIMIT 3") == "nondeterministic"
    sub = "SELECT count(*) FROM shop.users WHERE user_id IN (SELECT user_id FROM shop.sessions LIMIT 5)"
    assert reason(validator, sub) == "nondeterministic"


def test_nondeterministic_tie_at_the_cut(validator: Validator) -> None:
    # ten users per country: ordering by country alone cannot say which user comes first
    tie = validator.check(cand("SELECT user_id FROM shop.users ORDER BY country LIMIT 3"))
    assert isinstance(tie, Reject) and tie.reason == "nondeterministic" and "tie" in tie.detail
    # the same query made total by a unique tiebreaker is kept
    assert reason(validator, "SELECT user_id FROM shop.users ORDER BY country, user_id LIMIT 3") == "kept"
    # keys by alias and by position; sums differ per country so the cut is clean
    assert reason(validator, "SELECT country, sum(age) AS s FROM shop.users GROUP BY country "
                             "ORDER BY s DESC LIMIT 2") == "kept"
    assert reason(validator, "SELECT country, count(*) FROM shop.users GROUP BY 1 ORDER BY 2 DESC LIMIT 2") \
        == "nondeterministic"  # every country has 10 users


def test_tie_probe_skipped_when_order_is_total(validator: Validator) -> None:
    before = validator.stats.executions
    assert reason(validator, "SELECT user_id, age FROM shop.users ORDER BY user_id DESC LIMIT 3") == "kept"
    assert reason(validator, "SELECT country, os, count(*) AS n FROM shop.users u JOIN shop.sessions s "
                             "ON u.user_id = s.user_id GROUP BY country, os ORDER BY country, os LIMIT 5") == "kept"
    assert validator.stats.executions == before + 2  # one run each, no probe


def test_nondeterministic_two_runs_differ(tiny: tuple[Schema, Executor]) -> None:
    schema, ex = tiny

    class Flaky:
        """Answers differently on every call, like a query over a changing table."""

        def __init__(self) -> None:
            self.calls = 0

        def run(self, sql: str, dialect: str = "duckdb", tree: Any = None) -> ExecResult:
            self.calls += 1
            res = ex.run(sql, dialect)
            res.rows = [(self.calls,)]
            return res

    flaky = Flaky()
    v = Validator(schema, flaky, "duckdb", TeacherConfig())  # type: ignore[arg-type]
    # an order-sensitive aggregate is run twice, and the two runs disagree
    res = v.check(cand("SELECT string_agg(country, ', ') AS c FROM shop.users"))
    assert isinstance(res, Reject) and res.reason == "nondeterministic" and v.stats.second_runs == 1
    # a plain aggregate cannot change between runs on read-only data: one run is enough
    assert isinstance(v.check(cand("SELECT count(*) FROM shop.users")), Pair) and v.stats.second_runs == 1


def test_empty_question(validator: Validator) -> None:
    assert reason(validator, "SELECT count(*) FROM shop.users", question="  ?! ") == "empty_question"


# -- kept pairs -----------------------------------------------------------------------------


def test_kept_pair_fields(validator: Validator) -> None:
    sql = ("SELECT u.country, SUM(s.revenue) AS revenue FROM shop.sessions AS s "
           "JOIN shop.users AS u ON s.user_id = u.user_id GROUP BY u.country")
    res = validator.check(cand(sql, "Revenue per country?", instance="inst1", phase=None))
    assert isinstance(res, Pair)
    assert res.id == stable_id("Revenue per country?", sql)
    assert (res.dialect, res.kind, res.source, res.instance) == ("duckdb", "generate", "template", "inst1")
    assert res.phase == 2  # unknown family -> default phase
    assert res.difficulty >= 4  # a join, an aggregate, a GROUP BY
    assert res.tables == ["shop.sessions", "shop.users"]
    assert set(res.columns) == {"shop.users.country", "shop.sessions.revenue", "shop.sessions.user_id",
                                "shop.users.user_id"}
    assert "broken_sql" not in res.to_json()
    phase_given = validator.check(cand(sql, "Revenue per country?", phase=1))
    assert isinstance(phase_given, Pair) and phase_given.phase == 1


def test_postgres_dialect_is_transpiled(tiny: tuple[Schema, Executor]) -> None:
    schema, ex = tiny
    v = Validator(schema, ex, "postgres", TeacherConfig())
    res = v.check(cand("SELECT country, COUNT(*) FILTER (WHERE age > 30) AS n FROM shop.users "
                       "WHERE country ILIKE 'f%' GROUP BY country"))
    assert isinstance(res, Pair) and res.dialect == "postgres"


def test_execution_cache_shared_by_phrasings(validator: Validator) -> None:
    sql = "SELECT count(*) FROM shop.sessions WHERE os = 'iOS'"
    assert isinstance(validator.check(cand(sql, "How many iOS sessions?")), Pair)
    runs, infos = validator.stats.executions, validator.stats.sql_infos
    for q in ("Number of sessions on iOS", "Count the iOS sessions", "iOS sessions: how many?"):
        assert isinstance(validator.check(cand(sql, q)), Pair)
    assert validator.stats.executions == runs and validator.stats.sql_infos == infos
    assert validator.stats.sql_cache_hits >= 3


# -- repairs --------------------------------------------------------------------------------


def test_repair_candidates_are_checked_against_the_real_error(validator: Validator,
                                                              tiny: tuple[Schema, Executor]) -> None:
    _, ex = tiny
    sql = "SELECT country, count(*) AS n FROM shop.users GROUP BY country"
    broken = "SELECT contry, count(*) AS n FROM shop.users GROUP BY contry"
    real = ex.run(broken).error
    assert real is not None
    good = validator.check(cand(sql, "Users per country", kind="repair", broken_sql=broken, error=real.message))
    assert isinstance(good, Pair) and good.kind == "repair" and good.error == real.message
    assert good.id != stable_id("Users per country", sql)  # distinct from the generate pair's id
    wrong = validator.check(cand(sql, "Users per country", kind="repair", broken_sql=broken,
                                 error="Binder Error: something else"))
    assert isinstance(wrong, Reject) and wrong.reason == "repair_error_mismatch"
    same = validator.check(cand(sql, "Users per country", kind="repair",
                                broken_sql="SELECT country, count(1) AS n FROM shop.users GROUP BY country",
                                error="the query ran but returned the wrong rows"))
    assert isinstance(same, Reject) and same.reason == "repair_not_broken"
    runs_wrong = validator.check(cand(sql, "Users per country", kind="repair",
                                      broken_sql="SELECT country, count(*) AS n FROM shop.users "
                                                 "WHERE age > 30 GROUP BY country",
                                      error="the query ran and returned 4 rows, but 4 of them differ"))
    assert isinstance(runs_wrong, Pair)


# -- dedup ----------------------------------------------------------------------------------


def test_normalise_value_evens_out_summation_order() -> None:
    rng = random.Random(0)
    xs = [rng.uniform(0, 1000) for _ in range(100_000)]
    shuffled = list(xs)
    rng.shuffle(shuffled)
    forward, backward = sum(xs), sum(shuffled)
    assert forward != backward  # what two DuckDB threads adding in other orders also give
    assert normalise_value(forward) == normalise_value(backward)
    assert normalise_value(0.1 + 0.2) == normalise_value(0.3)
    assert normalise_value(1.0) != normalise_value(1.001)
    assert normalise_value(float("nan")) == "NaN"
    assert normalise_value([1.0000000000001, 2]) == (1.0, 2)


def test_a_threshold_on_a_float_value_is_refused() -> None:
    assert touches_a_value(416147426.4, [1.5, 416147426.40000004])
    assert not touches_a_value(400000000, [1.5, 416147426.4])


def test_normalise_question() -> None:
    assert normalise_question("  How MANY users,  are there? ") == "how many users are there"


def test_collector_duplicate_question_and_conflict(validator: Validator) -> None:
    col = Collector(validator)
    a = col.add(validator.check(cand("SELECT count(*) FROM shop.users", "How many users are there?", instance="a")))
    assert isinstance(a, Pair)
    dup = col.add(validator.check(cand("SELECT count(*) FROM shop.users", "how many users are there", instance="b")))
    assert isinstance(dup, Reject) and dup.reason == "duplicate_question"
    # same query spelt differently (an alias) is still a duplicate, not a conflict
    alias = col.add(validator.check(cand("SELECT count(*) AS n FROM shop.users AS u",
                                         "How many users are there!", instance="c")))
    assert isinstance(alias, Reject) and alias.reason == "duplicate_question"
    other = "SELECT count(*) FROM shop.users WHERE is_active = 1"
    conflict = col.add(validator.check(cand(other, "How many users are there ?", instance="d")))
    assert isinstance(conflict, Reject) and conflict.reason == "conflict"
    assert "SELECT count(*) FROM shop.users" in conflict.detail and other in conflict.detail
    assert [p.instance for p in col.kept] == ["a"]


def test_collector_duplicate_sql_across_instances_keeps_paraphrases(validator: Validator) -> None:
    col = Collector(validator)
    sql = "SELECT count(*) FROM shop.sessions WHERE os = 'Android'"
    assert isinstance(col.add(validator.check(cand(sql, "How many Android sessions?", instance="i1"))), Pair)
    # a paraphrase of the same instance is a new training example: kept
    assert isinstance(col.add(validator.check(cand(sql, "Count sessions on Android", instance="i1",
                                                   source="paraphrase"))), Pair)
    # another instance rendering the same query (here with an alias and qualifier) is dropped
    other = col.add(validator.check(cand("SELECT count(*) AS c FROM shop.sessions s WHERE s.os = 'Android'",
                                         "Android session count", instance="i2")))
    assert isinstance(other, Reject) and other.reason == "duplicate_sql"
    # a different literal is a different query even if the count happened to match
    assert isinstance(col.add(validator.check(cand("SELECT count(*) FROM shop.sessions WHERE os = 'iOS'",
                                                   "How many iOS sessions?", instance="i3"))), Pair)
    # the user's own examples are always kept
    assert isinstance(col.add(validator.check(cand(sql, "android sessions total?", instance="ex",
                                                   source="examples"))), Pair)


def test_collector_repairs_dedup_separately(validator: Validator, tiny: tuple[Schema, Executor]) -> None:
    _, ex = tiny
    col = Collector(validator)
    sql = "SELECT count(*) FROM shop.users"
    assert isinstance(col.add(validator.check(cand(sql, "How many users?", instance="a"))), Pair)
    broken = "SELECT count(*) FROM shop.user"
    err = ex.run(broken).error
    assert err is not None
    rep = cand(sql, "How many users?", instance="a", kind="repair", broken_sql=broken, error=err.message,
               family="repair_misspelt_table", source="repair")
    assert isinstance(col.add(validator.check(rep)), Pair)
    again = col.add(validator.check(rep))
    assert isinstance(again, Reject) and again.reason == "duplicate_question"


def test_validator_checks_the_parse_the_families_ran(tiny: tuple[Schema, Executor]) -> None:
    # the families run every instance before validation: the validator reuses that parse
    # (one sqlglot parse per distinct SQL) and judges it exactly as a fresh one
    from teacher.validate import CachedExecutor

    schema, ex = tiny
    sql = "SELECT country, count(*) AS n FROM shop.users GROUP BY country"
    shared = CachedExecutor(ex)
    first = shared.run(sql)
    assert shared.tree_of(sql) is first.tree is not None
    reused = Validator(schema, shared, "duckdb", TeacherConfig()).sql_info(sql)
    fresh = Validator(schema, ex, "duckdb", TeacherConfig()).sql_info(sql)
    assert reused.tree is first.tree and fresh.tree is not first.tree
    assert reused.reason is None and (reused.template, reused.difficulty, reused.columns, reused.literals) == (
        fresh.template, fresh.difficulty, fresh.columns, fresh.literals)


def test_facts_from_the_worker_process_equal_facts_made_here(tiny: tuple[Schema, Executor]) -> None:
    from teacher.sql_facts import FactsPool, sql_facts

    schema, _ = tiny
    sqls = ["SELECT country, count(*) AS n FROM shop.users GROUP BY country", "SELEC 1",
            "SELECT nope FROM shop.users", "SELECT random() AS r FROM shop.users",
            "SELECT user_id FROM shop.users LIMIT 3",
            "SELECT user_id, row_number() OVER (ORDER BY age) AS k FROM shop.users"]
    with FactsPool(schema, "duckdb") as pool:
        pool.submit(sqls + sqls[:2])  # a repeat is analysed once
        got = [pool.take(s) for s in sqls]
        assert pool.take(sqls[0]) is None  # each answer is handed out once; the caller keeps it
    assert got == [sql_facts(s, schema, "duckdb") for s in sqls]
    ok, bad_parse, unknown, volatile, no_order, window = got
    assert ok is not None and ok.template and ok.tables == ["shop.users"] and not ok.may_vary
    assert bad_parse is not None and bad_parse.parse_error
    assert unknown is not None and unknown.names_error and "nope" in unknown.names_error
    assert volatile is not None and volatile.volatile and "rand" in volatile.volatile
    assert no_order is not None and no_order.limit_without_order
    assert window is not None and window.may_vary
