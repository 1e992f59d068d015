"""Phase 2 families: aggregates, grouping, ranking groups, ratios and distributions.

The filtered aggregate (``agg_filtered``) and its grouped forms carry most real questions
("total revenue of active German users' sessions in December"), so they get larger default
weights and draw 0-3 filters over the base table and the tables it points at.
"""

from __future__ import annotations

import math
import random
from typing import Any

from teacher.families.compose import (
    AGG_FNS,
    Agg,
    Filter,
    Query,
    count_agg,
    distinct_agg,
    fk_col,
    fk_steps,
    measure_agg,
    measure_threshold,
    pick_table,
    snake,
    value_filter,
    weighted,
)
from teacher.families.registry import family
from teacher.slots import ColumnInfo, CRef, SchemaView, TableInfo, nice_number, touches_a_value

Slots = dict[str, Any]


def group_col(view: SchemaView, rng: random.Random, q: Query, parents: bool = True,
              exclude: tuple[ColumnInfo, ...] = (), flags: float = 0.15) -> CRef | None:
    """A column to GROUP BY: a dimension of the base table or (joined) of a table it points at."""
    opts: list[tuple[Any, ColumnInfo]] = []
    for c in q.base.info.dims:
        if c not in exclude and (c.role == "dimension" or rng.random() < flags):
            opts.append((None, c))
    if parents:
        for p in view.paths(q.base.info, 1, up=True):
            for c in p[0].dst.dims:
                if c.role == "dimension" and c not in exclude:
                    opts.append((p, c))
    opts = [(p, c) for p, c in opts if not q.has_filter_on(c)]
    if not opts:
        return None
    path, ci = rng.choice(opts)
    t = q.join(path) if path else q.base
    return view.cref(t, ci)


def base_agg(view: SchemaView, rng: random.Random, q: Query, count: float = 0.3,
             fns: tuple[str, ...] = AGG_FNS, w: tuple[float, ...] = (4, 4, 1, 1)) -> Agg:
    if not q.base.info.measures or rng.random() < count:
        return count_agg(view, q.base, q)
    return measure_agg(view, q.base, rng.choice(q.base.info.measures), weighted(rng, fns, w))


def fact_table(view: SchemaView, rng: random.Random, measures: bool = True) -> TableInfo | None:
    """A table worth aggregating: has measures (or rows to count); facts with a time column first."""
    pool = [t for t in view.tables if t.rows > 1 and (t.measures or not measures)]
    if not pool:
        return None
    return weighted(rng, pool, [(3 if t.time else 1) * math.sqrt(t.rows) for t in pool])


def condition(view: SchemaView, rng: random.Random, q: Query) -> Filter | None:
    """A condition on the base table to count or share by (flag, value, threshold), not in WHERE."""
    return value_filter(view, rng, q, q.base, weighted(rng, ["flag", "eq", "cmp"], [3, 2, 1]))


def clashes(q: Query, cond: Filter) -> bool:
    """True when a WHERE filter is on the condition's column (the ratio would be 0 or 100)."""
    return any(f.col is not None and cond.col is not None and f.col.info is cond.col.info for f in q.filters)


@family("agg_filtered", 2, "aggregate", ("sum", "avg", "min_max"), needs="a measure", weight=4.0)
def agg_filtered(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = fact_table(view, rng)
    if ti is None:
        return None
    q = Query(view, ti)
    agg = measure_agg(view, q.base, rng.choice(ti.measures), weighted(rng, AGG_FNS, (4, 4, 1, 1)))
    q.add_filters(rng, weighted(rng, [0, 1, 2, 3], [1, 3, 3, 2]), time=0.6)
    return {"q": q, "t": q.base, "agg": agg}


@family("agg_multi", 2, "aggregate", ("sum", "avg", "min_max"), needs="a measure")
def agg_multi(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = fact_table(view, rng)
    if ti is None:
        return None
    q = Query(view, ti)
    combos = [("avg", "max"), ("min", "max"), ("sum", "avg"), ("avg", "min", "max"), ("sum", "max")]
    fns = rng.choice(combos)
    cols = ti.measures
    if len(cols) > 1 and rng.random() < 0.45:  # two measures: "average duration and total revenue"
        a, b = rng.sample(cols, 2)
        fa, fb = (rng.choice(["sum", "avg"]), rng.choice(["sum", "avg", "max"]))
        aggs = [measure_agg(view, q.base, a, fa), measure_agg(view, q.base, b, fb)]
    else:
        ci = rng.choice(cols)
        aggs = [measure_agg(view, q.base, ci, fn) for fn in fns]
    steps = [s for s in fk_steps(view) if s.edge.child is ti]
    if steps and rng.random() < 0.25:  # "active users and their average session length"
        step = rng.choice(steps)
        if rng.random() < 0.5:
            aggs = aggs[:1]
        aggs.insert(0, distinct_agg(view, q.base, fk_col(step), view.ref(step.dst)))
    elif rng.random() < 0.3:
        aggs.append(count_agg(view, q.base, q))
    g = group_col(view, rng, q) if rng.random() < 0.4 else None
    q.add_filters(rng, weighted(rng, [0, 1, 2], [1, 2, 2]), time=0.5)
    if g is not None and q.has_filter_on(g.info):
        return None
    return {"q": q, "t": q.base, "aggs": aggs, "g": g}


@family("count_entities", 2, "aggregate", ("count_distinct",), needs="a foreign key", weight=2.5)
def count_entities(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = fk_steps(view, child=lambda t: t.dims or t.measures or t.time)
    if not steps:
        return None
    step = rng.choice(steps)
    q = Query(view, step.edge.child)
    who = view.ref(step.dst)
    q.add_filters(rng, weighted(rng, [1, 2, 3], [3, 3, 2]), time=0.6)
    if not q.filters:
        return None
    return {"q": q, "t": q.base, "who": who, "agg": distinct_agg(view, q.base, fk_col(step), who)}


@family("group_agg", 2, "aggregate", ("group_by", "sum", "avg", "count"), needs="a dimension", weight=3.0)
def group_agg(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = fact_table(view, rng, measures=False)
    if ti is None:
        return None
    q = Query(view, ti)
    g = group_col(view, rng, q)
    if g is None:
        return None
    agg = base_agg(view, rng, q)
    q.add_filters(rng, weighted(rng, [0, 1, 2], [2, 3, 2]), time=0.5)
    order = weighted(rng, ["", "agg", "group"], [3, 2, 1])
    return {"q": q, "t": q.base, "g": g, "agg": agg, "order": order}


@family("group_agg_2", 2, "aggregate", ("group_by", "group_by_2"), needs="two dimensions")
def group_agg_2(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = fact_table(view, rng, measures=False)
    if ti is None:
        return None
    q = Query(view, ti)
    g1 = group_col(view, rng, q)
    if g1 is None:
        return None
    g2 = group_col(view, rng, q, exclude=(g1.info,))
    if g2 is None:
        return None
    agg = base_agg(view, rng, q)
    q.add_filters(rng, weighted(rng, [0, 1, 2], [2, 2, 1]), time=0.4)
    return {"q": q, "t": q.base, "g1": g1, "g2": g2, "agg": agg}


@family("group_count_distinct", 2, "aggregate", ("group_by", "count_distinct"), needs="a foreign key")
def group_count_distinct(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = fk_steps(view, child=lambda t: t.dims)
    if not steps:
        return None
    step = rng.choice(steps)
    q = Query(view, step.edge.child)
    fk = fk_col(step)
    g = group_col(view, rng, q, exclude=(fk,))
    if g is None:
        return None
    who = view.ref(step.dst)
    q.add_filters(rng, weighted(rng, [0, 1, 2], [2, 2, 1]), time=0.5)
    top = rng.random() < 0.35
    return {"q": q, "t": q.base, "g": g, "who": who, "agg": distinct_agg(view, q.base, fk, who), "top": top}


@family("group_conditional_count", 2, "aggregate", ("group_by", "count", "case"), needs="a dimension and a flag")
def group_conditional_count(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = fact_table(view, rng, measures=False)
    if ti is None:
        return None
    q = Query(view, ti)
    cond = condition(view, rng, q)
    if cond is None:
        return None
    g = group_col(view, rng, q, exclude=(cond.col.info,) if cond.col else ())
    if g is None:
        return None
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.4)
    if clashes(q, cond):
        return None
    form = rng.choice(["count_if", "count_case", "sum_case"])
    return {"q": q, "t": q.base, "g": g, "cond": cond, "form": form, "top": rng.random() < 0.3}


@family("having_groups", 2, "aggregate", ("group_by", "having"), needs="a dimension")
def having_groups(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = fact_table(view, rng, measures=False)
    if ti is None:
        return None
    q = Query(view, ti)
    g = group_col(view, rng, q)
    if g is None:
        return None
    agg = base_agg(view, rng, q, count=0.4, fns=("sum", "avg"), w=(1, 1))
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.3)
    vals = view.group_values(agg.sql, f"{q.from_sql} {q.where()}", g.ref)
    if len(vals) < 3:
        return None
    x = vals[rng.randint(len(vals) // 4, (3 * len(vals)) // 4)]
    op = rng.choice([">", ">", ">=", "<"])
    x = nice_number(x, vals[0], vals[-1])
    if agg.fn == "count":
        x = int(x)
    elif touches_a_value(x, vals):
        return None
    return {"q": q, "t": q.base, "g": g, "agg": agg, "op": op, "x": view.number(x)}


@family("having_entities", 2, "aggregate", ("group_by", "having", "count"), needs="a foreign key")
def having_entities(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = fk_steps(view)
    if not steps:
        return None
    step = rng.choice(steps)
    fk = fk_col(step)
    q = Query(view, step.edge.child)
    who = view.ref(step.dst)
    child = step.edge.child
    use_sum = child.measures and rng.random() < 0.4
    agg = measure_agg(view, q.base, rng.choice(child.measures), "sum") if use_sum else count_agg(view, q.base)
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), parents=False, time=0.3)
    c = view.cref(q.base, fk)
    vals = view.group_values(agg.sql, f"{q.from_sql} {q.where()}", c.ref)
    if len(vals) < 4:
        return None
    x = vals[rng.randint(len(vals) // 2, max(len(vals) // 2, len(vals) - 2))]
    x = int(x) if agg.fn == "count" else nice_number(x, vals[0], vals[-1])
    if agg.fn != "count" and touches_a_value(x, vals):
        return None
    return {"q": q, "t": q.base, "who": who, "fk": c, "agg": agg, "x": view.number(x),
            "op": rng.choice([">", ">="]), "count": rng.random() < 0.5}


@family("top_k_rows", 2, "aggregate", ("top_k",), needs="a measure")
def top_k_rows(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: t.measures)
    if ti is None:
        return None
    q = Query(view, ti)
    m = view.cref(q.base, rng.choice(ti.measures))
    from teacher.families.nav import _listing

    q.add_filters(rng, weighted(rng, [0, 1, 2], [2, 2, 1]), time=0.4)
    out = _listing(view, q, ti, rng, rng.choice([0, 1, 1, 2]) or 1)
    if out is None:
        return None
    cols = [c for c in out["cols"] if c.info is not m.info] + [m]
    key = out["key"]
    desc = rng.random() < 0.7
    # Ties break on the key, else on the other shown columns. A table with a composite key whose
    # only shown column is the measure (examples/large: cart_items, inventory, exchange_rates) has
    # neither: the measure alone then orders, and the validator drops a LIMIT that cuts a tie.
    ties = [key.ref] if key else [c.ref for c in cols if c is not m]
    order = ", ".join([f"{m.ref} {'DESC' if desc else 'ASC'}", *ties])
    extra = [c for c in cols if c is not m and c is not key]
    return {**out, "cols": cols, "m": m, "extra": extra, "desc": desc, "order": order,
            "k": view.number(rng.choice([1, 3, 5, 10])),
            "nn": f"{m.ref} IS NOT NULL" if m.info.n_null else ""}


@family("top_group", 2, "aggregate", ("group_by", "top_k"), needs="a dimension", weight=2.5)
def top_group(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = fact_table(view, rng, measures=False)
    if ti is None:
        return None
    q = Query(view, ti)
    g = group_col(view, rng, q)
    if g is None:
        return None
    agg = base_agg(view, rng, q, count=0.4)
    q.add_filters(rng, weighted(rng, [0, 1, 2], [2, 3, 2]), time=0.5)
    k = weighted(rng, [1, 3, 5], [6, 2, 1])
    # "the most popular browser among users" counts the users' sessions (the event rows), not
    # users: how people say it, and the seed sidecar's rule ("most popular means the most
    # sessions, unless the question explicitly counts users"). Only for the event's own column.
    owners = fk_steps(view, child=lambda t: t is ti) if agg.fn == "count" and g.t is q.base else []
    who = view.ref(owners[0].dst) if len(owners) == 1 else None
    return {"q": q, "t": q.base, "g": g, "agg": agg, "k": view.number(k), "desc": rng.random() < 0.8,
            "nn": f"{g.ref} IS NOT NULL" if g.info.n_null else "", "who": who}


@family("case_buckets", 2, "aggregate", ("case", "group_by", "count"), needs="a measure")
def case_buckets(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: any(len(c.quantiles) >= 5 for c in t.measures))
    if ti is None:
        return None
    ci = rng.choice([c for c in ti.measures if len(c.quantiles) >= 5])
    a, b = measure_threshold(rng, ci, (1,)), measure_threshold(rng, ci, (3,))
    if a is None or b is None or not a < b:
        return None
    q = Query(view, ti)
    m = view.cref(q.base, ci)
    q.add_filters(rng, weighted(rng, [0, 1], [3, 1]), parents=False, time=0.3)
    if q.has_filter_on(ci):
        return None
    na, nb = view.number(a), view.number(b)
    labels = [f"under {a}", f"{a} to {b}", f"{b} and over"]
    return {"q": q, "t": q.base, "m": m, "a": na, "b": nb, "labels": labels,
            "agg": count_agg(view, q.base) if rng.random() < 0.7 else None}


@family("ratio_pct", 2, "aggregate", ("case", "count"), needs="a flag or dimension", weight=1.5)
def ratio_pct(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = fact_table(view, rng, measures=False)
    if ti is None:
        return None
    q = Query(view, ti)
    cond = condition(view, rng, q)
    if cond is None:
        return None
    q.add_filters(rng, weighted(rng, [0, 1, 2], [2, 2, 1]), time=0.5)
    if clashes(q, cond):
        return None
    forms = ["count_case", "count_if", "sum_case"]
    ci = cond.col.info if cond.col else None
    if ci is not None and ci.role == "flag" and ci.type == "integer" and cond.sql.endswith("= 1"):
        forms.append("sum_flag")  # SUM(is_x) counts the 1s of a 0/1 flag
    return {"q": q, "t": q.base, "cond": cond, "form": rng.choice(forms)}


@family("group_ratio_pct", 2, "aggregate", ("case", "group_by"), needs="a dimension and a flag")
def group_ratio_pct(view: SchemaView, rng: random.Random) -> Slots | None:
    out = ratio_pct(view, rng)
    if out is None:
        return None
    q, cond = out["q"], out["cond"]
    g = group_col(view, rng, q, exclude=(cond.col.info,))
    if g is None:
        return None
    return {**out, "g": g, "order": weighted(rng, ["", "top", "desc"], [3, 2, 1])}


@family("share_of_total", 2, "aggregate", ("window", "group_by", "sum"), needs="a dimension")
def share_of_total(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = fact_table(view, rng, measures=False)
    if ti is None:
        return None
    q = Query(view, ti)
    g = group_col(view, rng, q)
    if g is None:
        return None
    agg = base_agg(view, rng, q, count=0.4, fns=("sum",), w=(1,))
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.4)
    return {"q": q, "t": q.base, "g": g, "agg": agg, "top": rng.random() < 0.3}


@family("distinct_share_pct", 2, "aggregate", ("count_distinct", "case"), needs="a foreign key and a flag")
def distinct_share_pct(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = fk_steps(view, child=lambda t: t.flags or t.dims)
    if not steps:
        return None
    step = rng.choice(steps)
    q = Query(view, step.edge.child)
    cond = condition(view, rng, q)
    if cond is None:
        return None
    who = view.ref(step.dst)
    fk = view.cref(q.base, fk_col(step))
    q.add_filters(rng, weighted(rng, [0, 1, 2], [2, 2, 1]), time=0.5)
    if clashes(q, cond) or cond.col is None:
        return None
    g = group_col(view, rng, q, exclude=(cond.col.info, fk.info)) if rng.random() < 0.35 else None
    return {"q": q, "t": q.base, "who": who, "fk": fk, "cond": cond, "g": g}


@family("median_percentile", 2, "aggregate", ("median",), needs="a measure")
def median_percentile(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = fact_table(view, rng)
    if ti is None:
        return None
    q = Query(view, ti)
    m = view.cref(q.base, rng.choice(ti.measures))
    form = weighted(rng, ["median", "quantile", "quartiles", "bounds"], [3, 2, 2, 2])
    p = rng.choice([0.25, 0.75, 0.9, 0.95, 0.1])
    if form == "bounds":  # a pair around the median: "the 10th and 90th percentiles"
        p = rng.choice([0.25, 0.25, 0.1])  # ordinals are "{pct}th": no 5 ("fiveth")
    g = group_col(view, rng, q) if rng.random() < 0.45 else None
    g2 = group_col(view, rng, q, exclude=(g.info,)) if g is not None and rng.random() < 0.25 else None
    q.add_filters(rng, weighted(rng, [0, 1, 2], [2, 2, 1]), time=0.4)
    if any(x is not None and q.has_filter_on(x.info) for x in (g, g2)):
        return None
    pct = view.number(int(p * 100))
    return {"q": q, "t": q.base, "m": m, "form": form, "p": p, "pct": pct, "g": g, "g2": g2,
            "hi": round(1 - p, 2), "hi_pct": view.number(round(100 - p * 100)), "mname": snake(m.name)}


@family("spread_stats", 2, "aggregate", ("avg", "median"), needs="a measure")
def spread_stats(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = fact_table(view, rng)
    if ti is None:
        return None
    q = Query(view, ti)
    m = view.cref(q.base, rng.choice(ti.measures))
    form = rng.choice(["stddev_pop", "stddev_samp", "avg_stddev", "iqr", "variance", "range"])
    g = group_col(view, rng, q) if rng.random() < 0.4 else None
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.4)
    return {"q": q, "t": q.base, "m": m, "form": form, "g": g, "mname": snake(m.name)}


@family("rollup_totals", 2, "aggregate", ("rollup", "group_by"), needs="a dimension")
def rollup_totals(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = fact_table(view, rng, measures=False)
    if ti is None:
        return None
    q = Query(view, ti)
    g1 = group_col(view, rng, q)
    if g1 is None:
        return None
    g2 = group_col(view, rng, q, exclude=(g1.info,)) if rng.random() < 0.35 else None
    agg = base_agg(view, rng, q, count=0.4, fns=("sum", "avg"), w=(3, 1))
    q.add_filters(rng, weighted(rng, [0, 1, 2], [2, 2, 1]), time=0.5)
    return {"q": q, "t": q.base, "g1": g1, "g2": g2, "agg": agg,
            "form": rng.choice(["rollup", "sets"])}
