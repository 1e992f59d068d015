"""The schema bound to its sandbox data, with words: what template families bind their slots to.

:class:`SchemaView` is built once per run from (schema, executor, lexicon, reference_date). It
profiles the sandbox with a few cheap queries per column (frequent values of dimensions,
occurring quantiles of measures, the months/years/days a time column covers, existing ids),
builds the foreign-key graph with join paths of 1-3 hops, and renders identifiers for DuckDB.
Families never look at column *names*: they ask for tables and columns by role and type, so
the same code works on any schema.

The slot objects (:class:`TRef`, :class:`CRef`, :class:`V`) are what templates see: ``t.q`` /
``t.decl`` / ``t.words``, ``c.ref`` / ``c.words``, ``v.sql`` / ``v.text``. They are created per
template instance; :meth:`Slot.reword` picks new words before each phrasing is rendered, so the
phrasings of one instance differ in wording as well as in sentence shape.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp

from schemadistill.schema.model import (
    NUMERIC_TYPES,
    TEMPORAL_TYPES,
    Column,
    Dimension,
    Metric,
    NamedFilter,
    Schema,
    Table,
)

if TYPE_CHECKING:  # the lexicon and executor are duck-typed at run time
    from schemadistill.sandbox import Executor
    from teacher.lexicon import Lexicon

# Types a question can compare or group by; json/blob/list/interval columns are only ever shown.
_PLAIN_TYPES = frozenset({"integer", "float", "decimal", "text", "boolean", "date", "timestamp"})
# Keywords of any dialect we may transpile to: never used as a bare table alias.
_KEYWORDS = frozenset(k.lower() for k in sqlglot.tokens.Tokenizer.KEYWORDS) | {
    "is", "as", "on", "or", "in", "to", "by", "at", "of", "if", "do", "no", "end", "all", "any", "asc",
    "desc", "set", "row", "key", "top", "use", "div", "mod", "and", "not", "for", "new", "old",
}
MAX_GROUPS = 200  # a dimension with more distinct values is not grouped by (result stays small)


# -- SQL text helpers ----------------------------------------------------------------------------

PROFILE_TIMEOUT_S = 120.0  # seconds for one profiling query (whole-table statistics)


def qident(name: str) -> str:
    """One identifier as DuckDB wants it: quoted when reserved, mixed-case or non-ASCII."""
    ident = exp.to_identifier(name)
    if name != name.lower() or not name.isascii() or name.lower() in _KEYWORDS:
        ident = exp.to_identifier(name, quoted=True)
    return ident.sql(dialect="duckdb")


def qtable(table: Table) -> str:
    return ".".join(qident(p) for p in ([table.schema] if table.schema else []) + [table.name])


def sql_literal(value: Any, type_: str = "") -> str:
    """A SQL literal for ``value`` (DuckDB syntax; sqlglot transpiles it to the target)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(round(value, 6))
    return "'" + str(value).replace("'", "''") + "'"


def nice_number(x: float, lo: float, hi: float) -> float | int:
    """``x`` rounded to two significant digits when that stays inside (lo, hi), else ``x``.

    Questions say "over 500", not "over 534.2"; keeping the rounded value strictly between the
    smallest and largest occurring values keeps the filter meaningful on the data.
    """
    if x == 0 or not math.isfinite(x):
        return int(x) if math.isfinite(x) and float(x).is_integer() else x
    digits = 1 - int(math.floor(math.log10(abs(x))))
    r = round(x, digits)
    if lo < r < hi or r == x:
        out = r
    else:
        out = x
    return int(out) if float(out).is_integer() else round(float(out), 2)


def touches_a_value(x: float, vals: Sequence[float], rel: float = 1e-6) -> bool:
    """``x`` (nearly) equal to one of ``vals``: a threshold there is decided by the last bits of
    a float sum, which change with the order DuckDB's threads add the rows up."""
    return any(abs(float(x) - v) <= rel * max(1.0, abs(v)) for v in vals)


def _as_date(v: Any) -> dt.date | None:
    if isinstance(v, dt.datetime):
        return v.date()
    return v if isinstance(v, dt.date) else None


# -- profile -------------------------------------------------------------------------------------

@dataclass(eq=False)  # identity: infos are unique per view and used as dict keys
class ColumnInfo:
    """One column with what the sandbox says about it."""

    table: TableInfo
    column: Column
    q: str  # quoted identifier
    role: str
    n_nonnull: int = 0
    n_distinct: int = 0
    top: list[tuple[Any, int]] = field(default_factory=list)  # frequent values, most frequent first
    quantiles: list[Any] = field(default_factory=list)  # occurring values at 10/25/50/75/90 %
    vmin: Any = None
    vmax: Any = None
    months: list[tuple[dt.date, int]] = field(default_factory=list)  # time: month starts with counts
    days: list[tuple[dt.date, int]] = field(default_factory=list)  # time: busiest days
    month_ends: list[dt.date] = field(default_factory=list)  # time: last days of months with rows
    ids: list[Any] = field(default_factory=list)  # id: a sample of existing values

    @property
    def name(self) -> str:
        return self.column.name

    @property
    def type(self) -> str:
        return self.column.type

    @property
    def n_null(self) -> int:
        return self.table.rows - self.n_nonnull

    @property
    def unique(self) -> bool:
        return self.n_nonnull == self.table.rows > 0 and self.n_distinct == self.n_nonnull

    @property
    def is_timestamp(self) -> bool:
        return self.type == "timestamp"

    @property
    def groupable(self) -> bool:
        """Low-cardinality enough to GROUP BY and to filter on by value."""
        return (self.type in _PLAIN_TYPES and self.type not in TEMPORAL_TYPES and 1 < self.n_distinct <= MAX_GROUPS
                and self.n_distinct <= max(2, self.table.rows // 3))

    @property
    def years(self) -> list[tuple[int, int]]:
        acc: dict[int, int] = {}
        for m, n in self.months:
            acc[m.year] = acc.get(m.year, 0) + n
        return sorted(acc.items())

    @property
    def quarters(self) -> list[tuple[dt.date, int]]:
        acc: dict[dt.date, int] = {}
        for m, n in self.months:
            q = dt.date(m.year, 3 * ((m.month - 1) // 3) + 1, 1)
            acc[q] = acc.get(q, 0) + n
        return sorted(acc.items())

    def __repr__(self) -> str:  # dataclass repr would recurse through table
        return f"ColumnInfo({self.table.name}.{self.name}, {self.role})"


@dataclass(eq=False)
class TableInfo:
    table: Table
    q: str
    alias: str
    rows: int = 0
    columns: list[ColumnInfo] = field(default_factory=list)
    key: ColumnInfo | None = None  # single unique, non-null column (declared PK or found)
    time: ColumnInfo | None = None  # the column dating each row

    @property
    def name(self) -> str:
        return self.table.qualified_name

    def col(self, name: str) -> ColumnInfo | None:
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)

    def role(self, *roles: str) -> list[ColumnInfo]:
        return [c for c in self.columns if c.role in roles]

    @property
    def measures(self) -> list[ColumnInfo]:
        return [c for c in self.columns if c.role == "measure" and c.type in NUMERIC_TYPES and c.n_nonnull > 0]

    @property
    def dims(self) -> list[ColumnInfo]:
        return [c for c in self.columns if c.role in ("dimension", "flag") and c.groupable and c.top]

    @property
    def flags(self) -> list[ColumnInfo]:
        return [c for c in self.columns if c.role == "flag" and c.top and c.n_distinct == 2]

    @property
    def times(self) -> list[ColumnInfo]:
        return [c for c in self.columns if c.role == "time" and c.type in TEMPORAL_TYPES and c.months]

    @property
    def texts(self) -> list[ColumnInfo]:
        return [c for c in self.columns if c.type == "text" and c.top and c.role in ("text", "dimension")]

    def __repr__(self) -> str:
        return f"TableInfo({self.name})"


@dataclass(frozen=True)
class Edge:
    """A foreign key: ``child`` rows point at one ``parent`` row each."""

    child: TableInfo
    parent: TableInfo
    child_cols: tuple[str, ...]
    parent_cols: tuple[str, ...]
    inferred: bool = False


@dataclass(frozen=True)
class Step:
    edge: Edge
    up: bool  # True: child -> parent (row count kept); False: parent -> child (rows multiply)

    @property
    def src(self) -> TableInfo:
        return self.edge.child if self.up else self.edge.parent

    @property
    def dst(self) -> TableInfo:
        return self.edge.parent if self.up else self.edge.child


JoinPath = tuple[Step, ...]


class SchemaView:
    """The schema, its sandbox data and its words; see the module docstring."""

    def __init__(self, schema: Schema, executor: Executor, lexicon: Lexicon,
                 reference_date: dt.date | None = None, check: bool = True) -> None:
        self.schema, self._executor, self.lexicon = schema, executor, lexicon
        self._local = threading.local()  # a family thread's own executor (generate_candidates)
        self.problems: list[str] = []  # profiling queries that failed: the families they starve
        self.dialect = schema.dialect or "duckdb"
        self.check = check  # generate_candidates executes each instance and drops failures
        self.time_style: str | None = "trunc"  # SQL form of calendar filters; None: a mix (compose.styled_form)
        self.tables: list[TableInfo] = []
        used_alias: set[str] = set()
        for t in schema.tables:
            self.tables.append(TableInfo(t, qtable(t), _alias(t.name, used_alias)))
        self._by_name = {ti.name.lower(): ti for ti in self.tables}
        for ti in self.tables:
            self._profile(ti)
        self.edges = self._edges()
        ends = [_as_date(ti.time.vmax) for ti in self.tables if ti.time is not None]
        data_end = max((d for d in ends if d is not None), default=None)
        self.data_end: dt.date | None = data_end
        self.reference_date: dt.date | None = reference_date or data_end
        self.metrics: list[Metric] = [m for m in schema.metrics if self.table(m.table)]
        self.dimensions: list[Dimension] = [d for d in schema.dimensions if self.table(d.table)]
        # the sidecar's named conditions ("made a purchase" = revenue > 0), by table
        self.named_filters: dict[str, list[NamedFilter]] = {}
        for f in schema.filters:
            owner = self.table(f.table)
            if owner is not None:
                self.named_filters.setdefault(owner.name, []).append(f)
        self.family_stats: dict[str, Any] = {}  # filled by generate_candidates: per-family counts
        self._cache: dict[str, list[tuple[Any, ...]]] = {}

    @property
    def executor(self) -> Executor:
        """The sandbox: this thread's own connection where one was set, else the view's."""
        own = getattr(self._local, "executor", None)
        return own if own is not None else self._executor

    @executor.setter
    def executor(self, executor: Executor) -> None:
        self._executor = executor

    def use_in_this_thread(self, executor: Executor | None) -> None:
        """Give the calling thread its own executor (a DuckDB connection runs one query at a time)."""
        self._local.executor = executor

    def add_named_filters(self, filters: list[NamedFilter]) -> None:
        """Named conditions from outside the sidecar (mined from EXAMPLES)."""
        for f in filters:
            ti = self.table(f.table)
            if ti is not None:
                self.named_filters.setdefault(ti.name, []).append(f)

    def add_metrics(self, metrics: list[Metric]) -> None:
        """Metrics from outside the sidecar (mined from EXAMPLES): one with a sidecar metric's name
        replaces it. A schema with no sidecar dimensions gets its dimension columns as dimensions,
        so the metric families can slice the new metrics."""
        for m in metrics:
            if self.table(m.table) is None:
                continue
            self.metrics = [x for x in self.metrics if x.name != m.name] + [m]
        if self.metrics and not self.dimensions:
            self.dimensions = [Dimension(name=c.name, sql=c.name, table=ti.name) for ti in self.tables
                               for c in ti.dims if c.role == "dimension"]

    # -- lookups ---------------------------------------------------------------------------
    def table(self, name: str) -> TableInfo | None:
        ti = self._by_name.get(name.lower())
        if ti is None:
            t = self.schema.table(name)
            ti = self._by_name.get(t.qualified_name.lower()) if t else None
        return ti

    def tables_with(self, pred: Any) -> list[TableInfo]:
        return [t for t in self.tables if t.rows > 0 and pred(t)]

    def steps(self, ti: TableInfo) -> list[Step]:
        out = [Step(e, True) for e in self.edges if e.child is ti and e.parent is not ti]
        out += [Step(e, False) for e in self.edges if e.parent is ti and e.child is not ti]
        return out

    def paths(self, ti: TableInfo, hops: int, up: bool | None = None) -> list[JoinPath]:
        """Simple join paths of exactly ``hops`` steps from ``ti`` (no table twice).

        ``up=True`` keeps to child->parent steps (a fact row joins at most one row of each
        table, so SUM/AVG over the start table stay correct); ``up=False`` only goes down.
        """
        paths: list[JoinPath] = [()]
        for _ in range(hops):
            nxt: list[JoinPath] = []
            for p in paths:
                here = p[-1].dst if p else ti
                seen = {ti} | {s.dst for s in p}
                for s in self.steps(here):
                    if (up is None or s.up == up) and s.dst not in seen and s.dst.rows > 0:
                        nxt.append(p + (s,))
            paths = nxt
        return paths

    # -- words -------------------------------------------------------------------------------
    def table_words(self, ti: TableInfo) -> tuple[list[str], list[str]]:
        plural = _clean(self.lexicon.table_words(ti.table)) or [ti.table.name.replace("_", " ")]
        singular = _clean(self.lexicon.table_singular(ti.table)) or plural
        return plural, singular

    def column_words(self, ci: ColumnInfo) -> list[str]:
        return _clean(self.lexicon.column_words(ci.table.table, ci.column)) or [ci.name.replace("_", " ")]

    def value_texts(self, ci: ColumnInfo | None, value: Any) -> list[str]:
        if isinstance(value, (dt.date, dt.datetime)):
            day = value.date() if isinstance(value, dt.datetime) else value
            return _clean(self.lexicon.date_texts(day, "day")) or [day.isoformat()]
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) and (
                ci is None or ci.role == "measure"):
            return self.number_texts(value)
        if ci is None:
            return [str(value)]
        return _clean(self.lexicon.value_texts(ci.column, value)) or [str(value)]

    def number_texts(self, x: Any) -> list[str]:
        if isinstance(x, Decimal):
            x = int(x) if x == x.to_integral_value() else float(x)
        return _clean(self.lexicon.number_texts(x)) or [str(x)]

    def date_texts(self, d: dt.date, grain: str) -> list[str]:
        return _clean(self.lexicon.date_texts(d, grain)) or [d.isoformat()]

    def words(self, key: str, default: Sequence[str]) -> list[str]:
        try:
            got = _clean(self.lexicon.words(key))
        except (KeyError, AttributeError):
            got = []
        return got or list(default)

    # -- slot factories -------------------------------------------------------------------------
    def ref(self, ti: TableInfo, alias: str | None = None) -> TRef:
        plural, singular = self.table_words(ti)
        return TRef(ti, alias if alias is not None else "", plural, singular)

    def cref(self, t: TRef, ci: ColumnInfo) -> CRef:
        return CRef(t, ci, self.column_words(ci))

    def value(self, ci: ColumnInfo | None, value: Any) -> V:
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        return V(value, sql_literal(value, ci.type if ci else ""), self.value_texts(ci, value))

    def date_value(self, d: dt.date, grain: str = "day") -> V:
        return V(d, sql_literal(d), self.date_texts(d, grain))

    def number(self, x: Any) -> V:
        if isinstance(x, Decimal):
            x = int(x) if x == x.to_integral_value() else float(x)
        return V(x, sql_literal(x), self.number_texts(x))

    # -- running ---------------------------------------------------------------------------------
    def query(self, sql: str) -> list[tuple[Any, ...]]:
        res = self.executor.run(sql, dialect="duckdb")
        return list(res.rows) if res.ok else []

    def group_values(self, value_sql: str, from_where: str, key_sql: str, limit: int = 1000) -> list[float]:
        """``value_sql`` per group of ``key_sql``, sorted: where a family picks a threshold from.

        The groups are sampled by the hash of their key and the values rounded, so the answer is
        the same on any number of DuckDB threads (a plain GROUP BY returns its groups in whatever
        order the threads finish, and the row cap then kept an arbitrary thousand of them).
        """
        rows = self.query(f"SELECT ROUND(CAST(v AS DOUBLE), 6) FROM (SELECT {value_sql} AS v, {key_sql} AS k "
                          f"{from_where} GROUP BY {key_sql}) AS g ORDER BY hash(k), k LIMIT {int(limit)}")
        return sorted(float(r[0]) for r in rows if r[0] is not None)

    def cached(self, sql: str) -> list[tuple[Any, ...]]:
        """``query`` memoised: binds ask the same distribution questions many times."""
        if sql not in self._cache:
            self._cache[sql] = self._profile_query(sql)
        return self._cache[sql]

    # -- building ----------------------------------------------------------------------------------
    def _profile_query(self, sql: str) -> list[tuple[Any, ...]]:
        """A profiling query: our own SQL over whole tables, so it gets ``PROFILE_TIMEOUT_S`` rather
        than the per-pair timeout. A big real table on a loaded machine once timed out here and
        silently starved every family of that table; a failure is now recorded in ``problems``."""
        inner = getattr(self.executor, "inner", self.executor)  # past CachedExecutor: run once
        old = getattr(inner, "timeout_s", None)
        if old is not None:
            inner.timeout_s = max(old, PROFILE_TIMEOUT_S)
        try:
            res = inner.run(sql, dialect="duckdb")
        finally:
            if old is not None:
                inner.timeout_s = old
        if not res.ok:
            self.problems.append(f"{' '.join(sql.split())[:120]}: {res.error}")
            return []
        return list(res.rows)

    def _profile(self, ti: TableInfo) -> None:
        t = ti.table
        plain = [c for c in t.columns if c.type in _PLAIN_TYPES or c.type == "uuid"]
        parts = ["COUNT(*)"] + [f"COUNT({qident(c.name)}), COUNT(DISTINCT {qident(c.name)})" for c in plain]
        row = self._profile_query(f"SELECT {', '.join(parts)} FROM {ti.q}")
        if not row:
            return
        counts = row[0]
        ti.rows = int(counts[0] or 0)
        stats = {c.name: (int(counts[1 + 2 * i] or 0), int(counts[2 + 2 * i] or 0)) for i, c in enumerate(plain)}
        for c in t.columns:
            nn, nd = stats.get(c.name, (0, 0))
            ci = ColumnInfo(ti, c, qident(c.name), c.role or "text", nn, nd)
            ti.columns.append(ci)
            if nn and c.type in _PLAIN_TYPES:
                self._profile_column(ti, ci)
        pk = [ti.col(k) for k in t.primary_key]
        if len(pk) == 1 and pk[0] is not None and pk[0].unique:
            ti.key = pk[0]
        else:
            ids = [c for c in ti.columns if c.role == "id" and c.unique and c.type in ("integer", "text")]
            stem = t.name.lower().rstrip("s")
            ids.sort(key=lambda c: (not c.name.lower().startswith(stem), ti.columns.index(c)))
            ti.key = ids[0] if ids and not t.primary_key else None
        if t.time_column:
            tc = ti.col(t.time_column)
            ti.time = tc if tc is not None and tc.months else None

    def _profile_column(self, ti: TableInfo, ci: ColumnInfo) -> None:
        q, tq = ci.q, ti.q
        if ci.role == "time" and ci.type in TEMPORAL_TYPES:
            r = self._profile_query(f"SELECT MIN({q}), MAX({q}) FROM {tq}")
            ci.vmin, ci.vmax = r[0] if r else (None, None)
            ci.months = [(d, int(n)) for m, n in self._profile_query(
                f"SELECT DATE_TRUNC('month', {q}) AS m, COUNT(*) FROM {tq} WHERE {q} IS NOT NULL "
                f"GROUP BY 1 ORDER BY 1") if (d := _as_date(m)) is not None]
            ci.days = [(d, int(n)) for x, n in self._profile_query(
                f"SELECT CAST({q} AS DATE) AS d, COUNT(*) FROM {tq} WHERE {q} IS NOT NULL "
                f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 40") if (d := _as_date(x)) is not None]
            ci.month_ends = [d for (x,) in self._profile_query(
                f"SELECT DISTINCT CAST({q} AS DATE) AS d FROM {tq} "
                f"WHERE CAST({q} AS DATE) = LAST_DAY(CAST({q} AS DATE)) ORDER BY 1") if (d := _as_date(x)) is not None]
            return
        if ci.role == "measure" and ci.type in NUMERIC_TYPES:
            r = self._profile_query(f"SELECT MIN({q}), MAX({q}), QUANTILE_DISC({q}, [0.1, 0.25, 0.5, 0.75, 0.9]) "
                           f"FROM {tq}")
            if r:
                ci.vmin, ci.vmax, qs = r[0]
                ci.quantiles = list(qs or [])
        if ci.role == "id":
            ci.ids = [v for (v,) in self._profile_query(
                f"SELECT {q} FROM {tq} WHERE {q} IS NOT NULL GROUP BY {q} ORDER BY HASH({q}), {q} LIMIT 30")]
            return
        if ci.n_distinct <= 2 * MAX_GROUPS or ci.role in ("dimension", "flag", "text"):
            ci.top = [(v, int(n)) for v, n in self._profile_query(
                f"SELECT {q}, COUNT(*) FROM {tq} WHERE {q} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 25")]

    def _edges(self) -> list[Edge]:
        out: list[Edge] = []
        for fk in self.schema.foreign_keys:
            c, p = self.table(fk.table), self.table(fk.ref_table)
            if c is None or p is None or len(fk.columns) != len(fk.ref_columns):
                continue
            if any(c.col(x) is None for x in fk.columns) or any(p.col(x) is None for x in fk.ref_columns):
                continue
            e = Edge(c, p, tuple(c.col(x).name for x in fk.columns),  # type: ignore[union-attr]
                     tuple(p.col(x).name for x in fk.ref_columns), fk.inferred)  # type: ignore[union-attr]
            if e not in out:
                out.append(e)
        return out


def _alias(name: str, used: set[str]) -> str:
    """A short alias from the table's initials (sessions -> s, order_items -> oi), unique per view."""
    parts = [p for p in name.lower().replace("-", "_").split("_") if p and p[0].isalpha()]
    cands = ["".join(p[0] for p in parts), (parts[0][:2] if parts else "t"), (parts[0][:3] if parts else "t")]
    for cand in cands + [f"t{i}" for i in range(1, 1000)]:
        if cand and cand.isascii() and cand.isalpha() and cand not in _KEYWORDS and cand not in used:
            used.add(cand)
            return cand
    return "t0"


def _clean(words: Iterable[str] | None) -> list[str]:
    out: list[str] = []
    for w in words or []:
        w = " ".join(str(w).split())
        if w and w not in out:
            out.append(w)
    return out


# -- slots the templates see -----------------------------------------------------------------------

def pick_word(rng: random.Random, options: Sequence[str]) -> str:
    """The canonical word half of the time, else any synonym: breadth without drowning the name."""
    if len(options) == 1 or rng.random() < 0.5:
        return options[0]
    return rng.choice(list(options[1:]))


class Slot:
    """Something a template prints; ``reword`` re-picks its words for the next phrasing."""

    def reword(self, rng: random.Random) -> None:  # noqa: B027 - optional hook
        pass

    def canon(self) -> Any:
        return str(self)

    def values(self) -> list[V]:
        return []


class TRef(Slot):
    """A table used in one query: SQL name, alias ("" when the query has one table), words."""

    def __init__(self, info: TableInfo, alias: str, plural: list[str], singular: list[str]) -> None:
        self.info, self.alias, self.plural, self.singulars = info, alias, plural, singular
        self.words, self.singular = plural[0], singular[0]

    @property
    def q(self) -> str:
        return self.info.q

    @property
    def decl(self) -> str:
        return f"{self.info.q} AS {self.alias}" if self.alias else self.info.q

    def reword(self, rng: random.Random) -> None:
        i = self.plural.index(pick_word(rng, self.plural))
        self.words = self.plural[i]
        self.singular = self.singulars[i] if i < len(self.singulars) else self.singulars[0]

    def canon(self) -> str:
        return self.info.name

    def __str__(self) -> str:
        return self.words


class CRef(Slot):
    """A column of a :class:`TRef`: ``ref`` is alias-qualified when the table has an alias."""

    def __init__(self, t: TRef, info: ColumnInfo, words: list[str]) -> None:
        self.t, self.info, self.options = t, info, words
        self.words = words[0]

    @property
    def q(self) -> str:
        return self.info.q

    @property
    def ref(self) -> str:
        return f"{self.t.alias}.{self.info.q}" if self.t.alias else self.info.q

    @property
    def name(self) -> str:
        return self.info.name

    def reword(self, rng: random.Random) -> None:
        self.words = pick_word(rng, self.options)

    def canon(self) -> str:
        return f"{self.info.table.name}.{self.info.name}"

    def __str__(self) -> str:
        return self.words


class V(Slot):
    """A literal: ``sql`` as written in the query, ``text`` as written in the question."""

    def __init__(self, value: Any, sql: str, texts: list[str]) -> None:
        self.value, self.sql, self.texts = value, sql, texts or [str(value)]
        self.text = self.texts[0]

    def reword(self, rng: random.Random) -> None:
        self.text = pick_word(rng, self.texts)

    def canon(self) -> str:
        return self.sql

    def values(self) -> list[V]:
        return [self]

    def __str__(self) -> str:
        return self.text


class Words(Slot):
    """A choice among phrasings that are not literals (flag words, units): printed, never protected."""

    def __init__(self, options: Sequence[str]) -> None:
        self.options = list(options) or [""]
        self.text = self.options[0]

    def reword(self, rng: random.Random) -> None:
        self.text = pick_word(rng, self.options)

    def canon(self) -> str:
        return self.options[0]

    def __str__(self) -> str:
        return self.text
