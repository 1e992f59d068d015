"""Time a synthetic sandbox build on a large schema and print one JSON line.

    python -m schemadistill.bench_sandbox [--rows 100000] [--tables 45] [--seed 0]

Uses examples/large/schema.sql when it exists (loaded with ``schemadistill.schema.load_schema``),
otherwise a programmatic schema of ``--tables`` tables: about a third lookup tables, the rest
fact tables with one to three foreign keys, spread over four database schemas and covering
every type family. ``--rows`` is the total across all tables; the per-table row count is
chosen so the build lands near it. Output::

    {"bench": "sandbox", "tables": 45, "rows_total": 100012, "seconds": 2.1, "rows_per_s": 47624}
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from schemadistill.sandbox.build import build_sandbox
from schemadistill.sandbox.synth import plan_sizes
from schemadistill.schema.model import Column, ForeignKey, Schema, Table, TypeFamily

LARGE_DDL = Path(__file__).resolve().parent.parent / "examples" / "large" / "schema.sql"

_DIMS: list[tuple[str, list[tuple[str, TypeFamily]]]] = [
    ("users", [("email", "text"), ("name", "text"), ("country", "text"), ("age", "integer"),
               ("signup_date", "date"), ("is_verified", "boolean")]),
    ("products", [("name", "text"), ("category", "text"), ("price", "decimal"), ("rating", "integer")]),
    ("stores", [("city", "text"), ("region", "text"), ("opened_on", "date"), ("lat", "float")]),
    ("campaigns", [("channel", "text"), ("budget", "decimal"), ("start_date", "date"), ("end_date", "date")]),
    ("devices", [("os", "text"), ("browser", "text"), ("device_type", "text"), ("app_version", "text")]),
    ("employees", [("name", "text"), ("department", "text"), ("salary", "decimal"), ("hired_on", "date")]),
]
_FACT_COLS: list[tuple[str, TypeFamily]] = [
    ("created_at", "timestamp"), ("amount", "decimal"), ("quantity", "integer"), ("status", "text"),
    ("duration_seconds", "integer"), ("revenue", "float"), ("is_refunded", "boolean"),
    ("payment_method", "text"), ("event_time", "time"), ("wait", "interval"), ("payload", "json"),
    ("external_ref", "uuid"), ("receipt", "blob"), ("notes", "text"), ("discount_pct", "float"),
]
_SCHEMAS = ["sales", "web", "hr", "finance"]


def synthetic_schema(n_tables: int = 45) -> Schema:
    """Lookup and fact tables with FKs, every type family, under four database schemas."""
    n_dim = max(1, n_tables // 3)
    tables: list[Table] = []
    fks: list[ForeignKey] = []
    for i in range(n_dim):
        base, cols = _DIMS[i % len(_DIMS)]
        t = Table(f"{base}_{i}", _SCHEMAS[i % len(_SCHEMAS)],
                  [Column(f"{base[:-1]}_id", "integer", nullable=False)]
                  + [Column(c, ty) for c, ty in cols], primary_key=[f"{base[:-1]}_id"])
        tables.append(t)
    for j in range(n_tables - n_dim):
        name = f"fact_{j}"
        t = Table(name, _SCHEMAS[j % len(_SCHEMAS)], [Column("id", "integer", nullable=False)],
                  primary_key=["id"], time_column="created_at")
        for k in range(1 + j % 3):  # one to three lookups
            dim = tables[(j * 7 + k * 3) % n_dim]
            key = dim.primary_key[0]
            col = f"{dim.name}_{key}"
            t.columns.append(Column(col, "integer", nullable=k > 0))
            fks.append(ForeignKey(t.qualified_name, [col], dim.qualified_name, [key]))
        if j >= 3 and j % 4 == 0:  # chains of facts (orders -> order lines)
            parent = tables[n_dim + j - 3]
            t.columns.append(Column("parent_id", "integer"))
            fks.append(ForeignKey(t.qualified_name, ["parent_id"], parent.qualified_name, ["id"]))
        for c, ty in _FACT_COLS[j % 5: j % 5 + 9]:
            t.columns.append(Column(c, ty, nullable=c != "created_at"))
        tables.append(t)
    return Schema(tables=tables, foreign_keys=fks, source="<bench_sandbox>")


def rows_for_total(schema: Schema, total: int) -> int:
    """The per-table ``rows`` whose planned sizes sum closest to ``total``."""
    lo, hi = 1, max(1, total)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(plan_sizes(schema, mid).values()) <= total:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _schema(n_tables: int) -> Schema:
    if LARGE_DDL.exists():
        try:
            from schemadistill.schema import load_schema  # written by the schema stage

            return load_schema(LARGE_DDL)
        except Exception as e:  # noqa: BLE001 - the bench still runs on the built-in schema
            print(f"bench_sandbox: cannot load {LARGE_DDL} ({e}); using the built-in schema",
                  file=sys.stderr)
    return synthetic_schema(n_tables)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m schemadistill.bench_sandbox", description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000, help="rows in total, across all tables")
    ap.add_argument("--tables", type=int, default=45, help="tables in the built-in schema")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    schema = _schema(args.tables)
    per_table = rows_for_total(schema, args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        info = build_sandbox(schema, Path(tmp) / "bench.duckdb", rows=per_table, seed=args.seed,
                             progress=False)
        seconds = time.perf_counter() - t0
    print(json.dumps({"bench": "sandbox", "tables": len(schema.tables), "rows_total": info.rows_total,
                      "seconds": round(seconds, 3), "rows_per_s": round(info.rows_total / seconds)}))


if __name__ == "__main__":
    main()
