"""Literal grounding: the dates and numbers a question states go into SQL that copied them wrong.

    from schemadistill.literals import ground_literals
    ground_literals("SELECT SUM(revenue) FROM s WHERE action_date > DATE '2023-12-31'",
                    "Revenue after 2023-12-13?")
    # ("SELECT SUM(revenue) FROM s WHERE action_date > CAST('2023-12-13' AS DATE)",
    #  ["date 2023-12-31 -> 2023-12-13"])

Why: a small student learns where a date or a threshold goes far better than its digits. On
held-out pairs of one run, a third of the misses had the right shape and a wrong literal
("2023-12-13" written as 2023-12-31, "last 30 days" as INTERVAL 14 DAY, "between zero and 1700"
as BETWEEN 0 AND 900). The question states those literals, so they need not be learned.

The rules, conservative like value grounding (schemadistill/grounding.py):

- The question's *atoms* are read with the formats people (and the teacher) write: dates
  (2023-12-13, 12/13/2023, December 13, 2023, 13th of December 2023, "Wednesday, Dec 13, 2023"),
  months (December 2023, Dec 2023, 2023-12, 12/2023), quarters (Q4 2023, the fourth quarter of
  2023), years (2023), and numbers (1,700; 2.5; 10%; zero .. twenty and the tens as words).
- A SQL date literal is *explained* by an atom when it is one of the atom's bounds (the day, the
  next day for an exclusive end; a month's first day, its last day, the next month's first day;
  the same for quarters and years). A SQL number is explained when the question states it (or
  it is a part of a stated date, or n/100 of a stated percentage). 0 and 1 are never replaced
  (flags, "any", "more than zero"); nor is a number outside a comparison, BETWEEN, IN,
  INTERVAL or LIMIT (``100.0 * x`` in a percentage).
- An atom no SQL literal uses is *unused*. Unexplained literals are replaced by unused atoms of
  their kind only when the pairing is clear: the same number of each, taken in order; or one
  unused period atom and date literals that all become its bounds when moved by one shift.
  A number the question states once but the SQL uses twice counts as used once (the later use
  is the unexplained one).
- The question's one range ("aged 25-35", "30 to 40", "between 100 and 900") goes onto the
  SQL's one range test (``BETWEEN`` or a ``>=``/``<=`` pair on one column), or replaces a lone
  bound whose number is an end of the range or stated nowhere, before numbers are paired.
- The question's two days joined as a range ("from 2023-12-18 through 2023-12-28", "between 21
  December 2023 and 12/27/2023") go onto the SQL's one ``BETWEEN`` of dates (one stated day
  otherwise explains both ends of ``BETWEEN '2023-12-28' AND '2023-12-28'``).
- ``DATE_TRUNC(unit, d) = 'first day'`` whose day starts a stated period of one other grain
  only ("in 2023" as ``DATE_TRUNC('MONTH', d) = '2023-01-01'``) gets that period's grain, and
  ``d = 'first day'`` of the one period stated there ("for 2024-10") that period's truncation.
- A date whose year is a number copied over it ('10197-05-01' beside ``COUNT(*) < 10197``)
  takes the one unused period's year; a stated date's year is never an ``INTERVAL``'s count.
- A list of percentiles ("the 25th, 50th and 75th percentiles") goes onto the outer SELECT's
  percentile columns of one measure: their fractions in order, or the missing ones added.
- ``ORDER BY ... LIMIT n`` (n > 1, stated nowhere) under a question that asks for the one with
  the most or least ("which browser was the most popular") becomes ``LIMIT 1``; ``LIMIT 1``
  under a stated count of rows ("top 10 shoppers") takes the count like any other number.
- The outer ``ORDER BY key ... LIMIT n`` sorts the way the question ranks when it ranks one way
  only ("the leading 3 buyers by age" -> ``DESC``, "bottom ten" -> ``ASC``; "at least", "at
  most" and "most recent" are not rankings); the first key turns, tie-breakers stay.
- Anything else is left to the model. Text that does not parse is returned as it came.

``literal_issues`` reads the same atoms and literals to check an answer, not to change it: what
stays unexplained or unused after grounding (schemadistill/consistency.py).
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from schemadistill.answer_shape import drop_unasked_limit, ground_count, ground_one_row, show_group_keys
from schemadistill.comparisons import stated_comparison
from schemadistill.conjuncts import bare_sql, is_where_conjunct, outer_paren, remove_conjunct
from schemadistill.ordering import (
    by_superlative,
    default_nulls_first,
    drop_unasked_rank,
    ground_sort,
    stated_direction,
)
from schemadistill.rates import drop_self_filtering

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS |= {abbr.lower(): i for i, abbr in enumerate(calendar.month_abbr) if abbr}
_MONTHS["sept"] = 9
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAYS = r"(?:(?:" + "|".join(calendar.day_name) + "|" + "|".join(calendar.day_abbr) + r"),?\s+)?"
_ORD = r"(?:st|nd|rd|th)?"
_YEAR = r"(?P<y>(?:19|20)\d{2})"
_QUARTER_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}

# (kind, regex); tried in this order, a later one never overlaps an earlier match
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [(k, re.compile(p, re.IGNORECASE)) for k, p in [
    ("day", r"\b" + _YEAR + r"-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
    ("day", r"\b" + _YEAR + r"/(?P<m>\d{1,2})/(?P<d>\d{1,2})\b"),
    ("day", r"\b(?P<m>\d{1,2})/(?P<d>\d{1,2})/" + _YEAR + r"\b"),
    ("day", r"\b" + _DAYS + _MONTH + r"\s+(?P<d>\d{1,2})" + _ORD + r",?\s+" + _YEAR + r"\b"),
    ("day", r"\b" + _DAYS + r"(?:the\s+)?(?P<d>\d{1,2})" + _ORD + r"\s+(?:of\s+)?" + _MONTH + r",?\s+" + _YEAR + r"\b"),
    ("quarter", r"\bQ(?P<q>[1-4])\s+(?:of\s+)?" + _YEAR + r"\b"),
    ("quarter", r"\b" + _YEAR + r"\s*-?\s*Q(?P<q>[1-4])\b"),
    ("quarter", r"\b(?:the\s+)?(?P<qw>first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter\s+(?:of\s+)?" + _YEAR + r"\b"),
    ("month", r"\b" + _YEAR + r"-(?P<m>\d{1,2})\b(?!-\d)"),
    ("month", r"\b(?P<m>\d{1,2})/" + _YEAR + r"\b"),
    ("month", r"\b" + _MONTH + r",?\s+(?:of\s+)?" + _YEAR + r"\b"),
    ("year", r"\b" + _YEAR + r"\b"),
]]
_NUMBER = re.compile(r"(?<![\w#.])(?P<n>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?!\.\d)"
                     r"(?P<k>[kK]\b|[mM]\b|bn\b|\s+(?:thousand|million|billion)\b)?(?P<pct>\s*%|\s+percent\b)?(?!\w)")
_QUOTED = re.compile(r"""(?:^|(?<=[\s(:=]))["“'‘](?P<t>[^"“”'‘’\n]{1,40})["”'’](?=[\s.,;:?!)]|$)""")
# "1.5k", "370 million": the number the SQL compares with is the scaled one
_SCALE = {"k": 1_000.0, "m": 1_000_000.0, "bn": 1e9, "thousand": 1_000.0, "million": 1_000_000.0, "billion": 1e9}
# "one" is left out: "had one with", "at least one" name no value to compare with
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split()) if w != "_"}
_NUMBER_WORDS |= {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_COMPARED_ONE = re.compile(r"\b(?:more|greater|fewer|less|higher|lower)\s+than\s+(?P<w>one)\b", re.IGNORECASE)
_WORD_NUMBER = re.compile(r"\b(?P<w>" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\b", re.IGNORECASE)
# words that make the number after them an ordinal or a rank, not a value ("Q4", "top 3" stays a number)
# a year of more than 4 digits is a number the model copied into a date ('10197-05-01'): broken
_DATE_STRING = re.compile(r"^(?P<y>[#\d]{1,6})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:[ T]00:00(?::00)?)?$")


@dataclass(frozen=True)
class Atom:
    """One date, period or number the question states."""

    kind: str  # day | month | quarter | year | number | text (a quoted string)
    start: dt.date | None = None  # periods: first day
    end: dt.date | None = None  # periods: last day
    number: float | None = None
    percent: bool = False
    rank: bool = False  # "top 5", "first 3": may stand in a LIMIT
    parts: tuple[int, ...] = ()  # the numbers a date is written with (year, month, day / quarter)
    pos: int = 0
    text: str = ""  # kind text: the string between the quotes
    stop: int = 0  # where the atom's words end in the question (``question[pos:stop]``)


def _month_end(y: int, m: int) -> dt.date:
    return dt.date(y, m, calendar.monthrange(y, m)[1])


def _period(kind: str, g: dict[str, str | None], pos: int) -> Atom | None:
    y = int(g["y"] or 0)
    try:
        if kind == "day":
            m = _MONTHS[(g["mon"] or "").lower()] if g.get("mon") else int(g["m"] or 0)
            d = dt.date(y, m, int(g["d"] or 0))
            return Atom("day", d, d, parts=(y, m, d.day), pos=pos)
        if kind == "month":
            m = _MONTHS[(g["mon"] or "").lower()] if g.get("mon") else int(g["m"] or 0)
            return Atom("month", dt.date(y, m, 1), _month_end(y, m), parts=(y, m), pos=pos)
        if kind == "quarter":
            q = _QUARTER_WORDS[(g["qw"] or "").lower()] if g.get("qw") else int(g["q"] or 0)
            return Atom("quarter", dt.date(y, 3 * q - 2, 1), _month_end(y, 3 * q), parts=(y, q), pos=pos)
        return Atom("year", dt.date(y, 1, 1), dt.date(y, 12, 31), parts=(y,), pos=pos)
    except (ValueError, KeyError):
        return None  # "13/45/2024": not a date, the numbers stay numbers


def question_atoms(question: str) -> list[Atom]:
    """The dates, periods and numbers ``question`` states, in the order it states them."""
    taken: list[tuple[int, int]] = []
    atoms: list[Atom] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    for m in _QUOTED.finditer(question):  # 'ari', "Safari": literal text, whatever it holds
        atoms.append(Atom("text", text=m["t"], pos=m.start(), stop=m.end()))
        taken.append(m.span())
    for kind, pat in _PATTERNS:
        for m in pat.finditer(question):
            if not free(*m.span()):
                continue
            atom = _period(kind, m.groupdict(), m.start())
            if atom is not None:
                atoms.append(dataclasses.replace(atom, stop=m.end()))
                taken.append(m.span())
    for m in _NUMBER.finditer(question):
        if free(*m.span()) and not _is_rank(question, m.start()):
            scale = _SCALE[m["k"].strip().lower()] if m["k"] else 1.0
            atoms.append(Atom("number", number=float(m["n"].replace(",", "")) * scale, percent=bool(m["pct"]),
                              rank=_after_rank_word(question, m.start()), pos=m.start(), stop=m.end()))
            taken.append(m.span())
    for m in _COMPARED_ONE.finditer(question):  # "more than one", "greater than one": a value after all
        if free(*m.span("w")):
            atoms.append(Atom("number", number=1.0, pos=m.start("w"), stop=m.end("w")))
            taken.append(m.span("w"))
    for m in _WORD_NUMBER.finditer(question):
        if free(*m.span()) and not _is_rank(question, m.start()):
            atoms.append(Atom("number", number=float(_NUMBER_WORDS[m["w"].lower()]),
                              rank=_after_rank_word(question, m.start()), pos=m.start(), stop=m.end()))
    return sorted(atoms, key=lambda a: a.pos)


def _is_rank(question: str, pos: int) -> bool:
    """"Q4", "week 12", "#3": a number that names a part, not a value to compare with."""
    before = question[max(0, pos - 6):pos].lower()
    return before.endswith(("q", "week ", "#", "w"))


# "at least 3", "at most 2" compare; they rank nothing
_RANK_WORDS = re.compile(r"\b(?:top|bottom|first|last|best|worst|highest|lowest|largest|smallest|biggest|"
                         r"(?<!at )most|(?<!at )least|latest|earliest|newest|oldest|recent)\s+$", re.IGNORECASE)


_SUPERLATIVE_AFTER = re.compile(r"^\s*\S*\s+(?:\w+est|most|least|top|highest|lowest)\b", re.IGNORECASE)


# "which 10 customers have the most ...", "the 5 browser values with the highest ...": a count
# named first, its ranking a few words on
_COUNT_BEFORE = re.compile(r"\b(?:which|what|the|show|list|find|name|give|get|display|return|fetch)\s+$", re.IGNORECASE)
_RANKED_LATER = re.compile(r"^\S+\s+(?:[\w'-]+\s+){0,14}?(?:with|by|have|has|had|having|that|who|ranked|in)\s+"
                           r"(?:the\s+)?(?:\w+est|most|least|top|bottom)\b", re.IGNORECASE)
# "the last 30 days", "first 3 months": a span of time, not a count of rows
_TIME_UNIT = re.compile(r"^\S*\s+(?:calendar\s+)?(?:days?|weeks?|months?|quarters?|years?|hours?|minutes?)\b",
                        re.IGNORECASE)


def _after_rank_word(question: str, pos: int) -> bool:
    """"top 5", "first 3", "the 3 oldest", "5 most active", "which 10 users have the most": a
    count of rows to show."""
    if _TIME_UNIT.match(question[pos:pos + 40]):
        return False
    return bool(_RANK_WORDS.search(question[max(0, pos - 12):pos]) or _SUPERLATIVE_AFTER.match(question[pos:pos + 30])
                or (_COUNT_BEFORE.search(question[max(0, pos - 10):pos]) and _RANKED_LATER.match(question[pos:pos + 200])))


# -- the SQL side ---------------------------------------------------------------------------
@dataclass
class _Lit:
    node: exp.Literal
    kind: str  # date | number
    date: dt.date | None = None
    number: float | None = None
    broken: bool = False  # a date string the model garbled ('#2-12-28'): never explained
    role: str = ""  # how it bounds its column: lo (>=, BETWEEN low), lo_ex (>), hi (<=, BETWEEN high), hi_ex (<)
    ranged: bool = False  # the SQL bounds dates from both sides: lo is a period's first day, hi its last


_ROLES: dict[type[exp.Expr], str] = {exp.GTE: "lo", exp.GT: "lo_ex", exp.LTE: "hi", exp.LT: "hi_ex"}
_FLIPPED: dict[type[exp.Expr], type[exp.Expr]] = {exp.LT: exp.GT, exp.GT: exp.LT, exp.LTE: exp.GTE, exp.GTE: exp.LTE}


def _role(lit: exp.Expr) -> str:
    """How a date literal bounds its column: ``d < lit`` -> "hi_ex", ``lit <= d`` -> "lo", ..."""
    node = lit
    while isinstance(node.parent, exp.Cast):
        node = node.parent
    parent = node.parent
    if parent is None:
        return ""
    if isinstance(parent, exp.Between):
        return "lo" if parent.args.get("low") is node else "hi" if parent.args.get("high") is node else ""
    kind: type[exp.Expr] = type(parent)
    if kind in _FLIPPED and parent.args.get("this") is node:
        kind = _FLIPPED[kind]  # literal on the left: "lit < d" is "d > lit"
    return _ROLES.get(kind, "")


def _sql_literals(tree: exp.Expr) -> list[_Lit]:
    out: list[_Lit] = []
    for lit in tree.find_all(exp.Literal, bfs=False):  # in the order the SQL reads
        if lit.is_string:
            m = _DATE_STRING.match(lit.this)
            if not m:
                if isinstance(lit.parent, exp.Interval) and lit.this.strip().isdigit():
                    out.append(_Lit(lit, "number", number=float(lit.this)))
                continue
            try:
                d = dt.date(int(m["y"]), int(m["m"]), int(m["d"]))
                out.append(_Lit(lit, "date", date=d, role=_role(lit)))
            except ValueError:
                out.append(_Lit(lit, "date", broken=True, role=_role(lit)))
        elif lit.is_number and _in_comparison(lit):
            try:
                out.append(_Lit(lit, "number", number=float(lit.this)))
            except ValueError:
                continue
    return out


def _compares(lit: exp.Literal, columns: set[str]) -> bool:
    """Is ``lit`` compared with (or a bound of) one of ``columns``?"""
    parent = lit.parent.parent if isinstance(lit.parent, exp.Neg) else lit.parent
    return parent is not None and any(isinstance(x, exp.Column) and x.name.lower() in columns
                                      for x in parent.iter_expressions())


def _in_comparison(lit: exp.Literal) -> bool:
    """A number the question could have stated: compared, a bound, listed, an interval, a limit."""
    parent = lit.parent
    if isinstance(parent, exp.Neg):
        parent = parent.parent
    return isinstance(parent, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.In,
                               exp.Interval, exp.Limit))


def _explains_date(atom: Atom, d: dt.date | None, role: str, ranged: bool) -> bool:
    """``d`` bounds ``atom``'s period as ``role`` (see ``_Lit``): its first or last day, or the day
    before or after it as an exclusive bound. A one-sided bound may face either way ("after X" or
    "since X"), a bound of a range faces the period."""
    if atom.kind == "number" or d is None:
        return False
    assert atom.start is not None and atom.end is not None
    day = dt.timedelta(days=1)
    if not role:
        return d in (atom.start, atom.end)
    faces = {"lo": atom.start, "lo_ex": atom.start - day, "hi": atom.end, "hi_ex": atom.end + day}[role]
    if ranged:
        return d == faces
    away = {"lo": atom.end + day, "lo_ex": atom.end, "hi": atom.start - day, "hi_ex": atom.start}[role]
    return d in (faces, away)


def explains_number(atom: Atom, x: float) -> bool:
    """Is ``x`` the number ``atom`` states (35% as 0.35 too), or one of its date's parts?"""
    if atom.kind == "number":
        assert atom.number is not None
        return _same(atom.number, x) or (atom.percent and _same(atom.number / 100, x))
    return any(_same(p, x) for p in atom.parts)


_DATE_PARTS = (exp.Extract, exp.Year, exp.Month, exp.Quarter, exp.Day, exp.DayOfMonth, exp.DayOfWeek, exp.DayOfYear,
               exp.Week, exp.WeekOfYear, exp.Anonymous)


def _may_be_date_part(lit: _Lit) -> bool:
    """Can a stated date's parts explain this number: ``EXTRACT(YEAR FROM d) = 2024``,
    ``MAKE_DATE(2024, 12, 1)``; not a count compared with a plain column (``sessions_count >= 4``
    under "Q4 2023"), a LIMIT ("Q1" is not "LIMIT 1"), nor an INTERVAL ("12/31" is not ``INTERVAL 12 WEEK``)."""
    node = lit.node
    if node.find_ancestor(exp.Interval) is not None or isinstance(node.parent, exp.Limit):
        return False
    parent = node.parent
    while isinstance(parent, (exp.Paren, exp.Neg, exp.Cast)):
        parent = parent.parent
    if isinstance(parent, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.In)):
        return parent.this.find(*_DATE_PARTS) is not None
    return True


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def ground_literals(sql: str, question: str, dialect: str = "duckdb", skip: Collection[tuple[int, int]] = (),
                    skip_columns: Collection[str] = ()) -> tuple[str, list[str]]:
    """(``sql`` with the question's dates and numbers put back, what changed); never raises.
    ``skip``, ``skip_columns``: spans of the question and the columns whose numbers are somebody
    else's (an age and the age column, "session_duration < 750": schemadistill/grounding.py writes
    those tests)."""
    atoms = [a for a in question_atoms(question) if not any(lo <= a.pos < hi for lo, hi in skip)]
    if not sql.strip():
        return sql, []
    body = sql.strip()
    semicolon = body.endswith(";")
    try:
        tree = sqlglot.parse_one(body.rstrip(";"), read=dialect)
    except (SqlglotError, RecursionError, ValueError):
        return sql, []
    if tree is None:
        return sql, []
    changes = _ground_ranges(tree, atoms, question)
    counts = [a.number for a in atoms if a.kind == "number" and a.rank and a.number is not None]
    numbers = [a.number for a in atoms if a.kind == "number" and a.number is not None]
    changes += ground_count(tree, counts, numbers)
    skipped = {c.lower() for c in skip_columns}
    lits = [lit for lit in _sql_literals(tree) if not (skipped and _compares(lit.node, skipped))]
    changes += _ground_day_range(lits, atoms, question)
    changes += _ground_interval_unit(tree, question)
    sides = {lit.role[:2] for lit in lits if lit.kind == "date" and lit.role}
    for lit in lits:
        lit.ranged = sides == {"lo", "hi"}
    changes += _ground_dates(lits, [a for a in atoms if a.kind in ("day", "month", "quarter", "year")], question)
    changes += _ground_grain(tree, [a for a in atoms if a.kind in _GRAINS])
    changes += _ground_numbers(lits, atoms)
    changes += _ground_comparisons(tree, lits, atoms, question)
    changes += _drop_number_dates(lits, atoms)
    changes += _drop_unstated_shift(lits, atoms, question)
    changes += _ground_texts(tree, [a for a in atoms if a.kind == "text"], question)
    changes += _ground_wildcards(tree, [a for a in atoms if a.kind == "text"], question)
    changes += _drop_unstated(tree, lits, atoms, question)
    changes += _order_between(tree)
    changes += ground_one_row(tree, counts, numbers, question, dialect) or drop_unasked_limit(tree, numbers, question)
    changes += show_group_keys(tree)
    changes += drop_self_filtering(tree)
    changes += _ground_percentile(tree, question)
    changes += _ground_direction(tree, question, dialect)
    changes += drop_unasked_rank(tree, question)
    changes += ground_sort(tree, question, dialect, count_stated=any(a.kind == "number" and a.rank for a in atoms))
    if not changes:
        return sql, []
    try:
        out = tree.sql(dialect=dialect)
    except SqlglotError:
        return sql, []
    return out + (";" if semicolon else ""), changes


# a window counted back or forward in words: "the last three months", "90 days before", "past 2 weeks"
SPAN = re.compile(r"\b(?:(?:last|past|previous|prior|trailing|next)\s+(?:\w+\s+)?(?P<u1>day|week|month|quarter|year)s?"
                   r"|(?:\d+|one|a|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\s+"
                   r"(?P<u2>day|week|month|quarter|year)s?\s+(?:before|after|prior|ago|back|earlier|later|ending|"
                   r"up\s+to|until|till|through|leading|preceding))\b",
                   re.IGNORECASE)


def _ground_interval_unit(tree: exp.Expr, question: str) -> list[str]:
    """"in the last three months before 31 December 2024" written ``INTERVAL '3' DAY``: the one
    INTERVAL of the SQL takes the unit of the one window the question counts (number slots and
    the other rules fix its count; the unit was left wrong)."""
    units = {(m["u1"] or m["u2"]).upper() for m in SPAN.finditer(question)}
    intervals = list(tree.find_all(exp.Interval))
    if len(units) != 1 or len(intervals) != 1:
        return []
    unit, interval = units.pop(), intervals[0]
    old = interval.args.get("unit")
    if old is None or old.name.upper().rstrip("S") == unit \
            or old.name.upper().rstrip("S") not in ("DAY", "WEEK", "MONTH", "QUARTER", "YEAR"):
        return []
    interval.set("unit", exp.var(unit))
    return [f"interval unit {old.name.upper()} -> {unit} (the question counts {unit.lower()}s)"]


_DAY_RANGE_GAP = re.compile(r"^\s*(?:-|–|to|through|thru|until|till|and)\s*$", re.IGNORECASE)


def _ground_day_range(lits: list[_Lit], atoms: list[Atom], question: str) -> list[str]:
    """"from 2023-12-18 through 2023-12-28", "between 21 December 2023 and 12/27/2023": the
    question's two days joined as a range go onto the SQL's one ``BETWEEN`` of dates, or onto its
    two bounds of one column (``>= '2023-12-27' AND < '2023-12-23'``: ends crossed, the upper one
    exclusive, so the day after). Pairing literals one by one cannot fix ``BETWEEN '2023-12-28'
    AND '2023-12-28'``: the one stated day explains both ends, and the other stated day looks
    unused but has nothing to replace."""
    days = [a for a in atoms if a.kind == "day"]
    starts = [a.start for a in days if a.start is not None]
    if len(starts) != 2 or len(days) != 2 or not _DAY_RANGE_GAP.match(question[days[0].stop:days[1].pos]):
        return []
    lo, hi = sorted(starts)
    ends = [lit for lit in lits if lit.kind == "date" and isinstance(lit.node.find_ancestor(exp.Between), exp.Between)]
    if len(ends) == 2 and ends[0].node.find_ancestor(exp.Between) is ends[1].node.find_ancestor(exp.Between):
        wanted = {"lo": lo, "hi": hi}
        return [_set_date(lit, wanted[lit.role]) for lit in ends if lit.role in wanted and lit.date != wanted[lit.role]]
    dated = [lit for lit in lits if lit.kind == "date"]
    if len(dated) != 2 or sorted(lit.role[:2] for lit in dated) != ["hi", "lo"] or len({_bounded(lit) for lit in dated}) != 1:
        return []
    day = dt.timedelta(days=1)
    wanted = {"lo": lo, "lo_ex": lo - day, "hi": hi, "hi_ex": hi + day}
    return [_set_date(lit, wanted[lit.role]) for lit in dated if lit.role in wanted and lit.date != wanted[lit.role]]


def _bounded(lit: _Lit) -> str:
    """The column a bound literal compares with (its comparison's other side), as SQL."""
    cmp = lit.node.find_ancestor(exp.GT, exp.GTE, exp.LT, exp.LTE)
    if cmp is None:
        return ""
    on_left = any(n is lit.node for n in cmp.this.find_all(exp.Literal))
    return (cmp.expression if on_left else cmp.this).sql()


def _ground_dates(lits: list[_Lit], periods: list[Atom], question: str) -> list[str]:
    dates = [lit for lit in lits if lit.kind == "date"]
    if not dates or not periods:
        return []
    unexplained = [lit for lit in dates
                   if lit.broken or not any(_explains_date(a, lit.date, lit.role, lit.ranged) for a in periods)]
    unused = [a for a in periods if not any(_explains_date(a, lit.date, lit.role, lit.ranged) for lit in dates)
              and not _written_as_parts(a, lits)]
    if not unexplained or not unused:
        return []
    if len(unused) == len(unexplained) and all(a.kind == "day" for a in unused):
        return [_set_date(lit, _day_for(lit, a, question)) for lit, a in zip(unexplained, unused, strict=True)]
    if len(unused) == 1 and all(not lit.broken for lit in unexplained):
        moved = _shift(unexplained, unused[0])
        if moved is not None:
            return [_set_date(lit, d) for lit, d in zip(unexplained, moved, strict=True)]
    if len(unused) == 1 and all(lit.broken for lit in unexplained):
        years = [_with_year(lit, unused[0]) for lit in unexplained]
        if all(d is not None for d in years):
            return [_set_date(lit, d) for lit, d in zip(unexplained, years, strict=True)]
    return []


def _with_year(lit: _Lit, atom: Atom) -> dt.date | None:
    """A garbled date ('10197-05-01' under "in May of 2024": a number copied over the year) with
    the stated period's year, when its month and day then bound that period as the SQL uses it."""
    m = _DATE_STRING.match(lit.node.this)
    if m is None or atom.start is None or atom.end is None:
        return None
    for year in dict.fromkeys((atom.start.year, atom.end.year)):
        try:
            d = dt.date(year, int(m["m"]), int(m["d"]))
        except ValueError:
            continue
        if _explains_date(atom, d, lit.role, lit.ranged):
            return d
    return None


_GRAINS = {"day": "DAY", "month": "MONTH", "quarter": "QUARTER", "year": "YEAR"}


def _ground_grain(tree: exp.Expr, periods: list[Atom]) -> list[str]:
    """``DATE_TRUNC(unit, d) = 'first day'`` whose first day starts a stated period of another
    grain only ("in 2023" as ``DATE_TRUNC('MONTH', d) = '2023-01-01'``: January, not the year)
    gets the period's grain. A date column equal to the first day of the one period stated
    there ("for 2024-10" as ``d = '2024-10-01'``), which no stated day explains, is truncated to
    that period: the question asks about the month, not its first day."""
    changes: list[str] = []
    for eq in list(tree.find_all(exp.EQ)):
        for side, other in ((eq.this, eq.expression), (eq.expression, eq.this)):
            trunc = side.this if isinstance(side, exp.Cast) else side
            lit = other.this if isinstance(other, exp.Cast) else other
            if isinstance(trunc, exp.Column) and isinstance(lit, exp.Literal) and lit.is_string:
                change = _truncate_to_period(eq, trunc, lit, periods)
                if change:
                    changes.append(change)
                    break
            if not (isinstance(trunc, (exp.TimestampTrunc, exp.DateTrunc)) and isinstance(lit, exp.Literal)
                    and lit.is_string and isinstance(trunc.args.get("unit"), exp.Var)):
                continue
            day = _day(lit.this)
            unit = trunc.args["unit"].name.upper()
            grains = {_GRAINS[a.kind] for a in periods if a.start == day}
            if len(grains) == 1 and unit not in grains and unit in _GRAINS.values():
                grain = grains.pop()
                trunc.set("unit", exp.var(grain))
                changes.append(f"period {unit.lower()} -> {grain.lower()} of {lit.this}")
            break
    return changes


def _day(text: str) -> dt.date | None:
    """The day a SQL date string names, or None (not a date, or a garbled one)."""
    m = _DATE_STRING.match(text)
    try:
        return dt.date(int(m["y"]), int(m["m"]), int(m["d"])) if m else None
    except ValueError:
        return None


def _truncate_to_period(eq: exp.EQ, col: exp.Column, lit: exp.Literal, periods: list[Atom]) -> str | None:
    day = _day(lit.this)
    starting = [a for a in periods if a.start == day]
    if day is None or len(starting) != 1 or starting[0].kind == "day" \
            or any(a.kind == "day" and a.start == day for a in periods):
        return None
    grain = _GRAINS[starting[0].kind]
    trunc = exp.Cast(this=exp.DateTrunc(unit=exp.var(grain), this=col.copy()), to=exp.DataType.build("DATE"))
    old = eq.sql()
    col.replace(trunc)
    return f"{old} -> the {grain.lower()} of {lit.this} (the question states that period, not its first day)"


_EXCLUSIVE_BEFORE = re.compile(r"(?<!\bno )(?<!\bnot )(?<!\bor )\b(?:before|earlier than|prior to|after|later than|past)\s+"
                               r"(?:\w+,?\s+)?$", re.IGNORECASE)


def _day_for(lit: _Lit, atom: Atom, question: str) -> dt.date:
    """The date that states day ``atom`` in ``lit``'s place. A bound of a range includes the day
    ("from Nov 27 through Dec 29" as ``< '12-30'``); a one-sided ``<`` or ``>=`` excludes it only
    after "before", "after", "later than"... ("after Dec 13" as ``>= '12-14'``)."""
    assert atom.start is not None
    day = dt.timedelta(days=1)
    exclusive = bool(_EXCLUSIVE_BEFORE.search(question[max(0, atom.pos - 30):atom.pos]))
    if lit.role == "hi_ex" and (lit.ranged or not exclusive):
        return atom.start + day
    if lit.role == "lo_ex" and lit.ranged:
        return atom.start - day
    if lit.role == "lo" and exclusive and not lit.ranged:
        return atom.start + day
    return atom.start


def _written_as_parts(atom: Atom, lits: list[_Lit]) -> bool:
    """``YEAR(d) = 2023 AND MONTH(d) = 12``: the SQL names the period with numbers, not dates."""
    numbers = [lit.number for lit in lits if lit.kind == "number"]
    return bool(atom.parts) and all(any(n is not None and _same(p, n) for n in numbers) for p in atom.parts[:2])


def _shift(lits: list[_Lit], atom: Atom) -> list[dt.date] | None:
    """The literals moved together so the earliest becomes ``atom``'s start, if all then bound it."""
    assert atom.start is not None
    first = min(lit.date for lit in lits if lit.date is not None)
    out: list[dt.date] = []
    for lit in lits:
        assert lit.date is not None
        if atom.kind == "day":
            d: dt.date | None = lit.date + (atom.start - first)
        else:
            months = (atom.start.year - first.year) * 12 + atom.start.month - first.month
            d = _add_months(lit.date, months)
            if d is not None and lit.date == _month_end(lit.date.year, lit.date.month):
                d = _month_end(d.year, d.month)  # a period's last day stays its last day
        if d is None or not _explains_date(atom, d, lit.role, lit.ranged):
            return None
        out.append(d)
    return out


def _add_months(d: dt.date, n: int) -> dt.date | None:
    y, m = divmod(d.month - 1 + n, 12)
    try:
        return d.replace(year=d.year + y, month=m + 1, day=min(d.day, calendar.monthrange(d.year + y, m + 1)[1]))
    except ValueError:
        return None


def _set_date(lit: _Lit, d: dt.date | None) -> str:
    assert d is not None
    old = lit.node.this
    lit.node.set("this", d.isoformat())
    lit.date, lit.broken = d, False
    return f"date {old} -> {d.isoformat()}"


# Only patterns: an equality's value is value grounding's (schemadistill/grounding.py), which knows
# the data's spelling ("france" quoted, 'France' stored); a fragment ('%ari') has no such check.
_TEXT_TESTS = (exp.Like, exp.ILike)


def _ground_texts(tree: exp.Expr, quoted: list[Atom], question: str) -> list[str]:
    """A LIKE pattern whose text the question never says ('%ome'), where the question quotes one
    the SQL never uses ("ending with 'ari'"): the quoted one, wildcards kept."""
    if not quoted:
        return []
    said = question.lower()
    tested = [lit for lit in tree.find_all(exp.Literal, bfs=False)
              if lit.is_string and not _DATE_STRING.match(lit.this) and isinstance(lit.parent, _TEXT_TESTS)]
    core = {id(lit): lit.this.strip("%_") for lit in tested}
    unexplained = [lit for lit in tested if core[id(lit)].lower() not in said]
    used = {c.lower() for c in core.values()}
    unused = [a for a in quoted if a.text.lower() not in used]
    if not unexplained or len(unexplained) != len(unused):
        return []
    changes = []
    for lit, atom in zip(unexplained, unused, strict=True):
        old = lit.this
        start, end = len(old) - len(old.lstrip("%_")), len(old.rstrip("%_"))
        new = old[:start] + atom.text + old[end:]
        lit.set("this", new)
        changes.append(f"text '{old}' -> '{new}'")
    return changes


# a day as ISO text, which sorts as the days do
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _order_between(tree: exp.Expr) -> list[str]:
    """``x BETWEEN '2023-12-27' AND '2023-12-14'`` (or ``BETWEEN 900 AND 100``) holds no row: the
    two ends the other way round are what any question means (session 26, read from k24's misses)."""
    changes = []
    for node in tree.find_all(exp.Between):
        lo, hi = node.args.get("low"), node.args.get("high")
        if lo is None or hi is None:
            continue
        a, b = _between_end(lo), _between_end(hi)
        if isinstance(a, str) and isinstance(b, str) and a > b or isinstance(a, float) and isinstance(b, float) and a > b:
            node.set("low", hi.copy())
            node.set("high", lo.copy())
            changes.append(f"BETWEEN {lo.sql()} AND {hi.sql()} -> ends swapped")
    return changes


def _between_end(e: exp.Expr) -> float | str | None:
    """A BETWEEN end as a comparable value: a number, or an ISO day ('2023-12-14', CAST or DATE)."""
    while isinstance(e, exp.Cast | exp.Paren):
        e = e.this
    if isinstance(e, exp.Literal):
        if e.is_string:
            return e.this if ISO_DAY.fullmatch(e.this) else None  # compares as text
        return literal_number(e)
    return None


# the words before a quoted fragment that say where it sits: (wildcard before, wildcard after)
# (the teacher's words, teacher/lexicon_data.py, but a bare "with", which "satrting with" would be)
_WHERE_IN_TEXT = ((re.compile(r"\b(?:start(?:s|ing)?|begin(?:s|ning)?|prefixed)\s+with\s*$", re.IGNORECASE), ("", "%")),
                  (re.compile(r"\b(?:end(?:s|ing)?\s+(?:with|in)|suffixed\s+with)\s*$", re.IGNORECASE), ("%", "")),
                  (re.compile(r"\b(?:contain(?:s|ing)?|includ(?:es|ing)|has|mentioning)\s*$", re.IGNORECASE),
                   ("%", "%")))


def _ground_wildcards(tree: exp.Expr, quoted: list[Atom], question: str) -> list[str]:
    """A LIKE pattern with the question's quoted text and the wildcards of another place: OS
    'containing "ndroi"' written ``LIKE '%ndroi'`` (session 26, read from k24's misses). The
    words before the quote say where it sits: containing, starting with, ending with/in."""
    changes = []
    for atom in quoted:
        before = question[:atom.pos].rstrip(" \"'")
        want = next((w for rx, w in _WHERE_IN_TEXT if rx.search(before)), None)
        if want is None:
            continue
        pattern = want[0] + atom.text + want[1]
        hits = [lit for lit in tree.find_all(exp.Literal) if lit.is_string and isinstance(lit.parent, _TEXT_TESTS)
                and lit.this.strip("%").lower() == atom.text.lower() and lit.this != pattern]
        if len(hits) == 1 and hits[0].this.strip("%") == atom.text:
            old = hits[0].this
            hits[0].set("this", pattern)
            changes.append(f"pattern '{old}' -> '{pattern}' (the question's words place the text)")
    return changes


def _ground_numbers(lits: list[_Lit], atoms: list[Atom]) -> list[str]:
    numbers = [lit for lit in lits if lit.kind == "number"]
    stated = [a for a in atoms if a.kind == "number"]
    if not numbers or not stated:
        return []
    # each stated number explains one use, in order; a period's parts explain any number of uses
    left = list(stated)
    unexplained: list[_Lit] = []
    for lit in numbers:
        assert lit.number is not None
        hit = next((a for a in left if explains_number(a, lit.number)), None)
        if hit is not None:
            left.remove(hit)
        elif not ((lit.number in (0.0, 1.0) and not _limit_under_count(lit, left))
                  or (_may_be_date_part(lit) and any(explains_number(a, lit.number) for a in atoms
                                                     if a.kind != "number"))):
            unexplained.append(lit)
    unused = [a for a in left if not any(lit.number is not None and explains_number(a, lit.number)
                                         for lit in numbers)]
    if not unexplained or len(unused) != len(unexplained):
        return []
    if any(isinstance(lit.node.parent, exp.Limit) and not atom.rank for lit, atom in zip(unexplained, unused, strict=True)):
        return []  # "aged 30 and above" never becomes LIMIT 30
    changes = []
    for lit, atom in zip(unexplained, unused, strict=True):
        assert atom.number is not None
        value = atom.number / 100 if atom.percent and lit.number is not None and abs(lit.number) < 1 else atom.number
        text = str(int(value)) if value == int(value) else repr(value)
        changes.append(f"number {lit.node.this} -> {text}")
        lit.node.set("this", text)
        lit.number = value
    return changes


_CMP_OPS: dict[str, type[exp.Expr]] = {">": exp.GT, ">=": exp.GTE, "<": exp.LT, "<=": exp.LTE, "=": exp.EQ,
                                       "<>": exp.NEQ}
_CMP_NAMES = {v: k for k, v in _CMP_OPS.items()}
_MIRROR = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "=": "=", "<>": "<>"}


def _comparison(lit: _Lit) -> tuple[exp.Expr, exp.Expr, str] | None:
    """(comparison node, the side it compares the number with, op read as ``side op number``) when
    ``lit`` is one side of a plain comparison."""
    node, parent = lit.node, lit.node.parent
    op = _CMP_NAMES.get(type(parent)) if parent is not None else None
    if op is None or parent is None:
        return None
    if parent.args.get("this") is node:
        return parent, parent.args["expression"], _MIRROR[op]
    return parent, parent.args["this"], op


def _ground_comparisons(tree: exp.Expr, lits: list[_Lit], atoms: list[Atom], question: str) -> list[str]:
    """A number the question states once with a comparison ("at least 35", "500 or less"): the
    SQL's tests of that number, all on one column or expression, say it that way. Where one
    of them does, the others go (``age >= 35 AND age <= 35``), as do the column's other AND-ed
    tests of a number the question states nowhere (``age < 35 AND age < 71`` for "lower than
    71"); where the one test compares the other way, it turns (``<= 35`` -> ``>= 35``)."""
    numbers = [a for a in atoms if a.kind == "number" and not a.rank]
    rng = _stated_range(atoms, question)
    changes: list[str] = []
    for atom in numbers:
        assert atom.number is not None
        if rng is not None and atom.number in rng or sum(_same(a.number or 0.0, atom.number) for a in numbers) > 1:
            continue  # a range's ends are the range rule's; a number stated twice may be either
        want = stated_comparison(question, atom.pos, atom.stop)
        if want is None or (want in ("=", "<>") and atom.number in (0.0, 1.0)):
            continue  # "is_fraud = 0" is a flag's test, and flags are value grounding's
        tests = [c for lit in lits if lit.kind == "number" and lit.node.parent is not None
                 and lit.number is not None and explains_number(atom, lit.number)
                 and (c := _comparison(lit)) is not None]
        if not tests or len({side.sql().lower() for _, side, _ in tests}) != 1:
            continue
        agree = [cmp for cmp, _, op in tests if op == want]
        if agree:
            key = tests[0][1].sql().lower()
            unstated = [t for lit in lits if lit.kind == "number" and lit.number is not None
                        and lit.number not in (0.0, 1.0) and not any(explains_number(a, lit.number) for a in atoms)
                        and (t := _comparison(lit)) is not None]
            others = [cmp for cmp, _, op in tests if op != want] + [
                cmp for cmp, other, _ in unstated if other.sql().lower() == key]
            for cmp in others:
                top = outer_paren(cmp)
                if cmp.parent is not None and is_where_conjunct(top):
                    changes.append(f"dropped {cmp.sql()} (the question says {key} {want} {_fmt(atom.number)})")
                    remove_conjunct(top)
        elif len(tests) == 1:
            cmp, side, op = tests[0]
            lit_left = cmp.args.get("this") is not side
            new_op = _MIRROR[want] if lit_left else want
            new = _CMP_OPS[new_op](this=cmp.args["this"].copy(), expression=cmp.args["expression"].copy())
            changes.append(f"{cmp.sql()} -> {new.sql()} (the question says {want} {_fmt(atom.number)})")
            cmp.replace(new)
    return changes


def _drop_number_dates(lits: list[_Lit], atoms: list[Atom]) -> list[str]:
    """Take out a WHERE date condition whose year is a number the question states for something
    else (``DATE_TRUNC('year', d) = '500-01-01'`` beside ``duration <= 500``): a small model
    copies the number it was given into the date of the pairs it resembles; no period of the
    question explains the date."""
    numbers = {a.number for a in atoms if a.kind == "number"}
    periods = [a for a in atoms if a.kind in ("day", "month", "quarter", "year")]
    changes: list[str] = []
    for lit in lits:
        if lit.kind != "date" or lit.date is None or float(lit.date.year) not in numbers \
                or any(_explains_date(a, lit.date, lit.role, lit.ranged) for a in periods):
            continue
        if lit.node.parent is None or lit.node.find_ancestor(exp.Where) is None:
            continue
        conj = _conjunct(lit.node) or _date_test(lit.node)
        if conj is None:
            continue
        text = conj.sql()
        remove_conjunct(conj)
        changes.append(f"dropped {text} (its year {lit.date.year} is a number of the question, not a date)")
    return changes


# words that make a period relative to a day: "the last 30 days", "two weeks ago", "within a month"
_RELATIVE = re.compile(r"\b(?:last|past|previous|prior|preceding|within|ago|recent\w*|next|following|rolling|"
                       r"trailing|earlier|later|before|after|since|until|up\s+to)\b", re.IGNORECASE)


def _drop_unstated_shift(lits: list[_Lit], atoms: list[Atom], question: str) -> list[str]:
    """``DATE '2024-12-24' - INTERVAL 2 WEEK`` where the question states that day and no period
    relative to it ("from 24th of December 2024 onwards"): the shift goes, the day stays. A small
    model copies the ``- INTERVAL`` of the "last N days" pairs it resembles; a number of days
    nobody stated is never right."""
    if _RELATIVE.search(question.replace("onwards", "")):
        return []
    changes: list[str] = []
    for lit in lits:
        interval = lit.node.parent
        # a stated date's year is no count of days ("from 24th of December 2024 onwards")
        if lit.kind != "number" or lit.number is None or not isinstance(interval, exp.Interval) \
                or any(a.kind == "number" and explains_number(a, lit.number) for a in atoms):
            continue
        shift = interval.parent
        if not isinstance(shift, (exp.Add, exp.Sub)) or shift.args.get("expression") is not interval:
            continue
        day = shift.this
        inner = day.this if isinstance(day, exp.Cast) else day
        if not (isinstance(inner, exp.Literal) and inner.is_string and _DATE_STRING.match(inner.this)):
            continue
        text = shift.sql()
        shift.replace(day.copy())
        changes.append(f"{text} -> {day.sql()} (the question states no period before or after that day)")
    return changes


def _date_test(node: exp.Expr) -> exp.Expr | None:
    """The AND-ed WHERE comparison holding ``node`` however deep (``CAST(DATE_TRUNC(...)) = 'x'``)."""
    cmp = node.find_ancestor(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)
    if cmp is None:
        return None
    top = outer_paren(cmp)
    return top if is_where_conjunct(top) else None


def _limit_under_count(lit: _Lit, left: list[Atom]) -> bool:
    """``LIMIT 1`` where the question states a count of rows ("top 10 shoppers"): the 1 is the
    model's, not an "any" or a flag, so it is as open to replacement as any other number."""
    return isinstance(lit.node.parent, exp.Limit) and any(a.rank and a.number not in (0.0, 1.0) for a in left)


_RANGE_GAP = re.compile(r"^\s*(?:-|–|to|and)\s*$", re.IGNORECASE)
_BETWEEN_BEFORE = re.compile(r"\bbetween\s*$", re.IGNORECASE)
_BOUNDS = {exp.GT: "lo", exp.GTE: "lo", exp.LT: "hi", exp.LTE: "hi"}


def _stated_range(atoms: list[Atom], question: str) -> tuple[float, float] | None:
    """The one range the question states ("aged 25-35", "30 to 40", "between 100 and 900"), if one."""
    nums = [a for a in atoms if a.kind == "number" and not a.rank and not a.percent]
    found = []
    for a, b in zip(nums, nums[1:], strict=False):
        assert a.number is not None and b.number is not None
        gap = question[a.stop:b.pos]
        if a.number < b.number and _RANGE_GAP.match(gap) and (
                gap.strip().lower() != "and" or _BETWEEN_BEFORE.search(question[:a.pos])):
            found.append((a.number, b.number))
    return found[0] if len(found) == 1 else None


def literal_number(node: exp.Expr) -> float | None:
    """The value of a number literal; None for anything else."""
    if isinstance(node, exp.Literal) and node.is_number:
        try:
            return float(node.this)
        except ValueError:
            return None
    return None


def _ground_ranges(tree: exp.Expr, atoms: list[Atom], question: str) -> list[str]:
    """The question's one range onto the SQL's one range test that does not say it: ``BETWEEN x
    AND y``, or ``col >= x AND col <= y`` on one column, gets its bounds; failing those, a lone
    ``col op x`` whose x is an end of the range or no stated number becomes ``col BETWEEN lo AND
    hi``. A small
    model writes the range's shape and the training data's numbers ("aged 25-35" as
    ``age BETWEEN 35 AND 82``), and pairing numbers one by one would cross them."""
    rng = _stated_range(atoms, question)
    if rng is None:
        return []
    stated = {a.number for a in atoms if a.kind == "number"}
    betweens = [b for b in tree.find_all(exp.Between) if literal_number(b.args["low"]) is not None
                and literal_number(b.args["high"]) is not None]
    if len(betweens) == 1:
        return _put_range((betweens[0], "low"), (betweens[0], "high"), rng)
    if betweens:
        return _drop_other_ranges(betweens, rng)
    bounds: dict[str, dict[str, list[exp.Expr]]] = {}
    for cmp in tree.find_all(*_BOUNDS):
        col, num = cmp.this, cmp.expression
        if isinstance(col, exp.Column) and literal_number(num) is not None and is_where_conjunct(outer_paren(cmp)):
            bounds.setdefault(col.sql().lower(), {"lo": [], "hi": []})[_BOUNDS[type(cmp)]].append(cmp)
    pairs = [(k, v) for k, v in bounds.items() if len(v["lo"]) == 1 and len(v["hi"]) == 1]
    if len(pairs) == 1:
        (low,), (high,) = pairs[0][1]["lo"], pairs[0][1]["hi"]
        return _put_range((low, "expression"), (high, "expression"), rng)
    if pairs:
        return []
    # one bound whose number is the range's own or no stated number ("aged 25-35" as ``age >= 35``)
    lone = [c for v in bounds.values() for c in v["lo"] + v["hi"]
            if literal_number(c.expression) in rng or literal_number(c.expression) not in stated]
    if len(lone) != 1:
        return []
    bound = lone[0]
    old = bound.sql()
    lo, hi = (exp.Literal.number(_fmt(x)) for x in rng)
    bound.replace(exp.Between(this=bound.this.copy(), low=lo, high=hi))
    return [f"range {old} -> BETWEEN {_fmt(rng[0])} AND {_fmt(rng[1])}"]


def _drop_other_ranges(betweens: list[exp.Between], rng: tuple[float, float]) -> list[str]:
    """Several ``BETWEEN`` tests of one column, one of them the stated range: the others go
    (``revenue BETWEEN 0 AND 1700 AND revenue BETWEEN 0 AND 1`` for "between 0 and 1.7k")."""
    stated = [b for b in betweens if (literal_number(b.args["low"]), literal_number(b.args["high"])) == rng]
    if len(stated) != 1 or len({b.this.sql().lower() for b in betweens}) != 1:
        return []
    changes = []
    for b in betweens:
        top = outer_paren(b)
        if b is not stated[0] and is_where_conjunct(top):
            changes.append(f"dropped {b.sql()} (the question states the range {_fmt(rng[0])} to {_fmt(rng[1])})")
            remove_conjunct(top)
    return changes


def _put_range(low: tuple[exp.Expr, str], high: tuple[exp.Expr, str], rng: tuple[float, float]) -> list[str]:
    """Set the number under ``low`` = (node, arg) and ``high`` to the range's ends, unless they are."""
    (a, ka), (b, kb) = low, high
    if (literal_number(a.args[ka]), literal_number(b.args[kb])) == rng:
        return []
    old = f"{a.args[ka].sql()} .. {b.args[kb].sql()}"
    a.set(ka, exp.Literal.number(_fmt(rng[0])))
    b.set(kb, exp.Literal.number(_fmt(rng[1])))
    return [f"range {old} -> {_fmt(rng[0])} .. {_fmt(rng[1])}"]


def _fmt(x: float) -> str:
    return str(int(x)) if x == int(x) else repr(x)


# Words that put a question in time without a date the atoms read ("last week", "monthly", "in
# December"): a date condition under them may be what the user meant.
_TIME_WORDS = re.compile(
    r"\b(?:last|past|previous|prior|this|current|recent\w*|today|yesterday|tomorrow|ago|since|until|till|"
    r"before|after|during|between|from|daily|weekly|monthly|quarterly|yearly|annual\w*|day|days|week|weeks|"
    r"month|months|quarter|quarters|year|years|date|dates|time|period|season\w*|weekend\w*|weekday\w*|"
    r"holiday\w*|ytd|mtd|q[1-4]|" + "|".join(_MONTHS) + r")\b", re.IGNORECASE)


def _drop_unstated(tree: exp.Expr, lits: list[_Lit], atoms: list[Atom], question: str) -> list[str]:
    """Take out a WHERE condition on a date when the question states no time at all, and one
    comparing a column with a number (not 0 or 1) when the question states no number: a small
    model copies whole filters from the training pairs it resembles ("IQR of session duration"
    -> ``... AND u.age >= 25``, ``= '#1-01-01'``), and nothing in such a question can correct them."""
    no_time = not any(a.kind in ("day", "month", "quarter", "year") for a in atoms) and not _TIME_WORDS.search(question)
    no_number = not any(a.kind == "number" for a in atoms)
    if not (no_time or no_number):
        return []
    changes: list[str] = []
    for lit in lits:
        node = lit.node
        if node.parent is None or node.find_ancestor(exp.Where) is None:
            continue  # already gone with an earlier conjunct, or outside a WHERE
        unstated = (lit.kind == "date" and no_time) or (
            lit.kind == "number" and no_number and lit.number not in (0.0, 1.0)
            and not isinstance(node.parent, exp.Limit) and node.find_ancestor(exp.Interval) is None)
        if not unstated:
            continue
        conj = _conjunct(node)
        if conj is None:
            continue
        if lit.kind == "number" and not _plain_column_test(conj):
            continue  # YEAR(d) = 2024 states a period; arithmetic may be anything
        text = conj.sql()
        remove_conjunct(conj)
        changes.append(f"dropped {text} (the question states no {'time' if lit.kind == 'date' else 'number'})")
    return changes


_PERCENTILE = re.compile(r"\b(?:(?P<n>\d{1,2})(?:st|nd|rd|th)\s+percentile|p(?P<p>\d{2})\b|(?P<median>median)|"
                         r"(?P<upper>upper|third|3rd)\s+quartile|(?P<lower>lower|first|1st)\s+quartile)", re.IGNORECASE)


def _ground_percentile(tree: exp.Expr, question: str) -> list[str]:
    """The one percentile a question states ("the 90th percentile", "p75", "the median", "the
    upper quartile") goes into the SQL's one quantile aggregate (``MEDIAN(x)`` for "90th
    percentile" -> ``QUANTILE_CONT(x, 0.9)``): a small model writes the median it saw most.
    A list of them ("the 25th, 50th and 75th percentiles") goes onto the SQL's columns of
    percentiles of one measure (:func:`_ground_percentile_list`)."""
    listed = _PERCENTILE_LIST.search(question)
    if listed:
        return _ground_percentile_list(tree, sorted({int(n) / 100 for n in re.findall(r"\d+", listed.group(0))}))
    stated = set()
    for m in _PERCENTILE.finditer(question):
        stated.add(0.5 if m["median"] else 0.75 if m["upper"] else 0.25 if m["lower"]
                   else int(m["n"] or m["p"]) / 100)
    if len(stated) != 1:
        return []  # none, or several ("the median and the 90th percentile", an IQR): the model's
    want = stated.pop()
    found = [n for n in tree.find_all(exp.Median, exp.PercentileCont, exp.PercentileDisc, exp.Quantile)
             if not isinstance(n.parent, exp.WithinGroup)]
    if len(found) > 1 and 0 < want < 1 and not _SEVERAL_PERCENTILES.search(question) \
            and len(re.findall(r"\b\d{1,2}(?:st|nd|rd|th)\b", question)) <= 1:
        return _drop_other_percentiles(tree, found, want)
    if len(found) != 1 or not 0 < want < 1:
        return []
    node = found[0]
    frac = node.args.get("quantile") if isinstance(node, exp.Quantile) else node.args.get("expression")
    have = 0.5 if isinstance(node, exp.Median) else literal_number(frac) if frac is not None else None
    if have is None or _same(have, want):
        return []
    old = node.sql()
    if isinstance(node, exp.Median):
        node.replace(exp.PercentileCont(this=node.this.copy(), expression=exp.Literal.number(_fmt(want))))
    else:
        assert frac is not None
        frac.replace(exp.Literal.number(_fmt(want)))
    return [f"{old} -> the {_fmt(round(want * 100, 6))}th percentile (the question states it)"]


# "the 25th, 50th and 75th percentiles", "25th and 75th percentile"
_PERCENTILE_LIST = re.compile(r"\b\d{1,2}(?:st|nd|rd|th)(?:\s*(?:,|and|&|,\s*and)\s*(?:the\s+)?\d{1,2}(?:st|nd|rd|th))+"
                              r"\s+percentiles?\b", re.IGNORECASE)


def _ground_percentile_list(tree: exp.Expr, want: list[float]) -> list[str]:
    """The stated percentiles onto the outer SELECT's percentile columns of one measure: as many
    columns as stated take the stated fractions in order ("25th and 75th" written as 0.25 and
    0.5); fewer, all of them stated, get the missing ones beside them ("25th, 50th and 75th"
    written as 0.25 and 0.75). Anything else is the model's."""
    if not isinstance(tree, exp.Select) or not want or not all(0 < w < 1 for w in want):
        return []
    found = [n for n in tree.find_all(exp.Median, exp.PercentileCont, exp.PercentileDisc, exp.Quantile)
             if not isinstance(n.parent, exp.WithinGroup)]
    columns = [next((p for p in tree.expressions if p is n or p.unalias() is n), None) for n in found]
    fractions = [_fraction(n) for n in found]
    if not found or any(c is None for c in columns) or any(f is None for f in fractions) \
            or len({n.this.sql() for n in found}) != 1:
        return []
    have = sorted(f for f in fractions if f is not None)
    if len(have) == len(want) and all(_same(a, b) for a, b in zip(have, want, strict=True)):
        return []
    measure = found[0].this
    if len(found) == len(want):
        changes = []
        order = sorted(range(len(found)), key=lambda i: fractions[i] or 0.0)
        for i, w in zip(order, want, strict=True):
            if not _same(fractions[i] or 0.0, w):
                old = found[i].sql()
                found[i].replace(exp.PercentileCont(this=measure.copy(), expression=exp.Literal.number(_fmt(w))))
                changes.append(f"{old} -> the {_fmt(round(w * 100, 6))}th percentile (the question lists it)")
        return changes
    if len(found) > len(want) or not all(any(_same(f, w) for w in want) for f in have):
        return []
    name = measure.name if isinstance(measure, exp.Column) else "value"
    placed = sorted(((f or 0.0, c) for f, c in zip(fractions, columns, strict=True)), key=lambda fc: fc[0])
    missing = [w for w in want if not any(_same(f, w) for f in have)]
    for w in missing:  # each beside its neighbours, so the columns read in order
        alias = f"{'median' if _same(w, 0.5) else f'p{_fmt(round(w * 100, 6))}'}_{name}"
        col = exp.alias_(exp.PercentileCont(this=measure.copy(), expression=exp.Literal.number(_fmt(w))), alias)
        below = [c for f, c in placed if f < w]
        at = tree.expressions.index(below[-1]) + 1 if below else tree.expressions.index(placed[0][1])
        projections = list(tree.expressions)
        projections.insert(at, col)
        tree.set("expressions", projections)
        placed = sorted([*placed, (w, col)], key=lambda fc: fc[0])
    return [f"added the {', '.join(_fmt(round(w * 100, 6)) + 'th' for w in missing)} percentile (the question lists it)"]


def _ground_direction(tree: exp.Expr, question: str, dialect: str) -> list[str]:
    """The outer ``ORDER BY key ... LIMIT n`` sorts the way the question ranks: "the leading 3
    buyers by age" is ``age DESC``, "bottom ten users by age" ``age ASC``. Only the first key
    turns (the rest are tie-breakers); a key with NULLS FIRST/LAST written out is left alone."""
    if not isinstance(tree, exp.Select) or tree.args.get("limit") is None:
        return []
    order = tree.args.get("order")
    if order is None or not order.expressions or not isinstance(order.expressions[0], exp.Ordered):
        return []
    first = order.expressions[0]
    aggregated = {p.alias.lower() for p in tree.expressions if isinstance(p, exp.Alias) and p.find(exp.AggFunc)}
    plain = first.this.find(exp.AggFunc) is None and not (
        isinstance(first.this, exp.Column) and first.this.name.lower() in aggregated)
    # "the top ten users by lowest age" ranks a column ASC whatever "top" says; over an aggregate
    # the superlative may name it instead ("rank countries by the lowest age, the top one": MIN DESC)
    want = (by_superlative(question) if plain else None) or stated_direction(question)
    if want is None:
        return []
    desc = bool(first.args.get("desc"))
    if desc == (want == "DESC"):
        return []
    if bool(first.args.get("nulls_first")) != default_nulls_first(dialect, desc):
        return []
    first.set("desc", want == "DESC")
    first.set("nulls_first", default_nulls_first(dialect, want == "DESC"))
    return [f"order by {first.this.sql()} {'DESC' if desc else 'ASC'} -> {want} (the question ranks that way)"]


# "the 25th and 75th percentiles", "quartiles", "the IQR": several asked for, none to drop
_SEVERAL_PERCENTILES = re.compile(r"\b(?:percentiles|quartiles|quantiles|iqr|interquartile|spread|range)\b", re.IGNORECASE)


def _fraction(node: exp.Expr) -> float | None:
    if isinstance(node, exp.Median):
        return 0.5
    frac = node.args.get("quantile") if isinstance(node, exp.Quantile) else node.args.get("expression")
    return literal_number(frac) if frac is not None else None


def _drop_other_percentiles(tree: exp.Expr, found: Sequence[exp.Expr], want: float) -> list[str]:
    """"the 90th percentile" written as the 90th and the 95th, each its own column of the outer
    SELECT: the columns of percentiles nobody asked for go."""
    if not isinstance(tree, exp.Select):
        return []
    columns = [next((p for p in tree.expressions if p is n or p.unalias() is n), None) for n in found]
    fractions = [_fraction(n) for n in found]
    if any(c is None for c in columns) or not any(f is not None and _same(f, want) for f in fractions):
        return []
    changes = []
    for col, frac in zip(columns, fractions, strict=True):
        if col is not None and (frac is None or not _same(frac, want)):
            col.pop()
            changes.append(f"dropped {col.sql()} (the question asks for the {_fmt(round(want * 100, 6))}th percentile only)")
    return changes


def _conjunct(node: exp.Expr) -> exp.Expr | None:
    """The comparison holding ``node`` when it is one AND-ed condition of a WHERE, else None."""
    cond = node.parent
    while isinstance(cond, (exp.Cast, exp.Neg, exp.Paren)) or (
            cond is not None and type(cond).__name__ in ("TsOrDsToDate", "StrToDate")):
        cond = cond.parent
    if not isinstance(cond, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.In)):
        return None
    top = outer_paren(cond)
    return top if is_where_conjunct(top) else None


def _plain_column_test(conj: exp.Expr) -> bool:
    """``col op number`` / ``col BETWEEN a AND b`` / ``col IN (...)`` on a bare column."""
    while isinstance(conj, exp.Paren):
        conj = conj.this
    return isinstance(conj.this, exp.Column) and all(
        not isinstance(x, exp.Column) for k, x in conj.args.items() if k != "this" and isinstance(x, exp.Expr))


def _whole_step(lit: _Lit, atoms: list[Atom]) -> bool:
    """``COUNT(DISTINCT browser) >= 2`` for "more than one browser", ``<= 2`` for "fewer than 3":
    a count's bound one whole step inside the stated number."""
    cmp = lit.node.parent
    if not isinstance(cmp, exp.GTE | exp.LTE) or cmp.expression is not lit.node or cmp.this.find(exp.Count) is None:
        return False
    step = -1.0 if isinstance(cmp, exp.GTE) else 1.0
    return lit.number is not None and any(a.kind == "number" and a.number is not None and _same(a.number, lit.number + step)
                                          for a in atoms)


_DATE_LEAD = re.compile(r"\b(?:in|during|of|for|since|until|till|before|after|from|through|to|year)\s*$", re.IGNORECASE)


def _bare_number(a: Atom, question: str) -> bool:
    """A year atom that may be a plain number: "more than 2000", not "during 2024"."""
    return a.kind == "year" and question[a.pos:a.stop].strip().isdigit() \
        and not _DATE_LEAD.search(question[:a.pos])


# -- checking, not changing: what the consistency check (schemadistill/consistency.py) reads ---
def literal_issues(tree: exp.Expr, question: str) -> list[str]:
    """What the SQL's dates and numbers leave out of the question's or add to it, after grounding:
    a garbled date; a number or date the SQL compares with that no atom explains (0 and 1 are
    flags and "any"; a CASE's bucket bounds are the schema's, not the question's); an atom the
    SQL never uses (a number that appears nowhere, a period no date bounds and no date parts
    spell); quoted text no string literal holds."""
    atoms = question_atoms(question)
    lits = _sql_literals(tree)
    ranged = {lit.role[:2] for lit in lits if lit.kind == "date" and lit.role} == {"lo", "hi"}
    numbers = [x for n in tree.find_all(exp.Literal) if (x := literal_number(n)) is not None]
    numbers += [lit.number for lit in lits if lit.kind == "number" and lit.number is not None]  # INTERVAL '6' MONTH
    days = [lit.date for lit in lits if lit.kind == "date" and lit.date is not None]
    strings = [s.this.strip("%").lower() for s in tree.find_all(exp.Literal) if s.is_string]
    issues = [f"the date '{lit.node.this}' is garbled" for lit in lits if lit.broken]
    for lit in lits:
        if lit.broken or lit.node.find_ancestor(exp.Case) is not None:
            continue
        if lit.kind == "number":
            assert lit.number is not None
            # a date's parts explain a year compared as a date part, not ``revenue <= 2023``
            # under "in Q1 of 2023" (session 26, read from k24's misses)
            if lit.number not in (0.0, 1.0) and not any(explains_number(a, lit.number) for a in atoms
                                                        if a.kind == "number" or _bare_number(a, question)
                                                        or a.kind != "text" and _may_be_date_part(lit)) \
                    and not _whole_step(lit, atoms):
                issues.append(f"the SQL's {_fmt(lit.number)} is not in the question")
        elif not any(_explains_date(a, lit.date, lit.role, ranged) for a in atoms if a.kind not in ("number", "text")):
            issues.append(f"the SQL's date {lit.node.this} is not in the question")
    for a in atoms:
        said = question[a.pos:a.stop]
        if a.kind == "text":
            text = a.text.strip("%").lower()
            if text and not _DATE_STRING.match(text) and not any(s and (text in s or s in text) for s in strings):
                issues.append(f"the question's '{a.text}' is not in the SQL")
        elif a.kind == "number":
            assert a.number is not None
            if a.number == 1.0 and not said[:1].isdigit():
                continue  # "one" is mostly an article ("at least one session", "the one with")
            if not any(explains_number(a, x) for x in numbers + [p for d in days for p in (d.year, d.month, d.day)]):
                issues.append(f"the question's {said} is not in the SQL")
        else:
            bounded = any(_explains_date(a, lit.date, lit.role, ranged) for lit in lits
                          if lit.kind == "date" and not lit.broken)
            spelt = all(any(_same(p, x) for x in numbers) for p in a.parts)  # EXTRACT(YEAR FROM d) = 2024
            if not bounded and not spelt:
                issues.append(f"the question's {said} is not in the SQL")
    return issues + _reused_numbers(lits, atoms)


def _reused_numbers(lits: list[_Lit], atoms: list[Atom]) -> list[str]:
    """A number the question states once that the SQL compares two different things with
    ("the sum of money over 26000 where there is a purchase" as ``revenue > 26000 ... HAVING
    SUM(revenue) > 26000``): the student copied it into a test of its own. The same test repeated
    (a subquery's filter) is one thing; 0 and 1 are flags (session 25, read from k22's misses)."""
    issues = []
    for x in dict.fromkeys(lit.number for lit in lits if lit.kind == "number" and lit.number not in (None, 0.0, 1.0)):
        assert x is not None
        said = sum(explains_number(a, x) for a in atoms if a.kind == "number")
        tested = set()
        for lit in lits:
            if lit.kind != "number" or lit.number != x or lit.node.find_ancestor(exp.Case) is not None:
                continue
            cmp = _comparison(lit)
            if cmp is not None:
                tested.add(bare_sql(cmp[1]))  # s.revenue in one SELECT, revenue in another: one thing
        if said == 1 and len(tested) > 1:
            issues.append(f"the question states {_fmt(x)} once; the SQL compares {' and '.join(sorted(tested))} with it")
    return issues
