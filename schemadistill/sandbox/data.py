"""Load the user's own rows into the sandbox instead of synthetic ones (``DATA=...``).

Three sources are accepted:

* a DuckDB file: ATTACHed read-only inside the build connection and copied with
  ``INSERT ... SELECT``; tables are found by qualified name (``ecommerce.users``), or by bare
  name when that is unique;
* a SQLite file: read with Python's ``sqlite3`` (DuckDB's sqlite extension cannot be
  installed offline), in chunks, through Arrow;
* a folder of CSV / Parquet files, one per table, named after the qualified or bare table
  name (``ecommerce.users.csv``, ``users.parquet``), case-insensitive. Tables without a file
  get synthetic rows (the build records a warning).

Columns are matched by name (case-insensitive) and cast to the schema's types; extra source
columns are ignored. Every problem is a :class:`UserError` naming the file and the fix.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa

from schemadistill.errors import UserError
from schemadistill.schema.model import Schema, Table

DATA_SUFFIXES = (".csv.gz", ".csv", ".tsv", ".parquet", ".pq")
_ALIAS = "_sd_data"
_CHUNK = 50_000


def quote(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def qualified(table: Table) -> str:
    return f"{quote(table.schema)}.{quote(table.name)}" if table.schema else quote(table.name)


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class DataSource:
    """A validated ``DATA=`` path and, per schema table it covers, where its rows are.

    ``tables`` maps a schema table's qualified name to the source table (``(schema, name)`` for
    DuckDB, ``(name,)`` for SQLite); ``files`` maps it to the file in a folder.
    """

    kind: Literal["duckdb", "sqlite", "folder"]
    path: Path
    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)  # databases
    files: dict[str, Path] = field(default_factory=dict)  # folders

    def covers(self, table: Table) -> bool:
        return table.qualified_name in self.tables or table.qualified_name in self.files


def sniff(path: Path) -> Literal["duckdb", "sqlite"] | None:
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head[8:12] == b"DUCK":
        return "duckdb"
    return None


def open_source(path: str | Path, schema: Schema) -> DataSource:
    """Check ``path`` and match its tables/files to the schema; raises UserError."""
    path = Path(path)
    if not path.exists():
        raise UserError("data path does not exist", file=path,
                        hint="pass DATA= a DuckDB file, a SQLite file, or a folder of CSV/Parquet files")
    if path.is_dir():
        return _open_folder(path, schema)
    kind = sniff(path)
    if kind is None:
        raise UserError("data file is neither a DuckDB nor a SQLite database", file=path,
                        hint="for CSV or Parquet files, put one file per table in a folder and pass the folder")
    names = _duckdb_tables(path) if kind == "duckdb" else _sqlite_tables(path)
    src = DataSource(kind, path)
    for t in schema.tables:
        found = _match_db_table(t, names)
        if found is None:
            have = ", ".join(".".join(n) for n in names) or "(none)"
            raise UserError(f"the database has no table {t.qualified_name}", file=path,
                            hint=f"it has: {have}; add the table or point DATA= at the right database")
        src.tables[t.qualified_name] = found
    return src


def _match_db_table(t: Table, names: list[tuple[str, ...]]) -> tuple[str, ...] | None:
    want = t.qualified_name.lower()
    exact = [n for n in names if ".".join(n).lower() == want
             or (t.schema is None and len(n) == 2 and n[0].lower() == "main" and n[1].lower() == want)]
    if exact:
        return exact[0]
    bare = [n for n in names if n[-1].lower() == t.name.lower()]
    return bare[0] if len(bare) == 1 else None


def _duckdb_tables(path: Path) -> list[tuple[str, ...]]:
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {literal(str(path))} AS {_ALIAS} (READ_ONLY)")
        rows = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                           "WHERE table_catalog = ? ORDER BY 1, 2", [_ALIAS]).fetchall()
    except duckdb.Error as e:
        raise UserError(f"cannot open the DuckDB file: {e}", file=path,
                        hint="close other programs writing to it, or export a copy") from None
    finally:
        con.close()
    return [tuple(r) for r in rows]


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)


def _sqlite_tables(path: Path) -> list[tuple[str, ...]]:
    try:
        con = _sqlite_connect(path)
        try:
            rows = con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                               "AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
        finally:
            con.close()
    except sqlite3.Error as e:
        raise UserError(f"cannot read the SQLite file: {e}", file=path) from None
    return [(r[0],) for r in rows]


def _stem(path: Path) -> str | None:
    low = path.name.lower()
    for suffix in DATA_SUFFIXES:
        if low.endswith(suffix):
            return path.name[: -len(suffix)]
    return None


def _open_folder(path: Path, schema: Schema) -> DataSource:
    src = DataSource("folder", path)
    expected = ", ".join(t.qualified_name for t in schema.tables)
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                   and _stem(p) is not None)
    if not files:
        raise UserError("the data folder has no CSV or Parquet files", file=path,
                        hint=f"add one file per table named like the table ({expected}), e.g. "
                             f"{schema.tables[0].qualified_name}.csv")
    for f in files:
        t = schema.table(_stem(f) or "")
        if t is None:
            raise UserError(f"file {f.name} matches no table of the schema", file=f,
                            hint=f"name each file after a table: {expected} (.csv or .parquet); "
                                 "use the qualified name when a bare name is ambiguous")
        if t.qualified_name in src.files:
            raise UserError(f"two files hold table {t.qualified_name}: "
                            f"{src.files[t.qualified_name].name} and {f.name}", file=f,
                            hint="keep one file per table")
        src.files[t.qualified_name] = f
    return src


# -- loading ------------------------------------------------------------------------------
def attach(con: duckdb.DuckDBPyConnection, src: DataSource) -> None:
    if src.kind == "duckdb":
        con.execute(f"ATTACH {literal(str(src.path))} AS {_ALIAS} (READ_ONLY)")


def detach(con: duckdb.DuckDBPyConnection, src: DataSource) -> None:
    if src.kind == "duckdb":
        con.execute(f"DETACH {_ALIAS}")


def load_table(con: duckdb.DuckDBPyConnection, src: DataSource, table: Table) -> int:
    """Fill the (already created) sandbox table from the source; returns its row count."""
    if src.kind == "sqlite":
        return _load_sqlite(con, src, table, src.tables[table.qualified_name][0])
    if src.kind == "duckdb":
        where = src.tables[table.qualified_name]
        rel = f"{_ALIAS}.{quote(where[0])}.{quote(where[1])}"
        label, file = f"table {'.'.join(where)}", src.path
    else:
        file = src.files[table.qualified_name]
        reader = "read_parquet" if file.suffix.lower() in (".parquet", ".pq") else "read_csv_auto"
        rel = f"{reader}({literal(str(file))})"
        label = f"file {file.name}"
    try:
        have = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
    except duckdb.Error as e:
        raise UserError(f"cannot read {label}: {e}", file=file) from None
    cols = _match_columns(table, have, label, file)
    _insert(con, table, rel, cols, label, file)
    return _count(con, table)


def _match_columns(table: Table, have: list[str], label: str, file: Path) -> list[str]:
    by_low = {h.lower(): h for h in have}
    missing = [c.name for c in table.columns if c.name.lower() not in by_low]
    if missing:
        raise UserError(f"{label} lacks column(s) {', '.join(missing)} that the schema declares for "
                        f"{table.qualified_name}", file=file,
                        hint=f"it has: {', '.join(have)}; add the columns or fix the schema")
    return [by_low[c.name.lower()] for c in table.columns]


def _insert(con: duckdb.DuckDBPyConnection, table: Table, rel: str, cols: list[str], label: str,
            file: Path) -> None:
    exprs = ", ".join(f"CAST({quote(s)} AS {c.sandbox_type()})" for s, c in zip(cols, table.columns, strict=True))
    try:
        con.execute(f"INSERT INTO {qualified(table)} SELECT {exprs} FROM {rel}")
    except duckdb.ConstraintException as e:
        raise UserError(f"{label} has NULLs in a column the schema declares NOT NULL: {e}", file=file,
                        hint="fill the NULLs or drop NOT NULL from the schema") from None
    except duckdb.Error as e:
        raise UserError(f"cannot load {label} into {table.qualified_name}: {e}", file=file,
                        hint="make the values fit the schema's column types") from None


def _count(con: duckdb.DuckDBPyConnection, table: Table) -> int:
    return int(con.execute(f"SELECT count(*) FROM {qualified(table)}").fetchall()[0][0])


def _load_sqlite(con: duckdb.DuckDBPyConnection, src: DataSource, table: Table, name: str) -> int:
    label = f"table {name}"
    lite = _sqlite_connect(src.path)
    try:
        have = [r[1] for r in lite.execute(f"PRAGMA table_info({quote(name)})").fetchall()]
        cols = _match_columns(table, have, label, src.path)
        cur = lite.execute(f"SELECT {', '.join(quote(c) for c in cols)} FROM {quote(name)}")
        while True:
            chunk = cur.fetchmany(_CHUNK)
            if not chunk:
                break
            data = pa.table({f"c{j}": _arrow_column([r[j] for r in chunk]) for j in range(len(cols))})
            con.register("_sd_chunk", data)
            try:
                _insert(con, table, "_sd_chunk", [f"c{j}" for j in range(len(cols))], label, src.path)
            finally:
                con.unregister("_sd_chunk")
    except sqlite3.Error as e:
        raise UserError(f"cannot read {label} from the SQLite file: {e}", file=src.path) from None
    finally:
        lite.close()
    return _count(con, table)


def _arrow_column(values: list[object]) -> pa.Array:
    # SQLite columns may mix types (ints and text in one column); text is the common ground,
    # and the CAST to the schema type then decides.
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else (v.hex() if isinstance(v, bytes) else str(v))
                         for v in values], pa.string())
