"""DDL parsing: golden fixtures per dialect, dialect detection, fingerprints, bad input.

Golden files: ``tests/fixtures/ddl/<name>.sql`` + ``<name>.expected.json`` (a compact view of
the loaded schema). Regenerate with ``UPDATE_GOLDEN=1 pytest tests/test_schema_ddl.py`` and read
every diff before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from schemadistill.schema import SUPPORTED_DIALECTS, Schema, UserError, load_schema
from schemadistill.schema.ddl import detect_dialects, parse_ddl

FIXTURES = Path(__file__).parent / "fixtures" / "ddl"
CASES = sorted(p.stem for p in FIXTURES.glob("*.sql"))


def compact(schema: Schema) -> dict[str, Any]:
    """What the golden files hold: dialect, tables (columns, keys, descriptions), foreign keys."""
    return {
        "dialect": schema.dialect,
        "tables": [
            {
                "name": t.qualified_name,
                "description": t.description,
                "primary_key": t.primary_key,
                "columns": [[c.name, c.type, c.nullable, c.description, c.raw_type] for c in t.columns],
            }
            for t in schema.tables
        ],
        "foreign_keys": [[fk.table, fk.columns, fk.ref_table, fk.ref_columns, fk.inferred]
                         for fk in schema.foreign_keys],
    }


def dump_golden(view: dict[str, Any]) -> str:
    """JSON with one column / foreign key per line, so a golden diff reads like the DDL."""
    def one(x: Any) -> str:
        return json.dumps(x, ensure_ascii=False)

    lines = ["{", f' "dialect": {one(view["dialect"])},', ' "tables": [']
    for i, t in enumerate(view["tables"]):
        lines += ["  {", f'   "name": {one(t["name"])},', f'   "description": {one(t["description"])},',
                  f'   "primary_key": {one(t["primary_key"])},', '   "columns": [']
        lines += [f"    {one(c)}," for c in t["columns"]]
        lines[-1] = lines[-1].rstrip(",")
        lines += ["   ]", "  }" + ("," if i < len(view["tables"]) - 1 else "")]
    lines += [" ],", ' "foreign_keys": [']
    lines += [f"  {one(fk)}," for fk in view["foreign_keys"]]
    if view["foreign_keys"]:
        lines[-1] = lines[-1].rstrip(",")
    lines += [" ]", "}"]
    return "\n".join(lines) + "\n"


def test_at_least_seven_fixtures() -> None:
    assert len(CASES) >= 7


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str) -> None:
    got = compact(load_schema(FIXTURES / f"{name}.sql"))
    golden = FIXTURES / f"{name}.expected.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(dump_golden(got), encoding="utf-8")
    assert got == json.loads(golden.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", CASES)
def test_explicit_dialect_matches_detection(name: str) -> None:
    detected = load_schema(FIXTURES / f"{name}.sql")
    explicit = load_schema(FIXTURES / f"{name}.sql", dialect=detected.dialect)
    assert compact(explicit) == compact(detected)
    assert detected.fingerprint == explicit.fingerprint
    # The fixture's file name says which dialect it is written in.
    assert detected.dialect == name.split("_")[0] or name.startswith("unicode")


@pytest.mark.parametrize("text, dialect", [
    ("CREATE TABLE t (a UInt64, b Nullable(String)) ENGINE = MergeTree ORDER BY a;", "clickhouse"),
    ("CREATE TABLE `t` (`a` int NOT NULL AUTO_INCREMENT, PRIMARY KEY (`a`)) ENGINE=InnoDB;", "mysql"),
    ("CREATE TABLE t (a SERIAL PRIMARY KEY, b text DEFAULT 'x'::text);", "postgres"),
    ("CREATE TABLE `p.d.t` (a INT64, b STRING);", "bigquery"),
    ("CREATE TABLE t (a NUMBER(38,0), b VARIANT);", "snowflake"),
    ("CREATE TABLE t (a INTEGER PRIMARY KEY AUTOINCREMENT) WITHOUT ROWID;", "sqlite"),
    ("CREATE TABLE t (a INTEGER, b VARCHAR);", "duckdb"),
    # Type words used as *names*, or inside comments and strings, are no hints.
    ("CREATE TABLE variant (string VARCHAR, serial INTEGER); -- INT64 VARIANT\n", "duckdb"),
])
def test_detection(text: str, dialect: str) -> None:
    assert detect_dialects(text)[0] == dialect
    assert parse_ddl(text).dialect == dialect


def test_supported_dialects_and_aliases() -> None:
    assert SUPPORTED_DIALECTS[:7] == ("duckdb", "postgres", "mysql", "sqlite", "clickhouse", "snowflake", "bigquery")
    assert "trino" in SUPPORTED_DIALECTS  # anything sqlglot knows
    assert parse_ddl("CREATE TABLE t (a INT);", dialect="PostgreSQL").dialect == "postgres"


# -- fingerprint ------------------------------------------------------------------------------

BASE = """
CREATE TABLE users (user_id BIGINT PRIMARY KEY, country VARCHAR, age INTEGER NOT NULL);
CREATE TABLE sessions (session_id BIGINT PRIMARY KEY, user_id BIGINT REFERENCES users(user_id), revenue DOUBLE);
"""
REORDERED = """-- same schema, other order, other spacing, comments
create table sessions (
    revenue   double,            -- money
    user_id   bigint references users (user_id),
    session_id bigint primary key
);
/* users last */
CREATE TABLE users (age INTEGER NOT NULL,country VARCHAR,user_id BIGINT PRIMARY KEY);
"""


def test_fingerprint_stable_under_layout_changes() -> None:
    assert parse_ddl(BASE).fingerprint == parse_ddl(REORDERED).fingerprint


@pytest.mark.parametrize("changed", [
    BASE.replace("age INTEGER", "age VARCHAR"),                      # type change
    BASE.replace("revenue DOUBLE", "revenue DOUBLE, os VARCHAR"),    # added column
    BASE.replace("age INTEGER NOT NULL", "age INTEGER"),             # nullability
    BASE.replace(" REFERENCES users(user_id)", ""),                  # dropped key
])
def test_fingerprint_changes_with_structure(changed: str) -> None:
    assert parse_ddl(changed).fingerprint != parse_ddl(BASE).fingerprint


# -- details ----------------------------------------------------------------------------------

def test_types_nullability_and_duckdb_types() -> None:
    s = parse_ddl("""CREATE TABLE t (
        a DECIMAL(10,2), b NUMERIC(10), c NUMERIC, d TIME, e UUID, f BLOB, g JSON, h SMALLINT NOT NULL,
        i TIMESTAMPTZ, j REAL, k BOOLEAN, l INTERVAL, m VARCHAR[], PRIMARY KEY (h));""", "duckdb")
    t = s.tables[0]
    assert [c.type for c in t.columns] == ["decimal", "integer", "decimal", "time", "uuid", "blob", "json",
                                           "integer", "timestamp", "float", "boolean", "interval", "other"]
    assert t.column("a").duckdb_type == "DECIMAL(10,2)" and t.column("b").duckdb_type == ""
    assert t.column("h").nullable is False and t.column("a").nullable is True


def test_later_definition_wins_and_alter_add_column() -> None:
    s = parse_ddl("CREATE TABLE u (x INT);\nCREATE TABLE t (a INT REFERENCES u(x));\n"
                  "CREATE OR REPLACE TABLE t (a INT, b INT);\n"
                  "ALTER TABLE t ADD COLUMN c TEXT;\nALTER TABLE t ADD PRIMARY KEY (a);", "postgres")
    assert [t.name for t in s.tables] == ["u", "t"] and s.tables[1].column_names == ["a", "b", "c"]
    assert s.tables[1].primary_key == ["a"]
    assert s.foreign_keys == []  # the key belonged to the replaced definition


def test_foreign_key_to_unknown_table_is_dropped_and_bare_reference_uses_pk() -> None:
    s = parse_ddl("CREATE TABLE u (id INT PRIMARY KEY);\n"
                  "CREATE TABLE t (a INT REFERENCES elsewhere(x), b INT REFERENCES u);", "duckdb")
    assert [(fk.columns, fk.ref_table, fk.ref_columns) for fk in s.foreign_keys] == [(["b"], "u", ["id"])]


def test_ctas_and_views_are_ignored() -> None:
    s = parse_ddl("CREATE TABLE a (x INT);\nCREATE TABLE b AS SELECT * FROM a;\nCREATE VIEW v AS SELECT 1;")
    assert [t.name for t in s.tables] == ["a"]


def test_trailing_comment_belongs_to_the_last_column_on_its_line() -> None:
    s = parse_ddl("CREATE TABLE t (\n  a INT, b INT, -- about b\n  c INT\n    NOT NULL -- about c\n);")
    assert [c.description for c in s.tables[0].columns] == ["", "about b", "about c"]


# -- bad input --------------------------------------------------------------------------------

def _error(path: Path, **kw: Any) -> UserError:
    with pytest.raises(UserError) as info:
        load_schema(path, **kw)
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    err = _error(tmp_path / "nope.sql")
    assert "nope.sql" in str(err) and "not found" in str(err)


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.sql").write_text("  \n")
    err = _error(tmp_path / "empty.sql")
    assert "empty.sql" in str(err) and "empty" in err.message


def test_ddl_that_does_not_parse_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "broken.sql"
    p.write_text("CREATE TABLE ok (a INT);\n\nCREATE TABLE bad (\n  b INT,\n  c INT CHECK (c >),\n  d INT\n);\n")
    err = _error(p)
    assert err.line == 5
    assert "broken.sql:5:" in str(err)
    err = _error(p, dialect="postgres")  # explicit dialect: the same place, no detection hint
    assert "broken.sql:5:" in str(err) and "postgres" in err.message


def test_unterminated_string_names_its_line(tmp_path: Path) -> None:
    p = tmp_path / "quote.sql"
    p.write_text("CREATE TABLE t (\n  a INT,\n  b TEXT DEFAULT 'oops\n);\n")
    err = _error(p)
    assert "quote.sql:3:" in str(err)


def test_ddl_without_create_table(tmp_path: Path) -> None:
    p = tmp_path / "views.sql"
    p.write_text("CREATE VIEW v AS SELECT 1;\nINSERT INTO t VALUES (1);\n")
    err = _error(p)
    assert "views.sql" in str(err) and "no CREATE TABLE" in err.message


def test_unknown_dialect_lists_supported_ones(tmp_path: Path) -> None:
    p = tmp_path / "t.sql"
    p.write_text("CREATE TABLE t (a INT);")
    err = _error(p, dialect="klingon")
    assert "klingon" in err.message and err.hint is not None
    assert all(d in err.hint for d in ("duckdb", "postgres", "clickhouse", "bigquery"))


@pytest.mark.parametrize("name", ["data.duckdb", "data.db", "data.sql"])
def test_binary_file_is_not_a_database(tmp_path: Path, name: str) -> None:
    p = tmp_path / name
    p.write_bytes(bytes(range(256)) * 4)
    err = _error(p)
    assert name in str(err) and ("not a DuckDB or SQLite" in err.message or "not a text" in err.message)


def test_directory_is_rejected(tmp_path: Path) -> None:
    err = _error(tmp_path)
    assert str(tmp_path) in str(err)


def test_unsupported_syntax_names_the_word_sqlglot_stopped_at(tmp_path: Path) -> None:
    # sqlglot degrades what it cannot read to a Command (a table without columns); the error
    # must name the word to change and where it is, with sqlglot's compiled build too
    p = tmp_path / "schema.sql"
    p.write_text("CREATE TABLE t (a INT);\nCREATE TABLE u (b INT) ENGINE = Foo BAR BAZ(1);\n")
    with pytest.raises(UserError) as e:
        load_schema(p)
    assert "unsupported syntax near 'BAR'" in str(e.value)
    assert (e.value.line, e.value.column) == (2, 39)
