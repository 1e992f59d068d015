"""Synthetic rows that fit a schema: seeded, FK-consistent and skewed like real data.

The sandbox needs data on which a teacher's questions have interesting answers: parents
without children ("users without sessions"), ties in measures, month-ends and leap days,
categories where one value dominates. Everything is vectorised with numpy and handed to
DuckDB as Arrow columns::

    syn = Synthesizer(schema, rows=2000, seed=0)
    for table in syn.order():
        part = syn.generate(table)      # SynthTable: arrow data + one cast per column

Every column draws from its own generator seeded by (seed, table, column), so a table's
rows do not change when another table is added, and the same seed gives byte-identical rows.

Keys are made before any other column and never depend on them, so a foreign key can
always draw from its parent's keys, whatever the order tables are filled in. That is how
FK cycles are handled: the topological order breaks them only to pick an insertion order
(no FK constraints are declared in the sandbox), and back edges are still consistent.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemadistill.sandbox import vocab as V
from schemadistill.schema.model import Column, ForeignKey, Schema, Table

DATE_RANGE = (np.datetime64("2021-01-01"), np.datetime64("2024-12-31"))
BIRTH_RANGE = (np.datetime64("1945-01-01"), np.datetime64("2006-12-31"))
LEAP_DAY = np.datetime64("2024-02-29")

_INT_RANGE = {
    "TINYINT": (-128, 127), "INT1": (-128, 127), "SMALLINT": (-32768, 32767), "INT2": (-32768, 32767),
    "INTEGER": (-2**31, 2**31 - 1), "INT": (-2**31, 2**31 - 1), "INT4": (-2**31, 2**31 - 1),
    "UTINYINT": (0, 255), "USMALLINT": (0, 65535), "UINTEGER": (0, 2**32 - 1),
}
_DECIMAL = re.compile(r"(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*(?:,\s*(\d+))?\s*\)", re.I)
_TEMPORAL_NAME = re.compile(r"(_at|_date|timestamp|_ts)$|^(date|ts)$")
# Time columns that come after the row's anchor time (created_at, ordered_at, ...).
_FOLLOWER = {"end", "ended", "ends", "finish", "finished", "updated", "modified", "closed", "completed",
             "shipped", "delivered", "resolved", "cancelled", "canceled", "returned", "last", "expires",
             "expiry", "expired", "paid", "refunded", "churned", "stop", "stopped", "first", "response",
             "responded", "opened", "clicked", "viewed", "read", "received", "due", "until",
             "estimated", "expected", "revoked", "terminated", "deleted", "used", "seen", "answered",
             "approved", "confirmed", "accepted", "redeemed", "termination", "cancellation",
             "expiration", "completion", "resolution", "closure", "delivery", "return", "shipping"}
# Followers that only some rows reach (most accounts have not churned): mostly NULL.
_TERMINAL = {"churned", "canceled", "cancelled", "revoked", "terminated", "deleted", "closed",
             "resolved", "ended", "expired", "refunded", "returned", "termination", "cancellation",
             "closure"}
_LONG_AFTER = (_TERMINAL - {"resolved", "refunded", "returned"}) | {
    "last", "updated", "modified", "expires", "expiry", "expiration", "until", "due", "seen", "used"}


@dataclass
class SynthTable:
    """One generated table: Arrow columns ``c0..ck`` in the table's column order, and per
    column the SQL expression (over ``cI``) that turns it into the sandbox type."""

    table: Table
    data: pa.Table
    select_sql: list[str]

    @property
    def num_rows(self) -> int:
        return self.data.num_rows


def table_of(schema: Schema, name: str) -> Table:
    """The table an FK names; only called for FKs that :func:`valid_fks` kept."""
    t = schema.table(name)
    if t is None:
        raise KeyError(name)
    return t


def column_of(table: Table, name: str) -> Column:
    c = table.column(name)
    if c is None:
        raise KeyError(f"{table.qualified_name}.{name}")
    return c


def tokens(name: str) -> list[str]:
    """``billingCountry_code`` -> ``["billing", "country", "code"]``."""
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    return [t for t in re.split(r"[^a-z0-9]+", snake) if t]


def _h(text: str) -> int:
    return zlib.crc32(text.lower().encode())


def valid_fks(schema: Schema) -> list[ForeignKey]:
    """Foreign keys whose both ends exist; the others are treated as plain columns."""
    out = []
    for fk in schema.foreign_keys:
        child, parent = schema.table(fk.table), schema.table(fk.ref_table)
        if child is None or parent is None or len(fk.columns) != len(fk.ref_columns):
            continue
        if all(child.column(c) for c in fk.columns) and all(parent.column(c) for c in fk.ref_columns):
            out.append(fk)
    return out


def plan_sizes(schema: Schema, rows: int) -> dict[str, int]:
    """Rows per table before 1:1 and junction tables are trimmed to fit their parents.

    Lookup tables (referenced, referencing nothing but back edges of a cycle) get
    ``max(20, rows // 10)`` so that each dimension value has many facts; the rest get ``rows``.
    """
    order = {t.qualified_name: i for i, t in enumerate(topo_order(schema))}
    referenced, referencing = set(), set()
    for fk in valid_fks(schema):
        c, p = table_of(schema, fk.table).qualified_name, table_of(schema, fk.ref_table).qualified_name
        if c != p:
            referenced.add(p)
            if order[p] < order[c]:  # forward edge; a back edge does not make a table a fact
                referencing.add(c)
    small = max(min(20, rows), rows // 10)
    return {t.qualified_name: small if t.qualified_name in referenced - referencing else rows
            for t in schema.tables}


def topo_order(schema: Schema) -> list[Table]:
    """Parents before children (Kahn). A cycle is broken at the table whose unfilled parents
    are fewest and NOT NULL-least: its nullable FK becomes the back edge, as a DBA would do."""
    names = [t.qualified_name for t in schema.tables]
    pending: dict[str, dict[str, bool]] = {n: {} for n in names}  # child -> parent -> FK is NOT NULL
    for fk in valid_fks(schema):
        child, parent = table_of(schema, fk.table), table_of(schema, fk.ref_table)
        if child is not parent:
            required = any(not column_of(child, c).nullable for c in fk.columns)
            prev = pending[child.qualified_name].get(parent.qualified_name, False)
            pending[child.qualified_name][parent.qualified_name] = prev or required
    done: list[str] = []
    left = list(names)
    while left:
        placed = set(done)
        ready = [n for n in left if not set(pending[n]) - placed]
        if not ready:
            def cost(n: str, placed: set[str] = placed) -> tuple[int, int]:
                open_ = {p: r for p, r in pending[n].items() if p not in placed}
                return sum(open_.values()), len(open_)
            ready = [min(left, key=cost)]
        done.append(ready[0])
        left.remove(ready[0])
    return [table_of(schema, n) for n in done]


def zipf_weights(k: int, a: float = 1.1) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** a
    return w / w.sum()


class Synthesizer:
    """Generates every table of ``schema``; see the module docstring."""

    def __init__(self, schema: Schema, rows: int = 2000, seed: int = 0, null_rate: float = 0.05,
                 date_range: tuple[np.datetime64, np.datetime64] = DATE_RANGE):
        self.schema, self.seed, self.null_rate, self.date_range = schema, seed, null_rate, date_range
        self.fks = valid_fks(schema)
        self.sizes = plan_sizes(schema, rows)
        self._order = topo_order(schema)
        self._index = {t.qualified_name: i for i, t in enumerate(self._order)}
        self._keys: dict[str, dict[str, pa.Array]] = {}
        self._fk_rows: dict[tuple[str, int], np.ndarray] = {}
        self._busy: set[str] = set()
        width = len(str(max(self.sizes.values(), default=1)))
        self._id_step = 10 ** max(width, 3)  # per-table id offsets: a join on the wrong key finds nothing

    # -- structure ----------------------------------------------------------------------
    def order(self) -> list[Table]:
        return list(self._order)

    def child_fks(self, table: Table) -> list[tuple[int, ForeignKey]]:
        return [(i, fk) for i, fk in enumerate(self.fks)
                if table_of(self.schema, fk.table) is table]

    def key_columns(self, table: Table) -> list[str]:
        """PK columns plus any column another table references (exact spelling from the table)."""
        cols = [c for c in table.primary_key if table.column(c)]
        if not cols and table.column("id") is not None:
            cols = [column_of(table, "id").name]
        for fk in self.fks:
            if table_of(self.schema, fk.ref_table) is table:
                cols += [column_of(table, c).name for c in fk.ref_columns]
        seen: dict[str, str] = {}
        for c in cols:
            seen.setdefault(c.lower(), column_of(table, c).name)
        return list(seen.values())

    def set_existing(self, table: Table, num_rows: int, keys: dict[str, pa.Array]) -> None:
        """Use rows loaded from user data as this table's (parents draw FKs from ``keys``)."""
        self.sizes[table.qualified_name] = num_rows
        self._keys[table.qualified_name] = {k.lower(): v for k, v in keys.items()}

    def _rng(self, table: Table, *parts: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, _h(table.qualified_name), *(_h(p) for p in parts)])

    # -- keys ---------------------------------------------------------------------------
    def keys(self, table: Table) -> dict[str, pa.Array]:
        """Key column values (lower-cased names); fixes the table's final row count."""
        qn = table.qualified_name
        if qn in self._keys:
            return self._keys[qn]
        self._busy.add(qn)
        n = self.sizes[qn]
        keycols = self.key_columns(table)
        pk = {c.lower() for c in table.primary_key if table.column(c)} or (
            {"id"} if table.column("id") is not None else set())
        mine = [(i, fk) for i, fk in self.child_fks(table)
                if table_of(self.schema, fk.ref_table).qualified_name not in self._busy]
        pk_fks = [(i, fk) for i, fk in mine if {c.lower() for c in fk.columns} <= pk]
        out: dict[str, pa.Array] = {}
        group = None
        if pk_fks:
            # A key made of foreign keys (1:1 extension, junction table): draw parent rows, then
            # keep unique combinations, so the table may end up smaller than planned.
            fk_part = {c.lower() for _, fk in pk_fks for c in fk.columns}
            one_to_one = len(pk_fks) == 1 and fk_part == pk
            draws = [self._draw_parent_rows(table, i, fk, n, unique=one_to_one) for i, fk in pk_fks]
            combo = np.stack(draws, axis=1)
            if (combo < 0).any():  # a parent without rows: no key can be made
                combo = combo[:0]
            if fk_part == pk:
                _, first = np.unique(combo, axis=0, return_index=True)
                combo = combo[np.sort(first)]
            n = len(combo)
            for j, (i, fk) in enumerate(pk_fks):
                self._fk_rows[(qn, i)] = combo[:, j]
                out.update(self._fk_values(fk, combo[:, j]))
            if fk_part != pk and n:
                group = np.unique(combo, axis=0, return_inverse=True)[1].reshape(-1)
        self.sizes[qn] = n
        for c in keycols:
            if c.lower() in out:
                continue
            col = column_of(table, c)
            fk_of = [(i, fk) for i, fk in mine if c.lower() in {x.lower() for x in fk.columns}]
            if group is not None and c.lower() in pk and col.type in ("integer", "text", "date", "timestamp"):
                # the rest of a key that starts with FKs: numbered within each parent
                # (line_no 1, 2, ...; tags from the column's vocabulary)
                out[c.lower()] = _sequence_values(group, col, self.date_range[1])
                group = None
            elif fk_of and c.lower() not in pk:
                # referenced by another table but itself an FK: keep it a valid reference
                i, fk = fk_of[0]
                out.update(self._fk_values(fk, self._draw_parent_rows(table, i, fk, n)))
            else:
                out[c.lower()] = self._unique_values(table, col, n)
        self._busy.discard(qn)
        self._keys[qn] = out
        return out

    def _fk_values(self, fk: ForeignKey, rows: np.ndarray) -> dict[str, pa.Array]:
        """The child's FK column values for parent row indices (-1: no parent, NULL)."""
        parent = self.keys(table_of(self.schema, fk.ref_table))
        out = {}
        for c, rc in zip(fk.columns, fk.ref_columns, strict=True):
            vals = parent[rc.lower()]
            out[c.lower()] = (pa.nulls(len(rows), vals.type) if (rows < 0).any()
                              else vals.take(pa.array(rows)))
        return out

    def _unique_values(self, table: Table, col: Column, n: int) -> pa.Array:
        rng = self._rng(table, "__key__", col.name)
        i = np.arange(n, dtype=np.int64)
        if col.type == "integer":
            lo, hi = _int_bounds(col)
            start = 1 + self._index[table.qualified_name] * self._id_step
            ints = [e for e in col.examples if isinstance(e, int) and not isinstance(e, bool)]
            if ints:  # ids shaped like the sidecar's examples (1000001, 1000002, ...)
                start = min(ints)
            return pa.array(i + (start if start + n <= hi else max(lo, 1)))
        if col.type in ("float", "decimal"):
            return pa.array((i + 1).astype(np.float64))
        if col.type == "date":
            return pa.array(self.date_range[0] + i.astype("timedelta64[D]"))
        if col.type == "timestamp":
            return pa.array(self.date_range[0].astype("datetime64[s]") + (i * 60).astype("timedelta64[s]"))
        if col.type == "boolean":
            return pa.array([False, True][:n])
        if col.type == "uuid":
            return pa.array(_uuids(rng, n))
        return pa.array(V.key_text(rng, n, tokens(col.name), table.name))

    def _draw_parent_rows(self, table: Table, i: int, fk: ForeignKey, n: int,
                          unique: bool = False) -> np.ndarray:
        """Row indices into the parent: Zipf-skewed, and ~20% of parents never drawn."""
        key = (table.qualified_name, i)
        if key in self._fk_rows:
            return self._fk_rows[key]
        parent = table_of(self.schema, fk.ref_table)
        m = len(self.keys(parent)[fk.ref_columns[0].lower()])  # loaded parents: non-NULL keys only
        rng = self._rng(table, "__fk__", str(i), *fk.columns)
        if m == 0:
            rows = np.full(n, -1, dtype=np.int64)
        elif unique:
            rows = np.sort(rng.choice(m, size=min(n, m), replace=False))
        else:
            w = np.zeros(m)
            w[rng.permutation(m)] = zipf_weights(m, 0.7)
            if m >= 5:
                w[rng.choice(m, size=m // 5, replace=False)] = 0.0
            rows = rng.choice(m, size=n, p=w / w.sum())
        self._fk_rows[key] = rows
        return rows

    # -- rows ---------------------------------------------------------------------------
    def generate(self, table: Table) -> SynthTable:
        qn = table.qualified_name
        keys = self.keys(table)
        n = self.sizes[qn]
        fk_cols: dict[str, pa.Array] = {}
        for i, fk in self.child_fks(table):
            for name, vals in self._fk_values(fk, self._draw_parent_rows(table, i, fk, n)).items():
                if name not in fk_cols and name not in keys:  # the first FK naming a column wins
                    fk_cols[name] = vals

        anchor = _anchor(table)
        anchor_s: np.ndarray | None = None
        arrays: dict[str, pa.Array] = {}
        cast_mode: dict[str, str] = {}
        ordered = sorted(table.columns, key=lambda c: c is not anchor)  # anchor first
        for col in ordered:
            lc = col.name.lower()
            rng = self._rng(table, col.name)
            if lc in keys:
                arrays[lc] = keys[lc]
                continue
            if lc in fk_cols:
                arr = fk_cols[lc]
            else:
                follows = anchor_s if (col is not anchor and _is_follower(col)) else None
                arr, mode, secs = self._values(table, col, n, rng, follows)
                cast_mode[lc] = mode
                if col is anchor:
                    anchor_s = secs
            if col.nullable and self.null_rate > 0 and n:
                rate = self.null_rate
                if anchor_s is not None and _is_follower(col) and _TERMINAL & set(tokens(col.name)):
                    rate = max(rate, 0.4)
                arr = _null_out(arr, rng.random(n) < rate)
            arrays[lc] = arr

        data = pa.table({f"c{j}": arrays[c.name.lower()] for j, c in enumerate(table.columns)})
        sql = []
        for j, c in enumerate(table.columns):
            mode = cast_mode.get(c.name.lower(), "cast")
            src = f"to_seconds(c{j})" if mode == "seconds" else f"c{j}"
            fn = "TRY_CAST" if mode == "try" or c.type == "other" else "CAST"
            sql.append(f"{fn}({src} AS {c.sandbox_type()})")
        return SynthTable(table, data, sql)

    def _values(self, table: Table, col: Column, n: int, rng: np.random.Generator,
                follows: np.ndarray | None) -> tuple[pa.Array, str, np.ndarray | None]:
        """(values, cast mode, seconds since epoch for temporal anchors)."""
        toks = tokens(col.name)
        family = col.type
        if col.examples and _examples_are_categories(col, toks):
            return V.zipf(rng, [str(e) for e in col.examples], n), "try", None
        if family in ("date", "timestamp") or (family == "text" and (
                col.role == "time" or _TEMPORAL_NAME.search(col.name.lower()))):
            secs = self._seconds(rng, n, toks, follows)
            if family == "date" or (family == "text" and "date" in toks):
                arr = pa.array((secs // 86400).astype("datetime64[D]"))
            else:
                arr = pa.array(secs.astype("datetime64[s]"))
            return (arr.cast(pa.string()) if family == "text" else arr), "cast", secs
        if family == "time":
            return pa.array((_time_of_day(rng, n) * 1_000_000).astype(np.int64), pa.time64("us")), "cast", None
        if family == "interval":
            return pa.array(np.round(rng.lognormal(8, 1.5, n)).astype(np.int64)), "seconds", None
        if family == "boolean" or V.is_flag(toks, col.role):
            ones = rng.random(n) < _flag_rate(rng, toks)
            if family == "boolean":
                return pa.array(ones), "cast", None
            if family == "text":
                return pa.array(np.where(ones, "Y", "N")), "cast", None
            return pa.array(ones.astype(np.int64)), "cast", None
        if family in ("integer", "float", "decimal"):
            x, scalable = V.numeric(rng, n, toks, col.role)
            if scalable and col.examples:
                x = _scale_to_examples(x, col.examples)
            return _fit_numeric(x, col), "cast", None
        if family == "uuid":
            return pa.array(_uuids(rng, n)), "cast", None
        if family == "blob":
            buf = pa.py_buffer(rng.bytes(n * 12))
            return pa.Array.from_buffers(pa.binary(12), n, [None, buf]).cast(pa.binary()), "cast", None
        if family == "json":
            return V.json_values(rng, n), "cast", None
        if col.sandbox_type().strip().endswith("[]"):
            return V.list_values(rng, n, col.sandbox_type().strip()[:-2]), "try", None
        return V.text(rng, n, toks, col.role, table.name), "cast", None

    def _seconds(self, rng: np.random.Generator, n: int, toks: list[str],
                 follows: np.ndarray | None) -> np.ndarray:
        if follows is not None:
            # end/updated/shipped columns come after the row's anchor time: hours to days later,
            # or months later for an ending (churned, closed, terminated, ...)
            mu = 15.5 if _LONG_AFTER & set(toks) else 11.5
            return follows + np.round(rng.lognormal(mu, 1.0, n)).astype(np.int64)
        lo, hi = BIRTH_RANGE if ({"birth", "dob", "birthday", "born"} & set(toks)) else self.date_range
        days = _days(rng, n, lo, hi).astype(np.int64)
        return days * 86400 + _time_of_day(rng, n)


def _days(rng: np.random.Generator, n: int, lo: np.datetime64, hi: np.datetime64) -> np.ndarray:
    """Dates in [lo, hi]: more recent ones likelier (a growing business), 8% on month-ends,
    and a few on 2024-02-29 when the range has it."""
    span = int((hi - lo) / np.timedelta64(1, "D")) + 1
    d = lo + (np.sqrt(rng.random(n)) * span).astype(np.int64).astype("timedelta64[D]")
    me = rng.random(n) < 0.08
    d[me] = (d[me].astype("datetime64[M]") + 1).astype("datetime64[D]") - np.timedelta64(1, "D")
    d = np.minimum(d, hi)
    if lo <= LEAP_DAY <= hi and n >= 20:
        d[rng.choice(n, size=max(1, n // 400), replace=False)] = LEAP_DAY
    return d


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight: mostly daytime around 14:00, some uniformly at night."""
    day = np.clip(rng.normal(14 * 3600, 4 * 3600, n), 0, 86399)
    anytime = rng.uniform(0, 86399, n)
    return np.where(rng.random(n) < 0.75, day, anytime).astype(np.int64)


def _flag_rate(rng: np.random.Generator, toks: list[str]) -> float:
    p = rng.uniform(0.1, 0.3)
    # is_active / verified / enabled are mostly true in real data
    return 1 - p if {"active", "enabled", "verified", "valid", "visible", "published"} & set(toks) else p


def _anchor(table: Table) -> Column | None:
    temporal = [c for c in table.columns if c.type in ("date", "timestamp")]
    tc = table.column(table.time_column) if table.time_column else None
    if tc is not None and tc in temporal:
        return tc
    starts = [c for c in temporal if not _is_follower(c)]
    return starts[0] if starts else None


def _is_follower(col: Column) -> bool:
    return col.type in ("date", "timestamp") and bool(_FOLLOWER & set(tokens(col.name)))


def _examples_are_categories(col: Column, toks: list[str]) -> bool:
    """Sidecar examples are the value set of a category, but only samples of a measure, a
    date or a flag (those keep their own generators)."""
    if col.type in ("date", "timestamp", "time", "interval", "boolean") or col.role in ("time", "flag"):
        return False
    if col.type in ("integer", "float", "decimal"):
        return col.role in ("dimension", "id")
    return not V.is_flag(toks, col.role)


def _scale_to_examples(x: np.ndarray, examples: list[Any]) -> np.ndarray:
    """Rescale a skewed measure so its typical value matches the examples' (revenue in the
    thousands stays in the thousands), keeping zeros and ties."""
    try:
        ex = np.abs(np.array([float(e) for e in examples], dtype=np.float64))
    except (TypeError, ValueError):
        return x
    ex, nz = ex[ex > 0], np.abs(x[x > 0])
    if not len(ex) or not len(nz):
        return x
    return np.round(x * (float(np.median(ex)) / float(np.median(nz))), 2)


def _sequence_values(group: np.ndarray, col: Column, hi: np.datetime64 = DATE_RANGE[1]) -> pa.Array:
    seq = _group_sequence(group)
    if col.type == "integer":
        return pa.array(seq)
    if col.type in ("date", "timestamp"):  # snapshots: the latest days, counting back per parent
        days = hi - (seq - 1).astype("timedelta64[D]")
        return pa.array(days if col.type == "date" else days.astype("datetime64[s]"))
    vocab = V.CATEGORIES.get(V.category_key(tokens(col.name)) or "", V.GENERIC)
    k = len(vocab)
    return pa.array([vocab[(s - 1) % k] + ("" if s <= k else f" {(s - 1) // k + 1}") for s in seq.tolist()])


def _group_sequence(group: np.ndarray) -> np.ndarray:
    """1, 2, 3... within each group id, in row order."""
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    seq = np.arange(len(g)) - np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    out = np.empty_like(seq)
    out[order] = seq + 1
    return out.astype(np.int64)


def _int_bounds(col: Column) -> tuple[int, int]:
    t = col.sandbox_type().upper().strip()
    return _INT_RANGE.get(t, (-2**63, 2**63 - 1))


def _fit_numeric(x: np.ndarray, col: Column) -> pa.Array:
    if col.type == "integer":
        lo, hi = _int_bounds(col)
        return pa.array(np.clip(np.round(x), lo, hi).astype(np.int64))
    m = _DECIMAL.search(col.sandbox_type())
    if m:
        p, s = int(m.group(1)), int(m.group(2) or 0)
        top = 10.0 ** (p - s) - 10.0 ** -s
        x = np.clip(np.round(x, s), -top, top)
    elif col.type == "decimal":
        x = np.round(x, 2)
    return pa.array(x.astype(np.float64))


def _null_out(arr: pa.Array, mask: np.ndarray) -> pa.Array:
    if not mask.any():
        return arr
    return pc.if_else(pa.array(mask), pa.scalar(None, arr.type), arr)


def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    b = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40  # version 4
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hx = b.tobytes().hex()
    out = [hx[i:i + 32] for i in range(0, 32 * n, 32)]
    return [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in out]
