"""The user's named conditions, read off ``EXAMPLES``: the words their questions use for a filter.

    from teacher.mined_filters import mine_filters
    mine_filters([(question, sql), ...], schema)
    # -> [NamedFilter(name="revenue_gt_0", sql="revenue > 0", synonyms=["purchase", "made a purchase"])]

A team's examples say what its words mean as filters too: in the seed examples every question
that says "purchase" has ``revenue > 0`` in its SQL and no other question does. That convention
is what the sidecar's ``filters:`` section states by hand; without a sidecar it is mined here, and
the teacher and grounding use mined filters as they use the sidecar's (the teacher stage writes
them to ``RUN/teacher/filters.json``; the evaluations and the artifact's ``values.json`` read it).

Conservative by rule, because a few dozen examples cluster (four IQR questions share "are the
median" as well as the condition): a condition is a measure column compared with zero ("any
revenue", "a refund": thresholds such as ``age >= 30`` are the question's numbers, and flags, ids,
dates and text values have their own words elsewhere), in the WHERE of at least ``MIN_USES``
examples. Its *key words* are words that every question using the condition (anywhere: a WHERE,
a CASE) says and no other question does, other than the column's own name; its phrases are the
1- to 3-word phrases with a key word that at least ``MIN_SHARE`` of those questions say and no
other does.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from sqlglot import exp

from schemadistill.grounding import FilterRef, has_condition
from schemadistill.schema.model import NamedFilter, Schema
from schemadistill.sqlcheck import SQLParseError, parse_sql

MIN_USES = 2
MIN_SHARE = 0.5
MAX_WORDS = 3
FILE = "filters.json"  # in RUN/teacher; later stages read it with schemadistill.pipeline.load_run_filters
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_OPS: dict[type[exp.Expr], tuple[str, str]] = {
    exp.GT: (">", "gt"), exp.GTE: (">=", "ge"), exp.LT: ("<", "lt"), exp.LTE: ("<=", "le"),
    exp.EQ: ("=", "eq"), exp.NEQ: ("<>", "ne")}
_COMMON_ZIPF = 5.5  # a phrase of only such words ("the", "for each") names nothing


def mine_filters(pairs: Iterable[tuple[str, str]], schema: Schema) -> list[NamedFilter]:
    """Named conditions of the examples' SQL with the phrases their questions use for them."""
    rows = [(q, sql) for q, sql in pairs if q.strip()]
    where_uses: dict[tuple[str, str, str], set[int]] = {}
    for i, (_, sql) in enumerate(rows):
        for key in _conditions(sql, schema):
            where_uses.setdefault(key, set()).add(i)
    grams = [_grams(q) for q, _ in rows]
    out: list[NamedFilter] = []
    for (table, column, cond), in_where in where_uses.items():
        if len(in_where) < MIN_USES:
            continue
        ref = FilterRef("", table, cond, schema.dialect)
        idx = {i for i, (_, sql) in enumerate(rows) if _tests(sql, ref, schema.dialect)} | in_where
        inside = Counter(g for i in idx for g in grams[i])
        outside = {g for i in range(len(rows)) if i not in idx for g in grams[i]}
        own = set(column.lower().split("_"))
        keys = {g for g, n in inside.items() if " " not in g and n == len(idx) and g not in outside
                and g not in own and not _only_common(g)}
        keep = [g for g, n in inside.items() if n / len(idx) >= MIN_SHARE and g not in outside
                and set(g.split()) & keys]
        # the longest phrases first; a shorter one that only ever appears inside a kept one adds nothing
        keep.sort(key=lambda g: (-inside[g], -len(g.split()), g))
        synonyms = [g for g in keep if not any(g != k and f" {g} " in f" {k} " and inside[k] == inside[g]
                                               for k in keep)]
        synonyms += [f"{g}s" for g in synonyms if " " not in g and not g.endswith("s")]  # "purchases"
        if synonyms:
            op = next(v[1] for v in _OPS.values() if f" {v[0]} " in f" {cond} ")
            literal = cond.rsplit(" ", 1)[-1].replace(".", "_").replace("-", "minus")
            out.append(NamedFilter(name=f"{column}_{op}_{literal}", sql=cond, table=table,
                                   description=f"read off {len(idx)} of the examples", synonyms=synonyms))
    return out


def save_filters(filters: list[NamedFilter], out_dir: Path) -> None:
    from dataclasses import asdict

    from schemadistill.io import atomic_write_json

    atomic_write_json(Path(out_dir) / FILE, [asdict(f) for f in filters])


def _conditions(sql: str, schema: Schema) -> set[tuple[str, str, str]]:
    """(table, column, "column op number") of each ``measure op number`` conjunct of a WHERE."""
    try:
        tree = parse_sql(sql, schema.dialect)
    except SQLParseError:
        return set()
    found: set[tuple[str, str, str]] = set()
    for sel in tree.find_all(exp.Select):
        tables = {}
        for t in sel.find_all(exp.Table):
            st = schema.table(".".join(p for p in (t.db, t.name) if p))
            if st is not None:
                tables[t.alias_or_name.lower()] = st
        where = sel.args.get("where")
        if where is None or not tables:
            continue
        for cond in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
            cond = cond.unnest()
            if type(cond) not in _OPS:
                continue
            col, lit = cond.this, cond.expression
            if isinstance(lit, exp.Column) and isinstance(col, exp.Literal):
                continue  # "0 < revenue": rare, and flipping it is not worth the risk
            if not isinstance(col, exp.Column) or not isinstance(lit, exp.Literal) or not lit.is_number:
                continue
            owners = [t for a, t in tables.items() if (not col.table or a == col.table.lower())
                      and t.column(col.name) is not None]
            if len(owners) != 1:
                continue
            c = owners[0].column(col.name)
            if c is None or c.role != "measure" or float(lit.this) != 0:
                continue
            found.add((owners[0].qualified_name, c.name, f"{c.name} {_OPS[type(cond)][0]} {lit.this}"))
    return found


def _grams(question: str) -> set[str]:
    toks = _WORD.findall(question.lower())
    return {" ".join(toks[i:i + n]) for n in range(1, MAX_WORDS + 1) for i in range(len(toks) - n + 1)}


def _tests(sql: str, ref: FilterRef, dialect: str) -> bool:
    """Does ``sql`` test the condition anywhere (a WHERE, a CASE, HAVING), qualifiers aside?"""
    try:
        return has_condition(parse_sql(sql, dialect), ref)
    except SQLParseError:
        return False


def _only_common(gram: str) -> bool:
    from wordfreq import zipf_frequency

    return all(zipf_frequency(w, "en") >= _COMMON_ZIPF for w in gram.split())
