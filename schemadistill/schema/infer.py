"""Guesses that fill what a schema does not declare: foreign keys, column roles, time columns.

* :func:`infer_foreign_keys` adds ``ForeignKey(inferred=True)`` for ``<x>_id`` columns whose
  ``<x>`` names another table (singular or plural), and for columns named exactly like another
  table's single-column primary key. Declared keys always win; guesses never point a table at
  itself and skip anything ambiguous, since a wrong join teaches the student wrong SQL.
* :func:`column_role` says how a question may use a column (id, measure, dimension, ...).
* :func:`infer_time_column` picks the column that dates each row of a table.

Everything is deterministic: the same schema always yields the same guesses in the same order.
"""

from __future__ import annotations

import re

from schemadistill.schema.model import (
    NUMERIC_TYPES,
    TEMPORAL_TYPES,
    Column,
    ForeignKey,
    Role,
    Schema,
    Table,
)

# Name parts of free-text columns (not worth grouping by).
_TEXT_WORDS = frozenset("""
    name email mail description desc comment comments address url uri phone title note notes body
    message text summary bio content street website link username remark remarks details
""".split())
_TEXT_SUFFIXES = ("name", "email", "url", "address", "phone", "description")
# Integers that label rather than measure (GROUP BY year, not SUM(year)).
_LABEL_INTS = re.compile(r"^(year|month|day|week|quarter|hour|weekday|zip|zipcode|status|type|level)$"
                         r"|_(year|month|day|week|quarter|hour|code|type|status|level)$")
_FLAG_NAME = re.compile(r"^(is|has|was|can|should)_|_flag$")
_ID_NAME = re.compile(r"^(id|uuid|guid)$|_(id|key|uuid|guid)$")
# Names that mark "when this row happened", most specific first.
_TIME_NAMES = ("created_at", "created", "creation_date", "event_time", "event_date", "event_ts",
               "occurred_at", "timestamp", "ts", "action_date", "order_date", "date")
# Words of columns that date the start of a row's event (signup_at, issued_on, started_at, ...).
# Earlier words win: a notification is *sent* before it is opened.
_START_WORDS = ("created", "signup", "signed", "registered", "ordered", "placed", "issued", "requested",
                "sent", "start", "hire", "opened", "shipped", "occurred", "event")
_GENERIC_KEYS = frozenset({"id", "code", "key", "name", "uuid", "pk", "guid"})


# -- foreign keys -----------------------------------------------------------------------------

def _plural_forms(x: str) -> set[str]:
    forms = {x, x + "s", x + "es"}
    if x.endswith("y"):
        forms.add(x[:-1] + "ies")
    return forms


def own_key_names(table: Table) -> set[str]:
    """Lower-case names that key ``table``'s own rows: its declared primary key, else ``id`` and
    ``<singular>_id`` / ``<singular>id`` (sessions -> session_id), as the data usually names them."""
    if table.primary_key:
        return {k.lower() for k in table.primary_key} if len(table.primary_key) == 1 else set()
    return {"id"} | {f"{s}{sep}id" for s in _singulars(table.name) for sep in ("_", "")}


def _singulars(table: str) -> set[str]:
    """Possible singulars of a table name: orders -> order, addresses -> address, cities -> city."""
    name = table.lower()
    out = {name}
    if name.endswith("s"):
        out.add(name[:-1])
    if name.endswith("es"):
        out.add(name[:-2])
    if name.endswith("ies"):
        out.add(name[:-3] + "y")
    return out


def _stem(column: str) -> str | None:
    """``user`` for ``user_id`` / ``userid`` / ``userId``; None for other names."""
    low = column.lower()
    if low.endswith("_id") and len(low) > 3:
        return low[:-3]
    if low.endswith("id") and len(low) > 2:
        return low[:-2]
    return None


def _compatible(a: Column, b: Column) -> bool:
    if "other" in (a.type, b.type) or a.type == b.type:
        return True
    if a.type in NUMERIC_TYPES and b.type in NUMERIC_TYPES:
        return True
    return {a.type, b.type} <= {"text", "uuid"}


def _pick(candidates: list[Table], near: Table) -> Table | None:
    """The one candidate, preferring the referencing table's own schema; None if ambiguous."""
    same = [t for t in candidates if t.schema == near.schema]
    pool = same or candidates
    return pool[0] if len(pool) == 1 else None


def infer_foreign_keys(schema: Schema) -> list[ForeignKey]:
    """Inferred foreign keys not already declared (the schema is not changed)."""
    covered = {(fk.table, c.lower()) for fk in schema.foreign_keys for c in fk.columns}
    out: list[ForeignKey] = []
    for a in schema.tables:
        for col in a.columns:
            if (a.qualified_name, col.name.lower()) in covered:
                continue
            target = _by_name(schema, a, col) or _by_primary_key(schema, a, col)
            if target is None:
                continue
            b, ref = target
            out.append(ForeignKey(a.qualified_name, [col.name], b.qualified_name, [ref.name], inferred=True))
            covered.add((a.qualified_name, col.name.lower()))
    return out


def _by_name(schema: Schema, a: Table, col: Column) -> tuple[Table, Column] | None:
    """``sessions.user_id`` -> ``users.user_id`` (or ``users.id``); ``actor_user_id`` -> ``users``."""
    x = _stem(col.name)
    if not x:
        return None
    parts = x.split("_")
    # The whole stem first, then shorter tails (actor_user -> user): a role-prefixed key.
    for i in range(len(parts)):
        stem = "_".join(parts[i:])
        if not stem:
            continue
        forms = _plural_forms(stem)
        b = _pick([t for t in schema.tables if t.name.lower() in forms], a)
        if b is None:
            continue
        if b is a:
            return None  # self references (parent_id, manager_id) are left to the DDL
        names = ([col.name] if i == 0 else []) + [f"{stem}_id", f"{stem}id", "id"]
        options = list({id(c): c for c in (b.column(n) for n in names) if c is not None}.values())
        if len(b.primary_key) == 1:
            pk = b.column(b.primary_key[0])
            options.sort(key=lambda c: c is not pk)  # the declared key first
        ref = next((c for c in options if _compatible(col, c)), None)
        return (b, ref) if ref is not None else None
    return None


def _by_primary_key(schema: Schema, a: Table, col: Column) -> tuple[Table, Column] | None:
    """``orders.customer_no`` -> ``customers.customer_no`` when that is customers' primary key."""
    low = col.name.lower()
    if low in _GENERIC_KEYS:
        return None
    if [k.lower() for k in a.primary_key] == [low]:
        return None  # two tables keyed by the same name: 1:1, and no telling which is the parent
    cands = [t for t in schema.tables
             if t is not a and len(t.primary_key) == 1 and t.primary_key[0].lower() == low]
    if len(cands) > 1:
        # customer_no: customers rather than customer_notes (keyed by customer_no as well).
        cands = [t for t in cands if any(low.startswith(f) for f in _singulars(t.name))] or cands
    b = _pick(cands, a)
    if b is None:
        return None
    ref = b.column(b.primary_key[0])
    return (b, ref) if ref is not None and _compatible(col, ref) else None


# -- roles ------------------------------------------------------------------------------------

def _is_fk_column(table: Table, column: Column, schema: Schema) -> bool:
    low = column.name.lower()
    return any(fk.table == table.qualified_name and low in (c.lower() for c in fk.columns)
               for fk in schema.foreign_keys)


def _is_text_name(low: str) -> bool:
    return bool(_TEXT_WORDS.intersection(low.split("_"))) or low.endswith(_TEXT_SUFFIXES)


def column_role(table: Table, column: Column, schema: Schema) -> Role:
    """How a question may use ``column``: the sidecar's pin if any, else a guess from key/type/name."""
    if column.role is not None:
        return column.role
    low, fam = column.name.lower(), column.type
    pk = [k.lower() for k in table.primary_key]
    if fam == "boolean":
        return "flag"
    if low in pk and (len(pk) == 1 or fam not in TEMPORAL_TYPES):
        return "id"
    camel_id = re.search(r"[a-z](Id|ID)$", column.name) is not None  # userId, WatchID
    if _is_fk_column(table, column, schema) or _ID_NAME.search(low) or camel_id or fam == "uuid":
        return "id"
    if fam == "integer" and _FLAG_NAME.search(low):
        return "flag"
    if fam in TEMPORAL_TYPES:
        return "time"
    if fam in NUMERIC_TYPES:
        return "dimension" if fam == "integer" and _LABEL_INTS.search(low) else "measure"
    if fam == "interval":
        return "measure"
    if fam == "text":
        return "text" if _is_text_name(low) else "dimension"
    if fam == "time":
        return "dimension"
    return "text"  # json, blob, nested and unknown types: shown, never grouped or summed


def infer_time_column(table: Table) -> str | None:
    """The only date/timestamp column, else the one named like created_at / order_date, else the
    one column named for when the row's event started (signup_at, issued_on, started_at)."""
    temporal = [c for c in table.columns if c.type in TEMPORAL_TYPES]
    if len(temporal) == 1:
        return temporal[0].name
    if not temporal:
        return None
    own = {f"{s}_{part}" for s in _singulars(table.name) for part in ("date", "at", "time", "ts")}
    by_name = {c.name.lower(): c.name for c in temporal}
    for cand in sorted(own):
        if cand in by_name:
            return by_name[cand]
    named = [by_name[n] for n in _TIME_NAMES if n in by_name]
    if named:
        return named[0]
    for word in _START_WORDS:
        starts = [c.name for c in temporal if word in c.name.lower()]
        if starts:
            return starts[0] if len(starts) == 1 else None
    return None


def apply_inference(schema: Schema) -> Schema:
    """Add inferred foreign keys, then fill unset roles and time columns (in place; returns it)."""
    schema.foreign_keys.extend(infer_foreign_keys(schema))
    for table in schema.tables:
        for col in table.columns:
            if col.role is None:
                col.role = column_role(table, col, schema)
        if table.time_column is None:
            table.time_column = infer_time_column(table)
    return schema
