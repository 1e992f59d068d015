"""Introspection of DuckDB and SQLite files made here, in tmp_path."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import pytest

from schemadistill.schema import UserError, load_schema
from schemadistill.schema.ddl import parse_ddl
from schemadistill.schema.infer import apply_inference


@pytest.fixture
def duck_file(tmp_path: Path) -> Path:
    # Named unlike its catalog on purpose: the loader must not rely on the file stem.
    p = tmp_path / "my-shop.v2.duckdb"
    con = duckdb.connect(str(p))
    con.execute("""
        CREATE SCHEMA ecommerce;
        CREATE TABLE ecommerce.users (user_id BIGINT PRIMARY KEY, country VARCHAR NOT NULL,
                                      balance DECIMAL(10,2), mood ENUM('ok', 'meh'));
        CREATE TABLE ecommerce.sessions (
            session_id INTEGER, user_id BIGINT REFERENCES ecommerce.users (user_id),
            started_at TIMESTAMPTZ, tags VARCHAR[], PRIMARY KEY (session_id));
        CREATE TABLE pairs (a INTEGER, b INTEGER, PRIMARY KEY (a, b));
        CREATE TABLE pair_notes (a INTEGER, b INTEGER, note TEXT, FOREIGN KEY (a, b) REFERENCES pairs (a, b));
        CREATE VIEW v_users AS SELECT * FROM ecommerce.users;
        COMMENT ON TABLE ecommerce.users IS 'One row per user';
        COMMENT ON COLUMN ecommerce.users.country IS 'Country of the user';
    """)
    con.close()
    return p


def test_duckdb_file(duck_file: Path) -> None:
    s = load_schema(duck_file)
    assert s.dialect == "duckdb" and s.source == str(duck_file)
    assert [t.qualified_name for t in s.tables] == ["ecommerce.users", "ecommerce.sessions", "pairs", "pair_notes"]
    users = s.table("ecommerce.users")
    assert users.description == "One row per user"
    assert users.primary_key == ["user_id"]
    assert [(c.name, c.type, c.nullable, c.description) for c in users.columns] == [
        ("user_id", "integer", False, ""), ("country", "text", False, "Country of the user"),
        ("balance", "decimal", True, ""), ("mood", "text", True, "")]
    assert users.column("balance").duckdb_type == "DECIMAL(10,2)"
    assert users.column("mood").duckdb_type == ""  # enums are filled as free text by the sandbox
    sessions = s.table("sessions")
    assert [c.type for c in sessions.columns] == ["integer", "integer", "timestamp", "other"]
    assert sessions.column("started_at").duckdb_type == "TIMESTAMP WITH TIME ZONE"
    assert [(f.table, f.columns, f.ref_table, f.ref_columns, f.inferred) for f in s.foreign_keys] == [
        ("ecommerce.sessions", ["user_id"], "ecommerce.users", ["user_id"], False),
        ("pair_notes", ["a", "b"], "pairs", ["a", "b"], False)]
    assert s.table("pairs").primary_key == ["a", "b"]
    assert sessions.time_column == "started_at"


def test_duckdb_file_matches_its_ddl(duck_file: Path, tmp_path: Path) -> None:
    """The same tables written as DDL give the same fingerprint as the database."""
    ddl = """
        CREATE TABLE ecommerce.users (user_id BIGINT PRIMARY KEY, country VARCHAR NOT NULL,
                                      balance DECIMAL(10,2), mood ENUM('ok', 'meh'));
        CREATE TABLE ecommerce.sessions (session_id INTEGER PRIMARY KEY,
            user_id BIGINT REFERENCES ecommerce.users (user_id), started_at TIMESTAMPTZ, tags VARCHAR[]);
        CREATE TABLE pairs (a INTEGER, b INTEGER, PRIMARY KEY (a, b));
        CREATE TABLE pair_notes (a INTEGER, b INTEGER, note TEXT, FOREIGN KEY (a, b) REFERENCES pairs (a, b));
    """
    assert load_schema(duck_file).fingerprint == apply_inference(parse_ddl(ddl, "duckdb")).fingerprint


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    p = tmp_path / "app.sqlite"
    con = sqlite3.connect(p)
    con.executescript("""
        CREATE TABLE authors (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,      -- pen name
            joined DATETIME,
            rating NUMERIC(3,1),
            weird MONEYISH,
            untyped
        );
        CREATE TABLE posts (
            post_id INTEGER PRIMARY KEY,
            author_id INTEGER NOT NULL REFERENCES authors,
            title VARCHAR(200),
            score REAL,
            published BOOLEAN
        ) WITHOUT ROWID;
        CREATE TABLE post_tags (post_id INTEGER, tag TEXT, PRIMARY KEY (post_id, tag),
                                FOREIGN KEY (post_id) REFERENCES posts (post_id));
        CREATE TABLE comments (comment_id INTEGER PRIMARY KEY, post_id INTEGER, body BLOB);
        CREATE VIEW v AS SELECT * FROM posts;
    """)
    con.close()
    return p


def test_sqlite_file(sqlite_file: Path) -> None:
    s = load_schema(sqlite_file)
    assert s.dialect == "sqlite"
    assert [t.name for t in s.tables] == ["authors", "posts", "post_tags", "comments"]
    assert all(t.schema is None for t in s.tables)
    authors = s.table("authors")
    assert [(c.name, c.type, c.nullable, c.description) for c in authors.columns] == [
        ("id", "integer", False, ""), ("name", "text", False, "pen name"), ("joined", "timestamp", True, ""),
        ("rating", "decimal", True, ""), ("weird", "other", True, ""), ("untyped", "other", True, "")]
    assert authors.column("rating").duckdb_type == "DECIMAL(3,1)"
    posts = s.table("posts")
    assert [c.type for c in posts.columns] == ["integer", "integer", "text", "float", "boolean"]
    assert s.table("post_tags").primary_key == ["post_id", "tag"]
    assert [(f.table, f.columns, f.ref_table, f.ref_columns, f.inferred) for f in s.foreign_keys] == [
        ("posts", ["author_id"], "authors", ["id"], False),
        ("post_tags", ["post_id"], "posts", ["post_id"], False),
        ("comments", ["post_id"], "posts", ["post_id"], True)]


def test_dialect_argument_sets_the_dialect_of_a_database(sqlite_file: Path) -> None:
    assert load_schema(sqlite_file, dialect="duckdb").dialect == "duckdb"


def test_sidecar_next_to_a_database(duck_file: Path) -> None:
    (duck_file.parent / "schema.yaml").write_text("tables:\n  users:\n    synonyms: [customers]\n")
    assert load_schema(duck_file).table("users").synonyms == ["customers"]


def test_empty_databases(tmp_path: Path) -> None:
    duck = tmp_path / "empty.duckdb"
    duckdb.connect(str(duck)).close()
    lite = tmp_path / "empty.sqlite"
    con = sqlite3.connect(lite)
    con.execute("CREATE TABLE t (a INT)")
    con.execute("DROP TABLE t")
    con.close()
    for p in (duck, lite):
        with pytest.raises(UserError) as info:
            load_schema(p)
        assert p.name in str(info.value) and "no tables" in info.value.message


def test_corrupt_databases(tmp_path: Path) -> None:
    # Right magic bytes, garbage after them: the engines' errors become UserErrors.
    duck = tmp_path / "bad.duckdb"
    duck.write_bytes(b"\x00" * 8 + b"DUCK" + b"\xff" * 4096)
    lite = tmp_path / "bad.sqlite"
    lite.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    for p in (duck, lite):
        with pytest.raises(UserError) as info:
            load_schema(p)
        assert p.name in str(info.value)
