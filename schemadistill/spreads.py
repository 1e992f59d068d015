"""Spread a question asks for: "the sample standard deviation", "the population variance", "the
range of revenue"; SQL that computes another spread of the same column gets the stated one.

    from schemadistill.spreads import stated_spread, fix_spread, stated_range, fix_range
    fix_spread(tree, stated_spread(question))        # STDDEV_POP(age) -> STDDEV_SAMP(age)
    fix_range(tree, stated_range(question, index.measures))   # SUM(revenue) - MIN(revenue) -> MAX - MIN

Why: a small student picks between STDDEV_POP and STDDEV_SAMP by the pairs it resembles, not by
the one word ("sample", "population") that decides it; and "the range of X" is a rare phrase
beside "the total X", so it writes ``SUM(x) - MIN(x)`` or ``SUM(x)``. The words say which one.

Rules, conservative: the kind must be stated next to the spread word ("sample standard
deviation", "standard deviation (population)", "population variance"), one kind only; only
the SQL's standard deviations (or variances) of the outer SELECT change, never their column.
"The range of X" (X a measure of the lexicon; not "date range", "age range", "a range of") turns
the outer SELECT's one projection that aggregates only X, and is not already ``MAX(x) - MIN(x)``,
into it, alias kept.
"""

from __future__ import annotations

import re

from sqlglot import exp

from schemadistill.measures import measure_at_start

_SPREAD = r"(?:standard\s+deviation|std\.?\s*dev|stddev|variance)"
# "sample standard deviation", "standard deviation (sample)", "std dev, sample", "sample stddev"
_KIND = re.compile(rf"\b(sample|population)\s+{_SPREAD}|{_SPREAD}\s*[(,]?\s*(?:of\s+the\s+)?(sample|population)\b",
                   re.IGNORECASE)
_STDDEV = {"sample": exp.StddevSamp, "population": exp.StddevPop}
_VARIANCE = {"sample": exp.Variance, "population": exp.VariancePop}
_RANGE_OF = re.compile(r"\b(?:the|its|their)\s+range\s+of\s+(?:the\s+)?", re.IGNORECASE)


def stated_spread(question: str) -> str | None:
    """"sample" or "population" when the question states one kind of spread, else None."""
    if re.search(r"\bsample\b", question, re.I) and re.search(r"\bpopulation\b", question, re.I):
        return None  # both named ("sample and population standard deviation"): not one kind
    kinds = {(m.group(1) or m.group(2)).lower() for m in _KIND.finditer(question)}
    return kinds.pop() if len(kinds) == 1 else None


def fix_spread(tree: exp.Expr, kind: str | None) -> list[str]:
    """The outer SELECT's standard deviations and variances in the stated ``kind``."""
    if kind is None or not isinstance(tree, exp.Select):
        return []
    changes = []
    for proj in tree.expressions:
        for node in list(proj.find_all(exp.StddevPop, exp.StddevSamp, exp.Stddev, exp.VariancePop, exp.Variance)):
            family = _VARIANCE if isinstance(node, (exp.VariancePop, exp.Variance)) else _STDDEV
            want = family[kind]
            if type(node) is want:
                continue
            new = want(this=node.this.copy())
            changes.append(f"{node.sql()} -> {new.sql()} (the question asks for the {kind} one)")
            node.replace(new)
    return changes


def stated_range(question: str, phrases: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """(table, column) of the one measure the question asks the range of ("the range of revenue")."""
    found = {measure_at_start(question[m.end():], phrases) for m in _RANGE_OF.finditer(question)} - {None}
    return found.pop() if len(found) == 1 else None


def fix_range(tree: exp.Expr, ref: tuple[str, str] | None) -> str | None:
    """The outer SELECT's one projection aggregating only ``ref``'s column as ``MAX(x) - MIN(x)``."""
    if ref is None or not isinstance(tree, exp.Select):
        return None
    column = ref[1].lower()
    group = tree.args.get("group")
    if group is not None and any(isinstance(g, exp.Column) and g.name.lower() == column for g in group.expressions):
        return None  # grouped by the measure itself: its range per group is 0, not what was meant
    hits = []
    for proj in tree.expressions:
        node = proj.this if isinstance(proj, exp.Alias) else proj
        aggs = list(node.find_all(exp.AggFunc))
        if aggs and all(isinstance(a.this, exp.Column) and a.this.name.lower() == column for a in aggs):
            hits.append((proj, node, aggs[0].this))
    if len(hits) != 1:
        return None
    proj, node, col = hits[0]
    if isinstance(node, exp.Sub) and isinstance(node.this, exp.Max) and isinstance(node.expression, exp.Min):
        return None
    new = exp.Sub(this=exp.Max(this=col.copy()), expression=exp.Min(this=col.copy()))
    old = node.sql()
    node.replace(new)
    return f"{old} -> {new.sql()} (the question asks for the range)"
