"""A WHERE's AND-ed conditions: find them, tell one, take one out.

    from schemadistill.conjuncts import and_where, where_conjuncts, remove_conjunct, outer_paren
    for cond in where_conjuncts(select):        # [a = 1, (b > 2)] for WHERE a = 1 AND (b > 2)
        remove_conjunct(outer_paren(cond))
    and_where(select, condition)                # WHERE old AND condition

The grounding rules (literals, answer shape, rates, stated tests, value grounding) all change a
WHERE one condition at a time; they share these so a condition under OR, NOT or a CASE is never
taken for one of the WHERE's own.
"""

from __future__ import annotations

from sqlglot import exp


def where_conjuncts(select: exp.Expr) -> list[exp.Expr]:
    """The AND-ed conditions of ``select``'s own WHERE (outer parentheses aside); [] without one."""
    where = select.args.get("where")
    return [] if where is None else and_terms(where.this)


def and_terms(cond: exp.Expr) -> list[exp.Expr]:
    """The AND-ed terms of a condition (a WHERE's or a HAVING's), outer parentheses aside."""
    while isinstance(cond, exp.Paren):
        cond = cond.this
    return list(cond.flatten()) if isinstance(cond, exp.And) else [cond]


def outer_paren(node: exp.Expr) -> exp.Expr:
    """``node`` with the parentheses around it (``(a = 1)`` for ``a = 1``), as the AND chain holds it."""
    while isinstance(node.parent, exp.Paren):
        node = node.parent
    return node


def is_where_conjunct(node: exp.Expr) -> bool:
    """Is ``node`` the WHERE's condition or one AND-ed part of it (not under OR, NOT, CASE)?"""
    parent = node.parent
    while isinstance(parent, (exp.And, exp.Paren)):
        parent = parent.parent
    return isinstance(parent, exp.Where)


def remove_conjunct(node: exp.Expr) -> None:
    """Take ``node`` out of its WHERE's AND chain (the WHERE goes when it was alone)."""
    parent = node.parent
    if isinstance(parent, exp.Where):
        parent.pop()
    elif isinstance(parent, exp.And):
        other = parent.expression if parent.this is node else parent.this
        parent.replace(other)


def and_where(sel: exp.Select, cond: exp.Expr) -> None:
    """``WHERE old AND cond``; ``old`` is parenthesised only when it is an OR (sqlglot's own
    append would wrap every earlier AND chain too)."""
    where = sel.args.get("where")
    if where is None:
        sel.set("where", exp.Where(this=cond))
        return
    old = where.this
    if isinstance(old, exp.Connector) and not isinstance(old, exp.And):
        old = exp.Paren(this=old)
    where.set("this", exp.And(this=old, expression=cond))


def bare_sql(node: exp.Expr) -> str:
    """A condition without table qualifiers or outer parentheses, to compare however it is written."""
    node = node.copy()
    for col in node.find_all(exp.Column):
        col.set("table", None)
    while isinstance(node, exp.Paren):
        node = node.this
    return node.sql(dialect="duckdb").lower()
