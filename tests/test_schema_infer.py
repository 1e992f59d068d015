"""Inferred foreign keys, column roles and time columns."""

from __future__ import annotations

from pathlib import Path

from schemadistill.schema import ForeignKey, Schema, load_schema
from schemadistill.schema.ddl import parse_ddl
from schemadistill.schema.infer import apply_inference, column_role, infer_foreign_keys, infer_time_column

USERS_SESSIONS = """
CREATE SCHEMA ecommerce;
CREATE TABLE ecommerce.users (user_id BIGINT, country VARCHAR, is_active INTEGER, age BIGINT);
CREATE TABLE ecommerce.sessions (
    user_id BIGINT, session_id BIGINT, action_date DATE, session_duration BIGINT,
    os VARCHAR, browser VARCHAR, is_fraud INTEGER, revenue DOUBLE
);
"""


def _fks(s: Schema) -> list[tuple[str, list[str], str, list[str], bool]]:
    return [(f.table, f.columns, f.ref_table, f.ref_columns, f.inferred) for f in s.foreign_keys]


def test_users_sessions_join_is_inferred() -> None:
    s = apply_inference(parse_ddl(USERS_SESSIONS))
    assert _fks(s) == [("ecommerce.sessions", ["user_id"], "ecommerce.users", ["user_id"], True)]


def test_inferred_keys_do_not_change_the_fingerprint() -> None:
    s = parse_ddl(USERS_SESSIONS)
    before = s.fingerprint
    apply_inference(s)
    assert s.foreign_keys and s.fingerprint == before


def test_no_false_positives() -> None:
    s = parse_ddl("""
        CREATE TABLE users (user_id BIGINT PRIMARY KEY, name VARCHAR);
        CREATE TABLE audit (entity_id BIGINT, paid BOOLEAN, valid INTEGER, uuid UUID, user_id VARCHAR);
        CREATE TABLE nodes (node_id INTEGER PRIMARY KEY, parent_node_id INTEGER);
        CREATE TABLE countries (code VARCHAR PRIMARY KEY);
        CREATE TABLE airports (code VARCHAR, id INTEGER);
    """)
    # entity_id: no table "entities"; audit.user_id is text while users.user_id is a number;
    # parent_node_id is a self reference; code/id are too generic to be keys by name.
    assert infer_foreign_keys(s) == []


def test_plural_forms_id_column_and_declared_keys_win() -> None:
    s = parse_ddl("""
        CREATE TABLE categories (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE boxes (id INTEGER PRIMARY KEY);
        CREATE TABLE person (person_id INTEGER PRIMARY KEY);
        CREATE TABLE items (
            item_id INTEGER PRIMARY KEY, category_id INTEGER, box_id INTEGER, personid INTEGER,
            owner_person_id INTEGER, other_box_id INTEGER REFERENCES boxes(id));
    """)
    got = [(f.columns[0], f.ref_table, f.ref_columns[0]) for f in infer_foreign_keys(s)]
    assert got == [("category_id", "categories", "id"), ("box_id", "boxes", "id"),
                   ("personid", "person", "person_id"), ("owner_person_id", "person", "person_id")]


def test_column_named_like_another_tables_primary_key() -> None:
    s = parse_ddl("""
        CREATE TABLE customers (customer_no INTEGER PRIMARY KEY);
        CREATE TABLE invoices (invoice_no INTEGER PRIMARY KEY, customer_no INTEGER);
        CREATE TABLE customer_notes (customer_no INTEGER PRIMARY KEY, note TEXT);
    """)
    # customer_notes.customer_no is its own key as well: 1:1, no telling which is the parent.
    assert [(f.table, f.ref_table) for f in infer_foreign_keys(s)] == [("invoices", "customers")]


def test_ambiguous_target_prefers_own_schema_else_skips() -> None:
    s = parse_ddl("""
        CREATE TABLE a.users (user_id INT); CREATE TABLE b.users (user_id INT);
        CREATE TABLE a.visits (user_id INT); CREATE TABLE c.visits (user_id INT);
    """)
    assert [(f.table, f.ref_table) for f in infer_foreign_keys(s)] == [("a.visits", "a.users")]


def test_inference_is_deterministic() -> None:
    one = apply_inference(parse_ddl(USERS_SESSIONS))
    two = apply_inference(parse_ddl(USERS_SESSIONS))
    assert one.to_dict() == two.to_dict()


def test_roles() -> None:
    s = apply_inference(parse_ddl("""
        CREATE TABLE users (user_id BIGINT PRIMARY KEY, email VARCHAR, country VARCHAR, is_active INTEGER,
                            verified BOOLEAN, age INTEGER, signup_at TIMESTAMP, birth_year INTEGER,
                            notes TEXT, api_key VARCHAR, profile JSON, balance DECIMAL(10,2), WatchID BIGINT);
        CREATE TABLE logins (login_id INT PRIMARY KEY, user_id BIGINT, os VARCHAR, status VARCHAR);
    """))
    users = s.table("users")
    roles = {c.name: c.role for c in users.columns}
    assert roles == {
        "user_id": "id", "email": "text", "country": "dimension", "is_active": "flag", "verified": "flag",
        "age": "measure", "signup_at": "time", "birth_year": "dimension", "notes": "text", "api_key": "id",
        "profile": "text", "balance": "measure", "WatchID": "id",
    }
    logins = s.table("logins")
    assert [column_role(logins, c, s) for c in logins.columns] == ["id", "id", "dimension", "dimension"]


def test_pinned_role_is_kept() -> None:
    s = parse_ddl("CREATE TABLE t (age INTEGER);")
    s.tables[0].columns[0].role = "dimension"
    apply_inference(s)
    assert s.tables[0].columns[0].role == "dimension"


def test_time_column() -> None:
    s = parse_ddl("""
        CREATE TABLE a (id INT, day DATE);
        CREATE TABLE orders (id INT, order_date DATE, shipped_date DATE, created_at TIMESTAMP);
        CREATE TABLE events (id INT, event_time TIMESTAMP, received TIMESTAMP);
        CREATE TABLE notifications (id INT, sent_at TIMESTAMP, opened_at TIMESTAMP);
        CREATE TABLE spans (id INT, valid_from DATE, valid_until DATE);
        CREATE TABLE plain (id INT, name TEXT);
    """)
    got = {t.name: infer_time_column(t) for t in s.tables}
    assert got == {"a": "day", "orders": "order_date", "events": "event_time", "notifications": "sent_at",
                   "spans": None, "plain": None}


def test_load_schema_applies_inference(tmp_path: Path) -> None:
    p = tmp_path / "s.sql"
    p.write_text(USERS_SESSIONS)
    s = load_schema(p)
    assert s.foreign_keys == [ForeignKey("ecommerce.sessions", ["user_id"], "ecommerce.users", ["user_id"], True)]
    assert s.table("sessions").time_column == "action_date"
    assert all(c.role for t in s.tables for c in t.columns)
