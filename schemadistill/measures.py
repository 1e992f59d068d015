"""Measures a question asks for: "the average session duration and total revenue per browser"
names two aggregates; SQL that computes one of them gets the other.

    from schemadistill.measures import stated_measures, add_missing_measures
    asked = stated_measures(question, index.measures)   # [("AVG", "ecommerce.sessions", "session_duration"), ...]
    add_missing_measures(tree, asked)                   # "added SUM(revenue)"

Why: on real questions with two measures a small student writes the first and drops the second
(or repeats the first): its training pairs with two measures are few beside those with one. The
words say which aggregate of which column, so the rest of its SQL (filters, grouping) stays.

Rules, conservative: the question must name at least two (function, column) pairs ("average X
and total Y", "average and maximum X"), the outer SELECT must already compute at least one of
them (so it is an aggregate query of the right table) and read the missing one's table; a
projection repeated word for word (``SUM(revenue) AS t, SUM(revenue) AS t``) is dropped, as no
question asks for one column twice.
"""

from __future__ import annotations

import re
from typing import Any

from sqlglot import exp

# aggregate words -> SQL function; a word may stand for several in a list ("average and maximum")
_FUNCS = {"average": "AVG", "avg": "AVG", "mean": "AVG", "total": "SUM", "sum": "SUM",
          "maximum": "MAX", "max": "MAX", "minimum": "MIN", "min": "MIN", "median": "MEDIAN"}
_NODES: dict[str, type[exp.Expr]] = {"AVG": exp.Avg, "SUM": exp.Sum, "MAX": exp.Max, "MIN": exp.Min,
                                     "MEDIAN": exp.Median}
_FILLER = frozenset({"the", "of", "a", "an", "their", "its", "in", "per"})
_WORD = re.compile(r"[a-z0-9]+")
_COMPARED = frozenset({"above", "over", "below", "under", "more", "less", "greater", "higher", "lower", "exceeding",
                       "exceeds", "exceeded", "at", "between", "is", "was", "equal", "equals", "than"})


def measure_words(schema: Any) -> dict[str, tuple[str, str]]:
    """Phrase (lower-case words) -> (qualified table, column) for every numeric measure column,
    from the teacher's lexicon: the words its questions use."""
    from schemadistill.schema.infer import column_role
    from teacher.lexicon import Lexicon  # index-building time only; the runtime loads values.json

    lex = Lexicon(schema)
    found: dict[str, set[tuple[str, str]]] = {}
    for table in schema.tables:
        for col in table.columns:
            if col.type not in ("integer", "float", "decimal") or column_role(table, col, schema) != "measure":
                continue
            for text in lex.column_words(table, col):
                phrase = " ".join(_WORD.findall(text.lower()))
                if phrase:
                    found.setdefault(phrase, set()).add((table.qualified_name, col.name))
    return {p: next(iter(refs)) for p, refs in found.items() if len(refs) == 1}  # "amount" of two tables: no


def stated_measures(question: str, phrases: dict[str, tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(function, table, column) for each aggregate the question names, in order, no repeats."""
    if not phrases:
        return []
    toks = _WORD.findall(question.lower())
    longest = max(p.count(" ") + 1 for p in phrases)
    out: list[tuple[str, str, str]] = []
    i = 0
    while i < len(toks):
        if toks[i] not in _FUNCS:
            i += 1
            continue
        funcs = [_FUNCS[toks[i]]]
        j = i + 1
        while j + 1 < len(toks) and toks[j] in ("and", "or") and toks[j + 1] in _FUNCS:
            funcs.append(_FUNCS[toks[j + 1]])  # "average and maximum purchase revenues"
            j += 2
        while j < len(toks) and toks[j] in _FILLER:
            j += 1
        ref, used = _measure_at(toks, j, phrases, longest)
        if ref is not None:
            after = toks[j + used] if j + used < len(toks) else ""
            if after not in _COMPARED:  # "with an average duration above 500" is a condition
                out += [(f, *ref) for f in funcs if (f, *ref) not in out]
            i = j + used
        else:
            i += 1
    return out


def _measure_at(toks: list[str], j: int, phrases: dict[str, tuple[str, str]],
                longest: int) -> tuple[tuple[str, str] | None, int]:
    """The measure named at ``toks[j]`` (or one word on: "purchase revenues"), plural or not."""
    for skip in (0, 1):
        for n in range(min(longest, len(toks) - j - skip), 0, -1):
            span = toks[j + skip:j + skip + n]
            for cand in (" ".join(span), " ".join(span[:-1] + [span[-1].rstrip("s")])):
                if cand in phrases:
                    return phrases[cand], skip + n
    return None, 0


def add_missing_measures(tree: exp.Expr, asked: list[tuple[str, str, str]]) -> list[str]:
    """Drop repeated projections; add the asked aggregates the outer SELECT lacks (see module doc)."""
    if not isinstance(tree, exp.Select):
        return []
    changes: list[str] = []
    seen: set[str] = set()
    for proj in list(tree.expressions):
        text = proj.sql()
        if text in seen:
            proj.pop()
            changes.append(f"dropped the repeated {text}")
        seen.add(text)
    if len(asked) < 2:
        return changes
    aliases = {t.alias_or_name.lower(): t.name.lower() for t in _own_tables(tree)}
    have = set()
    for proj in tree.expressions:
        node = proj.this if isinstance(proj, exp.Alias) else proj
        for func, node_type in _NODES.items():
            if isinstance(node, node_type) and isinstance(node.this, exp.Column):
                have.add((func, node.this.name.lower()))
    if not any((f, c.lower()) in have for f, _, c in asked):
        return changes
    having = {c.name.lower() for c in tree.find_all(exp.Column) if c.find_ancestor(exp.Having)}
    for func, table, column in asked:
        if (func, column.lower()) in have or column.lower() in having:
            continue
        bare = table.lower().split(".")[-1]
        quals = [a for a, name in aliases.items() if name == bare]
        if len(quals) != 1:
            return changes
        qual = quals[0] if len(aliases) > 1 else None
        agg = _NODES[func](this=exp.column(column, table=qual))
        tree.select(exp.alias_(agg, f"{func.lower()}_{column}"), copy=False)
        have.add((func, column.lower()))
        changes.append(f"added {agg.sql()}: the question asks for it")
    return changes


def _own_tables(sel: exp.Select) -> list[exp.Table]:
    frm = sel.args.get("from") or sel.args.get("from_")
    sources = [frm.this] if frm is not None else []
    sources += [j.this for j in sel.args.get("joins") or []]
    return [s for s in sources if isinstance(s, exp.Table)]
