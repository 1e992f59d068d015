"""Value grounding (schemadistill/grounding.py) on real DuckDB databases of two schemas.

    .venv/bin/pytest -q tests/test_grounding.py

The golden cases live in tests/fixtures/grounding/*.sql: the model's SQL, the question, and
the grounded SQL (or "unchanged"); every grounded statement must also run in the sandbox.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from schemadistill.grounding import ValueIndex, ValueRef, ground_sql
from schemadistill.sandbox import Executor
from schemadistill.schema import load_schema
from schemadistill.schema.model import Schema

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "fixtures" / "grounding"

SHOP_DDL = """
CREATE SCHEMA shop;
CREATE TABLE shop.customers (customer_id INTEGER PRIMARY KEY, full_name VARCHAR, segment VARCHAR);
CREATE TABLE shop.addresses (address_id INTEGER PRIMARY KEY, city VARCHAR, country VARCHAR);
CREATE TABLE shop.orders (
    order_id INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES shop.customers (customer_id),
    ship_address_id INTEGER REFERENCES shop.addresses (address_id),
    bill_address_id INTEGER REFERENCES shop.addresses (address_id),
    channel VARCHAR,
    amount DECIMAL(10, 2)
);
"""


def _ecommerce(tmp: Path) -> tuple[Schema, Path]:
    schema = load_schema(ROOT / "examples" / "ecommerce" / "schema.sql")
    db = tmp / "eco_data.duckdb"  # not ecommerce.duckdb: the catalog would shadow the schema
    con = duckdb.connect(str(db))
    con.execute((ROOT / "examples" / "ecommerce" / "schema.sql").read_text())
    countries = ["Germany", "United Kingdom", "France", "Netherlands"]
    con.executemany("INSERT INTO ecommerce.users VALUES (?, ?, ?, ?)",
                    [(i, countries[i % 4], i % 2, 20 + i) for i in range(40)])
    oses, browsers = ["Windows", "iOS", "Android"], ["Chrome", "Safari", "Firefox"]
    con.executemany("INSERT INTO ecommerce.sessions VALUES (?, ?, DATE '2024-01-01' + ?, ?, ?, ?, ?, ?)",
                    [(i % 40, i, i % 30, 60 + i, oses[i % 3], browsers[i % 5 % 3], int(i % 7 == 0), float(i % 4))
                     for i in range(200)])
    con.close()
    return schema, db


def _shop(tmp: Path) -> tuple[Schema, Path]:
    ddl = tmp / "shop.sql"
    ddl.write_text(SHOP_DDL)
    schema = load_schema(ddl)
    db = tmp / "shop_data.duckdb"
    con = duckdb.connect(str(db))
    con.execute(SHOP_DDL)
    con.executemany("INSERT INTO shop.customers VALUES (?, ?, ?)",
                    [(i, f"Customer Number {i}", ["Consumer", "Corporate"][i % 2]) for i in range(300)])
    con.executemany("INSERT INTO shop.addresses VALUES (?, ?, ?)",
                    [(i, ["Tokyo", "Berlin"][i % 2], ["Japan", "Germany"][i % 2]) for i in range(10)])
    con.executemany("INSERT INTO shop.orders VALUES (?, ?, ?, ?, ?, ?)",
                    [(i, i % 300, i % 10, (i + 1) % 10, ["Mobile App", "web"][i % 2], 10 + i) for i in range(500)])
    con.close()
    return schema, db


DATABASES = {"ecommerce": _ecommerce, "shop": _shop}


def _cases(name: str) -> list[tuple[str, str, str | None]]:
    """(question, sql, grounded or None for unchanged) from a golden file."""
    text = (GOLDEN / f"{name}.sql").read_text(encoding="utf-8")
    found = re.findall(r"^-- Q: (.+)\n(.+)\n-- => (.+)$", text, flags=re.M)
    assert found, f"no cases in {name}.sql"
    return [(q, sql, None if out == "unchanged" else out) for q, sql, out in found]


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Schema, Path, ValueIndex]]:
    out = {}
    for name, make in DATABASES.items():
        schema, db = make(tmp_path_factory.mktemp(name))
        with Executor(db) as ex:
            out[name] = (schema, db, ValueIndex.from_database(ex, schema))
    return out


@pytest.mark.parametrize("name,case", [(n, c) for n in DATABASES for c in _cases(n)],
                         ids=[f"{n}:{c[0][:40]}" for n in DATABASES for c in _cases(n)])
def test_golden_cases(databases: dict[str, tuple[Schema, Path, ValueIndex]], name: str,
                      case: tuple[str, str, str | None]) -> None:
    schema, db, index = databases[name]
    question, sql, expected = case
    g = ground_sql(sql, question, index, "duckdb", schema)
    if expected is None:
        assert (g.sql, g.changes) == (sql, [])
        return
    assert g.sql == expected
    assert g.changes
    with Executor(db) as ex:
        res = ex.run(g.sql)
        assert res.ok, res.error
        # the cases are runnable model output, except a literal the model garbled ('#2-12-28')
        assert ex.run(sql).ok or "garbled" in question


def test_index_takes_low_cardinality_text_columns(databases: dict[str, tuple[Schema, Path, ValueIndex]]) -> None:
    _, _, eco = databases["ecommerce"]
    assert set(eco.columns) == {("ecommerce.users", "country"), ("ecommerce.sessions", "os"),
                                ("ecommerce.sessions", "browser")}
    assert eco.columns[("ecommerce.sessions", "browser")] == {"chrome", "safari", "firefox"}
    # the sidecar's examples count though the data lacks them (no Canada, no United States here)
    assert eco.columns[("ecommerce.users", "country")] == {
        "germany", "united kingdom", "france", "netherlands", "united states", "canada"}
    _, _, shop = databases["shop"]
    assert ("shop.customers", "full_name") not in shop.columns  # 300 distinct names: not a dimension
    assert ("shop.orders", "channel") in shop.columns
    assert "web" not in shop.phrases  # a lower-case common word is never taken for a value
    assert "mobile app" in shop.phrases


def test_mentions_longest_alias_case_and_ambiguity() -> None:
    index = ValueIndex.from_values({("t.users", "country"): ["United Kingdom", "United States", "Germany"],
                                    ("t.sessions", "browser"): ["Edge", "Chrome"],
                                    ("t.shops", "city"): ["Berlin"], ("t.stores", "city"): ["Berlin"]})
    names = [m.ref.value for m in index.mentions("Users in the United Kingdom vs the U.S. and German ones")]
    assert names == ["United Kingdom", "United States", "Germany"]
    assert [m.ref.value for m in index.mentions("Sessions on Edge and chrome")] == ["Edge", "Chrome"]
    assert index.mentions("edge cases of sessions") == []  # a common word needs the value's capitals
    assert index.mentions("Edge sessions") == []  # ... and not as the first word of a sentence
    assert index.mentions("Sales in Berlin") == []  # two columns hold Berlin: ambiguous
    assert index.mentions("") == []


def test_json_round_trip_keeps_every_rule(databases: dict[str, tuple[Schema, Path, ValueIndex]],
                                          tmp_path: Path) -> None:
    schema, _, index = databases["ecommerce"]
    index.save(tmp_path / "values.json")
    back = ValueIndex.load(tmp_path / "values.json")
    assert back.columns == index.columns and back.phrases == index.phrases and back.filters == index.filters
    assert back.measures == index.measures and back.measures["session length"] == ("ecommerce.sessions", "session_duration")
    # "a purchase": the core of "made a purchase" / "with a purchase", as in "there is a purchase"
    assert set(back.filters) >= {"made a purchase", "purchase revenue", "a purchase"}
    assert "purchases" not in back.filters  # "made purchases" gives no core: no article
    assert back.names == index.names and back.names["date of action"] == ("ecommerce.sessions", "action_date")
    assert back.names["session duration"] == ("ecommerce.sessions", "session_duration")
    assert back.metrics == index.metrics and back.metrics["fraud rate"][0] == "fraud_rate"
    assert back.dimensions == index.dimensions and back.dimensions["web client"] == ("ecommerce.sessions", "browser")
    for question, sql, _ in _cases("ecommerce"):
        assert ground_sql(sql, question, back, "duckdb", schema) == ground_sql(sql, question, index, "duckdb", schema)


def test_without_index_or_schema() -> None:
    sql = "SELECT COUNT(*) FROM ecommerce.sessions;"
    assert ground_sql(sql, "How many sessions in Germany?", None).sql == sql
    index = ValueIndex.from_values({("ecommerce.users", "country"): ["Germany"]})
    # no schema: no foreign keys to reach users along, so nothing changes
    assert ground_sql(sql, "How many sessions in Germany?", index).changes == []
    assert ValueRef("ecommerce.users", "country", "Germany") in [r for r, _ in index.phrases["germany"]]
