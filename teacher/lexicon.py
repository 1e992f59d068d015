"""Words for things: natural names of tables, columns, metrics, values and operations.

The student model only learns the words it sees in generated questions, so this module's job is
*breadth* without drift: many ways to name each schema object, value and operation, every one of
which means the same thing. Every list returned here has the canonical form first (what a
template uses when it wants the plainest wording) and a stable order after it, so callers can
pick by index with their own seeded ``random.Random``; nothing here touches global randomness.

Order inside a list: canonical name (from the identifier) -> sidecar synonyms (the user's words
win over ours) -> words derived from the identifier -> built-in synonyms
(:mod:`teacher.lexicon_data`). Derived or built-in words that would also name *another* column of
the same table (or another table) are dropped: a synonym must never move a question onto a
different column.
"""

from __future__ import annotations

import calendar
import datetime
import math
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from schemadistill.grounding import COUNTRY_SHORT_NAMES
from schemadistill.schema.model import Column, Dimension, Metric, Schema, Table
from teacher import lexicon_data as data

__all__ = [
    "Lexicon", "split_identifier", "humanize", "pluralize", "singularize", "NUMBER_WORDS",
]

# 0..20 as words: "top five" is as common as "top 5" in real questions.
NUMBER_WORDS: list[str] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty",
]
_QUARTER_WORDS = ["first", "second", "third", "fourth"]
_GRAINS = {"day": "day", "date": "day", "week": "week", "month": "month", "quarter": "quarter",
           "year": "year"}
# Column names so generic that "product name" reads better than "name".
_GENERIC_COLUMNS = frozenset({
    "name", "id", "type", "status", "code", "description", "title", "category", "date",
    "value", "amount", "key", "label", "state", "kind", "level", "notes", "note", "price",
    "number", "count", "total", "size", "rating", "score",
})
_FLAG_PREFIXES = ("is", "has", "was", "can", "should", "did", "does", "allow", "allows")
_FLAG_SUFFIXES = ("flag", "ind", "indicator", "yn", "bool")
_ID_TOKENS = ("id", "uuid", "guid", "key", "pk", "fk")
_TIME_SUFFIX_TOKENS = ("at", "on")
_DATE_TOKENS = {"date": "date", "dt": "date", "day": "date", "time": "time", "ts": "time",
                "timestamp": "time", "datetime": "time", "tstamp": "time"}
_FLAG_TYPES = ("integer", "boolean")
# Heads whose built-in synonyms are a different sense inside a compound: "lead time" is a
# duration (not a timestamp), "floor area" a size (not a region).
_NO_HEAD_SWAP = frozenset({"count", "number", "id", "total", "sum", "key", "code", "name",
                           "time", "area", "point", "line", "level", "order"})
_HEAD_SWAP_BLOCKED = frozenset({"number", "count", "total", "sum", "average", "key",
                                "identifier"})
_OPERATION_NOUNS = frozenset({"number", "count", "total", "sum", "average", "key", "amount",
                              "value", "identifier"})
_DIGITS = re.compile(r"\d")
_IRREGULAR_PARTICIPLES = frozenset({"born", "paid", "sent", "sold", "bought", "made", "held"})


# ----------------------------------------------------------------------------------------------
# identifiers
def split_identifier(name: str) -> list[str]:
    """Split a SQL identifier into lower-case tokens.

    snake_case, kebab-case, camelCase, PascalCase, acronyms (``userID``, ``HTTPStatus``) and
    letter/digit runs (``address2``) all split; tokens listed in the abbreviation table with
    digits in them (``p95``, ``ipv4``, ``b2b``) stay whole.
    """
    out: list[str] = []
    for part in re.split(r"[\W_]+", name.strip().strip('"`[]')):
        if not part:
            continue
        if part.lower() in data.ABBREVIATIONS and _DIGITS.search(part):
            out.append(part.lower())
            continue
        out.extend(_merge_known(t.lower() for t in _split_case(part)))
    return out


def _merge_known(tokens: Iterable[str]) -> list[str]:
    """Re-join case/digit splits that form a known token: "ipv", "4" -> "ipv4"; "b","2","b"."""
    toks = list(tokens)
    out: list[str] = []
    i = 0
    while i < len(toks):
        for span in (3, 2):
            joined = "".join(toks[i:i + span])
            if i + span <= len(toks) and _DIGITS.search(joined) and joined in data.ABBREVIATIONS:
                out.append(joined)
                i += span
                break
        else:
            out.append(toks[i])
            i += 1
    return out


def _split_case(part: str) -> list[str]:
    """Split one alphanumeric run at case and digit boundaries (unicode-aware)."""
    tokens: list[str] = []
    cur = ""
    for i, ch in enumerate(part):
        if not cur:
            cur = ch
            continue
        prev = cur[-1]
        nxt = part[i + 1] if i + 1 < len(part) else ""
        boundary = (
            (prev.isdigit() != ch.isdigit())
            or (prev.islower() and ch.isupper())
            # "HTTPStatus": split before the last capital of an acronym run
            or (prev.isupper() and ch.isupper() and nxt.islower())
        )
        if boundary:
            tokens.append(cur)
            cur = ch
        else:
            cur += ch
    if cur:
        tokens.append(cur)
    return tokens


def _expand_tokens(tokens: list[str]) -> str:
    """Tokens -> natural phrase: abbreviations expanded, "num orders" -> "number of orders"."""
    words = [data.ABBREVIATIONS.get(t, t) for t in tokens]
    phrase = " ".join(w for w in words if w)
    # "number orders"/"count users" read as "number of orders": insert the missing "of".
    m = re.match(r"^(number|count|total number)\s+(?!of\b)(\S.*)$", phrase)
    if m and not m.group(2).startswith(("ID", "id")):
        phrase = f"{m.group(1)} of {m.group(2)}"
    return phrase


def humanize(name: str) -> str:
    """An identifier as plain words: ``order_qty`` -> "order quantity", ``userID`` -> "user ID"."""
    return _expand_tokens(split_identifier(name))


# ----------------------------------------------------------------------------------------------
# inflection
def _head_index(words: list[str]) -> int:
    """Index of the word that inflects: the last one before a preposition ("number of items")."""
    for i, w in enumerate(words):
        if i > 0 and w.lower() in data.PHRASE_BREAKERS:
            return i - 1
    return len(words) - 1


def _match_case(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _is_acronym(word: str) -> bool:
    return len(word) > 1 and word.isupper()


@lru_cache(maxsize=4096)
def _plural_word(word: str) -> str:
    low = word.lower()
    if _is_acronym(word):
        return word + ("es" if word.endswith("S") else "s")
    if low in data.UNCOUNTABLE or low in data.PLURAL_ONLY or low in data.NON_INFLECTED_TAIL:
        return word
    if low in data.IRREGULAR_PLURALS:
        return _match_case(word, data.IRREGULAR_PLURALS[low])
    if low in _IRREGULAR_SINGULARS or _singular_word(word) != word:  # already plural
        return word
    if low.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


_IRREGULAR_SINGULARS = {v: k for k, v in data.IRREGULAR_PLURALS.items() if v != k}


@lru_cache(maxsize=4096)
def _singular_word(word: str) -> str:
    low = word.lower()
    # acronyms: "OSes" -> "OS", "SKUs" -> "SKU", "IDs" -> "ID"
    if len(word) > 3 and word.endswith("es") and word[:-2].isupper() and word[-3] == "S":
        return word[:-2]
    if len(word) > 2 and word.endswith("s") and word[:-1].isupper():
        return word[:-1]
    if (low in data.UNCOUNTABLE or low in data.PLURAL_ONLY or low in data.SINGULAR_S
            or low in data.NON_INFLECTED_TAIL):
        return word
    if low in _IRREGULAR_SINGULARS:
        return _match_case(word, _IRREGULAR_SINGULARS[low])
    if low in data.IRREGULAR_PLURALS:  # already singular ("person", "status")
        return word
    if low.endswith(("ss", "us", "is")) or not low.endswith("s") or len(low) <= 3:
        return word
    if low.endswith("ies"):
        return word[:-3] + "y"
    if low.endswith(("sses", "shes", "xes", "zzes", "ches")):
        return word[:-2]
    return word[:-1]


def pluralize(phrase: str) -> str:
    """Plural of a noun phrase: inflects its head ("category" -> "categories",
    "piece of equipment" -> "pieces of equipment", "person" -> "people"). Mass nouns and
    plural-only nouns come back unchanged."""
    words = phrase.split()
    if not words:
        return phrase
    i = _head_index(words)
    words[i] = _plural_word(words[i])
    return " ".join(words)


def singularize(phrase: str) -> str:
    """Singular of a noun phrase (inverse of :func:`pluralize` on its outputs)."""
    words = phrase.split()
    if not words:
        return phrase
    i = _head_index(words)
    words[i] = _singular_word(words[i])
    return " ".join(words)


def _dedupe(items: Iterable[str]) -> list[str]:
    """Stable, case-insensitive de-duplication; drops empty strings."""
    seen: set[str] = set()
    out: list[str] = []
    for it in items:
        it = " ".join(str(it).split())
        key = it.lower()
        if it and key not in seen:
            seen.add(key)
            out.append(it)
    return out


def _builtin_synonyms(phrase: str) -> list[str]:
    """Built-in synonyms of a phrase (exact key, case-insensitive for non-acronyms)."""
    if phrase in data.SYNONYMS:
        return list(data.SYNONYMS[phrase])
    return list(data.SYNONYMS.get(phrase.lower(), []))


def _variants_by_parts(phrase: str, limit: int = 3) -> list[str]:
    """Synonyms of a multi-word phrase by swapping its head or its first modifier.

    "session length" -> "session duration"; "average revenue" -> "mean revenue". Limited to a
    few per phrase because modified phrases drift in naturalness faster than bare nouns.
    """
    words = phrase.split()
    if len(words) < 2:
        return []
    out: list[str] = []
    h = _head_index(words)
    # single-word head swaps only ("session time spent" is not English), and never for heads
    # like "count" whose synonyms change meaning in a compound ("session count" != "session ID")
    head_syn = [] if words[h].lower() in _NO_HEAD_SWAP else [
        s for s in _builtin_synonyms(words[h])
        if " " not in s and s.lower() not in _HEAD_SWAP_BLOCKED]
    others = {w.lower() for i, w in enumerate(words) if i != h}
    for s in [s for s in head_syn if s.lower() not in others][:limit]:  # no "total total"
        out.append(" ".join(words[:h] + [s] + words[h + 1:]))
    first = words[0].lower()
    for s in data.MODIFIER_SYNONYMS.get(first, [])[:limit]:
        out.append(" ".join([s] + words[1:]))
    return out


# ----------------------------------------------------------------------------------------------
class Lexicon:
    """Natural-language words for one schema; deterministic, canonical-first lists.

    ``seed`` is accepted for interface symmetry with the other teacher components; the lists
    themselves do not depend on it (callers choose among them with their own seeded RNG), which
    keeps template wording stable across seeds.
    """

    def __init__(self, schema: Schema, seed: int = 0) -> None:
        self.schema = schema
        self.seed = seed
        self._table_cache: dict[str, tuple[list[str], list[str]]] = {}
        self._col_cache: dict[tuple[str, str], list[str]] = {}
        self._filler: list[str] | None = None
        self.filler_vocab_size = 5000
        self._claimed_table_words = self._claim_tables()

    # ------------------------------------------------------------------ tables
    def table_words(self, table: Table) -> list[str]:
        """Plural noun phrases for a table, canonical first: ["users", "customers", ...]."""
        return list(self._table_forms(table)[0])

    def table_singular(self, table: Table) -> list[str]:
        """Singular forms aligned index-by-index with :meth:`table_words`."""
        return list(self._table_forms(table)[1])

    def _table_base(self, table: Table) -> str:
        tokens = split_identifier(table.name)
        # "dim_customer", "tbl_orders", "sales_fact": warehouse affixes are not words
        while len(tokens) > 1 and tokens[0] in data.TABLE_PREFIXES:
            tokens = tokens[1:]
        while len(tokens) > 1 and tokens[-1] in data.TABLE_SUFFIXES:
            tokens = tokens[:-1]
        return singularize(_expand_tokens(tokens))

    def _claim_tables(self) -> dict[str, str]:
        """Canonical and sidecar words of every table -> the table that owns them."""
        claimed: dict[str, str] = {}
        for t in self.schema.tables:
            base = self._table_base(t)
            for w in [base, pluralize(base), *t.synonyms]:
                for form in (w, singularize(w), pluralize(singularize(w))):
                    claimed.setdefault(form.lower(), t.qualified_name)
        return claimed

    def _table_forms(self, table: Table) -> tuple[list[str], list[str]]:
        key = table.qualified_name
        if key in self._table_cache:
            return self._table_cache[key]
        base = self._table_base(table)
        own = [base] + [singularize(s) for s in table.synonyms]
        # a phrase the built-in table knows ("order item") is better than head swaps of it
        derived: list[str] = _builtin_synonyms(base) or _variants_by_parts(base)
        # another table's own words would make the question ambiguous: drop them here
        derived = [
            singularize(d) for d in derived
            if self._claimed_table_words.get(singularize(d).lower(), key) == key
            and self._claimed_table_words.get(d.lower(), key) == key
        ]
        singular = _dedupe(own + derived)
        pairs: list[tuple[str, str]] = []
        seen: set[str] = set()
        for s in singular:
            p = pluralize(s)
            if p.lower() in seen:
                continue
            seen.add(p.lower())
            pairs.append((p, s))
        out = ([p for p, _ in pairs], [s for _, s in pairs])
        self._table_cache[key] = out
        return out

    # ------------------------------------------------------------------ columns
    def column_words(self, table: Table, column: Column) -> list[str]:
        """Noun phrases for a column, canonical first: ["session duration", "duration", ...]."""
        key = (table.qualified_name, column.name)
        if key not in self._col_cache:
            self._col_cache[key] = self._build_column_words(table, column)
        return list(self._col_cache[key])

    def is_flag(self, column: Column) -> bool:
        """True for a yes/no column (role flag, boolean, or an is_/has_ integer)."""
        if column.role == "flag":
            return True
        if column.role not in (None, "flag"):
            return False
        if column.type == "boolean":
            return True
        tokens = split_identifier(column.name)
        return column.type in _FLAG_TYPES and len(tokens) > 1 and (
            tokens[0] in _FLAG_PREFIXES or tokens[-1] in _FLAG_SUFFIXES)

    def _is_temporal(self, column: Column) -> bool:
        return column.type in ("date", "timestamp") or column.role == "time"

    def _name_variants(self, table: Table, column: Column) -> list[str]:
        """Words derived from the column's identifier alone; the first one is canonical."""
        tokens = split_identifier(column.name)
        if not tokens:
            return [column.name]
        if self.is_flag(column):
            return self._flag_variants(tokens)
        if self._is_temporal(column):
            v = self._time_variants(tokens, column)
            if v:
                return v
        if len(tokens) > 1 and tokens[-1] in data.UNITS and column.type in (
                "integer", "float", "decimal", "interval"):
            base = _expand_tokens(tokens[:-1])
            units = data.UNITS[tokens[-1]]
            return [f"{base} in {units[0]}", base] + [f"{base} in {u}" for u in units[1:]] + [
                _expand_tokens(tokens)]
        if tokens[-1] in _ID_TOKENS and len(tokens) > 1:
            entity = _expand_tokens(tokens[:-1])
            out = [f"{entity} ID", f"{entity} identifier", f"{entity} number"]
            if singularize(entity).lower() != self._table_base(table).lower():
                out.append(entity)  # a foreign key is named after what it points at
            return out
        return [_expand_tokens(tokens)]

    def _flag_variants(self, tokens: list[str]) -> list[str]:
        prefix = tokens[0] if tokens[0] in _FLAG_PREFIXES and len(tokens) > 1 else ""
        rest = tokens[1:] if prefix else list(tokens)
        if len(rest) > 1 and rest[-1] in _FLAG_SUFFIXES:
            rest = rest[:-1]
        phrase = _expand_tokens(rest)
        if prefix == "has":
            return [f"has {phrase}", f"with {phrase}", f"has a {phrase}", phrase,
                    f"{phrase} flag"]
        adj = data.FLAG_ADJECTIVES.get(phrase.lower(), phrase)
        out = [adj, phrase]
        if prefix:
            out.append(f"{prefix} {phrase}")
        out.append(f"{phrase} flag")
        return out

    def _time_variants(self, tokens: list[str], column: Column) -> list[str]:
        kind = "time" if column.type == "timestamp" else "date"
        if tokens[-1] in _TIME_SUFFIX_TOKENS and len(tokens) > 1:
            verb = _expand_tokens(tokens[:-1])
            noun = data.EVENT_NOUNS.get(verb)
            if noun:
                out = [f"{noun} date", f"{noun} time" if kind == "time" else f"{noun} day", verb]
                # "date shipped" / "when shipped" only work with a participle ("date starts" no)
                if verb.split()[0].endswith("ed") or verb in _IRREGULAR_PARTICIPLES:
                    out += [f"date {verb}", f"when {verb}"]
            else:
                out = [f"{verb} date", f"{verb} time" if kind == "time" else f"{verb} day",
                       verb]
            return out + [_expand_tokens(tokens)]
        if tokens[-1] in _DATE_TOKENS and len(tokens) > 1:
            base = _expand_tokens(tokens[:-1])
            word = "date" if _DATE_TOKENS[tokens[-1]] == "date" else _expand_tokens(tokens[-1:])
            out = [f"{base} {word}"]
            if word != "date":
                out.append(f"{base} date")
            if " " not in base:
                out.append(f"date of {base}")
            past = _PAST_OF_NOUN.get(base)
            if past:
                out.append(past)
            return out
        return []

    def _claimed_columns(self, table: Table) -> dict[str, str]:
        """Canonical and sidecar words of every column in ``table`` -> owning column name."""
        claimed: dict[str, str] = {}
        for c in table.columns:
            for w in [self._name_variants(table, c)[0], *c.synonyms]:
                claimed.setdefault(w.lower(), c.name)
        return claimed

    def _build_column_words(self, table: Table, column: Column) -> list[str]:
        names = self._name_variants(table, column)
        canonical, derived = names[0], list(names[1:])
        tsing = self._table_base(table)
        tplur = pluralize(tsing)
        # drop a redundant table prefix: sessions.session_duration -> "duration"
        for p in list(names):
            for pre in (tsing, tplur):
                if p.lower().startswith(pre.lower() + " ") and len(p) > len(pre) + 1:
                    derived.append(p[len(pre) + 1:])
        if column.name.lower() in _GENERIC_COLUMNS or canonical.lower() in _GENERIC_COLUMNS:
            derived.insert(0, f"{tsing} {canonical}")
        if table.time_column and table.time_column.lower() == column.name.lower():
            derived += data.GENERIC_TIME_WORDS
        # built-in synonyms only for the name itself (and without its table prefix): applied to
        # derived variants such as "ID" they compound into nonsense ("ID" -> "number" -> "count")
        sources = [canonical]
        for pre in (tsing, tplur):
            if canonical.lower().startswith(pre.lower() + " "):
                sources.append(canonical[len(pre) + 1:])
        builtin: list[str] = []
        # a flag's name is an adjective ("premium"): noun synonyms would change its meaning
        for p in ([] if self.is_flag(column) else sources):
            builtin += _builtin_synonyms(p) or _variants_by_parts(p)
        # the raw identifier last: analysts do type "session_duration" in questions
        raw = [column.name] if column.name.lower() != canonical.lower() else []
        claimed = self._claimed_columns(table)
        mine = column.name
        plural, singular = self._table_forms(table)
        own_table = {w.lower() for w in plural + singular}
        # drop derived words that name a different column of this table, the table itself
        # ("product" for products.sku), and bare words that read as operations ("number")
        kept = [w for w in derived + builtin + raw
                if claimed.get(w.lower(), mine) == mine and w.lower() not in _OPERATION_NOUNS
                and w.lower() not in own_table]
        return _dedupe([canonical, *column.synonyms, *kept])

    # ------------------------------------------------------------------ metrics / dimensions
    def metric_words(self, metric: Metric) -> list[str]:
        """Noun phrases for a sidecar metric: name, sidecar synonyms, derived variants."""
        return self._measure_words(metric.name, metric.synonyms)

    def dimension_words(self, dim: Dimension) -> list[str]:
        """Noun phrases for a sidecar dimension; a plain-column dimension adds the column's."""
        extra: list[str] = []
        table = self.schema.table(dim.table)
        if table is not None:
            col = table.column(dim.sql.strip().strip('"'))
            if col is not None:
                extra = self.column_words(table, col)
        words = self._measure_words(dim.name, dim.synonyms)
        return _dedupe(words[:1] + list(dim.synonyms) + extra + words[1:])

    def _measure_words(self, name: str, synonyms: list[str]) -> list[str]:
        canonical = humanize(name)
        derived: list[str] = []
        m = re.match(r"^(.+?) count$", canonical)
        if m:  # "session count" -> "number of sessions"
            derived += [f"number of {pluralize(m.group(1))}", f"count of {pluralize(m.group(1))}"]
        derived += _builtin_synonyms(canonical) or _variants_by_parts(canonical)
        return _dedupe([canonical, *synonyms, *derived])

    # ------------------------------------------------------------------ values
    def value_texts(self, column: Column, value: object) -> list[str]:
        """Natural renderings of a literal, canonical first. Every text means the same value."""
        if value is None:
            return list(data.OPERATIONS["null"])
        if self.is_flag(column) and isinstance(value, (bool, int)) and value in (0, 1):
            return self._flag_texts(column, bool(value))
        if isinstance(value, datetime.datetime):
            if value.time() == datetime.time(0) and value.tzinfo is None:
                return self.date_texts(value.date(), "day")
            return _datetime_texts(value)
        if isinstance(value, datetime.date):
            return self.date_texts(value, "day")
        if isinstance(value, bool):
            return ["true", "yes"] if value else ["false", "no"]
        if isinstance(value, (int, float, Decimal)):
            tokens = split_identifier(column.name)
            # years, IDs, codes and phone-like numbers are names, not amounts: no "2,024"
            if (column.role == "id" or any(t in ("year", "yr", "id", "code", "zip", "phone")
                                          for t in tokens)):
                return [_plain_number(value)]
            return self.number_texts(value)
        text = str(value)
        if self._is_temporal(column) and len(text) == 10:
            try:
                return self.date_texts(datetime.date.fromisoformat(text), "day")
            except ValueError:
                return [text]
        out = [text, *COUNTRY_SHORT_NAMES.get(text, [])]  # "the UK" for 'United Kingdom', as users write it
        if "_" in text and re.fullmatch(r"[a-z0-9_]+", text):
            out.append(text.replace("_", " "))  # in_store -> "in store"
        return out

    def _flag_texts(self, column: Column, truth: bool) -> list[str]:
        positives = self._positive_flag_words(column)
        if truth:
            return positives
        out: list[str] = []
        for w in positives:
            if w.lower().startswith("not "):
                out.append(w[4:])  # "not deactivated" -> "deactivated"
            elif w.lower().startswith("has "):
                out.append("has no " + w[4:].removeprefix("a ").removeprefix("an "))
            elif w.lower().startswith("with "):
                out.append("without " + w[5:])
            elif len(w.split()) == 1 or w.split()[0] in ("marked", "flagged", "opted"):
                out.append(f"not {w}")
                if len(w.split()) == 1 and not w.startswith("non-"):
                    out.append(f"non-{w}")
            out += data.ANTONYMS.get(w.lower(), [])
        return _dedupe(out)

    def _positive_flag_words(self, column: Column) -> list[str]:
        tokens = split_identifier(column.name)
        names = self._flag_variants(tokens)
        # "fraud flag" / "is fraud" name the column, not the state of a row
        good = [names[0], *column.synonyms, *names[1:]]
        return _dedupe(w for w in good if not re.search(r"\b(flag|indicator|is)\b", w.lower())
                       or w == names[0])

    def date_texts(self, d: datetime.date, grain: str) -> list[str]:
        """Ways to name ``d`` at ``grain`` (day|week|month|quarter|year), canonical (ISO) first.

        Every text names exactly the same day/week/month/quarter/year. Slash dates are written
        month-first (US) only, so "12/05/2024" is always December 5.
        """
        g = _GRAINS.get(grain)
        if g is None:
            raise ValueError(f"unknown date grain {grain!r}; use one of day|week|month|quarter|year")
        if isinstance(d, datetime.datetime):
            d = d.date()
        y, m, day = d.year, d.month, d.day
        mon, mab = calendar.month_name[m], calendar.month_abbr[m]
        if g == "day":
            return _dedupe([
                d.isoformat(), f"{mon} {day}, {y}", f"{day} {mon} {y}", f"{mab} {day}, {y}",
                f"{m:02d}/{day:02d}/{y}", f"{_ordinal(day)} of {mon} {y}",
                f"{mon} {_ordinal(day)}, {y}", f"{calendar.day_name[d.weekday()]}, {mon} {day}, {y}",
            ])
        if g == "week":
            iso_y, iso_w, iso_d = d.isocalendar()
            out = [f"the week of {d.isoformat()}", f"the week of {mon} {day}, {y}",
                   f"the week starting {mon} {day}, {y}", f"the week beginning {mab} {day}, {y}"]
            if iso_d == 1:  # only a Monday start is exactly ISO week N
                out += [f"week {iso_w} of {iso_y}", f"{iso_y}-W{iso_w:02d}"]
            return out
        if g == "month":
            return _dedupe([f"{mon} {y}", f"{mab} {y}", f"{y}-{m:02d}", f"{m:02d}/{y}",
                            f"{mon} of {y}"])
        if g == "quarter":
            q = (m - 1) // 3 + 1
            return [f"Q{q} {y}", f"the {_QUARTER_WORDS[q - 1]} quarter of {y}", f"{y} Q{q}",
                    f"Q{q} of {y}", f"the {_ordinal(q)} quarter of {y}"]
        return [str(y), f"the year {y}", f"year {y}"]

    def number_texts(self, x: float | int | Decimal) -> list[str]:
        """Renderings of a number that parse back to exactly the same value.

        ``1000`` -> ["1000", "1,000", "1k", "1K"]; ``2500000`` -> [..., "2.5M", "2.5 million"];
        ``5`` -> ["5", "five"]. Short forms only when exact (1234 has no "k" form); decimals
        are kept exact ("12.5", "1,234.5"); nothing is ever rounded.
        """
        if isinstance(x, bool):
            raise TypeError("number_texts takes a number, not a bool")
        dec = _to_decimal(x)
        if dec is None:
            return [str(x)]
        plain = _plain_number(x)
        out = [plain]
        if dec == dec.to_integral_value():
            n = int(dec)
            if abs(n) >= 1000:
                out.append(f"{n:,}")
            for div, suffixes in ((10**9, ("B", " billion")), (10**6, ("M", " million")),
                                  (10**3, ("k", "K"))):
                if abs(n) >= div:
                    short = _short_decimal(Decimal(n) / div)
                    if short is not None:
                        out += [f"{short}{s}" for s in suffixes]
                    break
            if 0 <= n < len(NUMBER_WORDS):
                out.append(NUMBER_WORDS[n])
        else:
            if abs(dec) >= 1000:
                sign = "-" if dec < 0 else ""
                ip, fp = format(abs(dec), "f").split(".")
                out.append(f"{sign}{int(ip):,}.{fp}")
            stripped = format(dec.normalize(), "f")
            out.append(stripped)
        return _dedupe(out)

    # ------------------------------------------------------------------ general words
    def words(self, key: str) -> list[str]:
        """Phrases for an operation or a common concept, canonical first.

        Keys: see ``teacher.lexicon_data.OPERATIONS`` (``how_many``, ``average``, ``total``,
        ``max``, ``min``, ``top``, ``per``, ``show``, ``distinct``, ``share``, ``median``,
        ``between``, ``more_than``, ``in_year``, ``last_n_days``, ``filler``, ...) plus aliases;
        any built-in synonym key ("revenue", "customer") also works. Entries may hold
        ``{placeholders}``. Unknown keys raise ``KeyError``.
        """
        k = key.strip().lower().replace(" ", "_").replace("-", "_")
        k = data.OPERATION_ALIASES.get(k, k)
        if k in data.OPERATIONS:
            return list(data.OPERATIONS[k])
        phrase = key.strip().replace("_", " ")
        syn = _builtin_synonyms(phrase) or _builtin_synonyms(singularize(phrase))
        if syn:
            base = phrase if _builtin_synonyms(phrase) else singularize(phrase)
            return _dedupe([base, *syn])
        raise KeyError(f"no words for {key!r}; known keys: {', '.join(sorted(data.OPERATIONS))}")

    def word_keys(self) -> list[str]:
        """The operation keys :meth:`words` knows (aliases and synonym keys not included)."""
        return list(data.OPERATIONS)

    def filler_words(self) -> list[str]:
        """Common English words (wordfreq, most frequent first) safe to insert as noise.

        Alphabetic only; words that carry query meaning (negations, quantifiers, comparatives,
        numbers, dates, aggregations) and words of this schema are removed, so inserting one
        never changes what a question asks. Filler *phrases* are ``words("filler")``.
        """
        if self._filler is None:
            try:
                import wordfreq  # deferred: only noise generation needs it

                raw = wordfreq.top_n_list("en", self.filler_vocab_size)
            except Exception:  # wordfreq missing or its data unreadable: noise is optional
                raw = []
            banned = set(data.MEANINGFUL_WORDS) | set(data.UNWANTED_WORDS) | self._schema_tokens()
            for phrases in data.OPERATIONS.values():
                for p in phrases:
                    banned.update(t.lower() for t in re.findall(r"[A-Za-z]+", p))
            self._filler = [w for w in raw
                            if w.isascii() and w.isalpha() and len(w) > 1 and w not in banned
                            and w != "i"]
        return list(self._filler)

    def _schema_tokens(self) -> set[str]:
        out: set[str] = set()
        for words in self.phrase_groups().values():
            for w in words:
                for t in re.findall(r"[A-Za-z]+", w):
                    low = t.lower()
                    out.update({low, _plural_word(low), _singular_word(low)})
        return out

    def phrase_groups(self) -> dict[str, list[str]]:
        """Every schema word list by a stable group id (``table:<q>:pl``, ``table:<q>:sg``,
        ``col:<q>.<col>``, ``metric:<name>``, ``dim:<name>``). Used by the paraphraser to find
        schema phrases in a question and swap them for another word of the same group."""
        groups: dict[str, list[str]] = {}
        for t in self.schema.tables:
            groups[f"table:{t.qualified_name}:pl"] = self.table_words(t)
            groups[f"table:{t.qualified_name}:sg"] = self.table_singular(t)
            for c in t.columns:
                groups[f"col:{t.qualified_name}.{c.name}"] = self.column_words(t, c)
        for m in self.schema.metrics:
            groups[f"metric:{m.name}"] = self.metric_words(m)
        for d in self.schema.dimensions:
            groups[f"dim:{d.name}"] = self.dimension_words(d)
        return groups


# ----------------------------------------------------------------------------------------------
# helpers
_PAST_OF_NOUN: dict[str, str] = {}
for _past, _noun in data.EVENT_NOUNS.items():
    _PAST_OF_NOUN.setdefault(_noun, _past)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _to_decimal(x: object) -> Decimal | None:
    try:
        if isinstance(x, float):
            if not math.isfinite(x):
                return None
            return Decimal(repr(x))  # shortest repr round-trips exactly to the same float
        return Decimal(str(x))
    except (InvalidOperation, ValueError):
        return None


def _plain_number(x: object) -> str:
    """Digits only, no exponent, no separators; integral floats drop their ".0"."""
    dec = _to_decimal(x)
    if dec is None:
        return str(x)
    if isinstance(x, float) and dec == dec.to_integral_value():
        return str(int(dec))
    if isinstance(x, int):
        return str(x)
    return format(dec, "f")


def _short_decimal(d: Decimal) -> str | None:
    """``1.5`` -> "1.5"; only exact values with at most 2 decimals qualify ("1.234k" does not)."""
    q = d.normalize()
    exp = q.as_tuple().exponent
    if isinstance(exp, int) and exp < -2:
        return None
    text = format(q, "f")
    return text


def _datetime_texts(v: datetime.datetime) -> list[str]:
    """A point in time: the same instant in every text (seconds kept when non-zero)."""
    d = v.date()
    mon = calendar.month_name[d.month]
    hm = v.strftime("%H:%M:%S") if v.second or v.microsecond else v.strftime("%H:%M")
    if v.microsecond:
        hm = v.strftime("%H:%M:%S.%f")
    out = [v.isoformat(sep=" "), f"{d.isoformat()} {hm}", f"{mon} {d.day}, {d.year} at {hm}"]
    if not v.second and not v.microsecond:
        h12 = v.hour % 12 or 12
        out.append(f"{mon} {d.day}, {d.year} at {h12}:{v.minute:02d} "
                   f"{'AM' if v.hour < 12 else 'PM'}")
    return _dedupe(out)
