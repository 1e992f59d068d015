"""What the question says of the SQL's form: quantiles, set operations, ties, stated tests.

    from schemadistill.stated_forms import form_issues
    form_issues(tree, "Lower and upper quartiles of revenue by OS", columns)
    # ['the question asks for the 0.25 quantile; the SQL has none']

Part of the consistency check (schemadistill/consistency.py): each issue is a sentence, and an
answer with issues gets the runtime's beams (export/runtime.py). Read from the same-family misses
of the runs k16 and k17 (session 22), where one of the 8 beams or 3 neighbors was right and no
check had questioned the first answer:

- quantiles the question names ("median", "lower and upper quartiles", "the 90th percentile")
  that no ``MEDIAN`` / ``QUANTILE_CONT`` of the SQL computes (``QUANTILE_CONT(revenue, 0.75)``
  twice for the lower and the upper quartile); an average asked and a median computed;
- a set operation other than the one the question words ("together with" is ``UNION``,
  "minus those" ``EXCEPT``, "both" ``INTERSECT``);
- ties kept ("ties included", "keeping ties", "all ties") yet ``ROW_NUMBER()`` or an outer
  ``LIMIT`` drops them;
- "the last day of a month" and no ``LAST_DAY``;
- a total row asked ("including the total", "and also the total across all of them") and a
  GROUP BY without ``ROLLUP`` / ``GROUPING SETS``; subtotals (``ROLLUP (a, b)``) where only a grand
  total is asked, or only a grand total where subtotals are (session 23, read from k20);
- a test the question writes out ("session_duration < 750", "the time on site is over 250")
  whose column the SQL compares only otherwise (``session_duration BETWEEN 750 AND 2023``,
  ``CASE WHEN session_duration <= 250``), in a CASE too, where grounding does not reach;
- one value both kept and excluded (``os IN ('Android', 'Windows') AND os <> 'Windows'``);
- a ranking window ordered the other way than the question ranks ("the two smallest age
  values" as ``RANK() OVER (... ORDER BY age DESC)``), and a percentage asked ("also as a
  percent", "(in percent)") with nothing multiplied by 100 (session 24, read from k21's misses);
- a dense ranking worded ("dense ranking", "tied values counted once", "the top 3 distinct
  values") and ``RANK()`` / ``ROW_NUMBER()`` written, or ties kept without a word of density
  ("the top five by revenue, ties included") and ``DENSE_RANK()`` written; a row compared with
  a subquery's statistic (``age > (SELECT MEDIAN(age) ...)``) the question never words (session 25);
- a quantile no word names (``MEDIAN`` for "the busiest user"); total rows nobody asked for; a
  change between periods without ``LAG``; a counted window ("the one month ending ...") without
  ``INTERVAL``; a day counted from ("since ...") tested for itself alone; a ranking window against
  the superlative it is "by" ("the top two by smallest length"); an absence ("never had") with
  nothing that negates (session 26, read from k24's and k23's misses);
- a day the question keeps one side of ("later than 29th of December", "before 2024-03-05")
  that every test compares the other way; "one or more" tested as ``> 1``; a quantile shown
  beside the ones the question lists ("the 25th and 75th percentiles" with a median); "and the
  aggregate total" as a total row (session 27, read from k25's misses).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from difflib import SequenceMatcher

from sqlglot import exp

from schemadistill.conjuncts import and_terms
from schemadistill.literals import ISO_DAY, SPAN, literal_number, question_atoms
from schemadistill.ordering import RANKINGS, by_superlative, stated_direction
from schemadistill.stated_tests import StatedTest, worded_tests, written_tests

_QUANTILE_NODES = (exp.Median, exp.PercentileCont, exp.PercentileDisc, exp.ApproxQuantile)
# "the 90th percentile", "25th, 50th and 75th percentile" (not "the 3rd quarter" beside them)
_ORDINAL = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)(?=(?:\s*(?:,|and|&)\s*\d{1,2}(?:st|nd|rd|th))*\s+percentiles?\b)",
                      re.IGNORECASE)


# any word of a quantile, levels stated or not ("the interquartile range", "percentiles", "IQR"),
# misspelt too ("qurtiles", "interquratile": SequenceMatcher ratio >= 0.8)
_QUANTILE_WORDS = re.compile(r"median|middle|percentile|quartile|quantile|\biqr\b|\bp\d{1,2}\b|typical|midpoint",
                             re.IGNORECASE)
_QUANTILE_SPELLINGS = ("median", "percentile", "percentiles", "quartile", "quartiles", "interquartile", "quantile")


def _names_quantile(question: str) -> bool:
    if _QUANTILE_WORDS.search(question):
        return True
    return any(SequenceMatcher(None, w, q).ratio() >= 0.8
               for w in re.findall(r"[a-z]{5,}", question.lower()) for q in _QUANTILE_SPELLINGS)


def asked_quantiles(question: str) -> set[float]:
    """The quantile levels ``question`` names: "median" 0.5, "quartiles" 0.25 and 0.75, "the 90th
    percentile" 0.9, "p95" 0.95."""
    low = question.lower()
    levels: set[float] = set()
    if re.search(r"\bmedian\b|\bmiddle value\b", low):
        levels.add(0.5)
    levels |= {int(n) / 100 for n in _ORDINAL.findall(low) if 0 < int(n) < 100}
    levels |= {int(n) / 100 for n in re.findall(r"\bp(\d{1,2})\b", low) if 0 < int(n) < 100}
    if "quartile" in low:
        lower = re.search(r"\b(?:lower|first|1st|bottom)\b", low) is not None
        upper = re.search(r"\b(?:upper|third|3rd|top)\b", low) is not None
        if lower or not upper and "quartiles" in low:
            levels.add(0.25)
        if upper or not lower and "quartiles" in low:
            levels.add(0.75)
    return levels


_UNREAD_LEVELS = re.compile(r"quartile|\biqr\b|spread|\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|"
                            r"ninth|tenth|twentieth|fiftieth|ninetieth)\b|\bp\d", re.IGNORECASE)


def _sql_quantiles(tree: exp.Expr) -> set[float]:
    levels: set[float] = set()
    for node in tree.find_all(*_QUANTILE_NODES):
        if isinstance(node, exp.Median):
            levels.add(0.5)
        for lit in node.find_all(exp.Literal):
            x = literal_number(lit)
            if x is not None and 0 < x < 1:
                levels.add(round(x, 6))
    return levels


def _quantile_issues(tree: exp.Expr, question: str) -> list[str]:
    asked = asked_quantiles(question)
    have = _sql_quantiles(tree)
    if not asked:
        averaged = re.search(r"\b(?:average[sd]?|mean|avg)\b", question, re.IGNORECASE) is not None
        if averaged and have and tree.find(exp.Avg) is None:
            return ["the question asks for an average; the SQL takes a quantile"]
        shown = any(n.find_ancestor(exp.Where, exp.Having) is None for n in tree.find_all(*_QUANTILE_NODES))
        if shown and not _names_quantile(question):  # "the busiest user" as a MEDIAN (a compared one: below)
            return ["the SQL takes a quantile; the question names none"]
        return []
    issues = [f"the question asks for the {x:g} quantile; the SQL has none" for x in sorted(asked)
              if not any(abs(x - h) < 1e-9 for h in have)]
    # "the 25th and 75th percentiles" with a median beside them; "quartiles" alone may mean three,
    # and levels it may not have read ("the tenth", "75th minus 25th") say nothing
    if not _UNREAD_LEVELS.search(question) and \
            len(re.findall(r"\b\d{1,2}(?:st|nd|rd|th)\b", question)) == len(_ORDINAL.findall(question.lower())):
        taken = {round(x, 6) for n in tree.find_all(*_QUANTILE_NODES) if n.find_ancestor(exp.Where, exp.Having) is None
                 for x in _sql_quantiles(n)}
        issues += [f"the SQL takes the {x:g} quantile; the question asks for {', '.join(f'{a:g}' for a in sorted(asked))}"
                   for x in sorted(taken) if not any(abs(x - a) < 1e-9 for a in asked)]
    return issues


# the words of each set operation, the ones that decide first
_SET_WORDS: tuple[tuple[type[exp.Expr], str, re.Pattern[str]], ...] = (
    (exp.Except, "EXCEPT", re.compile(r"\b(?:but\s+(?:none|not|never)|minus|excluding\s+those|except|"
                                      r"and\s+never|without\s+any)\b", re.IGNORECASE)),
    (exp.Intersect, "INTERSECT", re.compile(r"\b(?:both|as\s+well\s+as|also\s+(?:in|had|have))\b", re.IGNORECASE)),
    (exp.Union, "UNION", re.compile(r"\b(?:together\s+with|either|or|plus|combined\s+with)\b", re.IGNORECASE)),
)


def _set_operation_issues(tree: exp.Expr, question: str) -> list[str]:
    ops = {type(n) for n in tree.find_all(exp.Union, exp.Except, exp.Intersect)}
    if len(ops) != 1:
        return []
    have = next(iter(ops))
    for kind, name, words in _SET_WORDS:
        if words.search(question):
            if kind is have:
                return []
            return [f"the question's set operation is {name}; the SQL's is {have.key.upper()}"]
    return []


# "ties included", "keeping ties", "all ties", "if several are tied, include all of them", "all
# that rank 3 or better"
_TIES_KEPT = re.compile(r"\bties?\s+(?:included|kept|allowed|share)\b|\b(?:keeping|keep|including|include|with|all)"
                        r"\s+(?:the\s+)?ties\b|\btied\s+(?:rows|ones|values)\s+(?:included|too)\b|"
                        r"\bequal\s+values\s+share\b|\bif\s+(?:several|some|any|two|more)\s+(?:\w+\s+)?(?:are\s+)?tied\b|"
                        r"\branks?\s+\S+\s+or\s+better\b", re.IGNORECASE)


def _tie_issues(tree: exp.Expr, question: str) -> list[str]:
    if not _TIES_KEPT.search(question):
        return []
    issues = []
    if any(isinstance(w.this, exp.RowNumber) for w in tree.find_all(exp.Window)):
        issues.append("the question keeps ties; ROW_NUMBER() drops them")
    if isinstance(tree, exp.Select) and tree.args.get("limit") is not None:
        issues.append("the question keeps ties; the outer LIMIT drops them")
    return issues


_MONTH_END = re.compile(r"\blast\s+day\s+of\s+(?:a|the|each|its|their)\s+month\b|\bmonth[- ]end\b", re.IGNORECASE)


def _month_end_issues(tree: exp.Expr, question: str) -> list[str]:
    """ "on the last day of a month": a ``LAST_DAY`` the SQL lacks."""
    if _MONTH_END.search(question) and tree.find(exp.LastDay) is None:
        return ["the question asks for the last day of a month; the SQL has no LAST_DAY"]
    return []


# "including the total", "a grand total row", "the overall total", "the total across all of them",
# "the combined across all of them" (not "the total revenue", a total followed by its measure, nor
# "the total for every country", a total per group, nor "the five users by revenue, with the
# total", the teacher's words for showing each row's total)
_GRAND_TOTAL = re.compile(r"\b(?:grand|overall)\s+total\b|\b(?:total|combined)\s+across\s+"
                          r"(?:all|every)\b|\b(?:including|include|plus|and|also)\s+(?:the|a)\s+(?:(?:aggregate|overall|combined)\s+)?"
                          r"total(?:\s+row)?\s*(?:[?.!,;]|$)",
                          re.IGNORECASE)
# "with subtotals per OS" (misspelt too), "the total per OS and overall"; not "the total by country"
_SUBTOTALS = re.compile(r"\bsub-?tot\w*|\btotals?\s+per\s+.+\band\s+overall\b", re.IGNORECASE)


# any word of a total row, however worded, that keeps a ROLLUP from being questioned
_ANY_TOTAL = re.compile(r"\btotals\b|\btotal\s+(?:row|line|across|per|for\s+all)|\bgrand\b|sub-?tot|roll[\s-]?up|"
                        r"\b(?:aggregate|overall|combined)\s+total\b|\brows?\b|\bacross\s+(?:all|every)\b|"
                        r"\boverall\s*(?:[?.!,;]|$)|\bcombined\s*(?:[?.!,;]|$)|\b(?:and|plus|with|including)\s+(?:the|a)\s+total\b",
                        re.IGNORECASE)


def _total_row_issues(tree: exp.Expr, question: str) -> list[str]:
    """A total row asked and the outer GROUP BY has none; or subtotals (``ROLLUP`` of two keys)
    where only a grand total is asked, and the other way round (``GROUPING SETS ((a, b), ())``)."""
    if not isinstance(tree, exp.Select) or tree.args.get("group") is None:
        return []
    grand, subtotals = _GRAND_TOTAL.search(question) is not None, _SUBTOTALS.search(question) is not None
    keys = tree.args["group"].expressions
    totals = [k for k in keys if isinstance(k, exp.Rollup | exp.Cube | exp.GroupingSets)]
    if not grand and not subtotals:
        if totals and not _ANY_TOTAL.search(question):  # "the ratio ... broken down by platform"
            return [f"the SQL adds total rows ({totals[0].sql()}); the question asks for none"]
        return []
    if not totals:
        return ["the question asks for a total row; the SQL's GROUP BY makes none"]
    if isinstance(totals[0], exp.Rollup) and len(totals[0].expressions) > 1 and not subtotals:
        return ["the question asks for one grand total; ROLLUP adds a subtotal per "
                f"{totals[0].expressions[0].sql()}"]
    if isinstance(totals[0], exp.GroupingSets) and subtotals and len(totals[0].expressions) <= 2:
        return ["the question asks for subtotals; the SQL's GROUPING SETS make only a grand total"]
    return []


# "the top three by minimum time spent" ranks ascending, "rank by the minimum age" descending
_MIN_MAX = re.compile(r"\b(?:minimum|maximum|min|max)\b", re.IGNORECASE)


def _rank_direction_issues(tree: exp.Expr, question: str) -> list[str]:
    """A ranking window (``ROW_NUMBER``, ``RANK``, ``DENSE_RANK``) ordered the other way than the
    question ranks, when it ranks one way only ("the two smallest age values" ranked ``age
    DESC``; ``ordering.stated_direction``, the words by which grounding turns an outer ``ORDER BY
    ... LIMIT``, schemadistill/literals.py); a window grounding does not touch."""
    stated, by = stated_direction(question), by_superlative(question)
    if stated is None and by is None or _MIN_MAX.search(question):
        return []
    issues = []
    for w in tree.find_all(exp.Window):
        order = w.args.get("order")
        if not isinstance(w.this, RANKINGS) or order is None or not order.expressions:
            continue
        # "the top two sessions by smallest session length": a plain column ranked by its
        # superlative (over an aggregate the superlative may name the aggregate instead)
        want = by if by is not None and order.expressions[0].this.find(exp.AggFunc) is None else stated
        if want is None:
            continue
        got = "DESC" if order.expressions[0].args.get("desc") else "ASC"
        if got != want:
            issues.append(f"the question ranks by the {'lowest' if want == 'ASC' else 'highest'}; "
                          f"{w.this.sql()} orders {order.expressions[0].this.sql()} {got}")
    return issues


# Dense ranking in words: "dense ranking", "ranked without gaps", "no ranks are skipped", "tied
# values counted once", "the two highest distinct revenue values", "the top 3 distinct values"
_DENSE = re.compile(r"\bdense(?:ly)?\b|\bwithout\s+gaps\b|\bno\s+gaps\b|\bno\s+ranks?\s+(?:are\s+|is\s+)?skipped\b|"
                    r"\bcount(?:ed|ing)\s+(?:tied\s+values\s+)?once\b|\b(?:top|highest|lowest|largest|smallest)\s+"
                    r"(?:\w+\s+)?distinct\b", re.IGNORECASE)


def _rank_limit(tree: exp.Expr, ranker: exp.Window) -> int | None:
    """How many ranks a filter on ``ranker`` keeps (``rnk <= 3``: 3, ``< 3``: 2, ``= 1``: 1), in
    QUALIFY or on the subquery's alias; None when no filter reads it."""
    alias = ranker.parent.alias if isinstance(ranker.parent, exp.Alias) else None
    kept = []
    for cmp in tree.find_all(exp.LTE, exp.LT, exp.EQ):
        for side, other in ((cmp.this, cmp.expression), (cmp.expression, cmp.this)):
            if side is ranker or (alias and isinstance(side, exp.Column) and side.name == alias):
                n = _number(other)
                if n is None:
                    continue
                kept.append(1 if isinstance(cmp, exp.EQ) else int(n) - 1 if isinstance(cmp, exp.LT) else int(n))
    return max(kept) if kept else None


def _rank_kind_issues(tree: exp.Expr, question: str) -> list[str]:
    """A ranking the question words as dense ("dense ranking", "tied values counted once", "the
    top 3 distinct values") written with ``RANK()`` or ``ROW_NUMBER()``, and ties kept without a
    word of density ("the top 5 by revenue, ties included": the top five with ties, ``RANK()``)
    written with ``DENSE_RANK()``, which also keeps the values after the ties. Where one rank is
    kept the two agree, and nothing is said (session 25, read from k22's misses and from the
    teacher, whose unmarked "including ties" was RANK or DENSE_RANK by a coin)."""
    dense = _DENSE.search(question) is not None
    ties = _TIES_KEPT.search(question) is not None
    if not dense and not ties:
        return []
    issues = []
    for w in tree.find_all(exp.Window):
        if not isinstance(w.this, RANKINGS):
            continue
        if dense and not isinstance(w.this, exp.DenseRank):
            issues.append(f"the question ranks densely (tied values counted once); the SQL ranks with {w.this.sql()}")
        elif not dense and isinstance(w.this, exp.DenseRank) and _rank_limit(tree, w) != 1:
            issues.append("the question keeps ties (the top k with ties is RANK()); DENSE_RANK() also keeps the "
                          "values after them")
    return issues


# the words of a statistic a row may be compared with: "above the average", "over the median"
# (or a superlative: "the top age", "tied for the greatest", "(all ties)")
_STAT_WORDS = re.compile(r"\b(?:average|avg|mean|median|typical|percentile|quartile|quantile|norm|overall|max\w*|"
                         r"min\w*|total|sum|top|bottom|most|least|ties|tied|\w{2,}est)\b", re.IGNORECASE)
_STAT_NODES = (*_QUANTILE_NODES, exp.Quantile, exp.Avg, exp.Max, exp.Min, exp.Sum)


def _unasked_statistic_issues(tree: exp.Expr, question: str) -> list[str]:
    """A row compared with a statistic of a subquery (``age > (SELECT MEDIAN(age) ...)``) that
    the question never words ("How many accounts where age > 35": the median is the student's;
    session 25, read from k21's misses)."""
    if _STAT_WORDS.search(question):
        return []
    for cmp in tree.find_all(exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ, exp.NEQ):
        for side in (cmp.this, cmp.expression):
            sub = side.this if isinstance(side, exp.Subquery) else None
            if isinstance(sub, exp.Select) and len(sub.expressions) == 1:
                stat = sub.expressions[0].unalias()
                if isinstance(stat, _STAT_NODES):
                    return [f"the SQL compares with {stat.sql()} of a subquery; the question names no such statistic"]
    return []


# "the percentage change", "(in percent)", "as a percentage", "what percent of": a percentage
# asked; not a stated share ("above 10 percent", "over 5%") nor a percentile
_PERCENT_ASKED = re.compile(r"\bpercent(?:age)?s?\b|%", re.IGNORECASE)
_NUMBER_PERCENT = re.compile(r"\d\s*(?:%|percent\b)", re.IGNORECASE)


def _percent_issues(tree: exp.Expr, question: str) -> list[str]:
    """A percentage asked and no ``100 * ...`` in the SQL: the rate as a fraction, or the
    percentage not computed at all ("how much it went up or down versus the prior year (also
    as a percent)" answered with the change alone)."""
    if not _PERCENT_ASKED.search(_NUMBER_PERCENT.sub(" ", question)):
        return []
    for mul in tree.find_all(exp.Mul):
        if any(literal_number(side) == 100.0 for side in (mul.this, mul.expression)
               if isinstance(side, exp.Literal)):
            return []
    return ["the question asks for a percentage; the SQL multiplies nothing by 100"]


# a change between consecutive periods: "how did revenue change month over month", "the change
# from the previous year", "versus the prior quarter", "year-over-year growth"
_PERIOD_CHANGE = re.compile(r"\b(?:month|quarter|year|week|day)(?:ly)?[\s-]+(?:over|on|by)[\s-]+(?:month|quarter|year|week|day)(?:ly)?\b|"
                            r"\b(?:previous|prior|preceding)\s+(?:month|quarter|year|week|day|period)\b",
                            re.IGNORECASE)


def _period_change_issues(tree: exp.Expr, question: str) -> list[str]:
    """A change between periods asked and no ``LAG``/``LEAD`` (nor a second reading of the
    previous period) in the SQL: "how did the session count change month over month" answered
    with the counts alone (session 26, read from k24's misses)."""
    if not _PERIOD_CHANGE.search(question) or not re.search(r"\b(?:chang\w*|growth|grow|grew|differen\w*|"
                                                          r"compare\w*|versus|vs|rose|fell|up\s+or\s+down)\b",
                                                          question, re.IGNORECASE):
        return []
    if tree.find(exp.Lag, exp.Lead) is not None or len(list(tree.find_all(exp.Select))) > 2:
        return []
    return ["the question asks for the change from the previous period; the SQL has no LAG"]


def _span_issues(tree: exp.Expr, question: str) -> list[str]:
    """A window counted back from a day ("the 2 weeks ending 12/31/2024", "the one month up to
    December 31") and no ``INTERVAL`` in the SQL, whose one date then bounds a single day or
    everything after it (session 26, read from k24's misses). Not when the SQL writes the window
    as two dates of its own."""
    counted = [m for m in SPAN.finditer(question) if m["u2"] or re.search(r"\d", m.group(0))]
    if not counted or tree.find(exp.Interval, exp.DateAdd, exp.DateSub) is not None:
        return []
    dates = {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string and ISO_DAY.match(lit.this)}
    if len(dates) > 1:
        return []
    return [f"the question counts a window ('{counted[0].group(0)}'); the SQL has no INTERVAL"]


# a day that opens a range: "since 18th of December 2024", "on or after 2024-12-18", "starting 12/18"
_OPENS_RANGE = re.compile(r"\b(?:since|on\s+or\s+after|starting(?:\s+(?:from|on))?|from)\s+(?:the\s+)?$", re.IGNORECASE)
_ONWARDS = re.compile(r"^\s*(?:on(?:wards?)?|and\s+later|or\s+later)\b", re.IGNORECASE)


def _since_issues(tree: exp.Expr, question: str) -> list[str]:
    """A day the question counts from ("since 18th of December 2024") that the SQL only tests
    for equality (``DATE_TRUNC('DAY', d) = '2024-12-18'``): one day, not everything after it
    (session 26, read from k24's misses). "from X" counts only with "onwards" after the day."""
    if not re.search(r"\b(?:since|after|starting|from)\b", question, re.IGNORECASE):
        return []  # the common case: no reading of the question's dates per candidate
    issues = []
    for a in question_atoms(question):
        if a.kind != "day" or a.start is None:
            continue
        before = _OPENS_RANGE.search(question[:a.pos])
        if before is None or before.group(0).lower().startswith("from") and not _ONWARDS.match(question[a.stop:]):
            continue
        day = a.start.isoformat()
        tests = [lit.find_ancestor(exp.EQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)
                 for lit in tree.find_all(exp.Literal) if lit.is_string and lit.this.startswith(day)]
        if tests and all(isinstance(t, exp.EQ) for t in tests):
            issues.append(f"the question counts from {day}; the SQL tests that one day")
    return issues


# the words before a day that say which side of it the question keeps ("no later than" first)
_BEFORE_DAY = re.compile(r"\b(?:before|earlier\s+than|prior\s+to|until|till|up\s+to|through|on\s+or\s+before|"
                         r"no\s+later\s+than|not\s+after)\s+(?:the\s+)?$", re.IGNORECASE)
_AFTER_DAY = re.compile(r"\b(?:since|after|later\s+than|starting(?:\s+(?:from|on))?|on\s+or\s+after|"
                        r"no\s+earlier\s+than|not\s+before)\s+(?:the\s+)?$", re.IGNORECASE)
_DAY_TESTS = (exp.GT, exp.GTE, exp.LT, exp.LTE)


def _day_direction_issues(tree: exp.Expr, question: str) -> list[str]:
    """A day the question keeps one side of ("later than 29th of December 2023", "before
    2024-03-05") that every test of the SQL compares the other way (``action_date <=
    '2023-12-29'``). Tests the other way beside a right one (a window) are left alone."""
    if not re.search(r"\b(?:before|after|since|than|prior|until|till|up\s+to|through|starting)\b", question,
                     re.IGNORECASE) or SPAN.search(question):
        return []  # a window counted back from the day ("the 30 days up to"): _span_issues' case
    issues = []
    for a in question_atoms(question):
        if a.kind != "day" or a.start is None:
            continue
        lead = question[:a.pos]
        keeps = "before" if _BEFORE_DAY.search(lead) else "after" if _AFTER_DAY.search(lead) else None
        if keeps is None:
            continue
        day = a.start.isoformat()
        sides = set()
        for lit in tree.find_all(exp.Literal):
            if not (lit.is_string and lit.this.startswith(day)):
                continue
            test = lit.find_ancestor(*_DAY_TESTS, exp.EQ, exp.Between, exp.Select, exp.Add, exp.Sub,
                                    exp.DateAdd, exp.DateSub)
            if not isinstance(test, _DAY_TESTS):  # a bound counted from the day ("the 7 days up to")
                sides.add("other")
                continue
            node: exp.Expr | None = lit  # which side of the comparison the day is on
            while node is not None and node.parent is not test:
                node = node.parent
            right = node is test.expression
            upper = isinstance(test, exp.LT | exp.LTE) == right  # col < day, or day > col
            sides.add("before" if upper else "after")
        if sides and keeps not in sides and "other" not in sides:
            issues.append(f"the question keeps what is {keeps} {day}; the SQL compares the other way")
    return issues


# an absence asked for: "users that never had a session", "customers without any visit", "with no
# purchase at all", "buyers that are missing from site visits" (not "never more than", a bound)
_NEVER = re.compile(r"\b(?:never\s+(?!more\b|less\b|over\b|under\b|above\b|below\b|exceed)|without\s+(?:any|a|an)\b|"
                    r"no\s+\w+(?:\s+\w+)?\s+at\s+all\b|(?:missing|absent)\s+from\b)", re.IGNORECASE)


def _never_issues(tree: exp.Expr, question: str) -> list[str]:
    """An absence asked ("Count the active users that never had a visit with browser Chrome") and
    nothing in the SQL that can say no: no NOT (``NOT EXISTS``, ``NOT IN``), no ``IS NULL`` of an
    outer join, no EXCEPT, no count compared with 0; the student's ``EXISTS`` alone counts the
    opposite (session 26, read from k23's misses)."""
    if not _NEVER.search(question):
        return []
    if tree.find(exp.Not, exp.Except, exp.Is, exp.NEQ) is not None:
        return []
    for cmp in tree.find_all(exp.EQ, exp.LT, exp.LTE):
        if any(literal_number(side) == 0.0 for side in (cmp.this, cmp.expression) if isinstance(side, exp.Literal)):
            return []
    return ["the question asks for an absence ('never', 'without any'); nothing in the SQL negates"]


def _number(node: exp.Expr | None) -> float | None:
    while isinstance(node, exp.Paren | exp.Cast):
        node = node.this
    if isinstance(node, exp.Neg):
        inner = _number(node.this)
        return -inner if inner is not None else None
    return literal_number(node) if node is not None else None


_OP_NODES: dict[str, type[exp.Expr]] = {"=": exp.EQ, "<>": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT,
                                         ">=": exp.GTE}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "<>": "<>"}


def _says_test(node: exp.Expr, want: StatedTest) -> bool:
    """Does ``node`` (a comparison or BETWEEN of the column) say ``want``, either way round?"""
    op_wanted = "=" if want.op == "==" else want.op
    if isinstance(node, exp.Between):
        low, high = _number(node.args.get("low")), _number(node.args.get("high"))
        return (op_wanted == ">=" and low == want.number) or (op_wanted == "<=" and high == want.number)
    for op, kind in _OP_NODES.items():  # the column's side may be an aggregate: SUM(revenue) > 250
        if isinstance(node, kind):
            if _number(node.expression) == want.number:
                return op == op_wanted
            if _number(node.this) == want.number:
                return _FLIPPED[op] == op_wanted
    return False


def _contradicted_tests(tree: exp.Expr, question: str, columns: Collection[str],
                        measures: Mapping[str, tuple[str, str]]) -> list[str]:
    """A test the question states whose column the SQL compares with numbers, never that way."""
    stated = written_tests(question, columns)
    stated += worded_tests(question, dict(measures), {t.column for t in stated})
    issues = []
    kinds: tuple[type[exp.Expr], ...] = (*_OP_NODES.values(), exp.Between)
    for want in stated:
        found: list[exp.Expr] = [n for n in tree.find_all(*kinds)
                 if any(c.name.lower() == want.column for c in n.find_all(exp.Column))
                 and any(_number(x) is not None for x in n.iter_expressions())]
        if found and not any(_says_test(n, want) for n in found):
            said = question[want.span[0]:want.span[1]]
            issues.append(f"the question says '{said}'; the SQL compares {want.column} otherwise")
    return issues


_ONE_OR_MORE = re.compile(r"\b(?:one|1)\s+or\s+more\b|\bat\s+least\s+(?:one|1)\b(?!\s*(?:%|percent|\.\d))",
                          re.IGNORECASE)
_MORE_THAN_ONE = re.compile(r"\b(?:more|greater)\s+than\s+(?:one|1)\b(?!\s*(?:%|percent|\.\d))", re.IGNORECASE)


def _one_or_more_issues(tree: exp.Expr, question: str) -> list[str]:
    """"had one or more visits" tested as ``sessions_count > 1`` (two or more): the question's
    words of "at least one" are no number the literal checks read, and 1 is never grounded (a
    flag's value). Only where the question says it once and never "more than one" as well."""
    if len(_ONE_OR_MORE.findall(question)) != 1 or _MORE_THAN_ONE.search(question):
        return []
    strict = [c for c in tree.find_all(exp.GT, exp.LT) if
              (isinstance(c, exp.GT) and _number(c.expression) == 1.0 and _number(c.this) is None)
              or (isinstance(c, exp.LT) and _number(c.this) == 1.0 and _number(c.expression) is None)]
    if not strict or any(_number(c.expression) in (1.0, 0.0) for c in tree.find_all(exp.GTE))\
            or any(_number(c.expression) == 0.0 for c in tree.find_all(exp.GT)):
        return []
    said = _ONE_OR_MORE.search(question)
    assert said is not None
    return [f"the question says '{said[0]}' (>= 1); the SQL tests {strict[0].sql()}"]


def _kept_and_excluded(tree: exp.Expr) -> list[str]:
    """``col IN ('a', 'b') AND col <> 'b'``: a value one test keeps and another excludes."""
    issues = []
    for clause in tree.find_all(exp.Where):
        kept: dict[str, set[str]] = {}
        dropped: dict[str, set[str]] = {}
        for term in and_terms(clause.this):
            while isinstance(term, exp.Paren):
                term = term.this
            negated = isinstance(term, exp.Not)
            inner = term.this if negated else term
            if isinstance(inner, exp.In) and isinstance(inner.this, exp.Column):
                col, lits = inner.this.name.lower(), inner.expressions
                bucket = dropped if negated else kept
            elif isinstance(inner, exp.EQ | exp.NEQ) and isinstance(inner.this, exp.Column):
                col, lits = inner.this.name.lower(), [inner.expression]
                bucket = dropped if negated != isinstance(inner, exp.NEQ) else kept
            else:
                continue
            bucket.setdefault(col, set()).update(x.this.lower() for x in lits if isinstance(x, exp.Literal) and x.is_string)
        for col, values in kept.items():
            for v in sorted(values & dropped.get(col, set())):
                issues.append(f"the SQL both keeps and excludes {col} '{v}'")
    return issues


def form_issues(tree: exp.Expr, question: str, columns: Collection[str] = (),
                measures: Mapping[str, tuple[str, str]] | None = None) -> list[str]:
    """Every issue above; ``columns``: the schema's column names (lower case) a question may
    write a test on; ``measures``: the value index's measure phrases (tests said in words)."""
    return (_quantile_issues(tree, question) + _set_operation_issues(tree, question) + _tie_issues(tree, question)
            + _period_change_issues(tree, question) + _span_issues(tree, question) + _since_issues(tree, question)
            + _never_issues(tree, question) + _one_or_more_issues(tree, question)
            + _day_direction_issues(tree, question) + _month_end_issues(tree, question) + _total_row_issues(tree, question)
            + _contradicted_tests(tree, question, columns, measures or {}) + _kept_and_excluded(tree)
            + _rank_direction_issues(tree, question) + _rank_kind_issues(tree, question)
            + _percent_issues(tree, question) + _unasked_statistic_issues(tree, question))
