"""Comparisons a question writes out in SQL's own terms: "where session_duration < 750", "age <= 71".

    from schemadistill.stated_tests import put_stated_tests, stated_tests
    tests = stated_tests("Sessions where session_duration < 750 in the last 365 days?", schema)
    # [StatedTest(table='ecommerce.sessions', column='session_duration', op='<', number=750.0, span=(15, 37))]
    put_stated_tests(tree, tests, add)  # ['session_duration >= 365 -> session_duration < 750 (the question states it)']

Why: when a question names a numeric column by its own name with an operator and a number, the
test is fully stated, yet a small student drops it, turns its operator, or swaps its number with
another one of the question's ("session_duration >= 365 ... INTERVAL 750 DAY" for "session_duration
< 750 in the last 365 days"). Run before literal grounding (schemadistill/literals.py), which then
leaves these numbers and columns alone, so the other number (365) goes where it belongs.

Rules, conservative like the rest of grounding:

- A stated test: a numeric column's name exactly as the schema spells it (case aside; one
  table holds it, or the SQL reads only one of those that do), then ``=``, ``!=``, ``<>``, ``<``,
  ``<=``, ``>``, ``>=``, then a number (not the start of a date).
- Already in the SQL (that column, operator and number, anywhere): nothing to do.
- The SQL compares the column with a number exactly once, as an AND-ed WHERE condition: that
  test takes the stated operator and number. Tests of the stated number the other way
  (``age >= 54 AND age <= 54`` for "age > 54") become the one stated test; an equality with
  another number beside a stated equality (``is_active = 1 AND is_active = 0``) goes.
- The SQL never mentions the column: the test is added where a SELECT reads its table (or one
  key away), like a named value (schemadistill/grounding.py ``_add_somewhere``).
- Several tests stated on one column ("age > 30 and age < 50") are put in only where the SQL
  has none of that column's; anything else is left to the model.
- With the value index, a comparison stated in words on a measure's phrase ("where the money
  spent is not above 1700") is a stated test too (:func:`worded_tests`); when the SQL never
  tests that column, a WHERE test of another column holding the stated number goes (the model
  bound the number to the wrong column: ``session_duration <= 1700``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from sqlglot import exp

from schemadistill.comparisons import stated_comparison
from schemadistill.conjuncts import is_where_conjunct, outer_paren, remove_conjunct
from schemadistill.literals import question_atoms
from schemadistill.rates import counted_from
from schemadistill.schema.model import NUMERIC_TYPES, Schema

_OPS: dict[str, type[exp.Expr]] = {"=": exp.EQ, "==": exp.EQ, "!=": exp.NEQ, "<>": exp.NEQ, "<": exp.LT,
                                   "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}
_COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)
_TEST = re.compile(r"(?<![\w.'\"])(?P<col>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op><=|>=|!=|<>|==|=|<|>)\s*"
                   r"(?P<num>-?\d+(?:\.\d+)?)(?![\w.\-/:]\d|\w)")


@dataclass(frozen=True)
class StatedTest:
    """``table.column op number``, and where the question says it (``question[span[0]:span[1]]``)."""

    table: str
    column: str
    op: str
    number: float
    span: tuple[int, int]

    def node(self, qualifier: str | None) -> exp.Expr:
        num = exp.Literal.number(int(self.number) if self.number == int(self.number) else self.number)
        return _OPS[self.op](this=exp.column(self.column, table=qualifier), expression=num)


def stated_tests(question: str, schema: Schema | None) -> list[StatedTest]:
    """The numeric column tests ``question`` writes out, in order (see the module docstring);
    a name several tables hold keeps every holder (``put_stated_tests`` picks the one read)."""
    if schema is None or not any(c in question for c in "=<>"):
        return []
    holders: dict[str, list[str]] = {}
    for table in schema.tables:
        for col in table.columns:
            if col.type in NUMERIC_TYPES:
                holders.setdefault(col.name.lower(), []).append(table.qualified_name)
    return [StatedTest(holder, t.column, t.op, t.number, t.span)
            for t in written_tests(question, holders) for holder in holders[t.column]]


def written_tests(question: str, columns: Collection[str]) -> list[StatedTest]:
    """``column op number`` written out for a column in ``columns`` (lower-case names), its
    table left empty: what the consistency check reads without a schema."""
    return [StatedTest("", m["col"].lower(), "<>" if m["op"] == "!=" else m["op"], float(m["num"]), m.span())
            for m in _TEST.finditer(question) if m["col"].lower() in columns]


# after a measure's phrase: "money spent is not above 1700", "session length over 250",
# "revenue of at least 1.5k"; a range ("between", "from ... to") is not one test
_WORDED = re.compile(r"^\s+(?:(?:is|was|are|were|of)\s+)?(?:(?:not|no)\s+)?(?:above|over|below|under|"
                     r"(?:more|less|greater|higher|lower|fewer|longer|shorter|larger|smaller|bigger)\s+than"
                     r"(?:\s+or\s+equal\s+to)?|at\s+least|at\s+most|up\s+to|exceed(?:s|ing)?|equal\s+to|equals|"
                     r"[<>]=?|!=|<>|=)\s*\$?\s*(?=[\d.])", re.IGNORECASE)
# an aggregate's test, not a row's: "average revenue over 100", "total spend above 9500",
# "spend more than 100 in total", "revenue over 100 per user"
_AGGREGATE_BEFORE = re.compile(r"\b(?:total|overall|combined|aggregate|sum|average|avg|mean|median|typical|"
                               r"max(?:imum)?|min(?:imum)?|highest|lowest|count|number|their)\s+(?:of\s+)?"
                               r"(?:the\s+)?$", re.IGNORECASE)
_AGGREGATE_AFTER = re.compile(r"^\s*(?:in\s+total|overall|combined|altogether|on\s+average|per\b|each\b|"
                              r"or\b|and\s+(?:below|under|above|over|less|more|\d))", re.IGNORECASE)


def worded_tests(question: str, measures: dict[str, tuple[str, str]], skip: Collection[str] = ()
                 ) -> list[StatedTest]:
    """Comparisons a question states in words on a measure's phrase ("where the money spent is
    not above 1700": ``revenue <= 1700``), one per column; ``measures`` maps the value index's
    phrases to (table, column). A column in ``skip`` (an age: schemadistill/ages.py reads those;
    one already stated in SQL's terms), a column compared twice ("over 100 and under 900"), an
    aggregate's test ("average revenue over 100", "spend more than 100 in total") and what a
    rate counts ("what share of visits have sales greater than 0": schemadistill/rates.py) give
    none."""
    numbers = {a.pos: a for a in question_atoms(question) if a.kind == "number" and not a.percent}
    counted = counted_from(question)  # "what percentage of visits have sales greater than 0": the rate's
    taken: list[tuple[int, int]] = []
    found: dict[str, list[StatedTest]] = {}
    for phrase, (table, column) in sorted(measures.items(), key=lambda kv: -len(kv[0])):
        pattern = r"(?<![\w'])" + re.escape(phrase).replace("\\ ", r"\s+") + r"(?![\w'])"
        for m in re.finditer(pattern, question, re.IGNORECASE):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append(m.span())
            said = _WORDED.match(question[m.end():])
            atom = numbers.get(m.end() + said.end()) if said else None
            if atom is None or atom.number is None or column.lower() in skip \
                    or (counted is not None and m.start() >= counted) \
                    or _AGGREGATE_BEFORE.search(question[:m.start()]) or _AGGREGATE_AFTER.match(question[atom.stop:]):
                continue
            op = stated_comparison(question.replace("$", " "), atom.pos, atom.stop)  # "at least $1.5k"
            if op is not None:
                found.setdefault(column.lower(), []).append(
                    StatedTest(table, column.lower(), op, atom.number, (m.start(), atom.stop)))
    return sorted((t[0] for t in found.values() if len(t) == 1), key=lambda t: t.span)


def _number(node: exp.Expr) -> float | None:
    if isinstance(node, exp.Neg):
        inner = _number(node.this)
        return None if inner is None else -inner
    return float(node.this) if isinstance(node, exp.Literal) and node.is_number else None


def _comparisons(tree: exp.Expr, column: str) -> tuple[list[exp.Expr], bool]:
    """(the tree's ``column op number`` comparisons, whether another condition reads the column:
    a WHERE, HAVING, CASE or join condition; a projection or an ORDER BY tests nothing)."""
    found: list[exp.Expr] = []
    elsewhere = False
    for col in tree.find_all(exp.Column):
        if col.name.lower() != column:
            continue
        parent = col.parent
        if parent is not None and isinstance(parent, _COMPARISONS) and parent.this is col \
                and _number(parent.expression) is not None:
            found.append(parent)
        elif col.find_ancestor(exp.Where, exp.Having, exp.Qualify, exp.Case, exp.If, exp.Join) is not None:
            elsewhere = True
    return found, elsewhere


def _reads(tree: exp.Expr, table: str) -> bool:
    name = table.split(".")[-1].lower()
    return any(t.name.lower() == name for t in tree.find_all(exp.Table))


def put_stated_tests(tree: exp.Expr, tests: list[StatedTest],
                     add: Callable[[str, Callable[[str | None], exp.Expr]], str | None]) -> list[str]:
    """Make ``tree`` test what ``tests`` state (see the module docstring); ``add(table, make)``
    puts ``make(alias)`` where a SELECT reads ``table``. What changed."""
    by_column: dict[str, list[StatedTest]] = {}
    for t in tests:
        by_column.setdefault(t.column, []).append(t)
    changes: list[str] = []
    for column, stated in by_column.items():
        tables = {t.table for t in stated}
        if len(tables) > 1:
            read = {t for t in tables if _reads(tree, t)}
            if len(read) != 1:
                continue  # user_id of sessions or of users: not ours to pick
            stated = [t for t in stated if t.table in read]
        found, elsewhere = _comparisons(tree, column)
        if not found and not elsewhere and _said_of_aggregate(tree, column, stated):
            continue
        if not found and not elsewhere:
            if len(stated) == 1:
                changes += _drop_misbound(tree, stated[0], set(by_column))
            for t in stated:
                change = add(t.table, t.node)
                if change:
                    changes.append(f"{change} (the question states it)")
            continue
        if len(stated) == 1 and not elsewhere:
            changes += _correct(found, stated[0])
    return changes


def _said_of_aggregate(tree: exp.Expr, column: str, stated: list[StatedTest]) -> bool:
    """The stated number already compared with a name built on the column (``total_revenue >=
    38000`` over ``SUM(revenue) AS total_revenue`` for "users whose money spent is at least
    38,000"): the question's test is the aggregate's, not each row's."""
    numbers = {t.number for t in stated}
    return any(isinstance(c.this, exp.Column) and column in c.this.name.lower() and c.this.name.lower() != column
               and _number(c.expression) in numbers for c in tree.find_all(*_COMPARISONS))


def _drop_misbound(tree: exp.Expr, want: StatedTest, stated_columns: set[str]) -> list[str]:
    """The one AND-ed WHERE test of another column, one the question states nothing of, that holds
    ``want``'s number: the model bound the number to the wrong column ("money spent is not
    above 1700" answered ``session_duration <= 1700``); it goes, and ``want`` is put in."""
    wrong = [c for c in tree.find_all(*_COMPARISONS)
             if isinstance(c.this, exp.Column) and c.this.name.lower() != want.column
             and c.this.name.lower() not in stated_columns and _number(c.expression) == want.number
             and is_where_conjunct(outer_paren(c))]
    if len(wrong) != 1:
        return []
    remove_conjunct(outer_paren(wrong[0]))
    return [f"dropped {wrong[0].sql()} (the question compares {want.column} with {_fmt(want.number)})"]


def _same_test(node: exp.Expr, want: StatedTest) -> bool:
    return isinstance(node, _OPS[want.op]) and _number(node.expression) == want.number


def _correct(found: list[exp.Expr], want: StatedTest) -> list[str]:
    """The WHERE tests of ``want``'s column in ``found``, made to say ``want``: the one test of
    the column takes its operator and number; tests of its number the other way
    (``age >= 54 AND age <= 54`` for "age > 54") become it; equalities with other numbers
    (``is_active = 1`` beside the stated ``is_active = 0``) contradict it and go."""
    conjuncts = [f for f in found if is_where_conjunct(outer_paren(f))]
    if len(conjuncts) != len(found):
        return []  # also read inside a CASE or an OR: its meaning there is the model's
    exact = [f for f in found if _same_test(f, want)]
    same_number = [f for f in found if f not in exact and _number(f.expression) == want.number]
    contradicting = [f for f in found if f not in exact and f not in same_number and want.op == "="
                     and isinstance(f, exp.EQ)]
    changes: list[str] = []
    if not exact:
        wrong = same_number or (found if len(found) == 1 else [])
        if not wrong:
            return []
        old = wrong[0]
        new = _OPS[want.op](this=old.this.copy(), expression=want.node(None).expression)
        old.replace(new)
        changes.append(f"{old.sql()} -> {new.sql()} (the question states it)")
        same_number = wrong[1:] if same_number else []
    for f in same_number + contradicting:
        remove_conjunct(outer_paren(f))
        changes.append(f"dropped {f.sql()} (the question states {want.column} {want.op} {_fmt(want.number)})")
    return changes


def _fmt(x: float) -> str:
    return str(int(x)) if x == int(x) else repr(x)
