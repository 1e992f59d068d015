"""Answer shape: how many rows the question asks for, and the group keys it shows.

    import sqlglot
    from schemadistill.answer_shape import ground_count, ground_one_row
    tree = sqlglot.parse_one("SELECT user_id, age FROM users WHERE age <= 10 ORDER BY age DESC LIMIT 1")
    ground_count(tree, counts=[10.0], numbers=[10.0])
    # ['limit 1 -> 10 (the question asks for 10 rows)', 'dropped age <= 10 (the 10 is the count of rows)']
    tree = sqlglot.parse_one("SELECT country, AVG(revenue) AS r FROM s GROUP BY country")
    ground_one_row(tree, [], [], "Which country has the lowest average revenue?")
    # ['order by r ASC', 'limit 1 (the question asks for the one with the most or least)']

Why: on held-out pairs a small student writes the right query with the wrong number of rows
more often than any other single slip: "which 10 customers have the most sessions" as ``LIMIT
1`` (and the 10 copied into ``age <= 10``), "Top OS by sessions" as ``LIMIT 3``, "which country
has the lowest average" without ``ORDER BY ... LIMIT 1``, or a ``LIMIT 10`` no word asks for. The
question says how many rows it wants; that need not be learned.

The rules (conservative, as the rest of grounding: where one is unsure it changes nothing):

- A *count of rows* the question states once ("top 5", "the 3 oldest", "which 10 customers have
  the most", "the 10 users ... with the highest"; literals.question_atoms marks it ``rank``): the
  outer ``ORDER BY ... LIMIT`` takes it, or a sorted query without one gets it; a WHERE test of a
  column against that number, which the question states nowhere else, goes. Not when another
  SELECT has a LIMIT (the count may be the inner one's) or a window ranks per group.
- *One row* asked for, no count: "Top OS family by ...", "which country has the lowest ...", "the
  age band that trails on ...", or a superlative with no word asking for several. ``LIMIT n`` (n >
  1) becomes 1; a grouped query with one measure (not the MAX/MIN the superlative may name) and
  no LIMIT is sorted by that measure the way the question ranks and gets ``LIMIT 1``.
- A ``LIMIT`` no word of the question asks for (no number equal to it, no ranking, superlative
  or "a few"/"sample" word) goes: it keeps rows from a question that asks for all of them.
- A plain column of ``GROUP BY`` that the SELECT does not show, while it shows another key, is
  shown: "by browser and OS" written as ``SELECT browser, ... GROUP BY browser, os``; not one the
  WHERE holds to one value (``GROUP BY browser, is_fraud ... WHERE is_fraud = 0`` splits nothing).
"""

from __future__ import annotations

import re

from sqlglot import exp

from schemadistill.conjuncts import outer_paren, remove_conjunct, where_conjuncts
from schemadistill.ordering import grouped_measure, sort_by_measure, stated_direction

_SUPERLATIVE = re.compile(r"\b(?:most|least|highest|lowest|largest|smallest|biggest|greatest|fewest|best|worst|"
                          r"maximum|minimum|max|min)\b", re.IGNORECASE)
# a question that asks for several: "which countries have the highest", "top browsers", "the ones"
_PLURAL_ASK = re.compile(r"\b(?:are|were|have|top|bottom|ones|those|list|rank\w*|each|every|per|within)\b",
                         re.IGNORECASE)
_PER_GROUP = re.compile(r"\b(?:each|every|within)\b", re.IGNORECASE)
_STOP = r"(?:by|per|for|in|with|among|across|on|of|where|during|ranked|that|which|who|whose|and|from|over|since)"
# "Top OS family by ...", "Bottom browser for ...": a top with no count, then a noun phrase
_TOP_ONE = re.compile(r"\b(?:top|bottom)\s+(?P<np>(?:(?!" + _STOP + r"\b)[a-z][\w-]*\s+){0,3}?(?!" + _STOP
                      + r"\b)[a-z][\w-]*)\s*(?:\b" + _STOP + r"\b|[,?.]|$)", re.IGNORECASE)
# "Which country has the lowest ...", "what browser was used the most": one noun, a singular verb
_WHICH_ONE = re.compile(r"\b(?:which|what)\s+(?:[a-z][\w-]*\s+){0,3}?(?P<noun>[a-z][\w-]*)\s+(?:has|had|is|was|"
                        r"leads|trails|ranks|comes|shows|sees|saw|gets|got|generates|generated|brings|brought|"
                        r"produces|produced|makes|made|does|did)\b", re.IGNORECASE)
# "the OS that leads on ...", "which browser ranks first by ...": singular verbs of one place
_LEADS = re.compile(r"\b(?:that|which|who)\s+(?:[a-z][\w-]*\s+){0,3}?(?P<way>leads|tops|trails|(?:ranks|comes)\s+"
                    r"(?P<end>first|last))\b", re.IGNORECASE)
# words that ask for a limited or ranked set; without any of them a LIMIT is the model's
_ROW_WORDS = re.compile(r"\b(?:\w+est|most|least|top|bottom|first|last|lead\w*|trail\w*|rank\w*|max\w*|min\w*|"
                        r"one|single|few|sample|samples|example|examples|some|any|limit|only|peak|best|worst|"
                        r"record|head|tail|preview)\b", re.IGNORECASE)


def _plural(word: str) -> bool:
    w = word.lower()
    return len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is"))


def _outer_limit(tree: exp.Expr) -> exp.Literal | None:
    limit = tree.args.get("limit") if isinstance(tree, exp.Select) else None
    lit = limit.expression if isinstance(limit, exp.Limit) else None
    return lit if isinstance(lit, exp.Literal) and lit.is_int else None


def ground_count(tree: exp.Expr, counts: list[float], numbers: list[float]) -> list[str]:
    """The one count of rows the question states (``counts``, from its rank atoms) goes into the
    outer LIMIT; ``numbers``: every number it states (a count stated once owns its number)."""
    wanted = {c for c in counts if c > 1 and c == int(c)}
    if len(wanted) != 1 or not isinstance(tree, exp.Select) or tree.args.get("order") is None:
        return []
    n = int(wanted.pop())
    if len(list(tree.find_all(exp.Limit))) > int(tree.args.get("limit") is not None) \
            or any(w.args.get("partition_by") for w in tree.find_all(exp.Window)) or tree.args.get("qualify"):
        return []  # an inner LIMIT may own the count; "top 2 per country" is a per-group ranking
    lit = _outer_limit(tree)
    changes: list[str] = []
    if lit is None and tree.args.get("limit") is None:
        tree.set("limit", exp.Limit(expression=exp.Literal.number(n)))
        changes.append(f"limit {n} (the question asks for {n} rows)")
    elif lit is not None and int(lit.this) != n:
        changes.append(f"limit {lit.this} -> {n} (the question asks for {n} rows)")
        lit.set("this", str(n))
    if changes and sum(1 for x in numbers if x == n) == 1:
        changes += _drop_tests_against(tree, n)
    return changes


def _drop_tests_against(tree: exp.Select, n: int) -> list[str]:
    """The outer WHERE's ``col op n`` tests: the model wrote the count of rows into a filter."""
    dropped = [c for c in where_conjuncts(tree) if isinstance(c, (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ, exp.NEQ))
               and isinstance(c.this, exp.Column) and isinstance(c.expression, exp.Literal)
               and c.expression.is_number and float(c.expression.this) == n]
    for d in dropped:
        remove_conjunct(outer_paren(d))
    return [f"dropped {d.sql()} (the {n} is the count of rows)" for d in dropped]


def _one_asked(question: str) -> tuple[bool, str | None]:
    """(does the question ask for one row by name, the way it ranks when its words say)."""
    lead = _LEADS.search(question)
    if lead:
        way = lead["way"].lower()
        return True, "DESC" if way in ("leads", "tops") or (lead["end"] or "").lower() == "first" else "ASC"
    top = _TOP_ONE.search(question)
    if top and not _plural(top["np"].split()[-1]) and not top["np"].split()[0].isdigit():
        return True, "DESC" if top.group(0).lower().startswith("top") else "ASC"
    which = _WHICH_ONE.search(question)
    if which and not _plural(which["noun"]) and _SUPERLATIVE.search(question[which.end():]):
        return True, stated_direction(question)
    return False, None


def ground_one_row(tree: exp.Expr, counts: list[float], numbers: list[float], question: str,
                   dialect: str = "duckdb") -> list[str]:
    """``LIMIT 1`` (and the sort it needs) for a question that asks for the one with the most or
    least and states no count; ``counts``/``numbers`` as in :func:`ground_count`."""
    group = tree.args.get("group") if isinstance(tree, exp.Select) else None
    if counts or not isinstance(tree, exp.Select) or _PER_GROUP.search(question) \
            or (group is not None and len(group.expressions) > 1):
        return []  # "which browser is used most per country": one row per group, not one row
    named, way = _one_asked(question)
    lit = _outer_limit(tree)
    if lit is not None:
        if int(lit.this) <= 1 or not tree.args.get("order") or int(lit.this) in numbers:
            return []
        if not (named or (_SUPERLATIVE.search(question) and not _PLURAL_ASK.search(question))):
            return []
        old = lit.this
        lit.set("this", "1")
        return [f"limit {old} -> 1 (the question asks for the one with the most or least)"]
    measure = grouped_measure(tree)
    if not named or way is None or tree.args.get("limit") is not None or measure is None \
            or isinstance(measure.unalias(), (exp.Max, exp.Min)):
        return []  # "the highest revenue by browser" may be MAX per browser
    changes = sort_by_measure(tree, measure, way, dialect)
    tree.set("limit", exp.Limit(expression=exp.Literal.number(1)))
    return [*changes, "limit 1 (the question asks for the one with the most or least)"]


def drop_unasked_limit(tree: exp.Expr, numbers: list[float], question: str) -> list[str]:
    """The outer LIMIT goes when nothing in the question asks for a limited set."""
    lit = _outer_limit(tree)
    if lit is None or int(lit.this) in numbers or _ROW_WORDS.search(question):
        return []
    limit = tree.args["limit"]
    tree.set("limit", None)
    return [f"dropped {limit.sql().strip()} (the question asks for no ranking and no count)"]


def _fixed_columns(tree: exp.Select) -> set[str]:
    """Columns the WHERE holds to one value (``is_fraud = 0``): as a key they split nothing, and a
    model that groups by them too still answers the question; shown, they would add a column."""
    return {c.this.name.lower() for c in where_conjuncts(tree) if isinstance(c, exp.EQ)
            and isinstance(c.this, exp.Column) and isinstance(c.expression, exp.Literal)}


def show_group_keys(tree: exp.Expr) -> list[str]:
    """Put a GROUP BY column the SELECT leaves out next to the keys it shows (a key written
    twice, ``GROUP BY browser, browser``, once)."""
    group = tree.args.get("group") if isinstance(tree, exp.Select) else None
    if group is None or not isinstance(tree, exp.Select):
        return []
    once = {g.sql().lower(): g for g in group.expressions}
    changes: list[str] = []
    if len(once) < len(group.expressions) and not group.args.get("rollup") and not group.args.get("cube") \
            and not group.args.get("grouping_sets"):
        changes.append(f"GROUP BY {', '.join(g.sql() for g in group.expressions)} -> each key once")
        group.set("expressions", list(once.values()))
    keys = [g for g in group.expressions if isinstance(g, exp.Column)]
    shown = {e.alias_or_name.lower() for e in tree.expressions}
    named = {c.name.lower() for e in tree.expressions for c in e.find_all(exp.Column)}
    fixed = _fixed_columns(tree)
    missing = [k for k in keys if k.name.lower() not in shown | named | fixed]
    at = [i for i, e in enumerate(tree.expressions) if isinstance(e.unalias(), exp.Column)
          and any(e.unalias().name.lower() == k.name.lower() for k in keys)]
    if not missing or not at or tree.args.get("distinct") is not None:
        return changes
    projections = list(tree.expressions)
    projections[at[-1] + 1:at[-1] + 1] = [k.copy() for k in missing]
    tree.set("expressions", projections)
    return changes + [f"shown {k.sql()} (a key of the GROUP BY)" for k in missing]


def drop_constant_grouping(tree: exp.Expr) -> list[str]:
    """A GROUP BY whose every key the WHERE holds to one value (``WHERE country = 'Germany' GROUP BY
    country``) makes one row with the key beside the answer; for a question that names no
    breakdown (the caller checks) the grouping and the key's column go: "the total revenue of
    active users in Germany" is one number."""
    group = tree.args.get("group") if isinstance(tree, exp.Select) else None
    if group is None or not isinstance(tree, exp.Select) or tree.args.get("having") is not None \
            or tree.find(exp.Window) is not None or group.args.get("rollup") or group.args.get("cube") \
            or group.args.get("grouping_sets"):
        return []
    keys = list(group.expressions)
    fixed = _fixed_columns(tree)
    if not keys or not all(isinstance(k, exp.Column) and k.name.lower() in fixed for k in keys):
        return []
    names = {k.name.lower() for k in keys}
    shown = [e for e in tree.expressions if isinstance(e.unalias(), exp.Column) and e.unalias().name.lower() in names]
    if len(shown) == len(tree.expressions) or not any(e.find(exp.AggFunc) for e in tree.expressions):
        return []  # nothing but keys, or no aggregate: not a measure beside a constant key
    for e in shown:
        e.pop()
    tree.set("group", None)
    order = tree.args.get("order")
    if order is not None and all(isinstance(o.this, exp.Column) and o.this.name.lower() in names
                                 for o in order.expressions):
        tree.set("order", None)
    return [f"not grouped by {', '.join(k.sql() for k in keys)} (the WHERE holds it to one value and the "
            "question names no breakdown)"]

