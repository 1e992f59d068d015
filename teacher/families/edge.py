"""Phase 3 families: edge cases where a plausible query returns the wrong answer.

NULL semantics (COUNT(col) vs COUNT(*), missing foreign keys, COALESCE, ``<>`` dropping NULLs),
inclusive/exclusive date bounds, month ends and leap days, existence checks that may be false,
ties under LIMIT, division by zero, case-insensitive matches, and COUNT vs COUNT DISTINCT.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from teacher.families.aggregates import base_agg, group_col
from teacher.families.compose import (
    Query,
    eq_filter,
    fk_col,
    fk_steps,
    pick_table,
    show_cols,
    weighted,
)
from teacher.families.registry import family
from teacher.families.windows import QUALIFY_DIALECTS
from teacher.slots import SchemaView, V, nice_number

Slots = dict[str, Any]


@family("null_count_compare", 3, "edge", ("is_null", "count"), needs="a column with NULLs")
def null_count_compare(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: any(c.n_null and c.role != "id" for c in t.columns))
    if ti is None:
        return None
    q = Query(view, ti)
    c = view.cref(q.base, rng.choice([c for c in ti.columns if c.n_null and c.role != "id"]))
    q.add_filters(rng, weighted(rng, [0, 1], [3, 1]), parents=False, time=0.3)
    if q.has_filter_on(c.info):
        return None
    return {"q": q, "t": q.base, "c": c, "form": rng.choice(["both", "missing_diff", "pct_missing"])}


@family("null_fk_missing", 3, "edge", ("is_null", "count"), needs="a nullable foreign key with NULLs")
def null_fk_missing(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = [s for s in fk_steps(view) if fk_col(s).n_null]
    if not steps:
        return None
    step = rng.choice(steps)
    q = Query(view, step.edge.child)
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), parents=False, time=0.4)
    agg = base_agg(view, rng, q, count=0.7, fns=("sum", "avg"), w=(1, 1))
    return {"q": q, "t": q.base, "fk": view.cref(q.base, fk_col(step)), "who": view.ref(step.dst), "agg": agg}


@family("null_coalesce", 3, "edge", ("avg", "group_by", "is_null"), needs="a measure or dimension with NULLs")
def null_coalesce(view: SchemaView, rng: random.Random) -> Slots | None:
    form = rng.choice(["avg_zero", "label_unknown"])
    if form == "avg_zero":
        ti = pick_table(view, rng, lambda t: any(c.n_null for c in t.measures))
        if ti is None:
            return None
        q = Query(view, ti)
        c = view.cref(q.base, rng.choice([c for c in ti.measures if c.n_null]))
        g = group_col(view, rng, q, parents=False) if rng.random() < 0.3 else None
    else:
        ti = pick_table(view, rng, lambda t: any(c.n_null and c.type == "text" for c in t.dims))
        if ti is None:
            return None
        q = Query(view, ti)
        c = view.cref(q.base, rng.choice([c for c in ti.dims if c.n_null and c.type == "text"]))
        g = None
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), parents=False, time=0.3)
    if q.has_filter_on(c.info):
        return None
    return {"q": q, "t": q.base, "c": c, "g": g, "form": form, "unk": V("Unknown", "'Unknown'", ["Unknown"])}


@family("neq_including_null", 3, "edge", ("filter_eq", "is_null", "count"), needs="a dimension with NULLs")
def neq_including_null(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: any(c.n_null and c.role == "dimension" for c in t.dims))
    if ti is None:
        return None
    q = Query(view, ti)
    ci = rng.choice([c for c in ti.dims if c.n_null and c.role == "dimension"])
    f = eq_filter(view, q, q.base, ci, ci.top[0][0], "<>")
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), parents=False, time=0.3)
    if q.has_filter_on(ci):
        return None
    agg = base_agg(view, rng, q, count=0.7)
    return {"q": q, "t": q.base, "c": f.col, "v": f.parts[1], "f": f, "agg": agg}


def _dated(view: SchemaView, rng: random.Random) -> tuple[Query, Any] | None:
    ti = pick_table(view, rng, lambda t: t.times)
    if ti is None:
        return None
    q = Query(view, ti)
    ci = ti.time if ti.time is not None and rng.random() < 0.7 else rng.choice(ti.times)
    return q, view.cref(q.base, ci)


@family("date_inclusive", 3, "edge", ("between", "filter_range", "count"), needs="a time column")
def date_inclusive(view: SchemaView, rng: random.Random) -> Slots | None:
    got = _dated(view, rng)
    if got is None:
        return None
    q, tc = got
    days = sorted(d for d, _ in tc.info.days)
    if len(days) < 2:
        return None
    a, b = sorted(rng.sample(days[: min(len(days), 30)], 2))
    if a == b:
        return None
    agg = base_agg(view, rng, q, count=0.6)
    q.add_filters(rng, weighted(rng, [0, 1], [3, 1]), parents=False, time=0.0)
    return {"q": q, "t": q.base, "tc": tc, "a": view.date_value(a), "b": view.date_value(b),
            "b1": view.date_value(b + dt.timedelta(days=1)), "agg": agg, "ts": tc.info.is_timestamp,
            "form": "between" if not tc.info.is_timestamp and rng.random() < 0.6 else "range"}


@family("date_before_after", 3, "edge", ("filter_range", "count"), needs="a time column")
def date_before_after(view: SchemaView, rng: random.Random) -> Slots | None:
    got = _dated(view, rng)
    if got is None:
        return None
    q, tc = got
    months = tc.info.months
    if len(months) < 2 and len(tc.info.days) < 2:
        return None
    kind = rng.choice(["before_month", "after_day", "since_day", "through_day"])
    if kind == "before_month" and len(months) >= 2:
        m = rng.choice(months[1:])[0]
        bound, text = m, view.date_value(m, "month")
    else:
        if kind == "before_month":
            kind = "since_day"
        d = rng.choice(sorted(x for x, _ in tc.info.days)[:-1] or [tc.info.days[0][0]])
        bound, text = d, view.date_value(d)
    ts = tc.info.is_timestamp
    # timestamps: "after Jan 5" starts at Jan 6 00:00, "through Jan 5" ends before Jan 6
    nxt = bound + dt.timedelta(days=1)
    sql_bound = {"before_month": ("<", bound), "since_day": (">=", bound),
                 "after_day": (">=", nxt) if ts else (">", bound),
                 "through_day": ("<", nxt) if ts else ("<=", bound)}[kind]
    agg = base_agg(view, rng, q, count=0.6)
    q.add_filters(rng, weighted(rng, [0, 1], [3, 1]), parents=False, time=0.0)
    return {"q": q, "t": q.base, "tc": tc, "kind": kind, "op": sql_bound[0], "bound": view.date_value(sql_bound[1]),
            "text": text, "agg": agg}


@family("month_end", 3, "edge", ("filter_eq", "date_part", "count"), needs="a time column with month-end days")
def month_end(view: SchemaView, rng: random.Random) -> Slots | None:
    got = _dated(view, rng)
    if got is None:
        return None
    q, tc = got
    ends = tc.info.month_ends
    leap = [d for d in ends if d.month == 2 and d.day == 29]
    form = weighted(rng, ["any_month_end", "specific", "leap"], [2, 2, 3 if leap else 0])
    day = None
    if form == "specific":
        if not ends:
            return None
        day = view.date_value(rng.choice(ends))
    elif form == "leap":
        day = view.date_value(leap[0])
    agg = base_agg(view, rng, q, count=0.7)
    q.add_filters(rng, weighted(rng, [0, 1], [3, 1]), parents=False, time=0.0)
    return {"q": q, "t": q.base, "tc": tc, "form": form, "day": day, "agg": agg,
            "ts": tc.info.is_timestamp, "month": view.date_value(day.value.replace(day=1), "month") if day else None}


@family("exists_check", 3, "edge", ("subquery",), needs="any table", allow_zero=True)
def exists_check(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: t.measures or t.dims)
    if ti is None:
        return None
    q = Query(view, ti)
    truth = rng.random() < 0.5
    meas = [c for c in ti.measures if c.vmax is not None]
    if not truth and meas:
        ci = rng.choice(meas)
        x = nice_number(float(ci.vmax) * rng.choice([1.5, 2, 10]) + 1, float(ci.vmax), float("inf"))
        from teacher.families.compose import cmp_filter

        q.add(cmp_filter(view, q, q.base, ci, ">", int(x) if float(x).is_integer() else x))
    q.add_filters(rng, weighted(rng, [1, 2], [2, 1]), time=0.4)
    if not q.filters:
        return None
    return {"q": q, "t": q.base, "form": rng.choice(["exists", "count_gt"])}


@family("top_k_ties", 3, "edge", ("window", "top_k"), needs="a measure")
def top_k_ties(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: t.measures)
    if ti is None:
        return None
    q = Query(view, ti)
    grouped = rng.random() < 0.5
    if grouped:
        g = group_col(view, rng, q)
        if g is None:
            return None
        agg = base_agg(view, rng, q, count=0.5)
        shown, m = [g], None
    else:
        g, agg = None, None
        m = view.cref(q.base, rng.choice(ti.measures))
        shown = [view.cref(q.base, c) for c in ([ti.key] if ti.key else show_cols(ti, rng, 1, exclude=[m.info]))]
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.3)
    return {"q": q, "t": q.base, "g": g, "agg": agg, "m": m, "shown": shown,
            "k": view.number(rng.choice([2, 3, 5])), "fn": rng.choice(["RANK", "DENSE_RANK"]),
            "form": "qualify" if view.dialect in QUALIFY_DIALECTS and rng.random() < 0.5 else "subquery"}


@family("safe_ratio", 3, "edge", ("group_by", "sum"), needs="two measures or a measure and a dimension")
def safe_ratio(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: len(t.measures) >= 2)
    if ti is None:
        return None
    q = Query(view, ti)
    a, b = (view.cref(q.base, c) for c in rng.sample(ti.measures, 2))
    g = group_col(view, rng, q)
    if g is None:
        return None
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.3)
    return {"q": q, "t": q.base, "a": a, "b": b, "g": g}


@family("case_insensitive", 3, "edge", ("filter_like", "filter_eq", "count"), needs="a text dimension")
def case_insensitive(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: any(c.type == "text" and c.role == "dimension"
                                            and any(str(v).lower() != str(v).upper() for v, _ in c.top)
                                            for c in t.dims))
    if ti is None:
        return None
    ci = rng.choice([c for c in ti.dims if c.type == "text" and c.role == "dimension"
                     and any(str(v).lower() != str(v).upper() for v, _ in c.top)])
    value = str(rng.choice([v for v, _ in ci.top[:8] if str(v).lower() != str(v).upper()]))
    typed = rng.choice([value.lower(), value.upper()]) if value.lower() != value else value.upper()
    if typed == value:
        return None
    q = Query(view, ti)
    c = view.cref(q.base, ci)
    v = V(typed, "'" + typed.lower().replace("'", "''") + "'", [typed])
    q.add_filters(rng, weighted(rng, [0, 1], [3, 1]), parents=False, time=0.3)
    if q.has_filter_on(ci):
        return None
    ilike_ok = not any(ch in value for ch in "_%\\")
    return {"q": q, "t": q.base, "c": c, "v": v, "lit": "'" + typed.replace("'", "''") + "'",
            "form": rng.choice(["lower", "ilike"]) if ilike_ok else "lower", "agg": base_agg(view, rng, q, count=0.7)}


@family("distinct_vs_count", 3, "edge", ("count", "count_distinct", "distinct"), needs="a foreign key")
def distinct_vs_count(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = fk_steps(view)
    if not steps:
        return None
    step = rng.choice(steps)
    q = Query(view, step.edge.child)
    q.add_filters(rng, weighted(rng, [0, 1, 2], [1, 2, 1]), time=0.4)
    return {"q": q, "t": q.base, "fk": view.cref(q.base, fk_col(step)), "who": view.ref(step.dst),
            "form": rng.choice(["both", "distinct_only", "per_entity"])}
