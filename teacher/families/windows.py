"""Phase 2 window-function families: top-n rows within each group, ranking groups, and the
latest row per entity. Every ranking has a total order (a key or the shown columns break ties)
unless the question asks for ties, so results are deterministic.
"""

from __future__ import annotations

import random
from typing import Any

from teacher.families.aggregates import base_agg, condition, fact_table, group_col
from teacher.families.compose import Query, fk_col, fk_steps, pick_table, show_cols, weighted
from teacher.families.registry import family
from teacher.slots import SchemaView

Slots = dict[str, Any]
# Dialects with QUALIFY; elsewhere sqlglot rewrites it into a subquery that drops the outer
# ORDER BY, so those get the explicit subquery form.
QUALIFY_DIALECTS = frozenset({"duckdb", "snowflake", "bigquery", "databricks", "spark", "teradata"})


@family("window_rank", 2, "window", ("window", "top_k"), needs="a measure and a dimension")
def window_rank(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: t.measures and t.dims)
    if ti is None:
        return None
    q = Query(view, ti)
    g = group_col(view, rng, q, parents=rng.random() < 0.4)
    if g is None:
        return None
    m = view.cref(q.base, rng.choice(ti.measures))
    key = view.cref(q.base, ti.key) if ti.key else None
    names = {g.name.lower(), m.name.lower()} | ({key.name.lower()} if key else set())
    if len(names) < 2 + (1 if key else 0):
        return None  # the subquery's columns must have distinct names
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.4)
    if q.has_filter_on(g.info):
        return None
    fn = weighted(rng, ["ROW_NUMBER", "RANK", "DENSE_RANK"], [4, 1, 1]) if key else "ROW_NUMBER"
    return {"q": q, "t": q.base, "g": g, "m": m, "key": key, "fn": fn, "desc": rng.random() < 0.75,
            "k": view.number(weighted(rng, [1, 2, 3], [3, 2, 2])),
            "form": "qualify" if view.dialect in QUALIFY_DIALECTS and rng.random() < 0.5 else "subquery"}


@family("window_group_rank", 2, "window", ("window", "group_by"), needs="a dimension")
def window_group_rank(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = fact_table(view, rng, measures=False)
    if ti is None:
        return None
    q = Query(view, ti)
    g = group_col(view, rng, q)
    if g is None:
        return None
    g2 = group_col(view, rng, q, exclude=(g.info,)) if rng.random() < 0.4 else None
    agg = base_agg(view, rng, q, count=0.4, fns=("sum", "avg"), w=(3, 1))
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.4)
    return {"q": q, "t": q.base, "g": g, "g2": g2, "agg": agg,
            "fn": weighted(rng, ["RANK", "DENSE_RANK", "ROW_NUMBER"], [3, 2, 1])}


@family("latest_per_entity", 2, "window", ("window", "subquery"), needs="a dated table with a foreign key")
def latest_per_entity(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = fk_steps(view, child=lambda t: t.time is not None)
    if not steps:
        return None
    step = rng.choice(steps)
    child = step.edge.child
    assert child.time is not None
    q = Query(view, child)
    fk = view.cref(q.base, fk_col(step))
    tc = view.cref(q.base, child.time)
    key = view.cref(q.base, child.key) if child.key else None
    mode = rng.choice(["list", "count"])
    if mode == "count":
        cond = condition(view, rng, q)
        if cond is None or cond.col is None:
            return None
        shown = cond.col
    else:
        cond = None
        cols = show_cols(child, rng, 1, exclude=[fk.info, tc.info])
        if not cols:
            return None
        shown = view.cref(q.base, cols[0])
    if len({fk.name, tc.name, shown.name}) < 3:
        return None
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), parents=False, time=0.3)
    order = f"{tc.ref} {'DESC' if (latest := rng.random() < 0.7) else 'ASC'}, " + (
        key.ref if key else f"{shown.ref}")
    return {"q": q, "t": q.base, "who": view.ref(step.dst), "fk": fk, "tc": tc, "shown": shown, "cond": cond,
            "mode": mode, "latest": latest, "order": order}
