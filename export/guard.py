"""The runtime's guard: is a generated statement one read-only query that names real things?

    from export.guard import check_sql
    v = check_sql("SELECT agee FROM ecommerce.users;", schema, "duckdb", executor=None)
    v.ok, v.refused, v.error      # False, False, 'Binder Error: Referenced column "agee" ...'

Used by :meth:`export.runtime.Runtime.ask` (``schemadistill ask ARTIFACT "question"``): a
statement that is not one read-only query is *refused* (never repaired, never returned as SQL
to run); one that does not parse, names an unknown table or column, or fails in the sandbox
gets the error text the student's repair prompt is filled with.

Read-only is decided by the sandbox executor's own refusal rules, so the runtime and the
sandbox can never disagree about what may run. Pure Python (sqlglot; duckdb only through an
:class:`~schemadistill.sandbox.Executor` the caller passes): no torch, no transformers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot.errors import SqlglotError

from schemadistill.sandbox.executor import (
    ExecResult,
    Executor,
    not_a_query,  # the executor's fence, reused
)
from schemadistill.schema.model import Schema
from schemadistill.sqlcheck import MAX_NESTING, SQLParseError, check_names, paren_depth, parse_sql


@dataclass
class Verdict:
    """The guard's judgement of one statement."""

    ok: bool
    refused: bool = False  # not one read-only query: never run, never repaired
    error: str | None = None  # why not ok, as the repair prompt shows it
    result: ExecResult | None = None  # the sandbox's result when an executor ran it


_RESOLVE = re.compile(r"Column '(?P<col>[^']+)' could not be resolved|Unknown column: (?P<col2>\S+)")


def _duckdb_phrasing(unknown: str) -> str:
    """check_names' finding in the words DuckDB uses for the same mistake.

    The student's repair examples carry DuckDB's verbatim messages (teacher/repair.py); when no
    database is at hand, saying the same thing the same way keeps the repair prompt in the
    distribution the student was trained on.
    """
    if unknown.startswith("table "):
        return f"Catalog Error: Table with name {unknown[6:]} does not exist!"
    m = _RESOLVE.search(unknown)
    if m:
        col = (m.group("col") or m.group("col2") or "").strip('"')
        return f'Binder Error: Referenced column "{col}" not found in FROM clause!'
    return f"Binder Error: {unknown}"


def refusal(sql: str, dialect: str) -> str | None:
    """Why ``sql`` may not run (DDL, DML, several statements...), or None for one read-only query.

    SQL that sqlglot cannot parse is not refused here: it is a parse error, which the repair
    round may fix (the executor, when there is one, still refuses what DuckDB types as not
    SELECT).
    """
    if paren_depth(sql) > MAX_NESTING:
        return None  # sqlglot would overflow the stack; the parse step calls it a parse error
    try:
        trees = sqlglot.parse(sql, read=dialect)
    except (SqlglotError, RecursionError):  # RecursionError: "- - - ... 1" nests without parentheses
        return None
    return not_a_query(trees)


def check_sql(sql: str, schema: Schema, dialect: str, executor: Executor | None = None) -> Verdict:
    """Refusal, then parse, then names (or, with an executor, a real run in the sandbox)."""
    if not sql.strip():
        return Verdict(False, error="the model produced no SQL")
    why = refusal(sql, dialect)
    if why:
        return Verdict(False, refused=True, error=why)
    if executor is not None:
        # The database is the authority: DuckDB's real message is what phase 3 trained on.
        res = executor.run(sql, dialect)
        if res.ok:
            return Verdict(True, result=res)
        assert res.error is not None
        return Verdict(False, refused=res.error.kind == "refused", error=res.error.message, result=res)
    try:
        tree = parse_sql(sql, dialect)
    except SQLParseError as e:
        return Verdict(False, error=f"Parser Error: {e}")
    names = check_names(tree, schema, dialect)
    unknown = [u for u in names.unknown if not u.startswith("could not resolve")]
    if unknown:
        return Verdict(False, error=_duckdb_phrasing(unknown[0]))
    return Verdict(True)
