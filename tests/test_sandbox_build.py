"""Sandbox builds: atomic replacement, and loading the user's own data (and its errors)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sandbox_schemas import ecommerce_schema, small_schema

from schemadistill.errors import UserError
from schemadistill.sandbox import build_sandbox, info_path
from schemadistill.sandbox.synth import Synthesizer

USERS = [(1, "Ann", "France", "2022-01-31"), (2, "Bob", "Peru", "2024-02-29"), (3, "Cy", None, None)]
ORDERS = [(10, 1, 9.5, "2023-05-01 10:00:00"), (11, 1, 20.0, "2023-06-01 11:00:00"),
          (12, 2, 3.25, "2024-01-01 12:00:00")]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(db: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as c:
        return c.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


# -- atomic writes -------------------------------------------------------------------------
def _fail_on_second_table(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Synthesizer.generate
    calls = []

    def generate(self, table):
        calls.append(table)
        if len(calls) == 2:
            raise RuntimeError("killed mid-build")
        return real(self, table)

    monkeypatch.setattr(Synthesizer, "generate", generate)


def test_failed_build_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "sandbox.duckdb"
    _fail_on_second_table(monkeypatch)
    with pytest.raises(RuntimeError, match="killed"):
        build_sandbox(small_schema(), out, rows=50, progress=False)
    assert not out.exists() and not info_path(out).exists()
    assert list(tmp_path.iterdir()) == []  # no temporary left behind either


def test_failed_rebuild_keeps_old_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "sandbox.duckdb"
    build_sandbox(small_schema(), out, rows=50, seed=1, progress=False)
    before, info_before = digest(out), info_path(out).read_text()
    _fail_on_second_table(monkeypatch)
    with pytest.raises(RuntimeError):
        build_sandbox(small_schema(), out, rows=80, seed=2, progress=False)
    assert digest(out) == before and info_path(out).read_text() == info_before
    assert len(rows(out, "shop.users")) == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sandbox.duckdb", "sandbox.duckdb.json"]


def test_rebuild_replaces(tmp_path: Path) -> None:
    out = tmp_path / "sandbox.duckdb"
    build_sandbox(small_schema(), out, rows=50, progress=False)
    info = build_sandbox(small_schema(), out, rows=300, progress=False)
    assert info.rows == {"shop.users": 30, "shop.orders": 300}
    assert len(rows(out, "shop.orders")) == 300


def test_progress_bar_does_not_break(tmp_path: Path) -> None:
    info = build_sandbox(small_schema(), tmp_path / "p.duckdb", rows=30, progress=True)
    assert info.rows_total == 50


# -- user data ------------------------------------------------------------------------------
def _duckdb_source(path: Path, schema_name: str = "shop", extra: bool = True) -> Path:
    with duckdb.connect(str(path)) as c:
        if schema_name != "main":
            c.execute(f"CREATE SCHEMA {schema_name}")
        c.execute(f"CREATE TABLE {schema_name}.users (USER_ID INT, Name VARCHAR, country VARCHAR, "
                  f"signup_date VARCHAR{', junk INT' if extra else ''})")
        c.executemany(f"INSERT INTO {schema_name}.users VALUES (?, ?, ?, ?{', 0' if extra else ''})", USERS)
        c.execute(f"CREATE TABLE {schema_name}.orders (order_id INT, user_id INT, amount DOUBLE, "
                  "ordered_at TIMESTAMP)")
        c.executemany(f"INSERT INTO {schema_name}.orders VALUES (?, ?, ?, ?)", ORDERS)
    return path


def test_load_duckdb_file(tmp_path: Path) -> None:
    src = _duckdb_source(tmp_path / "prod.duckdb")
    out = tmp_path / "sandbox.duckdb"
    info = build_sandbox(small_schema(), out, data=src, progress=False)
    assert info.source == str(src) and info.rows == {"shop.users": 3, "shop.orders": 3}
    assert rows(out, "shop.users")[1][:3] == (2, "Bob", "Peru")
    assert str(rows(out, "shop.users")[1][3]) == "2024-02-29"  # VARCHAR cast to the schema's DATE
    assert float(rows(out, "shop.orders")[2][2]) == 3.25
    assert digest(src)  # source untouched and still readable
    assert len(rows(src, "shop.users")) == 3


def test_load_duckdb_file_by_bare_name(tmp_path: Path) -> None:
    src = _duckdb_source(tmp_path / "prod.duckdb", schema_name="main", extra=False)
    info = build_sandbox(small_schema(), tmp_path / "s.duckdb", data=src, progress=False)
    assert info.rows == {"shop.users": 3, "shop.orders": 3}


def test_load_sqlite_file(tmp_path: Path) -> None:
    src = tmp_path / "prod.sqlite"
    with sqlite3.connect(src) as c:
        c.execute("CREATE TABLE users (user_id INTEGER, name TEXT, country TEXT, signup_date TEXT)")
        c.executemany("INSERT INTO users VALUES (?, ?, ?, ?)", USERS)
        c.execute("CREATE TABLE orders (order_id INTEGER, user_id INTEGER, amount, ordered_at TEXT)")
        # a column mixing ints, floats and text, as SQLite allows
        c.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)",
                      [(10, 1, 9, ORDERS[0][3]), (11, 1, "20.5", ORDERS[1][3]), (12, 2, 3.25, ORDERS[2][3])])
    out = tmp_path / "s.duckdb"
    info = build_sandbox(small_schema(), out, data=src, progress=False)
    assert info.rows == {"shop.users": 3, "shop.orders": 3}
    assert [float(r[2]) for r in rows(out, "shop.orders")] == [9.0, 20.5, 3.25]
    assert str(rows(out, "shop.orders")[0][3]) == "2023-05-01 10:00:00"


def test_load_csv_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "Shop.Users.csv").write_text(
        "user_id,name,country,signup_date\n" + "".join(f"{a},{b},{c or ''},{d or ''}\n" for a, b, c, d in USERS))
    (folder / "orders.csv").write_text(
        "order_id,user_id,amount,ordered_at,extra\n" + "".join(f"{a},{b},{c},{d},x\n" for a, b, c, d in ORDERS))
    (folder / "README.md").write_text("not data")
    out = tmp_path / "s.duckdb"
    info = build_sandbox(small_schema(), out, data=folder, progress=False)
    assert info.rows == {"shop.users": 3, "shop.orders": 3} and info.warnings == []
    assert rows(out, "shop.users")[2][2] is None


def test_load_parquet_folder_rest_synthetic(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    pq.write_table(pa.table({"user_id": [5, 6, 7, 8], "name": list("abcd"), "country": ["X"] * 4,
                             "signup_date": pa.array([None] * 4, pa.date32())}), folder / "users.parquet")
    out = tmp_path / "s.duckdb"
    info = build_sandbox(small_schema(), out, data=folder, rows=200, progress=False)
    assert info.rows == {"shop.users": 4, "shop.orders": 200}
    assert len(info.warnings) == 1 and "shop.orders" in info.warnings[0]
    # synthetic orders reference the loaded users
    refs = {r[1] for r in rows(out, "shop.orders")}
    assert refs <= {5, 6, 7, 8} and len(refs) >= 2


def test_data_path_missing(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist") as e:
        build_sandbox(small_schema(), tmp_path / "s.duckdb", data=tmp_path / "nope.duckdb", progress=False)
    assert e.value.file == tmp_path / "nope.duckdb"
    assert not (tmp_path / "s.duckdb").exists()


def test_data_file_of_unknown_kind(tmp_path: Path) -> None:
    bad = tmp_path / "users.csv"
    bad.write_text("user_id\n1\n")
    with pytest.raises(UserError, match="neither a DuckDB nor a SQLite") as e:
        build_sandbox(small_schema(), tmp_path / "s.duckdb", data=bad, progress=False)
    assert "folder" in (e.value.hint or "")


def test_folder_file_matching_no_table(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "customers.csv").write_text("id\n1\n")
    with pytest.raises(UserError, match="customers.csv matches no table") as e:
        build_sandbox(small_schema(), tmp_path / "s.duckdb", data=tmp_path / "d", progress=False)
    assert "shop.users" in e.value.hint and "shop.orders" in e.value.hint
    assert e.value.file == tmp_path / "d" / "customers.csv"


def test_folder_without_data_files(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("hello")
    with pytest.raises(UserError, match="no CSV or Parquet files"):
        build_sandbox(small_schema(), tmp_path / "s.duckdb", data=tmp_path / "d", progress=False)


def test_data_table_missing_columns(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "users.csv").write_text("user_id,name\n1,a\n")
    with pytest.raises(UserError, match="lacks column.*country, signup_date") as e:
        build_sandbox(small_schema(), tmp_path / "s.duckdb", data=tmp_path / "d", progress=False)
    assert e.value.file == tmp_path / "d" / "users.csv"
    assert not (tmp_path / "s.duckdb").exists()


def test_database_missing_a_table(tmp_path: Path) -> None:
    src = tmp_path / "prod.duckdb"
    with duckdb.connect(str(src)) as c:
        c.execute("CREATE TABLE users (user_id INT, name VARCHAR, country VARCHAR, signup_date DATE)")
    with pytest.raises(UserError, match="no table shop.orders") as e:
        build_sandbox(small_schema(), tmp_path / "s.duckdb", data=src, progress=False)
    assert "main.users" in e.value.hint


def test_sqlite_missing_columns(tmp_path: Path) -> None:
    src = tmp_path / "prod.db"
    with sqlite3.connect(src) as c:
        c.execute("CREATE TABLE users (user_id INTEGER)")
        c.execute("CREATE TABLE orders (order_id INTEGER, user_id INTEGER, amount REAL, ordered_at TEXT)")
    with pytest.raises(UserError, match="table users lacks column.*name, country, signup_date"):
        build_sandbox(small_schema(), tmp_path / "s.duckdb", data=src, progress=False)


def test_bad_values_and_not_null(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "users.csv").write_text("user_id,name,country,signup_date\n1,a,b,notadate\n")
    with pytest.raises(UserError, match="cannot load file users.csv"):
        build_sandbox(small_schema(), tmp_path / "s.duckdb", data=tmp_path / "d", progress=False)
    (tmp_path / "d" / "users.csv").write_text("user_id,name,country,signup_date\n,a,b,2022-01-01\n")
    with pytest.raises(UserError, match="NOT NULL"):
        build_sandbox(small_schema(), tmp_path / "s.duckdb", data=tmp_path / "d", progress=False)


def test_schema_without_tables(tmp_path: Path) -> None:
    schema = ecommerce_schema()
    schema.tables, schema.foreign_keys = [], []
    with pytest.raises(UserError, match="no tables"):
        build_sandbox(schema, tmp_path / "s.duckdb", progress=False)


def test_unfillable_type_is_a_user_error(tmp_path: Path) -> None:
    schema = small_schema()
    col = schema.tables[0].column("country")
    col.type, col.duckdb_type, col.nullable = "other", "STRUCT(a INT)", False
    with pytest.raises(UserError, match="cannot fill shop.users with synthetic rows"):
        build_sandbox(schema, tmp_path / "s.duckdb", progress=False)
    assert list(tmp_path.iterdir()) == []
