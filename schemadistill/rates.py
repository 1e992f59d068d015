"""Rates whose own condition also filters their rows: always 100%, never what was asked.

    import sqlglot
    from schemadistill.rates import drop_self_filtering
    tree = sqlglot.parse_one("SELECT 100.0 * COUNT(CASE WHEN is_fraud = 1 THEN 1 END) / COUNT(*) AS fraud_rate "
                             "FROM sessions WHERE os = 'Android' AND is_fraud = 1")
    drop_self_filtering(tree)
    # ['dropped is_fraud = 1 from the WHERE (the rate counts it: with it the rate is 100%)']

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

from sqlglot import exp

from schemadistill.conjuncts import outer_paren, remove_conjunct, where_conjuncts


def _bare(node: exp.Expr) -> str:
    """``node`` without table qualifiers or parentheses, to compare conditions however written."""
    while isinstance(node, exp.Paren):
        node = node.this
    copy = node.copy()
    for col in copy.find_all(exp.Column):
        col.set("table", None)
    return copy.sql().lower()


def _conditions(node: exp.Expr) -> list[exp.Expr]:
    """The conditions a rate's side counts by: CASE WHEN branches, COUNT_IF, IF."""
    found: list[exp.Expr] = []
    for case in node.find_all(exp.Case):
        found += [branch.this for branch in case.args.get("ifs") or []]
    found += [n.this for n in node.find_all(exp.CountIf)]
    found += [n.this for n in node.find_all(exp.If) if n.find_ancestor(exp.Case) is None]
    return found


def self_filtering(tree: exp.Expr) -> list[tuple[exp.Select, exp.Expr]]:
    """(SELECT, WHERE condition) for each condition that makes a rate of that SELECT 100%."""
    found: list[tuple[exp.Select, exp.Expr]] = []
    for sel in tree.find_all(exp.Select):
        where = sel.args.get("where")
        if where is None:
            continue
        counted: set[str] = set()
        for proj in sel.expressions:
            for div in proj.find_all(exp.Div):
                above, below = _conditions(div.this), _conditions(div.expression)
                if len(above) == 1 and not below:
                    counted.add(_bare(above[0]))
        found += [(sel, c) for c in where_conjuncts(sel) if counted and _bare(c) in counted]
    return found


def drop_self_filtering(tree: exp.Expr) -> list[str]:
    """Take out the WHERE conditions that make a rate 100% (see the module docstring)."""
    changes: list[str] = []
    for _, cond in self_filtering(tree):
        remove_conjunct(outer_paren(cond))
        changes.append(f"dropped {_bare(cond)} from the WHERE (the rate counts it: with it the rate is 100%)")
    return changes
