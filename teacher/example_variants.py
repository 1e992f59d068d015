"""Variants of the user's own examples: the same question and SQL with other values, periods,
numbers, group-by dimensions and measures.

    from teacher.example_variants import vary_examples
    variants = vary_examples(examples, view, random.Random(0), per_example=20)   # -> [Candidate]

Why: a team's examples are the closest thing to what its users will ask (their words, their
conventions: "median and IQR" as three quantile columns, "most popular" counted in sessions),
but 32 examples among 13,000 template pairs are a drop the student barely sees, and it learns
them with their one country and one month. Each variant changes what the question and the SQL
say together and nothing else, so every convention of the example survives:

* a value both name (``country = 'Canada'`` and "in Canada") becomes another value of the column;
* the dates and periods the question states ("December 2024", "Q2 2023", "2023-12-13") move by
  the same number of months, and so does every date literal of the SQL (``'2024-12-01'``, the
  exclusive bound ``'2025-01-01'``, ``YEAR(x) = 2024``), onto months the data has;
* a number compared with a column ("aged 30-40" and ``age BETWEEN 30 AND 40``) moves by a step
  that stays inside the column's range; "top 5" and ``LIMIT 5`` together;
* a GROUP BY column the question names ("for each browser") becomes another dimension of a table
  the query reads, the words with it;
* a measure the question names inside aggregates only ("of session duration") becomes another
  measure of its table; where the words also stand for a named filter of the query ("purchase
  revenue" = revenue with ``revenue > 0``), that condition goes with them.

A change is made only where the pairing is unambiguous (the words occur once, every date literal
is explained by a stated period, the column is not also filtered on), and the rewritten question
must read back to the new periods (``question_atoms``). Variants are candidates like any other:
validation executes them and drops empty or failing ones with a reason.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import random
import re
from collections.abc import Callable
from typing import Any

from sqlglot import exp
from sqlglot.errors import SqlglotError

from schemadistill.conjuncts import remove_conjunct
from schemadistill.grounding import FilterRef, bare_sql
from schemadistill.literals import Atom, question_atoms
from schemadistill.sqlcheck import SQLParseError, parse_sql
from teacher.pair import Candidate
from teacher.slots import ColumnInfo, SchemaView, TableInfo

FAMILY = "example_variants"
SOURCE = "example_variant"
_DATE = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?P<rest>(?:[ T].*)?)$")
_WEEKDAYS = re.compile(r"\b(?:" + "|".join(list(calendar.day_name) + list(calendar.day_abbr)) + r")\b", re.I)
_MONTH_NAMES = {n.lower(): i for i, n in enumerate(calendar.month_name) if n}
_MONTH_ABBR = {n.lower(): i for i, n in enumerate(calendar.month_abbr) if n}
_QUARTER_WORDS = ["", "first", "second", "third", "fourth"]
_QUARTER_NTH = ["", "1st", "2nd", "3rd", "4th"]
_COMPARE = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)

# a change to one example: (question edits [(start, stop, text)], tree transform) or None
Change = tuple[list[tuple[int, int, str]], Callable[[exp.Expr], None]]


def vary_examples(examples: list[Candidate], view: SchemaView, rng: random.Random,
                  per_example: int = 20) -> list[Candidate]:
    """Up to ``per_example`` distinct variants of each example with a question, in example order."""
    out: list[Candidate] = []
    if per_example <= 0:
        return out
    seen = {(c.question, c.sql) for c in examples}
    for ex in examples:
        if not ex.question.strip():
            continue
        try:
            ctx = _Context(ex.question, ex.sql, view)
        except (SQLParseError, ValueError):
            continue
        makers = ctx.makers()
        if not makers:
            continue
        made = 0
        for _ in range(per_example * 4):
            if made >= per_example:
                break
            picked = [m for m in makers if rng.random() < 0.6] or [rng.choice(makers)]
            got = ctx.apply(picked, rng)
            if got is None or got in seen:
                continue
            seen.add(got)
            made += 1
            out.append(Candidate(question=got[0], sql=got[1], family=FAMILY, source=SOURCE, phase=ex.phase,
                                 meta={"example": ex.question}))
    return out


@dataclasses.dataclass
class _Ref:
    """A column reference of the query with what the view knows about it."""

    node: exp.Column
    table: TableInfo
    info: ColumnInfo


class _Context:
    def __init__(self, question: str, sql: str, view: SchemaView) -> None:
        self.question, self.view = question, view
        self.dialect = view.dialect
        self.tree = parse_sql(sql.strip().rstrip(";"), self.dialect)
        self.aliases: dict[str, TableInfo] = {}  # alias or name (lower) -> table
        for tbl in self.tree.find_all(exp.Table):
            ti = view.table(".".join(p for p in (tbl.db, tbl.name) if p))
            if ti is None:
                raise ValueError(f"unknown table {tbl.sql()}")
            self.aliases[(tbl.alias or tbl.name).lower()] = ti
            self.aliases.setdefault(tbl.name.lower(), ti)
        self.tables = list(dict.fromkeys(self.aliases.values()))
        # tables the outer SELECT reads itself: a swapped column must come from one of these
        self.outer = list(dict.fromkeys(ti for tbl in self.tree.find_all(exp.Table)
                                        if tbl.find_ancestor(exp.Select) is self.tree
                                        and (ti := self.aliases.get((tbl.alias or tbl.name).lower()))))
        self.atoms = question_atoms(question)

    # -- what can change ------------------------------------------------------------------
    def makers(self) -> list[Callable[[exp.Expr, random.Random], Change | None]]:
        """One function per kind of change this example allows; each picks its new content."""
        out: list[Callable[[exp.Expr, random.Random], Change | None]] = []
        for fn in (self._values, self._periods, self._numbers, self._dimension, self._measure):
            if fn(self.tree.copy(), random.Random(0)) is not None:
                out.append(fn)
        return out

    def apply(self, makers: list[Callable[[exp.Expr, random.Random], Change | None]],
              rng: random.Random) -> tuple[str, str] | None:
        """The question and SQL with every picked change made, or None when two collide."""
        tree = self.tree.copy()
        edits: list[tuple[int, int, str]] = []
        for make in makers:
            change = make(tree, rng)
            if change is None:
                return None
            more, transform = change
            if any(a < d and c < b for a, b, _ in edits for c, d, _ in more):
                return None  # two changes want the same words
            transform(tree)
            edits += more
        if not edits:
            return None
        q = self.question
        for a, b, text in sorted(edits, reverse=True):
            q = q[:a] + text + q[b:]
        if not self._periods_read_back(q, edits):
            return None
        return q, tree.sql(dialect=self.dialect)

    def _periods_read_back(self, q: str, edits: list[tuple[int, int, str]]) -> bool:
        """A rewritten date must still be read as a date by literal grounding, or the change
        would teach words the runtime cannot see."""
        n_before = sum(1 for a in self.atoms if a.kind in ("day", "month", "quarter", "year"))
        n_after = sum(1 for a in question_atoms(q) if a.kind in ("day", "month", "quarter", "year"))
        return n_before == n_after

    def _ref(self, col: exp.Column) -> _Ref | None:
        if col.table:
            ti = self.aliases.get(col.table.lower())
            owners = [ti] if ti is not None else []
        else:
            owners = [t for t in self.tables if t.col(col.name) is not None]
        if len(owners) != 1:
            return None
        ci = owners[0].col(col.name)
        return _Ref(col, owners[0], ci) if ci is not None else None

    def _refs(self, tree: exp.Expr) -> list[_Ref]:
        return [r for c in tree.find_all(exp.Column) if (r := self._ref(c)) is not None]

    def _find_once(self, phrases: list[str]) -> tuple[int, int, str, bool] | None:
        """(start, stop, phrase, plural) of the one phrase the question says exactly once."""
        hits: list[tuple[int, int, str, bool]] = []
        for p in sorted({p for p in phrases if p}, key=len, reverse=True):
            for m in re.finditer(r"(?<![\w-])" + re.escape(p) + r"(?P<s>s|es)?(?![\w-])", self.question, re.I):
                if all(m.end() <= a or m.start() >= b for a, b, _, _ in hits):
                    hits.append((m.start(), m.end(), p, bool(m["s"])))
        return hits[0] if len(hits) == 1 else None

    # -- values -----------------------------------------------------------------------------
    def _values(self, tree: exp.Expr, rng: random.Random) -> Change | None:
        sites = []
        for ref in self._refs(tree):
            lit = _compared_string(ref.node)
            if lit is None or ref.info.role not in ("dimension", "text") or not ref.info.top:
                continue
            hit = self._find_once([lit.this])
            if hit is not None and hit[2].lower() == lit.this.lower():
                sites.append((ref, lit, hit))
        if not sites:
            return None
        ref, lit, (a, b, _, _) = rng.choice(sites)
        options = [v for v, _ in ref.info.top if isinstance(v, str) and v.lower() != lit.this.lower()
                   and not _says(self.question, [v])]
        if re.search(r"\bthe\s+$", self.question[:a], re.I) and _takes_article(lit.this):
            options = [v for v in options if _takes_article(v)]  # "the United Kingdom" -> "the Netherlands"
        elif not re.search(r"\bthe\s+$", self.question[:a], re.I):
            options = [v for v in options if not _takes_article(v)]  # "in Germany" -> "in France"
        if not options:
            return None
        new = rng.choice(options)
        path = _path(tree, lit)

        def transform(t: exp.Expr) -> None:
            _at(t, path).replace(exp.Literal.string(new))
        return [(a, b, new)], transform

    # -- periods -----------------------------------------------------------------------------
    def _periods(self, tree: exp.Expr, rng: random.Random) -> Change | None:
        atoms = [a for a in self.atoms if a.kind in ("day", "month", "quarter", "year")]
        if not atoms or any(_WEEKDAYS.search(self.question[a.pos:a.stop]) for a in atoms):
            return None
        dates: list[tuple[Any, dt.date, str]] = []
        years: list[Any] = []  # paths of year numbers; None for another date part
        for lit in tree.find_all(exp.Literal):
            if lit.is_string and (m := _DATE.match(lit.this)):
                d = _date(m)
                if d is None or not any(a.start and a.end and a.start - dt.timedelta(days=31) <= d
                                        <= a.end + dt.timedelta(days=1) for a in atoms):
                    return None  # a date no stated period explains (a reference date?): leave it
                dates.append((_path(tree, lit), d, m["rest"]))
            elif lit.is_number and _date_part(lit) is not None:
                part = _date_part(lit)
                if part != "year":
                    years.append(None)  # MONTH(x) = 12: only whole years can move
                elif any(a.parts and a.parts[0] == int(float(lit.this)) for a in atoms):
                    years.append(_path(tree, lit))
                else:
                    return None
        if not dates and not any(years):
            return None
        step = 12 if (years or any(a.kind == "year" for a in atoms)) else (
            3 if any(a.kind == "quarter" for a in atoms) else 1)
        months = sorted({m for ti in self.tables for c in ti.times for m, _ in c.months})
        first = min(a.start for a in atoms if a.start)
        shifts = [k for k in {_months_between(first, m) for m in months} if k and k % step == 0]
        rng.shuffle(shifts)
        for k in shifts:
            edits = []
            for a in atoms:
                text = _shift_text(self.question[a.pos:a.stop], a, k)
                if text is None:
                    break
                edits.append((a.pos, a.stop, text))
            else:
                new_dates = [(p, _add_months(d, k), rest) for p, d, rest in dates]
                if any(d is None for _, d, _ in new_dates):
                    continue
                year_paths = [p for p in years if p is not None]

                def transform(t: exp.Expr, nd: list[Any] = new_dates, yp: list[Any] = year_paths,
                              k: int = k) -> None:
                    for p, d, rest in nd:
                        _at(t, p).replace(exp.Literal.string(d.isoformat() + rest))
                    for p in yp:
                        node = _at(t, p)
                        node.replace(exp.Literal.number(int(float(node.this)) + k // 12))
                return edits, transform
        return None

    # -- numbers -----------------------------------------------------------------------------
    def _numbers(self, tree: exp.Expr, rng: random.Random) -> Change | None:
        by_col: dict[int, list[tuple[Atom, list[Any], ColumnInfo | None]]] = {}
        for a in self.atoms:
            if a.kind != "number" or a.percent or a.number is None or not re.fullmatch(
                    r"\d+", self.question[a.pos:a.stop]) or a.number in (0, 1):
                continue
            paths, owner = [], None
            for lit in tree.find_all(exp.Literal):
                if not lit.is_number or float(lit.this) != a.number or _date_part(lit) is not None:
                    continue
                if a.rank and isinstance(lit.parent, exp.Limit):
                    paths.append(_path(tree, lit))
                    owner = None
                elif not a.rank and (col := _compared_column(lit)) is not None and (r := self._ref(col)):
                    paths.append(_path(tree, lit))
                    owner = r.info
            if paths:
                by_col.setdefault(id(owner) if owner is not None else 0, []).append((a, paths, owner))
        if not by_col:
            return None
        group = by_col[rng.choice(sorted(by_col))]
        values = [int(a.number or 0) for a, _, _ in group]
        owner = group[0][2]
        lo, hi = (2, 10) if owner is None else (_num(owner.vmin, 2), _num(owner.vmax, max(values)))
        steps = [1, 2, 3] if max(values) < 10 else [2, 3, 5, 7, 10]
        taken = {int(a.number) for a in self.atoms if a.number is not None and a not in [g[0] for g in group]}
        options = [s * sign for s in steps for sign in (1, -1)
                   if all(lo <= v + s * sign <= hi and v + s * sign > 1 and v + s * sign not in taken
                          for v in values)]
        if not options:
            return None
        d = rng.choice(options)
        edits = [(a.pos, a.stop, str(int(a.number or 0) + d)) for a, _, _ in group]
        paths = [p for _, ps, _ in group for p in ps]

        def transform(t: exp.Expr) -> None:
            for p in paths:
                node = _at(t, p)
                node.replace(exp.Literal.number(int(float(node.this)) + d))
        return edits, transform

    # -- columns -----------------------------------------------------------------------------
    def _dimension(self, tree: exp.Expr, rng: random.Random) -> Change | None:
        group = tree.args.get("group")
        if not isinstance(tree, exp.Select) or group is None:
            return None
        where = tree.args.get("where")
        filtered = {id(r.info) for r in self._refs(where)} if where is not None else set()
        used = {id(r.info) for r in self._refs(tree)}
        sites = []
        for col in group.find_all(exp.Column):
            if not isinstance(col.parent, (exp.Group, exp.Tuple, exp.GroupingSets, exp.Rollup, exp.Cube)):
                continue  # inside an expression (a CASE bucket): not a dimension the words name
            ref = self._ref(col)
            if ref is None or ref.info.role != "dimension" or id(ref.info) in filtered:
                continue
            hit = self._find_once(self.view.column_words(ref.info))
            if hit is not None:
                sites.append((ref, hit))
        if not sites:
            return None
        ref, (a, b, _, plural) = rng.choice(sites)
        options = [(ti, c) for ti in self.outer for c in ti.dims if c.role == "dimension" and id(c) not in used
                   and not _says(self.question, self.view.column_words(c))]
        if not options:
            return None
        ti, new = rng.choice(options)
        return [(a, b, _plural(self.view.column_words(new)[0], plural))], self._rename(ref, ti, new)

    def _measure(self, tree: exp.Expr, rng: random.Random) -> Change | None:
        refs = self._refs(tree)
        sites = []
        for ref in {id(r.info): r for r in refs if r.info.role == "measure"}.values():
            mine = [r for r in refs if r.info is ref.info]
            outside = [r for r in mine if r.node.find_ancestor(exp.AggFunc) is None]
            if len(outside) == len(mine):
                continue  # not aggregated: "made a purchase" alone is a filter, not a measure
            hit = self._find_once(self.view.column_words(ref.info))
            drop: exp.Expr | None = None
            if outside:  # also filtered: allowed only when the words name a filter of the query
                drop, hit = self._named_filter_of(tree, ref, outside)
                if drop is None:
                    continue
            if hit is not None:
                sites.append((ref, hit, drop))
        if not sites:
            return None
        ref, (a, b, _, plural), drop = rng.choice(sites)
        options = [c for c in ref.table.measures if c is not ref.info and ref.table in self.outer
                   and not _says(self.question, self.view.column_words(c))]
        if not options:
            return None
        new = rng.choice(options)
        rename = self._rename(ref, ref.table, new)
        drop_path = _path(tree, drop) if drop is not None else None

        def transform(t: exp.Expr) -> None:
            if drop_path is not None:
                remove_conjunct(_at(t, drop_path))
            rename(t)
        return [(a, b, _plural(self.view.column_words(new)[0], plural))], transform

    def _named_filter_of(self, tree: exp.Expr, ref: _Ref, outside: list[_Ref]
                         ) -> tuple[exp.Expr | None, tuple[int, int, str, bool] | None]:
        """The WHERE conjunct on ``ref``'s column that a named filter defines, and the filter's
        words in the question, when the measure is filtered by that condition only."""
        where = tree.args.get("where")
        if where is None or len(outside) != 1:
            return None, None
        conj: exp.Expr = outside[0].node
        while conj.parent is not None and not isinstance(conj.parent, (exp.And, exp.Where)):
            conj = conj.parent
        key = bare_sql(conj)
        for f in self.view.named_filters.get(ref.table.name, []):
            try:
                same = FilterRef(f.name, f.table, f.sql, self.dialect).key() == key
            except SqlglotError:
                continue
            if same and (hit := self._find_once(list(f.synonyms))) is not None:
                return conj, hit
        return None, None

    def _rename(self, ref: _Ref, ti: TableInfo, new: ColumnInfo) -> Callable[[exp.Expr], None]:
        """Every reference to ``ref``'s column becomes ``new`` (qualified like the old one, with
        the alias of ``new``'s table), output names included."""
        old = ref.info
        alias = next((a for a, t in self.aliases.items() if t is ti), "")

        def transform(t: exp.Expr) -> None:
            for col in list(t.find_all(exp.Column)):
                r = self._ref(col)
                if r is not None and r.info is old:
                    col.set("this", exp.to_identifier(new.name))
                    if col.table or ti is not ref.table:
                        col.set("table", exp.to_identifier(alias))
            for al in t.find_all(exp.Alias):
                if old.name.lower() in al.alias.lower():
                    al.set("alias", exp.to_identifier(re.sub(re.escape(old.name), new.name, al.alias, flags=re.I)))
        return transform


# -- helpers -------------------------------------------------------------------------------------

def _path(root: exp.Expr, node: exp.Expr) -> list[tuple[str, int | None]]:
    """Where ``node`` sits under ``root``, so the same spot can be found in a copy."""
    steps: list[tuple[str, int | None]] = []
    while node is not root and node.parent is not None:
        key, parent = str(node.arg_key), node.parent
        val = parent.args.get(key)
        steps.append((key, next(i for i, x in enumerate(val) if x is node) if isinstance(val, list) else None))
        node = parent
    return steps[::-1]


def _at(root: exp.Expr, path: list[tuple[str, int | None]]) -> exp.Expr:
    node = root
    for key, i in path:
        val = node.args[key]
        node = val[i] if i is not None else val
    return node


def _compared_string(col: exp.Column) -> exp.Literal | None:
    """The string literal ``col`` is compared with by = / <> (or the one of an IN list)."""
    parent = col.parent
    if isinstance(parent, (exp.EQ, exp.NEQ)):
        other = parent.expression if parent.this is col else parent.this
        return other if isinstance(other, exp.Literal) and other.is_string else None
    if isinstance(parent, exp.In) and parent.this is col:
        lits = [x for x in parent.expressions if isinstance(x, exp.Literal) and x.is_string]
        return lits[0] if len(lits) == 1 == len(parent.expressions) else None
    return None


def _compared_column(lit: exp.Literal) -> exp.Column | None:
    parent = lit.parent
    if isinstance(parent, exp.Neg):
        return None
    if isinstance(parent, _COMPARE):
        other = parent.this if parent.expression is lit else parent.expression
        return other if isinstance(other, exp.Column) else None
    if isinstance(parent, exp.Between) and isinstance(parent.this, exp.Column):
        return parent.this
    return None


def _date_part(lit: exp.Literal) -> str | None:
    """'year' / 'month' / ... when ``lit`` is compared with a part of a date (YEAR(x) = 2024)."""
    parent = lit.parent
    if not isinstance(parent, (*_COMPARE, exp.Between)):
        return None
    other = parent.this if parent.this is not lit else parent.expression
    for cls, part in ((exp.Year, "year"), (exp.Month, "month"), (exp.Quarter, "quarter"), (exp.Day, "day")):
        if isinstance(other, cls):
            return part
    if isinstance(other, exp.Extract):
        return other.this.name.lower()
    if isinstance(other, exp.Anonymous) and other.name.lower() in ("date_part", "datepart") and other.expressions:
        return str(other.expressions[0].name).lower()
    return None


def _date(m: re.Match[str]) -> dt.date | None:
    try:
        return dt.date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        return None


def _months_between(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def _add_months(d: dt.date, k: int) -> dt.date | None:
    """``d`` moved by ``k`` months; a month's last day stays the last day; None if no such day."""
    y, m = divmod(d.month - 1 + k, 12)
    y, m = d.year + y, m + 1
    last = calendar.monthrange(d.year, d.month)[1]
    if d.day == last and d.day >= 28:
        return dt.date(y, m, calendar.monthrange(y, m)[1])
    try:
        return dt.date(y, m, d.day)
    except ValueError:
        return None


def _shift_text(text: str, atom: Atom, k: int) -> str | None:
    """The words of a stated period moved by ``k`` months, in the same format."""
    if atom.start is None:
        return None
    new = _add_months(atom.start, k)
    if new is None or (atom.kind == "day" and new.day != atom.start.day):
        return None  # the day's number would have to change too
    out = re.sub(r"(?<!\d)(?:19|20)\d{2}(?!\d)", str(new.year), text, count=1)
    if atom.kind in ("day", "month"):
        def month_name(m: re.Match[str]) -> str:
            word = m.group(0)
            table = calendar.month_name if word.lower() in _MONTH_NAMES else calendar.month_abbr
            name = table[new.month]
            return name.upper() if word.isupper() and len(word) > 1 else name if word[0].isupper() else name.lower()
        names = "|".join(sorted(list(_MONTH_NAMES) + list(_MONTH_ABBR), key=len, reverse=True))
        out, n = re.subn(r"\b(?:" + names + r")\b", month_name, out, count=1, flags=re.I)
        if n == 0:  # numeric: 2024-12, 12/2024, 2023-12-13, 12/13/2023, 2023/12/13
            mm = atom.parts[1] if len(atom.parts) > 1 else 0

            def month_num(m: re.Match[str]) -> str:
                return f"{new.month:0{len(m.group(0))}d}"
            out, n = re.subn(r"(?<![\d])0?" + str(mm) + r"(?![\d])", month_num,
                             out.replace(str(new.year), "\0"), count=1)
            out = out.replace("\0", str(new.year))
            if n == 0:
                return None
    elif atom.kind == "quarter":
        q = (new.month - 1) // 3 + 1
        old_q = atom.parts[1] if len(atom.parts) > 1 else 0
        out, n = re.subn(r"(?<=Q)" + str(old_q), str(q), out, count=1, flags=re.I)
        if n == 0:
            for words in (_QUARTER_WORDS, _QUARTER_NTH):
                out, n = re.subn(r"\b" + words[old_q] + r"\b", words[q], out, count=1, flags=re.I)
                if n:
                    break
        if n == 0:
            return None
    return out


def _takes_article(name: str) -> bool:
    """English names said with "the": several words or a plural (United Kingdom, Netherlands)."""
    return " " in name.strip() or (name.endswith("s") and name[:1].isupper() and name.upper() != name)


def _says(question: str, phrases: list[str]) -> bool:
    return any(re.search(r"(?<![\w-])" + re.escape(p) + r"(?![\w-])", question, re.I) for p in phrases if p)


def _num(v: Any, default: float) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def _plural(word: str, plural: bool) -> str:
    if not plural or word.endswith("s"):
        return word
    return word + ("es" if word.endswith(("x", "ch", "sh")) else "s")
