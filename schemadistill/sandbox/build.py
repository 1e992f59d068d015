"""Build the sandbox: a DuckDB file holding every table of the schema, filled with rows.

    from schemadistill.sandbox import build_sandbox
    info = build_sandbox(schema, Path("runs/x/sandbox.duckdb"), data=None, rows=2000, seed=0)

Rows come from the user's data (``data=``, see :mod:`.data`) or from :mod:`.synth`. Tables
live under their own database schema (``ecommerce.users``), so generated SQL runs unchanged.
The file is built as ``<out>.tmp`` and renamed into place, so a killed build never leaves a
half-written sandbox; ``<out>.json`` records what was built (:class:`SandboxInfo`).

No PRIMARY KEY / FOREIGN KEY constraints are declared: queries only read the sandbox, key
indexes would slow loading, and user data that breaks a key should still be usable.
NOT NULL is declared, because it is part of the schema the model is trained on.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from schemadistill.errors import UserError
from schemadistill.io import atomic_write_json
from schemadistill.sandbox import data as D
from schemadistill.sandbox.executor import CATALOG
from schemadistill.sandbox.synth import Synthesizer, SynthTable
from schemadistill.schema.model import Schema, Table


@dataclass
class SandboxInfo:
    """What ``<sandbox>.json`` records about a build."""

    path: str
    source: str  # "synthetic" or the data path
    seed: int
    rows: dict[str, int]  # qualified table name -> rows
    fingerprint: str  # Schema.fingerprint the sandbox was built for
    seconds: float
    warnings: list[str] = field(default_factory=list)
    duckdb_version: str = duckdb.__version__

    @property
    def rows_total(self) -> int:
        return sum(self.rows.values())

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_total": self.rows_total}

    @classmethod
    def read(cls, sandbox: str | Path) -> SandboxInfo:
        """Load the record written next to ``sandbox`` (the .duckdb path)."""
        raw = json.loads(info_path(sandbox).read_text(encoding="utf-8"))
        raw.pop("rows_total", None)
        return cls(**raw)


def info_path(sandbox: str | Path) -> Path:
    sandbox = Path(sandbox)
    return sandbox.with_name(sandbox.name + ".json")


def build_sandbox(schema: Schema, out: str | Path, data: str | Path | None = None, rows: int = 2000,
                  seed: int = 0, progress: bool = True, null_rate: float = 0.05) -> SandboxInfo:
    """Create the sandbox at ``out`` (replacing any old one only once the new one is complete)."""
    started = time.perf_counter()
    if not schema.tables:
        raise UserError("the schema has no tables, so there is nothing to build", file=schema.source or None)
    if rows < 1:
        raise UserError(f"rows must be at least 1 (got {rows})", hint="e.g. --set sandbox.rows=2000")
    out = Path(out)
    source = D.open_source(data, schema) if data is not None else None  # fail before writing anything
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    _remove(tmp)
    counts: dict[str, int] = {}
    warnings: list[str] = []
    try:
        # Attached under a fixed alias: a file named after one of the schema's db-schemas
        # (ecommerce.duckdb) would otherwise make "ecommerce.users" ambiguous.
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"ATTACH {D.literal(str(tmp))} AS {CATALOG}")
            con.execute(f"USE {CATALOG}")
            _create_tables(con, schema)
            syn = Synthesizer(schema, rows=rows, seed=seed, null_rate=null_rate)
            with _progress(progress, len(schema.tables)) as step:
                if source is not None:
                    D.attach(con, source)
                    for table in syn.order():
                        if source.covers(table):
                            step(table)
                            counts[table.qualified_name] = D.load_table(con, source, table)
                            syn.set_existing(table, counts[table.qualified_name],
                                             _fetch_keys(con, table, syn.key_columns(table)))
                        else:
                            warnings.append(f"{source.path} has no file for {table.qualified_name}; "
                                            "it was filled with synthetic rows")
                    D.detach(con, source)
                for table in syn.order():
                    if table.qualified_name not in counts:
                        step(table)
                        counts[table.qualified_name] = _insert(con, syn.generate(table))
            con.execute(f"USE memory; DETACH {CATALOG}")  # detaching checkpoints the file
        finally:
            con.close()
        # A WAL left by the old file would be replayed onto the new one: drop it first.
        _remove(out.with_name(out.name + ".wal"))
        os.replace(tmp, out)
    except BaseException:
        _remove(tmp)
        raise
    info = SandboxInfo(
        path=str(out), source=str(source.path) if source else "synthetic", seed=seed,
        rows={t.qualified_name: counts[t.qualified_name] for t in schema.tables},
        fingerprint=schema.fingerprint, seconds=round(time.perf_counter() - started, 3),
        warnings=warnings,
    )
    atomic_write_json(info_path(out), info.to_dict())
    return info


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)


def _create_tables(con: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    for name in sorted({t.schema for t in schema.tables if t.schema}):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {D.quote(name)}")
    for t in schema.tables:
        cols = ", ".join(f"{D.quote(c.name)} {c.sandbox_type()}{'' if c.nullable else ' NOT NULL'}"
                         for c in t.columns)
        try:
            con.execute(f"CREATE TABLE {D.qualified(t)} ({cols})")
        except duckdb.Error as e:
            raise UserError(f"cannot create table {t.qualified_name} in the sandbox: {e}",
                            file=schema.source or None,
                            hint="check the column types of this table") from None


def _insert(con: duckdb.DuckDBPyConnection, part: SynthTable) -> int:
    con.register("_sd_synth", part.data)
    try:
        con.execute(f"INSERT INTO {D.qualified(part.table)} SELECT {', '.join(part.select_sql)} FROM _sd_synth")
    except duckdb.Error as e:
        # only exotic declared types (ENUM, STRUCT, narrow integers) or bad sidecar examples get here
        raise UserError(f"cannot fill {part.table.qualified_name} with synthetic rows: {e}",
                        hint="check this table's column types and sidecar examples, or pass DATA=") from None
    finally:
        con.unregister("_sd_synth")
    return part.num_rows


def _fetch_keys(con: duckdb.DuckDBPyConnection, table: Table, cols: list[str]) -> dict[str, Any]:
    """Key values of a table loaded from user data, for synthetic children to reference."""
    if not cols:
        return {}
    sel = ", ".join(D.quote(c) for c in cols)
    where = " AND ".join(f"{D.quote(c)} IS NOT NULL" for c in cols)
    arrow = con.sql(f"SELECT {sel} FROM {D.qualified(table)} WHERE {where}").to_arrow_table()
    return {c: arrow.column(i).combine_chunks() for i, c in enumerate(cols)}


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Any]:
    if not enabled:
        yield lambda table: None
        return
    bar = Progress(TextColumn("sandbox"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.description}"), console=Console(stderr=True), transient=True)
    with bar:
        task = bar.add_task("", total=total)
        started: list[Table] = []

        def step(table: Table) -> None:
            if started:
                bar.advance(task)
            started.append(table)
            bar.update(task, description=table.qualified_name)

        yield step
        if started:
            bar.advance(task)
