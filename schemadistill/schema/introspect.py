"""Read a schema out of an existing DuckDB or SQLite database file.

DuckDB: a read-only connection and the ``duckdb_tables()`` / ``duckdb_columns()`` /
``duckdb_constraints()`` catalog functions, comments included (``COMMENT ON``). Tables in
``main`` get ``schema=None``; views and internal schemas are skipped. DuckDB names the catalog
after the file's stem, so the queries filter on ``current_database()`` instead of the name.

SQLite: Python's ``sqlite3`` (read-only URI), ``PRAGMA table_info`` / ``foreign_key_list``, and
the declared types mapped by sqlglot first, SQLite's affinity rules second. SQLite keeps each
table's CREATE statement verbatim, so ``-- comments`` in it become column descriptions.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from schemadistill.errors import UserError
from schemadistill.schema import typemap
from schemadistill.schema.ddl import parse_ddl
from schemadistill.schema.model import Column, ForeignKey, Schema, Table

SQLITE_MAGIC = b"SQLite format 3\x00"
_INTERNAL_SCHEMAS = ("information_schema", "pg_catalog")


def db_kind(path: Path) -> str | None:
    """"duckdb", "sqlite" or None, from the file's first bytes (DuckDB: "DUCK" at offset 8)."""
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError:
        return None
    if head[8:12] == b"DUCK":
        return "duckdb"
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    return None


def load_duckdb(path: str | Path) -> Schema:
    """Tables, columns, keys and comments of a DuckDB database file."""
    import duckdb

    p = Path(path)
    try:
        con = duckdb.connect(str(p), read_only=True)
    except duckdb.Error as e:
        raise UserError(f"cannot open the DuckDB database: {_first_line(e)}", file=str(p),
                        hint="is it a DuckDB file of a compatible version, and not locked by a writer?") from e
    try:
        tables_rows = con.execute(
            "SELECT schema_name, table_name, comment FROM duckdb_tables() "
            "WHERE database_name = current_database() AND NOT internal AND NOT temporary "
            "AND schema_name NOT IN (?, ?) ORDER BY table_oid", list(_INTERNAL_SCHEMAS)).fetchall()
        col_rows = con.execute(
            "SELECT c.schema_name, c.table_name, c.column_name, c.data_type, c.is_nullable, c.comment "
            "FROM duckdb_columns() c WHERE c.database_name = current_database() "
            "ORDER BY c.table_oid, c.column_index").fetchall()
        cons_rows = con.execute(
            "SELECT schema_name, table_name, constraint_type, constraint_column_names, "
            "referenced_table, referenced_column_names FROM duckdb_constraints() "
            "WHERE database_name = current_database() "
            "AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') ORDER BY constraint_index").fetchall()
    except duckdb.Error as e:
        raise UserError(f"cannot read the DuckDB catalog: {_first_line(e)}", file=str(p)) from e
    finally:
        con.close()

    tables: dict[tuple[str, str], Table] = {}
    for schema_name, table_name, comment in tables_rows:
        tables[schema_name, table_name] = Table(
            name=table_name, schema=None if schema_name == "main" else schema_name,
            description=comment or "")
    for schema_name, table_name, col_name, data_type, is_nullable, comment in col_rows:
        table = tables.get((schema_name, table_name))
        if table is None:
            continue  # a view's columns
        fam, _ = typemap.family_of_text(data_type, "duckdb")
        # The catalog's spelling is exact, except for enums (the sandbox fills them with free text)
        # and nested/unknown types (family "other": the sandbox stores text).
        exact = "" if fam == "other" or data_type.upper().startswith("ENUM") else data_type
        table.columns.append(Column(name=col_name, type=fam, raw_type=data_type, nullable=bool(is_nullable),
                                    description=comment or "", duckdb_type=exact))
    fks: list[ForeignKey] = []
    for schema_name, table_name, ctype, cols, ref_table, ref_cols in cons_rows:
        table = tables.get((schema_name, table_name))
        if table is None:
            continue
        if ctype == "PRIMARY KEY":
            table.primary_key = list(cols)
            continue
        # DuckDB's catalog gives the referenced table without its schema: same schema first.
        ref = tables.get((schema_name, ref_table)) or _unique_by_name(tables, ref_table)
        if ref is not None and cols and len(cols) == len(ref_cols):
            fks.append(ForeignKey(table.qualified_name, list(cols), ref.qualified_name, list(ref_cols)))
    return Schema(tables=list(tables.values()), foreign_keys=fks, dialect="duckdb", source=str(p))


def load_sqlite(path: str | Path) -> Schema:
    """Tables, columns and keys of a SQLite database file (comments from the stored CREATE text)."""
    p = Path(path)
    try:
        con = sqlite3.connect(p.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise UserError(f"cannot open the SQLite database: {e}", file=str(p)) from e
    tables: list[Table] = []
    fks: list[ForeignKey] = []
    try:
        rows = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY rowid").fetchall()
        for name, create_sql in rows:
            described = _describe(create_sql or "")
            table = Table(name=name, description=described.get("", ""))
            pk: list[tuple[int, str]] = []
            for _cid, col_name, decl, notnull, _default, pk_pos in con.execute(
                    f"PRAGMA table_info({_quote(name)})"):
                fam, duck = typemap.sqlite_family(decl or "")
                table.columns.append(Column(
                    name=col_name, type=fam, raw_type=decl or "", nullable=not notnull and not pk_pos,
                    description=described.get(col_name.lower(), ""), duckdb_type=duck))
                if pk_pos:
                    pk.append((pk_pos, col_name))
            table.primary_key = [c for _, c in sorted(pk)]
            tables.append(table)
        by_name = {t.name.lower(): t for t in tables}
        for table in tables:
            groups: dict[int, list[tuple[int, str, str, str | None]]] = {}
            for fk_id, seq, ref_table, from_col, to_col, *_ in con.execute(
                    f"PRAGMA foreign_key_list({_quote(table.name)})"):
                groups.setdefault(fk_id, []).append((seq, ref_table, from_col, to_col))
            for fk_id in sorted(groups):
                parts = sorted(groups[fk_id])
                ref = by_name.get(parts[0][1].lower())
                if ref is None:
                    continue
                cols = [f for _, _, f, _ in parts]
                # REFERENCES t (no column list) means t's primary key.
                ref_cols = [t for _, _, _, t in parts] if all(t for *_, t in parts) else list(ref.primary_key)
                if len(ref_cols) == len(cols):
                    fks.append(ForeignKey(table.qualified_name, cols, ref.qualified_name, [str(c) for c in ref_cols]))
    except sqlite3.DatabaseError as e:
        raise UserError(f"cannot read the SQLite database: {e}", file=str(p)) from e
    finally:
        con.close()
    return Schema(tables=tables, foreign_keys=fks, dialect="sqlite", source=str(p))


def _describe(create_sql: str) -> dict[str, str]:
    """Descriptions from a stored CREATE TABLE: {"": table, column_lower: column}; {} on failure."""
    try:
        parsed = parse_ddl(create_sql, "sqlite")
    except UserError:
        return {}  # SQLite accepts syntax sqlglot does not; descriptions are a bonus
    if not parsed.tables:
        return {}
    t = parsed.tables[0]
    out = {c.name.lower(): c.description for c in t.columns if c.description}
    out[""] = t.description
    return out


def _unique_by_name(tables: dict[tuple[str, str], Table], name: str) -> Table | None:
    found = [t for (_, n), t in tables.items() if n == name]
    return found[0] if len(found) == 1 else None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
