"""Consistency: does an answer say what its question says, and nothing else?

    from schemadistill.consistency import unsupported
    unsupported("SELECT COUNT(*) FROM s WHERE is_fraud = 1 AND os IN ('Android', 'iOS')",
                'How many fraud sessions with browser ending in "ri" and OS Android or iOS?', index)
    # ["the question's 'ri' is not in the SQL"]

Why: a small student's wrong answers mostly run. They drop a condition the question states,
compare with a number nobody stated (``HAVING COUNT(*) >= 23000``), bucket by year under "by
month", or filter a column the question never names; grounding (schemadistill/grounding.py)
repairs what it can place, and the rest still runs. The right SQL is often among the model's
other beams: on the held-out pairs of a fresh run (k12) greedy decoding was right on 164 of 200,
greedy or one of its 8 beams on 191. This module tells the runtime which answers to question and
which beam to prefer (export/runtime.py): the one with the fewest issues, the model's order breaking
ties, so an answer changes only when another says strictly more of what was asked.

Each issue is a sentence a person can read (the runtime returns them with the answer):

- dates and numbers (schemadistill/literals.py ``literal_issues``): a garbled date; a number or
  date the SQL compares with that the question never states (0 and 1 and a CASE's buckets
  aside); a number, period or quoted text the question states that the SQL never uses;
- a time bucket other than the one asked for ("by month" grouped by ``DATE_TRUNC('year', d)``;
  "day of the week" by week);
- ``COUNT(DISTINCT k)`` per group of ``k``: always 1;
- ``MIN``/``MAX``/``AVG`` in the answer with no word for it in the question; "how many" or
  "the number of" answered with no count at all;
- a condition AND-ed twice, two value tests of one column, a value listed twice, ``BETWEEN x
  AND x``: where the small model writes these it has mostly lost a condition the question states;
- with the artifact's ``values.json`` (the lexicon's phrases): a value the question names ("on
  Firefox") that no string of the SQL holds, a value the SQL tests that the question never
  names, a yes/no column the question says nothing of (``COUNT_IF(is_fraud = 1)`` for "what
  percent have a purchase"); a measure the question compares with a number ("revenue between
  zero and 1.7k") that no comparison of the SQL reads, or reads only with other numbers; an
  aggregate the question names ("the average money spent") missing; a stated total ("total
  session duration above 9500") compared row by row; a breakdown it names ("per location") not
  grouped by, or a key the SQL's own WHERE fixes to one value; a WHERE test on a column the
  question names by no word, no value and no named condition; a column listed after "show"
  that the SQL never selects; a named condition (``revenue > 0``) nobody asked for; a sidecar
  metric the question names ("the fraud rate") whose columns no aggregate reads; a yes/no column
  broken down by yet filtered, a measure named that no column reads, "more than one browser"
  without ``COUNT(DISTINCT browser)``, "the user count" as ``COUNT(*)`` of sessions, "over 9
  visits" compared with a sum (session 26); a GROUP BY key the question names by no word ("by
  browser and the overall total" grouped by browser and OS), "Session 576155" compared as a
  ``user_id``, "... and their day" not shown (session 27, read from k25's misses);
- a share that every row of its group already decides (a yes/no column counted within groups
  of itself, ``SUM(flag)`` under a WHERE that fixes the flag); two numeric equalities on one
  column (``is_active = 0 AND is_active = 1``: no row passes) (session 27);
- AND-ed bounds no value meets (``d >= '2023-12-22' AND d < '2023-12-20'``); a number stated once
  with a direction ("no less than 250") compared the other way (``session_duration <= 250``); a
  share whose condition its WHERE already requires (always 100%) (session 31, read from k30x's
  misses);
- the SQL's form (schemadistill/stated_forms.py): named quantiles, the set operation, ties
  kept, a written-out test compared otherwise, a value kept and excluded, a month's last day.

The checks are heuristics and never change SQL; a question they misread costs a beam search
and, at worst, ties with every candidate, which keeps the first answer.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from schemadistill.ages import is_age_column, stated_age
from schemadistill.breakdowns import stated_breakdown
from schemadistill.comparisons import stated_comparison
from schemadistill.conjuncts import and_terms, bare_sql
from schemadistill.grounding import (
    QUOTED_TEXT,
    Mention,
    ValueIndex,
    column_keys,
    flag_unstated,
    mention_at,
    table_aliases,
    words,
)
from schemadistill.literals import explains_number, literal_issues, literal_number, question_atoms
from schemadistill.measures import AGGREGATE_NODES, phrase_at, stated_measures
from schemadistill.ordering import RANKINGS
from schemadistill.spelling import one_edit_away
from schemadistill.stated_forms import form_issues
from schemadistill.stated_tests import worded_tests, written_tests

# the buckets people ask for, and how a SQL bucket names them; "day of the week" before "day"
_GRAINS = (
    ("dow", r"\bdays? of (?:the )?week\b|\bweekdays?\b|\bday[- ]of[- ]week\b"),
    ("hour", r"\bhourly\b|\b(?:by|per|each|every) hour\b"),
    ("day", r"\bdaily\b|\b(?:by|per|each|every) (?:calendar )?day\b|\bday[- ]by[- ]day\b"),
    ("week", r"\bweekly\b|\b(?:by|per|each|every) (?:calendar )?week\b|\bweek[- ](?:by|over)[- ]week\b"),
    ("month", r"\bmonthly\b|\b(?:by|per|each|every) (?:calendar )?month\b|\bmonth[- ](?:by|over)[- ]month\b"),
    ("quarter", r"\bquarterly\b|\b(?:by|per|each|every) (?:calendar )?quarter\b|\bquarter[- ](?:by|over)[- ]quarter\b"),
    ("year", r"\byearly\b|\bannual(?:ly)?\b|\b(?:by|per|each|every) (?:calendar )?year\b|\byear[- ](?:by|over)[- ]year\b"),
)
_PART_NAMES = {"dow": "dow", "isodow": "dow", "dayofweek": "dow", "weekday": "dow"}
# an aggregate the answer computes needs one of these words; "per" for "revenue per session"
_AGG_WORDS: dict[type[exp.Expr], re.Pattern[str]] = {
    exp.Min: re.compile(r"\b(?:min|minimum|minimal|lowest|smallest|least|fewest|shortest|earliest|first|cheapest|"
                        r"bottom|worst)\b"),
    exp.Max: re.compile(r"\b(?:max|maximum|maximal|highest|largest|biggest|greatest|most|longest|latest|last|top|"
                        r"peak|best|record|busiest)\b"),
    exp.Avg: re.compile(r"\b(?:avg|average|averages|averaged|mean|typical|per)\b"),
}
# an age column is named by "older", "aged 30", "over 30 years old" as much as by its phrases
_AGE_WORDS = re.compile(r"\b(?:older|younger|years?[\s-]old|aged?|ages)\b", re.IGNORECASE)
# and a duration by "lasted 300 seconds", "longer than 5 minutes"
_DURATION_COLUMN = re.compile(r"duration|length|elapsed|time_spent|seconds|minutes", re.IGNORECASE)
_DURATION_WORDS = re.compile(r"\b(?:last(?:s|ed|ing)?|long(?:er|est)?|short(?:er|est)?|seconds?|secs?|minutes?|"
                             r"mins?|hours?)\b", re.IGNORECASE)


def unsupported(sql: str, question: str, index: ValueIndex | None = None, dialect: str = "duckdb") -> list[str]:
    """What ``sql`` adds to ``question`` or leaves out of it, one sentence each (see the module
    docstring); [] when nothing is found or the SQL does not parse (the checks that run it say so)."""
    try:
        tree = sqlglot.parse_one(sql.strip().rstrip(";"), read=dialect)
    except (SqlglotError, RecursionError, ValueError):
        return []
    if tree is None:
        return []
    if index is not None:
        question = index.speller.correct(question)
    issues = literal_issues(tree, question)
    issues += _grain_issues(tree, question)
    issues += _unasked_bucket(tree, question)
    issues += _constant_counts(tree) + _constant_shares(tree)
    issues += _unasked_aggregates(tree, question)
    issues += _uncounted(tree, question)
    issues += _repeated_tests(tree)
    issues += [f"the SQL holds #{p.this.name}, a number slot the question fills with nothing"
               for p in tree.find_all(exp.PositionalColumn)]
    # a test written out in SQL's terms ("session_duration < 750") names a column of the index
    columns = {c.lower() for _, c in [*index.names.values(), *index.measures.values()]} if index is not None else set()
    issues += form_issues(tree, question, columns, index.measures if index is not None else None)
    issues += _reversed_comparisons(tree, question, columns, index.measures if index is not None else {})
    if index is not None:
        mentions = index.mentions(question)  # three checks read them; the runtime asks per beam
        issues += _value_issues(tree, question, index, mentions)
        issues += _flag_issues(tree, question, mentions)
        issues += _unstated_flags(tree, question, index, mentions)
        issues += _unasked_measures(tree, question, index)
        issues += _untested_comparisons(tree, question, index)
        issues += _missing_measures(tree, question, index)
        issues += _missing_breakdowns(tree, question, index)
        issues += _uncounted_values(tree, question, index)
        issues += _miscounted_entities(tree, question, index)
        issues += _counted_thresholds(tree, question, index)
        issues += _unshown_columns(tree, question, index)
        issues += _partition_issues(tree, question, index)
        issues += _unasked_filters(tree, question, index)
        issues += _uncomputed_metrics(tree, question, index)
        issues += _unnamed_columns(tree, question, index, mentions)
        issues += _misbound_ids(tree, question, index)
        issues += _unread_measures(tree, question, index, issues)
    return issues


def stated_grains(question: str) -> set[str]:
    """The time buckets ``question`` asks for: "monthly", "by week", "per day of the week" -> dow."""
    low = question.lower()
    found = {grain for grain, pat in _GRAINS if re.search(pat, low)}
    return found - {"day", "week"} if "dow" in found else found


def _sql_grains(tree: exp.Expr) -> set[str]:
    """The time buckets the SQL computes outside WHERE: DATE_TRUNC units, EXTRACT parts."""
    found = set()
    for node in tree.find_all(exp.DateTrunc, exp.TimestampTrunc, exp.Extract, exp.DayOfWeek):
        if node.find_ancestor(exp.Where) is not None:
            continue
        if isinstance(node, exp.DayOfWeek):
            found.add("dow")
        elif isinstance(node, exp.Extract):
            found.add(_PART_NAMES.get(node.this.name.lower(), node.this.name.lower()))
        else:
            unit = node.args.get("unit")
            found.add(unit.name.lower() if unit is not None else "")
    return found


def _grain_issues(tree: exp.Expr, question: str) -> list[str]:
    asked, computed = stated_grains(question), _sql_grains(tree)
    if asked and computed and not asked & computed:
        return [f"the question asks by {' or '.join(sorted(asked))}; the SQL buckets by {', '.join(sorted(computed))}"]
    return []


# a grain misspelt still names one ("by calendar mnth": SequenceMatcher ratio >= 0.8)
_GRAIN_WORDS = ("hour", "day", "daily", "week", "weekly", "month", "monthly", "quarter", "quarterly", "year",
                "yearly", "annual")
# words under which a time bucket may be meant without its grain: "how did revenue change",
# "the trend of sessions", "when did", "per period", "over time"
_TIME_WORDS = re.compile(r"\b(?:hours?|days?|daily|weeks?|months?|quarters?|years?|trends?|times?|periods?|dates?|"
                         r"when|cumulative|running|growth|grow|grew|change[sd]?|evol\w*|timeline|season\w*|"
                         r"histor\w*|dynamics)\b")


def _unasked_bucket(tree: exp.Expr, question: str) -> list[str]:
    """A time bucket the answer shows (a ``DATE_TRUNC`` or ``EXTRACT`` among the outer SELECT's
    columns, outside any aggregate or subquery) where the question says no grain and no word of
    time, misspelt or not: "the fraud rate in 2024 in Safari" answered per month (a neighbor's
    "monthly fraud rate in 2024")."""
    low = question.lower()
    if not isinstance(tree, exp.Select) or _TIME_WORDS.search(low) or stated_grains(question):
        return []
    bucket = next((proj for proj in tree.expressions
                   for node in proj.find_all(exp.DateTrunc, exp.TimestampTrunc, exp.Extract, exp.DayOfWeek)
                   if node.find_ancestor(exp.AggFunc, exp.Window, exp.Subquery, exp.Exists, exp.Select) is tree), None)
    if bucket is None:  # the common case: no fuzzy matching of the question's words below
        return []
    if any(SequenceMatcher(None, w, t).ratio() >= 0.8 for w in re.findall(r"[a-z]{3,}", low) for t in _GRAIN_WORDS):
        return []  # "by calendar mnth"
    return [f"the SQL buckets by time ({bucket.alias or bucket.sql()}); the question names no period to bucket by"]


def _group_keys(sel: exp.Select) -> list[exp.Expr]:
    """The GROUP BY expressions, ``GROUP BY 1`` read as the projection it points at."""
    group = sel.args.get("group")
    keys = []
    for e in group.expressions if group else []:
        if isinstance(e, exp.Literal) and e.is_int and 0 < int(e.this) <= len(sel.expressions):
            e = sel.expressions[int(e.this) - 1]
            e = e.this if isinstance(e, exp.Alias) else e
        keys.append(e)
    return keys


def _constant_counts(tree: exp.Expr) -> list[str]:
    issues = []
    for sel in tree.find_all(exp.Select):
        names = {k.name.lower() for k in _group_keys(sel) if isinstance(k, exp.Column)}
        for count in sel.find_all(exp.Count):
            if count.find_ancestor(exp.Select) is not sel or not isinstance(count.this, exp.Distinct):
                continue
            if any(isinstance(e, exp.Column) and e.name.lower() in names for e in count.this.expressions):
                issues.append(f"{count.sql()} per group of the same column is always 1")
    return issues


def _constant_shares(tree: exp.Expr) -> list[str]:
    """A share of rows whose condition every row of its group already decides: a yes/no column
    counted within groups of itself (``COUNT(CASE WHEN is_fraud = 1 ...) ... GROUP BY is_fraud``:
    each group is 0 or 100%), ``SUM(is_fraud)`` under ``WHERE is_fraud = 0`` (always 0), a
    counted condition the WHERE already requires (always 100%). The small model writes these for
    "what percent of visits are suspicious", "percentage of sessions where is_fraud = 0" and
    "percentage of users under 71". Narrow on purpose: the teacher itself asks some degenerate
    shares ("the Safari share per browser", "the fraud rate of the non-fraudulent visits"), and
    those gold answers must pass."""
    issues = []
    for sel in tree.find_all(exp.Select):
        keys = {k.name.lower() for k in _group_keys(sel) if isinstance(k, exp.Column)}
        fixed = _where_fixed(sel, flags=True)
        where = sel.args.get("where")
        required = {bare_sql(c) for c in and_terms(where.this)} if where is not None else set()
        for agg in sel.find_all(exp.Count, exp.Sum, exp.CountIf, exp.Avg):
            if agg.find_ancestor(exp.Select) is not sel:
                continue
            # conditions on a yes/no column (``flag = 1``) of a count, or of a sum of constants
            conds = [i.this for i in agg.find_all(exp.If)
                     if isinstance(agg, exp.Count) or isinstance(i.args.get("true"), exp.Literal)]
            if isinstance(agg, exp.CountIf):
                conds.append(agg.this)
            flags = {name for c in conds if (name := _number_column(c)) is not None}
            issues += [f"{agg.sql()} tests {col}, which the SQL groups by: every group's share is 0 or all"
                       for col in sorted(flags & keys)]
            # the share's own condition AND-ed into the WHERE too: every row counted passes it
            # ("percentage of users under 71" as ``COUNT_IF(age < 71) ... WHERE age < 71``); a
            # count alone may repeat it (the teacher's "paying customers where there is a purchase")
            if isinstance(agg, exp.Avg) or agg.find_ancestor(exp.Div, exp.Select) is not sel:
                issues += [f"{agg.sql()} counts rows where {c.sql()}, which its WHERE already requires: always all"
                           for c in conds if bare_sql(c) in required]
            if isinstance(agg, exp.Sum) and isinstance(agg.this, exp.Column) and agg.this.name.lower() in fixed:
                issues.append(f"{agg.sql()} sums {agg.this.name}, which its WHERE fixes to one value")
    return issues


# "the range of revenue": MAX(x) - MIN(x), which neither "max" nor "min" words
_RANGE_WORDS = re.compile(r"\brange\s+(?:of\b|\()")


def _max_minus_min(node: exp.Expr | None) -> bool:
    return isinstance(node, exp.Sub) and isinstance(node.this, exp.Max) and isinstance(node.expression, exp.Min)


def _unasked_aggregates(tree: exp.Expr, question: str) -> list[str]:
    low = question.lower()
    issues = []
    ranged = _RANGE_WORDS.search(low) is not None
    for kind, said in _AGG_WORDS.items():
        used = [n for n in tree.find_all(kind) if n.find_ancestor(exp.Where, exp.Order, exp.Having) is None
                and not (ranged and _max_minus_min(n.parent))]
        if used and not said.search(low):
            issues.append(f"the SQL's {used[0].sql()} has no word in the question")
    return issues


def _aggregates_of(tree: exp.Expr, func: str, column: str) -> bool:
    """Some ``func`` aggregates ``column``, or a column named after it (``AVG(total_revenue)`` over
    a CTE's ``SUM(revenue)``). A median may be written as a percentile: not checked."""
    node = AGGREGATE_NODES.get(func) if func != "MEDIAN" else None
    return node is None or any(column.lower() in c.name.lower() for agg in tree.find_all(node)
                               for c in agg.find_all(exp.Column))


def _missing_measures(tree: exp.Expr, question: str, index: ValueIndex) -> list[str]:
    return [f"the question asks for {func}({column}); the SQL has none"
            for func, _, column in stated_measures(question, index.measures) if not _aggregates_of(tree, func, column)]


def _unread_measures(tree: exp.Expr, question: str, index: ValueIndex, found: list[str]) -> list[str]:
    """A measure the question names ("Money with operating system Android in Q2 2024") that no
    column of the SQL reads, not even one named after it (a CTE's ``total_revenue``): the answer
    counts users instead (session 26, read from k24's misses). Not a column the ``found`` issues
    already name (a measure asked and not shown, compared and not tested): one issue each."""
    read = {c.name.lower() for c in tree.find_all(exp.Column)} | {a.alias.lower() for a in tree.find_all(exp.Alias)}
    issues: dict[str, str] = {}
    for phrase, (_, column) in sorted(index.measures.items(), key=lambda kv: -len(kv[0])):
        name = column.lower()
        if name in issues or any(name in r for r in read) or any(re.search(r"\b" + re.escape(name) + r"\b", i)
                                                                for i in found):
            continue
        m = re.search(r"\b" + re.escape(phrase).replace("\\ ", r"[\s_]+") + r"\b", question, re.IGNORECASE)
        if m:
            issues[name] = f"the question names {column} ('{m.group(0)}'); the SQL never reads it"
    return list(issues.values())


# "<measure> [is] at least 250", "revenue lies between zero and 1.7k", "takings < 1700"
_COMPARES = re.compile(r"^s?\s+(?:(?:is|was|are|were|lies|lie|of)\s+)?(?:not\s+)?(?:above|over|below|under|"
                       r"(?:more|less|greater|higher|lower|fewer) than|at least|at most|exceed(?:s|ing)?|between|"
                       r"equal to|equals|[<>]=?|!=|<>|=)\s*\$?(?:\d|zero\b|one\b|two\b|three\b|four\b|five\b|"
                       r"ten\b|twenty\b|fifty\b|hundred\b)|^s?\s+(?:is\s+|lies\s+)?from\s+\d[\d,.]*k?\s+(?:to|-|and)\s+\d",
                       re.IGNORECASE)  # "from 2023" is a time, "from 250 to 750" a range
_TESTS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.In)


def _untested_comparisons(tree: exp.Expr, question: str, index: ValueIndex) -> list[str]:
    """A measure the question compares with a number ("session duration at least 250") that no
    comparison of the SQL reads (in WHERE or HAVING, of the column or an aggregate of it), or
    that the SQL compares only with other numbers (``revenue >= 100`` and ``session_duration >= 1``
    for "session duration between 100 and 750")."""
    tested: dict[str, list[float]] = {}  # column name -> the numbers its tests hold
    for t in tree.find_all(*_TESTS):
        held = [x for n in t.find_all(exp.Literal) if (x := literal_number(n)) is not None]
        for c in t.find_all(exp.Column):
            tested.setdefault(c.name.lower(), []).extend(held)
    numbers = [a for a in question_atoms(question) if a.kind == "number"]
    issues: dict[str, str] = {}  # one per column, its longest phrase first ("session duration", not "duration")
    for phrase, (_, column) in sorted(index.measures.items(), key=lambda kv: -len(kv[0])):
        if column in issues:
            continue
        names = [name for name in tested if column.lower() in name]  # total_revenue of a CTE too
        # "session duration" is written "session_duration" too, as the column is named
        for m in re.finditer(r"\b" + re.escape(phrase).replace("\\ ", r"[\s_]+"), question, re.IGNORECASE):
            said = _COMPARES.match(question[m.end():m.end() + 40])
            if not said:
                continue
            if not names:
                issues[column] = f"the question compares {column} ('{m.group(0)}'); the SQL does not test it"
                break
            # the number right after the comparison word: "between 100 and 750" -> 100
            atom = next((a for a in numbers if m.end() <= a.pos <= m.end() + said.end()), None)
            if atom is not None and not any(explains_number(atom, x) for name in names for x in tested[name]):
                issues[column] = (f"the question compares {column} with {question[atom.pos:atom.stop]}; "
                                  f"the SQL tests it with other numbers")
                break
            if _TOTAL_BEFORE.search(question[:m.start()]) and not _tests_a_total(tree, column):
                issues[column] = f"the question compares a total of {column}; the SQL tests single rows"
                break
    return list(issues.values())


# "users whose total session duration is above 9500": a total, compared per group
_TOTAL_BEFORE = re.compile(r"\b(?:total|overall|combined|aggregate|sum\s+of)\s+(?:the\s+|their\s+)?$", re.IGNORECASE)


def _tests_a_total(tree: exp.Expr, column: str) -> bool:
    """Does a test read ``SUM(column)`` or a column named after a total of it (a CTE's
    ``total_session_duration``)?"""
    name = column.lower()
    for t in tree.find_all(*_TESTS):
        if any(c.name.lower() == name for agg in t.find_all(exp.Sum) for c in agg.find_all(exp.Column)):
            return True
        if any(name in c.name.lower() and c.name.lower() != name for c in t.find_all(exp.Column)):
            return True
    return False


def _groups_by(tree: exp.Expr, column: str) -> bool:
    """Does any SELECT group (or partition a window) by ``column``?"""
    name = column.lower()
    for sel in tree.find_all(exp.Select):
        if any(c.name.lower() == name for k in _group_keys(sel) for c in k.find_all(exp.Column)):
            return True
    return any(isinstance(p, exp.Column) and p.name.lower() == name
               for w in tree.find_all(exp.Window) for p in w.args.get("partition_by") or [])


def _flag_keys(question: str, index: ValueIndex) -> list[tuple[str, str]]:
    """The yes/no columns a question breaks down by ("by fraudulent", "for every combination of
    is fraud and browser type", "per nation and is_active"): a flag's positive phrase or its
    column's name after a breakdown word, standing alone (not "per fraudulent session", a filter
    on what is counted). Read from k24's misses (session 26), where the flag became a filter."""
    flags = index.flag_words
    if not flags:
        return []
    phrases = dict(index.dimensions)
    for phrase, key in index.flag_phrases.items():
        if not re.search(r"\b(?:not?|non|in|de)\b|^(?:non|in|de|un)", phrase):
            phrases.setdefault(phrase, key)
    for table, column in flags:
        phrases.setdefault(column.lower().replace("_", " "), (table, column))
    nouns = sorted({n for c in index.counts for n in (c, c.rstrip("s"), c.split()[0])}, key=len, reverse=True)
    keys = []
    for key in stated_breakdown(question.replace("_", " "), phrases):
        if key not in flags:
            continue
        said = [p for p, k in phrases.items() if k == key]
        alone = any(re.search(r"\b" + re.escape(p) + r"\b(?!\s+(?:" + "|".join(map(re.escape, nouns)) + r")\b)",
                              question.replace("_", " "), re.IGNORECASE) for p in said)
        if alone:
            keys.append(key)
    return keys


def _flag_mentions(question: str, index: ValueIndex, key: tuple[str, str]) -> int:
    """How many times ``question`` words the yes/no column ``key`` (its phrases, its name)."""
    said = {p for p, k in index.flag_phrases.items() if k == key}
    said.add(key[1].lower().replace("_", " "))
    low = question.lower().replace("_", " ")
    spans = {m.span() for p in said for m in re.finditer(r"\b" + re.escape(p) + r"\b", low)}
    # overlapping phrases ("marked as fraud" and "fraud") are one mention
    return sum(1 for a in spans if not any(b != a and b[0] <= a[0] and a[1] <= b[1] for b in spans))


def _fixes_flag(tree: exp.Expr, column: str) -> bool:
    """Does a WHERE hold ``column`` to one value (``is_fraud = 1``) in a SELECT that groups by it?"""
    name = column.lower()
    return any(name in _where_fixed(sel, flags=True)
               and any(c.name.lower() == name for k in _group_keys(sel) for c in k.find_all(exp.Column))
               for sel in tree.find_all(exp.Select))


_SEVERAL = r"\b(?:more\s+than\s+one|over\s+one|multiple|two\s+or\s+more|2\s+or\s+more|at\s+least\s+(?:two|2)|several)\s+" \
           r"(?:different\s+|distinct\s+)?"


def _uncounted_values(tree: exp.Expr, question: str, index: ValueIndex) -> list[str]:
    """"users who used more than one browser" and no ``COUNT(DISTINCT browser)``: how many values
    of the dimension each one has is the question (session 26, read from k24's misses)."""
    issues = []
    for phrase, (_, column) in sorted(index.dimensions.items(), key=lambda kv: -len(kv[0])):
        if not re.search(_SEVERAL + re.escape(phrase) + r"(?:s|es)?\b", question, re.IGNORECASE):
            continue
        counted = any(isinstance(c.this, exp.Distinct) and any(col.name.lower() == column.lower()
                                                               for col in c.this.find_all(exp.Column))
                      for c in tree.find_all(exp.Count))
        if not counted:
            issues.append(f"the question asks for more than one {column} each; the SQL counts no distinct {column}")
        break
    return issues


def _miscounted_entities(tree: exp.Expr, question: str, index: ValueIndex) -> list[str]:
    """"the user count by country" answered with ``COUNT(*)`` of a table of other rows (sessions
    joined to users): rows of the sessions, not users (session 26, read from k24's misses). Only
    a plain ``COUNT(*)`` of the outer SELECT, and only when the named entity's table is read too."""
    if not isinstance(tree, exp.Select):
        return []
    frm = tree.args.get("from") or tree.args.get("from_")
    main = frm.this if frm is not None else None
    if not isinstance(main, exp.Table):
        return []
    stars = [p for p in tree.expressions if isinstance(p.unalias(), exp.Count) and isinstance(p.unalias().this, exp.Star)]
    if len(stars) != 1 or any(isinstance(c.this, exp.Distinct) for c in tree.find_all(exp.Count)):
        return []
    tables = {t.name.lower() for t in tree.find_all(exp.Table)}
    for phrase, table in sorted(index.counts.items(), key=lambda kv: -len(kv[0])):
        name = table.split(".")[-1].lower()
        single = phrase[:-1] if phrase.endswith("s") else phrase
        if name != main.name.lower() and name in tables \
                and re.search(r"\b" + re.escape(single) + r"\s+count\b", question, re.IGNORECASE):
            return [f"the question counts {name} ('{single} count'); COUNT(*) counts {main.name} rows"]
    return []


def _counted_thresholds(tree: exp.Expr, question: str, index: ValueIndex) -> list[str]:
    """"users with over 9 visits" answered ``HAVING SUM(revenue) > 9``: a number the question
    says of a count noun (at most one word between: "more than 1 suspicious site visits") that
    the SQL compares with another aggregate than a count (session 26, read from k23's misses)."""
    nouns = sorted(index.counts, key=len, reverse=True)
    if not nouns:
        return []
    said = {float(m.group(1)) for m in re.finditer(r"\b(\d+)\s+(?:[a-z]+\s+)?(?:" + "|".join(map(re.escape, nouns)) + r")\b",
                                                  question.lower().replace(",", ""))}
    issues = []
    for having in tree.find_all(exp.Having):
        for cmp in having.find_all(exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ):
            n = literal_number(cmp.expression) if isinstance(cmp.expression, exp.Literal) else None
            agg = cmp.this.unalias() if isinstance(cmp.this, exp.Expr) else None
            if n in said and isinstance(agg, exp.AggFunc) and not isinstance(agg, exp.Count):
                issues.append(f"the question counts {n:g} rows; the SQL compares {agg.sql()} with it")
    return issues


def _missing_breakdowns(tree: exp.Expr, question: str, index: ValueIndex) -> list[str]:
    stated = stated_breakdown(question, index.dimensions)
    flags = _flag_keys(question, index)
    issues = [f"the question breaks down by {column}; the SQL does not group by it"
              for _, column in stated + flags if not _groups_by(tree, column)]
    issues += [f"the question breaks down by {column}; the SQL's WHERE fixes it to one value"
               for table, column in flags if _groups_by(tree, column) and _fixes_flag(tree, column)
               and _flag_mentions(question, index, (table, column)) == 1]  # not "active users by active flag"
    asked = {column.lower() for _, column in stated}
    which, ranked = _which_dimensions(question, index)
    issues += [f"the question asks which {column}; the SQL neither groups by nor shows it"
               for column in sorted(ranked - asked) if not _groups_by(tree, column) and not _shows(tree, column)]
    return issues + _one_value_groups(tree, asked | which)


# "which OS family ... the highest", "top browser by ...": a ranking word somewhere (a superlative)
_RANKING = re.compile(r"\b(?:\w{2,}est|most|least|top|first|last|leads?|trails?|ranks?|maximum|minimum)\b",
                      re.IGNORECASE)
# "which browser", "what OS family", "top country", with a word between ("which active browser")
_WHICH_LEAD = r"\b(?:(?:which|what(?:'s|\s+is|\s+are)?)\s+(?P<mid>\w+\s+)?|top\s+(?P<top_mid>\w+\s+)?)"
# a question that opens with the dimension and its ranking: "Country with the top mean age ...",
# "Hi, what's browser type with the highest ..." (the teacher's words, as users write them)
_LEADING_DIMENSION = r"^(?:\W*\w+[,:!]\s+)?(?:(?:what(?:'s|\s+is|\s+are)|show|give|list)\s+)?(?:the\s+)?"
_SUPERLATIVE_AFTER = re.compile(r"\s+(?:with|having|that\s+has)\s+the\s+(?:\w{2,}est|top|most|least|max\w*|min\w*)\b",
                                re.IGNORECASE)
_ARTICLES = frozenset({"the", "a", "an", "its", "their"})
# after the dimension (and a word or two: "OS family", "country of residence"), a condition: "for
# which browser is any of ...", "for which OS family is Android", "which os = 'iOS'"; not "for
# which OS family is the number of ... the highest", which asks
_CONDITION_AFTER = re.compile(r"(?:\s+[\w'-]+){0,2}?\s*(?:=|<>|!=|\bequals?\b|\bis\b(?!\s+(?:the|a|an)\b)|"
                              r"\bare\b(?!\s+the\b)|\bthat(?:'s|\s+is)\b)", re.IGNORECASE)


def _which_dimensions(question: str, index: ValueIndex) -> tuple[set[str], set[str]]:
    """(the dimensions a "which", "what" or "top" names, those of them a ranking question asks to
    name). Named: a key the question asks about, not one it breaks down by. Asked to name: "for
    which OS family is the number of ... the highest" (answered with one number, the dimension
    is in no column), "top browser by sessions"; not a relative "for which the country is
    France" or "for which browser is Chrome", which state a condition."""
    ranking = _RANKING.search(question) is not None
    named: set[str] = set()
    ranked: set[str] = set()
    for phrase, (_, column) in index.dimensions.items():
        for m in re.finditer(_WHICH_LEAD + re.escape(phrase) + r"\b", question, re.IGNORECASE):
            named.add(column.lower())
            mid = (m["mid"] or "").strip().lower()
            if ranking and mid not in _ARTICLES and not m["top_mid"] \
                    and not _CONDITION_AFTER.match(question, m.end()):
                ranked.add(column.lower())
        lead = re.match(_LEADING_DIMENSION + re.escape(phrase) + r"\b", question, re.IGNORECASE)
        if lead and _SUPERLATIVE_AFTER.match(question, lead.end()):
            named.add(column.lower())
            ranked.add(column.lower())
    return named, ranked


# "within its region", "separately within each web client", "restarting the ranking for each OS":
# the dimension a ranking restarts in
_WITHIN = re.compile(r"\b(?:within|inside)\s+(?:its|each|every|their|the)\s+|\brestarting\s+(?:the\s+)?"
                     r"rank(?:ing|s)?\s+(?:for|in|within)\s+(?:each|every)\s+|\bseparately\s+(?:for|in)\s+"
                     r"(?:each|every)\s+", re.IGNORECASE)


def _partition_issues(tree: exp.Expr, question: str, index: ValueIndex) -> list[str]:
    """A ranking window not partitioned by the dimension the question ranks within ("the rank of
    each browser within its region" as ``RANK() OVER (PARTITION BY browser ...)``; session 25,
    read from k21's misses, where a beam had the partition right)."""
    windows = [w for w in tree.find_all(exp.Window) if isinstance(w.this, RANKINGS)]
    if not windows or not index.dimensions:
        return []
    longest = max(p.count(" ") + 1 for p in index.dimensions)
    within = set()
    for m in _WITHIN.finditer(question):
        toks = re.findall(r"[a-z0-9']+", question[m.end():].lower().replace("_", " "))[:longest]
        key, _ = phrase_at(toks, 0, index.dimensions, longest, skips=(0,))
        if key is not None:
            within.add(key[1].lower())
    issues = []
    for w in windows:
        parts = {c.name.lower() for p in w.args.get("partition_by") or [] for c in p.find_all(exp.Column)}
        issues += [f"the question ranks within each {col}; {w.this.sql()} is not partitioned by it"
                   for col in sorted(within - parts)]
    return issues


def _shows(tree: exp.Expr, column: str) -> bool:
    """Does a projection of any SELECT read ``column``?"""
    name = column.lower()
    return any(c.name.lower() == name for sel in tree.find_all(exp.Select)
               for p in sel.expressions for c in p.find_all(exp.Column))


# "..., showing ID, length and browser?", "Show client id and age.", "Top 3 sessions by revenue
# and their day": the columns a listing shows,
# up to the first word that starts a condition or a sentence's end
_SHOW = re.compile(r"\b(?:show(?:ing)?|display(?:ing)?|(?:with|and|plus) (?:their|its)|return(?:ing)?|giving)\s+"
                   r"(?P<cols>[^?.;:!()]+)",
                   re.IGNORECASE)
_SHOW_STOP = re.compile(r"\b(?:where|for|in|that|who|whose|which|by|over|above|under|below|from|during|per|"
                        r"sorted|ordered|ranked|if|when|whether|than)\b", re.IGNORECASE)
# "what's session number, browser type, revenue and session duration for the ...", "Give session
# ID, OS and revenue", "...: session number, length and OS?": a list of two or more columns asked
# for (session 25, read from k22's misses, where the student dropped one of them)
_ASKED_LIST = re.compile(r"(?:\b(?:what(?:'s|\s+(?:is|are|was|were))|give(?:\s+me)?|get|pull\s+up|provide)\s+|:\s*)"
                         r"(?P<cols>[^?.;:!()]+)", re.IGNORECASE)
_OF = re.compile(r"\bof\b", re.IGNORECASE)
_SHOW_ITEMS = re.compile(r",|\band\b|&")
_SHOW_ITEM_LEAD = ("the", "their", "its", "his", "her", "each", "every")


def _unshown_columns(tree: exp.Expr, question: str, index: ValueIndex) -> list[str]:
    """A measure or dimension the question lists after "showing" / "with their" / "Show ..."
    that no column of the outer SELECT reads ("the ten sessions ..., showing ID, length and
    browser" answered with the revenue instead of the browser), or lists with another after
    "what's" / "give" / a colon ("what's session number, browser type, purchase amount and
    session duration for the session with ..." answered without the revenue). Each listed item
    must be a phrase of the value index; items it cannot read are ignored."""
    if not isinstance(tree, exp.Select):
        return []
    phrases = {**index.names, **index.dimensions, **index.measures}
    if not phrases:
        return []
    longest = max(p.count(" ") + 1 for p in phrases)

    def read(item: str) -> tuple[str, str] | None:
        """(the item's words, the column) when the whole item is one phrase of the index."""
        toks = re.findall(r"[a-z0-9']+", item.lower().replace("_", " "))  # "session_duration" too
        while toks and toks[0] in _SHOW_ITEM_LEAD:
            toks = toks[1:]
        key, took = phrase_at(toks, 0, phrases, longest, skips=(0,)) if toks else (None, 0)
        return (" ".join(toks), key[1].lower()) if key is not None and took == len(toks) else None

    shown = {c.name.lower() for e in tree.expressions for c in e.find_all(exp.Column)}
    shown |= {e.alias_or_name.lower() for e in tree.expressions}
    if any(isinstance(e, exp.Star) or e.find(exp.Star) is not None and e.find(exp.Count) is None for e in tree.expressions):
        return []  # SELECT * (or t.*) shows every column; COUNT(*) shows none
    issues = []
    # after "show" one item is a list; after "what's" it takes two phrases the index reads
    for pattern, least in ((_SHOW, 1), (_ASKED_LIST, 2)):
        for m in pattern.finditer(question):
            cols = _SHOW_STOP.split(m["cols"], maxsplit=1)[0]
            listed = []
            items = [item for item in _SHOW_ITEMS.split(cols) if item.strip()]
            for item in items:
                # "date of action" is one phrase; "revenue of the ten sessions" ends the list at "of"
                found = read(item)
                cut = found is None and _OF.search(item) is not None
                if cut:
                    found = read(_OF.split(item, maxsplit=1)[0])
                # "ID", "both counts" and the like: not a phrase the index can read, so no issue
                if found is not None:
                    listed.append(found)
                if cut:
                    break
            if len(listed) >= least:
                issues += [f"the question shows {col} ('{said}'); the SQL does not select it"
                           for said, col in listed if col not in shown]
            if len(listed) >= 2 and len(listed) == len(items):  # a list read whole: nothing else to show
                issues += _unlisted_columns(tree, {col for _, col in listed})
    return list(dict.fromkeys(issues))


def _unlisted_columns(tree: exp.Select, listed: set[str]) -> list[str]:
    """A plain column the outer SELECT shows besides a list the question gives whole ("Show
    session_id, browser type and revenue" answered with the OS too): not a key (``*_id``), a
    GROUP BY key or the column the rows are ordered by, which a list may leave unsaid."""
    keep = {c.name.lower() for k in _group_keys(tree) for c in k.find_all(exp.Column)}
    order = tree.args.get("order")
    keep |= {c.name.lower() for o in (order.expressions if order else []) for c in o.find_all(exp.Column)}
    issues = []
    for proj in tree.expressions:
        col = proj.unalias()
        if isinstance(col, exp.Column):
            name = col.name.lower()
            if name not in listed and name not in keep and not (name == "id" or name.endswith("_id")):
                issues.append(f"the SQL shows {name}; the question's list does not name it")
    return issues


def _unasked_filters(tree: exp.Expr, question: str, index: ValueIndex) -> list[str]:
    """A named condition (``revenue > 0``, "made a purchase") that a WHERE of the SQL tests while
    the question asks for it by no phrase, no word its phrases end on ("purchases", "purchasing")
    and no comparison of its column: the student adds it out of habit ("each OS whose mean income
    is over 1.5k" answered over the sessions with a purchase only)."""
    if not index.filters:
        return []
    said = set(index.filter_mentions(question))
    qwords = [w.lower() for w in words(question)]
    compared = {t.column for t in written_tests(question, {c for _, c in index.measures.values()})}
    compared |= {t.column for t in worded_tests(question, index.measures)}
    compared |= {column for phrase, (_, column) in index.measures.items()  # "the money is higher than zero"
                 if re.search(r"\b" + re.escape(phrase) + r"\b[^.?!,;]{0,25}?\b(?:zero|0|nothing|positive)\b",
                              question, re.IGNORECASE)}
    issues = []
    for ref in dict.fromkeys(index.filters.values()):
        if ref in said or ref.columns & compared:
            continue
        key = ref.key()
        if not any(bare_sql(n) == key and n.find_ancestor(exp.Where) is not None
                   and n.find_ancestor(exp.Case, exp.If) is None for n in tree.find_all(ref.kind)):
            continue
        ends = {p.split()[-1] for p, r in index.filters.items() if r == ref}
        if any(q.startswith(e[:max(4, len(e) - 3)]) for e in ends for q in qwords):
            continue
        issues.append(f"the SQL keeps only rows where {ref.sql} ({ref.name}); the question does not ask for it")
    return issues


def _aggregated_columns(tree: exp.Expr) -> set[str]:
    """The columns some aggregate of ``tree`` reads (lower case)."""
    return {c.name.lower() for agg in tree.find_all(exp.AggFunc) for c in agg.find_all(exp.Column)}


@lru_cache(maxsize=256)
def _metric_columns(sql: str) -> frozenset[str]:
    """The columns a metric's definition aggregates, keys aside (parsed once: the runtime asks per beam)."""
    try:
        definition = sqlglot.parse_one(sql, read="duckdb")
    except (SqlglotError, RecursionError, ValueError):
        return frozenset()
    return frozenset(c for c in _aggregated_columns(definition) if not (c == "id" or c.endswith("_id")))


def _uncomputed_metrics(tree: exp.Expr, question: str, index: ValueIndex) -> list[str]:
    """A sidecar metric the question names ("the fraud rate", "ARPS") though no aggregate of the
    SQL reads the columns its definition aggregates, keys aside ("the month that leads on the
    fraud rate" answered with ``SUM(revenue)``, the fraud flag only in WHERE), or none of its tests
    writes the one the definition counts by ("purchasers" as ``COUNT(DISTINCT CASE WHEN revenue >=
    0 ...)`` where the paying customers are ``revenue > 0``; session 25, read from k22's misses). A
    table's plural ("visits") or a column's own words ("revenue") name rows as often as a metric,
    so they are not read as one here."""
    aggregated = _aggregated_columns(tree)
    tests: frozenset[str] | None = None  # the SQL's comparisons, read once a metric needs them
    taken: list[tuple[int, int]] = []
    issues: dict[str, str] = {}
    for phrase, (name, sql) in sorted(index.metrics.items(), key=lambda kv: -len(kv[0])):
        if phrase in index.counts or phrase in index.measures or phrase in index.names or name in issues:
            continue  # "revenue", "turnover": a column's own words name rows as often as the metric
        for m in re.finditer(r"(?<![\w'])" + re.escape(phrase).replace("\\ ", r"\s+") + r"(?![\w'])", question,
                             re.IGNORECASE):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append(m.span())
            wanted = _metric_columns(sql)
            if wanted - aggregated:
                issues[name] = (f"the question asks for {name} ('{m.group(0)}'); no aggregate of the SQL reads "
                                f"{', '.join(sorted(wanted - aggregated))}")
            else:
                tests = tests if tests is not None else _unqualified_tests(tree)
                missing = sorted(_unqualified_tests_of(sql) - tests)
                if missing:
                    issues[name] = (f"the question asks for {name} ('{m.group(0)}'), which counts where "
                                    f"{' and '.join(missing)}; the SQL never tests it")
            break
    return list(issues.values())


def _unqualified_tests(tree: exp.Expr) -> frozenset[str]:
    """Every comparison of ``tree`` as lower-case SQL without table qualifiers (``s.revenue > 0``:
    ``revenue > 0``), in an aggregate's CASE or in WHERE alike: a metric counted where its test
    holds gives the same number either way; ``SUM(flag)`` reads as ``flag = 1``."""
    found = {bare_sql(node) for node in tree.find_all(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)}
    # SUM(is_fraud) / AVG(is_fraud) of a 0/1 flag counts where it is 1
    found |= {f"{agg.this.name.lower()} = 1" for agg in tree.find_all(exp.Sum, exp.Avg) if isinstance(agg.this, exp.Column)}
    return frozenset(found)


@lru_cache(maxsize=256)
def _unqualified_tests_of(sql: str) -> frozenset[str]:
    """The tests of a metric's definition (``revenue > 0`` of the paying customers), parsed once."""
    try:
        return _unqualified_tests(sqlglot.parse_one(sql, read="duckdb"))
    except (SqlglotError, RecursionError, ValueError):
        return frozenset()


def _where_fixed(sel: exp.Select, flags: bool = False) -> set[str]:
    """The columns ``sel``'s WHERE holds to one value: ``col = 'x'`` / ``col IN ('x')`` of a value,
    or with ``flags`` ``col = 1`` / ``col = TRUE`` of a yes/no column."""
    where = sel.args.get("where")
    if where is None:
        return set()
    fixed = set()
    for t in and_terms(where.this):
        if not flags:
            name = _value_column(t) if isinstance(t, exp.EQ) else None
            if name is not None:
                fixed.add(name)
        elif isinstance(t, exp.EQ) and isinstance(t.this, exp.Column) and isinstance(t.expression, exp.Literal | exp.Boolean):
            fixed.add(t.this.name.lower())
    return fixed


def _one_value_groups(tree: exp.Expr, stated: set[str]) -> list[str]:
    """A GROUP BY key its own WHERE fixes to one value (``GROUP BY browser`` under ``browser =
    'Firefox'``): one group, where "the top market on Firefox" wanted a key of its own. Not a
    key the question asks for ("which country ... users from France": one group, as asked)."""
    issues = []
    for sel in tree.find_all(exp.Select):
        names = _where_fixed(sel)
        for key in _group_keys(sel):
            if isinstance(key, exp.Column) and key.name.lower() in names and key.name.lower() not in stated:
                issues.append(f"the SQL groups by {key.name}, which its WHERE fixes to one value")
    return issues


def _says(phrase: str, qwords: list[str]) -> bool:
    """Every word of ``phrase`` (3+ letters) begins a question word, give or take an ending
    ("age" in "aged", "revenue" in "revenues") or misspelt by one edit ("brower" for a word of 5+
    letters the speller left alone); a shorter word ("os") is a question word itself."""
    def said(w: str) -> bool:
        if len(w) < 3:
            return any(re.sub(r"['’]s?$", "", q) == w for q in qwords)  # "OS's"
        if any(q.startswith(w[:max(3, len(w) - 1)]) for q in qwords):
            return True
        return len(w) >= 5 and not one_edit_away(w).isdisjoint(qwords)
    return all(said(w) for w in phrase.split())


def _unnamed_columns(tree: exp.Expr, question: str, index: ValueIndex, mentions: list[Mention]) -> list[str]:
    """WHERE tests and GROUP BY keys on a measure or dimension column the question names by none of
    the lexicon's phrases, not by the column's own words, by no value of it, and by no named
    condition on it."""
    phrases: dict[tuple[str, str], set[str]] = {}
    for phrase, key in [*index.measures.items(), *index.dimensions.items()]:
        phrases.setdefault(key, set()).add(phrase)
    if not phrases:
        return []
    qwords = [w.lower() for w in words(question)]
    named = {(m.ref.table, m.ref.column) for m in mentions}
    said_filters = set(index.filter_mentions(question))
    for f in set(index.filters.values()):
        if f in said_filters or any(_says(w, qwords) for w in re.split(r"[\W_]+", f.name.lower()) if w):
            named |= {(f.table, c) for c in f.columns}
    aliases = table_aliases(tree)
    stated = stated_age(question) is not None  # "the member is under 71"
    issues = []
    tested = [(col, "tests") for where in tree.find_all(exp.Where) for col in where.find_all(exp.Column)]
    # a breakdown nobody asked for ("by browser and the overall total" grouped by browser and OS):
    # plain columns only, as keys or inside ROLLUP / GROUPING SETS
    for group in tree.find_all(exp.Group):
        tested += [(col, "groups by") for key in group.expressions
                   for col in ([key] if isinstance(key, exp.Column) else
                               key.find_all(exp.Column) if isinstance(key, exp.Rollup | exp.Cube | exp.GroupingSets)
                               else [])]
    for col, verb in tested:
        keys = column_keys(col, aliases, phrases)
        if not keys or keys & named or (is_age_column(col.name) and (_AGE_WORDS.search(question) or stated)) \
                or (_DURATION_COLUMN.search(col.name) and _DURATION_WORDS.search(question)):
            continue
        said = {p for k in keys for p in phrases[k]} | {col.name.lower().replace("_", " ")}
        if not any(_says(p, qwords) for p in said):
            issues.append(f"the SQL {verb} {col.name}; the question never names it")
    return list(dict.fromkeys(issues))


_ENTITY_ID = re.compile(r"\b(?P<w>[a-z]+)\s+(?:#\s*|no\.?\s*|number\s+|id\s+|identifier\s+)?(?P<n>\d{3,})\b",
                        re.IGNORECASE)


def _misbound_ids(tree: exp.Expr, question: str, index: ValueIndex) -> list[str]:
    """"Session 576155: what is the age of its user?" answered with ``user_id = 576155``: a number
    right after an entity's word (one the index counts: "session", "visit", "client") is that
    entity's key, and the SQL compares it with another key only."""
    columns = {c.lower() for _, c in index.names.values()}
    issues = []
    for m in _ENTITY_ID.finditer(question):
        word = m["w"].lower()
        if word + "s" not in index.counts:
            continue
        key = f"{word}_id" if f"{word}_id" in columns else index.names.get(f"{word} id", ("", ""))[1].lower()
        if not key:
            continue
        compared = {c.name.lower() for cmp in tree.find_all(exp.EQ, exp.In)
                    if any(literal_number(x) == float(m["n"]) for x in cmp.find_all(exp.Literal))
                    for c in cmp.find_all(exp.Column)}
        if compared and key not in compared:
            issues.append(f"the question's {m[0]} is a {key}; the SQL compares {m['n']} with "
                          f"{', '.join(sorted(compared))}")
    return issues


# "how many", "the number of", "count": some COUNT, COUNT_IF or SUM(CASE ...) answers it; "how
# many days between" is a difference of dates, not a count
_COUNT_WORDS = re.compile(r"\bhow\s+many\b(?!\s+(?:days|weeks|months|quarters|years|hours|minutes|seconds)\b)|"
                          r"\bnumber\s+of\b|\bcount(?:s|ed)?\b", re.IGNORECASE)


def _uncounted(tree: exp.Expr, question: str) -> list[str]:
    if not _COUNT_WORDS.search(question) or tree.find(exp.Count, exp.CountIf) is not None:
        return []
    if any(s.find(exp.Case, exp.If) is not None for s in tree.find_all(exp.Sum)):
        return []
    return ["the question asks how many; the SQL counts nothing"]


def _equality(test: exp.Expr) -> tuple[str, exp.Literal] | None:
    """(column, literal) of ``col = literal`` either way round, in parentheses or not."""
    while isinstance(test, exp.Paren):
        test = test.this
    if isinstance(test, exp.EQ):
        col, lit = test.this, test.expression
        if isinstance(col, exp.Literal):
            col, lit = lit, col
        if isinstance(col, exp.Column) and isinstance(lit, exp.Literal):
            return col.name.lower(), lit
    return None


def _value_column(test: exp.Expr) -> str | None:
    """The column a value test reads: ``col = 'x'``, ``col IN ('x', 'y')``; None for other tests."""
    while isinstance(test, exp.Paren):
        test = test.this
    if isinstance(test, exp.In) and isinstance(test.this, exp.Column) and test.expressions \
            and all(isinstance(e, exp.Literal) and e.is_string for e in test.expressions):
        return test.this.name.lower()
    eq = _equality(test)
    return eq[0] if eq is not None and eq[1].is_string else None


def _number_column(test: exp.Expr) -> str | None:
    """The column of ``col = 3`` (a flag's ``is_active = 0``): two of them in one AND chain
    either repeat a test or ask for a row that cannot exist (``is_active = 0 AND is_active = 1``)."""
    eq = _equality(test)
    return eq[0] if eq is not None and not eq[1].is_string else None


def _repeated_tests(tree: exp.Expr) -> list[str]:
    """A condition AND-ed twice, two value tests of one column, a value listed twice, a BETWEEN of
    one number: the small model writes these where it lost a condition the question states
    (``os = 'Windows' AND os = 'Windows'`` for "platform Windows and a purchase")."""
    issues = []
    for clause in tree.find_all(exp.Where, exp.Having):
        seen: set[str] = set()
        valued: set[str] = set()
        for c in and_terms(clause.this):
            key, column = bare_sql(c), _value_column(c) or _number_column(c)
            if key in seen:
                issues.append(f"the SQL tests {c.sql()} twice")
            elif column is not None and column in valued:
                issues.append(f"the SQL tests {column}'s value twice")
            seen.add(key)
            if column is not None:
                valued.add(column)
        issues += _empty_ranges(and_terms(clause.this))
    for test in tree.find_all(exp.In):
        listed = [bare_sql(e) for e in test.expressions]
        if len(listed) != len(set(listed)):
            issues.append(f"{test.sql()} lists a value twice")
    for b in tree.find_all(exp.Between):
        low, high = b.args.get("low"), b.args.get("high")
        if low is not None and high is not None and bare_sql(low) == bare_sql(high):
            issues.append(f"{b.sql()} holds one value")
    return issues


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T][\d:.]+)?$")
_LOWER: dict[type[exp.Expr], bool] = {exp.GT: False, exp.GTE: True}  # op -> inclusive, for ``col op bound``
_UPPER: dict[type[exp.Expr], bool] = {exp.LT: False, exp.LTE: True}
_FLIPPED: dict[type[exp.Expr], type[exp.Expr]] = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE}


def _bound_value(node: exp.Expr) -> float | str | None:
    """A number, or an ISO date or timestamp (``'2024-01-05'``, ``DATE '2024-01-05'``, a CAST of
    one): what a range compares, in an order Python's comparison keeps; None for anything else."""
    if isinstance(node, exp.Cast):
        node = node.this
    if not isinstance(node, exp.Literal):
        return None
    if not node.is_string:
        return literal_number(node)
    return node.this if _ISO_DATE.match(node.this) else None


def _empty_ranges(terms: list[exp.Expr]) -> list[str]:
    """AND-ed bounds of one column that no value meets (``d >= '2023-12-22' AND d < '2023-12-20'``,
    ``x BETWEEN 9 AND 2``): the small model swaps or garbles a range's ends, and the empty
    answer runs."""
    lows: dict[str, list[tuple[float | str, bool, str]]] = {}
    highs: dict[str, list[tuple[float | str, bool, str]]] = {}
    for t in terms:
        while isinstance(t, exp.Paren):
            t = t.this
        pairs: list[tuple[type[exp.Expr], exp.Expr | None]]
        if isinstance(t, exp.Between) and isinstance(t.this, exp.Column):
            pairs = [(exp.GTE, t.args.get("low")), (exp.LTE, t.args.get("high"))]
            col = t.this
        elif type(t) in _FLIPPED and isinstance(t.this, exp.Column):
            pairs, col = [(type(t), t.expression)], t.this
        elif type(t) in _FLIPPED and isinstance(t.expression, exp.Column):
            pairs, col = [(_FLIPPED[type(t)], t.this)], t.expression
        else:
            continue
        for op, bound in pairs:
            value = _bound_value(bound) if bound is not None else None
            if value is not None:
                side = lows if op in _LOWER else highs
                side.setdefault(col.name.lower(), []).append((value, {**_LOWER, **_UPPER}[op], t.sql()))
    issues = []
    for column, los in lows.items():
        for lo, lo_in, lo_sql in los:
            for hi, hi_in, hi_sql in highs.get(column, []):
                if type(lo) is type(hi) and (lo > hi or (lo == hi and not (lo_in and hi_in))):  # type: ignore[operator]
                    issues.append(f"no {column} passes both {lo_sql} and {hi_sql}" if lo_sql != hi_sql
                                  else f"no {column} passes {lo_sql}")
    return issues


_UPWARD = (exp.GT, exp.GTE)
_DOWNWARD = (exp.LT, exp.LTE)


def _reversed_comparisons(tree: exp.Expr, question: str, columns: set[str],
                          measures: dict[str, tuple[str, str]]) -> list[str]:
    """A number the question states once with a direction ("no less than 250", "under 71") that
    the SQL compares the other way (``session_duration <= 250``): the small model turns an
    operator and the answer runs. A CASE of several branches (buckets: "under 250 / 250 to 750")
    and a number stated twice are left alone, and so is a test stated on a column's name or a
    measure's phrase, which stated_forms' "compared otherwise" reads (one fault, one issue)."""
    compared: list[tuple[float, bool, exp.Expr]] = []  # (number, compared upward, node): read once
    for node in tree.find_all(*_UPWARD, *_DOWNWARD):
        kind: type[exp.Expr] = type(node)
        col, lit = node.this, node.expression
        if isinstance(col, exp.Literal):
            col, lit, kind = lit, col, _FLIPPED[kind]
        case = node.find_ancestor(exp.Case)
        number = literal_number(lit)
        if isinstance(col, exp.Column) and number is not None and (case is None or len(case.args.get("ifs") or []) < 2):
            compared.append((number, kind in _UPWARD, node))
    if not compared:
        return []
    atoms = [a for a in question_atoms(question) if a.kind == "number" and a.number is not None and not a.percent]
    once = {a.number for a in atoms if sum(b.number == a.number for b in atoms) == 1}
    stated = [t.span for t in written_tests(question, columns)]
    stated += [t.span for t in worded_tests(question, measures)]
    issues = []
    for a in atoms:
        if a.number not in once or any(lo <= a.pos < hi for lo, hi in stated):
            continue
        op = stated_comparison(question, a.pos, a.stop)
        if op not in (">", ">=", "<", "<="):
            continue
        issues += [f"the question's {question[a.pos:a.stop].strip()} is {op}; the SQL tests {node.sql()}"
                   for number, upward, node in compared if number == a.number and upward != op.startswith(">")]
    return issues


def _value_issues(tree: exp.Expr, question: str, index: ValueIndex, mentions: list[Mention]) -> list[str]:
    """A value the question names ("on Firefox", "from Holland") that no string of the SQL holds;
    a value of a column the SQL tests (outside a CASE) that the question never names
    (``browser <> 'Safari'`` under "visits outside the UK by web client"). Quoted text is
    literal_issues'."""
    mentions = [m for m in mentions if not m.ref.flag]
    quoted = {m[1].lower() for m in QUOTED_TEXT.finditer(question)}
    strings = [s.this.strip("%").lower() for s in tree.find_all(exp.Literal) if s.is_string]
    issues = []
    for m in mentions:
        value = m.ref.value.lower()
        if value in quoted or m.text.lower() in quoted:
            continue
        if not any(s and (value in s or s in value) for s in strings):
            issues.append(f"the question's {m.text} ({m.ref.column} '{m.ref.value}') is not in the SQL")
    said = {(m.ref.table, m.ref.column, m.ref.value.lower()) for m in mentions}
    qwords = {w.lower() for w in words(question)}
    aliases = table_aliases(tree)
    for test in tree.find_all(exp.EQ, exp.NEQ, exp.In):
        if test.find_ancestor(exp.Case, exp.If) is not None:
            continue
        if isinstance(test, exp.In):
            col, lits = test.this, list(test.expressions)
        else:
            col, lits = (test.this, [test.expression]) if isinstance(test.this, exp.Column) else (test.expression, [test.this])
        if not isinstance(col, exp.Column):
            continue
        keys = column_keys(col, aliases, index.columns)
        for lit in lits:
            if not (isinstance(lit, exp.Literal) and lit.is_string):
                continue
            value = lit.this.lower()
            if not any(value in index.columns[k] for k in keys) or any((*k, value) in said for k in keys) \
                    or {w.lower() for w in words(lit.this)} & qwords:
                continue
            issues.append(f"the SQL's '{lit.this}' is not in the question")
    return list(dict.fromkeys(issues))


_BREAKDOWN_BEFORE = re.compile(r"\b(?:by|per|each|which|what|across|combinations?\s+of)\s+(?:\w+\s+)?$", re.IGNORECASE)
# a flag's word as the thing ranked: "Rank fraudulent by the avg revenue", "Give every fraudulent a
# rank", "Show the fraudulent with the highest share" (a noun, not "the fraudulent sessions")
_RANKED_BEFORE = re.compile(r"\b(?:rank|every|the|top(?:\s+\w+)?)\s+$", re.IGNORECASE)  # "Top 5 marked as fraud by"
_RANKED_AFTER = re.compile(r"\s+(?:by|with|a\s+rank)\b", re.IGNORECASE)


def _flag_issues(tree: exp.Expr, question: str, mentions: list[Mention]) -> list[str]:
    """A yes/no the question states ("the user is deactivated") that no test of the SQL says that
    way (``is_active = 0`` or ``is_active <> 1``, in a WHERE or a CASE); a test the other way
    does not count. A flag's word after "by", "per" or "which" ("mean revenue by fraud flag")
    names a breakdown.

    (Skipping every answer that groups by the flag instead let beams that group where the
    question filters, "fraud sessions per OS", win: it made 3 right answers wrong on 7 runs.)"""
    aliases = table_aliases(tree)
    issues = []
    for m in mentions:
        if not m.ref.flag:
            continue
        hit = mention_at(question, m)
        if hit is not None and (_BREAKDOWN_BEFORE.search(question[:hit.start()]) or (
                _RANKED_BEFORE.search(question[:hit.start()]) and _RANKED_AFTER.match(question, hit.end()))):
            continue  # "revenue by fraud flag", "which suspicious ...", "rank fraudulent by": a breakdown
        want, key = m.ref.value.lower(), (m.ref.table, m.ref.column)
        said = False
        for test in tree.find_all(exp.EQ, exp.NEQ):
            col, lit = test.this, test.expression
            if isinstance(col, exp.Literal | exp.Boolean):
                col, lit = lit, col
            if not (isinstance(col, exp.Column) and isinstance(lit, exp.Literal | exp.Boolean)) \
                    or key not in column_keys(col, aliases, [key]):
                continue
            if (lit.sql().lower() == want) == isinstance(test, exp.EQ):
                said = True
        if not said:
            issues.append(f"the question's '{m.text}' ({m.ref.column} = {m.ref.value}) is not in the SQL")
    return list(dict.fromkeys(issues))


def _unstated_flags(tree: exp.Expr, question: str, index: ValueIndex, mentions: list[Mention]) -> list[str]:
    """A yes/no column anywhere in the SQL (a WHERE, a CASE, ``COUNT_IF``, ``SUM(is_fraud)``)
    that the question says nothing of: no phrase of it, no word of one, not the column's own
    word. Grounding drops such a WHERE test; a rate's condition it cannot drop ("what percent
    have a purchase" answered ``COUNT_IF(is_fraud = 1)``, then ``SUM(is_fraud)`` by a beam), so
    the check asks the beams."""
    flags = index.flag_words
    said = {(m.ref.table, m.ref.column) for m in mentions if m.ref.flag}
    aliases = table_aliases(tree)
    issues = []
    for col in tree.find_all(exp.Column):
        keys = column_keys(col, aliases, flags)
        if keys and not keys & said and flag_unstated(question, flags, col, keys):
            issues.append(f"the SQL reads {col.name}; the question says nothing of it")
    return list(dict.fromkeys(issues))


def _unasked_measures(tree: exp.Expr, question: str, index: ValueIndex) -> list[str]:
    """A column of the answer that crosses the aggregates the question names: "the average money
    spent and the max session length" answered with ``MAX(revenue)`` beside them (MAX asked of
    another measure, revenue asked with another function). Only a whole column is read
    (``SUM(revenue) / COUNT(...)`` is a ratio's part), and only such a cross: a question's
    aggregate words are not all the lexicon's ("the highest revenue")."""
    asked = {(func, column.lower()) for func, _, column in stated_measures(question, index.measures)}
    if not asked or not isinstance(tree, exp.Select):
        return []
    issues = []
    for e in tree.expressions:
        e = e.this if isinstance(e, exp.Alias) else e
        func = next((f for f, node in AGGREGATE_NODES.items() if type(e) is node), None)
        if func is None or not isinstance(e.this, exp.Column):
            continue
        column = e.this.name.lower()
        if (func, column) not in asked and any(f == func for f, _ in asked) and any(c == column for _, c in asked):
            issues.append(f"the SQL's {e.sql()} is not asked for")
    return issues
