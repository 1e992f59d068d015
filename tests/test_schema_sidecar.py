"""The schema.yaml sidecar: applied onto the schema, and every mistake a UserError at file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from schemadistill.schema import UserError, load_schema

DDL = """
CREATE SCHEMA ecommerce;
CREATE TABLE ecommerce.users (user_id BIGINT, country VARCHAR, is_active INTEGER, age BIGINT);
CREATE TABLE ecommerce.sessions (
    user_id BIGINT, session_id BIGINT, action_date DATE, os VARCHAR, is_fraud INTEGER, revenue DOUBLE
);
CREATE TABLE archive.sessions (session_id BIGINT);
"""

SIDECAR = """\
tables:
  ecommerce.users:            # qualified name
    description: "One row per registered user."
    synonyms: [customers, clients, buyers]
    time_column: null
    columns:
      user_id:
        description: "Unique id of the user"
        synonyms: [customer id]
        examples: [1001, 1002]
        role: id
      country: "Country of the user"   # shorthand
      age: {role: dimension}
  ecommerce.sessions:
    time_column: action_date
metrics:
  revenue:
    sql: "SUM(revenue)"
    table: ecommerce.sessions
    description: "Total revenue"
    synonyms: [sales, turnover, gmv]
    unit: currency
  fraud_rate:
    sql: "100.0 * COUNT(DISTINCT CASE WHEN is_fraud = 1 THEN user_id END) / COUNT(DISTINCT user_id)"
    table: ecommerce.sessions
    unit: percent
  user_count: {sql: "COUNT(*)", table: users}
dimensions:
  os: {sql: os, table: ecommerce.sessions, synonyms: [platform, operating system]}
  age_band: {sql: "CASE WHEN users.age < 30 THEN 'young' ELSE 'older' END", table: users}
filters:
  purchase:
    sql: "revenue > 0"
    table: ecommerce.sessions
    synonyms: [made a purchase, with a purchase]
  adult: {sql: "age >= 18 AND age IS NOT NULL", table: users}
rules:
  - "A customer made a purchase when one of their sessions has revenue > 0."
"""


def write(tmp_path: Path, sidecar: str, name: str = "schema.yaml") -> Path:
    (tmp_path / "schema.sql").write_text(DDL)
    (tmp_path / name).write_text(textwrap.dedent(sidecar))
    return tmp_path / "schema.sql"


def test_happy_path(tmp_path: Path) -> None:
    s = load_schema(write(tmp_path, SIDECAR))
    users = s.table("ecommerce.users")
    assert users.description == "One row per registered user."
    assert users.synonyms == ["customers", "clients", "buyers"]
    uid = users.column("user_id")
    assert (uid.description, uid.synonyms, uid.examples, uid.role) == (
        "Unique id of the user", ["customer id"], [1001, 1002], "id")
    assert users.column("country").description == "Country of the user"
    assert users.column("age").role == "dimension"  # pinned: inference would say measure
    assert s.table("ecommerce.sessions").time_column == "action_date"
    assert [(m.name, m.table, m.unit) for m in s.metrics] == [
        ("revenue", "ecommerce.sessions", "currency"), ("fraud_rate", "ecommerce.sessions", "percent"),
        ("user_count", "ecommerce.users", "")]
    assert s.metrics[0].synonyms == ["sales", "turnover", "gmv"] and s.metrics[0].description == "Total revenue"
    assert [(d.name, d.sql, d.table) for d in s.dimensions][0] == ("os", "os", "ecommerce.sessions")
    assert s.rules == ["A customer made a purchase when one of their sessions has revenue > 0."]
    assert [(f.name, f.sql, f.table, f.synonyms) for f in s.filters] == [
        ("purchase", "revenue > 0", "ecommerce.sessions", ["made a purchase", "with a purchase"]),
        ("adult", "age >= 18 AND age IS NOT NULL", "ecommerce.users", [])]
    assert s.to_dict()["filters"][0]["sql"] == "revenue > 0"


def test_sidecar_does_not_change_the_fingerprint(tmp_path: Path) -> None:
    with_sidecar = load_schema(write(tmp_path, SIDECAR))
    (tmp_path / "schema.yaml").unlink()
    assert load_schema(tmp_path / "schema.sql").fingerprint == with_sidecar.fingerprint


def test_explicit_sidecar_path_and_yml(tmp_path: Path) -> None:
    ddl = write(tmp_path, "tables:\n  users: {description: from yml}\n", name="schema.yml")
    assert load_schema(ddl).table("users").description == "from yml"
    other = tmp_path / "meta.yaml"
    other.write_text("tables:\n  users: {description: explicit}\n")
    assert load_schema(ddl, sidecar=other).table("users").description == "explicit"


def test_empty_sidecar_is_fine(tmp_path: Path) -> None:
    assert load_schema(write(tmp_path, "# nothing yet\n")).metrics == []
    assert load_schema(write(tmp_path, "tables:\nmetrics:\nrules:\n")).metrics == []


def error(tmp_path: Path, sidecar: str) -> UserError:
    with pytest.raises(UserError) as info:
        load_schema(write(tmp_path, sidecar))
    err = info.value
    assert str(err).startswith(str(tmp_path / "schema.yaml") + f":{err.line}")
    return err


def test_yaml_that_does_not_parse(tmp_path: Path) -> None:
    err = error(tmp_path, "tables:\n  users:\n    description: [unclosed\n")
    assert "invalid YAML" in err.message and err.line == 4


def test_unknown_table(tmp_path: Path) -> None:
    err = error(tmp_path, "tables:\n  ecommerce.user:\n    description: x\n")
    assert err.line == 2 and "ecommerce.user" in err.message
    assert "ecommerce.users" in (err.hint or "")


def test_ambiguous_bare_table_name(tmp_path: Path) -> None:
    err = error(tmp_path, "tables:\n  sessions: {description: x}\n")
    assert "ambiguous" in err.message and "archive.sessions" in (err.hint or "")


def test_unknown_column_names_table_and_close_matches(tmp_path: Path) -> None:
    err = error(tmp_path, "tables:\n  users:\n    columns:\n      user_id: ok\n      contry: x\n")
    assert err.line == 5
    assert "contry" in err.message and "ecommerce.users" in err.message
    assert "country" in (err.hint or "")


def test_unknown_time_column(tmp_path: Path) -> None:
    err = error(tmp_path, "tables:\n  users:\n    time_column: created\n")
    assert err.line == 3 and "created" in err.message


def test_bad_role(tmp_path: Path) -> None:
    err = error(tmp_path, "tables:\n  users:\n    columns:\n      age: {role: number}\n")
    assert err.line == 4 and "number" in err.message and "measure" in (err.hint or "")


def test_metric_sql_that_does_not_parse(tmp_path: Path) -> None:
    err = error(tmp_path, "metrics:\n  revenue:\n    table: users\n    sql: SUM(age\n")
    assert err.line == 4 and "does not parse" in err.message


def test_metric_sql_with_unknown_column(tmp_path: Path) -> None:
    err = error(tmp_path, "metrics:\n  revenue:\n    sql: SUM(revenu)\n    table: ecommerce.sessions\n")
    assert err.line == 3 and "revenu" in err.message and "revenue" in (err.hint or "")


def test_metric_sql_reading_another_table(tmp_path: Path) -> None:
    err = error(tmp_path, "metrics:\n  m:\n    sql: SUM(sessions.revenue)\n    table: users\n")
    assert "only use columns of ecommerce.users" in err.message


def test_metric_sql_that_is_a_query(tmp_path: Path) -> None:
    err = error(tmp_path, "metrics:\n  m:\n    sql: SELECT SUM(age) FROM users\n    table: users\n")
    assert "expression" in err.message


@pytest.mark.parametrize("body, missing", [
    ("metrics:\n  revenue:\n    table: users\n", "no sql"),
    ("metrics:\n  revenue:\n    sql: SUM(age)\n", "no table"),
    ("dimensions:\n  country: {sql: country}\n", "no table"),
])
def test_metric_or_dimension_without_sql_or_table(tmp_path: Path, body: str, missing: str) -> None:
    err = error(tmp_path, body)
    assert err.line == 2 and missing in err.message


@pytest.mark.parametrize("body, line, says", [
    ("filters:\n  purchase:\n    sql: SUM(revenue)\n    table: ecommerce.sessions\n", 3, "must be a condition"),
    ("filters:\n  purchase:\n    sql: revenu > 0\n    table: ecommerce.sessions\n", 3, "revenu"),
    ("filters:\n  purchase:\n    sql: revenue > 0\n", 2, "no table"),
    ("filters:\n  purchase: {sql: users.age > 1, table: ecommerce.sessions}\n", 2, "only use columns"),
])
def test_filter_mistakes(tmp_path: Path, body: str, line: int, says: str) -> None:
    err = error(tmp_path, body)
    assert err.line == line and says in err.message


def test_dimension_with_unknown_column(tmp_path: Path) -> None:
    err = error(tmp_path, "dimensions:\n  platform: {sql: platform, table: ecommerce.sessions}\n")
    assert err.line == 2 and "platform" in err.message


def test_unknown_keys_and_duplicates(tmp_path: Path) -> None:
    err = error(tmp_path, "metric:\n  m: {sql: COUNT(*), table: users}\n")
    assert err.line == 1 and "metrics" in (err.hint or "")
    err = error(tmp_path, "tables:\n  users:\n    descripton: x\n")
    assert err.line == 3 and "description" in (err.hint or "")
    err = error(tmp_path, "tables:\n  users: {description: a}\n  users: {description: b}\n")
    assert err.line == 3 and "twice" in err.message


def test_wrong_shapes(tmp_path: Path) -> None:
    assert error(tmp_path, "- just\n- a list\n").line == 1
    assert "list of text" in error(tmp_path, "tables:\n  users:\n    synonyms: [{a: 1}]\n").message


def test_missing_explicit_sidecar(tmp_path: Path) -> None:
    ddl = write(tmp_path, "")
    with pytest.raises(UserError) as info:
        load_schema(ddl, sidecar=tmp_path / "nope.yaml")
    assert "nope.yaml" in str(info.value) and "not found" in info.value.message
