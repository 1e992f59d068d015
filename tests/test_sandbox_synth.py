"""Synthetic sandbox data: reproducible, FK-consistent, and shaped like real data."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from sandbox_schemas import ecommerce_schema

from schemadistill.sandbox import SandboxInfo, Synthesizer, build_sandbox, info_path
from schemadistill.sandbox.synth import plan_sizes, topo_order

ROWS = 1000


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SandboxInfo]:
    out = tmp_path_factory.mktemp("sb") / "sandbox.duckdb"
    return out, build_sandbox(ecommerce_schema(), out, rows=ROWS, seed=7, progress=False)


@pytest.fixture(scope="module")
def con(built: tuple[Path, SandboxInfo]):
    c = duckdb.connect(str(built[0]), read_only=True)
    yield c
    c.close()


def one(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchone()[0]


def _generate_all(seed: int) -> dict[str, pa.Table]:
    syn = Synthesizer(ecommerce_schema(), rows=300, seed=seed)
    return {t.qualified_name: syn.generate(t).data for t in syn.order()}


def test_same_seed_same_rows_different_seed_different_rows() -> None:
    a, b, c = _generate_all(1), _generate_all(1), _generate_all(2)
    for name in a:
        assert a[name].equals(b[name]), name
    assert any(not a[name].equals(c[name]) for name in a)
    assert not a["ecommerce.orders"].equals(c["ecommerce.orders"])


def test_rebuild_is_identical(tmp_path: Path) -> None:
    schema = ecommerce_schema()
    dumps = []
    for i in range(2):
        out = tmp_path / f"s{i}.duckdb"
        build_sandbox(schema, out, rows=200, seed=3, progress=False)
        with duckdb.connect(str(out), read_only=True) as c:
            dumps.append({t.qualified_name: c.execute(f"SELECT * FROM {t.qualified_name}").fetchall()
                          for t in schema.tables})
    assert dumps[0] == dumps[1]


def test_tables_live_under_their_db_schema(con, built) -> None:
    got = set(con.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables()").fetchall())
    for t in ecommerce_schema().tables:
        assert ((t.schema or "main") + "." + t.name,) in got
        types = dict(con.execute(f"SELECT column_name, data_type FROM information_schema.columns "
                                 f"WHERE table_schema = '{t.schema or 'main'}' AND table_name = '{t.name}'"
                                 ).fetchall())
        for c in t.columns:
            assert types[c.name].split("(")[0] == c.sandbox_type().split("(")[0], (t.name, c.name)


def test_info_file(built) -> None:
    out, info = built
    assert info_path(out).name == "sandbox.duckdb.json"
    again = SandboxInfo.read(out)
    assert again == info
    assert info.source == "synthetic" and info.seed == 7
    assert info.fingerprint == ecommerce_schema().fingerprint
    assert info.rows["ecommerce.orders"] == ROWS and info.seconds > 0


def test_sizes_dimension_tables_are_smaller(built) -> None:
    rows = built[1].rows
    assert rows["ecommerce.users"] == rows["ecommerce.products"] == ROWS // 10
    assert rows["ecommerce.orders"] == rows["analytics.sessions"] == ROWS
    assert rows["hr.departments"] == ROWS // 10  # its FK to employees is the cycle's back edge
    assert plan_sizes(ecommerce_schema(), 50)["ecommerce.users"] == 20


def test_topological_order_breaks_the_cycle_on_the_nullable_edge() -> None:
    order = [t.qualified_name for t in topo_order(ecommerce_schema())]
    assert order.index("ecommerce.users") < order.index("ecommerce.orders") < order.index(
        "ecommerce.order_items")
    assert order.index("hr.departments") < order.index("hr.employees")


@pytest.mark.parametrize("child,cols,parent,pcols", [
    ("ecommerce.orders", "user_id", "ecommerce.users", "user_id"),
    ("ecommerce.order_items", "order_id", "ecommerce.orders", "order_id"),
    ("ecommerce.order_items", "product_id", "ecommerce.products", "product_id"),
    ("analytics.sessions", "user_id", "ecommerce.users", "user_id"),
    ("hr.employees", "department_id", "hr.departments", "department_id"),
    ("hr.departments", "head_employee_id", "hr.employees", "employee_id"),
    ("hr.employees", "manager_id", "hr.employees", "employee_id"),
])
def test_foreign_keys_are_consistent(con, child, cols, parent, pcols) -> None:
    orphans = one(con, f"SELECT count(*) FROM {child} c WHERE c.{cols} IS NOT NULL AND NOT EXISTS "
                       f"(SELECT 1 FROM {parent} p WHERE p.{pcols} = c.{cols})")
    assert orphans == 0
    assert one(con, f"SELECT count(*) FROM {child} WHERE {cols} IS NOT NULL") > 0


def test_some_parents_have_no_children_and_some_have_many(con) -> None:
    childless = one(con, "SELECT count(*) FROM ecommerce.users u WHERE NOT EXISTS "
                         "(SELECT 1 FROM analytics.sessions s WHERE s.user_id = u.user_id)")
    assert 0 < childless < ROWS // 10
    top, median = con.execute("SELECT max(n), median(n) FROM (SELECT count(*) n FROM ecommerce.orders "
                              "GROUP BY user_id)").fetchone()
    assert top >= 3 * median


def test_primary_keys_unique(con) -> None:
    for t in ecommerce_schema().tables:
        key = ", ".join(t.primary_key)
        total = one(con, f"SELECT count(*) FROM {t.qualified_name}")
        assert one(con, f"SELECT count(*) FROM (SELECT DISTINCT {key} FROM {t.qualified_name})") == total
        assert one(con, f"SELECT count(*) FROM {t.qualified_name} WHERE ({key}) IS NULL") == 0
    # line numbers restart for each order
    assert one(con, "SELECT max(line_no) FROM ecommerce.order_items") > 1


def test_not_null_honoured_and_nulls_present(con) -> None:
    for t in ecommerce_schema().tables:
        for c in t.columns:
            nulls = one(con, f'SELECT count(*) FROM {t.qualified_name} WHERE "{c.name}" IS NULL')
            if not c.nullable or c.name in t.primary_key:
                assert nulls == 0, (t.name, c.name)
    for col in ("country", "age", "created_at"):
        assert one(con, f"SELECT count(*) FROM ecommerce.users WHERE {col} IS NULL") > 0
    assert one(con, "SELECT count(*) FROM ecommerce.orders WHERE total_amount IS NULL") > 0


def test_dates_have_leap_day_month_ends_and_span_years(con) -> None:
    for table, col in [("ecommerce.users", "signup_date"), ("ecommerce.orders", "ordered_at::DATE"),
                       ("analytics.sessions", "started_at::DATE")]:
        assert one(con, f"SELECT count(*) FROM {table} WHERE {col} = DATE '2024-02-29'") >= 1
        assert one(con, f"SELECT count(*) FROM {table} WHERE {col} = last_day({col})") >= 2
        assert one(con, f"SELECT count(DISTINCT year({col})) FROM {table}") >= 4
    lo, hi = con.execute("SELECT min(ordered_at), max(ordered_at) FROM ecommerce.orders").fetchone()
    assert lo.year == 2021 and hi.year == 2024
    # a shipment never precedes its order
    assert one(con, "SELECT count(*) FROM ecommerce.orders WHERE shipped_at < ordered_at") == 0
    assert one(con, "SELECT min(birth_date) FROM hr.employees").year < 1980


def test_numeric_shapes(con) -> None:
    total, distinct = con.execute(
        "SELECT count(total_amount), count(DISTINCT total_amount) FROM ecommerce.orders").fetchone()
    assert distinct < total  # ties
    assert one(con, "SELECT count(*) FROM analytics.sessions WHERE revenue = 0") > 0  # zero-inflated
    assert one(con, "SELECT min(age) >= 18 AND max(age) <= 80 FROM ecommerce.users")
    assert con.execute("SELECT min(rating), max(rating) FROM ecommerce.products").fetchone() == (1, 5)
    ones = one(con, "SELECT avg(has_purchase) FROM analytics.sessions")
    assert 0.05 < ones < 0.4
    assert one(con, "SELECT avg(is_premium::INT) FROM ecommerce.users") < 0.5
    assert one(con, "SELECT max(price) FROM ecommerce.products") < 100_000_000


def test_categories_are_skewed_and_plausible(con) -> None:
    counts = [r[0] for r in con.execute("SELECT count(*) FROM ecommerce.users WHERE country IS NOT NULL "
                                        "GROUP BY country ORDER BY 1 DESC").fetchall()]
    assert counts[0] >= 3 * counts[len(counts) // 2]
    countries = {r[0] for r in con.execute("SELECT DISTINCT country FROM ecommerce.users").fetchall()}
    assert {"United States", "United Kingdom"} <= countries
    oses = {r[0] for r in con.execute("SELECT DISTINCT os FROM analytics.sessions").fetchall()} - {None}
    assert oses <= {"Windows", "iOS", "Android", "macOS", "Linux"} and len(oses) >= 4
    plans = {r[0] for r in con.execute("SELECT DISTINCT plan FROM ecommerce.users").fetchall()} - {None}
    assert plans <= {"free", "pro", "team"}  # sidecar examples become the categories
    assert one(con, "SELECT count(*) FROM ecommerce.users WHERE email NOT LIKE '%_@_%.__%'") == 0


def test_other_type_families(con) -> None:
    row = con.execute("SELECT shift_start, notice, avatar, profile->>'source', tags, level "
                      "FROM hr.employees WHERE notice IS NOT NULL AND avatar IS NOT NULL "
                      "AND profile IS NOT NULL AND tags IS NOT NULL AND shift_start IS NOT NULL LIMIT 1"
                      ).fetchone()
    assert row is not None and isinstance(row[2], bytes) and row[3] and isinstance(row[4], list)
    assert one(con, "SELECT max(level) <= 32767 FROM hr.employees")


def test_column_names_beat_inferred_roles() -> None:
    """The schema stage marks names/emails/URLs role "text"; they must not become sentences."""
    from sandbox_schemas import C

    from schemadistill.schema.model import Schema, Table

    countries = Table("countries", None, [C("country_code", "text", False, role="id"),
                                          C("name", "text", role="text")], primary_key=["country_code"])
    people = Table("customers", None, [
        C("id", "integer", False), C("work_email", "text", role="text"), C("full_name", "text", role="text"),
        C("website", "text", role="text"), C("notes", "text", role="text"), C("birth_year", "integer"),
        C("ticket_no", "text"), C("segment", "text", role="dimension"),
    ], primary_key=["id"])
    syn = Synthesizer(Schema(tables=[countries, people]), rows=100, seed=0)
    got = {t.name: syn.generate(t).data.to_pydict() for t in syn.order()}
    codes, names = got["countries"]["c0"], got["countries"]["c1"]
    assert codes[:3] == ["US", "GB", "DE"] and len(set(codes)) == len(codes)
    assert "United States" in names
    cust = got["customers"]
    assert all("@" in e and " " not in e for e in cust["c1"] if e)
    assert all(len(n.split()) == 2 for n in cust["c2"] if n)
    assert all(u.startswith("https://") for u in cust["c3"] if u)
    assert any(len(n.split()) >= 4 for n in cust["c4"] if n)  # free text
    assert all(1945 <= y <= 2006 for y in cust["c5"] if y)
    assert {s for s in cust["c7"] if s} <= {"consumer", "smb", "mid_market", "enterprise"}


def test_key_edge_cases(tmp_path: Path) -> None:
    """1:1 tables, junction tables, and a referenced column that is itself a foreign key."""
    from sandbox_schemas import C

    from schemadistill.schema.model import ForeignKey, Schema, Table

    tables = [
        Table("accounts", None, [C("account_id", "integer", False)], primary_key=["account_id"]),
        Table("users", None, [C("user_id", "integer", False), C("account_id", "integer", False)],
              primary_key=["user_id"]),
        Table("profiles", None, [C("user_id", "integer", False), C("bio", "text")], primary_key=["user_id"]),
        Table("tags", None, [C("tag", "text", False)], primary_key=["tag"]),
        Table("user_tags", None, [C("user_id", "integer", False), C("tag", "text", False)],
              primary_key=["user_id", "tag"]),
        Table("invoices", None, [C("invoice_id", "uuid", False), C("account_id", "integer")],
              primary_key=["invoice_id"]),
    ]
    fks = [ForeignKey("users", ["account_id"], "accounts", ["account_id"]),
           ForeignKey("profiles", ["user_id"], "users", ["user_id"]),
           ForeignKey("user_tags", ["user_id"], "users", ["user_id"]),
           ForeignKey("user_tags", ["tag"], "tags", ["tag"]),
           ForeignKey("invoices", ["account_id"], "users", ["account_id"])]
    schema = Schema(tables=tables, foreign_keys=fks)
    out = tmp_path / "k.duckdb"
    info = build_sandbox(schema, out, rows=300, progress=False)
    assert info.rows["profiles"] <= info.rows["users"]
    with duckdb.connect(str(out), read_only=True) as c:
        for fk in fks:
            assert one(c, f"SELECT count(*) FROM {fk.table} x WHERE {fk.columns[0]} IS NOT NULL AND "
                          f"{fk.columns[0]} NOT IN (SELECT {fk.ref_columns[0]} FROM {fk.ref_table})") == 0
        for t in tables:
            key = ", ".join(t.primary_key)
            assert one(c, f"SELECT count(*) - count(DISTINCT ({key})) FROM {t.name}") == 0, t.name


def test_sidecar_examples() -> None:
    """Examples are a category's values, but only samples of ids, measures, dates and flags."""
    from sandbox_schemas import C

    from schemadistill.schema.model import Schema, Table

    t = Table("sessions", None, [
        C("session_id", "integer", False, examples=[1000001, 1000002]),
        C("os", "text", examples=["Windows", "iOS"]),
        C("revenue", "float", examples=[0, 4995.6, 8563.6]),
        C("action_date", "date", examples=["2024-11-15", "2024-12-01"]),
        C("is_fraud", "integer", examples=[0, 1], role="flag"),
        C("store_size", "integer", examples=[1, 2, 3], role="dimension"),
    ], primary_key=["session_id"])
    syn = Synthesizer(Schema(tables=[t]), rows=500, seed=0)
    d = syn.generate(t).data.to_pydict()
    assert d["c0"][0] == 1000001 and len(set(d["c0"])) == 500
    assert {x for x in d["c1"] if x} == {"Windows", "iOS"}
    rev = sorted(x for x in d["c2"] if x)
    assert 1000 < rev[len(rev) // 2] < 20000  # magnitude of the examples, not the default
    assert len({x for x in d["c3"] if x}) > 100  # dates keep spreading over the years
    assert {x for x in d["c4"] if x is not None} == {0, 1}
    assert {x for x in d["c5"] if x} <= {"1", "2", "3"}  # cast to the column type by TRY_CAST
