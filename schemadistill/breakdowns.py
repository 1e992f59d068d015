"""Breakdowns: the dimensions a question groups by go into the outer GROUP BY.

    from schemadistill.breakdowns import stated_breakdown, ground_breakdown
    stated = stated_breakdown("For each browser type and OS family, the median revenue", index.dimensions)
    # [("ecommerce.sessions", "browser"), ("ecommerce.sessions", "os")]
    ground_breakdown(tree, stated, key_of, alias_of)   # ["grouped by browser too (the question names it)"]

Why: a small student writes the right measure and filters and groups by the wrong dimension
("by operating system" as ``GROUP BY browser``), by one of the two the question names, or by an
extra one it turned a filter into ("average revenue by browser for users in France or Holland"
as ``GROUP BY country, browser``). The question names the dimensions after a breakdown word
("by", "per", "for each", "broken down by", "for every combination of X and Y"), and the
lexicon's dimension phrases (``values.json`` ``dimensions``) say which columns those are.

Rules, on the outer SELECT when its keys are plain columns and it reads the named columns' tables:

- A key that is a dimension the question does not name goes (GROUP BY and its projection), when
  every named one is a key too; a value the question names for it is then put in as a filter
  by value grounding, which runs after. A key the question asks about otherwise ("which browser
  ... per country") stays: the caller passes those as ``keep`` (named, and no value of it named).
- A named dimension missing beside the named ones that are keys is added (GROUP BY and SELECT).
- One named dimension and one other dimension key: the key becomes the named one.
- Anything else (computed keys, several tables holding the column, no breakdown word) is left.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from sqlglot import exp

_WORD = re.compile(r"[a-z0-9]+")
# the words after which a dimension is a breakdown; "sorted by X" sorts, "ranked by X" ranks
_LEADS = (("for", "every", "combination", "of"), ("for", "each", "combination", "of"), ("broken", "down", "by"),
          ("break", "down", "by"), ("split", "by"), ("grouped", "by"), ("group", "by"), ("for", "each"),
          ("for", "every"), ("within", "each"), ("in", "each"), ("by",), ("per",), ("each",), ("every",),
          ("across",))
_NOT_AFTER = frozenset({"sorted", "ordered", "sort", "order", "ranked", "rank"})
_FILLER = frozenset({"the", "their", "its", "user", "users", "user's", "s", "session", "sessions"})
Key = tuple[str, str]


def _dimension_at(toks: list[str], j: int, phrases: dict[str, Key], longest: int) -> tuple[Key | None, int]:
    for n in range(min(longest, len(toks) - j), 0, -1):
        span = toks[j:j + n]
        for cand in (" ".join(span), " ".join(span[:-1] + [span[-1].rstrip("s")])):
            if cand in phrases:
                return phrases[cand], n
    return None, 0


def named_dimensions(question: str, phrases: dict[str, Key]) -> set[Key]:
    """Every dimension ``question`` names anywhere ("which browser", "the user's country")."""
    if not phrases:
        return set()
    toks = _WORD.findall(question.lower().replace("'s ", " s "))
    longest = max(p.count(" ") + 1 for p in phrases)
    return {key for j in range(len(toks)) if (key := _dimension_at(toks, j, phrases, longest)[0]) is not None}


def stated_breakdown(question: str, phrases: dict[str, Key]) -> list[Key]:
    """The dimensions ``question`` groups by, in order: each named right after a breakdown
    word, and the ones joined to it by "and" / "," ("by browser and OS")."""
    if not phrases:
        return []
    toks = _WORD.findall(question.lower().replace("'s ", " s "))
    longest = max(p.count(" ") + 1 for p in phrases)
    found: list[Key] = []
    i = 0
    while i < len(toks):
        lead = next((ld for ld in _LEADS if tuple(toks[i:i + len(ld)]) == ld), None)
        if lead is None or (i and toks[i - 1] in _NOT_AFTER):
            i += 1
            continue
        j = i + len(lead)
        while True:
            while j < len(toks) and toks[j] in _FILLER:
                j += 1
            key, n = _dimension_at(toks, j, phrases, longest)
            if key is None:
                break
            if key not in found:
                found.append(key)
            j += n
            if j < len(toks) and toks[j] in ("and", "or"):
                j += 1
                continue
            break
        i = max(j, i + 1)
    return found


def ground_breakdown(tree: exp.Expr, stated: list[Key], key_of: Callable[[exp.Column], Key | None],
                     alias_of: Callable[[str], str | None], keep: Collection[Key] = ()) -> list[str]:
    """Make the outer GROUP BY group by the ``stated`` dimensions (see the module docstring).
    ``key_of``: the dimension a column of the tree is, if it is one; ``alias_of``: how the outer
    SELECT names a table it reads, None when it does not read it; ``keep``: dimensions the
    question asks about otherwise ("which browser ... per country"), never dropped or swapped."""
    if not stated or not isinstance(tree, exp.Select) or tree.find(exp.Window) is not None:
        return []
    group = tree.args.get("group")
    if group is None or group.args.get("rollup") or group.args.get("cube") or group.args.get("grouping_sets"):
        return []
    keys = list(group.expressions)
    if not keys or not all(isinstance(k, exp.Column) for k in keys):
        return []
    dims = [key_of(k) for k in keys]
    if any(d is None for d in dims):
        return []  # a key that is no dimension (a user id, a date): not ours to judge
    named = [k for k, d in zip(keys, dims, strict=True) if d in stated]
    extra = [k for k, d in zip(keys, dims, strict=True) if d not in stated]
    missing = [d for d in stated if d not in dims]
    if any(key_of(k) in keep for k in extra):
        extra = []  # the question asks about it: a key for a reason
    if len(stated) == 1 and len(keys) == 1 and extra:
        return _swap_key(tree, extra[0], stated[0], alias_of)
    if extra and not missing:
        return _drop_keys(tree, extra)
    if missing and named and not extra:
        return _add_keys(tree, missing, alias_of)
    return []


def _projection_of(tree: exp.Select, key: exp.Column) -> exp.Expr | None:
    return next((e for e in tree.expressions if isinstance(e.unalias(), exp.Column)
                 and e.unalias().name.lower() == key.name.lower()
                 and e.unalias().table.lower() == key.table.lower()), None)


def _drop_keys(tree: exp.Select, extra: list[exp.Column]) -> list[str]:
    changes = []
    for key in extra:
        proj = _projection_of(tree, key)
        order = tree.args.get("order")
        if order is not None and any(o.this.sql().lower() == key.sql().lower() for o in order.expressions):
            if len(order.expressions) == 1:
                continue  # the only sort key: what to sort by instead is not clear
            order.set("expressions", [o for o in order.expressions if o.this.sql().lower() != key.sql().lower()])
        if proj is not None:
            proj.pop()
        key.pop()
        changes.append(f"not grouped by {key.sql()} (the question names no such breakdown)")
    return changes


def _column(table_alias: str | None, column: str) -> exp.Column:
    return exp.column(column, table=table_alias) if table_alias else exp.column(column)


def _add_keys(tree: exp.Select, missing: list[Key], alias_of: Callable[[str], str | None]) -> list[str]:
    group = tree.args["group"]
    qualified = any(k.table for k in group.expressions)
    changes = []
    for table, column in missing:
        alias = alias_of(table)
        if alias is None:
            continue
        col = _column(alias if qualified else None, column)
        shown = [i for i, e in enumerate(tree.expressions) if isinstance(e.unalias(), exp.Column)
                 and any(e.unalias().name.lower() == k.name.lower() for k in group.expressions)]
        projections = list(tree.expressions)
        at = shown[-1] + 1 if shown else 0
        projections[at:at] = [col.copy()]
        tree.set("expressions", projections)
        group.set("expressions", [*group.expressions, col])
        changes.append(f"grouped by {col.sql()} too (the question names it)")
    return changes


def _swap_key(tree: exp.Select, old: exp.Column, want: Key, alias_of: Callable[[str], str | None]) -> list[str]:
    alias = alias_of(want[0])
    if alias is None:
        return []
    new = _column(alias if old.table else None, want[1])
    old_sql = old.sql().lower()
    for col in list(tree.find_all(exp.Column)):
        if col.sql().lower() == old_sql and col.find_ancestor(exp.Where) is None \
                and col.find_ancestor(exp.Select) is tree:
            col.replace(new.copy())
    return [f"grouped by {new.sql()} instead of {old.sql()} (the question names it)"]
