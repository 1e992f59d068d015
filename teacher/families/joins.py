"""Phase 2 families over foreign keys: joins of 1-3 hops, anti/semi joins, subqueries, set
operations, CTEs over per-entity aggregates, entities with several values of a dimension.

Joins follow foreign keys child -> parent ("up"), so a fact row meets at most one row of every
joined table and SUM/AVG over the fact stay correct; per-parent questions aggregate the child
grouped by its foreign key.
"""

from __future__ import annotations

import random
from typing import Any

from teacher.families.aggregates import base_agg, condition
from teacher.families.compose import (
    Filter,
    Query,
    count_agg,
    distinct_agg,
    fk_col,
    fk_steps,
    label_col,
    measure_agg,
    value_filter,
    weighted,
)
from teacher.families.registry import family
from teacher.slots import SchemaView, Step, nice_number, touches_a_value

Slots = dict[str, Any]


def _far_group(view: SchemaView, rng: random.Random, hops: int) -> Slots | None:
    """A fact table, a path of ``hops`` up-steps, and a dimension of the last table."""
    starts = [t for t in view.tables if t.rows > 1]
    rng.shuffle(starts)
    for ti in starts[:12]:
        paths = [p for p in view.paths(ti, hops, up=True) if p[-1].dst.dims]
        if paths:
            path = rng.choice(paths)
            q = Query(view, ti)
            far = q.join(path)
            dims = [c for c in path[-1].dst.dims if c.role == "dimension"] or path[-1].dst.dims
            return {"q": q, "t": q.base, "far": far, "g": view.cref(far, rng.choice(dims)), "path": path}
    return None


def _hops_family(view: SchemaView, rng: random.Random, hops: int) -> Slots | None:
    out = _far_group(view, rng, hops)
    if out is None:
        return None
    q, g = out["q"], out["g"]
    agg = base_agg(view, rng, q, count=0.35, fns=("sum", "avg", "max"), w=(4, 3, 1))
    mode = "group" if rng.random() < 0.65 else "filter"
    f = None
    if mode == "filter":
        f = value_filter(view, rng, q, out["far"], "eq")
        if f is None:
            return None
        q.add(f)
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), time=0.4)
    if mode == "group" and q.has_filter_on(g.info):
        return None
    return {"q": q, "t": q.base, "g": g, "far": out["far"], "agg": agg, "mode": mode,
            "via": [view.ref(s.dst) for s in out["path"][:-1]]}


@family("join_group_agg", 2, "join", ("join", "group_by"), needs="a foreign key to a table with a dimension",
        weight=2.0)
def join_group_agg(view: SchemaView, rng: random.Random) -> Slots | None:
    return _hops_family(view, rng, 1)


@family("join_2hop", 2, "join", ("join", "group_by"), needs="a 2-hop foreign-key path")
def join_2hop(view: SchemaView, rng: random.Random) -> Slots | None:
    return _hops_family(view, rng, 2)


@family("join_3hop", 2, "join", ("join", "group_by"), needs="a 3-hop foreign-key path")
def join_3hop(view: SchemaView, rng: random.Random) -> Slots | None:
    return _hops_family(view, rng, 3)


def _parent_query(view: SchemaView, rng: random.Random, step: Step) -> tuple[Query, Any, Any]:
    """Query on the parent table (aliased, since subqueries refer to it) plus its key and fk refs."""
    q = Query(view, step.dst)
    q.base.alias = step.dst.alias
    key = view.cref(q.base, step.dst.col(step.edge.parent_cols[0]))  # type: ignore[arg-type]
    child = view.ref(step.edge.child, step.edge.child.alias + ("2" if step.edge.child.alias == q.base.alias else ""))
    fk = view.cref(child, fk_col(step))
    return q, key, (child, fk)


def _child_cond(view: SchemaView, rng: random.Random, child_q: Query) -> Filter | None:
    return value_filter(view, rng, child_q, child_q.base, weighted(rng, ["eq", "flag", "cmp"], [3, 3, 1]))


@family("parent_child_count", 2, "join", ("join", "group_by", "count", "top_k"), needs="a foreign key")
def parent_child_count(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = fk_steps(view)
    if not steps:
        return None
    step = rng.choice(steps)
    child_q = Query(view, step.edge.child)
    fk = view.cref(child_q.base, fk_col(step))
    use_sum = step.edge.child.measures and rng.random() < 0.35
    agg = (measure_agg(view, child_q.base, rng.choice(step.edge.child.measures), "sum") if use_sum
           else count_agg(view, child_q.base, child_q))
    child_q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), parents=False, time=0.4)
    return {"q": child_q, "t": child_q.base, "who": view.ref(step.dst), "fk": fk, "agg": agg,
            "k": view.number(weighted(rng, [1, 3, 5, 10], [3, 2, 2, 1])), "desc": rng.random() < 0.8}


def _parents_without(view: SchemaView, rng: random.Random, form: str) -> Slots | None:
    steps = fk_steps(view, parent=lambda t: t.rows > 1)
    if not steps:
        return None
    step = rng.choice(steps)
    q, key, (child, fk) = _parent_query(view, rng, step)
    cq = Query(view, step.edge.child)
    cq.base = child
    cond = _child_cond(view, rng, cq) if rng.random() < 0.4 else None
    if rng.random() < 0.35:
        q.add(value_filter(view, rng, q, q.base, weighted(rng, ["eq", "flag"], [1, 1])))
    lab = label_col(step.dst)
    return {"q": q, "p": q.base, "key": key, "child": child, "fk": fk, "cond": cond, "form": form,
            "label": view.cref(q.base, lab) if lab is not None and rng.random() < 0.5 else None,
            "count": rng.random() < 0.5}


@family("anti_join_not_exists", 2, "join", ("subquery",), needs="a foreign key")
def anti_join_not_exists(view: SchemaView, rng: random.Random) -> Slots | None:
    return _parents_without(view, rng, "not_exists")


@family("anti_join_left", 2, "join", ("join",), needs="a foreign key")
def anti_join_left(view: SchemaView, rng: random.Random) -> Slots | None:
    return _parents_without(view, rng, rng.choice(["left_join", "not_in"]))


@family("exists_correlated", 2, "join", ("subquery",), needs="a foreign key")
def exists_correlated(view: SchemaView, rng: random.Random) -> Slots | None:
    out = _parents_without(view, rng, "exists")
    if out is None or out["cond"] is None and rng.random() < 0.6:
        return None
    return out


@family("semi_join_in", 2, "join", ("subquery", "filter_in"), needs="a foreign key")
def semi_join_in(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = fk_steps(view)
    if not steps:
        return None
    step = rng.choice(steps)
    direction = rng.choice(["down", "up"])  # parents having matching children / children of matching parents
    outer, inner = (step.dst, step.edge.child) if direction == "down" else (step.edge.child, step.dst)
    oq, iq = Query(view, outer), Query(view, inner)
    inner_col = fk_col(step) if direction == "down" else step.dst.col(step.edge.parent_cols[0])
    outer_col = step.dst.col(step.edge.parent_cols[0]) if direction == "down" else fk_col(step)
    iq.add_filters(rng, weighted(rng, [1, 2], [3, 1]), parents=False, time=0.5 if direction == "down" else 0.0)
    if not iq.filters:
        return None
    oq.add_filters(rng, weighted(rng, [0, 1], [1, 1]), parents=False, time=0.3 if direction == "up" else 0.0)
    oc = view.cref(oq.base, outer_col)  # type: ignore[arg-type]
    if direction == "down" and rng.random() < 0.35:  # COUNT(DISTINCT key) reads "how many users"
        agg = distinct_agg(view, oq.base, outer_col, oq.base)  # type: ignore[arg-type]
        agg.fn = "count"
    elif direction == "up" and rng.random() < 0.35:  # "how many users (by fk) had ... among active users"
        agg = distinct_agg(view, oq.base, outer_col, view.ref(step.dst))  # type: ignore[arg-type]
    else:
        agg = base_agg(view, rng, oq, count=0.6, fns=("sum", "avg"), w=(1, 1))
    return {"q": oq, "t": oq.base, "iq": iq, "it": iq.base, "oc": oc,
            "ic": view.cref(iq.base, inner_col), "direction": direction, "agg": agg}  # type: ignore[arg-type]


@family("scalar_subquery", 2, "subquery", ("subquery", "avg"), needs="a measure")
def scalar_subquery(view: SchemaView, rng: random.Random) -> Slots | None:
    pool = [t for t in view.tables if t.rows > 1 and t.measures]
    if not pool:
        return None
    ti = weighted(rng, pool, [3 if t.time else 1 for t in pool])
    q = Query(view, ti)
    m = view.cref(q.base, rng.choice(ti.measures))
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), parents=False, time=0.3)
    return {"q": q, "t": q.base, "m": m, "op": rng.choice([">", ">", "<"]),
            "stat": weighted(rng, ["AVG", "MEDIAN", "MAX"], [5, 1, 1]) if rng.random() < 0.9 else "AVG",
            "count": rng.random() < 0.6}


@family("set_operation", 2, "subquery", ("set_op",), needs="a foreign key and a dimension or flag")
def set_operation(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = fk_steps(view, child=lambda t: t.dims)
    if not steps:
        return None
    step = rng.choice(steps)
    fk = fk_col(step)
    q1, q2 = Query(view, step.edge.child), Query(view, step.edge.child)
    dims = [c for c in step.edge.child.dims if c.role == "dimension" and len(c.top) >= 2]
    if dims and rng.random() < 0.7:
        ci = rng.choice(dims)
        a, b = rng.sample([v for v, _ in ci.top[:5]], 2)
        from teacher.families.compose import eq_filter

        f1: Filter | None = eq_filter(view, q1, q1.base, ci, a)
        f2: Filter | None = eq_filter(view, q2, q2.base, ci, b)
    else:
        f1, f2 = condition(view, rng, q1), condition(view, rng, q2)
    if f1 is None or f2 is None or f1.sql == f2.sql:
        return None
    q1.add(f1)
    q2.add(f2)
    op = weighted(rng, ["INTERSECT", "EXCEPT", "UNION"], [3, 3, 2])
    return {"q1": q1, "q2": q2, "t": q1.base, "who": view.ref(step.dst), "c1": view.cref(q1.base, fk),
            "c2": view.cref(q2.base, fk), "op": op, "count": rng.random() < 0.6}


def _per_entity(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = fk_steps(view)
    if not steps:
        return None
    step = rng.choice(steps)
    q = Query(view, step.edge.child)
    fk = view.cref(q.base, fk_col(step))
    child = step.edge.child
    agg = (measure_agg(view, q.base, rng.choice(child.measures), "sum")
           if child.measures and rng.random() < 0.5 else count_agg(view, q.base, q))
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), parents=False, time=0.4)
    return {"q": q, "t": q.base, "who": view.ref(step.dst), "fk": fk, "agg": agg}


@family("cte_entity_avg", 2, "subquery", ("cte", "avg", "group_by"), needs="a foreign key")
def cte_entity_avg(view: SchemaView, rng: random.Random) -> Slots | None:
    out = _per_entity(view, rng)
    if out is None:
        return None
    out["stat"] = weighted(rng, ["AVG", "MAX", "MEDIAN"], [5, 2, 1])
    return out


@family("cte_entity_threshold", 2, "subquery", ("cte", "group_by", "count"), needs="a foreign key")
def cte_entity_threshold(view: SchemaView, rng: random.Random) -> Slots | None:
    out = _per_entity(view, rng)
    if out is None:
        return None
    q, fk, agg = out["q"], out["fk"], out["agg"]
    vals = view.group_values(agg.sql, f"{q.from_sql} {q.where()}", fk.ref)
    if len(vals) < 4:
        return None
    x = vals[rng.randint(len(vals) // 3, max(len(vals) // 3, len(vals) - 2))]
    x = int(x) if agg.fn == "count" else nice_number(x, vals[0], vals[-1])
    if agg.fn != "count" and touches_a_value(x, vals):
        return None
    return {**out, "x": view.number(x), "op": rng.choice([">", ">="])}


@family("entity_multi_values", 2, "subquery", ("count_distinct", "having", "group_by"),
        needs="a foreign key and a dimension on the child")
def entity_multi_values(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = fk_steps(view, child=lambda t: any(c.role == "dimension" and len(c.top) >= 2 for c in t.dims))
    if not steps:
        return None
    step = rng.choice(steps)
    q = Query(view, step.edge.child)
    ci = rng.choice([c for c in step.edge.child.dims if c.role == "dimension" and len(c.top) >= 2])
    q.add_filters(rng, weighted(rng, [0, 1], [2, 1]), parents=False, time=0.4)
    if q.has_filter_on(ci):
        return None
    n = 2 if len(ci.top) == 2 or rng.random() < 0.7 else 3
    return {"q": q, "t": q.base, "who": view.ref(step.dst), "fk": view.cref(q.base, fk_col(step)),
            "d": view.cref(q.base, ci), "n": view.number(n), "count": rng.random() < 0.6}


@family("value_combinations", 2, "subquery", ("group_by", "count", "distinct"),
        needs="a foreign key and a text dimension on the child")
def value_combinations(view: SchemaView, rng: random.Random) -> Slots | None:
    steps = fk_steps(view, child=lambda t: any(c.role == "dimension" and c.type == "text" and len(c.top) >= 2
                                               for c in t.dims))
    if not steps:
        return None
    step = rng.choice(steps)
    q = Query(view, step.edge.child)
    ci = rng.choice([c for c in step.edge.child.dims if c.role == "dimension" and c.type == "text"
                     and len(c.top) >= 2])
    q.add_filters(rng, weighted(rng, [0, 1, 2], [1, 2, 1]), time=0.5)
    if q.has_filter_on(ci):
        return None
    return {"q": q, "t": q.base, "who": view.ref(step.dst), "fk": view.cref(q.base, fk_col(step)),
            "d": view.cref(q.base, ci), "form": "list" if view.dialect == "duckdb" and rng.random() < 0.5
            else "string_agg"}
