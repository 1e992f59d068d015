"""How much of a real question set the generated pairs cover, by query shape.

    python -m teacher.coverage runs/ecommerce/teacher/pairs.jsonl dev.jsonl [--dialect duckdb] \
        [--schema runs/ecommerce/schema/schema.json]

For every gold SQL in QUESTIONS (JSONL with a ``sql`` field) two matches are counted against
the SQL of PAIRS:

* exact template: ``sqlcheck.masked_template`` equal to the template of some pair (same query
  up to literal values, aliases and formatting);
* loose template: the same after redundant parentheses, ``COUNT(1)`` and the order of AND-ed
  conditions are evened out (``loose_template``);
* shape (with ``--schema``): the family level, what a template family binds differently per
  instance evened out too: columns stand for their type (a BIGINT measure for another), output
  and subquery names are masked, ``INNER JOIN`` is ``JOIN``, ORDER BY keeps its first key (the
  teacher adds tie-breakers) and goes when there is no LIMIT (it orders nothing that counts), and
  the conditions of a WHERE are a set (two equality filters on different columns are one shape);
* family (with ``--schema``): what a family *can* generate, not only what this sample of it
  did. A family draws its conditions from a pool and its aggregate from another (SUM/AVG/MIN/MAX)
  whatever else it draws, so a gold query is in a family when its shape without WHERE and HAVING
  and with those aggregates masked (``family_parts``) is one the family generated, and each of
  its conditions, its aggregates and its number of conditions appear in that family's pairs
  (``FamilyIndex``). Spellings of one query are evened out first: a calendar filter is one
  condition whatever its unit and spelling (``YEAR(d) = 2024``, ``DATE_TRUNC('month', d) = ...``,
  a range of literal dates), the two tables of an inner join in either order, columns qualified
  with their schema's name, ``COUNT(key)`` of a declared one-column primary key as ``COUNT(*)``.
* construct: the same set of constructs as some pair: tables, number of joins, aggregate
  kinds, GROUP BY arity, window, subquery, CTE, date-function kinds, set operations, HAVING,
  ORDER BY / LIMIT.

Prints a table and then one JSON line ({"coverage": ..., "template_share": ..., ...}). This
measures coverage only; it never feeds the question set back into generation.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp

from schemadistill.io import read_jsonl
from schemadistill.sqlcheck import SQLParseError, masked_template, parse_sql

_DATE_FUNCS = (exp.DateTrunc, exp.TimestampTrunc, exp.Year, exp.Month, exp.Day, exp.Quarter, exp.Week,
               exp.Extract, exp.DateAdd, exp.DateSub, exp.DateDiff, exp.TimestampAdd, exp.TimestampSub,
               exp.TimestampDiff, exp.CurrentDate, exp.CurrentTimestamp, exp.Interval, exp.TimeToStr,
               exp.StrToDate, exp.StrToTime, exp.DayOfWeek, exp.LastDay)


def constructs(tree: exp.Expr) -> tuple[Any, ...]:
    """The construct signature of one query (see the module docstring)."""
    tables = sorted({t.name.lower() for t in tree.find_all(exp.Table) if t.name}
                    - {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)})
    aggs: set[str] = set()
    for agg in tree.find_all(exp.AggFunc):
        name = type(agg).__name__.lower()
        if isinstance(agg, exp.Count) and isinstance(agg.this, exp.Distinct):
            name = "count_distinct"
        aggs.add(name)
    dates: set[str] = set()
    for node in tree.find_all(*_DATE_FUNCS):
        unit = node.text("unit").lower() if isinstance(node, (exp.DateTrunc, exp.TimestampTrunc)) else ""
        if isinstance(node, exp.Extract):
            unit = node.this.name.lower()
        dates.add(type(node).__name__.lower() + (f":{unit}" if unit else ""))
    group = tree.find(exp.Group)
    selects = list(tree.find_all(exp.Select))
    ctes = list(tree.find_all(exp.CTE))
    return (
        tuple(tables),
        len(list(tree.find_all(exp.Join))),
        tuple(sorted(aggs)),
        len(group.expressions) if group is not None else 0,
        tree.find(exp.Window) is not None,
        len(selects) - len(ctes) > 1 or tree.find(exp.Subquery) is not None,
        bool(ctes),
        tuple(sorted(dates)),
        tuple(sorted({type(s).__name__.lower() for s in tree.find_all(exp.Union, exp.Intersect, exp.Except)})),
        tree.find(exp.Having) is not None,
        tree.args.get("order") is not None,
        tree.args.get("limit") is not None,
    )


def loose_template(tree: exp.Expr) -> str:
    """``masked_template`` after spelling differences that do not change the query are evened out.

    Redundant parentheses around conditions go, ``COUNT(1)`` becomes ``COUNT(*)`` and the
    conditions of a WHERE/HAVING are sorted, so ``WHERE (a = 1) AND (b = 2)`` matches
    ``WHERE b = 2 AND a = 1``.
    """
    tree = tree.copy()
    for paren in list(tree.find_all(exp.Paren)):
        inner = paren.this
        if isinstance(inner, (exp.Predicate, exp.Not, exp.And)) or (
                isinstance(inner, exp.Or) and not isinstance(paren.parent, exp.And)):
            paren.replace(inner)
    for count in tree.find_all(exp.Count):
        if count.this is None or isinstance(count.this, exp.Literal):  # COUNT(1), DuckDB's COUNT()
            count.set("this", exp.Star())
    for clause in list(tree.find_all(exp.Where, exp.Having)):
        if isinstance(clause.this, exp.And):
            parts = sorted(clause.this.flatten(), key=lambda e: masked_template(e))
            clause.set("this", exp.and_(*[p.copy() for p in parts]))
    return masked_template(tree)


def shape_template(tree: exp.Expr, schema: Any) -> str:
    """``loose_template`` at the family level (see the module docstring); ``schema`` is a Schema."""
    tree = tree.copy()
    types = {c.name.lower(): c.type for t in schema.tables for c in t.columns}
    names = {t.name.lower() for t in schema.tables} | {(t.schema or "").lower() for t in schema.tables}
    for sel in tree.find_all(exp.Select):
        order = sel.args.get("order")
        if order is not None:
            if sel.args.get("limit") is None and not isinstance(sel.parent, exp.Subquery):
                sel.set("order", None)
            elif len(order.expressions) > 1:
                order.set("expressions", order.expressions[:1])
    for join in tree.find_all(exp.Join):
        if (join.args.get("kind") or "").upper() == "INNER":
            join.set("kind", None)
    for col in tree.find_all(exp.Column):
        col.set("db", None)  # ecommerce.sessions.user_id: masked_template drops only the table
        col.set("catalog", None)
        kind = types.get(col.name.lower())
        col.set("this", exp.to_identifier(f"c_{kind}" if kind else "_a"))
    for ident in tree.find_all(exp.Identifier):
        if ident.name.lower() not in names and not ident.name.startswith("c_"):
            ident.set("this", "_a")
    for where in tree.find_all(exp.Where):
        if isinstance(where.this, exp.And):
            parts = {loose_template(p.unnest()): p for p in where.this.flatten()}
            where.set("this", exp.and_(*[parts[k].copy() for k in sorted(parts)]))
    return loose_template(tree)


_POOLED_AGGS = (exp.Sum, exp.Avg, exp.Min, exp.Max)  # one draw of a family's aggregate
_CALENDAR_PARTS = {"year", "quarter", "month", "day"}
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _is_date_literal(node: exp.Expr) -> bool:
    dated = False
    while isinstance(node, exp.Cast):
        dated = dated or node.to.is_type(*exp.DataType.TEMPORAL_TYPES)
        node = node.this
    return isinstance(node, exp.Literal) and (dated or bool(_ISO_DAY.match(node.name)))


def _calendar(cond: exp.Expr, temporal: set[str], known: set[str]) -> bool:
    """``cond`` picks a calendar period by literal dates, in any spelling the teacher writes; a
    column the schema does not know (``first_date``, a subquery's output) counts as a date when
    the bounds it is compared with are dates."""
    if isinstance(cond, exp.EQ):
        left = cond.this
        while isinstance(left, exp.Cast):
            left = left.this
        if isinstance(left, (exp.Year, exp.Month, exp.Quarter, exp.DateTrunc, exp.TimestampTrunc)):
            return True
        if isinstance(left, exp.Extract) and left.this.name.lower() in _CALENDAR_PARTS:
            return True
    if isinstance(cond, (exp.EQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)):
        col = cond.this
        while isinstance(col, exp.Cast):
            col = col.this
        bounds = [cond.args["low"], cond.args["high"]] if isinstance(cond, exp.Between) else [cond.expression]
        return (isinstance(col, exp.Column) and (col.name.lower() in temporal or col.name.lower() not in known)
                and all(_is_date_literal(b) for b in bounds))
    return False


def _inner_join_in_order(sel: exp.Select) -> None:
    """``FROM b JOIN a`` as ``FROM a JOIN b``: an inner join of two tables is one query either way."""
    joins = sel.args.get("joins") or []
    frm = sel.args.get("from_") or sel.args.get("from")
    if len(joins) != 1 or frm is None or joins[0].side or (joins[0].args.get("kind") or "INNER").upper() != "INNER":
        return
    a, b = frm.this, joins[0].this
    if isinstance(a, exp.Table) and isinstance(b, exp.Table) and b.name.lower() < a.name.lower():
        a_copy, b_copy = a.copy(), b.copy()
        a.replace(b_copy)
        b.replace(a_copy)


def _conjuncts(cond: exp.Expr) -> list[exp.Expr]:
    cond = cond.unnest()
    return [c.unnest() for c in cond.flatten()] if isinstance(cond, exp.And) else [cond]


def family_parts(tree: exp.Expr, schema: Any) -> tuple[str, frozenset[str], frozenset[str]]:
    """The family level of one query (module docstring): its skeleton (``shape_template`` without
    the WHERE and HAVING clauses and with SUM/AVG/MIN/MAX as one ``agg``), its conditions (one
    token per conjunct, keyed by clause and subquery depth) and the aggregates the skeleton masked."""
    tree = tree.copy()
    temporal = {c.name.lower() for t in schema.tables for c in t.columns if c.type in ("date", "timestamp")}
    known = {c.name.lower() for t in schema.tables for c in t.columns}
    keys = {t.primary_key[0].lower() for t in schema.tables if len(t.primary_key) == 1}
    outer = any(j.side for j in tree.find_all(exp.Join))
    for count in tree.find_all(exp.Count):
        if not outer and isinstance(count.this, exp.Column) and count.this.name.lower() in keys:
            count.set("this", exp.Star())
    conds: set[str] = set()
    for sel in list(tree.find_all(exp.Select)):
        _inner_join_in_order(sel)
        depth = sum(1 for _ in _ancestors(sel, exp.Select))
        for key, prefix in (("where", ""), ("having", "having ")):
            clause = sel.args.get(key)
            if clause is None:
                continue
            for cond in _conjuncts(clause.this):
                parts = _conjuncts(cond)  # a parenthesised range is one condition
                if all(_calendar(c, temporal, known) for c in parts):
                    conds.add(f"{prefix}{depth}:calendar")
                else:
                    conds.update(f"{prefix}{depth}:{shape_template(exp.select('*').where(c.copy()), schema)}"
                                 for c in parts)
            clause.pop()
    aggs: set[str] = set()
    for agg in list(tree.find_all(*_POOLED_AGGS)):
        aggs.add(type(agg).__name__.lower())
        agg.replace(exp.Anonymous(this="agg", expressions=[agg.this.copy()]))
    return shape_template(tree, schema), frozenset(conds), frozenset(aggs)


def _ancestors(node: exp.Expr, kind: type[exp.Expr]) -> Iterator[exp.Expr]:
    """The ancestors of ``node`` of type ``kind``, nearest first."""
    parent = node.parent
    while parent is not None:
        if isinstance(parent, kind):
            yield parent
        parent = parent.parent


@dataclass
class _Pool:
    """What one family's pairs showed: conditions, aggregates, the most conditions in one query."""

    conds: set[str] = field(default_factory=set)
    aggs: set[str] = field(default_factory=set)
    most: int = 0


class FamilyIndex:
    """Which families generated each skeleton, and per family the conditions, aggregates and most
    conditions its pairs showed. A family draws its conditions independently of the skeleton it
    draws (``Query.add_filters``), so they are pooled over the family's skeletons: a sample of a
    few hundred pairs per family cannot show every combination its generator makes."""

    def __init__(self) -> None:
        self._skeletons: dict[str, set[str]] = {}
        self._pools: dict[str, _Pool] = {}

    def add(self, family: str, parts: tuple[str, frozenset[str], frozenset[str]]) -> None:
        skeleton, conds, aggs = parts
        self._skeletons.setdefault(skeleton, set()).add(family)
        pool = self._pools.setdefault(family, _Pool())
        pool.conds |= conds
        pool.aggs |= aggs
        pool.most = max(pool.most, len(conds))

    def covers(self, parts: tuple[str, frozenset[str], frozenset[str]]) -> bool:
        skeleton, conds, aggs = parts
        pools = (self._pools[f] for f in self._skeletons.get(skeleton, ()))
        return any(conds <= p.conds and aggs <= p.aggs and len(conds) <= p.most for p in pools)


_FIELDS = ("tables", "joins", "aggregates", "group_by", "window", "subquery", "cte", "dates",
           "set_ops", "having", "order_by", "limit")


def coverage(pairs: list[dict[str, Any]], questions: list[dict[str, Any]], dialect: str = "duckdb",
             schema: Any = None) -> dict[str, Any]:
    """Match counts of ``questions``' gold SQL against ``pairs`` (module docstring); ``schema``
    (a Schema) adds the ``shape`` and ``family`` matches."""
    templates: set[str] = set()
    families = FamilyIndex()
    loose: set[str] = set()
    shaped: set[str] = set()
    shapes: set[tuple[Any, ...]] = set()
    seen: set[tuple[str, str]] = set()
    for p in pairs:
        if p.get("kind", "generate") != "generate" or (p.get("family", ""), p["sql"]) in seen:
            continue  # a paraphrase of a kept query: the same SQL, nothing new to template
        seen.add((p.get("family", ""), p["sql"]))
        try:
            tree = parse_sql(p["sql"], p.get("dialect", dialect))
        except SQLParseError:
            continue
        templates.add(masked_template(tree))
        loose.add(loose_template(tree))
        shapes.add(constructs(tree))
        if schema is not None:
            shaped.add(shape_template(tree, schema))
            families.add(p.get("family", ""), family_parts(tree, schema))
    parsed = exact = near = same_constructs = same_shape = in_family = 0
    missing: Counter[str] = Counter()
    for q in questions:
        try:
            tree = parse_sql(q["sql"], dialect)
        except (SQLParseError, KeyError):
            continue
        parsed += 1
        if masked_template(tree) in templates:
            exact += 1
        if loose_template(tree) in loose:
            near += 1
        if schema is not None:
            same_shape += shape_template(tree, schema) in shaped
            in_family += families.covers(family_parts(tree, schema))
        sig = constructs(tree)
        if sig in shapes:
            same_constructs += 1
        else:
            missing["+".join(_nearest_gap(sig, shapes))] += 1
    n = len(questions)
    return {
        "coverage": "teacher", "questions": n, "parsed": parsed, "pair_templates": len(templates),
        "template_exact": exact, "template_share": round(exact / n, 4) if n else 0.0,
        "template_loose": near, "template_loose_share": round(near / n, 4) if n else 0.0,
        **({"shape": same_shape, "shape_share": round(same_shape / n, 4) if n else 0.0,
            "family": in_family, "family_share": round(in_family / n, 4) if n else 0.0} if schema is not None else {}),
        "construct": same_constructs, "construct_share": round(same_constructs / n, 4) if n else 0.0,
        "construct_gaps": dict(missing.most_common(8)),
    }


def _nearest_gap(sig: tuple[Any, ...], shapes: set[tuple[Any, ...]]) -> list[str]:
    """The constructs in which ``sig`` differs from its closest covered shape (what to add)."""
    diffs = ([_FIELDS[i] for i, (a, b) in enumerate(zip(sig, s, strict=True)) if a != b] for s in shapes)
    return min(diffs, key=lambda d: (len(d), d), default=list(_FIELDS))  # ties: the same answer every run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m teacher.coverage", description=__doc__.splitlines()[0])
    ap.add_argument("pairs", type=Path, help="pairs.jsonl written by the teacher")
    ap.add_argument("questions", type=Path, help="JSONL with question + sql (e.g. dev.jsonl)")
    ap.add_argument("--dialect", default="duckdb", help="dialect of the questions' SQL")
    ap.add_argument("--schema", type=Path, default=None,
                    help="the run's schema (RUN/schema/schema.json, or a DDL/database): adds the shape and "
                         "family matches")
    args = ap.parse_args(argv)
    # masking literals trips sqlglot's generator warnings (e.g. LIST_SORT); they are noise here
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    for p in (args.pairs, args.questions):
        if not p.is_file():
            print(f"error: {p}: file not found", file=sys.stderr)
            return 2
    schema = None
    if args.schema is not None:
        from schemadistill.schema import load_schema
        from schemadistill.schema.model import Schema

        schema = (Schema.from_dict(json.loads(args.schema.read_text(encoding="utf-8")))
                  if args.schema.suffix == ".json" else load_schema(args.schema))
    res = coverage(list(read_jsonl(args.pairs)), list(read_jsonl(args.questions)), args.dialect, schema)
    from rich.console import Console
    from rich.table import Table

    tab = Table(title=f"coverage of {args.questions} by {args.pairs}", title_justify="left")
    for col in ("measure", "questions", "share"):
        tab.add_column(col)
    tab.add_row("parsed", str(res["parsed"]), "")
    tab.add_row("exact masked template", str(res["template_exact"]), f"{res['template_share']:.1%}")
    tab.add_row("template, parentheses/COUNT(1)/AND order evened out", str(res["template_loose"]),
                f"{res['template_loose_share']:.1%}")
    if "shape" in res:
        tab.add_row("shape: columns by type, names masked, WHERE as a set", str(res["shape"]),
                    f"{res['shape_share']:.1%}")
        tab.add_row("family: a family's conditions and aggregates composed", str(res["family"]),
                    f"{res['family_share']:.1%}")
    tab.add_row("same constructs", str(res["construct"]), f"{res['construct_share']:.1%}")
    for gap, count in res["construct_gaps"].items():
        tab.add_row(f"  uncovered, differs in: {gap}", str(count), "")
    Console(stderr=True).print(tab)
    sys.stdout.write(json.dumps(res) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
