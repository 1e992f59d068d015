"""The executor: only single SELECTs run, nothing escapes the sandbox, errors keep DuckDB's text."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sandbox_schemas import small_schema

from schemadistill.errors import UserError
from schemadistill.sandbox import Executor, build_sandbox


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ex") / "sandbox.duckdb"
    build_sandbox(small_schema(), out, rows=200, seed=0, progress=False)
    return out


@pytest.fixture(scope="module")
def ex(db: Path):
    with Executor(db, timeout_s=5) as e:
        yield e


def count(ex: Executor, table: str) -> int:
    res = ex.run(f"SELECT count(*) FROM {table}")
    assert res.ok, res.error
    return res.rows[0][0]


def test_select_runs(ex: Executor) -> None:
    res = ex.run("SELECT country, count(*) AS n FROM shop.users GROUP BY 1 ORDER BY n DESC, 1 LIMIT 3")
    assert res.ok and res.error is None
    assert res.columns == ["country", "n"] and len(res.rows) == 3 and not res.truncated
    assert res.executed_sql.startswith("SELECT country") and res.transpiled_from is None
    assert res.elapsed_ms > 0


def test_with_union_and_duckdb_only_syntax_run(ex: Executor) -> None:
    assert ex.run("WITH u AS (SELECT user_id FROM shop.users) SELECT count(*) FROM u").ok
    assert ex.run("SELECT 1 UNION ALL SELECT 2 EXCEPT SELECT 2").ok
    assert ex.run("FROM shop.users SELECT count(*)").ok
    assert ex.run("SELECT * EXCLUDE (name) FROM shop.users LIMIT 1").ok


FORBIDDEN = {
    "create": "CREATE TABLE shop.x AS SELECT 1 AS a",
    "create_view": "CREATE VIEW v AS SELECT 1",
    "drop": "DROP TABLE shop.orders",
    "insert": "INSERT INTO shop.users (user_id) VALUES (999999)",
    "update": "UPDATE shop.users SET name = 'x'",
    "delete": "DELETE FROM shop.orders",
    "merge": "MERGE INTO shop.users u USING shop.orders o ON u.user_id = o.user_id WHEN MATCHED THEN DELETE",
    "alter": "ALTER TABLE shop.users ADD COLUMN z INT",
    "attach": "ATTACH '/tmp/other.duckdb' AS other",
    "detach": "DETACH shop",
    "copy": "COPY shop.users TO '/tmp/users_leak.csv'",
    "export": "EXPORT DATABASE '/tmp/export_leak'",
    "pragma": "PRAGMA database_list",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "set": "SET enable_external_access = true",
    "reset": "RESET memory_limit",
    "call": "CALL pragma_version()",
    "checkpoint": "CHECKPOINT",
    "describe": "DESCRIBE shop.users",
    "explain": "EXPLAIN SELECT 1",
    "transaction": "BEGIN TRANSACTION",
    "select_into": "SELECT * INTO shop.copy FROM shop.users",
    "multiple": "SELECT 1; DROP TABLE shop.users",
    "multiple_selects": "SELECT 1; SELECT 2",
    "empty": "   -- nothing",
}


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_refused(ex: Executor, name: str) -> None:
    res = ex.run(FORBIDDEN[name])
    assert not res.ok and res.error is not None
    assert res.error.kind == "refused", res.error
    assert res.rows == [] and res.columns == []


def test_a_given_parse_saves_parsing_and_is_still_checked(ex: Executor) -> None:
    from schemadistill.sqlcheck import parse_sql

    sql = "SELECT country, count(*) AS n FROM shop.users GROUP BY 1 ORDER BY n DESC, 1 LIMIT 3"
    tree = parse_sql(sql)
    res = ex.run(sql, tree=tree)
    assert res.ok and res.tree is tree and res.rows == ex.run(sql).rows
    assert ex.run(sql).tree is not None  # the executor's own parse, for the teacher to reuse
    for name in ("delete", "create", "attach"):  # the read-only check reads the given tree
        bad = FORBIDDEN[name]
        res = ex.run(bad, tree=parse_sql(bad))
        assert not res.ok and res.error is not None and res.error.kind == "refused", name


def test_refusals_changed_nothing(ex: Executor) -> None:
    for sql in FORBIDDEN.values():
        ex.run(sql)
    assert count(ex, "shop.users") == 20 and count(ex, "shop.orders") == 200
    assert not Path("/tmp/users_leak.csv").exists() and not Path("/tmp/export_leak").exists()


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_parquet('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM read_csv('https://example.com/data.csv')",
    "SELECT * FROM 'https://example.com/x.parquet'",
])
def test_no_file_or_network_access(ex: Executor, sql: str) -> None:
    res = ex.run(sql)
    assert not res.ok and res.rows == []
    assert res.error is not None and "root:" not in res.error.message
    # table functions and URLs hit the permission check; a bare local path is not even looked
    # up as a file (no such table)
    assert (res.error.type, res.error.kind) in [("PermissionException", "runtime"),
                                                ("CatalogException", "catalog")]
    if "(" in sql:
        assert "disabled by configuration" in res.error.message


def test_configuration_is_locked(ex: Executor) -> None:
    res = ex.run("SELECT current_setting('enable_external_access') AS ext, "
                 "current_setting('lock_configuration') AS locked")
    assert res.ok and res.rows == [(False, True)]


def test_timeout(db: Path) -> None:
    with Executor(db, timeout_s=1.0) as short:
        t0 = time.monotonic()
        res = short.run("SELECT count(*) FROM range(1000000000) a, range(1000000) b WHERE a.range + b.range = 3")
        took = time.monotonic() - t0
        assert not res.ok and res.error.kind == "timeout", res.error
        assert res.error.type == "InterruptException"
        assert took < 3.0
        assert short.run("SELECT 42").rows == [(42,)]  # usable afterwards


def test_row_cap(db: Path) -> None:
    with Executor(db, row_cap=10) as capped:
        res = capped.run("SELECT * FROM range(100000000)")
        assert res.ok and res.truncated and len(res.rows) == 10 and res.rows[0] == (0,)
        res = capped.run("SELECT * FROM range(10)")
        assert res.ok and not res.truncated and len(res.rows) == 10
        assert capped.run("SELECT 1").rows == [(1,)]  # the aborted stream blocks nothing


def test_transpile_from_mysql(ex: Executor) -> None:
    res = ex.run("SELECT IFNULL(country, 'n/a') AS c FROM shop.users ORDER BY user_id LIMIT 3", dialect="mysql")
    assert res.ok, res.error
    assert res.transpiled_from == "mysql" and "COALESCE" in res.executed_sql and len(res.rows) == 3
    assert None not in [r[0] for r in ex.run("SELECT IFNULL(country, 'n/a') FROM shop.users", "mysql").rows]


def test_transpile_from_postgres(ex: Executor) -> None:
    res = ex.run("SELECT user_id::text || '!' AS s, ordered_at::date AS d FROM shop.orders LIMIT 2",
                 dialect="postgres")
    assert res.ok, res.error
    assert res.transpiled_from == "postgres" and "CAST(" in res.executed_sql
    assert res.rows[0][0].endswith("!")


def test_transpiled_statement_is_still_checked(ex: Executor) -> None:
    res = ex.run("DELETE FROM shop.orders", dialect="postgres")
    assert res.error.kind == "refused" and count(ex, "shop.orders") == 200


def test_binder_error_keeps_duckdb_message(ex: Executor) -> None:
    res = ex.run("SELECT nmae FROM shop.users")
    assert res.error.kind == "binder" and res.error.type == "BinderException"
    assert res.error.message.startswith('Binder Error: Referenced column "nmae" not found in FROM clause!')
    assert 'Candidate bindings: "name"' in res.error.message and "LINE 1:" in res.error.message


def test_catalog_error_keeps_duckdb_message(ex: Executor) -> None:
    res = ex.run("SELECT * FROM shop.usres")
    assert res.error.kind == "catalog" and res.error.type == "CatalogException"
    assert res.error.message.startswith("Catalog Error: Table with name usres does not exist!")
    assert 'Did you mean "users"?' in res.error.message


def test_parse_and_runtime_errors(ex: Executor) -> None:
    res = ex.run("SELEC 1")
    assert res.error.kind == "parse" and res.error.type == "ParserException"
    assert res.error.message.startswith('Parser Error: syntax error at or near "SELEC"')
    res = ex.run("SELECT 1 +", dialect="mysql")  # sqlglot's parser speaks for other dialects
    assert res.error.kind == "parse" and res.error.type == "ParseError"
    res = ex.run("SELECT CAST(name AS INTEGER) FROM shop.users WHERE name IS NOT NULL")
    assert res.error.kind == "runtime" and res.error.type == "ConversionException"


@pytest.mark.parametrize("sql", ["SELECT " + "- " * 2000 + "1", "SELECT 1 WHERE " + "NOT " * 2000 + "TRUE"])
def test_deep_statements_without_parentheses_are_parse_errors(ex: Executor, sql: str) -> None:
    # a barely trained student wrote such a chain during a pipeline's first evaluation, and
    # sqlglot's recursive parser overflowed the stack: the run died instead of scoring it wrong
    res = ex.run(sql)
    assert not res.ok and res.error.kind == "parse" and "too deeply nested" in res.error.message


def test_unknown_dialect(ex: Executor) -> None:
    with pytest.raises(UserError, match="unknown SQL dialect"):
        ex.run("SELECT 1", dialect="cobol")


def test_missing_sandbox(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        Executor(tmp_path / "none.duckdb")


def test_many_queries_on_one_executor(ex: Executor) -> None:
    # Validation runs thousands of statements through one executor: no state may leak between
    # them (speed is measured by the benchmarks, not here).
    for i in range(300):
        res = ex.run(f"SELECT user_id, name FROM shop.users WHERE user_id > {i} ORDER BY 1 LIMIT 5")
        assert res.ok and len(res.rows) <= 5


def test_fork_for_threads(ex: Executor) -> None:
    errors: list[object] = []

    def work(forked: Executor, k: int) -> None:
        with forked:
            for _i in range(20):
                res = forked.run(f"SELECT count(*) FROM shop.orders WHERE order_id % 4 = {k}")
                if not res.ok:
                    errors.append(res.error)

    threads = [threading.Thread(target=work, args=(ex.fork(), k)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert count(ex, "shop.orders") == 200  # closing forks leaves the parent usable


def test_second_executor_on_same_file(db: Path, ex: Executor) -> None:
    with Executor(db) as other:
        assert other.run("SELECT 1").ok
    assert ex.run("SELECT 1").ok


def test_file_named_like_a_db_schema(tmp_path: Path) -> None:
    """DuckDB names a catalog after its file: shop.duckdb holding schema "shop" must still work."""
    out = tmp_path / "shop.duckdb"
    build_sandbox(small_schema(), out, rows=30, progress=False)
    with Executor(out) as ex:
        res = ex.run("SELECT count(*) FROM shop.users")
        assert res.ok and res.rows == [(20,)], res.error
