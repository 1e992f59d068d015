"""Error-repair pairs: break valid SQL the way models do, and record what the sandbox says.

    from teacher.repair import make_repairs
    cands = make_repairs(pairs, schema, executor, random.Random(0), n=300)   # -> list[Candidate]

Each mutation works on the sqlglot AST of a kept pair's SQL:

    misspelt_column     a near-miss column name (edit distance 1-2, or a plural/singular slip)
    misspelt_table      a near-miss table name
    wrong_table_column  a column that exists, but in a table the query does not read
    missing_group_by    a selected column dropped from GROUP BY
    aggregate_in_where  the HAVING condition moved into WHERE
    ambiguous_column    the qualifier dropped from a column two joined tables share
    foreign_function    another dialect's function: toStartOfMonth, uniqExact, NVL, DATEADD, ...
    wrong_join_key      the join compares the wrong column           (fails, or runs but wrong)
    dropped_filter      one WHERE condition left out                 (runs but wrong)
    count_rows          COUNT(DISTINCT x) written as COUNT(*)        (runs but wrong)
    sort_direction      ASC/DESC flipped                             (runs but wrong)

Every broken SQL is run in the sandbox. A failing one becomes a repair candidate whose
``error`` is the sandbox's message verbatim (the student must learn to read the real text);
a "runs but wrong" one is kept only when its result differs from the correct SQL's result,
and its ``error`` describes that difference as observed (row counts, a value too high, the
order reversed). Mutations that neither fail nor change the result are dropped.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from schemadistill.sandbox import ExecResult, Executor
from schemadistill.schema.model import Schema, Table
from schemadistill.sqlcheck import SQLParseError, parse_sql
from teacher.pair import Candidate, Pair
from teacher.validate import key_positions, normalise_value

# Mutations that may legitimately run; the others are kept only when the sandbox rejects them.
RUNS_WRONG = {"wrong_join_key", "dropped_filter", "count_rows", "sort_direction"}


@dataclass
class Ctx:
    tree: exp.Expr
    schema: Schema
    rng: random.Random
    scope: dict[str, Table]  # table alias (or name), lower-case -> the schema table


Mutator = Callable[[Ctx], exp.Expr | None]


# -- names ----------------------------------------------------------------------------------


def near_misses(name: str) -> list[str]:
    """Names a model plausibly writes instead of ``name``: edit distance 1-2 or a number slip."""
    out: list[str] = []
    parts = name.split("_")
    last = parts[-1]
    for alt in _number_slips(last):
        out.append("_".join(parts[:-1] + [alt]))
    if len(parts) > 1:
        out.append(name.replace("_", "", 1))  # session_duration -> sessionduration
    for i in range(1, len(name) - 1):
        if name[i] != "_":
            out.append(name[:i] + name[i + 1:])  # a dropped letter
        if name[i] != name[i + 1] and "_" not in name[i:i + 2]:
            out.append(name[:i] + name[i + 1] + name[i] + name[i + 2:])  # two letters swapped
    return [n for n in dict.fromkeys(out) if n != name and len(n) >= 3]


def _number_slips(word: str) -> list[str]:
    if word.endswith("ies") and len(word) > 4:
        return [word[:-3] + "y"]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return [word[:-1]]
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        return [word[:-1] + "ies"]
    return [word + "s"]


def _scope(tree: exp.Expr, schema: Schema) -> dict[str, Table]:
    scope: dict[str, Table] = {}
    for t in tree.find_all(exp.Table):
        model = schema.table(f"{t.db}.{t.name}" if t.db else t.name)
        if model is not None:
            scope[t.alias_or_name.lower()] = model
    return scope


def _owner(col: exp.Column, scope: dict[str, Table]) -> Table | None:
    if col.table:
        t = scope.get(col.table.lower())
        return t if t is not None and t.column(col.name) is not None else None
    owners = {id(t): t for t in scope.values() if t.column(col.name) is not None}
    return next(iter(owners.values())) if len(owners) == 1 else None


def _real_columns(ctx: Ctx) -> list[exp.Column]:
    return [c for c in ctx.tree.find_all(exp.Column) if c.name and _owner(c, ctx.scope) is not None]


def _rename_all(tree: exp.Expr, like: exp.Column, new: str) -> None:
    key = (like.table.lower(), like.name.lower())
    for c in list(tree.find_all(exp.Column)):
        if (c.table.lower(), c.name.lower()) == key:
            c.set("this", exp.to_identifier(new))


# -- mutations ------------------------------------------------------------------------------


def misspelt_column(ctx: Ctx) -> exp.Expr | None:
    cols = _real_columns(ctx)
    if not cols:
        return None
    col = ctx.rng.choice(cols)
    taken = {c.name.lower() for t in ctx.scope.values() for c in t.columns} | set(ctx.scope)
    options = [n for n in near_misses(col.name.lower()) if n not in taken]
    if not options:
        return None
    _rename_all(ctx.tree, col, ctx.rng.choice(options))
    return ctx.tree


def misspelt_table(ctx: Ctx) -> exp.Expr | None:
    tables = [t for t in ctx.tree.find_all(exp.Table) if t.alias_or_name.lower() in ctx.scope]
    if not tables:
        return None
    tbl = ctx.rng.choice(tables)
    taken = {t.name.lower() for t in ctx.schema.tables}
    options = [n for n in near_misses(tbl.name.lower()) if n not in taken]
    if not options:
        return None
    new, old = ctx.rng.choice(options), tbl.name.lower()
    for t in list(ctx.tree.find_all(exp.Table)):
        if t.name.lower() == old and t.db == tbl.db:
            t.set("this", exp.to_identifier(new))
    return ctx.tree


def wrong_table_column(ctx: Ctx) -> exp.Expr | None:
    cols = _real_columns(ctx)
    in_scope = {c.name.lower() for t in ctx.scope.values() for c in t.columns}
    used = {t.qualified_name for t in ctx.scope.values()}
    if not cols:
        return None
    col = ctx.rng.choice(cols)
    owner = _owner(col, ctx.scope)
    assert owner is not None
    ctype = owner.column(col.name).type  # type: ignore[union-attr]
    others = [c for t in ctx.schema.tables if t.qualified_name not in used for c in t.columns
              if c.name.lower() not in in_scope]
    same_type = [c for c in others if c.type == ctype]
    pool = same_type or others
    if not pool:
        return None
    _rename_all(ctx.tree, col, ctx.rng.choice(pool).name)
    return ctx.tree


def missing_group_by(ctx: Ctx) -> exp.Expr | None:
    select = _outer_select(ctx.tree)
    group = select.args.get("group") if select is not None else None
    if select is None or group is None or not group.expressions:
        return None
    projected = {(p.this if isinstance(p, exp.Alias) else p).sql().lower() for p in select.expressions}
    keys = [g for g in group.expressions if g.sql().lower() in projected]
    if not keys:
        return None
    key = ctx.rng.choice(keys)
    key.pop()
    if not group.expressions:
        group.pop()
    return ctx.tree


def aggregate_in_where(ctx: Ctx) -> exp.Expr | None:
    select = _outer_select(ctx.tree)
    having = select.args.get("having") if select is not None else None
    if select is None or having is None or having.this.find(exp.AggFunc) is None:
        return None
    cond = having.this.copy()
    having.pop()
    where = select.args.get("where")
    select.set("where", exp.Where(this=exp.and_(where.this.copy(), cond) if where is not None else cond))
    return ctx.tree


def ambiguous_column(ctx: Ctx) -> exp.Expr | None:
    if len(ctx.scope) < 2:
        return None
    shared = [c for c in ctx.tree.find_all(exp.Column) if c.table and c.name
              and sum(t.column(c.name) is not None for t in ctx.scope.values()) >= 2]
    if not shared:
        return None
    col = ctx.rng.choice(shared)
    col.set("table", None)
    return ctx.tree


def _anon(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=[a.copy() for a in args])


_CLICKHOUSE_TRUNC = {"MONTH": "toStartOfMonth", "YEAR": "toStartOfYear", "QUARTER": "toStartOfQuarter",
                     "WEEK": "toStartOfWeek", "DAY": "toDate", "HOUR": "toStartOfHour"}
_CLICKHOUSE_PART = {exp.Year: "toYear", exp.Month: "toMonth", exp.Day: "toDayOfMonth"}


def foreign_function(ctx: Ctx) -> exp.Expr | None:
    """Swap one construct for the spelling of another dialect (ClickHouse, T-SQL, Oracle, MySQL)."""
    swaps: list[tuple[exp.Expr, exp.Expr]] = []
    for node in ctx.tree.find_all(exp.DateTrunc, exp.TimestampTrunc):
        fn = _CLICKHOUSE_TRUNC.get(node.text("unit").upper())
        if fn:
            target = node.parent if isinstance(node.parent, exp.Cast) else node
            swaps.append((target, _anon(fn, node.this)))
    for node in ctx.tree.find_all(exp.Cast):
        to = node.to.this if isinstance(node.to, exp.DataType) else None
        fn = {exp.DataType.Type.DATE: "toDate", exp.DataType.Type.TIMESTAMP: "toDateTime"}.get(to)  # type: ignore[call-overload]
        if fn and not any(node is old for old, _ in swaps):
            swaps.append((node, _anon(fn, node.this)))
    for node in ctx.tree.find_all(exp.Count):
        if isinstance(node.this, exp.Distinct) and len(node.this.expressions) == 1:
            swaps.append((node, _anon("uniqExact", node.this.expressions[0])))
    for node in ctx.tree.find_all(exp.Coalesce):
        args = [node.this, *node.expressions]
        if len(args) == 2:
            swaps.append((node, _anon(ctx.rng.choice(["NVL", "ISNULL"]), *args)))
    for cls, fn in _CLICKHOUSE_PART.items():
        for node in ctx.tree.find_all(cls):
            swaps.append((node, _anon(fn, node.this)))
    for node in ctx.tree.find_all(exp.Extract):
        unit = node.this.name.upper() if isinstance(node.this, (exp.Var, exp.Identifier)) else ""
        if unit in ("YEAR", "MONTH"):
            swaps.append((node, _anon("DATEPART", exp.var(unit.lower()), node.expression)))
    for node in ctx.tree.find_all(exp.TimeToStr):
        fmt = node.args.get("format")
        if fmt is not None:
            swaps.append((node, _anon("DATE_FORMAT", node.this, fmt)))
    for node in ctx.tree.find_all(exp.DateDiff):
        swaps.append((node, _anon("DATEDIFF", node.this, node.expression)))
    for node in ctx.tree.find_all(exp.CurrentDate):
        swaps.append((node, _anon("GETDATE")))
    for arith in ctx.tree.find_all(exp.Add, exp.Sub):
        iv = arith.expression
        if isinstance(iv, exp.Interval) and iv.this is not None and iv.text("unit"):
            try:
                amount = int(iv.this.name.split()[0])
            except (ValueError, IndexError):
                continue
            unit = iv.text("unit").lower().rstrip("s")
            amount = -amount if isinstance(arith, exp.Sub) else amount
            swaps.append((arith, _anon("DATEADD", exp.var(unit), exp.Literal.number(amount), arith.this)))
    if not swaps:
        return None
    old, new = ctx.rng.choice(swaps)
    if old is ctx.tree:
        return None
    old.replace(new)
    return ctx.tree


def wrong_join_key(ctx: Ctx) -> exp.Expr | None:
    options: list[tuple[exp.Column, str]] = []
    for join in ctx.tree.find_all(exp.Join):
        on = join.args.get("on")
        if not isinstance(on, exp.EQ):
            continue
        for side in (on.this, on.expression):
            if not isinstance(side, exp.Column):
                continue
            owner = _owner(side, ctx.scope)
            col = owner.column(side.name) if owner else None
            if owner is None or col is None:
                continue
            for other in owner.columns:
                if other.name.lower() != side.name.lower() and other.type == col.type:
                    options.append((side, other.name))
    # A model that picks the wrong key usually picks another key: prefer id-like columns.
    ids = [(s, n) for s, n in options if n.lower().endswith("id")]
    options = ids or options
    if not options:
        return None
    side, new = ctx.rng.choice(options)
    side.set("this", exp.to_identifier(new))
    return ctx.tree


def dropped_filter(ctx: Ctx) -> exp.Expr | None:
    select = _outer_select(ctx.tree)
    where = select.args.get("where") if select is not None else None
    if select is None or where is None:
        return None
    conjuncts = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
    drop = ctx.rng.randrange(len(conjuncts))
    rest = [c.copy() for i, c in enumerate(conjuncts) if i != drop]
    if rest:
        where.set("this", exp.and_(*rest))
    else:
        where.pop()
    return ctx.tree


def count_rows(ctx: Ctx) -> exp.Expr | None:
    counts = [c for c in ctx.tree.find_all(exp.Count) if isinstance(c.this, exp.Distinct)]
    if not counts:
        return None
    ctx.rng.choice(counts).set("this", exp.Star())
    return ctx.tree


def sort_direction(ctx: Ctx) -> exp.Expr | None:
    order = ctx.tree.args.get("order")
    if order is None or not order.expressions:
        return None
    first = order.expressions[0]
    first.set("desc", not first.args.get("desc"))
    first.set("nulls_first", None)
    return ctx.tree


def _outer_select(tree: exp.Expr) -> exp.Select | None:
    return tree if isinstance(tree, exp.Select) else None


MUTATIONS: dict[str, Mutator] = {
    "misspelt_column": misspelt_column, "misspelt_table": misspelt_table,
    "wrong_table_column": wrong_table_column, "missing_group_by": missing_group_by,
    "aggregate_in_where": aggregate_in_where, "ambiguous_column": ambiguous_column,
    "foreign_function": foreign_function, "wrong_join_key": wrong_join_key,
    "dropped_filter": dropped_filter, "count_rows": count_rows, "sort_direction": sort_direction,
}


# -- describing a wrong result -----------------------------------------------------------------


def _rows(res: ExecResult) -> list[tuple[object, ...]]:
    return [tuple(normalise_value(v) for v in r) for r in res.rows]


def describe_difference(correct: ExecResult, wrong: ExecResult, correct_tree: exp.Expr) -> str:
    """What a careful reader sees when comparing the two results, in one sentence."""
    good, bad = _rows(correct), _rows(wrong)
    n, m = len(good), len(bad)
    if n != m:
        rows = "row" if m == 1 else "rows"
        if n == 1:
            return f"the query ran but returned {m} {rows} where the question asks for a single one"
        keys = _group_words(correct_tree)
        per = f", one per {keys}" if keys else ""
        return f"the query ran but returned {m} {rows} where the question asks for {n}{per}"
    if sorted(good, key=repr) == sorted(bad, key=repr):
        if bad == list(reversed(good)):
            return "the query ran but returned the rows in reverse order"
        return "the query ran but returned the rows in the wrong order"
    if n == 1 and len(good[0]) == 1:
        g, b = good[0][0], bad[0][0]
        if isinstance(g, (int, float)) and isinstance(b, (int, float)) and not isinstance(g, bool):
            side = "too high" if b > g else "too low"
            return f"the query ran but returned {b}, which is {side} for what the question asks"
        return f"the query ran but returned {b!r}, which does not answer the question"
    flipped = _order_flip(good, bad, correct_tree, correct.columns)
    if flipped:
        return flipped
    differ = sum(1 for r in bad if r not in good)
    return (f"the query ran and returned {m} rows, but {differ} of them differ from what the "
            f"question asks for")


def _order_flip(good: list[tuple[object, ...]], bad: list[tuple[object, ...]], tree: exp.Expr,
                columns: list[str]) -> str:
    """'lowest X first where the question asks for the highest' when the first sort key says so."""
    order = tree.args.get("order")
    if order is None or not order.expressions or not good or not bad:
        return ""
    pos = key_positions(tree, [order.expressions[0].this])
    if not pos:
        return ""
    g, b = good[0][pos[0]], bad[0][pos[0]]
    try:
        if g == b or not (b < g or b > g):  # type: ignore[operator]
            return ""
    except TypeError:
        return ""
    name = columns[pos[0]].replace("_", " ") if pos[0] < len(columns) else "values"
    got, want = ("lowest", "highest") if b < g else ("highest", "lowest")  # type: ignore[operator]
    return f"the query ran but returned the {got} {name} first where the question asks for the {want}"


def _group_words(tree: exp.Expr) -> str:
    group = tree.args.get("group") if isinstance(tree, exp.Select) else None
    if group is None:
        return ""
    names = [g.name for g in group.expressions if isinstance(g, exp.Column)]
    return " and ".join(n.replace("_", " ") for n in names) if len(names) == len(group.expressions) else ""


# -- driver ---------------------------------------------------------------------------------


def make_repairs(pairs: list[Pair], schema: Schema, executor: Executor, rng: random.Random,
                 n: int, trees: dict[str, exp.Expr] | None = None) -> list[Candidate]:
    """Up to ``n`` repair candidates from ``pairs`` (generate pairs), deterministic for ``rng``.

    ``trees`` (optional) maps SQL text to its parsed tree, to save parsing it again.
    Pairs are grouped by SQL (the phrasings of one query would otherwise dominate); each pass
    visits the groups in a shuffled order and applies the least-used mutation that fits, so
    the mutation kinds stay balanced. A later pass picks another question and mutation for
    the same SQL, until ``n`` are made or nothing new turns up.
    """
    groups: dict[str, list[Pair]] = {}
    for p in pairs:
        if p.kind == "generate":
            groups.setdefault(p.sql, []).append(p)
    known = trees or {}
    trees = {}
    fits: dict[str, list[str]] = {}  # the mutations whose preconditions the SQL meets
    for sql, group in groups.items():
        try:
            trees[sql] = known.get(sql) or parse_sql(sql, group[0].dialect)
        except SQLParseError:
            continue
        fits[sql] = [k for k in MUTATIONS if _APPLIES[k](trees[sql])]
    order = [sql for sql in groups if sql in trees]
    rng.shuffle(order)
    used = {k: 0 for k in MUTATIONS}
    seen: set[tuple[str, str]] = set()
    correct: dict[str, ExecResult] = {}
    out: list[Candidate] = []
    for _ in range(3):
        before = len(out)
        for sql in order:
            if len(out) >= n:
                return out
            group = groups[sql]
            dialect = group[0].dialect
            kinds = sorted(fits[sql], key=lambda k: (used[k], rng.random()))
            for kind in kinds:
                made = mutate(kind, sql, schema, executor, rng, dialect, tree=trees[sql], correct=correct,
                              seen=seen)
                if made is None:
                    continue
                broken, error = made
                source = rng.choice(group)
                used[kind] += 1
                out.append(Candidate(
                    question=source.question, sql=sql, family=f"repair_{kind}", source="repair",
                    instance=source.instance, kind="repair", broken_sql=broken, error=error, phase=3,
                    meta={"mutation": kind, "mode": "error" if _is_error(kind, error) else "wrong",
                          "from_pair": source.id},
                ))
                break
        if len(out) == before:
            break
    return out


def _has_distinct_count(t: exp.Expr) -> bool:
    return any(isinstance(c.this, exp.Distinct) for c in t.find_all(exp.Count))


_FOREIGN_TARGETS = (exp.DateTrunc, exp.TimestampTrunc, exp.Cast, exp.Coalesce, exp.Year, exp.Month, exp.Day, exp.Extract,
                    exp.TimeToStr, exp.DateDiff, exp.CurrentDate, exp.Interval)

# Cheap preconditions, so make_repairs never copies and renders a tree a mutation cannot change.
_APPLIES: dict[str, Callable[[exp.Expr], bool]] = {
    "misspelt_column": lambda t: t.find(exp.Column) is not None,
    "misspelt_table": lambda t: t.find(exp.Table) is not None,
    "wrong_table_column": lambda t: t.find(exp.Column) is not None,
    "missing_group_by": lambda t: isinstance(t, exp.Select) and t.args.get("group") is not None,
    "aggregate_in_where": lambda t: isinstance(t, exp.Select) and t.args.get("having") is not None,
    "ambiguous_column": lambda t: t.find(exp.Join) is not None,
    "foreign_function": lambda t: t.find(*_FOREIGN_TARGETS) is not None or _has_distinct_count(t),
    "wrong_join_key": lambda t: t.find(exp.Join) is not None,
    "dropped_filter": lambda t: isinstance(t, exp.Select) and t.args.get("where") is not None,
    "count_rows": _has_distinct_count,
    "sort_direction": lambda t: t.args.get("order") is not None,
}


def _is_error(kind: str, error: str) -> bool:
    return not error.startswith("the query ran")


def mutate(kind: str, sql: str, schema: Schema, executor: Executor, rng: random.Random,
           dialect: str = "duckdb", *, tree: exp.Expr | None = None,
           correct: dict[str, ExecResult] | None = None,
           seen: set[tuple[str, str]] | None = None) -> tuple[str, str] | None:
    """Apply one mutation to ``sql`` and run it: (broken_sql, error) or None when it is no use.

    ``error`` is the sandbox's message verbatim, or for a "runs but wrong" mutation a
    description of how its result differs from the correct one.
    """
    work = (tree if tree is not None else parse_sql(sql, dialect)).copy()
    mutated = MUTATIONS[kind](Ctx(work, schema, rng, _scope(work, schema)))
    if mutated is None:
        return None
    broken = mutated.sql(dialect=dialect, copy=False, normalize_functions=False)  # a throwaway copy
    if seen is not None:
        if (sql, broken) in seen:
            return None
        seen.add((sql, broken))
    if broken == sql:
        return None
    res = executor.run(broken, dialect)
    if not res.ok:
        assert res.error is not None
        if res.error.kind in ("refused", "timeout"):
            return None
        return broken, res.error.message
    if kind not in RUNS_WRONG:
        return None
    correct = {} if correct is None else correct
    if sql not in correct:
        correct[sql] = executor.run(sql, dialect)
    good = correct[sql]
    if not good.ok or res.truncated or good.truncated:
        return None
    tree = tree if tree is not None else parse_sql(sql, dialect)
    if _same(good, res, tree.args.get("order") is not None):
        return None
    return broken, describe_difference(good, res, tree)


def _same(a: ExecResult, b: ExecResult, ordered: bool) -> bool:
    ra, rb = _rows(a), _rows(b)
    if not ordered:
        ra.sort(key=repr)
        rb.sort(key=repr)
    return ra == rb and len(a.columns) == len(b.columns)
