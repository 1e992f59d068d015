"""The user's own metric definitions, read off the SQL of ``EXAMPLES``.

    from teacher.mined_metrics import mine_metrics
    metrics = mine_metrics([(question, sql), ...], schema)   # -> [Metric(name="fraud_rate", ...)]

A team's examples say what its words mean: ``100 * COUNT(DISTINCT CASE WHEN is_fraud = 1 THEN
user_id END) / COUNT(DISTINCT user_id) AS fraud_rate`` is *their* fraud rate (counted over users,
not sessions), ``COUNT(DISTINCT user_id) AS customers`` is what they call customers. A schema
without a sidecar has no such definitions, and a student taught a textbook reading of "fraud
rate" gets those questions wrong. Each aliased aggregate of an example becomes a
:class:`~schemadistill.schema.model.Metric` that the sidecar metric families then compose with
dimensions, filters and periods, the way the sidecar's own metrics are.

Only definitions that stand on their own are taken: the query's WHERE may hold time conditions
and nothing else (in ``... WHERE revenue > 0`` the alias ``customers`` means "buyers", which the
expression alone does not say), the expression reads one table, and a bare ``COUNT(*)`` or a
generic alias (``total``, ``cnt``) names nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable

from sqlglot import exp

from schemadistill.schema.model import Metric, Schema
from schemadistill.sqlcheck import SQLParseError, parse_sql

_GENERIC = frozenset({"total", "count", "cnt", "n", "num", "value", "result", "metric", "avg", "sum", "min", "max",
                      "amount", "total_count", "row_count", "rows", "x", "y", "val"})
_TIME_TYPES = ("date", "timestamp", "time")


def mine_metrics(pairs: Iterable[tuple[str, str]], schema: Schema) -> list[Metric]:
    """Metrics defined by the examples' SQL, in order of first use; sidecar metrics the examples
    name differently come first, as copies with those names added to their synonyms.

    An alias given to two expressions means the one most examples use (ties: the first); other
    aliases of one expression become its synonyms; an expression the sidecar already defines, or
    a name it already uses, is skipped.
    """
    dialect = schema.dialect or "duckdb"
    known = {(m.table.lower(), _norm(m.sql, dialect)): m for m in schema.metrics}
    taken = {m.name.lower() for m in schema.metrics}
    extra: dict[str, list[str]] = {}  # sidecar metric name -> the examples' other words for it
    uses: dict[str, Counter[tuple[str, str]]] = {}  # alias -> (table, normalised expression) -> uses
    first: dict[tuple[str, str], tuple[str, str, str, str]] = {}  # -> (alias, table, sql, question)
    for question, sql in pairs:
        for name, table, expr_sql in _definitions(sql, schema, dialect):
            key = (table.lower(), _norm(expr_sql, dialect))
            if key in known:
                words = _words(name, expr_sql, dialect)
                extra.setdefault(known[key].name, []).extend(w for w in words if w not in known[key].synonyms)
                continue
            if name.lower() in taken:
                continue
            uses.setdefault(name.lower(), Counter())[key] += 1
            first.setdefault(key, (name, table, expr_sql, question))
    out: dict[tuple[str, str], Metric] = {}
    for alias, counts in uses.items():
        key = counts.most_common(1)[0][0]  # Counter keeps first-seen order among ties
        name, table, expr_sql, question = first[key]
        words = _words(alias, expr_sql, dialect)
        if key in out:
            out[key].synonyms.extend(w for w in words if w not in out[key].synonyms)
            continue
        unit = "percent" if re.search(r"rate|share|pct|percent|ratio", alias) and "100" in expr_sql else ""
        out[key] = Metric(name=name, sql=expr_sql, table=table, synonyms=words, unit=unit,
                          description=f"as in EXAMPLES: {question}" if question else "as in EXAMPLES")
    # the sidecar's own metrics, with the words the examples use for them
    again = [dataclasses.replace(m, synonyms=[*m.synonyms, *dict.fromkeys(extra[m.name])])
             for m in schema.metrics if extra.get(m.name)]
    return again + list(out.values())


def _words(alias: str, expr_sql: str, dialect: str) -> list[str]:
    """What a user calls the metric: the alias in words; a count also as "number of ..."."""
    words = alias.replace("_", " ").strip().lower()
    try:
        top = parse_sql(f"SELECT {expr_sql}", dialect).expressions[0]
    except (SQLParseError, IndexError):
        top = None
    if isinstance(top, exp.Count) and not re.search(r"\b(count|number|total|num)\b", words):
        return [words, f"number of {words}", f"count of {words}"]
    return [words]


def _norm(sql: str, dialect: str) -> str:
    try:
        return parse_sql(f"SELECT {sql}", dialect).sql(dialect="duckdb", normalize=True).lower()
    except SQLParseError:
        return " ".join(sql.lower().split())


def _definitions(sql: str, schema: Schema, dialect: str) -> list[tuple[str, str, str]]:
    """(alias, table, expression without table qualifiers) for each metric-like SELECT item."""
    try:
        tree = parse_sql(sql.strip().rstrip(";"), dialect)
    except SQLParseError:
        return []
    if not isinstance(tree, exp.Select) or tree.args.get("with") or tree.args.get("having"):
        return []
    tables: dict[str, str] = {}  # alias or name (lower) -> qualified name
    for tbl in tree.find_all(exp.Table):
        if tbl.find_ancestor(exp.Subquery) is not None:
            return []  # derived tables: the definition is more than one expression
        t = schema.table(".".join(p for p in (tbl.db, tbl.name) if p))
        if t is None:
            return []
        tables[(tbl.alias or tbl.name).lower()] = t.qualified_name
        tables.setdefault(tbl.name.lower(), t.qualified_name)
    if not tables or not _only_time_conditions(tree.args.get("where"), tables, schema):
        return []
    out: list[tuple[str, str, str]] = []
    for item in tree.expressions:
        if not isinstance(item, exp.Alias) or not item.alias or item.alias.lower() in _GENERIC:
            continue
        body = item.this
        if not any(isinstance(n, exp.AggFunc) for n in body.walk()) or _bare_count(body):
            continue
        if body.find(exp.Window, exp.Subquery) is not None:
            continue
        owners = {_owner(c, tables, schema) for c in body.find_all(exp.Column)}
        if len(owners) != 1 or None in owners:
            continue
        body = body.copy()
        for c in body.find_all(exp.Column):
            c.set("table", None)
        out.append((item.alias, owners.pop(), body.sql(dialect=dialect)))  # type: ignore[arg-type]
    return out


def _bare_count(node: exp.Expr) -> bool:
    return isinstance(node, exp.Count) and not node.args.get("distinct") and (
        isinstance(node.this, exp.Star) or isinstance(node.this, exp.Literal) or node.this is None)


def _owner(col: exp.Column, tables: dict[str, str], schema: Schema) -> str | None:
    """The qualified table a column reference reads, when it can be told."""
    if col.table:
        return tables.get(col.table.lower())
    owners = {q for q in set(tables.values()) if (t := schema.table(q)) is not None and t.column(col.name)}
    return owners.pop() if len(owners) == 1 else None


def _only_time_conditions(where: exp.Expr | None, tables: dict[str, str], schema: Schema) -> bool:
    if where is None:
        return True
    cond = where.this
    parts = list(cond.flatten()) if isinstance(cond, exp.And) else [cond]
    for part in parts:
        cols = list(part.find_all(exp.Column))
        if not cols:
            continue
        for c in cols:
            owner = _owner(c, tables, schema)
            t = schema.table(owner) if owner else None
            col = t.column(c.name) if t is not None else None
            if col is None or not any(k in (col.type or "").lower() for k in _TIME_TYPES):
                return False
    return True
