"""The user's own material (``EXAMPLES=file``): question/SQL pairs and plain query logs.

Two things come out of it:

* :func:`load_examples` reads the file into :class:`~teacher.pair.Candidate` objects
  (``source="examples"``). Pairs with a question can become training pairs after validation;
  log entries (SQL only, ``question == ""``) are never training pairs, but they show how this
  team writes SQL, so they feed pattern mining and serve as few-shot and repair material.
* :func:`mine_patterns` counts what the SQL does -- joins and which tables they connect, filter
  kinds, aggregates, grouping, windows, date grains, ... -- and which ``column op literal``
  filters recur (the team's conventions, e.g. ``revenue > 0`` for "made a purchase").
  :meth:`PatternStats.family_weights` turns the counts into sampling multipliers for the template
  families, so the generated data leans towards what this team actually asks.

Accepted inputs: JSONL with ``question`` + ``sql`` (``query`` also accepted; other keys ignored),
JSONL or a JSON array with SQL only, or a ``.sql``/``.txt``/``.log`` file of ``;``-separated
statements. Bad input raises :class:`UserError` with the file and line; SQL that does not parse in
the schema's dialect, or is not a query, is skipped with a warning and recorded in
:attr:`LoadedExamples.skipped`, because one odd statement in a long log should not stop a run.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sqlglot import exp

from schemadistill.errors import UserError
from schemadistill.schema.model import Schema
from schemadistill.sqlcheck import SQLParseError, parse_sql
from teacher.pair import Candidate

log = logging.getLogger(__name__)

SQL_SUFFIXES = frozenset({".sql", ".txt", ".log"})
JSON_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})

# Feature keys shared with teacher/families.py, which maps each onto its template families.
FEATURES: tuple[str, ...] = (
    "join", "filter_eq", "filter_range", "filter_in", "filter_like", "between", "is_null",
    "count", "count_distinct", "sum", "avg", "min_max", "median", "group_by", "group_by_2",
    "having", "top_k", "subquery", "cte", "window", "case", "date_trunc", "date_part", "set_op",
    "rollup", "distinct",
)


# -- loading ------------------------------------------------------------------------------------

@dataclass
class SkippedExample:
    """An entry kept out of the examples, with why (a warning, not an error)."""

    line: int | None  # 1-based line of the entry in the file (None: position unknown)
    sql: str
    reason: str  # "parse_error" | "not_a_query"
    detail: str = ""


class LoadedExamples(list[Candidate]):
    """The candidates :func:`load_examples` read, plus what it skipped and why.

    A plain ``list`` for every caller that only wants the candidates; ``skipped`` is there for
    the data report.
    """

    def __init__(self, items: Iterable[Candidate] = (), path: Path | None = None,
                 skipped: list[SkippedExample] | None = None) -> None:
        super().__init__(items)
        self.path = path
        self.skipped: list[SkippedExample] = skipped or []

    @property
    def pairs(self) -> list[Candidate]:
        """Entries with a question: candidate training pairs."""
        return [c for c in self if c.question]

    @property
    def queries(self) -> list[Candidate]:
        """Log-only entries (no question): mining, few-shot and repair material."""
        return [c for c in self if not c.question]


def load_examples(path: Path | str, schema: Schema) -> LoadedExamples:
    """Read the user's pairs or query log into Candidates (``source="examples"``).

    SQL is parsed in ``schema.dialect``; entries that do not parse or are not queries are skipped
    (see :attr:`LoadedExamples.skipped`). Raises UserError for a missing or unreadable file, a line
    that is not a JSON object, an entry without SQL, or a file with no entries at all.
    """
    path = Path(path)
    if not path.exists():
        raise UserError("examples file not found", file=path,
                        hint="EXAMPLES= takes a JSONL file of {\"question\", \"sql\"} lines or a .sql query log")
    if not path.is_file():
        raise UserError("examples path is not a file", file=path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: tolerate a BOM from Windows editors
    except UnicodeDecodeError as e:
        raise UserError(f"examples file is not UTF-8 text ({e.reason} at byte {e.start})", file=path) from None
    except OSError as e:
        raise UserError(f"cannot read examples file: {e.strerror}", file=path) from None

    entries = list(_sql_log_entries(text) if _is_sql_log(path, text) else _json_entries(path, text))
    if not entries:
        raise UserError("examples file has no entries", file=path,
                        hint="one JSON object per line with a \"sql\" field, or ';'-separated SQL statements")

    out = LoadedExamples(path=path)
    for line, question, sql in entries:
        sql = sql.strip().rstrip(";").strip()
        try:
            tree = parse_sql(sql, schema.dialect)
        except SQLParseError as e:
            out.skipped.append(SkippedExample(line, sql, "parse_error", str(e)))
            continue
        if not isinstance(tree, exp.Query):
            out.skipped.append(SkippedExample(line, sql, "not_a_query",
                                              f"{type(tree).__name__} statement, not a SELECT"))
            continue
        out.append(Candidate(
            question=question, sql=sql, family="examples", source="examples",
            meta={"file": str(path), "line": line, "log_only": not question},
        ))
    for s in out.skipped:
        log.warning("%s:%s: example skipped (%s): %s", path, s.line, s.reason, s.detail)
    return out


def _is_sql_log(path: Path, text: str) -> bool:
    suffix = path.suffix.lower()
    if suffix in SQL_SUFFIXES:
        return True
    if suffix in JSON_SUFFIXES:
        return False
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return not first.startswith(("{", "["))


def _json_entries(path: Path, text: str) -> Iterator[tuple[int | None, str, str]]:
    """(line, question, sql) from JSONL, or from one JSON array when the file is one."""
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as e:
            raise UserError(f"not valid JSON: {e.msg}", file=path, line=e.lineno, column=e.colno) from None
        for i, item in enumerate(items, 1):
            question, sql = _entry(item, path, None, f"item {i}")
            yield None, question, sql
        return
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as e:
            raise UserError(f"line {n} is not valid JSON: {e.msg}", file=path, line=n, column=e.colno,
                            hint='each line must be one JSON object, e.g. {"question": "...", "sql": "..."}'
                            ) from None
        question, sql = _entry(item, path, n, f"line {n}")
        yield n, question, sql


def _entry(item: Any, path: Path, line: int | None, where: str) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise UserError(f"{where} is not a JSON object", file=path, line=line,
                        hint='write {"question": "...", "sql": "..."} (or {"sql": "..."} for a query log)')
    keys = {str(k).lower(): v for k, v in item.items()}
    sql = keys.get("sql", keys.get("query"))
    if not isinstance(sql, str) or not sql.strip():
        raise UserError(f"{where} has no SQL", file=path, line=line,
                        hint='give every entry a non-empty "sql" (or "query") string')
    question = keys.get("question")
    if question is None:
        question = ""
    if not isinstance(question, str):
        raise UserError(f"{where}: \"question\" must be a string", file=path, line=line)
    return " ".join(question.split()), sql


def _sql_log_entries(text: str) -> Iterator[tuple[int | None, str, str]]:
    for line, sql in split_statements(text):
        yield line, "", sql


# Tokens that can hide a ';' from a naive split: quotes, identifiers, comments, dollar quotes.
_LEXEME = re.compile(
    r"'(?:[^']|'')*'?"            # 'string' with '' escapes (unterminated: to the end)
    r'|"(?:[^"]|"")*"?'           # "identifier"
    r"|`[^`]*`?"                   # `identifier` (MySQL, BigQuery)
    r"|--[^\n]*"                   # -- line comment
    r"|/\*.*?(?:\*/|\Z)"           # /* block comment */
    r"|\$(\w*)\$.*?(?:\$\1\$|\Z)"  # $tag$ dollar-quoted body $tag$ (Postgres)
    r"|;",
    re.S,
)


def split_statements(text: str) -> list[tuple[int, str]]:
    """Split SQL text on ``;`` outside strings and comments: [(1-based start line, statement)].

    Comment-only pieces are dropped, and comments before a statement do not move its line.
    """
    out: list[tuple[int, str]] = []
    code_start: int | None = None  # first character of real code in the current statement

    def emit(end: int) -> None:
        if code_start is not None:
            out.append((text.count("\n", 0, code_start) + 1, text[code_start:end].strip()))

    pos = 0
    for m in _LEXEME.finditer(text):
        gap = text[pos:m.start()]
        if code_start is None and gap.strip():
            code_start = pos + len(gap) - len(gap.lstrip())
        token = m.group(0)
        if token == ";":
            emit(m.start())
            code_start = None
        elif code_start is None and not token.startswith(("--", "/*")):
            code_start = m.start()  # a string or a quoted identifier is code
        pos = m.end()
    gap = text[pos:]
    if code_start is None and gap.strip():
        code_start = pos + len(gap) - len(gap.lstrip())
    emit(len(text))
    return out


# -- mining -------------------------------------------------------------------------------------

class Convention(NamedTuple):
    """A ``column op literal`` filter the log uses again and again."""

    column: str
    op: str
    value: Any
    seen: int  # how many times (``count`` would shadow tuple.count)


@dataclass
class PatternStats:
    """What a set of queries does, counted on the parsed SQL.

    ``counts[f]`` is the number of queries that use feature ``f`` (keys: :data:`FEATURES`, plus
    ``order_by`` and ``limit``); ``occurrences[f]`` counts every use. The other counters break
    things down: filter operator kinds (WHERE/HAVING only, column-vs-column comparisons are join
    conditions and not counted), aggregate functions, joined table pairs, DATE_TRUNC grains, date
    parts, tables, columns, and ``(column, op, literal)`` comparisons anywhere in a query (CASE
    WHEN included: ``COUNT(CASE WHEN revenue > 0 ...)`` states the same convention as a WHERE).
    """

    queries: int = 0
    parsed: int = 0
    unparsed: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    occurrences: Counter[str] = field(default_factory=Counter)
    filters: Counter[str] = field(default_factory=Counter)  # "=", "<>", "range", "IN", "LIKE", "BETWEEN", "IS NULL"
    aggregates: Counter[str] = field(default_factory=Counter)  # "COUNT", "COUNT DISTINCT", "SUM", ...
    join_pairs: Counter[tuple[str, str]] = field(default_factory=Counter)  # sorted (table, table)
    date_grains: Counter[str] = field(default_factory=Counter)  # "month", "year", ...
    date_parts: Counter[str] = field(default_factory=Counter)  # "year", "month", "dow", ...
    tables: Counter[str] = field(default_factory=Counter)
    columns: Counter[str] = field(default_factory=Counter)
    literals: Counter[tuple[str, str, Any]] = field(default_factory=Counter)

    def family_weights(self, cap: float = 4.0, prior: int = 4) -> dict[str, float]:
        """Feature -> sampling multiplier in [1, cap): 1 for unseen, larger the more queries use it.

        The share of queries using a feature is shrunk by ``prior`` pseudo-queries, so a log of
        three queries cannot push a feature to the cap.
        """
        denom = self.parsed + prior
        if denom <= 0:
            return dict.fromkeys(FEATURES, 1.0)
        return {f: round(1.0 + (cap - 1.0) * self.counts[f] / denom, 3) for f in FEATURES}

    def conventions(self, min_count: int = 2) -> list[Convention]:
        """Recurring ``(column, op, literal)`` comparisons, most frequent first."""
        rows = [Convention(c, op, v, n) for (c, op, v), n in self.literals.items() if n >= min_count]
        return sorted(rows, key=lambda r: (-r.seen, r.column, r.op, repr(r.value)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary for manifests and the data report."""
        return {
            "queries": self.queries, "parsed": self.parsed, "unparsed": self.unparsed,
            "counts": dict(self.counts), "occurrences": dict(self.occurrences),
            "filters": dict(self.filters), "aggregates": dict(self.aggregates),
            "join_pairs": [[a, b, n] for (a, b), n in self.join_pairs.most_common()],
            "date_grains": dict(self.date_grains), "date_parts": dict(self.date_parts),
            "tables": dict(self.tables), "columns": dict(self.columns.most_common()),
            "conventions": [[c.column, c.op, c.value, c.seen] for c in self.conventions()],
            "family_weights": self.family_weights(),
        }


_TIME_FORM_RES = (  # first match wins: CAST(DATE_TRUNC(...)) also contains DATE_TRUNC
    ("cast", re.compile(r"CAST\s*\(\s*DATE_TRUNC\s*\(", re.I)),
    ("trunc", re.compile(r"DATE_TRUNC\s*\(", re.I)),
    ("extract", re.compile(r"EXTRACT\s*\(\s*(YEAR|MONTH)\b|\b(YEAR|MONTH)\s*\(", re.I)),
)


def mine_time_style(sqls: Iterable[str]) -> str | None:
    """The calendar-filter form (``teacher.sql_style``) most of ``sqls`` use, or None when none
    uses one: the team's convention becomes the form the student learns."""
    seen: Counter[str] = Counter()
    for sql in sqls:
        for style, rx in _TIME_FORM_RES:
            if rx.search(sql):
                seen[style] += 1
                break
    return seen.most_common(1)[0][0] if seen else None


def mine_patterns(sqls: Iterable[str], dialect: str) -> PatternStats:
    """Count the patterns of ``sqls`` (parsed in ``dialect``; unparsable ones only counted)."""
    stats = PatternStats()
    for sql in sqls:
        stats.queries += 1
        try:
            tree = parse_sql(sql.strip().rstrip(";"), dialect)
        except SQLParseError:
            stats.unparsed += 1
            continue
        stats.parsed += 1
        found: Counter[str] = Counter()
        _mine(tree, stats, found)
        stats.occurrences.update(found)
        stats.counts.update(found.keys())
    return stats


_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE)
_COMPARISONS: dict[type[exp.Expr], str] = {
    exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=",
}
_FLIPPED = {"=": "=", "<>": "<>", ">": "<", ">=": "<=", "<": ">", "<=": ">="}
_TRUNC = (exp.DateTrunc, exp.TimestampTrunc, exp.DatetimeTrunc, exp.TimeTrunc)
_PART_NODES: dict[type[exp.Expr], str] = {
    exp.Year: "year", exp.Quarter: "quarter", exp.Month: "month", exp.Week: "week",
    exp.WeekOfYear: "week", exp.Day: "day", exp.DayOfMonth: "day", exp.DayOfWeek: "dow",
    exp.DayOfYear: "doy", exp.Hour: "hour", exp.Dayname: "dayname", exp.Monthname: "monthname",
}
# Functions sqlglot leaves anonymous in some dialects (DuckDB DATE_PART, ClickHouse toYear...).
_PART_FUNCS = {"toyear": "year", "toquarter": "quarter", "tomonth": "month", "toweek": "week",
               "todayofmonth": "day", "todayofweek": "dow", "tohour": "hour"}
_QUANTILES = (exp.Quantile, exp.PercentileCont, exp.PercentileDisc, exp.ApproxQuantile)


def _mine(tree: exp.Expr, stats: PatternStats, found: Counter[str]) -> None:
    cte_names = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    aliases = {a.alias.lower() for a in tree.find_all(exp.Alias) if a.alias}

    for tbl in tree.find_all(exp.Table):
        if tbl.name and tbl.name.lower() not in cte_names:
            stats.tables[_table_name(tbl)] += 1
    for col in tree.find_all(exp.Column):
        name = col.name.lower()
        if name and not (name in aliases and not col.table):  # ORDER BY fraud_rate is an alias
            stats.columns[name] += 1

    for node in tree.walk():
        if isinstance(node, exp.Join):
            found["join"] += 1
        elif isinstance(node, exp.Count):
            distinct = isinstance(node.this, exp.Distinct)
            stats.aggregates["COUNT DISTINCT" if distinct else "COUNT"] += 1
            found["count_distinct" if distinct else "count"] += 1
        elif isinstance(node, exp.ApproxDistinct):
            stats.aggregates["COUNT DISTINCT"] += 1
            found["count_distinct"] += 1
        elif isinstance(node, exp.Sum):
            stats.aggregates["SUM"] += 1
            found["sum"] += 1
        elif isinstance(node, exp.Avg):
            stats.aggregates["AVG"] += 1
            found["avg"] += 1
        elif isinstance(node, (exp.Min, exp.Max)):
            stats.aggregates["MIN" if isinstance(node, exp.Min) else "MAX"] += 1
            found["min_max"] += 1
        elif isinstance(node, exp.Median):
            stats.aggregates["MEDIAN"] += 1
            found["median"] += 1
        elif isinstance(node, _QUANTILES):
            stats.aggregates["QUANTILE"] += 1
            found["median"] += 1
        elif isinstance(node, exp.Select):
            _mine_select(node, stats, found)
        elif isinstance(node, exp.Subquery):
            # A parenthesised branch of a UNION is not a subquery.
            if node.parent is not None and not isinstance(node.parent, exp.SetOperation):
                found["subquery"] += 1
        elif isinstance(node, exp.Exists):
            found["subquery"] += 1
        elif isinstance(node, exp.CTE):
            found["cte"] += 1
        elif isinstance(node, exp.Window):
            found["window"] += 1
        elif isinstance(node, exp.Case):
            found["case"] += 1
        elif isinstance(node, exp.If) and not isinstance(node.parent, exp.Case):
            found["case"] += 1  # IF()/IIF(); a CASE's WHEN branches are If nodes too
        elif isinstance(node, _TRUNC):
            unit = node.args.get("unit")
            stats.date_grains[(unit.name if unit is not None else "?").lower()] += 1
            found["date_trunc"] += 1
        elif isinstance(node, exp.Extract):
            stats.date_parts[node.this.name.lower()] += 1
            found["date_part"] += 1
        elif type(node) in _PART_NODES:
            stats.date_parts[_PART_NODES[type(node)]] += 1
            found["date_part"] += 1
        elif isinstance(node, exp.Anonymous):
            name = str(node.this).lower()
            part = _PART_FUNCS.get(name)
            if part is None and name in ("date_part", "datepart") and node.expressions:
                part = node.expressions[0].name.lower()
            if part:
                stats.date_parts[part] += 1
                found["date_part"] += 1
        elif isinstance(node, exp.SetOperation):
            found["set_op"] += 1
        elif isinstance(node, (exp.Rollup, exp.Cube, exp.GroupingSets)):
            found["rollup"] += 1
        elif isinstance(node, exp.Having):
            found["having"] += 1
        if isinstance(node, (exp.Where, exp.Having)):
            _mine_filters(node.this, stats, found)
        _mine_literal(node, stats)


def _mine_select(select: exp.Select, stats: PatternStats, found: Counter[str]) -> None:
    if select.args.get("distinct"):
        found["distinct"] += 1
    group = select.args.get("group")
    if group is not None:
        found["group_by"] += 1
        if _grouping_keys(group) >= 2:
            found["group_by_2"] += 1
    if select.args.get("order") is not None:
        found["order_by"] += 1
    if select.args.get("limit") is not None:
        found["limit"] += 1
        if select.args.get("order") is not None:
            found["top_k"] += 1
    _mine_joins(select, stats)


def _grouping_keys(group: exp.Group) -> int:
    """How many columns one grouping uses (the largest set for GROUPING SETS / ROLLUP / CUBE)."""
    n = 0
    for e in group.expressions:
        if isinstance(e, exp.GroupingSets):
            n += max((len(s.expressions) if isinstance(s, exp.Tuple) else 1 for s in e.expressions), default=0)
        elif isinstance(e, (exp.Rollup, exp.Cube)):
            n += len(e.expressions)
        else:
            n += 1
    return n


def _table_name(tbl: exp.Table) -> str:
    return (f"{tbl.db}.{tbl.name}" if tbl.db else tbl.name).lower()


def _mine_joins(select: exp.Select, stats: PatternStats) -> None:
    """Which tables each join connects: the joined table and the table its ON clause names."""
    source = select.args.get("from_") or select.args.get("from")
    joins = select.args.get("joins") or []
    if not joins:
        return
    alias_of: dict[str, str] = {}
    first = source.this if source is not None else None
    for item in [first, *(j.this for j in joins)]:
        if isinstance(item, exp.Table):
            alias_of[item.alias_or_name.lower()] = _table_name(item)
    base = _table_name(first) if isinstance(first, exp.Table) else None
    for join in joins:
        if not isinstance(join.this, exp.Table):
            continue
        right = _table_name(join.this)
        right_alias = join.this.alias_or_name.lower()
        on = join.args.get("on")
        lefts = set()
        if on is not None:
            for col in on.find_all(exp.Column):
                qual = col.table.lower()
                if qual and qual != right_alias and qual in alias_of:
                    lefts.add(alias_of[qual])
        if not lefts and base is not None and base != right:
            lefts.add(base)
        for left in sorted(lefts):
            a, b = sorted((left, right))
            stats.join_pairs[(a, b)] += 1


def _mine_filters(cond: exp.Expr | None, stats: PatternStats, found: Counter[str]) -> None:
    """Filter kinds in one WHERE/HAVING condition, not descending into subqueries (they have their own)."""
    if cond is None:
        return
    stack = [cond]
    while stack:
        node = stack.pop()
        kind = None
        if isinstance(node, (exp.EQ, exp.NEQ)) or isinstance(node, _RANGE):
            if _is_value(node.this) or _is_value(node.expression):
                kind = "=" if isinstance(node, exp.EQ) else "<>" if isinstance(node, exp.NEQ) else "range"
        elif isinstance(node, exp.In):
            kind = "IN"
        elif isinstance(node, (exp.Like, exp.ILike)):
            kind = "LIKE"
        elif isinstance(node, exp.Between):
            kind = "BETWEEN"
        elif isinstance(node, exp.Is):
            kind = "IS NULL"
        if kind is not None:
            stats.filters[kind] += 1
            found[{"=": "filter_eq", "<>": "filter_eq", "range": "filter_range", "IN": "filter_in",
                   "LIKE": "filter_like", "BETWEEN": "between", "IS NULL": "is_null"}[kind]] += 1
            continue
        for child in node.iter_expressions():
            if not isinstance(child, (exp.Subquery, exp.Select, exp.Exists)):
                stack.append(child)


def _is_value(node: exp.Expr) -> bool:
    """A side of a comparison that is not a column of this query: a constant or a subquery."""
    if isinstance(node, exp.Subquery):
        return True
    return node.find(exp.Column) is None


def _mine_literal(node: exp.Expr, stats: PatternStats) -> None:
    """Record ``column op literal`` for comparisons, IN lists, BETWEEN, LIKE and IS NULL."""
    cmp = _COMPARISONS.get(type(node))
    if cmp is not None:
        left, right = _unparen(node.this), _unparen(node.expression)
        if isinstance(left, exp.Column) and _literal(right) is not _NO:
            stats.literals[(left.name.lower(), cmp, _literal(right))] += 1
        elif isinstance(right, exp.Column) and _literal(left) is not _NO:
            stats.literals[(right.name.lower(), _FLIPPED[cmp], _literal(left))] += 1
        return
    if isinstance(node, exp.In) and isinstance(_unparen(node.this), exp.Column):
        col = _unparen(node.this).name.lower()
        for e in node.expressions:
            value = _literal(e)
            if value is not _NO:
                stats.literals[(col, "IN", value)] += 1
    elif isinstance(node, exp.Between) and isinstance(_unparen(node.this), exp.Column):
        low, high = _literal(node.args["low"]), _literal(node.args["high"])
        if low is not _NO and high is not _NO:
            stats.literals[(_unparen(node.this).name.lower(), "BETWEEN", (low, high))] += 1
    elif isinstance(node, (exp.Like, exp.ILike)) and isinstance(_unparen(node.this), exp.Column):
        value = _literal(node.expression)
        if value is not _NO:
            op = "LIKE" if isinstance(node, exp.Like) else "ILIKE"
            stats.literals[(_unparen(node.this).name.lower(), op, value)] += 1
    elif isinstance(node, exp.Is) and isinstance(_unparen(node.this), exp.Column) \
            and isinstance(node.expression, exp.Null):
        op = "IS NOT NULL" if isinstance(node.parent, exp.Not) else "IS NULL"
        stats.literals[(_unparen(node.this).name.lower(), op, None)] += 1


_NO = object()  # "not a literal" (None is a literal: NULL)


def _unparen(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _literal(node: exp.Expr | None) -> Any:
    """The Python value of a literal (string, number, boolean, NULL, DATE '...'), else _NO."""
    if node is None:
        return _NO
    node = _unparen(node)
    if isinstance(node, exp.Cast):  # DATE '2024-01-01', '2024-01-01'::DATE
        node = _unparen(node.this)
    if isinstance(node, exp.Neg):
        inner = _literal(node.this)
        return -inner if isinstance(inner, (int, float)) and not isinstance(inner, bool) else _NO
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = str(node.this)
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text
    return _NO
