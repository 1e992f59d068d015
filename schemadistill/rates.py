"""Rates: the condition a share counts, and the conditions that only pick its rows.

    import sqlglot
    from schemadistill.rates import drop_self_filtering, place_counted_condition
    tree = sqlglot.parse_one("SELECT 100.0 * COUNT(CASE WHEN is_fraud = 1 THEN 1 END) / COUNT(*) AS fraud_rate "
                             "FROM sessions WHERE os = 'Android' AND is_fraud = 1")
    drop_self_filtering(tree)
    # ['dropped is_fraud = 1 from the WHERE (the rate counts it: with it the rate is 100%)']

    q = "What share of fraud sessions had browser Chrome?"
    tree = sqlglot.parse_one("SELECT 100.0 * COUNT(CASE WHEN is_fraud = 1 THEN 1 END) / COUNT(*) AS pct "
                             "FROM sessions WHERE browser = 'Chrome'")
    place_counted_condition(tree, q, locate)  # locate: where the question states a condition
    # tree: ... COUNT(CASE WHEN browser = 'Chrome' THEN 1 END) ... WHERE is_fraud = 1

Why: "the fraud rate of Android users" names the condition (fraud) and the rows (Android). A
small student that learned "fraud sessions" as ``WHERE is_fraud = 1`` writes that filter beside
the rate's ``CASE WHEN is_fraud = 1``, and the answer is 100% by construction; no question asks
for that. The rate's condition belongs to the numerator only, so the filter goes.

Rules: in any SELECT, a division whose numerator holds one condition (``CASE WHEN c``,
``COUNT_IF(c)``, ``IF(c, ...)``) that the denominator does not, where ``c`` (qualifiers aside) is
also one AND-ed condition of that SELECT's WHERE: that WHERE condition goes. A numerator with
two conditions, one of them filtered ("the share of fraud sessions with a purchase among fraud
sessions"), is a real rate and is left alone. The teacher rejects such pairs the same way
(teacher/validate.py ``degenerate_rate``): they are the pattern a student must not learn.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp

from schemadistill.conjuncts import and_where, bare_sql, outer_paren, remove_conjunct, where_conjuncts


def _conditions(node: exp.Expr) -> list[exp.Expr]:
    """The conditions a rate's side counts by: CASE WHEN branches, COUNT_IF, IF."""
    found: list[exp.Expr] = []
    for case in node.find_all(exp.Case):
        found += [branch.this for branch in case.args.get("ifs") or []]
    found += [n.this for n in node.find_all(exp.CountIf)]
    found += [n.this for n in node.find_all(exp.If) if n.find_ancestor(exp.Case) is None]
    return found


def counted_conditions(sel: exp.Select) -> set[str]:
    """The conditions (``bare_sql``) that a rate of ``sel``'s projections counts: the one condition
    of a division's numerator that its denominator does not hold."""
    counted: set[str] = set()
    for proj in sel.expressions:
        for div in proj.find_all(exp.Div):
            above, below = _conditions(div.this), _conditions(div.expression)
            if len(above) == 1 and not below:
                counted.add(bare_sql(above[0]))
    return counted


def self_filtering(tree: exp.Expr) -> list[tuple[exp.Select, exp.Expr]]:
    """(SELECT, WHERE condition) for each condition that makes a rate of that SELECT 100%."""
    found: list[tuple[exp.Select, exp.Expr]] = []
    for sel in tree.find_all(exp.Select):
        if sel.args.get("where") is None:
            continue
        counted = counted_conditions(sel)
        found += [(sel, c) for c in where_conjuncts(sel) if counted and bare_sql(c) in counted]
    return found


def drop_self_filtering(tree: exp.Expr) -> list[str]:
    """Take out the WHERE conditions that make a rate 100% (see the module docstring)."""
    changes: list[str] = []
    for _, cond in self_filtering(tree):
        remove_conjunct(outer_paren(cond))
        changes.append(f"dropped {bare_sql(cond)} from the WHERE (the rate counts it: with it the rate is 100%)")
    return changes


# a share word, then the verb after which the question says what is counted: "what share of fraud
# sessions HAD browser Chrome", "among ..., what percent ARE non-suspicious", "the matching rate
# ..., where matching MEANS browser = 'Safari'"; not a relative clause ("users who have ...")
_SHARE = re.compile(r"\b(?:share|percent|percentage|proportion|fraction|pct)\b", re.IGNORECASE)
_COUNTED_AFTER = re.compile(r"(?<!\bwho )(?<!\bthat )(?<!\bwhich )\b(?:had|have|has|are|were|means?)\b",
                            re.IGNORECASE)


def counted_from(question: str) -> int | None:
    """Where the condition a rate counts may start: after the verb that follows the question's
    share word ("what percentage of visits have ..."); None when the question has no such verb."""
    share = _SHARE.search(question)
    verb = _COUNTED_AFTER.search(question, share.end()) if share else None
    return verb.end() if verb else None


def place_counted_condition(tree: exp.Expr, question: str, locate: Callable[[exp.Expr], int | None]) -> list[str]:
    """Put the condition the question counts into the rate's numerator, and the one it counted
    instead into the WHERE.

    Why: "what share of fraud sessions had browser Chrome" is Chrome sessions among fraud ones;
    a small student that has learnt fraud rates writes ``COUNT(CASE WHEN is_fraud = 1 ...) ...
    WHERE browser = 'Chrome'``, the same words with the roles the other way round. English says
    which is which: what comes after the verb that follows the share word ("had", "have",
    "are", "were", "means") is counted, what comes before picks the rows.

    ``locate(cond)`` is where the question states ``cond`` (a character offset) or None. The rule
    acts on the outermost SELECT with a rate of one counted condition (``CASE WHEN c``,
    ``COUNT_IF(c)``) when the first condition the question states after that verb is a WHERE
    condition: the two change places (the counted one goes when the question never states it,
    or when the WHERE already tests its column). A query with no such rate, whose one measure is
    a count or a ratio that counts no condition, gets the rate of that WHERE condition
    (:func:`_count_stated`). No verb ("the percentage of fraudulent sessions on Chrome" says it
    the other way round), a relative clause ("of users who have ..."): left to the model.
    """
    share = _SHARE.search(question)
    verb = _COUNTED_AFTER.search(question, share.end()) if share else None
    if verb is None:
        return []
    if isinstance(tree, exp.Select) and not any(_counted(sel) is not None for sel in tree.find_all(exp.Select)):
        return _count_stated(tree, verb, locate)
    for sel in tree.find_all(exp.Select):
        counted = _counted(sel)
        if counted is None:
            continue
        after = _stated_after(sel, verb, locate)
        said = locate(counted)
        if not after or (said is not None and verb.end() <= said <= after[0][0]):
            return []  # nothing stated after the verb is filtered, or the counted one is stated first
        meant = where_conjuncts(sel)[after[0][1]]
        old = counted.sql()
        tested = {c.name.lower() for w in where_conjuncts(sel) if w is not meant for c in w.find_all(exp.Column)}
        keep = said is not None and not {c.name.lower() for c in counted.find_all(exp.Column)} & tested
        moved = counted.copy()
        counted.replace(meant.copy())
        remove_conjunct(outer_paren(meant))
        if keep:
            and_where(sel, moved)
        return [f"counted {meant.sql()} instead of {old} (the question counts what follows "
                f"'{verb.group(0)}'){'; ' + old + ' picks the rows' if keep else ''}"]
    return []


def _count_stated(sel: exp.Select, verb: re.Match[str], locate: Callable[[exp.Expr], int | None]) -> list[str]:
    """A share asked for ("what percent are non-suspicious") written as a plain count or a ratio
    that counts no condition (``COUNT(*)``, ``100.0 * SUM(revenue) / COUNT(*)``), the condition
    stated first after the verb filtering the rows, or as each group's share of the total
    (``COUNT(*) / SUM(COUNT(*)) OVER ()``: "for each OS, what share of traffic are fraud"): the
    one such projection becomes the rate of that condition (``100.0 * COUNT(CASE WHEN c THEN 1
    END) / COUNT(*)``; ``DISTINCT`` keys stay distinct), and the condition leaves the WHERE."""
    after = _stated_after(sel, verb, locate)
    measures = [p for p in sel.expressions if p.find(exp.AggFunc) is not None]
    if not after or len(measures) != 1:
        return []
    proj = measures[0]
    inner = proj.unalias()
    while isinstance(inner, exp.Paren):
        inner = inner.this
    count = inner if isinstance(inner, exp.Count) else None
    if proj.find(exp.Window) is not None:
        # "for each OS, what share of traffic are non-fraudulent" written as each OS's share of all
        # non-fraudulent traffic (COUNT(*) / SUM(COUNT(*)) OVER ()): the rate within each group
        div = inner.find(exp.Div)
        counts = list(div.this.find_all(exp.Count)) if div is not None else []
        total = div.expression.unnest() if div is not None else None
        shares = isinstance(total, exp.Window) and isinstance(total.this, exp.Sum) \
            and isinstance(total.this.this, exp.Count) and not total.args.get("partition_by")
        count = counts[0] if div is not None and len(counts) == 1 and shares and not _conditions(div.this) else None
    elif isinstance(inner, exp.Div) or (isinstance(inner, exp.Mul) and inner.find(exp.Div) is not None):
        div = inner if isinstance(inner, exp.Div) else inner.find(exp.Div)
        below = div.expression.unnest() if div is not None else None
        count = below if div is not None and isinstance(below, exp.Count) and not _conditions(div.this) else None
    if count is None:
        return []
    meant = where_conjuncts(sel)[after[0][1]]
    distinct = count.this if isinstance(count.this, exp.Distinct) else None
    key = distinct.expressions[0] if distinct is not None and len(distinct.expressions) == 1 else None
    if distinct is not None and key is None:
        return []
    case = exp.Case(ifs=[exp.If(this=meant.copy(), true=key.copy() if key is not None else exp.Literal.number(1))])
    above = exp.Count(this=exp.Distinct(expressions=[case]) if key is not None else case)
    rate = exp.Div(this=exp.Mul(this=exp.Literal.number("100.0"), expression=above), expression=count.copy())
    old = proj.sql()
    proj.replace(exp.alias_(rate, "pct"))
    remove_conjunct(outer_paren(meant))
    return [f"{old} -> the share of {meant.sql()} (the question asks what share follows '{verb.group(0)}')"]


def _stated_after(sel: exp.Select, verb: re.Match[str], locate: Callable[[exp.Expr], int | None]
                  ) -> list[tuple[int, int]]:
    """(where stated, index) of each WHERE condition of ``sel`` the question states after ``verb``, in order."""
    return sorted((pos, i) for i, c in enumerate(where_conjuncts(sel))
                  if (pos := locate(c)) is not None and pos >= verb.end())


def _counted(sel: exp.Select) -> exp.Expr | None:
    """The one condition a rate of ``sel``'s projections counts (its denominator counting none)."""
    found = []
    for proj in sel.expressions:
        for div in proj.find_all(exp.Div):
            above, below = _conditions(div.this), _conditions(div.expression)
            if len(above) == 1 and not below and not isinstance(above[0], exp.Connector):
                found.append(above[0])
    return found[0] if len(found) == 1 else None
