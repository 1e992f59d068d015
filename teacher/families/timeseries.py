"""Phase 2 families over time: calendar periods, relative windows (anchored at the reference
date, never CURRENT_DATE), bucketing by day/week/month/quarter/year, date parts, period-over-
period change (LAG), running totals, first/last events per entity and time-to-event.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from teacher.families.aggregates import base_agg, condition, group_col
from teacher.families.compose import (
    Query,
    add_months,
    distinct_agg,
    fk_col,
    fk_steps,
    time_filter,
    weighted,
)
from teacher.families.registry import family
from teacher.slots import ColumnInfo, SchemaView, TableInfo, Words

Slots = dict[str, Any]
GRAIN_WORDS = {"day": ("daily", "day"), "week": ("weekly", "week"), "month": ("monthly", "month"),
               "quarter": ("quarterly", "quarter"), "year": ("yearly", "year")}


def timed_query(view: SchemaView, rng: random.Random, measures: bool = False) -> tuple[Query, Any] | None:
    """A query on a table dated by its own time column or by a parent's (joined)."""
    pool = [t for t in view.tables if t.rows > 1 and (t.measures or not measures) and (
        t.time is not None or any(p[0].dst.time is not None for p in view.paths(t, 1, up=True)))]
    if not pool:
        return None
    # big tables are the events ("orders"); small dated tables are reference rows ("stores")
    ti = weighted(rng, pool, [(3 if t.time else 1) * t.rows for t in pool])
    q = Query(view, ti)
    owner = q._time_owner(rng)
    if owner is None:
        return None
    return q, owner


def grains(ci: ColumnInfo) -> list[str]:
    """Calendar grains that give 2..~400 periods over the column's data."""
    n_months = len(ci.months)
    out = []
    if n_months <= 12 and len(ci.days) > 1:
        out.append("day")
    if 1 <= n_months <= 60:
        out.append("week")
    if n_months >= 2:
        out.append("month")
    if len(ci.quarters) >= 2:
        out.append("quarter")
    if len(ci.years) >= 2:
        out.append("year")
    return out


def grain_words(view: SchemaView, grain: str) -> Words:
    """Adverbials for a grain: "monthly", "per month", "month by month"."""
    adj, noun = GRAIN_WORDS[grain]
    return Words(view.words(adj, [adj]) + [f"per {noun}", f"by {noun}", f"each {noun}"])


def grain_adj(grain: str) -> Words:
    """The adjective before a noun: "the monthly revenue"."""
    return Words([GRAIN_WORDS[grain][0]])


@family("agg_in_period", 2, "time", ("date_trunc", "sum", "count"), needs="a time column", weight=2.5)
def agg_in_period(view: SchemaView, rng: random.Random) -> Slots | None:
    got = timed_query(view, rng)
    if got is None:
        return None
    q, owner = got
    tf = time_filter(view, rng, q, owner, weighted(rng, ["month_trunc", "month_cast", "month_range", "month_extract",
                                                          "year_fn", "year_trunc", "year_cast", "year_range",
                                                          "quarter_trunc", "quarter_cast", "quarter_range", "day"],
                                                   [5, 3, 4, 1, 3, 2, 2, 2, 2, 1, 1, 2]))
    if tf is None:
        return None
    q.add(tf)
    steps = [s for s in fk_steps(view) if s.edge.child is q.base.info]
    if steps and rng.random() < 0.25:
        step = rng.choice(steps)
        agg = distinct_agg(view, q.base, fk_col(step), view.ref(step.dst))
    else:
        agg = base_agg(view, rng, q, count=0.35)
    q.add_filters(rng, weighted(rng, [0, 1, 2], [2, 2, 1]), time=0.0)
    return {"q": q, "t": q.base, "agg": agg}


@family("last_n_days", 2, "time", ("filter_range",), needs="a time column")
def last_n_days(view: SchemaView, rng: random.Random) -> Slots | None:
    got = timed_query(view, rng)
    if got is None or view.reference_date is None:
        return None
    q, owner = got
    q.add(time_filter(view, rng, q, owner, "last_days"))
    agg = base_agg(view, rng, q, count=0.4)
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.0)
    return {"q": q, "t": q.base, "agg": agg}


@family("time_bucket", 2, "time", ("date_trunc", "group_by"), needs="a time column", weight=2.0)
def time_bucket(view: SchemaView, rng: random.Random) -> Slots | None:
    got = timed_query(view, rng)
    if got is None:
        return None
    q, owner = got
    tc = view.cref(owner, owner.info.time)
    gs = grains(tc.info)
    if not gs:
        return None
    grain = rng.choice(gs)
    if grain == "day" and len(tc.info.months) > 2:
        q.add(time_filter(view, rng, q, owner, "month_trunc"))
    elif grain == "week" and len(tc.info.months) > 12:
        q.add(time_filter(view, rng, q, owner, "year_fn"))
    agg = base_agg(view, rng, q, count=0.4)
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.0)
    return {"q": q, "t": q.base, "tc": tc, "grain": grain, "gw": grain_words(view, grain), "gadj": grain_adj(grain),
            "agg": agg}


# Words that say the part merges years ("calendar month": January of every year together), so
# they never read as time_bucket's periods ("per month", "quarterly": DATE_TRUNC). A year part
# would group as time_bucket's year does and only print the year another way (2023 against
# 2023-01-01): the same words with two answers, so years are time_bucket's alone.
_PARTS = {"dow": "day of the week", "month": "calendar month", "hour": "hour of the day",
          "quarter": "quarter of the year"}


@family("date_part_group", 2, "time", ("date_part", "group_by"), needs="a time column")
def date_part_group(view: SchemaView, rng: random.Random) -> Slots | None:
    got = timed_query(view, rng)
    if got is None:
        return None
    q, owner = got
    tc = view.cref(owner, owner.info.time)
    part = rng.choice(["dow", "month", "quarter"] + (["hour"] if tc.info.is_timestamp else []))
    agg = base_agg(view, rng, q, count=0.4)
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.3 if part in ("dow", "hour") else 0.0)
    return {"q": q, "t": q.base, "tc": tc, "part": part, "pw": Words([_PARTS[part]]), "agg": agg}


@family("period_change", 2, "time", ("window", "cte", "date_trunc"), needs="a time column with 2+ periods")
def period_change(view: SchemaView, rng: random.Random) -> Slots | None:
    got = timed_query(view, rng)
    if got is None:
        return None
    q, owner = got
    tc = view.cref(owner, owner.info.time)
    gs = [g for g in grains(tc.info) if g in ("month", "quarter", "year")]
    if not gs:
        return None
    grain = weighted(rng, gs, [3 if g == "month" else 2 if g == "year" else 1 for g in gs])
    if grain == "month" and len(tc.info.months) > 24 and rng.random() < 0.7:
        q.add(time_filter(view, rng, q, owner, "year_fn"))
    agg = base_agg(view, rng, q, count=0.35, fns=("sum", "avg"), w=(3, 1))
    q.add_filters(rng, weighted(rng, [0, 1], [3, 1]), time=0.0)
    return {"q": q, "t": q.base, "tc": tc, "grain": grain, "agg": agg, "pct": rng.random() < 0.5}


@family("running_total", 2, "time", ("window", "date_trunc", "sum"), needs="a time column")
def running_total(view: SchemaView, rng: random.Random) -> Slots | None:
    got = timed_query(view, rng)
    if got is None:
        return None
    q, owner = got
    tc = view.cref(owner, owner.info.time)
    gs = [g for g in grains(tc.info) if g != "week"]
    if not gs:
        return None
    grain = rng.choice(gs)
    if grain == "day" and len(tc.info.months) > 1:
        q.add(time_filter(view, rng, q, owner, "month_trunc"))
    elif grain == "month" and len(tc.info.months) > 24:
        q.add(time_filter(view, rng, q, owner, "year_fn"))
    agg = base_agg(view, rng, q, count=0.4, fns=("sum",), w=(1,))
    q.add_filters(rng, weighted(rng, [0, 1], [3, 1]), time=0.0)
    return {"q": q, "t": q.base, "tc": tc, "grain": grain, "agg": agg, "gw": grain_words(view, grain)}


def _entity_time_steps(view: SchemaView) -> list[Any]:
    return [s for s in fk_steps(view, child=lambda t: t.time is not None)]


@family("first_last_event", 2, "time", ("min_max", "group_by", "top_k"), needs="a dated table with a foreign key")
def first_last_event(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = _entity_time_steps(view)
    if not steps:
        return None
    step = rng.choice(steps)
    child: TableInfo = step.edge.child
    fk = fk_col(step)
    q = Query(view, child)
    assert child.time is not None
    tc = view.cref(q.base, child.time)
    form = weighted(rng, ["one", "earliest_k"], [3, 2])
    which = rng.choice(["first", "last", "both"])
    out = {"q": q, "t": q.base, "who": view.ref(step.dst), "fk": view.cref(q.base, fk), "tc": tc,
           "form": form, "which": which}
    if form == "one":
        if not fk.ids:
            return None
        out["id"] = view.value(fk, rng.choice(fk.ids))
        q.add_filters(rng, weighted(rng, [0, 1], [3, 1]), parents=False, time=0.0)
    else:
        out["which"] = "first" if which == "both" else which
        out["k"] = view.number(rng.choice([3, 5, 10]))
        q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.0)
    return out


@family("first_time_entities", 2, "time", ("subquery", "group_by", "min_max", "date_trunc"),
        needs="a dated table with a foreign key")
def first_time_entities(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = _entity_time_steps(view)
    if not steps:
        return None
    step = rng.choice(steps)
    child = step.edge.child
    assert child.time is not None
    inner = Query(view, child)
    inner.add_filters(rng, weighted(rng, [0, 1], [2, 1]), parents=False, time=0.0)
    tc = view.cref(inner.base, child.time)
    grain = weighted(rng, ["month", "year", "quarter"], [3, 2, 1])
    periods = {"month": tc.info.months, "year": [(dt.date(y, 1, 1), n) for y, n in tc.info.years],
               "quarter": tc.info.quarters}[grain]
    if not periods:
        return None
    start = weighted(rng, [p for p, _ in periods], [n for _, n in periods])
    end = add_months(start, {"month": 1, "quarter": 3, "year": 12}[grain])
    outer = Query(view, step.dst)
    outer.base.alias = step.dst.alias
    key = view.cref(outer.base, step.dst.col(step.edge.parent_cols[0]))  # type: ignore[arg-type]
    mode = weighted(rng, ["count", "parent_filter", "parent_group"], [3, 2, 2])
    g = None
    if mode == "parent_filter":
        outer.add_filters(rng, 1, parents=False, time=0.0)
        if not outer.filters:
            mode = "count"
    elif mode == "parent_group":
        g = group_col(view, rng, outer, parents=False)
        if g is None:
            mode = "count"
    return {"iq": inner, "t": inner.base, "tc": tc, "fk": view.cref(inner.base, fk_col(step)), "who": outer.base,
            "q": outer, "key": key, "mode": mode, "g": g, "grain": grain,
            "period": view.date_value(start, grain), "end": view.date_value(end, grain),
            "form": rng.choice(["having_trunc", "where_range"]), "distinct": rng.random() < 0.4,
            "top": mode == "parent_group" and rng.random() < 0.4}


@family("time_to_event", 2, "time", ("subquery", "case", "avg", "min_max"), needs="a dated table with a foreign key")
def time_to_event(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = _entity_time_steps(view)
    if not steps:
        return None
    step = rng.choice(steps)
    q = Query(view, step.edge.child)
    cond = condition(view, rng, q)
    if cond is None:
        return None
    assert step.edge.child.time is not None
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.0)
    if any(f.col is not None and cond.col is not None and f.col.info is cond.col.info for f in q.filters):
        return None
    tc = view.cref(q.base, step.edge.child.time)
    # date - date is a day count in DuckDB and PostgreSQL; timestamps need DATE_DIFF
    form = "minus" if tc.info.type == "date" and rng.random() < 0.5 else "date_diff"
    return {"q": q, "t": q.base, "who": view.ref(step.dst), "fk": view.cref(q.base, fk_col(step)),
            "tc": tc, "cond": cond, "form": form, "stat": weighted(rng, ["AVG", "MEDIAN", "MAX"], [4, 1, 1])}
