"""Phase 2 families from the sidecar's semantic layer: metrics and dimensions, used verbatim.

A metric ("fraud_rate": 100.0 * COUNT(DISTINCT CASE WHEN is_fraud = 1 THEN user_id END) /
COUNT(DISTINCT user_id)) is the user's own definition of a word; questions name it by its
synonyms and the SQL is its expression, overall, per dimension, per period, with filters and a
time window. When a join is needed, the expression's bare columns are qualified with the
metric table's alias (sqlglot), so ``user_id`` stays unambiguous. Schemas without a sidecar
have no metrics: these families are skipped and reported.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from teacher.families.aggregates import base_agg
from teacher.families.compose import Agg, Filter, Query, time_filter, value_filter, weighted
from teacher.families.registry import family
from teacher.families.timeseries import grain_adj, grain_words, grains
from teacher.lexicon import pluralize
from teacher.slots import SchemaView, TableInfo, TRef, Words

Slots = dict[str, Any]


@lru_cache(maxsize=512)
def _parse(sql: str, dialect: str) -> Any:
    try:
        return sqlglot.parse_one(sql, read=dialect)
    except SqlglotError:
        return None


def expr_sql(sql: str, dialect: str, t: TRef) -> Callable[[], str]:
    """The expression verbatim when no alias is needed, else with its bare columns qualified."""
    def render() -> str:
        if not t.alias and dialect == "duckdb":
            return sql
        tree = _parse(sql, dialect)
        if tree is None:
            return sql
        tree = tree.copy()
        if t.alias:
            for col in tree.find_all(exp.Column):
                if not col.table:
                    col.set("table", exp.to_identifier(t.alias))
        return tree.sql(dialect="duckdb")
    return render


def metric_agg(view: SchemaView, metric: Any, t: TRef) -> Agg:
    words = Words(view.lexicon.metric_words(metric) or [metric.name.replace("_", " ")])
    unit = (metric.unit or "").lower()
    suffix = " (in percent)" if unit == "percent" else ""
    phrases = [lambda: f"the {words}", lambda: f"the {words}{suffix}", lambda: f"{words}"]
    alias = "".join(ch if ch.isalnum() else "_" for ch in metric.name.lower()).strip("_") or "metric"
    return Agg(expr_sql(metric.sql, view.dialect, t), alias, phrases, parts=[words], fn="metric")


@lru_cache(maxsize=512)
def _columns(sql: str, dialect: str) -> frozenset[str]:
    """Lower-cased names of every column an expression reads."""
    tree = _parse(sql, dialect)
    return frozenset() if tree is None else frozenset(c.name.lower() for c in tree.find_all(exp.Column))


@lru_cache(maxsize=512)
def tested_columns(sql: str, dialect: str) -> frozenset[str]:
    """Lower-cased names of the columns a metric's own conditions test: ``os`` in
    ``COUNT(DISTINCT CASE WHEN os = 'Android' THEN user_id END)``, ``revenue`` in ``... revenue > 0 ...``."""
    tree = _parse(sql, dialect)
    if tree is None:
        return frozenset()
    return frozenset(c.name.lower() for p in tree.find_all(exp.Predicate) for c in p.find_all(exp.Column))


def fixes_its_test(metric: Any, view: SchemaView, q: Query, dimension: Any = None) -> bool:
    """True when the query filters, or groups by a dimension of, a column the metric itself tests:
    "the fraud rate of non-fraudulent visits" is 0 and "the Safari share per browser" 0 or 100 in
    every group, questions nobody asks whose SQL the student would learn as the way to answer one."""
    tested = tested_columns(metric.sql, view.dialect)
    if not tested:
        return False
    table = view.table(metric.table)
    if any(f.col is not None and f.col.t.info is table and f.col.info.name.lower() in tested for f in q.filters):
        return True
    return (dimension is not None and view.table(dimension.table) is table
            and bool(_columns(dimension.sql, view.dialect) & tested))


def _metric_query(view: SchemaView, rng: random.Random) -> tuple[Any, TableInfo, Query, Agg] | None:
    if not view.metrics:
        return None
    metric = rng.choice(view.metrics)
    ti = view.table(metric.table)
    if ti is None or ti.rows == 0:
        return None
    q = Query(view, ti)
    return metric, ti, q, metric_agg(view, metric, q.base)


def _dimension(view: SchemaView, rng: random.Random, q: Query) -> tuple[Any, Callable[[], str], Words] | None:
    """A sidecar dimension on the query's table or on a table up to 2 foreign keys up (joined)."""
    base = q.base.info
    options: list[tuple[Any, Any]] = []
    for d in view.dimensions:
        dt_ = view.table(d.table)
        if dt_ is base:
            options.append((d, None))
            continue
        for hops in (1, 2):
            for p in view.paths(base, hops, up=True):
                if p[-1].dst is dt_:
                    options.append((d, p))
    if not options:
        return None
    d, path = rng.choice(options)
    t = q.join(path) if path else q.base
    words = Words(view.lexicon.dimension_words(d) or [d.name.replace("_", " ")])
    return d, expr_sql(d.sql, view.dialect, t), words


def _alias(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_") or "dim"


@family("metric_value", 2, "metric", ("sum", "avg"), needs="sidecar metrics", weight=2.0)
def metric_value(view: SchemaView, rng: random.Random) -> Slots | None:
    got = _metric_query(view, rng)
    if got is None:
        return None
    metric, ti, q, agg = got
    q.add_filters(rng, weighted(rng, [0, 1, 2], [2, 2, 1]), time=0.5)
    if fixes_its_test(metric, view, q):
        return None
    return {"q": q, "t": q.base, "agg": agg, "percent": (metric.unit or "").lower() == "percent"}


@family("metric_by_dimension", 2, "metric", ("group_by",), needs="sidecar metrics and dimensions", weight=1.5)
def metric_by_dimension(view: SchemaView, rng: random.Random) -> Slots | None:
    got = _metric_query(view, rng)
    if got is None:
        return None
    metric, ti, q, agg = got
    dim = _dimension(view, rng, q)
    if dim is None:
        return None
    d, dsql, dwords = dim
    q.add_filters(rng, weighted(rng, [0, 1, 2], [2, 2, 1]), time=0.5)
    if fixes_its_test(metric, view, q, d):
        return None
    return {"q": q, "t": q.base, "agg": agg, "dsql": dsql, "dw": dwords, "dalias": _alias(d.name),
            "top": rng.random() < 0.3, "percent": (metric.unit or "").lower() == "percent"}


@family("metric_by_time", 2, "metric", ("date_trunc", "group_by"), needs="sidecar metrics on dated tables")
def metric_by_time(view: SchemaView, rng: random.Random) -> Slots | None:
    got = _metric_query(view, rng)
    if got is None:
        return None
    metric, ti, q, agg = got
    owner = q._time_owner(rng)
    if owner is None or owner.info.time is None:
        return None
    tc = view.cref(owner, owner.info.time)
    gs = [g for g in grains(tc.info) if g != "day"] or grains(tc.info)
    if not gs:
        return None
    grain = rng.choice(gs)
    if grain in ("week", "month") and len(tc.info.months) > 24:
        q.add(time_filter(view, rng, q, owner, "year_fn"))
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.0)
    if fixes_its_test(metric, view, q):
        return None
    return {"q": q, "t": q.base, "agg": agg, "tc": tc, "grain": grain, "gw": grain_words(view, grain),
            "gadj": grain_adj(grain)}


@family("metric_filtered", 2, "metric", ("filter_eq", "date_trunc"), needs="sidecar metrics", weight=2.0)
def metric_filtered(view: SchemaView, rng: random.Random) -> Slots | None:
    got = _metric_query(view, rng)
    if got is None:
        return None
    metric, ti, q, agg = got
    owner = q._time_owner(rng)
    tf = time_filter(view, rng, q, owner)
    if tf is None:
        return None
    q.add(tf)
    parents = [p for p in view.paths(ti, 1, up=True) if p[0].dst.dims]
    mark = q.mark()
    target = q.join(rng.choice(parents)) if parents and rng.random() < 0.5 else q.base
    if not q.add(value_filter(view, rng, q, target, weighted(rng, ["eq", "flag", "in"], [3, 2, 1]))):
        q.rollback(mark)
    if rng.random() < 0.3:
        q.add_filters(rng, len(q.filters), time=0.0)
    if fixes_its_test(metric, view, q):
        return None
    return {"q": q, "t": q.base, "agg": agg, "percent": (metric.unit or "").lower() == "percent"}


@family("metric_top_dimension", 2, "metric", ("group_by", "top_k"), needs="sidecar metrics and dimensions")
def metric_top_dimension(view: SchemaView, rng: random.Random) -> Slots | None:
    out = metric_by_dimension(view, rng)
    if out is None:
        return None
    out["desc"] = rng.random() < 0.8
    return out


@family("dimension_breakdown", 2, "metric", ("group_by", "count", "case"), needs="sidecar dimensions")
def dimension_breakdown(view: SchemaView, rng: random.Random) -> Slots | None:
    if not view.dimensions:
        return None
    d = rng.choice(view.dimensions)
    dt_ = view.table(d.table)
    if dt_ is None:
        return None
    facts = [t for t in view.tables if t.rows > 1 and (t is dt_ or any(
        p[-1].dst is dt_ for h in (1, 2) for p in view.paths(t, h, up=True)))]
    if not facts:
        return None
    ti = rng.choice(facts)
    q = Query(view, ti)
    path = next((p for h in (1, 2) for p in view.paths(ti, h, up=True) if p[-1].dst is dt_), None)
    t = q.join(path) if path and ti is not dt_ else q.base
    words = Words(view.lexicon.dimension_words(d) or [d.name.replace("_", " ")])
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.4)
    return {"q": q, "t": q.base, "dsql": expr_sql(d.sql, view.dialect, t), "dw": words, "dalias": _alias(d.name)}


# -- sidecar rules that define a word ------------------------------------------------------------
# Only one strict shape is trusted: "<term> (<synonym>) are|is <rows> with <condition>" or
# "<term> have|has <condition>", where the condition is a single SQL comparison on one column.
# Anything looser ("X when ...", "filter on ... only when asked") is left alone: a misread rule
# would teach a wrong definition.
_RULE = re.compile(
    r"^(?:an?\s+|the\s+)?(?P<term>[A-Za-z][A-Za-z\- ]{2,40}?)\s*(?:\((?P<alt>[^)]{2,40})\))?\s+"
    r"(?:(?:are|is)\s+(?:(?:an?|the)\s+)?(?P<rows>[A-Za-z ]{2,30}?)\s+with|have|has)\s+(?P<cond>.+?)"
    r"(?:\s+in\s+[\w.]+)?\s*$", re.IGNORECASE)
_COND = re.compile(r"^(?P<col>[A-Za-z_][\w.]*)\s*(?:(?P<op>=|<>|!=|>=|<=|>|<)\s*(?P<lit>'[^']*'|-?\d+(?:\.\d+)?|TRUE|FALSE)"
                   r"|(?P<isnull>IS\s+(?:NOT\s+)?NULL))$", re.IGNORECASE)


@dataclass(frozen=True)
class RuleTerm:
    terms: tuple[str, ...]  # the defined word and its synonyms, plural
    table: TableInfo
    column: str
    sql: str  # the condition, columns bare


def rule_terms(view: SchemaView) -> list[RuleTerm]:
    """Words the sidecar's rules define as a row condition (see the comment above)."""
    out: list[RuleTerm] = []
    for rule in view.schema.rules:
        for clause in re.split(r";\s*|\.\s+|\.$", rule):
            m = _RULE.match(clause.strip())
            if not m or re.search(r"\b(rate|share|percent|means|revenue)\b", m.group("term"), re.IGNORECASE):
                continue
            c = _COND.match(m.group("cond").strip())
            if not c:
                continue
            col = c.group("col").split(".")[-1]
            words = {w.lower() for w in m.group("term").split()} | {w.lower() for w in (m.group("rows") or "").split()}
            owners = [t for t in view.tables if t.col(col) is not None and t.rows > 0]
            named = [t for t in owners if {w.lower() for ws in view.table_words(t) for w in ws} & words]
            if len(named) != 1 and len(owners) != 1:
                continue
            table = named[0] if len(named) == 1 else owners[0]
            ci = table.col(col)
            assert ci is not None
            cond = (f"{ci.q} {c.group('isnull').upper()}" if c.group("isnull")
                    else f"{ci.q} {'<>' if c.group('op') == '!=' else c.group('op')} {c.group('lit')}")
            terms = [pluralize(m.group("term").strip().lower())]
            if m.group("alt"):
                terms.append(pluralize(m.group("alt").strip().lower()))
            out.append(RuleTerm(tuple(terms), table, ci.name, cond))
    return out


@family("rule_term", 2, "metric", ("filter_eq", "count"), needs="sidecar rules that define a term")
def rule_term(view: SchemaView, rng: random.Random) -> Slots | None:
    terms = rule_terms(view)
    if not terms:
        return None
    rt = rng.choice(terms)
    q = Query(view, rt.table)
    ci = rt.table.col(rt.column)
    assert ci is not None
    c = view.cref(q.base, ci)
    cond = Filter(lambda: rt.sql.replace(ci.q, c.ref, 1), [lambda: ""], col=c)
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.5)
    if q.has_filter_on(ci):
        return None
    agg = base_agg(view, rng, q, count=0.6, fns=("sum", "avg"), w=(1, 1))
    return {"q": q, "t": q.base, "term": Words(list(rt.terms)), "cond": cond, "agg": agg}
