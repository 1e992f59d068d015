"""Phase 1 families: schema navigation.

Projections with selective filters, one family per comparison operator, NULL checks, counts,
distinct values, lookups by id and across one foreign key. They teach which table holds
which column and how each filter word maps to SQL, before the patterns of phase 2.
"""

from __future__ import annotations

import random
from typing import Any

from teacher.families.compose import (
    Query,
    between_filter,
    cmp_filter,
    count_agg,
    distinct_agg,
    eq_filter,
    fk_col,
    fk_steps,
    flag_filter,
    in_filter,
    like_filter,
    measure_threshold,
    pick_table,
    show_cols,
)
from teacher.families.registry import family
from teacher.slots import CRef, SchemaView, TableInfo

Slots = dict[str, Any]


def _listing(view: SchemaView, q: Query, ti: TableInfo, rng: random.Random, k: int) -> Slots | None:
    """Shown columns (key first) and a total ORDER BY: the key, else every shown column."""
    cols = show_cols(ti, rng, k, exclude=[f.col.info for f in q.filters if f.col is not None])
    if not cols:
        return None
    key = view.cref(q.base, ti.key) if ti.key else None
    refs = ([key] if key else []) + [view.cref(q.base, c) for c in cols]
    order = key.ref if key else ", ".join(r.ref for r in refs)
    return {"q": q, "t": q.base, "cols": refs, "key": key, "order": order}


@family("list_filtered", 1, "navigation", ("filter_eq",), needs="a table with a dimension or flag")
def list_filtered(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: t.dims)
    if ti is None:
        return None
    q = Query(view, ti)
    ci = rng.choice(ti.dims)
    if ci.role == "flag":
        q.add(flag_filter(view, q, q.base, ci, rng.random() < 0.5))
    else:  # a rare value keeps the listing short
        q.add(eq_filter(view, q, q.base, ci, rng.choice(ci.top[-3:])[0]))
    if rng.random() < 0.5:
        q.add_filters(rng, 2, parents=False, time=0.3)
    return _listing(view, q, ti, rng, rng.randint(1, 3))


@family("list_first_n", 1, "navigation", ("top_k",), needs="a table with a key")
def list_first_n(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: t.key is not None and t.key.type == "integer")
    if ti is None:
        return None
    q = Query(view, ti)
    if rng.random() < 0.6:
        q.add_filters(rng, 1, parents=False, time=0.2)
    out = _listing(view, q, ti, rng, rng.randint(1, 3))
    if out is None:
        return None
    out["n"] = view.number(rng.choice([3, 5, 5, 10, 10, 20]))
    out["desc"] = rng.random() < 0.4
    return out


@family("lookup_by_id", 1, "navigation", ("filter_eq",), needs="a table with a key")
def lookup_by_id(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: t.key is not None and t.key.ids)
    if ti is None or ti.key is None:
        return None
    q = Query(view, ti)
    cols = show_cols(ti, rng, rng.choice([1, 1, 2]))
    if not cols:
        return None
    key = view.cref(q.base, ti.key)
    return {"q": q, "t": q.base, "cols": [view.cref(q.base, c) for c in cols], "key": key,
            "id": view.value(ti.key, rng.choice(ti.key.ids))}


@family("lookup_via_fk", 1, "navigation", ("join", "filter_eq"), needs="a foreign key")
def lookup_via_fk(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = fk_steps(view, child=lambda t: t.key is not None and t.key.ids,
                     parent=lambda t: show_cols(t, random.Random(0), 1))
    if not steps:
        return None
    step = rng.choice(steps)
    child = step.edge.child
    q = Query(view, child)
    p = q.join([step])
    cols = show_cols(step.dst, rng, 1)
    assert child.key is not None
    return {"q": q, "t": q.base, "p": p, "cols": [view.cref(p, c) for c in cols],
            "key": view.cref(q.base, child.key), "id": view.value(child.key, rng.choice(child.key.ids))}


@family("list_children", 1, "navigation", ("filter_eq",), needs="a foreign key")
def list_children(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = fk_steps(view, child=lambda t: show_cols(t, random.Random(0), 1))
    if not steps:
        return None
    step = rng.choice(steps)
    fk = fk_col(step)
    if not fk.ids:
        return None
    q = Query(view, step.edge.child)
    out = _listing(view, q, step.edge.child, rng, rng.randint(1, 2))
    if out is None:
        return None
    fkref = view.cref(q.base, fk)
    out.update(parent=view.ref(step.dst), fk=fkref, id=view.value(fk, rng.choice(fk.ids)))
    return out


@family("count_rows", 1, "navigation", ("count",), weight=1.5)
def count_rows(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: True)
    if ti is None:
        return None
    q = Query(view, ti)
    q.add_filters(rng, rng.choice([0, 1, 1, 2]), time=0.4)
    return {"q": q, "t": q.base, "agg": count_agg(view, q.base)}


@family("count_compare", 1, "navigation", ("count", "filter_range"), needs="a measure")
def count_compare(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: any(c.quantiles for c in t.measures))
    if ti is None:
        return None
    q = Query(view, ti)
    ci = rng.choice([c for c in ti.measures if c.quantiles])
    op = rng.choice([">", "<", ">=", "<="])
    x = measure_threshold(rng, ci, (1, 2, 3))
    if x is None:
        return None
    q.add(cmp_filter(view, q, q.base, ci, op, x))
    if rng.random() < 0.3:
        q.add_filters(rng, 2, parents=False, time=0.3)
    return {"q": q, "t": q.base}


@family("filter_in_list", 1, "navigation", ("filter_in", "count"), needs="a dimension with 3+ values")
def filter_in_list(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: any(c.role == "dimension" and len(c.top) >= 3 for c in t.dims))
    if ti is None:
        return None
    ci = rng.choice([c for c in ti.dims if c.role == "dimension" and len(c.top) >= 3])
    q = Query(view, ti)
    k = 2 if rng.random() < 0.6 else 3
    q.add(in_filter(view, q, q.base, ci, sorted(rng.sample([v for v, _ in ci.top[:8]], k), key=str)))
    if rng.random() < 0.3:
        q.add_filters(rng, 2, parents=False, time=0.4)
    return {"q": q, "t": q.base, "c": q.filters[0].col}


@family("filter_like_text", 1, "navigation", ("filter_like",), needs="a text column")
def filter_like_text(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: t.texts)
    if ti is None:
        return None
    ci = rng.choice(ti.texts)
    value = str(rng.choice(ci.top[:10])[0])
    mode = rng.choice(["contains", "contains", "starts", "ends"])
    words = [w for w in value.replace(",", " ").split() if len(w) >= 3 and w.isascii() and w.isalnum()]
    if mode == "contains" and len(value) >= 5:
        frag = rng.choice(words) if words and rng.random() < 0.6 else value[1:1 + rng.randint(3, 5)]
    elif mode == "starts":
        frag = words[0] if words and value.startswith(words[0]) and rng.random() < 0.5 else value[:rng.randint(2, 4)]
    else:
        frag, mode = value[-rng.randint(2, 4):], "ends"
    if not frag.strip() or frag != frag.strip() or any(ch in frag for ch in "%_'\"\\"):
        return None
    q = Query(view, ti)
    q.add(like_filter(view, q, q.base, ci, frag, mode))
    if rng.random() < 0.2:
        q.add_filters(rng, 2, parents=False, time=0.3)
    key = view.cref(q.base, ti.key) if ti.key else None
    cols = ([key] if key else []) + [q.filters[0].col]
    count = rng.random() < 0.4
    return {"q": q, "t": q.base, "c": q.filters[0].col, "cols": cols, "count": count,
            "order": ", ".join(c.ref for c in cols if c is not None)}


@family("filter_between", 1, "navigation", ("between", "filter_range", "count"), needs="a measure")
def filter_between(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: any(len(c.quantiles) >= 5 for c in t.measures))
    if ti is None:
        return None
    ci = rng.choice([c for c in ti.measures if len(c.quantiles) >= 5])
    lo, hi = measure_threshold(rng, ci, (0, 1)), measure_threshold(rng, ci, (3, 4))
    if lo is None or hi is None or not lo < hi:
        return None
    q = Query(view, ti)
    q.add(between_filter(view, q, q.base, ci, lo, hi))
    if rng.random() < 0.3:
        q.add_filters(rng, 2, parents=False, time=0.3)
    f = q.filters[0]
    return {"q": q, "t": q.base, "c": f.col, "lo": f.parts[1], "hi": f.parts[2]}


@family("filter_flag", 1, "navigation", ("filter_eq", "count"), needs="a flag column")
def filter_flag(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: t.flags)
    if ti is None:
        return None
    q = Query(view, ti)
    positive = rng.random() < 0.65
    q.add(flag_filter(view, q, q.base, rng.choice(ti.flags), positive))
    if rng.random() < 0.4:
        q.add_filters(rng, 2, time=0.4)
    return {"q": q, "t": q.base, "c": q.filters[0].col, "positive": positive}


@family("filter_neq", 1, "navigation", ("filter_eq", "count"), needs="a dimension")
def filter_neq(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: any(c.role == "dimension" for c in t.dims))
    if ti is None:
        return None
    ci = rng.choice([c for c in ti.dims if c.role == "dimension"])
    q = Query(view, ti)
    q.add(eq_filter(view, q, q.base, ci, ci.top[0][0] if rng.random() < 0.6 else rng.choice(ci.top)[0], "<>"))
    if rng.random() < 0.3:
        q.add_filters(rng, 2, parents=False, time=0.3)
    return {"q": q, "t": q.base, "c": q.filters[0].col, "v": q.filters[0].parts[1]}


@family("null_check", 1, "navigation", ("is_null", "count"), needs="a column with NULLs")
def null_check(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: any(c.n_null and c.role != "id" for c in t.columns))
    if ti is None:
        return None
    ci = rng.choice([c for c in ti.columns if c.n_null and c.role != "id"])
    q = Query(view, ti)
    if rng.random() < 0.3:
        q.add_filters(rng, 1, parents=False, time=0.3)
    return {"q": q, "t": q.base, "c": view.cref(q.base, ci), "missing": rng.random() < 0.6}


@family("count_distinct_values", 1, "navigation", ("count_distinct",), needs="a dimension or foreign key")
def count_distinct_values(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = fk_steps(view)
    if steps and rng.random() < 0.5:
        step = rng.choice(steps)
        q = Query(view, step.edge.child)
        who = view.ref(step.dst)
        agg = distinct_agg(view, q.base, fk_col(step), who)
    else:
        ti = pick_table(view, rng, lambda t: any(c.role == "dimension" for c in t.dims))
        if ti is None:
            return None
        q = Query(view, ti)
        who = None
        agg = distinct_agg(view, q.base, rng.choice([c for c in ti.dims if c.role == "dimension"]))
    q.add_filters(rng, rng.choice([0, 1, 1, 2]), time=0.4)
    return {"q": q, "t": q.base, "agg": agg, "who": who}


@family("distinct_values", 1, "navigation", ("distinct",), needs="a dimension")
def distinct_values(view: SchemaView, rng: random.Random) -> Slots | None:
    ti = pick_table(view, rng, lambda t: any(c.role == "dimension" for c in t.dims))
    if ti is None:
        return None
    ci = rng.choice([c for c in ti.dims if c.role == "dimension"])
    q = Query(view, ti)
    if rng.random() < 0.4:
        q.add_filters(rng, 1, time=0.4)
    c: CRef = view.cref(q.base, ci)
    if q.has_filter_on(ci):
        return None
    return {"q": q, "t": q.base, "c": c}
