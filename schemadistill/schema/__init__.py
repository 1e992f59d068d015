"""Load a database schema from DDL text or a database file, with its sidecar and inferred keys.

    from schemadistill.schema import load_schema
    schema = load_schema("examples/ecommerce/schema.sql")           # dialect detected
    schema = load_schema("warehouse.duckdb", sidecar="meta.yaml")   # introspected

``load_schema`` dispatches on the file's content, not its name: DuckDB ("DUCK" at byte 8) and
SQLite ("SQLite format 3") files are introspected, anything else is read as DDL text. Then the
sidecar (``sidecar=``, else ``schema.yaml``/``schema.yml`` next to the file) is applied, and
finally foreign keys, column roles and time columns the schema does not declare are inferred
(after the sidecar, so its pinned roles and time columns win).
"""

from __future__ import annotations

from pathlib import Path

from schemadistill.errors import UserError
from schemadistill.schema.ddl import SUPPORTED_DIALECTS, parse_ddl, resolve_dialect
from schemadistill.schema.infer import apply_inference
from schemadistill.schema.introspect import db_kind, load_duckdb, load_sqlite
from schemadistill.schema.model import Column, Dimension, ForeignKey, Metric, NamedFilter, Schema, Table
from schemadistill.schema.sidecar import apply_sidecar, find_sidecar

__all__ = [
    "SUPPORTED_DIALECTS", "Column", "Dimension", "ForeignKey", "Metric", "NamedFilter", "Schema", "Table",
    "UserError", "load_schema",
]

_DB_SUFFIXES = (".duckdb", ".ddb", ".db", ".sqlite", ".sqlite3", ".db3")


def load_schema(path: str | Path, dialect: str | None = None, sidecar: str | Path | None = None) -> Schema:
    """Read the schema at ``path`` (DDL file, DuckDB or SQLite database) into a :class:`Schema`.

    ``dialect``: the DDL's SQL dialect (detected when None); for a database file it only sets
    ``Schema.dialect``, the dialect later SQL is written in. ``sidecar``: a ``schema.yaml``.
    Every problem with the input raises :class:`UserError`.
    """
    p = Path(path)
    chosen = resolve_dialect(dialect)
    if not p.exists():
        raise UserError("schema file not found", file=str(p),
                        hint="give a DDL file (.sql) or a DuckDB / SQLite database")
    if not p.is_file():
        raise UserError("the schema path is not a file", file=str(p))
    kind = db_kind(p)
    if kind == "duckdb":
        schema = load_duckdb(p)
    elif kind == "sqlite":
        schema = load_sqlite(p)
    else:
        schema = parse_ddl(_read_text(p), chosen, source=str(p))
    if chosen:
        schema.dialect = chosen
    if not schema.tables:
        raise UserError("the database has no tables", file=str(p))
    side = Path(sidecar) if sidecar is not None else find_sidecar(p)
    if side is not None:
        apply_sidecar(schema, side)
    return apply_inference(schema)


def _read_text(p: Path) -> str:
    try:
        data = p.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read the schema file: {e.strerror or e}", file=str(p)) from e
    text: str | None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text[:8192] or p.suffix.lower() in _DB_SUFFIXES:
        if p.suffix.lower() in _DB_SUFFIXES:
            raise UserError("not a DuckDB or SQLite database (its first bytes match neither)", file=str(p),
                            hint="pass a DuckDB / SQLite file, or a text file of CREATE TABLE statements")
        raise UserError("not a text DDL file nor a DuckDB / SQLite database", file=str(p),
                        hint="pass a UTF-8 .sql file of CREATE TABLE statements, or a DuckDB / SQLite file")
    return text
