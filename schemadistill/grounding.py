"""Value grounding: a value the question names goes into SQL that left it out.

    from schemadistill.grounding import ValueIndex, ground_sql
    index = ValueIndex.from_database(executor, schema)   # distinct values of RUN/sandbox's text dimensions
    g = ground_sql("SELECT COUNT(*) FROM ecommerce.users AS u;", "How many users from Germany?", index)
    g.sql       # "SELECT COUNT(*) FROM ecommerce.users AS u WHERE u.country = 'Germany';"
    g.changes   # ["added u.country = 'Germany'"]

Why: on real questions a small student's commonest miss is a dropped or swapped filter value
("active users from Germany in 2024" without the country condition, or 'Chrome' where the
question says Safari): it learned the shape, not every value. The database knows which words of
the question are values, so that part need not be learned. Used after generation everywhere
the student answers: the evaluation after each phase (which also reports the ungrounded
accuracy), and the exported runtime (the artifact ships the index as ``values.json``).

The rules are conservative; where one is not sure it changes nothing:

- A *mention* is a phrase of the question equal to a distinct value of a low-cardinality text
  column (or one of the sidecar's ``examples`` of it, which the sample data may lack), or a
  known alias of it ("UK", "German", "Dutch" for country names), or one of the teacher's words for a yes/no column ("active", "inactive", "non-fraud": ``flag = 1`` or
  ``= 0``; not after "most"/"more"/...). A value phrase that is also a common English word
  counts only with the value's own capitals, and not as the question's first word. A phrase
  naming values of two columns is ambiguous and ignored; two values of one column (a
  comparison) are left to the model.
- A mentioned column that the SQL never references is added as ``alias.col = 'value'`` to the
  WHERE of the outermost SELECT that reads its table. When no SELECT reads it but one reads
  a single table one foreign key away (the outermost such; in "first-time users in Germany"
  the inner per-user SELECT), the value is reached along the key: a join
  from the referencing side (its bare column names qualified, so none becomes ambiguous), a
  semi-join ``key IN (SELECT ...)`` from the referenced side, so no row is counted twice.
  Anything else is left to the model, and set operations are left alone.
- A condition ``col = 'x'`` (or ``col <> 'x'``) whose value the question does not name (another
  value, or one the column never holds, such as 'UK'), on a column of which the question names
  exactly one value not already in the SQL, gets that value; a flag's only test with the other
  polarity flips. A value the question excludes right where it names it ("country not equal to
  United Kingdom", "os != 'iOS'", "other than France") turns its one ``col = 'v'`` WHERE test
  into ``col <> 'v'``.
- A condition ``col = 'x'`` AND-ed into a WHERE, on a column of the index, goes when the
  question names no value of that column and no word of 'x' (the model copied it from a pair
  it resembles).
- The age test the question states in people's words ("aged 25-35", "over 30 years old", "18 and
  older"; schemadistill/ages.py) replaces the WHERE's tests of the age column (a numeric column
  named age, customer_age, ...) in place, or is added like a value; its numbers are kept out of
  the literal grounding, so they are never paired with another column.
- A period the question states as its one date ("in December 2024", "during Q2 2024") becomes
  ``d >= start AND d < day after end`` on the date column of the first SELECT, outermost first,
  that reads exactly one, when the query tests no date at all; a one-sided bound the same way
  ("after 2024-12-09": ``d >= day after``; "since March 2023", "starting 2023-11-30": ``d >=
  start``; "before 2024": ``d < start``; "through June 2023": ``d < day after end``), but not a
  window counted back ("the last 30 days before 2024-12-31") nor "from 2023" (a period or a bound).
- Two or more aggregates the question names ("average session duration and total revenue")
  of which the outer SELECT computes one: the others are added to it; a projection repeated
  word for word goes (schemadistill/measures.py). A question naming one aggregate word, and
  counting nothing, gets it in place of the outer SELECT's one other aggregate. A stated
  ratio ("X divided by Y") turns a division the other way round or of one measure by itself.
- A spread the question states: "sample"/"population" standard deviation or variance picks
  the function, "the range of X" is ``MAX(x) - MIN(x)`` (schemadistill/spreads.py).
- Values listed as one list of one column ("one of Chrome and Safari") make its one equality
  an ``IN`` of them.
- "How many X" / "the number of X" where X is a table's word ("users", "visits"): the outer
  SELECT's one COUNT counts X: ``COUNT(*)`` over sessions becomes ``COUNT(DISTINCT s.user_id)``
  (the one key to users; so does ``COUNT(DISTINCT s.session_id)``, the sessions' own key),
  ``COUNT(DISTINCT s.user_id)`` for "how many sessions" ``COUNT(*)``. A rate is a share of the
  rows its share word names: "the share of fraud sessions" is ``COUNT_IF(c) / COUNT(*)``, "what
  percentage of clients ..." counts distinct users the same way. "Number of rows and number of
  distinct users" answered with one of the two counts gets the other.
- A named condition of the sidecar (``filters:``, e.g. purchase = ``revenue > 0``) whose
  synonym the question says ("made a purchase"), not negated ("never", "didn't"), is added the
  same way, unless the SQL already tests it (a WHERE, a CASE) or compares its column ("a
  purchase over 100" as ``revenue > 100``).

- The dimensions a breakdown names ("for each browser type and OS family", "by operating
  system"; the lexicon's dimension phrases, ``values.json`` ``dimensions``) set the outer GROUP
  BY (schemadistill/breakdowns.py); "how many different countries" counts ``DISTINCT country``;
  "sorted by platform" sorts a one-key breakdown by its key (schemadistill/ordering.py); a
  ROLLUP's keys follow the order the question names them, a dimension after "subtotals by" first.
- A conditional count of a value or flag the question never states is ``COUNT(*)``; a value on
  a column that never holds it, beside another column's test of it, goes.
- A rate counts the condition the question states after the verb that follows its share word
  ("what share of fraud sessions had Chrome": Chrome is counted, fraud picks the rows;
  schemadistill/rates.py); a listing cut by a LIMIT and sorted by its key ranks by the measure
  the question's superlative names ("the session with the highest income": ``ORDER BY revenue
  DESC``, schemadistill/ordering.py).

Every rule reads the question with its misspelt words put right ("otehr than Firefox", "brwoser
type", "frauud sessions": schemadistill/spelling.py, towards the index's own words); the student
always sees what the user wrote.

First of all, :func:`ground_sql` puts in the tests the question writes in SQL's terms
("session_duration < 750") or, with an index, in words on a measure's phrase ("where the money
spent is not above 1700"; schemadistill/stated_tests.py), then the dates and numbers the
question states and the SQL copied wrong, how many rows it asks for, and takes a rate's own
condition out of its WHERE (schemadistill/literals.py, answer_shape.py, rates.py; no index needed).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from schemadistill.ages import AgeTest, is_age_column, stated_age
from schemadistill.answer_shape import drop_constant_grouping, show_group_keys
from schemadistill.breakdowns import (
    ground_breakdown,
    named_dimensions,
    says_breakdown,
    stated_breakdown,
    subtotal_keys,
)
from schemadistill.conjuncts import and_where, bare_sql, is_where_conjunct, outer_paren, remove_conjunct
from schemadistill.literals import (
    Atom,
    ground_literals,
    question_atoms,
)
from schemadistill.measures import (
    add_count_pair,
    add_missing_measures,
    column_words,
    count_words,
    dimension_words,
    fix_count,
    fix_distinct_count,
    fix_share,
    measure_at_start,
    measure_words,
    orient_ratio,
    own_tables,
    plain_count,
    replace_measure,
    stated_count,
    stated_count_pair,
    stated_distinct,
    stated_measures,
    stated_ratio,
    stated_share,
    stated_superlative,
)
from schemadistill.ordering import ground_key_sort, sort_rows_by, stated_key_sort
from schemadistill.rates import counted_conditions, place_counted_condition
from schemadistill.schema.model import NUMERIC_TYPES, Column, NamedFilter, Schema, Table
from schemadistill.spelling import Speller, is_english
from schemadistill.spreads import fix_range, fix_spread, stated_range, stated_spread
from schemadistill.stated_tests import StatedTest, put_stated_tests, stated_tests, worded_tests

MAX_VALUES = 200  # more distinct values than this: free text or names, not a dimension
MAX_VALUE_CHARS = 40
MAX_VALUE_WORDS = 4
COMMON_ZIPF = 4.0  # wordfreq frequency from which a phrase is also an ordinary word ("Edge", "Windows")
FORMAT = 1

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.&-][A-Za-z0-9]+)*")

# Country names as users write them. Keys are the names as a database usually stores them.
# Short names stand where the name stands ("users from the UK"): the teacher writes them too
# (teacher/lexicon.py). Demonyms stand before a noun ("German users"): grounding reads them.
COUNTRY_SHORT_NAMES: dict[str, list[str]] = {
    "United States": ["US", "USA", "the US", "America"],
    "United Kingdom": ["UK", "the UK", "Britain", "Great Britain"],
    "Netherlands": ["the Netherlands", "Holland"],
    "South Korea": ["Korea"],
    "United Arab Emirates": ["UAE", "the UAE"],
}
COUNTRY_DEMONYMS: dict[str, list[str]] = {
    "United States": ["American"], "United Kingdom": ["British"], "Germany": ["German"],
    "France": ["French"], "Netherlands": ["Dutch"], "Spain": ["Spanish"], "Italy": ["Italian"],
    "Canada": ["Canadian"], "Mexico": ["Mexican"], "Brazil": ["Brazilian"],
    "Argentina": ["Argentinian", "Argentine"], "India": ["Indian"], "China": ["Chinese"],
    "Japan": ["Japanese"], "South Korea": ["Korean", "South Korean"], "Australia": ["Australian"],
    "Ireland": ["Irish"], "Sweden": ["Swedish"], "Norway": ["Norwegian"], "Denmark": ["Danish"],
    "Finland": ["Finnish"], "Poland": ["Polish"], "Switzerland": ["Swiss"], "Austria": ["Austrian"],
    "Belgium": ["Belgian"], "Portugal": ["Portuguese"], "Greece": ["Greek"], "Turkey": ["Turkish"],
    "Russia": ["Russian"], "Ukraine": ["Ukrainian"], "Singapore": ["Singaporean"],
    "South Africa": ["South African"], "Nigeria": ["Nigerian"], "Egypt": ["Egyptian"],
    "Israel": ["Israeli"], "United Arab Emirates": ["Emirati"], "Saudi Arabia": ["Saudi"],
    "New Zealand": ["New Zealander"],
}
_SPELLINGS = {"United States": ["U.S.", "U.S.A.", "the States"], "United Kingdom": ["U.K.", "GB"],
              "Germany": ["Deutschland"], "Netherlands": ["NL"], "New Zealand": ["NZ"]}
COUNTRY_ALIASES: dict[str, list[str]] = {
    k: [*COUNTRY_SHORT_NAMES.get(k, []), *COUNTRY_DEMONYMS.get(k, []), *_SPELLINGS.get(k, [])]
    for k in {**COUNTRY_SHORT_NAMES, **COUNTRY_DEMONYMS, **_SPELLINGS}}
_ALIASES_BY_VALUE = {k.lower(): v for k, v in COUNTRY_ALIASES.items()}
# "the most active users" ranks users; it does not ask for the is_active flag
_DEGREE = frozenset({"most", "more", "least", "less", "very", "highly"})
# a flag word negated around it: "excluding fraudulent sessions", "the fraudulent flag is not set"
_NEGATORS_BEFORE = frozenset({"not", "no", "non", "excluding", "exclude", "excludes", "without", "except", "never",
                              "isn't", "isnt", "aren't", "arent", "wasn't", "wasnt", "weren't", "werent"})
# ("active user set to false", "active customer set to 0": one word, the entity, before "set to")
_NEGATED_AFTER = re.compile(r"^(?:flag |[\w'-]+ (?=set to ))?(?:(?:(?:is|was|are|were|being) )?(?:not\b|unset\b|false\b|0\b|"
                            r"set to (?:false|0|no)\b|equal to (?:false|0)\b|equals (?:false|0)\b)"
                            r"|(?:is|was|are|were)n['\u2019]?t\b)")  # "the fraudulent flag isn't set"
_FILTER_NEGATORS = _NEGATORS_BEFORE | {"didn't", "didnt", "don't", "doesn't", "haven't", "hasn't", "nothing", "zero"}
_OPPOSITE = {"1": "0", "0": "1", "true": "false", "false": "true"}


def words(text: str) -> list[str]:
    """The question's words as mentions are matched (case kept; "U.K." -> "U.K")."""
    return _WORD.findall(text)


def _phrase(tokens: Iterable[str]) -> str:
    return " ".join(t.lower() for t in tokens)


# "made a purchase", "with a purchase" -> "a purchase": the teacher and users also write "there is
# a purchase", "had a purchase", "and a purchase" (three of k16/k17's same-family misses lost the
# condition so); only a core that starts with an article, so "made purchases" gives no "purchases"
_FILTER_LEADS = frozenset({"with", "made", "make", "makes", "making", "has", "had", "have", "having", "did", "do"})


def _filter_core(tokens: list[str]) -> str | None:
    low = [t.lower() for t in tokens]
    if len(low) >= 3 and low[0] in _FILTER_LEADS and low[1] in ("a", "an"):
        return _phrase(low[1:])
    return None


@dataclass(frozen=True)
class ValueRef:
    """One value of one column: ``table`` is the qualified name (``ecommerce.users``).

    ``flag``: a yes/no column, ``value`` is the SQL literal ("1", "0", "true", "false").
    """

    table: str
    column: str
    value: str
    flag: bool = False

    def literal(self) -> exp.Expr:
        if not self.flag:
            return exp.Literal.string(self.value)
        if self.value in ("true", "false"):
            return exp.Boolean(this=self.value == "true")
        return exp.Literal.number(self.value)


@dataclass(frozen=True)
class FilterRef:
    """A named condition of the sidecar (``schema.yaml`` ``filters:``) on ``table``."""

    name: str
    table: str
    sql: str  # the condition, in ``dialect``
    dialect: str = "duckdb"

    @cached_property
    def _tree(self) -> exp.Expr:  # parsed once: grounding and the consistency check ask per question
        return sqlglot.parse_one(self.sql, read=self.dialect)

    @property
    def columns(self) -> set[str]:
        """The columns the condition reads."""
        return {c.name for c in self._tree.find_all(exp.Column)}

    def condition(self, qualifier: str | None) -> exp.Expr:
        """The condition with its columns qualified by ``qualifier`` (the table's alias)."""
        tree = self._tree.copy()
        if qualifier:
            for col in tree.find_all(exp.Column):
                col.set("table", exp.to_identifier(qualifier))
        return tree

    def key(self) -> str:
        """The condition with qualifiers dropped, to find it in a query however it is written."""
        return bare_sql(self._tree)

    @property
    def kind(self) -> type[exp.Expr]:
        """The node type the condition is (``exp.GT`` for ``revenue > 0``): what to search a query for."""
        return type(self._tree.unnest())


@dataclass
class Mention:
    ref: ValueRef
    text: str  # the words of the question that named it


@dataclass
class ValueIndex:
    """Phrases that name column values and named conditions; built from a database and the
    schema's sidecar, saved as ``values.json``."""

    # phrase (lower-case words joined by one space) -> [(ref, exact text or "" when any case matches)]
    phrases: dict[str, list[tuple[ValueRef, str]]] = field(default_factory=dict)
    # (table, column) -> lower-cased values, to tell a value from another literal
    columns: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    # phrase (lower-case words) -> the named condition it stands for ("made a purchase" -> revenue > 0)
    filters: dict[str, FilterRef] = field(default_factory=dict)
    # phrase (lower-case words) -> (table, column) of a numeric measure ("session length")
    measures: dict[str, tuple[str, str]] = field(default_factory=dict)
    # plural phrase -> table whose rows "how many <phrase>" counts ("visits" -> sessions)
    counts: dict[str, str] = field(default_factory=dict)
    # phrase (lower-case words) -> (table, column) a breakdown groups by ("web client" -> browser)
    dimensions: dict[str, tuple[str, str]] = field(default_factory=dict)
    # phrase (lower-case words) -> (table, column) of any column, keys and dates too ("date of
    # action" -> action_date): what a listing may show
    names: dict[str, tuple[str, str]] = field(default_factory=dict)
    # phrase (lower-case words) -> (name, SQL) of a sidecar metric ("fraud rate" -> fraud_rate)
    metrics: dict[str, tuple[str, str]] = field(default_factory=dict)
    # flag_words, built on first use: grounding asks for it on every question
    _flag_words: dict[tuple[str, str], set[str]] | None = field(default=None, init=False, repr=False, compare=False)
    # flag_phrases, built on first use: the consistency check asks for it on every candidate
    _flag_phrases: dict[str, tuple[str, str]] | None = field(default=None, init=False, repr=False, compare=False)
    # value_spellings, built on first use (pattern grounding asks for it per question)
    _spellings: dict[tuple[str, str], set[str]] | None = field(default=None, init=False, repr=False, compare=False)
    _speller: Speller | None = field(default=None, init=False, repr=False, compare=False)

    def add(self, ref: ValueRef, text: str, exact: bool) -> None:
        toks = words(text)
        if not toks:
            return
        self._flag_words = self._flag_phrases = self._spellings = None
        entry = (ref, " ".join(toks) if exact else "")
        bucket = self.phrases.setdefault(_phrase(toks), [])
        if entry not in bucket:
            bucket.append(entry)

    @property
    def max_words(self) -> int:
        return max((p.count(" ") + 1 for p in self.phrases), default=0)

    @property
    def flag_words(self) -> dict[tuple[str, str], set[str]]:
        """(table, column) of each yes/no column -> the words of its phrases ("active", "not")."""
        if self._flag_words is None:
            out: dict[tuple[str, str], set[str]] = defaultdict(set)
            for phrase, entries in self.phrases.items():
                for ref, _ in entries:
                    if ref.flag:
                        out[(ref.table, ref.column)].update(phrase.split())
            self._flag_words = dict(out)
        return self._flag_words

    @property
    def flag_phrases(self) -> dict[str, tuple[str, str]]:
        """Each phrase of a yes/no column ("marked as fraud", "not active") -> (table, column)."""
        if self._flag_phrases is None:
            self._flag_phrases = {phrase: (ref.table, ref.column) for phrase, entries in self.phrases.items()
                                  for ref, _ in entries if ref.flag}
        return self._flag_phrases

    @property
    def value_spellings(self) -> dict[tuple[str, str], set[str]]:
        """(table, column) -> its values as the data spells them ("iOS"), flags left out."""
        if self._spellings is None:
            out: dict[tuple[str, str], set[str]] = defaultdict(set)
            for entries in self.phrases.values():
                for ref, _ in entries:
                    if not ref.flag:
                        out[(ref.table, ref.column)].add(ref.value)
            self._spellings = dict(out)
        return self._spellings

    @property
    def speller(self) -> Speller:
        """Reads a misspelt word of the index's phrases as the word (schemadistill/spelling.py)."""
        if self._speller is None:
            texts = [*self.phrases, *self.filters, *self.measures, *self.counts, *self.dimensions]
            self._speller = Speller((w for t in texts for w in t.split()),
                                    identifiers=(t.replace(" ", "_") for t in texts))
        return self._speller

    def __len__(self) -> int:
        return sum(len(v) for v in self.columns.values()) + len(self.filters)

    def add_filters(self, filters: Iterable[NamedFilter], dialect: str) -> None:
        """Named conditions (the sidecar's, or mined from EXAMPLES: teacher/mined_filters.py),
        under their synonyms; not their names: a filter named "purchase" must not fire on
        "purchase amount", the revenue column's own synonym."""
        for f in filters:
            ref = FilterRef(f.name, f.table, f.sql, dialect)
            for text in f.synonyms:
                toks = words(text)
                if toks:
                    self.filters.setdefault(_phrase(toks), ref)
            for text in f.synonyms:  # after every full synonym: a core never displaces one
                core = _filter_core(words(text))
                if core:
                    self.filters.setdefault(core, ref)

    # -- building --------------------------------------------------------------------------
    @classmethod
    def from_values(cls, values: dict[tuple[str, str], list[str]],
                    flags: dict[tuple[str, str], dict[str, list[str]]] | None = None) -> ValueIndex:
        """From ``{(qualified table, column): [value, ...]}``; aliases and case rules added here.

        ``flags``: ``{(table, column): {literal: [phrase, ...]}}`` for yes/no columns, e.g.
        ``{"1": ["active"], "0": ["inactive", "not active"]}``; phrases match in any case.
        """
        index = cls()
        for (table, column), by_literal in (flags or {}).items():
            for literal, phrases in by_literal.items():
                for text in phrases:
                    index.add(ValueRef(table, column, literal, flag=True), text, exact=False)
        for (table, column), vals in values.items():
            index.columns[(table, column)] = {v.lower() for v in vals}
            for v in vals:
                ref = ValueRef(table, column, v)
                for text in [v, *_ALIASES_BY_VALUE.get(v.lower(), [])]:
                    toks = words(text)
                    if not toks:
                        continue
                    common = len(toks) == 1 and _zipf(toks[0]) >= COMMON_ZIPF
                    if common and toks[0].islower():
                        continue  # "other", "new": a word, never safely a value
                    index.add(ref, text, exact=common)
        return index

    @classmethod
    def from_database(cls, executor: Any, schema: Schema, max_values: int = MAX_VALUES,
                      flags: bool = True) -> ValueIndex:
        """Distinct values of every text column with role dimension or text and few values (with
        the sidecar's ``examples`` of that column), and (``flags``) the words of every yes/no
        column, from the teacher's lexicon: the same words its questions use ("active",
        "non-fraud", "deactivated", sidecar synonyms); and the lexicon's words for measures and
        tables (schemadistill/measures.py).

        ``executor`` is a :class:`~schemadistill.sandbox.Executor` (read-only, row cap, timeout).
        """
        found: dict[tuple[str, str], list[str]] = {}
        for table in schema.tables:
            for col in table.columns:
                if col.type != "text" or col.role not in ("dimension", "text"):
                    continue
                q = _quote(col.name)
                res = executor.run(f"SELECT {q} FROM {_qualified(table.qualified_name)} WHERE {q} IS NOT NULL "
                                   f"GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT {max_values + 1}", "duckdb")
                if not res.ok or len(res.rows) > max_values:
                    continue
                vals = [str(r[0]).strip() for r in res.rows]
                # the sidecar's examples are values too, held or not by this sample of the data
                # ("users from Canada" where the sample has none: the production data may)
                held = {v.lower() for v in vals}
                vals += [v for v in (str(x).strip() for x in col.examples) if v.lower() not in held]
                vals = [v for v in vals if _usable(v)]
                if vals:
                    found[(table.qualified_name, col.name)] = vals
        index = cls.from_values(found, flag_words(schema) if flags else None)
        index.add_filters(schema.filters, schema.dialect)
        index.measures, index.counts = measure_words(schema), count_words(schema)
        index.dimensions = dimension_words(schema)
        index.names = column_words(schema)
        for metric in schema.metrics:
            for text in [metric.name.replace("_", " "), *metric.synonyms]:
                phrase = _phrase(words(text))
                if phrase:
                    index.metrics.setdefault(phrase, (metric.name, metric.sql))
        return index

    # -- files -----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        cols = [{"table": t, "column": c, "values": sorted(vs)} for (t, c), vs in sorted(self.columns.items())]
        phrases = [{"phrase": p, "table": r.table, "column": r.column, "value": r.value, "exact": exact,
                    **({"flag": True} if r.flag else {})}
                   for p, entries in sorted(self.phrases.items()) for r, exact in entries]
        filters = [{"phrase": p, "name": f.name, "table": f.table, "sql": f.sql, "dialect": f.dialect}
                   for p, f in sorted(self.filters.items())]
        measures = [{"phrase": p, "table": t, "column": c} for p, (t, c) in sorted(self.measures.items())]
        counts = [{"phrase": p, "table": t} for p, t in sorted(self.counts.items())]
        dimensions = [{"phrase": p, "table": t, "column": c} for p, (t, c) in sorted(self.dimensions.items())]
        names = [{"phrase": p, "table": t, "column": c} for p, (t, c) in sorted(self.names.items())]
        metrics = [{"phrase": p, "name": n, "sql": q} for p, (n, q) in sorted(self.metrics.items())]
        return {"format": FORMAT, "columns": cols, "phrases": phrases, "filters": filters, "measures": measures,
                "counts": counts, "dimensions": dimensions, "names": names, "metrics": metrics}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ValueIndex:
        index = cls()
        for c in d.get("columns", []):
            index.columns[(c["table"], c["column"])] = set(c["values"])
        for p in d.get("phrases", []):
            index.phrases.setdefault(p["phrase"], []).append(
                (ValueRef(p["table"], p["column"], p["value"], bool(p.get("flag"))), p.get("exact", "")))
        for f in d.get("filters", []):  # absent in artifacts made before named filters
            index.filters[f["phrase"]] = FilterRef(f["name"], f["table"], f["sql"], f.get("dialect", "duckdb"))
        for m in d.get("measures", []):  # absent in artifacts made before measure grounding
            index.measures[m["phrase"]] = (m["table"], m["column"])
        for c in d.get("counts", []):
            index.counts[c["phrase"]] = c["table"]
        for m in d.get("dimensions", []):  # absent in artifacts made before breakdown grounding
            index.dimensions[m["phrase"]] = (m["table"], m["column"])
        for m in d.get("names", []):  # absent in artifacts made before session 22
            index.names[m["phrase"]] = (m["table"], m["column"])
        for m in d.get("metrics", []):  # absent in artifacts made before session 22
            index.metrics[m["phrase"]] = (m["name"], m["sql"])
        return index

    def save(self, path: str | Path) -> None:
        from schemadistill.io import atomic_write_json
        atomic_write_json(Path(path), self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> ValueIndex:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))

    # -- matching --------------------------------------------------------------------------
    def mentions(self, question: str) -> list[Mention]:
        """Values the question names, longest phrase first, left to right, no overlaps."""
        toks = words(question)
        quoted = {_phrase(words(m[1])) for m in QUOTED_TEXT.finditer(question)}
        out: list[Mention] = []
        i, longest = 0, self.max_words
        while i < len(toks):
            for n in range(min(longest, len(toks) - i), 0, -1):
                span = toks[i:i + n]
                hits = [ref for ref, exact in self.phrases.get(_phrase(span), [])
                        if (not exact or _written_as(" ".join(span), exact, i, _phrase(span) in quoted))
                        and not (ref.flag and i > 0 and toks[i - 1].lower() in _DEGREE)]
                if hits and hits[0].flag and self._negated(toks, i, n):
                    hits = [ValueRef(r.table, r.column, _OPPOSITE[r.value], flag=True) for r in hits]
                if hits:
                    cols = {(r.table, r.column) for r in hits}
                    if len(cols) == 1:  # one phrase, two columns: which one is a guess
                        out.extend(Mention(r, " ".join(span)) for r in hits[:1])
                    i += n
                    break
            else:
                i += 1
        return out

    def filter_mentions(self, question: str) -> list[FilterRef]:
        """Named conditions the question asks for; a negated one ("never made a purchase") is
        left to the model, whose SQL for a negation is not one we could check."""
        if not self.filters:
            return []
        toks = [t.lower() for t in words(question)]
        longest = max(p.count(" ") + 1 for p in self.filters)
        out: list[FilterRef] = []
        i = 0
        while i < len(toks):
            for n in range(min(longest, len(toks) - i), 0, -1):
                ref = self.filters.get(" ".join(toks[i:i + n]))
                if ref is not None:
                    if not set(toks[max(0, i - 3):i]) & _FILTER_NEGATORS and ref not in out:
                        out.append(ref)
                    i += n
                    break
            else:
                i += 1
        return out

    @staticmethod
    def _negated(toks: list[str], i: int, n: int) -> bool:
        before = {t.lower() for t in toks[max(0, i - 2):i]}
        after = " ".join(t.lower() for t in toks[i + n:i + n + 5])
        return bool(before & _NEGATORS_BEFORE) or bool(_NEGATED_AFTER.match(after))


# a quoted value ("IOS", 'android'): a value in any case, whatever its words mean in English
QUOTED_TEXT = re.compile(r"""["“'‘]([^"“”'‘’\n]{1,40})["”'’]""")


def _written_as(text: str, exact: str, i: int, quoted: bool) -> bool:
    """Does ``text`` name the value whose exact spelling is ``exact`` (a value that is also an
    ordinary word: "Windows", "Germany")? As spelt, past the question's first word (where any
    word is capitalised); in capitals ("GERMANY", "IOS"); or in quotes, in any case."""
    if quoted:
        return True
    return (text == exact and i > 0) or (text == exact.upper() != exact and len(exact) > 2)


@dataclass
class Grounded:
    sql: str
    changes: list[str] = field(default_factory=list)


def ground_sql(sql: str, question: str, index: ValueIndex | None, dialect: str = "duckdb",
               schema: Schema | None = None, literals: bool = True) -> Grounded:
    """``sql`` with the question's dates, numbers, named values and named conditions put in (see
    the module docstring); never raises. ``literals=False`` skips the dates and numbers.

    ``schema`` (its foreign keys and columns) allows the one-hop join; without it only tables
    the SQL already reads get a condition.
    """
    if index is not None:  # every rule below reads the words the user meant
        question = index.speller.correct(question)
    ages = {c.name for _, c in _age_columns(schema)} if schema is not None else set()
    age = stated_age(question) if ages else None
    stated = stated_tests(question, schema)
    if index is not None and index.measures:  # "the money spent is not above 1700"
        stated += worded_tests(question, index.measures, {t.column for t in stated} | ages)
    sql, literal_changes = _put_stated(sql, stated, schema, dialect) if stated else (sql, [])
    if literals:  # the age's and the stated tests' numbers are theirs, not numbers to pair with other columns
        spans = [t.span for t in stated] + ([age.span] if age else [])
        columns = {t.column for t in stated} | (ages if age else set())
        sql, changed = ground_literals(sql, question, dialect, spans, columns)
        literal_changes += changed
    if index is None or not sql.strip():
        return Grounded(sql, literal_changes)
    mentions = index.mentions(question)
    filters = index.filter_mentions(question)
    dated = _stated_date_test(question) if schema is not None else None
    asked = stated_measures(question, index.measures)
    counted = stated_count(question, index.counts) if schema is not None else None
    ratio = stated_ratio(question, index.measures) if "/" in sql else None  # no division, nothing to turn
    spread = stated_spread(question)
    ranged = stated_range(question, index.measures)
    key_sort = stated_key_sort(question)
    breakdown = stated_breakdown(question, index.dimensions)
    distinct = stated_distinct(question, index.dimensions)
    ranked = stated_superlative(question, index.measures)
    if not mentions and not filters and dated is None and age is None and not asked and counted is None \
            and ratio is None and spread is None and ranged is None and key_sort is None and not breakdown \
            and distinct is None and ranked is None \
            and "'" not in sql and not _may_repeat_projection(sql):
        return Grounded(sql, literal_changes)
    body = sql.strip()
    semicolon = body.endswith(";")
    try:
        tree = sqlglot.parse_one(body.rstrip(";"), read=dialect)
    except (SqlglotError, RecursionError, ValueError):
        return Grounded(sql, literal_changes)
    if not isinstance(tree, exp.Select):
        return Grounded(sql, literal_changes)  # set operations, DDL...: which branch a value belongs to is not clear
    by_col: dict[tuple[str, str], set[ValueRef]] = defaultdict(set)
    for m in mentions:
        by_col[(m.ref.table, m.ref.column)].add(m.ref)
    named = {m.ref.value.lower() for m in mentions if not m.ref.flag}
    changes: list[str] = _one_value_lists(tree)
    if breakdown:  # before the values: a key it drops may be the column a named value filters
        changes += _ground_breakdown(tree, question, breakdown, index.dimensions, mentions, schema)
    for (table, column), refs in by_col.items():
        if len(refs) != 1:
            continue
        ref = next(iter(refs))
        if _references(tree, table, column):
            change = _swap_flag(tree, ref) if ref.flag else (
                _swap_value(tree, table, column, ref.value, named) or _fix_pattern(tree, index, ref))
        else:
            change = _add_somewhere(tree, schema, table, _equals(ref))
        if change:
            changes.append(change)
    for m in mentions:
        if m.ref.flag or len(by_col[(m.ref.table, m.ref.column)]) != 1:
            continue
        changes += _drop_contradiction(tree, question, m)
        change = _negate_value(tree, question, m)
        if change:
            changes.append(change)
    for (table, column), refs in by_col.items():
        if any(r.flag for r in refs):
            continue
        if len(refs) > 1:
            changes += _drop_narrowing(tree, table, column, {r.value.lower() for r in refs})
        col_mentions = [m for m in mentions if (m.ref.table, m.ref.column) == (table, column)]
        in_order = list(dict.fromkeys(m.ref.value for m in col_mentions))
        changes += _named_list(tree, table, column, in_order) or _listed_alternatives(
            tree, question, table, column, in_order, [m.text for m in col_mentions])
    # before the unnamed values go: a counted value the question never states is replaced, not dropped
    changes += place_counted_condition(tree, question, _stated_at(question, index, mentions, table_aliases(tree)))
    changes += _drop_misplaced(tree, index)
    changes += _drop_unnamed(tree, index, question, set(by_col))
    changes += _drop_unstated_flags(tree, index, question, set(by_col))
    changes += plain_count(tree, _unstated(tree, index, question, set(by_col)))
    changes += show_group_keys(tree)  # again: a dropped value test may have held a key to one value
    if index.dimensions and not breakdown and not says_breakdown(question) \
            and not _groups_named(tree, named_dimensions(question, index.dimensions)):
        changes += drop_constant_grouping(tree)  # "which country has the fewest ..." keeps its key
    if key_sort is not None:
        changes += ground_key_sort(tree, question, lambda words: measure_at_start(words, index.measures) is not None,
                                   dialect)
    if ranked is not None and any(_table_matches(t, ranked[1][0]) for t in own_tables(tree)):
        changes += sort_rows_by(tree, ranked[1][1], ranked[0], dialect)  # "the session with the highest income"
    if age is not None and schema is not None:
        change = _ground_age(tree, schema, age)
        if change:
            changes.append(change)
    added_filter = False
    for fref in filters:
        if not has_condition(tree, fref) and not _constrained(tree, fref):
            change = _add_somewhere(tree, schema, fref.table, fref.condition)
            if change:
                changes.append(change)
                added_filter = True
    if added_filter:  # "what share of traffic have a purchase": the condition just added may be the counted one
        changes += place_counted_condition(tree, question, _stated_at(question, index, mentions, table_aliases(tree)))
    if dated is not None and schema is not None:
        change = _add_date_test(tree, schema, dated) or _bound_from_equality(tree, schema, dated)
        if change:
            changes.append(change)
    changes += add_missing_measures(tree, asked)
    change = orient_ratio(tree, ratio) if ratio is not None else None
    if change:
        changes.append(change)
    changes += fix_spread(tree, spread)
    change = fix_range(tree, ranged)
    if change:
        changes.append(change)
    pair = stated_count_pair(question, index.counts) if schema is not None else None
    change = add_count_pair(tree, pair, schema) if pair is not None and schema is not None else None
    if change:
        changes.append(change)
    change = (fix_distinct_count(tree, distinct) if distinct is not None
              else fix_count(tree, counted, schema) if counted is not None and schema is not None and pair is None
              else replace_measure(tree, asked, question))
    if change:
        changes.append(change)
    shared = stated_share(question, index.counts) if schema is not None else None
    change = fix_share(tree, shared, schema) if shared is not None and schema is not None else None
    if change:
        changes.append(change)
    if not changes:
        return Grounded(sql, literal_changes)
    try:
        out = tree.sql(dialect=dialect)
    except SqlglotError:
        return Grounded(sql, literal_changes)
    return Grounded(out + (";" if semicolon else ""), literal_changes + changes)


def _stated_at(question: str, index: ValueIndex, mentions: list[Mention],
               aliases: dict[str, str]) -> Callable[[exp.Expr], int | None]:
    """Where the question states a condition (character offset), or None: a value test at its
    value's mention, a yes/no column's test at its flag words, a named condition at its
    synonym, a comparison with a number at that number (said once). Dates are not located."""
    filters = [(ref.key(), phrase) for phrase, ref in index.filters.items()]
    numbers: list[Atom] = []  # the question's numbers (literals.py reads them), on first use

    def number_at(text: str) -> int | None:
        if not numbers:
            numbers.extend(a for a in question_atoms(question) if a.kind == "number" and a.number is not None)
        said = [a.pos for a in numbers if a.number is not None and abs(a.number - float(text)) < 1e-9]
        return said[0] if len(said) == 1 else None

    def at(cond: exp.Expr) -> int | None:
        while isinstance(cond, exp.Paren):
            cond = cond.this
        key = bare_sql(cond)
        for fkey, phrase in filters:
            if fkey == key:
                hit = re.search(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", question, re.IGNORECASE)
                if hit:
                    return hit.start()
        col = cond.this if isinstance(cond, (exp.EQ, exp.NEQ, exp.In, exp.Between, exp.GT, exp.GTE, exp.LT,
                                             exp.LTE)) else None
        if not isinstance(col, exp.Column):
            return None
        keys = column_keys(col, aliases, [*index.columns, *index.flag_words])
        sides = [cond.expression] if not isinstance(cond, (exp.In, exp.Between)) else (
            cond.expressions if isinstance(cond, exp.In) else [cond.args.get("low"), cond.args.get("high")])
        literals = [x for x in sides if isinstance(x, (exp.Literal, exp.Boolean))]
        if not literals or len(literals) != len(sides):
            return None
        if keys and all(isinstance(x, exp.Literal) and x.is_string for x in literals):
            texts = {str(x.this).lower() for x in literals}
            hits = [mention_at(question, m) for m in mentions if (m.ref.table, m.ref.column) in keys
                    and not m.ref.flag and m.ref.value.lower() in texts]
            spots = [h.start() if h else None for h in hits]
        elif keys and any(m.ref.flag for m in mentions):
            hits = [mention_at(question, m) for m in mentions if (m.ref.table, m.ref.column) in keys and m.ref.flag]
            spots = [h.start() if h else None for h in hits]
        elif all(isinstance(x, exp.Literal) and x.is_number for x in literals):
            spots = [number_at(x.this) for x in literals]
        else:
            return None
        found = [s for s in spots if s is not None]
        return min(found) if found and len(found) == len(spots) else None
    return at


def _groups_named(tree: exp.Select, named: set[tuple[str, str]]) -> bool:
    """Does the outer GROUP BY group by a dimension the question names ("which country ...")?"""
    group = tree.args.get("group")
    aliases = table_aliases(tree)
    return group is not None and any(column_keys(k, aliases, named) for k in group.expressions if isinstance(k, exp.Column))


def _ground_breakdown(tree: exp.Select, question: str, stated: list[tuple[str, str]],
                      phrases: dict[str, tuple[str, str]], mentions: list[Mention], schema: Schema | None) -> list[str]:
    """``breakdowns.ground_breakdown`` on ``tree``; a key it drops whose values the question
    names ("by browser for users in France or Holland") becomes their ``IN`` test (one value is
    the value rules' to add)."""
    aliases = table_aliases(tree)
    dimensions = set(phrases.values())

    def key_of(col: exp.Column) -> tuple[str, str] | None:
        keys = column_keys(col, aliases, dimensions)
        return next(iter(keys)) if len(keys) == 1 else None

    def alias_of(table: str) -> str | None:
        return next((src.alias_or_name for src in own_tables(tree) if _table_matches(src, table)), None)

    valued = {(m.ref.table, m.ref.column) for m in mentions if not m.ref.flag}
    keep = named_dimensions(question, phrases) - valued
    group = tree.args.get("group")
    before = {key_of(k) for k in group.expressions if isinstance(k, exp.Column)} if group is not None else set()
    changes = ground_breakdown(tree, stated, key_of, alias_of, keep, subtotal_keys(question, phrases))
    group = tree.args.get("group")
    after = {key_of(k) for k in group.expressions if isinstance(k, exp.Column)} if group is not None else set()
    for dropped in before - after - {None}:
        assert dropped is not None
        values = list(dict.fromkeys(m.ref.value for m in mentions
                                    if (m.ref.table, m.ref.column) == dropped and not m.ref.flag))
        if len(values) > 1 and not _references(tree, *dropped):
            change = _add_somewhere(tree, schema, dropped[0], _listed(dropped[1], values))
            if change:
                changes.append(change)
    return changes


def _listed(column: str, values: list[str]) -> Callable[[str | None], exp.Expr]:
    def make(qualifier: str | None) -> exp.Expr:
        return exp.In(this=exp.column(column, table=qualifier), expressions=[exp.Literal.string(v) for v in values])
    return make


def _put_stated(sql: str, stated: list[StatedTest], schema: Schema | None, dialect: str) -> tuple[str, list[str]]:
    """(``sql`` with the tests the question writes out put in, what changed); never raises."""
    try:
        tree = sqlglot.parse_one(sql.strip().rstrip(";"), read=dialect)
    except (SqlglotError, RecursionError, ValueError):
        return sql, []
    if not isinstance(tree, exp.Select):
        return sql, []
    changes = put_stated_tests(tree, stated, lambda table, make: _add_somewhere(tree, schema, table, make))
    try:
        out = tree.sql(dialect=dialect) + (";" if sql.strip().endswith(";") else "")
    except SqlglotError:
        return sql, []
    return (out, changes) if changes else (sql, [])


_SELECT_LIST = re.compile(r"^\s*SELECT\s+(.*?)\s+FROM\b", re.IGNORECASE | re.DOTALL)


def _may_repeat_projection(sql: str) -> bool:
    """A cheap look before parsing: does the first SELECT list name one thing twice
    (``SELECT session_id, os, browser, browser``)? ``add_missing_measures`` drops the repeat."""
    m = _SELECT_LIST.match(sql)
    items = [i.strip().lower() for i in m.group(1).split(",")] if m else []
    return len(items) != len(set(items))


# -- SQL surgery ------------------------------------------------------------------------------
def _table_matches(node: exp.Table, table: str) -> bool:
    parts = table.lower().split(".")
    if node.name.lower() != parts[-1]:
        return False
    db = (node.db or "").lower()
    return not db or len(parts) == 1 or db == parts[-2]


def table_aliases(tree: exp.Expr) -> dict[str, str]:
    """Alias or bare name of every real table in the query -> that table's bare name."""
    out = {}
    for t in tree.find_all(exp.Table):
        out[t.alias_or_name.lower()] = t.name.lower()
    return out


def _references(tree: exp.Expr, table: str, column: str) -> bool:
    """Does any column reference in the query name ``column`` and possibly belong to ``table``?"""
    bare = table.lower().split(".")[-1]
    aliases = table_aliases(tree)
    for c in tree.find_all(exp.Column):
        if c.name.lower() != column.lower():
            continue
        qual = c.table.lower()
        if not qual or qual not in aliases or aliases[qual] == bare:
            return True  # unqualified, or through a subquery/CTE alias: assume it is this one
    return False


def _equals(ref: ValueRef) -> Callable[[str | None], exp.Expr]:
    return lambda qual: exp.EQ(this=exp.column(ref.column, table=qual), expression=ref.literal())


def has_condition(tree: exp.Expr, ref: FilterRef) -> bool:
    """Does the query test the named condition anywhere (WHERE, a CASE, a subquery)?"""
    key = ref.key()
    return any(bare_sql(node) == key for node in tree.find_all(ref.kind))


_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.In)


def _constrained(tree: exp.Expr, ref: FilterRef) -> bool:
    """Does the query already compare a column of the named condition ("made a purchase over
    100" as ``revenue > 100``)? Then the question's own bound stands and nothing is added."""
    cols = {c.name.lower() for c in sqlglot.parse_one(ref.sql, read=ref.dialect).find_all(exp.Column)}
    for node in tree.find_all(*_COMPARISONS):
        operands = [node.this, *(node.args.get(k) for k in ("expression", "low", "high"))]
        if any(isinstance(o, exp.Column) and o.name.lower() in cols and _references(node, ref.table, o.name)
               for o in operands if o is not None):
            return True
    return False


def _add_somewhere(tree: exp.Select, schema: Schema | None, table: str,
                   make: Callable[[str | None], exp.Expr]) -> str | None:
    """The condition ``make(alias)`` on ``table``: where a SELECT reads it, else one key away."""
    change = _add_condition(tree, table, make)
    if change is None and schema is not None:
        for sel in tree.find_all(exp.Select):  # outermost first: "first-time users in Germany"
            change = _join_and_add(sel, schema, table, make)  # filters the inner per-user SELECT
            if change is not None:
                break
    return change


def _add_condition(tree: exp.Select, table: str, make: Callable[[str | None], exp.Expr]) -> str | None:
    for sel in tree.find_all(exp.Select):  # breadth first: the outermost reader wins
        for src in own_tables(sel):
            if _table_matches(src, table):
                cond = make(src.alias_or_name)
                and_where(sel, cond)
                return f"added {cond.sql()}"
    return None


def _join_and_add(tree: exp.Select, schema: Schema, table: str, make: Callable[[str | None], exp.Expr]) -> str | None:
    """Reach ``table`` from ``tree``'s only table along one foreign key, then filter on it.

    From the referencing side (sessions -> users) a join keeps one row per row; from the
    referenced side (users -> sessions) a join would multiply rows, so the filter becomes a
    semi-join instead: ``users.user_id IN (SELECT user_id FROM sessions WHERE browser = ...)``.
    """
    frm = tree.args.get("from") or tree.args.get("from_")
    src = frm.this if frm is not None else None
    if not isinstance(src, exp.Table) or tree.args.get("joins"):
        return None
    here = next((t for t in schema.tables if _table_matches(src, t.qualified_name)), None)
    there = schema.table(table)
    if here is None or there is None:
        return None
    up = [fk for fk in schema.foreign_keys if fk.table == here.qualified_name and fk.ref_table == there.qualified_name]
    down = [fk for fk in schema.foreign_keys if fk.ref_table == here.qualified_name and fk.table == there.qualified_name]
    if len(up) + len(down) != 1:
        return None  # no key, or several (billing vs shipping address): not ours to pick
    src_alias = src.alias_or_name
    cond = make(None)
    if down:
        fk = down[0]
        if len(fk.columns) != 1:
            return None
        inner = exp.select(exp.column(fk.columns[0])).from_(exp.to_table(there.qualified_name)).where(cond)
        and_where(tree, exp.In(this=exp.column(fk.ref_columns[0], table=src_alias), query=exp.Subquery(this=inner)))
        return f"added {src_alias}.{fk.ref_columns[0]} IN (SELECT {fk.columns[0]} FROM {there.qualified_name} " \
               f"WHERE {cond.sql()})"
    fk = up[0]
    used = {a.lower() for a in table_aliases(tree)}
    alias = next(a for a in (there.name[:1].lower(), there.name[:2].lower(), *(f"t{i}" for i in range(1, 99)))
                 if a not in used)
    own = {c.lower() for c in here.column_names}
    for c in tree.find_all(exp.Column):  # bare names of the outer SELECT only: subqueries keep theirs
        if not c.table and c.name.lower() in own and c.find_ancestor(exp.Select) is tree:
            c.set("table", exp.to_identifier(src_alias))
    on = exp.and_(*(exp.EQ(this=exp.column(a, table=src_alias), expression=exp.column(b, table=alias))
                    for a, b in zip(fk.columns, fk.ref_columns, strict=True)))
    target = exp.to_table(there.qualified_name)
    target.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    tree.join(target, on=on, copy=False)
    cond = make(alias)
    and_where(tree, cond)
    return f"joined {there.qualified_name} AS {alias} and added {cond.sql()}"


_PERIOD_LEAD = re.compile(r"\b(?:in|during|for|throughout|within|of|on)\s+(?:the\s+(?:month|year)\s+(?:of\s+)?)?$",
                          re.IGNORECASE)
_DATE_TYPES = ("date", "timestamp")


# one-sided bounds: "after" / "before" leave the date out, the others take it in
_AFTER_LEAD = re.compile(r"\b(?:after|later than)\s+(?:the\s+)?$", re.IGNORECASE)
_SINCE_LEAD = re.compile(r"\b(?:since|starting(?:\s+(?:on|from|in))?|beginning(?:\s+(?:on|in))?|as of|"
                         r"on or after|from)\s+(?:the\s+)?$", re.IGNORECASE)
_BEFORE_LEAD = re.compile(r"\b(?:before|prior to|earlier than)\s+(?:the\s+)?$", re.IGNORECASE)
_UNTIL_LEAD = re.compile(r"\b(?:until|till|through|up to(?: and including)?|up until|no later than|on or before)\s+"
                         r"(?:the\s+)?$",
                         re.IGNORECASE)
# a window counted back from a reference day ("the last 30 days before 2024-12-31") is not a bound
_RELATIVE = re.compile(r"\b(?:last|past|previous|prior|recent|trailing)\s+(?:\w+\s+)?(?:days?|weeks?|months?|"
                       r"quarters?|years?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class DateTest:
    """What the question's one date says about the date column: ``(op, day)`` conditions."""

    what: str  # "period", "after", "since", "before", "until": for the change note
    tests: tuple[tuple[type[exp.Expr], dt.date], ...]
    atom: Atom


def _stated_date_test(question: str) -> DateTest | None:
    """The question's one date said as a filter: a period ("in December 2024", "during Q2 2024")
    or a one-sided bound ("after 2024-12-09", "since March 2023", "before 2024", "through June
    2023"); None when it states several dates, counts a window back ("the last 30 days before
    2024-12-31") or says the date some other way ("sessions from 2023": from is a bound only
    with a day)."""
    atoms = [a for a in question_atoms(question) if a.kind in ("day", "month", "quarter", "year")]
    if len(atoms) != 1 or atoms[0].start is None or atoms[0].end is None:
        return None
    a = atoms[0]
    assert a.start is not None and a.end is not None
    before, day_after = question[:a.pos], a.end + dt.timedelta(days=1)
    if _PERIOD_LEAD.search(before):
        return DateTest("period", ((exp.GTE, a.start), (exp.LT, day_after)), a)
    if _RELATIVE.search(question):
        return None
    if _AFTER_LEAD.search(before):
        return DateTest("after", ((exp.GTE, day_after),), a)
    if _SINCE_LEAD.search(before) and (a.kind == "day" or not before.rstrip().lower().endswith("from")):
        return DateTest("since", ((exp.GTE, a.start),), a)
    if _BEFORE_LEAD.search(before):
        return DateTest("before", ((exp.LT, a.start),), a)
    if _UNTIL_LEAD.search(before):
        return DateTest("until", ((exp.LT, day_after),), a)
    return None


_BOUND_OPS: dict[str, type[exp.Expr]] = {"after": exp.GT, "since": exp.GTE, "before": exp.LT, "until": exp.LTE}


def _bound_from_equality(tree: exp.Select, schema: Schema, dated: DateTest) -> str | None:
    """"up to and including December 24, 2024" written ``action_date = DATE '2024-12-24'``: the
    SQL's one test of a date column against the stated day compares the way the bound says
    (``<=``; "after" ``>``, "since" ``>=``, "before" ``<``). Days only: a month's bound is not
    its first day."""
    op = _BOUND_OPS.get(dated.what)
    if op is None or dated.atom.kind != "day" or dated.atom.start is None:
        return None
    day = dated.atom.start.isoformat()
    date_cols = _date_columns(schema)
    found = [eq for eq in tree.find_all(exp.EQ) if eq.find_ancestor(exp.Where) is not None
             and isinstance(eq.this, exp.Column) and eq.this.name.lower() in date_cols
             and _date_text(eq.expression) == day]
    if len(found) != 1:
        return None
    eq = found[0]
    new = op(this=eq.this.copy(), expression=eq.expression.copy())
    eq.replace(new)
    return f"{eq.sql()} -> {new.sql()} (the question says {dated.what} {day})"


def _date_columns(schema: Schema) -> set[str]:
    return {c.name.lower() for t in schema.tables for c in t.columns if c.type in _DATE_TYPES}


def _date_text(node: exp.Expr) -> str | None:
    """'2024-12-24' of a date literal, ``DATE '2024-12-24'`` or ``CAST('2024-12-24' AS DATE)``."""
    while isinstance(node, exp.Cast):
        node = node.this
    return node.this if isinstance(node, exp.Literal) and node.is_string else None


def _add_date_test(tree: exp.Select, schema: Schema, dated: DateTest) -> str | None:
    """The stated period or bound as a filter on the date column of the first SELECT (outermost
    first) that reads exactly one, when the query tests no date at all: a small model drops the
    date of "active users from the UK in December 2024" as it drops values."""
    date_cols = _date_columns(schema)
    for col in tree.find_all(exp.Column):
        if col.name.lower() in date_cols and col.find_ancestor(exp.Where, exp.Having, exp.Join, exp.If, exp.Filter):
            return None
    for lit in tree.find_all(exp.Literal):
        if lit.is_string and _DATE_LITERAL.match(lit.this) or not lit.is_string and lit.this == str(dated.atom.parts[0]):
            return None
    for sel in tree.find_all(exp.Select):
        found = []
        for src in own_tables(sel):
            table = next((t for t in schema.tables if _table_matches(src, t.qualified_name)), None)
            if table is not None:
                found += [(src.alias_or_name, c.name) for c in table.columns if c.type in _DATE_TYPES]
        if len(found) > 1:
            return None
        if found:
            alias, name = found[0]
            cond = exp.and_(*(op(this=exp.column(name, table=alias),
                                 expression=exp.cast(exp.Literal.string(str(day)), "DATE"))
                              for op, day in dated.tests))
            and_where(sel, cond)
            what = dated.atom.kind if dated.what == "period" else f"{dated.what} {dated.atom.kind}"
            return f"added {cond.sql()}: the question's {what}"
    return None


_AGE_TESTS = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ, exp.NEQ, exp.Between)


def _ground_age(tree: exp.Select, schema: Schema, test: AgeTest) -> str | None:
    """The stated age test (schemadistill/ages.py) replaces the WHERE's tests of the age column,
    or is added where none is; tests inside CASE buckets or under OR stay."""
    cols = _age_columns(schema)
    if len(cols) > 1:  # several age columns: the one of a table the query reads, if only one
        read = list(tree.find_all(exp.Table))
        cols = [(t, c) for t, c in cols if any(_table_matches(x, t.qualified_name) for x in read)]
    if len(cols) != 1:
        return None
    table, col = cols[0]
    found = [node for node in tree.find_all(*_AGE_TESTS)
             if isinstance(node.this, exp.Column) and node.this.name.lower() == col.name.lower()
             and _references(node, table.qualified_name, col.name) and is_where_conjunct(outer_paren(node))]
    if _intervals(found) == _intervals([test.condition(exp.column(col.name))]):
        return None
    if not found and any(bare_sql(test.condition(exp.column(col.name))) in counted_conditions(sel)
                         for sel in tree.find_all(exp.Select)):
        return None  # "the percentage of users where the age is under 71": the rate counts it, no WHERE
    if found:
        sel = found[0].find_ancestor(exp.Select)
        if not isinstance(sel, exp.Select):
            return None
        new = test.condition(found[0].this.copy())
        old = " AND ".join(n.sql() for n in found)
        for node in found[1:]:
            remove_conjunct(outer_paren(node))
        outer_paren(found[0]).replace(new)  # in place: the model's order of conditions stays
        return f"age test {old} -> {new.sql()}"
    return _add_somewhere(tree, schema, table.qualified_name, lambda qual: test.condition(exp.column(col.name, table=qual)))


def _age_columns(schema: Schema) -> list[tuple[Table, Column]]:
    return [(t, c) for t in schema.tables for c in t.columns if c.type in NUMERIC_TYPES and is_age_column(c.name)]


def _intervals(nodes: Iterable[exp.Expr]) -> list[tuple[str, str, str]]:
    """Tests of one column as sorted (op, low, high) texts; BETWEEN and a >=/<= pair read alike."""
    out = sorted(("between", n.args["low"].sql(), n.args["high"].sql()) if isinstance(n, exp.Between)
                 else (type(n).__name__, n.args["expression"].sql(), "") for n in nodes)
    if [op for op, _, _ in out] == ["GTE", "LTE"]:
        return [("between", out[0][1], out[1][1])]
    return out


_DATE_LITERAL = re.compile(r"^\d{4}-\d{2}(?:-\d{2})?")


def _compared(tree: exp.Expr, table: str, column: str, ops: tuple[type[exp.Expr], ...] = (exp.EQ,)) -> list[exp.Expr]:
    """The other side of every ``column = x`` (either order; ``ops`` may add ``<>``) where the
    column may be ``table``'s."""
    aliases = table_aliases(tree)
    out = []
    for eq in tree.find_all(*ops):
        for col, other in ((eq.this, eq.expression), (eq.expression, eq.this)):
            if isinstance(col, exp.Column) and col.name.lower() == column.lower():
                if _may_be(col, table, aliases):
                    out.append(other)
                break
    return out


def _may_be(col: exp.Expr, table: str, aliases: dict[str, str], column: str | None = None) -> bool:
    """May ``col`` be a column of ``table`` (named ``column``, when given)? Unqualified: yes."""
    if not isinstance(col, exp.Column) or (column is not None and col.name.lower() != column.lower()):
        return False
    qual = col.table.lower()
    return not (qual in aliases and aliases[qual] != table.lower().split(".")[-1])


def _is_value_list(test: exp.In) -> bool:
    """``col IN ('a', 'b')``: a column against a list of strings (not a subquery, not numbers)."""
    return isinstance(test.this, exp.Column) and bool(test.expressions) and all(
        isinstance(v, exp.Literal) and v.is_string for v in test.expressions)


def _value_lists(tree: exp.Expr, table: str, column: str) -> list[exp.In]:
    """``column IN ('a', 'b')`` tests of ``table``'s column that are AND-ed WHERE conditions."""
    aliases = table_aliases(tree)
    return [t for t in tree.find_all(exp.In) if _is_value_list(t) and _may_be(t.this, table, aliases, column)
            and is_where_conjunct(outer_paren(t))]


def _drop_misplaced(tree: exp.Expr, index: ValueIndex) -> list[str]:
    """Take out ``browser = 'United Kingdom'`` (an AND-ed WHERE condition) when the column never
    holds the value but another column does and is tested with it too (``u.country = 'United
    Kingdom'``): the model wrote the value twice, once on the wrong column, which matches no row."""
    tests = [(eq, col, lit, keys) for eq, col, lit, keys in _column_tests(tree, index.columns)
             if isinstance(lit, exp.Literal) and lit.is_string]
    changes: list[str] = []
    for eq, col, lit, keys in tests:
        value = lit.this.lower()
        if any(value in index.columns[k] for k in keys):
            continue
        elsewhere = any(other is not eq and o_lit.this.lower() == value and any(value in index.columns[k] for k in o_keys)
                        for other, _, o_lit, o_keys in tests)
        if elsewhere and _drop_where_test(eq):
            changes.append(f"dropped {eq.sql()}: no {col.name} is {lit.this!r}, another column's test has it")
    return changes


def _drop_unnamed(tree: exp.Expr, index: ValueIndex, question: str, named: set[tuple[str, str]]) -> list[str]:
    """Take out ``col = 'x'`` (an AND-ed WHERE condition) on a column of the index when the
    question names no value of that column and no word of 'x': a small model copies whole
    filters from the pairs it resembles (``country = 'France'`` into "which country earned most"),
    and a value nobody asked for is never right."""
    qwords = {w.lower() for w in words(question)}
    changes: list[str] = []
    for eq, col, lit, keys in _column_tests(tree, index.columns):
        if not (isinstance(lit, exp.Literal) and lit.is_string) or named & keys \
                or {w.lower() for w in words(lit.this)} & qwords:
            continue
        if _drop_where_test(eq):
            changes.append(f"dropped {eq.sql()}: the question names no {col.name}")
    aliases = table_aliases(tree)
    for test in list(tree.find_all(exp.In)):
        col = test.this
        if not _is_value_list(test):
            continue
        keys = column_keys(col, aliases, index.columns)
        if not keys or named & keys or any({w.lower() for w in words(v.this)} & qwords for v in test.expressions):
            continue
        if _drop_where_test(test):
            changes.append(f"dropped {test.sql()}: the question names no {col.name}")
    return changes


def _named_list(tree: exp.Expr, table: str, column: str, named: list[str]) -> list[str]:
    """``col IN ('Germany', 'France')`` where the question names only values of ``col`` that are
    not all of these ("users in Germany or the UK"): the list becomes the named values (``=`` for
    one). Left alone when a named value is used elsewhere in the SQL (a CASE of its own) or the
    list shares no value with the question's."""
    lowered = {v.lower() for v in named}
    lists = _value_lists(tree, table, column)
    if len(lists) != 1:
        return []
    test = lists[0]
    listed = [v.this for v in test.expressions]
    if {v.lower() for v in listed} == lowered or not lowered & {v.lower() for v in listed}:
        return []
    elsewhere = {lit.this.lower() for lit in tree.find_all(exp.Literal) if lit.is_string
                 and lit.find_ancestor(exp.In) is not test}
    if lowered & elsewhere:
        return []
    new: exp.Expr = (exp.EQ(this=test.this.copy(), expression=exp.Literal.string(named[0])) if len(named) == 1
                     else exp.In(this=test.this.copy(), expressions=[exp.Literal.string(v) for v in named]))
    old = test.sql()
    test.replace(new)
    return [f"{old} -> {new.sql()} (the values the question names)"]


# words that join the values of one list: "Chrome and Safari", "Android, iOS or Windows"
_LIST_JOINERS = frozenset({"and", "or", "nor"})
# before a list: the values are excluded, not chosen ("other than Chrome and Safari")
_LIST_NEGATORS = _NEGATORS_BEFORE | {"other", "than", "neither", "besides", "outside", "but", "apart"}


def _listed_alternatives(tree: exp.Expr, question: str, table: str, column: str, named: list[str],
                         texts: list[str]) -> list[str]:
    """``col = 'Safari'`` where the question lists several values of ``col`` as one list ("the
    browser is one of Chrome and Safari", "on Android or iOS"): one row holds one value, so the
    list can only mean any of them, and the test becomes ``col IN`` the listed values. Only for a
    list of adjacent values joined by "and"/"or"/commas that no negation precedes, and an
    equality of the SQL that is one of them, AND-ed into a WHERE, the only test of the column."""
    if len(named) < 2:
        return []
    toks = [t.lower() for t in words(question)]
    spans = []
    for text in dict.fromkeys(t.lower() for t in texts):
        want = text.split()
        at = [i for i in range(len(toks) - len(want) + 1) if toks[i:i + len(want)] == want]
        if len(at) != 1:
            return []
        spans.append((at[0], at[0] + len(want)))
    spans.sort()
    gaps = (toks[a_end:b_start] for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))
    if any(not set(gap) <= _LIST_JOINERS for gap in gaps):
        return []
    if set(toks[max(0, spans[0][0] - 3):spans[0][0]]) & _LIST_NEGATORS:
        return []
    lowered = {v.lower() for v in named}
    tests = [(eq, lit) for eq, _, lit, keys in _column_tests(tree, {(table, column)}) if (table, column) in keys]
    if len(tests) != 1 or _value_lists(tree, table, column):
        return []
    eq, lit = tests[0]
    if not (lit.is_string and lit.this.lower() in lowered) or not is_where_conjunct(outer_paren(eq)):
        return []
    if any(isinstance(n, exp.NEQ) and _references(n, table, column) for n in tree.find_all(exp.NEQ)):
        return []
    col = eq.this if isinstance(eq.this, exp.Column) else eq.expression
    new = exp.In(this=col.copy(), expressions=[exp.Literal.string(v) for v in named])
    old = eq.sql()
    eq.replace(new)
    return [f"{old} -> {new.sql()} (the question lists these values)"]


def _column_tests(tree: exp.Expr, known: Iterable[tuple[str, str]]
                  ) -> list[tuple[exp.EQ, exp.Column, exp.Expr, set[tuple[str, str]]]]:
    """Each ``column = literal`` in ``tree`` whose column is one of ``known`` (table, column)
    keys, with the keys it may be (an unqualified column may belong to either table)."""
    aliases = table_aliases(tree)
    out: list[tuple[exp.EQ, exp.Column, exp.Expr, set[tuple[str, str]]]] = []
    for eq in list(tree.find_all(exp.EQ)):
        col, lit = eq.this, eq.expression
        if isinstance(col, exp.Literal | exp.Boolean):
            col, lit = lit, col
        if not (isinstance(col, exp.Column) and isinstance(lit, exp.Literal | exp.Boolean)):
            continue
        keys = column_keys(col, aliases, known)
        if keys:
            out.append((eq, col, lit, keys))
    return out


def column_keys(col: exp.Column, aliases: dict[str, str], known: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (table, column) keys of ``known`` that ``col`` may be (an unqualified column: any table's)."""
    qual = col.table.lower()
    owner = aliases.get(qual, qual)
    return {k for k in known if k[1].lower() == col.name.lower()
            and (not qual or owner == k[0].lower().split(".")[-1])}


def _drop_where_test(eq: exp.Expr) -> bool:
    """Remove ``eq`` when it is an AND-ed condition of a WHERE (not in a CASE, an OR, a join)."""
    top = outer_paren(eq)
    if not is_where_conjunct(top):
        return False
    remove_conjunct(top)
    return True


def _drop_unstated_flags(tree: exp.Expr, index: ValueIndex, question: str,
                         mentioned: set[tuple[str, str]]) -> list[str]:
    """Take out ``flag = 1`` / ``flag = 0`` (an AND-ed WHERE condition) on a yes/no column the
    question says nothing of: none of the flag's phrases ("active", "not active") matched and no
    word of them, nor the column's own word ("activ" of ``is_active``), stands anywhere in the
    question. A small model adds the flag test it saw most often ("... AND u.is_active = 1"
    under "What is the total revenue generated in December 2024?"); a condition nobody stated
    is never right."""
    flags = index.flag_words
    if not flags:
        return []
    changes: list[str] = []
    for eq, col, lit, keys in _column_tests(tree, flags):
        if lit.sql().lower() not in _OPPOSITE or keys & mentioned or not flag_unstated(question, flags, col, keys):
            continue
        if _drop_where_test(eq):
            changes.append(f"dropped {eq.sql()}: the question says nothing of {col.name}")
    return changes


def flag_unstated(question: str, flags: dict[tuple[str, str], set[str]], col: exp.Column,
                  keys: set[tuple[str, str]]) -> bool:
    """No word of the flag's phrases, nor the column's own word, stands anywhere in the question."""
    low = question.lower()
    qwords = {w for w in re.findall(r"[a-z]+", low) if len(w) >= 4}
    clues = {w for k in keys for w in flags.get(k, ()) if len(w) >= 4} | {_stem(col.name)} - {""}
    # "inactivity", "fraudsters", "actiive": not a phrase of the index, but about the flag
    return not (any(c in low for c in clues) or _misspelt_any(qwords, clues))


def _unstated(tree: exp.Expr, index: ValueIndex, question: str, mentioned: set[tuple[str, str]]
              ) -> Callable[[exp.Expr], bool]:
    """Is a condition ``col = literal`` one the question never states: a value of the index on
    a column it names no value of, and no word of the value; a flag it says nothing of."""
    aliases = table_aliases(tree)
    qwords = {w.lower() for w in words(question)}
    known = set(index.columns) | set(index.flag_words)

    def unstated(cond: exp.Expr) -> bool:
        while isinstance(cond, exp.Paren):
            cond = cond.this
        if not isinstance(cond, exp.EQ):
            return False
        col, lit = (cond.this, cond.expression) if isinstance(cond.this, exp.Column) else (cond.expression, cond.this)
        if not isinstance(col, exp.Column) or not isinstance(lit, exp.Literal):
            return False
        keys = column_keys(col, aliases, known)
        if not keys or keys & mentioned:
            return False
        if lit.is_string:
            return not {w.lower() for w in words(lit.this)} & qwords
        flags = index.flag_words
        return bool(keys & set(flags)) and lit.sql().lower() in _OPPOSITE and flag_unstated(question, flags, col, keys)
    return unstated


def _misspelt_any(qwords: set[str], clues: set[str]) -> bool:
    """A question word that is a clue with a typo or two ("actiive", "frad", "is_atcive"): people
    misspell, and the teacher's own questions carry typos of these very words. A typo keeps the
    first letter: "count" is not "account" misspelt (a ratio of 0.83), and "count" opens many
    questions whose flag test nobody asked for. An English word is the word it is: "market" (a
    country's phrase) is not "marked" (of "marked as fraud") misspelt, so a fraud test nobody
    asked for stayed under "the user's market is Germany"."""
    from difflib import SequenceMatcher

    return any(SequenceMatcher(None, w, c).ratio() >= 0.8 and not is_english(w) for w in qwords for c in clues
               if len(c) >= 4 and abs(len(w) - len(c)) <= 2 and w[0] == c[0])


def _stem(name: str) -> str:
    """A yes/no column's own word, cut to five letters: is_active -> activ, fraud_flag -> fraud."""
    parts = [p for p in re.split(r"[\W_]+", name.lower()) if p and p not in ("is", "has", "was", "flag", "bool")]
    return parts[0][:5] if parts else ""


# "country not equal to United Kingdom", "os != 'iOS'", "users outside France": the value is excluded
_VALUE_NEGATED = re.compile(r"(?:\b(?:not equal to|not equals?|isn't|is not|aren't|are not|was not|wasn't|not in|"
                            r"not from|outside(?: of)?|other than|excluding|except(?: for)?|apart from|besides|"
                            r"anything but)|!=|<>)\s*(?:the\s+)?['\"]?$", re.IGNORECASE)


def mention_at(question: str, m: Mention) -> re.Match[str] | None:
    """Where the question says ``m`` as a word, if it does."""
    return re.search(r"(?<!\w)" + re.escape(m.text) + r"(?!\w)", question, re.IGNORECASE)


def _excluded(question: str, m: Mention, hit: re.Match[str] | None = None) -> bool | None:
    """Does the question exclude ``m`` right before naming it ("other than Chrome")? None when
    the mention's text is not found as a word."""
    hit = hit or mention_at(question, m)
    return None if hit is None else bool(_VALUE_NEGATED.search(question[:hit.start()]))


def _drop_contradiction(tree: exp.Expr, question: str, m: Mention) -> list[str]:
    """``col <> 'v' AND col = 'v'`` (no row holds both): the test the question's words contradict
    goes, the equality when it excludes v ("other than Chrome"), else the exclusion."""
    excluded = _excluded(question, m)
    if excluded is None:
        return []
    tests = [t for x in _compared(tree, m.ref.table, m.ref.column, (exp.EQ, exp.NEQ))
             if isinstance(x, exp.Literal) and x.is_string and x.this.lower() == m.ref.value.lower()
             and (t := x.parent) is not None and is_where_conjunct(outer_paren(t))]
    kinds = {type(t) for t in tests}
    if kinds != {exp.EQ, exp.NEQ}:
        return []
    wrong = exp.EQ if excluded else exp.NEQ
    changes = []
    for t in tests:
        if isinstance(t, wrong) and _drop_where_test(t):
            changes.append(f"dropped {t.sql()}: it contradicts {'exclud' if excluded else 'nam'}ing {m.text}")
    return changes


def _one_value_lists(tree: exp.Expr) -> list[str]:
    """``col IN ('Firefox', 'Firefox')``, one value listed twice, is ``col = 'Firefox'``: the
    same rows, in the form the value rules read ("not Firefox" turns an equality)."""
    changes = []
    for test in list(tree.find_all(exp.In)):
        values = test.expressions
        if len(values) > 1 and not test.args.get("query") and all(isinstance(v, exp.Literal) for v in values) \
                and len({v.sql() for v in values}) == 1:
            text = test.sql()
            test.replace(exp.EQ(this=test.this.copy(), expression=values[0].copy()))
            changes.append(f"{text} -> = {values[0].sql()} (one value listed twice)")
    return changes


def _drop_narrowing(tree: exp.Expr, table: str, column: str, named: set[str]) -> list[str]:
    """``col IN ('Firefox', 'Safari') AND col = 'Firefox'`` where the question names every value
    of the list: the equality narrows what the user asked for, and goes."""
    lists = [t for t in _value_lists(tree, table, column) if {v.this.lower() for v in t.expressions} <= named]
    if len(lists) != 1:
        return []
    listed = {v.this.lower() for v in lists[0].expressions}
    changes = []
    for lit in _compared(tree, table, column):
        eq = lit.parent
        if eq is not None and isinstance(lit, exp.Literal) and lit.is_string and lit.this.lower() in listed \
                and lists[0].find_ancestor(exp.Select) is eq.find_ancestor(exp.Select) and _drop_where_test(eq):
            changes.append(f"dropped {eq.sql()}: the question names all of {lists[0].sql()}")
    return changes


# any word of negation shortly before a value: an affirmed value has none ("not on Chrome",
# "non-German", "Germany aside" are not affirmations, whatever _VALUE_NEGATED reads)
_ANY_NEGATION = re.compile(r"\b(?:not|no|non|never|without|except\w*|exclud\w*|other|outside|besides|but|apart|"
                           r"\w+n't|isnt|arent|wasnt|doesnt|dont)\b|!=|<>", re.IGNORECASE)


# where the words about one value begin: "browser other than Chrome and os = 'Windows'"
_CLAUSE_START = re.compile(r"\b(?:and|or|with|where|whose|for|but|while)\b|[,;:(]", re.IGNORECASE)


def _negate_value(tree: exp.Expr, question: str, m: Mention) -> str | None:
    """``col = 'v'`` where the question excludes v right before naming it: the one such test of
    the column becomes ``col <> 'v'``. A small model writes the equality it saw far more often.
    The reverse too: ``col <> 'v'`` where the question names v with no word of negation before
    it ("where country is Germany", "os = 'Windows'") becomes ``col = 'v'``."""
    hit = mention_at(question, m)
    excluded = _excluded(question, m, hit)
    if hit is None or excluded is None:
        return None
    if not excluded:
        clause = _CLAUSE_START.split(question[max(0, hit.start() - 40):hit.start()])[-1]
        if _ANY_NEGATION.search(clause) or _ANY_NEGATION.match(question[hit.end():hit.end() + 12].lstrip(" ,")):
            return None
    wrong, right = (exp.EQ, exp.NEQ) if excluded else (exp.NEQ, exp.EQ)
    tests = [x for x in _compared(tree, m.ref.table, m.ref.column, (exp.EQ, exp.NEQ))
             if isinstance(x, exp.Literal) and x.is_string]
    if len(tests) != 1 or tests[0].this.lower() != m.ref.value.lower() or not isinstance(tests[0].parent, wrong):
        return None
    test = tests[0].parent
    if not is_where_conjunct(outer_paren(test)):
        return None  # inside a CASE, an OR, a join condition: its meaning there is the model's
    text = test.sql()
    test.replace(right(this=test.this, expression=test.expression))
    return f"{text} -> {'<>' if excluded else '='} (the question {'excludes' if excluded else 'names'} {m.text})"


def _swap_flag(tree: exp.Expr, ref: ValueRef) -> str | None:
    """``flag = 0`` where the question says the flag holds (or the reverse): the one such test flips."""
    tests = [x for x in _compared(tree, ref.table, ref.column) if isinstance(x, (exp.Literal, exp.Boolean))]
    if len(tests) != 1:
        return None
    old = tests[0].sql().lower()
    if old == ref.value or old not in _OPPOSITE:
        return None
    tests[0].replace(ref.literal())
    return f"replaced {ref.column} = {old} with {ref.value}"


def _swap_value(tree: exp.Expr, table: str, column: str, value: str, named: set[str]) -> str | None:
    literals = {lit.this.lower() for lit in tree.find_all(exp.Literal) if lit.is_string}
    if value.lower() in literals:
        return None  # already there (perhaps in an IN list or a CASE): the model's shape stands
    # another known value, or one the column never holds ('UK'); "os != 'iOS'" names its value too
    wrong = [x for x in _compared(tree, table, column, (exp.EQ, exp.NEQ))
             if isinstance(x, exp.Literal) and x.is_string and x.this.lower() not in named]
    if len(wrong) != 1:
        return None
    old, op = wrong[0].this, "<>" if isinstance(wrong[0].parent, exp.NEQ) else "="
    wrong[0].replace(exp.Literal.string(value))
    return f"replaced {column} {op} '{old}' with '{value}'"


def _fix_pattern(tree: exp.Expr, index: ValueIndex, ref: ValueRef) -> str | None:
    """``country LIKE '%GERMANY'`` where the question names Germany and no value of the column
    matches the pattern: the one such test becomes ``country = 'Germany'`` (a pattern that
    matches nothing is never what was meant; the column's values are all in the index)."""
    known = index.value_spellings.get((ref.table, ref.column), set())
    aliases = table_aliases(tree)
    dead = []
    for node in tree.find_all(exp.Like, exp.ILike):
        col, pat = node.this, node.expression
        if not (isinstance(col, exp.Column) and isinstance(pat, exp.Literal) and pat.is_string
                and (ref.table, ref.column) in column_keys(col, aliases, index.columns)):
            continue
        flags = re.IGNORECASE if isinstance(node, exp.ILike) else 0
        rx = re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pat.this) + r"\Z",
                        flags | re.DOTALL)
        if not any(rx.match(v) for v in known):
            dead.append(node)
    if len(dead) != 1:
        return None
    node = dead[0]
    old = node.sql()
    node.replace(exp.EQ(this=node.this.copy(), expression=exp.Literal.string(ref.value)))
    return f"{old} -> = '{ref.value}' (the pattern matches no {ref.column})"


# -- helpers ----------------------------------------------------------------------------------
def _usable(v: str) -> bool:
    return (0 < len(v) <= MAX_VALUE_CHARS and len(v.split()) <= MAX_VALUE_WORDS
            and any(ch.isalpha() for ch in v))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(name: str) -> str:
    return ".".join(_quote(p) for p in name.split("."))


def flag_words(schema: Schema) -> dict[tuple[str, str], dict[str, list[str]]]:
    """The words the teacher's questions use for each yes/no column, by SQL literal."""
    from teacher.lexicon import Lexicon  # the teacher's lexicon: the same words training used

    lex = Lexicon(schema)
    out: dict[tuple[str, str], dict[str, list[str]]] = {}
    for table in schema.tables:
        for col in table.columns:
            if not lex.is_flag(col):
                continue
            yes, no = ("true", "false") if col.type == "boolean" else ("1", "0")
            out[(table.qualified_name, col.name)] = {yes: lex.value_texts(col, 1), no: lex.value_texts(col, 0)}
    return out


_ZIPF_CACHE: dict[str, float] = {}


def _zipf(word: str) -> float:
    """How common ``word`` is in English (wordfreq's Zipf scale; 0 when wordfreq is missing)."""
    low = word.lower()
    if low not in _ZIPF_CACHE:
        try:
            import wordfreq  # only at index-building time: the runtime loads a built index
            _ZIPF_CACHE[low] = float(wordfreq.zipf_frequency(low, "en"))
        except Exception:
            _ZIPF_CACHE[low] = 0.0
    return _ZIPF_CACHE[low]
