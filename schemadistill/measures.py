"""Measures a question asks for: "the average session duration and total revenue per browser"
names two aggregates; SQL that computes one of them gets the other.

    from schemadistill.measures import stated_measures, add_missing_measures
    asked = stated_measures(question, index.measures)   # [("AVG", "ecommerce.sessions", "session_duration"), ...]
    add_missing_measures(tree, asked)                   # "added SUM(revenue)"

Why: on real questions with two measures a small student writes the first and drops the second
(or repeats the first): its training pairs with two measures are few beside those with one. The
words say which aggregate of which column, so the rest of its SQL (filters, grouping) stays.

The same words fix the one aggregate of a question that names one ("the top 5 countries with the
highest average session duration" written as ``COUNT(*)``: :func:`replace_measure`), and "how
many X" fixes what a COUNT counts (:func:`fix_count`).

Rules, conservative: to add, the question must name at least two (function, column) pairs ("average X
and total Y", "average and maximum X"), the outer SELECT must already compute at least one of
them (so it is an aggregate query of the right table) and read the missing one's table; a
projection repeated word for word (``SUM(revenue) AS t, SUM(revenue) AS t``) is dropped, as no
question asks for one column twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlglot import exp

from schemadistill.schema.infer import own_key_names
from schemadistill.schema.model import NUMERIC_TYPES, Schema, Table

_V = TypeVar("_V")  # what a phrase maps to: a (table, column) key, or a table's name

# aggregate words -> SQL function; a word may stand for several in a list ("average and maximum")
# "overall", "combined", "aggregate": the teacher's words for a total (teacher/lexicon_data.py)
_FUNCS = {"average": "AVG", "avg": "AVG", "mean": "AVG", "total": "SUM", "sum": "SUM", "overall": "SUM",
          "combined": "SUM", "aggregate": "SUM",
          "maximum": "MAX", "max": "MAX", "minimum": "MIN", "min": "MIN", "median": "MEDIAN"}
AGGREGATE_NODES: dict[str, type[exp.Expr]] = {"AVG": exp.Avg, "SUM": exp.Sum, "MAX": exp.Max, "MIN": exp.Min,
                                     "MEDIAN": exp.Median}
_FILLER = frozenset({"the", "of", "a", "an", "their", "its", "in", "per"})
_WORD = re.compile(r"[a-z0-9]+")
_COMPARED = frozenset({"above", "over", "below", "under", "more", "less", "greater", "higher", "lower", "exceeding",
                       "exceeds", "exceeded", "at", "between", "is", "was", "equal", "equals", "than"})


def measure_words(schema: Schema) -> dict[str, tuple[str, str]]:
    """Phrase (lower-case words) -> (qualified table, column) for every numeric measure column,
    from the teacher's lexicon: the words its questions use."""
    from schemadistill.schema.infer import column_role
    from teacher.lexicon import Lexicon  # index-building time only; the runtime loads values.json

    lex = Lexicon(schema)
    found: dict[str, set[tuple[str, str]]] = {}
    for table in schema.tables:
        for col in table.columns:
            if col.type not in NUMERIC_TYPES or column_role(table, col, schema) != "measure":
                continue
            for text in lex.column_words(table, col):
                phrase = " ".join(_WORD.findall(text.lower()))
                if phrase:
                    found.setdefault(phrase, set()).add((table.qualified_name, col.name))
    return {p: next(iter(refs)) for p, refs in found.items() if len(refs) == 1}  # "amount" of two tables: no


def dimension_words(schema: Schema) -> dict[str, tuple[str, str]]:
    """Phrase (lower-case words) -> (qualified table, column) for every column a breakdown groups
    by (role dimension: "browser type", "country of residence", "market"), from the teacher's
    lexicon; a phrase two columns share is left out."""
    from schemadistill.schema.infer import column_role

    return _column_phrases(schema, lambda table, col: column_role(table, col, schema) == "dimension")


def column_words(schema: Schema) -> dict[str, tuple[str, str]]:
    """The same for every column, keys and dates too ("date of action", "session id", "session
    duration" for session_duration): the columns a listing may show."""
    return _column_phrases(schema, lambda table, col: True)


def _column_phrases(schema: Schema, keep: Callable[[Table, Any], bool]) -> dict[str, tuple[str, str]]:
    """Phrase -> (qualified table, column) of the columns ``keep`` takes: the lexicon's words for
    each and its own name; a phrase two columns share is left out."""
    from teacher.lexicon import Lexicon

    lex = Lexicon(schema)
    found: dict[str, set[tuple[str, str]]] = {}
    for table in schema.tables:
        for col in table.columns:
            if not keep(table, col):
                continue
            for text in [*lex.column_words(table, col), col.name]:
                phrase = " ".join(_WORD.findall(text.lower()))
                if phrase:
                    found.setdefault(phrase, set()).add((table.qualified_name, col.name))
    return {p: next(iter(refs)) for p, refs in found.items() if len(refs) == 1}


def count_words(schema: Schema) -> dict[str, str]:
    """Plural phrase (lower-case words) -> qualified table, from the teacher's lexicon ("visits",
    "customers"); a phrase two tables share ("transactions") is left out."""
    from teacher.lexicon import Lexicon

    lex = Lexicon(schema)
    found: dict[str, set[str]] = {}
    for table in schema.tables:
        for text in lex.table_words(table):
            phrase = " ".join(_WORD.findall(text.lower()))
            if phrase:
                found.setdefault(phrase, set()).add(table.qualified_name)
    return {p: next(iter(t)) for p, t in found.items() if len(t) == 1}


_NOUN_PHRASE_ENDS = frozenset({"that", "who", "which", "whose", "with", "had", "have", "has", "were", "was", "are",
                               "is", "did", "do", "does", "made", "make", "used", "use", "in", "from", "for", "by",
                               "of", "on", "at", "per", "during", "to", "and", "or"})


_COUNTED = r"\b(?:how many|number of|count of)\b((?: [a-z0-9_]+){1,6})"
# "the share of fraud sessions", "what percentage of clients": the rows a rate is a share of
_SHARE_OF = r"\b(?:percentage|percent|share|proportion|fraction|rate)\s+of\b((?: [a-z0-9_]+){1,6})"


def stated_count(question: str, tables: dict[str, str], pattern: str = _COUNTED) -> str | None:
    """The table whose rows "how many X" / "the number of X" counts, X within three words
    ("how many unique active customers"); None when the question counts nothing or two things."""
    found = set()
    low = " ".join(_WORD.findall(question.lower().replace("-", "_")))
    for m in re.finditer(pattern, low):
        toks = m.group(1).split()
        cut = next((k for k, t in enumerate(toks) if t in _NOUN_PHRASE_ENDS), len(toks))
        toks = toks[:cut]  # the counted noun phrase only: not "ussers that had web sessions"
        for i in range(min(4, len(toks))):
            hit = next((tables[" ".join(toks[i:i + n])] for n in (3, 2, 1) if " ".join(toks[i:i + n]) in tables), None)
            if hit is not None:
                found.add(hit)
                break
    return found.pop() if len(found) == 1 else None


def _fact_of(tree: exp.Select, schema: Schema) -> tuple[exp.Table, Table] | None:
    """The table a SELECT reads FROM, as the SQL names it and as the schema has it."""
    frm = tree.args.get("from") or tree.args.get("from_")
    main = frm.this if frm is not None else None
    if not isinstance(main, exp.Table):
        return None
    fact = next((t for t in schema.tables if t.name.lower() == main.name.lower()), None)
    return (main, fact) if fact is not None else None


def _key_to(tree: exp.Select, main: exp.Table, fact: Table, table: str, schema: Schema) -> exp.Column | None:
    """``fact``'s one single-column key to ``table`` (``sessions.user_id`` -> users), qualified as
    ``tree`` reads ``main`` when it reads more than one table; None without exactly one."""
    fks = [fk for fk in schema.foreign_keys if fk.table == fact.qualified_name and fk.ref_table == table
           and len(fk.columns) == 1]
    if len(fks) != 1:
        return None
    return exp.column(fks[0].columns[0], table=main.alias_or_name if len(own_tables(tree)) > 1 else None)


def fix_count(tree: exp.Expr, asked: str, schema: Schema) -> str | None:
    """The outer SELECT's one COUNT counts what the question counts: ``COUNT(*)`` (or
    ``COUNT(DISTINCT s.session_id)``, the sessions' own key) of sessions for "how many users"
    becomes ``COUNT(DISTINCT s.user_id)`` (the sessions' one key to users), and
    ``COUNT(DISTINCT s.user_id)`` for "how many sessions" becomes ``COUNT(*)``."""
    if not isinstance(tree, exp.Select):
        return None
    counts = [p for p in tree.expressions if isinstance(p.this if isinstance(p, exp.Alias) else p, exp.Count)]
    if len(counts) != 1 or tree.args.get("group") is None and len(tree.expressions) != 1:
        return None
    count = counts[0].this if isinstance(counts[0], exp.Alias) else counts[0]
    found = _fact_of(tree, schema)
    if found is None:
        return None
    main, fact = found
    arg = count.this
    distinct = isinstance(arg, exp.Distinct)
    target = arg.expressions[0] if distinct and len(arg.expressions) == 1 else arg
    if fact.qualified_name == asked:
        # "how many sessions": counting distinct users of the sessions counts the wrong thing
        if distinct and isinstance(target, exp.Column) and _references_other(fact, target.name, asked, schema):
            count.set("this", exp.Star())
            return f"COUNT(DISTINCT {target.sql()}) -> COUNT(*): the question counts {fact.name}"
        return None
    # COUNT(*), COUNT(key) and COUNT(DISTINCT key) of the fact's own key all count its rows
    own_key = isinstance(target, exp.Column) and target.name.lower() in own_key_names(fact)
    if not (isinstance(target, exp.Star) and not distinct or own_key):
        return None
    col = _key_to(tree, main, fact, asked, schema)
    if col is None:
        return None
    before = count.sql()
    count.set("this", exp.Distinct(expressions=[col]))
    return f"{before} -> {count.sql()}: the question counts {asked.split('.')[-1]}"


_DISTINCT_WORDS = frozenset({"distinct", "different", "unique"})
_COUNT_LEADS = (("how", "many"), ("number", "of"), ("count", "of"), ("count",))


def stated_count_pair(question: str, tables: dict[str, str]) -> tuple[str, str] | None:
    """(table whose rows, table whose distinct keys) a question counts side by side: "number of
    rows and number of distinct users", "the total number of fraudulent sessions and, separately,
    the unique people among them"; None unless both are asked and are different tables."""
    toks = _WORD.findall(question.lower())
    longest = max((p.count(" ") + 1 for p in tables), default=0)

    def noun_at(j: int) -> str | None:
        return phrase_at(toks, j, tables, longest, skips=(0,))[0]

    distinct = rows = None
    for i, t in enumerate(toks):
        if t in _DISTINCT_WORDS:
            found = next((x for j in range(i + 1, min(i + 3, len(toks))) if (x := noun_at(j))), None)
            distinct = distinct or found
        lead = next((ld for ld in _COUNT_LEADS if tuple(toks[i:i + len(ld)]) == ld), None)
        if lead is None:
            continue
        j = i + len(lead)
        if j < len(toks) and toks[j] == "rows":
            rows = rows or "rows"
            continue
        for k in range(j, min(j + 3, len(toks))):
            if toks[k] in _DISTINCT_WORDS or toks[k] in _NOUN_PHRASE_ENDS:
                break
            if (x := noun_at(k)) is not None:
                rows = rows or x
                break
    if distinct is None or rows is None or rows == distinct:
        return None
    return rows, distinct


def add_count_pair(tree: exp.Expr, pair: tuple[str, str], schema: Schema) -> str | None:
    """The outer SELECT's one count made the two the question asks for: rows of the fact it reads
    (``COUNT(*)``) and its distinct keys to the other table (``COUNT(DISTINCT s.user_id)``), the
    missing one added beside the other. The small model answers "number of rows and number of
    distinct users" with either count alone."""
    if not isinstance(tree, exp.Select) or tree.args.get("group") is not None:
        return None
    found = _fact_of(tree, schema)
    rows, other = pair
    if found is None or rows not in ("rows", found[1].qualified_name):
        return None
    main, fact = found
    counts = [p for p in tree.expressions if isinstance(p.unalias(), exp.Count)]
    if len(counts) != 1 or len(tree.expressions) != 1:
        return None
    col = _key_to(tree, main, fact, other, schema)
    if col is None:
        return None
    arg = counts[0].unalias().this
    inner = arg.expressions[0] if isinstance(arg, exp.Distinct) and len(arg.expressions) == 1 else None
    if isinstance(inner, exp.Column) and inner.name.lower() == col.name.lower():
        tree.set("expressions", [exp.alias_(exp.Count(this=exp.Star()), "rows_count"), *tree.expressions])
        return "added COUNT(*): the question counts rows too"
    if isinstance(arg, exp.Star) or isinstance(inner, exp.Column) and inner.name.lower() in own_key_names(fact):
        distinct = exp.alias_(exp.Count(this=exp.Distinct(expressions=[col])), "distinct_count")
        tree.set("expressions", [*tree.expressions, distinct])
        return f"added COUNT(DISTINCT {col.sql()}): the question counts distinct {other.split('.')[-1]} too"
    return None


def stated_share(question: str, tables: dict[str, str]) -> str | None:
    """The table whose rows a rate is a share of: "the share of fraud sessions" (sessions), "what
    percentage of clients ..." (users); None when the question names none or two."""
    return stated_count(question, tables, _SHARE_OF)


def fix_share(tree: exp.Expr, asked: str, schema: Schema) -> str | None:
    """A rate of the outer SELECT counts the rows the question's share is of: per session
    (``COUNT_IF(c) / COUNT(*)``) for "the share of fraud sessions", per user
    (``COUNT(DISTINCT CASE WHEN c THEN s.user_id END) / COUNT(DISTINCT s.user_id)``, the fact's
    one key to users) for "the percentage of clients who ...". The small model writes either
    form under either question."""
    if not isinstance(tree, exp.Select):
        return None
    found = _fact_of(tree, schema)
    if found is None:
        return None
    main, fact = found
    divs = [d for p in tree.expressions for d in p.find_all(exp.Div) if d.find_ancestor(exp.Select) is tree]
    if len(divs) != 1:
        return None
    div = divs[0]
    num = [c for c in div.this.find_all(exp.Count, exp.CountIf, exp.Sum)]
    den = div.expression.this if isinstance(div.expression, exp.Paren) else div.expression
    if len(num) != 1 or not isinstance(den, exp.Count):
        return None
    counted, cond, key = num[0], *_rate_parts(num[0])
    if cond is None:
        return None
    den_arg = den.this
    per_key = isinstance(den_arg, exp.Distinct) and len(den_arg.expressions) == 1 \
        and isinstance(den_arg.expressions[0], exp.Column)
    before = div.sql()
    if fact.qualified_name == asked:
        if key is None or not per_key or den_arg.expressions[0].name.lower() != key.name.lower():
            return None
        counted.replace(exp.CountIf(this=cond.copy()))
        den.set("this", exp.Star())
    else:
        if key is not None or not isinstance(den_arg, exp.Star):
            return None
        col = _key_to(tree, main, fact, asked, schema)
        if col is None:
            return None
        case = exp.Case(ifs=[exp.If(this=cond.copy(), true=col.copy())])
        counted.replace(exp.Count(this=exp.Distinct(expressions=[case])))
        den.set("this", exp.Distinct(expressions=[col]))
    return f"{before} -> {div.sql()}: the rate is a share of {asked.split('.')[-1]}"


def _rate_parts(node: exp.Expr) -> tuple[exp.Expr | None, exp.Column | None]:
    """(condition, counted key) of a rate's numerator: ``COUNT_IF(c)``, ``COUNT(CASE WHEN c THEN 1
    END)``, ``SUM(CASE WHEN c THEN 1 ELSE 0 END)`` count rows (key None); ``COUNT(DISTINCT CASE
    WHEN c THEN k END)`` counts keys. (None, None) for anything else."""
    if isinstance(node, exp.CountIf):
        return node.this, None
    arg = node.this
    distinct = isinstance(arg, exp.Distinct)
    if distinct:
        arg = arg.expressions[0] if len(arg.expressions) == 1 else None
    if not isinstance(arg, exp.Case) or len(arg.args.get("ifs") or []) != 1:
        return None, None
    branch = arg.args["ifs"][0]
    then, default = branch.args.get("true"), arg.args.get("default")
    if distinct and isinstance(node, exp.Count) and isinstance(then, exp.Column) and default is None:
        return branch.this, then
    one = isinstance(then, exp.Literal) and then.this == "1"
    if not distinct and one and (isinstance(node, exp.Count) and default is None or isinstance(node, exp.Sum)
                                 and isinstance(default, exp.Literal) and default.this == "0"):
        return branch.this, None
    return None, None


def _references_other(table: Table, column: str, asked: str, schema: Schema) -> bool:
    """Is ``table.column`` a key to a table other than ``asked`` (``sessions.user_id`` -> users)?"""
    return any(fk.table == table.qualified_name and fk.ref_table != asked and column.lower() in
               {c.lower() for c in fk.columns} for fk in schema.foreign_keys)


def stated_measures(question: str, phrases: dict[str, tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(function, table, column) for each aggregate the question names, in order, no repeats."""
    if not phrases:
        return []
    toks = _WORD.findall(question.lower())
    longest = max(p.count(" ") + 1 for p in phrases)
    out: list[tuple[str, str, str]] = []
    i = 0
    while i < len(toks):
        if toks[i] not in _FUNCS:
            i += 1
            continue
        funcs = [_FUNCS[toks[i]]]
        j = i + 1
        while j + 1 < len(toks) and toks[j] in ("and", "or") and toks[j + 1] in _FUNCS:
            funcs.append(_FUNCS[toks[j + 1]])  # "average and maximum purchase revenues"
            j += 2
        while j < len(toks) and toks[j] in _FILLER:
            j += 1
        ref, used = phrase_at(toks, j, phrases, longest)
        if ref is not None:
            after = toks[j + used] if j + used < len(toks) else ""
            if after not in _COMPARED:  # "with an average duration above 500" is a condition
                out += [(f, *ref) for f in funcs if (f, *ref) not in out]
                i = _listed_superlatives(toks, j + used, phrases, longest, out)
            else:
                i = j + used
        else:
            i += 1
    return out


# a superlative listed after a named aggregate is one too: "the average age, the lowest age and
# the largest age" asks for AVG, MIN and MAX (alone, "the highest age" may rank rows instead)
_LISTED_SUPERLATIVES = {"highest": "MAX", "largest": "MAX", "biggest": "MAX", "greatest": "MAX", "longest": "MAX",
                        "lowest": "MIN", "smallest": "MIN", "shortest": "MIN", "least": "MIN"}


def _listed_superlatives(toks: list[str], i: int, phrases: dict[str, tuple[str, str]], longest: int,
                         out: list[tuple[str, str, str]]) -> int:
    """Read "(and) the largest age ..." from ``toks[i]`` on into ``out``; where the list ends."""
    while True:
        j = i + (i < len(toks) and toks[i] in ("and", "or"))
        while j < len(toks) and toks[j] in _FILLER:
            j += 1
        if j >= len(toks) or toks[j] not in _LISTED_SUPERLATIVES:
            return i
        k = j + 1
        while k < len(toks) and toks[k] in _FILLER:
            k += 1
        ref, used = phrase_at(toks, k, phrases, longest)
        after = toks[k + used] if ref is not None and k + used < len(toks) else ""
        if ref is None or after in _COMPARED:
            return i
        if (_LISTED_SUPERLATIVES[toks[j]], *ref) not in out:
            out.append((_LISTED_SUPERLATIVES[toks[j]], *ref))
        i = k + used


# superlatives that rank rows by a measure: "the session with the highest income", "the least user age"
# ("the site visit with the maximum duration": a listing sorted by it, where no aggregate is written)
_SUPERLATIVES = {"highest": "DESC", "largest": "DESC", "greatest": "DESC", "biggest": "DESC", "longest": "DESC",
                 "most": "DESC", "maximum": "DESC", "lowest": "ASC", "smallest": "ASC", "least": "ASC",
                 "shortest": "ASC", "minimum": "ASC"}
_RANK_FILLER = frozenset({"the", "a", "an", "their", "its", "one", "two", "three", "four", "five", "ten"})


def stated_superlative(question: str, phrases: dict[str, tuple[str, str]]) -> tuple[str, tuple[str, str]] | None:
    """("DESC"|"ASC", (table, column)) when the question ranks by one measure with a superlative
    ("the session with the highest income", "the two largest age values", "the least user age"),
    else None (none, or several that disagree)."""
    if not phrases:
        return None
    toks = _WORD.findall(question.lower())
    longest = max(p.count(" ") + 1 for p in phrases)
    found = set()
    for i, tok in enumerate(toks):
        if tok not in _SUPERLATIVES or (i and toks[i - 1] == "at"):  # "at least 3" is a comparison
            continue
        j = i + 1
        while j < len(toks) and (toks[j] in _RANK_FILLER or toks[j].isdigit()):
            j += 1
        ref, _ = phrase_at(toks, j, phrases, longest)  # one word on too: "the least user age"
        if ref is not None:
            found.add((_SUPERLATIVES[tok], ref))
    return found.pop() if len(found) == 1 else None


def measure_at_start(text: str, phrases: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """The measure ``text`` begins with ("revenue across sessions" -> (sessions, revenue)), if any."""
    if not phrases:
        return None
    longest = max(p.count(" ") + 1 for p in phrases)
    return phrase_at(_WORD.findall(text.lower()), 0, phrases, longest, skips=(0,))[0]


def phrase_at(toks: list[str], j: int, phrases: Mapping[str, _V],
              longest: int, skips: tuple[int, ...] = (0, 1)) -> tuple[_V | None, int]:
    """The phrase of ``phrases`` (a measure, a dimension) named at ``toks[j]`` (or, with ``skips``
    (0, 1), one word on: "purchase revenues"), plural or not; and how many words it took."""
    for skip in skips:
        if skip and j < len(toks) and toks[j] in _FUNCS:
            break  # "max mean turnover": the mean is the next word's measure, not a modifier
        for n in range(min(longest, len(toks) - j - skip), 0, -1):
            span = toks[j + skip:j + skip + n]
            for cand in (" ".join(span), " ".join(span[:-1] + [span[-1].rstrip("s")])):
                if cand in phrases:
                    return phrases[cand], skip + n
    return None, 0


def add_missing_measures(tree: exp.Expr, asked: list[tuple[str, str, str]]) -> list[str]:
    """Drop repeated projections; add the asked aggregates the outer SELECT lacks (see module doc)."""
    if not isinstance(tree, exp.Select):
        return []
    changes: list[str] = []
    seen: set[str] = set()
    for proj in list(tree.expressions):
        text = proj.sql()
        if text in seen:
            proj.pop()
            changes.append(f"dropped the repeated {text}")
        seen.add(text)
    if len(asked) < 2:
        return changes
    aliases = {t.alias_or_name.lower(): t.name.lower() for t in own_tables(tree)}
    have = set()
    for proj in tree.expressions:
        node = proj.this if isinstance(proj, exp.Alias) else proj
        for func, node_type in AGGREGATE_NODES.items():
            if isinstance(node, node_type) and isinstance(node.this, exp.Column):
                have.add((func, node.this.name.lower()))
    if not any((f, c.lower()) in have for f, _, c in asked):
        return changes
    having = {c.name.lower() for c in tree.find_all(exp.Column) if c.find_ancestor(exp.Having)}
    for func, table, column in asked:
        if (func, column.lower()) in have or column.lower() in having:
            continue
        bare = table.lower().split(".")[-1]
        quals = [a for a, name in aliases.items() if name == bare]
        if len(quals) != 1:
            return changes
        qual = quals[0] if len(aliases) > 1 else None
        agg = AGGREGATE_NODES[func](this=exp.column(column, table=qual))
        tree.select(exp.alias_(agg, f"{func.lower()}_{column}"), copy=False)
        have.add((func, column.lower()))
        changes.append(f"added {agg.sql()}: the question asks for it")
    return changes


_COUNTING = re.compile(r"\b(?:how\s+many|number|count|counts|total\s+of)\b", re.IGNORECASE)


def replace_measure(tree: exp.Expr, asked: list[tuple[str, str, str]], question: str) -> str | None:
    """The question names one aggregate ("the highest average session duration") and the outer
    SELECT computes exactly one other (``COUNT(*)``, ``SUM(revenue)``): that one becomes the
    asked one, under its alias, and in an ORDER BY that repeats it. Only when the question says
    one aggregate word and counts nothing ("the max mean turnover", "the number of sessions that
    beat the average revenue" are left alone)."""
    if len(asked) != 1 or not isinstance(tree, exp.Select) or _COUNTING.search(question) \
            or sum(t in _FUNCS for t in _WORD.findall(question.lower())) != 1:
        return None
    func, table, column = asked[0]
    aggs = [p for p in tree.expressions if isinstance(p.this if isinstance(p, exp.Alias) else p, exp.AggFunc)]
    if len(aggs) != 1 or any(c.find_ancestor(exp.Having) for c in tree.find_all(exp.Column)):
        return None
    old: exp.Expr = aggs[0].this if isinstance(aggs[0], exp.Alias) else aggs[0]
    if not (isinstance(old, exp.Count) or any(isinstance(old, t) for t in AGGREGATE_NODES.values())):
        return None
    inner = old.this.expressions[0] if isinstance(old.this, exp.Distinct) and old.this.expressions else old.this
    if not isinstance(inner, (exp.Column, exp.Star)):
        return None  # SUM(quantity * price): the model's own formula for the measure, kept
    if isinstance(old, AGGREGATE_NODES[func]) and isinstance(inner, exp.Column) and inner.name.lower() == column.lower():
        return None  # already the asked one
    aliases = {t.alias_or_name.lower(): t.name.lower() for t in own_tables(tree)}
    quals = [a for a, name in aliases.items() if name == table.lower().split(".")[-1]]
    if len(quals) != 1:
        return None
    new = AGGREGATE_NODES[func](this=exp.column(column, table=quals[0] if len(aliases) > 1 else None))
    text = old.sql()
    order = tree.args.get("order")
    for node in list(order.find_all(type(old))) if order is not None else []:
        if node.sql() == text:
            node.replace(new.copy())
    old.replace(new)
    return f"{text} -> {new.sql()}: the question asks for it"


# what joins two measures into a ratio, first over second: "X divided by Y", "the ratio of X to
# Y", "divide the sum of X by the sum of Y", "X per Y" (where Y is a measure, not a dimension)
_RATIO_GAPS = (("divided", "by"), ("over",), ("per",), ("per", "unit"), ("is", "there", "per"), ("to",), ("by",))
_RATIO_FILLER = frozenset({"the", "a", "an", "total", "sum", "of", "overall", "all", "their", "its"})


def stated_ratio(question: str, phrases: dict[str, tuple[str, str]]
                 ) -> tuple[tuple[str, str], tuple[str, str]] | None:
    """((table, column) over (table, column)) when the question divides one measure by another
    ("total session duration divided by total revenue", "the ratio of revenue to duration",
    "divide the sum of X by the sum of Y", "revenue per session duration"); None when it names
    no such pair or several. "to" and "by" count only after "ratio of" / "divide"."""
    if not phrases:
        return None
    toks = _WORD.findall(question.lower())
    longest = max(p.count(" ") + 1 for p in phrases)
    found: list[tuple[int, int, tuple[str, str]]] = []  # (start, end, measure), left to right
    i = 0
    while i < len(toks):
        ref, used = phrase_at(toks, i, phrases, longest, skips=(0,))
        if ref is not None:
            found.append((i, i + used, ref))
            i += used
        else:
            i += 1
    pairs = []
    for (s1, e1, a), (s2, _, b) in zip(found, found[1:], strict=False):
        gap = tuple(t for t in toks[e1:s2] if t not in _RATIO_FILLER)
        lead = [t for t in toks[max(0, s1 - 5):s1] if t not in _RATIO_FILLER]
        if a == b or gap not in _RATIO_GAPS:
            continue
        if gap == ("to",) and lead[-1:] != ["ratio"]:
            continue
        if gap == ("by",) and not {"divide", "dividing"} & set(lead):
            continue
        pairs.append((a, b))
    return pairs[0] if len(set(pairs)) == 1 else None


def orient_ratio(tree: exp.Expr, ratio: tuple[tuple[str, str], tuple[str, str]]) -> str | None:
    """The SQL's one division of two aggregates of plain columns (``SUM(revenue) / NULLIF(SUM(d),
    0)``) that divides the stated ratio's second measure by its first: the two aggregates trade
    places, the NULLIF guard staying on the denominator. One that divides a stated measure by
    itself (the same aggregate of one column on both sides, the two measures of one table) gets
    the other measure on its wrong side."""
    (_, num), (_, den) = ratio
    divs = []
    for div in tree.find_all(exp.Div):
        a, b = div.this.find(exp.AggFunc), div.expression.find(exp.AggFunc)
        if a is None or b is None or not isinstance(a.this, exp.Column) or not isinstance(b.this, exp.Column):
            continue
        divs.append((div, a, b))
    if len(divs) != 1:
        return None
    div, a, b = divs[0]
    cols = (a.this.name.lower(), b.this.name.lower())
    text = div.sql()
    if cols in ((num.lower(), num.lower()), (den.lower(), den.lower())) and type(a) is type(b) \
            and ratio[0][0] == ratio[1][0]:  # one measure over itself ("X / X"): the stated other one goes in
        wrong = b if cols[0] == num.lower() else a
        wrong.this.set("this", exp.to_identifier(den if wrong is b else num))
    elif cols == (den.lower(), num.lower()):
        top, bottom = a.copy(), b.copy()
        a.replace(bottom)
        b.replace(top)
    else:
        return None
    return f"{text} -> {div.sql()} (the question divides {num} by {den})"


def own_tables(sel: exp.Select) -> list[exp.Table]:
    """The tables ``sel`` itself reads (FROM and JOINs; not its subqueries')."""
    frm = sel.args.get("from") or sel.args.get("from_")
    sources = [frm.this] if frm is not None else []
    sources += [j.this for j in sel.args.get("joins") or []]
    return [s for s in sources if isinstance(s, exp.Table)]


def _counted_condition(agg: exp.Expr) -> exp.Expr | None:
    """The condition of a conditional count: ``COUNT(CASE WHEN c THEN x END)``, ``SUM(CASE WHEN
    c THEN 1 ELSE 0 END)``, ``COUNT_IF(c)``; None for anything else."""
    if isinstance(agg, exp.CountIf):
        return agg.this
    case = agg.this if isinstance(agg, (exp.Count, exp.Sum)) else None
    if isinstance(case, exp.Distinct) or not isinstance(case, exp.Case) or len(case.args.get("ifs") or []) != 1:
        return None
    branch, default = case.args["ifs"][0], case.args.get("default")
    if isinstance(agg, exp.Sum):
        ones = branch.args.get("true")
        if not (isinstance(ones, exp.Literal) and ones.this == "1" and isinstance(default, exp.Literal)
                and default.this == "0"):
            return None
    elif default is not None and not isinstance(default, exp.Null):
        return None
    return branch.this


def plain_count(tree: exp.Expr, unstated: Callable[[exp.Expr], bool]) -> list[str]:
    """A conditional count of the outer SELECT whose one condition the question never states
    (``unstated``: "visits per OS" written as ``COUNT(CASE WHEN os = 'Android' THEN 1 END)``, a
    value copied from pairs it resembles) is a plain ``COUNT(*)``. Not inside a rate: there
    the condition is the point."""
    if not isinstance(tree, exp.Select):
        return []
    changes: list[str] = []
    for proj in tree.expressions:
        for agg in list(proj.find_all(exp.Count, exp.Sum, exp.CountIf)):
            cond = _counted_condition(agg)
            if cond is None or agg.find_ancestor(exp.Div, exp.Mul) is not None or not unstated(cond):
                continue
            old = agg.sql()
            agg.replace(exp.Count(this=exp.Star()))
            changes.append(f"{old} -> COUNT(*) (the question never states {cond.sql()})")
    return changes


_DISTINCT_LEAD = re.compile(r"\b(?:how many|number of|count(?: of)?(?: the)?)\s+(?:distinct|different|unique)\s+"
                            r"(?P<rest>[a-z0-9 ]+)")


def stated_distinct(question: str, dimensions: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """The dimension "how many different countries" / "the number of distinct browsers" counts
    (a phrase of ``dimensions``, plural or not), if the question counts one."""
    low = " ".join(_WORD.findall(question.lower()))
    found = set()
    for m in _DISTINCT_LEAD.finditer(low):
        toks = m["rest"].split()
        for n in (3, 2, 1):
            span = toks[:n]
            if len(span) < n:
                continue
            cands = (" ".join(span), " ".join(span[:-1] + [span[-1].rstrip("s")]),
                     " ".join(span[:-1] + [span[-1][:-3] + "y"]) if span[-1].endswith("ies") else "")
            hit = next((dimensions[c] for c in cands if c in dimensions), None)
            if hit is not None:
                found.add(hit)
                break
    return found.pop() if len(found) == 1 else None


def fix_distinct_count(tree: exp.Expr, dim: tuple[str, str]) -> str | None:
    """The outer SELECT's one plain count, no GROUP BY, counts the distinct values of the
    dimension the question counts: ``COUNT(*)`` for "how many different countries" becomes
    ``COUNT(DISTINCT u.country)``, on the table the SELECT reads that holds it."""
    if not isinstance(tree, exp.Select) or tree.args.get("group") is not None or len(tree.expressions) != 1:
        return None
    count = tree.expressions[0].unalias()
    if not isinstance(count, exp.Count) or isinstance(count.this, exp.Distinct):
        return None
    own = own_tables(tree)
    src = next((t for t in own if t.name.lower() == dim[0].split(".")[-1].lower()), None)
    if src is None:
        return None
    col = exp.column(dim[1], table=src.alias_or_name if len(own) > 1 or src.alias else None)
    old = count.sql()
    count.set("this", exp.Distinct(expressions=[col]))
    return f"{old} -> {count.sql()}: the question counts distinct {dim[1]}"
