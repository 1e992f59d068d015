"""Building blocks the families compose: a query under construction, filters, aggregates.

A :class:`Query` holds FROM/JOIN/WHERE of one query: a base table, the tables joined along
foreign keys, and :class:`Filter` objects (each has its SQL condition and several ways to say
it). :class:`Agg` is an aggregate with its phrases. Templates print ``q.from_sql``,
``q.where()``, ``q.filter_text``, ``agg.sql``, ``agg.text``; the family's bind code decides
what goes in. Every phrase is re-picked per phrasing (``reword``), so one template instance
yields differently worded questions for the same SQL.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from typing import Any

import sqlglot
from sqlglot import exp

from schemadistill.ages import is_age_column
from schemadistill.schema.model import NUMERIC_TYPES
from teacher.slots import ColumnInfo, CRef, SchemaView, Slot, Step, TableInfo, TRef, V, Words, nice_number

Phrase = Callable[[], str]


def weighted(rng: random.Random, items: Sequence[Any], weights: Sequence[float]) -> Any:
    return rng.choices(list(items), weights=list(weights), k=1)[0]


def add_months(d: dt.date, n: int) -> dt.date:
    m = d.month - 1 + n
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


class Filter(Slot):
    """One WHERE condition: ``sql``, and phrases in two styles.

    ``pred`` phrases follow "where" ("the os is Android"), ``mod`` phrases follow "with"
    ("os Android"); time filters have one style, a trailing modifier ("in December 2024").
    ``adj`` phrases (flags on the base table) may instead go before the noun: "fraudulent
    sessions"; :class:`Query` decides per phrasing and prints each filter exactly once.
    """

    def __init__(self, sql: Phrase, pred: Sequence[Phrase], mod: Sequence[Phrase] = (), *, time: bool = False,
                 parts: Sequence[Slot] = (), features: Sequence[str] = (), col: CRef | None = None,
                 adj: Sequence[Phrase] = ()) -> None:
        # SQL is built lazily: a join added later gives the tables aliases, and every column
        # reference must then be qualified.
        self._sql, self.time, self.col = sql, time, col
        self._pred, self._mod, self._adj = list(pred), list(mod or pred), list(adj)
        self.parts, self.features = list(parts), tuple(features)
        self.pred = self.mod = self.adj = ""
        self.reword(random.Random(0))

    def reword(self, rng: random.Random) -> None:
        for p in self.parts:
            p.reword(rng)
        self.pred = rng.choice(self._pred)()
        self.mod = rng.choice(self._mod)()
        self.adj = rng.choice(self._adj)() if self._adj else ""

    @property
    def sql(self) -> str:
        return self._sql()

    @property
    def text(self) -> str:
        return self.pred

    def canon(self) -> str:
        return self.sql

    def values(self) -> list[V]:
        return [v for p in self.parts for v in p.values()]


class Agg(Slot):
    """An aggregate expression with an output alias and noun phrases ("the total revenue")."""

    def __init__(self, sql: Phrase, alias: str, phrases: Sequence[Phrase], parts: Sequence[Slot] = (),
                 fn: str = "") -> None:
        self._sql, self.alias, self.fn = sql, alias, fn
        self._phrases, self.parts = list(phrases), list(parts)
        self._pick = 0
        self.reword(random.Random(0))

    def reword(self, rng: random.Random) -> None:
        for p in self.parts:
            p.reword(rng)
        self._pick = rng.randrange(len(self._phrases))

    @property
    def text(self) -> str:
        """The chosen phrase, built when printed (a count's noun may take the query's adjectives)."""
        return self._phrases[self._pick]()

    def of(self, q: Query) -> str:
        """" of <noun>" after a measure's phrase; "" for counts, whose phrase names the rows."""
        return "" if self.fn in ("count", "metric") else f" of {q.noun}"

    @property
    def sql(self) -> str:
        return self._sql()

    def canon(self) -> str:
        return self.sql

    def values(self) -> list[V]:
        return [v for p in self.parts for v in p.values()]


# Real analytics questions stack conditions ("active users from Canada on Safari in October
# 2024"): in the seed evaluation set (the count of conditions only, never its wording) a third
# of the gold queries had three or more, the families' own draws gave 15% of phase-2 pairs, and
# a student trained on them dropped the third condition.
EXTRA_FILTER_P = 0.35


class Query(Slot):
    """FROM + JOINs + WHERE of one query; tables get aliases as soon as a join is added."""

    def __init__(self, view: SchemaView, base: TableInfo) -> None:
        self.view = view
        self.base = view.ref(base)
        self.refs: dict[str, TRef] = {base.name: self.base}
        self.joins: list[tuple[TRef, str]] = []
        self.filters: list[Filter] = []
        self.style = "where"
        self._adj: list[Filter] = []
        self._used: set[int] = set()

    # -- joins -------------------------------------------------------------------------------
    def ref(self, ti: TableInfo) -> TRef | None:
        return self.refs.get(ti.name)

    def join(self, path: Sequence[Step]) -> TRef:
        """Join along ``path`` starting at a table already in the query; returns the last table."""
        if not self.base.alias:
            self.base.alias = self.base.info.alias
        cur = self.refs[path[0].src.name]
        for step in path:
            nxt = self.refs.get(step.dst.name)
            if nxt is None:
                alias = step.dst.alias
                used = {r.alias for r in self.refs.values()}
                while alias in used:
                    alias += "2"
                nxt = self.view.ref(step.dst, alias)
                self.refs[step.dst.name] = nxt
                e = step.edge
                child, parent = (cur, nxt) if step.up else (nxt, cur)
                on = " AND ".join(f"{child.alias}.{_col(child, a).q} = {parent.alias}.{_col(parent, b).q}"
                                  for a, b in zip(e.child_cols, e.parent_cols, strict=True))
                self.joins.append((nxt, on))
            cur = nxt
        return cur

    def mark(self) -> tuple[int, int]:
        return len(self.joins), len(self.filters)

    def rollback(self, mark: tuple[int, int]) -> None:
        """Undo joins/filters added since ``mark``: an unused inner join would drop rows silently."""
        nj, nf = mark
        for r, _ in self.joins[nj:]:
            self.refs.pop(r.info.name, None)
        del self.joins[nj:]
        del self.filters[nf:]
        if not self.joins:
            self.base.alias = ""

    @property
    def from_sql(self) -> str:
        return "FROM " + " ".join([self.base.decl] + [f"JOIN {r.decl} ON {on}" for r, on in self.joins])

    def where(self, *extra: str, also: Sequence[Filter] = ()) -> str:
        conds = [f.sql for f in self.filters] + [f.sql for f in also] + [e for e in extra if e]
        return ("WHERE " + " AND ".join(conds)) if conds else ""

    @property
    def where_sql(self) -> str:
        return self.where()

    def and_where(self) -> str:
        """The conditions as `` AND a AND b`` to extend a WHERE the template writes itself."""
        return "".join(f" AND {f.sql}" for f in self.filters)

    # -- words ----------------------------------------------------------------------------
    # Each phrasing prints every filter exactly once: ``noun`` takes the flags it shows as
    # adjectives, the text properties print the rest (``_used`` is reset by ``reword``).
    def reword(self, rng: random.Random) -> None:
        for r in self.refs.values():
            r.reword(rng)
        for f in self.filters:
            f.reword(rng)
        self.style = rng.choice(["where", "where", "with", "for which"])
        self._adj = [f for f in self.filters if f.adj and rng.random() < 0.6]
        self._used = set()

    def _take(self, pred: Callable[[Filter], bool]) -> list[Filter]:
        out = [f for f in self.filters if id(f) not in self._used and pred(f)]
        self._used.update(id(f) for f in out)
        return out

    def _noun(self, word: str) -> str:
        adj = self._take(lambda f: f in self._adj)
        return " ".join([f.adj for f in adj] + [word])

    @property
    def noun(self) -> str:
        """The base table's plural, with flag filters as adjectives ("fraudulent sessions")."""
        return self._noun(self.base.words)

    @property
    def noun1(self) -> str:
        return self._noun(self.base.singular)

    @property
    def cond_text(self) -> str:
        """Non-time filters with a connector ("where the os is Android"), or ""."""
        fs = self._take(lambda f: not f.time)
        plain = [f.mod if self.style == "with" else f.pred for f in fs]
        return f"{self.style} {' and '.join(plain)}" if plain else ""

    @property
    def time_text(self) -> str:
        return " ".join(f.pred for f in self._take(lambda f: f.time))

    @property
    def filter_text(self) -> str:
        """All filters as a trailing phrase: "where the os is Android in December 2024"."""
        return " ".join(x for x in (self.cond_text, self.time_text) if x)

    @property
    def mods(self) -> str:
        """Non-time filters in "with" style without the connector: "os Android and revenue over 0"."""
        return " and ".join(f.mod for f in self._take(lambda f: not f.time))

    @property
    def preds(self) -> str:
        """Non-time filters in "where" style without the connector: "the os is Android"."""
        return " and ".join(f.pred for f in self._take(lambda f: not f.time))

    def lead(self, word: str, style: str = "mod") -> str:
        """``word`` + the remaining non-time filters ("have os Android"), or "" when none are left."""
        fs = self._take(lambda f: not f.time)
        if not fs:
            return ""
        return f"{word} " + " and ".join(f.mod if style == "mod" else f.pred for f in fs)

    def rest(self, first: Filter) -> str:
        """The filters other than ``first`` as a trailing phrase (a template names ``first`` itself)."""
        self._take(lambda f: f is first)
        return self.filter_text

    def canon(self) -> dict[str, Any]:
        return {"from": self.base.canon(), "joins": [r.canon() for r, _ in self.joins],
                "where": [f.sql for f in self.filters]}

    def values(self) -> list[V]:
        return [v for f in self.filters for v in f.values()]

    @property
    def features(self) -> set[str]:
        out = {x for f in self.filters for x in f.features}
        if self.joins:
            out.add("join")
        return out

    # -- filters -------------------------------------------------------------------------------
    def has_filter_on(self, ci: ColumnInfo) -> bool:
        return any(f.col is not None and f.col.info is ci for f in self.filters)

    def add(self, f: Filter | None) -> bool:
        if f is None:
            return False
        self.filters.append(f)
        return True

    def add_filters(self, rng: random.Random, n: int, *, parents: bool = True, time: float = 0.5,
                    kinds: Sequence[str] = ("eq", "eq", "eq", "flag", "flag", "cmp", "between", "in", "neq")
                    ) -> None:
        """Up to ``n`` random filters on the base table and (maybe) tables it points to; a filtered
        query gets one more with probability ``EXTRA_FILTER_P``."""
        if n and rng.random() < EXTRA_FILTER_P:
            n += 1
        pool: list[TRef | Step] = [self.base]
        if parents:
            for p in self.view.paths(self.base.info, 1, up=True):
                pool.append(p[0])
        if time and rng.random() < time:
            mark = self.mark()
            tf = time_filter(self.view, rng, self, self._time_owner(rng))
            if tf is not None:
                self.filters.append(tf)
            else:
                self.rollback(mark)
        for _ in range(n * 3):
            if sum(not f.time for f in self.filters) >= n:
                break
            where = rng.choice(pool)
            mark = self.mark()
            if isinstance(where, Step):
                if where.dst.name not in self.refs and not where.dst.dims and not where.dst.measures:
                    continue
                t = self.join([where])
            else:
                t = where
            if not self.add(value_filter(self.view, rng, self, t, rng.choice(list(kinds)))):
                self.rollback(mark)

    def _time_owner(self, rng: random.Random) -> TRef | None:
        if self.base.info.time is not None:
            return self.base
        # Facts dated by their parent (order lines by their order): join it. Of several dated
        # parents the largest is the event (orders), not a reference row (a product's launch).
        dated = [p for p in self.view.paths(self.base.info, 1, up=True) if p[0].dst.time is not None]
        if not dated:
            return None
        return self.join(max(dated, key=lambda p: p[0].dst.rows))


# -- filters ------------------------------------------------------------------------------------

def _with(text: Callable[[str], str], word: str) -> Phrase:
    """A phrase with ``word`` bound now (a bare lambda in a loop would see the last word)."""
    return lambda: text(word)


def _col(t: TRef, name: str) -> ColumnInfo:
    ci = t.info.col(name)
    if ci is None:  # SchemaView only keeps foreign keys whose columns exist
        raise KeyError(f"{t.info.name}.{name}")
    return ci


def _owner(q: Query, t: TRef) -> str:
    return "" if t is q.base else f"{t.singular}'s "


def pick_value(rng: random.Random, ci: ColumnInfo, top: int = 6) -> Any:
    vals = ci.top[:top]
    return weighted(rng, [v for v, _ in vals], [n for _, n in vals])


def eq_filter(view: SchemaView, q: Query, t: TRef, ci: ColumnInfo, value: Any, op: str = "=") -> Filter:
    c, v = view.cref(t, ci), view.value(ci, value)
    o = _owner(q, t)
    if op == "=":
        pred = [lambda: f"the {o}{c} is {v}", lambda: f"{o}{c} is {v}", lambda: f"the {o}{c} equals {v}",
                lambda: f"{c.name} = {v.sql}"]
        mod = [lambda: f"{o}{c} {v}", lambda: f"{o}{c} equal to {v}", lambda: f"a {o}{c} of {v}"]
        feats: tuple[str, ...] = ("filter_eq",)
    else:
        pred = [lambda: f"the {o}{c} is not {v}", lambda: f"{o}{c} is other than {v}",
                lambda: f"the {o}{c} isn't {v}", lambda: f"{c.name} != {v.sql}"]
        mod = [lambda: f"{o}{c} other than {v}", lambda: f"a {o}{c} that is not {v}",
               lambda: f"{o}{c} not equal to {v}"]
        feats = ("filter_eq",)
    return Filter(lambda: f"{c.ref} {op} {v.sql}", pred, mod, parts=[c, v], features=feats, col=c)


def flag_filter(view: SchemaView, q: Query, t: TRef, ci: ColumnInfo, positive: bool) -> Filter:
    """flag = true/false; the lexicon's flag words read as adjectives ("fraudulent", "inactive")."""
    c = view.cref(t, ci)
    vals = sorted(v for v, _ in ci.top)
    v = view.value(ci, vals[-1] if positive else vals[0])
    # "the session is fraudulent": single words and "not ..."/"marked as ..." read as predicates
    state_words = [w for w in v.texts if " " not in w or w.startswith(("not ", "marked ", "flagged "))]
    words = Words(state_words or v.texts[:1])
    names = []
    for w in c.options:  # "the fraud flag is set": the column's name without is_/flag
        w = w.removeprefix("is ").removesuffix(" flag")
        if "_" not in w and not w.startswith(("not ", "non-")) and w not in names:
            names.append(w)
    name = Words(names or [ci.name])
    state = "set" if positive else "not set"
    truth = "true" if positive else "false"
    pred = [lambda: f"the {t.singular} is {words}", lambda: f"the {t.singular} is {words}",
            lambda: f"{c.name} = {v.sql}", lambda: f"the {name} flag is {state}"]
    mod = [lambda: f"the {name} flag {state}", lambda: f"{name} set to {truth}", lambda: f"{c.name} = {v.sql}"]
    adj = [lambda x=x: x for x in words.options if " " not in x] if t is q.base else []
    return Filter(lambda: f"{c.ref} = {v.sql}", pred, mod, parts=[c, words, name], features=("filter_eq",),
                  col=c, adj=adj)


def like_filter(view: SchemaView, q: Query, t: TRef, ci: ColumnInfo, frag: str, mode: str) -> Filter:
    """LIKE on a text column: contains / starts with / ends with ``frag`` (case as in the data)."""
    c, o = view.cref(t, ci), _owner(q, t)
    pattern = {"contains": f"%{frag}%", "starts": f"{frag}%", "ends": f"%{frag}"}[mode]
    v = V(frag, "'" + pattern.replace("'", "''") + "'", [frag])
    verb = {"contains": ["contains", "includes", "has"], "starts": ["starts with", "begins with"],
            "ends": ["ends with", "ends in"]}[mode]
    pred = [lambda w=w: f'the {o}{c} {w} "{v}"' for w in verb]
    noun = {"contains": "containing", "starts": "starting with", "ends": "ending with"}[mode]
    mod = [lambda: f'a {o}{c} {noun} "{v}"', lambda: f'{o}{c} {noun} "{v}"']
    return Filter(lambda: f"{c.ref} LIKE {v.sql}", pred, mod, parts=[c, v], features=("filter_like",), col=c)


def cmp_filter(view: SchemaView, q: Query, t: TRef, ci: ColumnInfo, op: str, x: Any) -> Filter:
    c, n = view.cref(t, ci), view.number(x)
    o = _owner(q, t)
    words = {">": ["above", "over", "greater than", "more than", "higher than"],
             "<": ["below", "under", "less than", "lower than"],
             ">=": ["at least", "no less than", "greater than or equal to"],
             "<=": ["at most", "no more than", "less than or equal to", "not above"]}[op]
    pred = [_with(lambda w: f"the {o}{c} is {w} {n}", w) for w in words]
    pred.append(lambda: f"{c.name} {op} {n.sql}")
    if _is_age(ci):
        pred += [_with(lambda w: f"the {t.singular} is {w}", w.format(n=n)) for w in _AGE_WORDS[op]]
    mod = [_with(lambda w: f"{o}{c} {w} {n}", w) for w in words]
    if op == ">=":
        mod.append(lambda: f"{o}{c} of {n} or more")
    if op == "<=":
        mod.append(lambda: f"{o}{c} of {n} or less")
    return Filter(lambda: f"{c.ref} {op} {n.sql}", pred, mod, parts=[c, n], features=("filter_range",), col=c)


# How people state an age: "users aged 25-35", "over 30", "30 and older". Said of the row's owner
# ("the user"), for a column whose name has the word "age" ("age", "customer_age").
_AGE_WORDS = {">": ["over {n}", "older than {n}", "over {n} years old"],
              "<": ["under {n}", "younger than {n}", "under {n} years old"],
              ">=": ["aged {n} or older", "{n} or older", "aged {n} and above"],
              "<=": ["aged {n} or younger", "{n} or younger"]}


def _is_age(ci: ColumnInfo) -> bool:
    return is_age_column(ci.name) and ci.type in NUMERIC_TYPES  # grounding reads ages by the same rule


def between_filter(view: SchemaView, q: Query, t: TRef, ci: ColumnInfo, lo: Any, hi: Any,
                   style: str = "between") -> Filter:
    c, a, b = view.cref(t, ci), view.number(lo), view.number(hi)
    o = _owner(q, t)
    pred = [lambda: f"the {o}{c} is between {a} and {b}", lambda: f"{o}{c} is from {a} to {b}",
            lambda: f"the {o}{c} lies between {a} and {b} inclusive"]
    if _is_age(ci):
        pred += [lambda: f"the {t.singular} is aged {a}-{b}", lambda: f"the {t.singular} is aged {a} to {b}",
                 lambda: f"the {t.singular} is between {a} and {b} years old"]
    mod = [lambda: f"{o}{c} between {a} and {b}", lambda: f"{o}{c} from {a} to {b}",
           lambda: f"{o}{c} in the range {a} to {b}"]
    sql = ((lambda: f"{c.ref} BETWEEN {a.sql} AND {b.sql}") if style == "between"
           else (lambda: f"{c.ref} >= {a.sql} AND {c.ref} <= {b.sql}"))
    return Filter(sql, pred, mod, parts=[c, a, b], features=("between", "filter_range"), col=c)


def in_filter(view: SchemaView, q: Query, t: TRef, ci: ColumnInfo, values: Sequence[Any]) -> Filter:
    c = view.cref(t, ci)
    vs = [view.value(ci, x) for x in values]
    o = _owner(q, t)

    def listing(last: str = "or") -> str:
        texts = [v.text for v in vs]
        return ", ".join(texts[:-1]) + f" {last} " + texts[-1]

    pred = [lambda: f"the {o}{c} is {listing()}", lambda: f"the {o}{c} is one of {listing('and')}",
            lambda: f"{o}{c} is either {listing()}" if len(vs) == 2 else f"{o}{c} is any of {listing()}"]
    mod = [lambda: f"{o}{c} {listing()}", lambda: f"{o}{c} in {listing('or')}",
           lambda: f"a {o}{c} of {listing()}"]
    sql = lambda: f"{c.ref} IN ({', '.join(v.sql for v in vs)})"  # noqa: E731
    return Filter(sql, pred, mod, parts=[c, *vs], features=("filter_in",), col=c)


def measure_threshold(rng: random.Random, ci: ColumnInfo, which: Sequence[int] = (1, 2, 3)) -> Any:
    qs = ci.quantiles
    if not qs or ci.vmin is None:
        return None
    x = qs[rng.choice([i for i in which if i < len(qs)])]
    if x is None:
        return None
    return nice_number(float(x), float(ci.vmin), float(ci.vmax))


# How often a filter on a table with named conditions (sidecar ``filters:``) is one of them: the
# users' own words for a condition ("made a purchase") are worth learning, but not at the cost
# of every other condition on that table. Measured on the seed data (same sandbox, 20-minute
# runs): 0.25 put the condition into 15% of the pairs and scored 63.5% / 22.0% / 41.1% (held-out
# same families / unseen families / real questions); 0.1 (9%) scored 66.0% / 29.0% / 41.1%.
NAMED_FILTER_P = 0.1
_PAST_VERBS = frozenset({"made", "had", "bought", "did", "got", "paid", "placed", "used", "completed"})


def named_filter(view: SchemaView, q: Query, t: TRef, nf: Any) -> Filter | None:
    """A sidecar named condition in the sidecar's words: "where the session made a purchase",
    "with a purchase"; its SQL (``revenue > 0``) with the table's alias once the query has one."""
    tree = sqlglot.parse_one(nf.sql, read=view.schema.dialect)
    cols = [c.name for c in tree.find_all(exp.Column)]
    infos = [ci for ci in t.info.columns if ci.name in cols]
    if not infos or any(q.has_filter_on(ci) for ci in infos):
        return None
    syns = nf.synonyms or [nf.name.replace("_", " ")]
    withs = [s[5:] for s in syns if s.lower().startswith("with ")]
    verbs = [s for s in syns if s.split()[0].lower() in _PAST_VERBS]
    pred: list[Phrase] = [_with(lambda w: f"the {t.singular} {w}", s) for s in verbs]
    pred += [_with(lambda w: f"there is {w}", s) for s in withs]
    mod: list[Phrase] = [_with(lambda w: w, s) for s in withs]
    if not pred:
        return None  # no synonym we can place in a sentence: the condition's words stay unknown

    def sql() -> str:
        out = tree.copy()
        if t.alias:
            for col in out.find_all(exp.Column):
                col.set("table", exp.to_identifier(t.alias))
        return out.sql(dialect=view.schema.dialect)

    return Filter(sql, pred, mod or pred, features=("filter_range",), col=view.cref(t, infos[0]))


def value_filter(view: SchemaView, rng: random.Random, q: Query, t: TRef, kind: str) -> Filter | None:
    """A random filter of ``kind`` on a column of ``t`` not filtered yet (None if none fits); now and
    then one of the table's named conditions instead (``NAMED_FILTER_P``)."""
    ti = t.info
    named = view.named_filters.get(ti.name)
    if named and rng.random() < NAMED_FILTER_P:
        f = named_filter(view, q, t, rng.choice(named))
        if f is not None:
            return f
    if kind in ("eq", "neq", "in"):
        cols = [c for c in ti.dims if c.role == "dimension" and not q.has_filter_on(c)]
        if not cols:
            kind = "flag"
        else:
            ci = rng.choice(cols)
            if kind == "in" and len(ci.top) >= 3:
                k = 2 if rng.random() < 0.7 else 3
                return in_filter(view, q, t, ci, sorted(rng.sample([v for v, _ in ci.top[:6]], k), key=str))
            return eq_filter(view, q, t, ci, pick_value(rng, ci), "<>" if kind == "neq" else "=")
    if kind == "flag":
        cols = [c for c in ti.flags if not q.has_filter_on(c)]
        if not cols:
            kind = "cmp"
        else:
            return flag_filter(view, q, t, rng.choice(cols), rng.random() < 0.7)
    cols = [c for c in ti.measures if c.quantiles and not q.has_filter_on(c)]
    if not cols:
        return None
    ci = rng.choice(cols)
    if kind == "between":
        lo, hi = measure_threshold(rng, ci, (0, 1)), measure_threshold(rng, ci, (3, 4))
        if lo is None or hi is None or not lo < hi:
            return None
        return between_filter(view, q, t, ci, lo, hi, "between" if rng.random() < 0.7 else "range")
    op = rng.choice([">", ">", "<", ">=", "<="])
    x = measure_threshold(rng, ci, (1, 2) if op.startswith(">") else (2, 3))
    if x is None:
        return None
    if op == ">" and ci.quantiles and float(ci.quantiles[0] or 0) == 0 == float(ci.vmin) and rng.random() < 0.3:
        x = 0  # "sessions with revenue > 0": the common "made a purchase" style condition
    return cmp_filter(view, q, t, ci, op, x)


# -- time ---------------------------------------------------------------------------------------

# Equivalent spellings seen in real query logs; "_cast" is CAST(DATE_TRUNC(...) AS DATE) = 'YYYY-MM-DD'.
TIME_FORMS = ("month_trunc", "month_cast", "month_range", "month_extract", "year_fn", "year_trunc", "year_cast",
              "year_range", "quarter_trunc", "quarter_cast", "quarter_range", "day", "last_days")
_TIME_WEIGHTS = (8, 4, 5, 1, 4, 3, 3, 2, 2, 2, 1, 2, 2)


# One SQL form per calendar unit (``teacher.sql_style``): the question says "in December 2024"
# and nothing about the form, so a mix of forms teaches the student a coin toss; and the range
# form makes it compute the next month (its most common date error in a measured run).
TIME_STYLES = ("trunc", "cast", "range", "extract")
_STYLED = {
    "trunc": {"month": "month_trunc", "year": "year_trunc", "quarter": "quarter_trunc"},
    "cast": {"month": "month_cast", "year": "year_cast", "quarter": "quarter_cast"},
    "range": {"month": "month_range", "year": "year_range", "quarter": "quarter_range"},
    "extract": {"month": "month_extract", "year": "year_extract", "quarter": "quarter_trunc"},
}


def styled_form(form: str, style: str | None) -> str:
    """``form`` in the run's style; ``None`` (style ``varied``) keeps it."""
    unit = form.split("_", 1)[0]
    if style is None or unit not in ("month", "year", "quarter"):
        return form
    return _STYLED[style][unit]


def _trunc_eq(unit: str, ref: str, d: dt.date, cast: bool) -> str:
    if cast:
        return f"CAST(DATE_TRUNC('{unit}', {ref}) AS DATE) = '{d.isoformat()}'"
    return f"DATE_TRUNC('{unit}', {ref}) = DATE '{d.isoformat()}'"


def _named(c: CRef, prep: str, v: V) -> list[Phrase]:
    """Time phrases that name the column ("with order date in May 2024"): a table may have several
    dates, and "in May 2024" alone does not say which one is meant."""
    return [lambda: f"with {c} {prep} {v}", lambda: f"with the {c} {prep} {v}"]


def time_filter(view: SchemaView, rng: random.Random, q: Query, t: TRef | None, form: str | None = None,
                col: ColumnInfo | None = None) -> Filter | None:
    """A calendar filter on the table's time column: a month, year, quarter, day or last N days."""
    if t is None:
        return None
    ci = col or t.info.time
    if ci is None or not ci.months:
        return None
    form = styled_form(form or weighted(rng, TIME_FORMS, _TIME_WEIGHTS), getattr(view, "time_style", None))
    c = view.cref(t, ci)
    ts = ci.is_timestamp
    if form.startswith("month"):
        m = weighted(rng, [m for m, _ in ci.months], [n for _, n in ci.months])
        v, nxt = view.date_value(m, "month"), add_months(m, 1)
        if form in ("month_trunc", "month_cast"):
            sql = lambda: _trunc_eq("month", c.ref, m, form == "month_cast")  # noqa: E731
        elif form == "month_range":
            sql = lambda: f"{c.ref} >= {v.sql} AND {c.ref} < DATE '{nxt.isoformat()}'"  # noqa: E731
        else:
            sql = lambda: f"EXTRACT(YEAR FROM {c.ref}) = {m.year} AND EXTRACT(MONTH FROM {c.ref}) = {m.month}"  # noqa: E731
        phr = [lambda: f"in {v}", lambda: f"during {v}", lambda: f"for {v}", *_named(c, "in", v)]
        return Filter(sql, phr, time=True, parts=[c, v], features=("date_trunc",) if form in ("month_trunc", "month_cast")
                      else ("date_part",) if form == "month_extract" else ("filter_range",), col=c)
    if form.startswith("year"):
        y, _ = weighted(rng, ci.years, [n for _, n in ci.years])
        v = view.date_value(dt.date(y, 1, 1), "year")
        if form == "year_fn":
            sql = ((lambda: f"EXTRACT(YEAR FROM {c.ref}) = {y}") if rng.random() < 0.5
                   else (lambda: f"YEAR({c.ref}) = {y}"))
            feats: tuple[str, ...] = ("date_part",)
        elif form == "year_extract":
            sql, feats = (lambda: f"EXTRACT(YEAR FROM {c.ref}) = {y}"), ("date_part",)
        elif form in ("year_trunc", "year_cast"):
            sql = lambda: _trunc_eq("year", c.ref, dt.date(y, 1, 1), form == "year_cast")  # noqa: E731
            feats = ("date_trunc",)
        else:
            sql, feats = (lambda: f"{c.ref} >= DATE '{y}-01-01' AND {c.ref} < DATE '{y + 1}-01-01'"), ("filter_range",)
        phr = [lambda: f"in {v}", lambda: f"during {v}", lambda: f"for {v}", *_named(c, "in", v)]
        return Filter(sql, phr, time=True, parts=[c, v], features=feats, col=c)
    if form.startswith("quarter"):
        qd, _ = weighted(rng, ci.quarters, [n for _, n in ci.quarters])
        v = view.date_value(qd, "quarter")
        if form in ("quarter_trunc", "quarter_cast"):
            sql = lambda: _trunc_eq("quarter", c.ref, qd, form == "quarter_cast")  # noqa: E731
        else:
            sql = lambda: f"{c.ref} >= {v.sql} AND {c.ref} < DATE '{add_months(qd, 3).isoformat()}'"  # noqa: E731
        phr = [lambda: f"in {v}", lambda: f"during {v}", *_named(c, "in", v)]
        return Filter(sql, phr, time=True, parts=[c, v], features=("date_trunc",), col=c)
    if form == "day":
        if not ci.days:
            return None
        d = rng.choice(ci.days[:10])[0]
        v = view.date_value(d, "day")
        sql = (lambda: f"CAST({c.ref} AS DATE) = {v.sql}") if ts else (lambda: f"{c.ref} = {v.sql}")
        return Filter(sql, [lambda: f"on {v}", lambda: f"for {v}", *_named(c, "on", v)], time=True, parts=[c, v],
                      features=("filter_eq",), col=c)
    # last N days/weeks/months of data, anchored at the reference date (never CURRENT_DATE: the
    # data is historical, so "now" would select nothing)
    ref = view.reference_date
    if ref is None:
        return None
    unit = weighted(rng, ["DAY", "WEEK", "MONTH"], [4, 1, 2])
    n = rng.choice({"DAY": [7, 14, 30, 60, 90, 180, 365], "WEEK": [2, 4, 8, 12], "MONTH": [1, 3, 6, 12]}[unit])
    rv, nv = view.date_value(ref, "day"), view.number(n)
    word = unit.lower() + ("s" if n != 1 else "")
    bounded = bool(view.data_end and ref < view.data_end)

    def window_sql() -> str:
        out = f"{c.ref} >= {rv.sql} - INTERVAL {n} {unit}"
        if bounded:
            out += f" AND {c.ref} < {rv.sql} + INTERVAL 1 DAY" if ts else f" AND {c.ref} <= {rv.sql}"
        return out

    phr = [lambda: f"in the {nv} {word} up to {rv}", lambda: f"in the last {nv} {word} before {rv}",
           lambda: f"during the {nv} {word} ending {rv}", lambda: f"in the last {nv} {word} (as of {rv})"]
    return Filter(window_sql, phr, time=True, parts=[c, rv, nv], features=("filter_range",), col=c)


# -- aggregates ----------------------------------------------------------------------------------

AGG_FNS = ("sum", "avg", "min", "max")
_AGG_SQL = {"sum": "SUM", "avg": "AVG", "min": "MIN", "max": "MAX", "median": "MEDIAN"}
_AGG_WORDS = {
    "sum": ["the total {c}", "the sum of {c}", "total {c}", "the combined {c}", "the overall {c}"],
    "avg": ["the average {c}", "the mean {c}", "average {c}", "the avg {c}"],
    "min": ["the minimum {c}", "the lowest {c}", "the smallest {c}", "min {c}"],
    "max": ["the maximum {c}", "the highest {c}", "the largest {c}", "max {c}"],
    "median": ["the median {c}", "the middle value of {c}", "the 50th percentile of {c}"],
}
_ALIAS = {"sum": "total", "avg": "avg", "min": "min", "max": "max", "median": "median"}


def measure_agg(view: SchemaView, t: TRef, ci: ColumnInfo, fn: str) -> Agg:
    c = view.cref(t, ci)
    phrases = [lambda w=w: w.format(c=c) for w in _AGG_WORDS[fn]]
    return Agg(lambda: f"{_AGG_SQL[fn]}({c.ref})", f"{_ALIAS[fn]}_{_snake(ci.name)}", phrases, parts=[c], fn=fn)


def count_agg(view: SchemaView, t: TRef, q: Query | None = None) -> Agg:
    """COUNT(*); with ``q`` the phrase uses ``q.noun`` ("the number of fraudulent sessions")."""
    def noun() -> str:
        return q.noun if q is not None else t.words

    phrases = [lambda: f"the number of {noun()}", lambda: f"the count of {noun()}",
               lambda: f"the {t.singular} count", lambda: f"the total number of {noun()}"]
    return Agg(lambda: "COUNT(*)", f"{_snake(t.info.table.name)}_count", phrases, parts=[t], fn="count")


def distinct_agg(view: SchemaView, t: TRef, ci: ColumnInfo, who: TRef | None = None) -> Agg:
    """COUNT(DISTINCT col); ``who`` is the table the column points at (users for sessions.user_id)."""
    c = view.cref(t, ci)
    if who is not None:
        phrases = [lambda: f"the number of distinct {who.words}", lambda: f"the number of unique {who.words}",
                   lambda: f"the count of different {who.words}"]
        alias = f"{_snake(who.info.table.name)}_count"
    else:
        phrases = [lambda: f"the number of distinct {c}", lambda: f"the number of different {c} values",
                   lambda: f"the count of unique {c} values"]
        alias = f"distinct_{_snake(ci.name)}"
    return Agg(lambda: f"COUNT(DISTINCT {c.ref})", alias, phrases, parts=[c, *( [who] if who else [])], fn="count_distinct")


def _snake(name: str) -> str:
    out = "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")
    return out if out and out[0].isalpha() and out.isascii() else "x"


def snake(name: str) -> str:
    return _snake(name)


# -- pickers ------------------------------------------------------------------------------------

def pick_table(view: SchemaView, rng: random.Random, pred: Callable[[TableInfo], Any]) -> TableInfo | None:
    cands = [t for t in view.tables if t.rows > 0 and pred(t)]
    return rng.choice(cands) if cands else None


def show_cols(ti: TableInfo, rng: random.Random, k: int, exclude: Sequence[ColumnInfo] = ()) -> list[ColumnInfo]:
    """Up to ``k`` columns worth showing in a listing (values people read, not keys)."""
    pool = [c for c in ti.columns if c.n_nonnull and c not in exclude and c is not ti.key
            and c.type in ("text", "integer", "float", "decimal", "date", "timestamp")
            and c.role in ("dimension", "measure", "time", "text")]
    rng.shuffle(pool)
    chosen = pool[:k]
    return sorted(chosen, key=ti.columns.index)


def label_col(ti: TableInfo) -> ColumnInfo | None:
    """The column that names a row (a name/title text column, else a dimension)."""
    texts = [c for c in ti.columns if c.type == "text" and c.role == "text" and c.n_nonnull and c.top]
    dims = [c for c in ti.dims if c.role == "dimension"]
    pool = texts or dims
    return pool[0] if pool else None


def fk_steps(view: SchemaView, child: Callable[[TableInfo], Any] | None = None,
             parent: Callable[[TableInfo], Any] | None = None) -> list[Step]:
    """child -> parent steps over single-column foreign keys with rows on both sides."""
    out = []
    for e in view.edges:
        if e.child is e.parent or len(e.child_cols) != 1 or not e.child.rows or not e.parent.rows:
            continue
        if (child is None or child(e.child)) and (parent is None or parent(e.parent)):
            out.append(Step(e, True))
    return out


def fk_col(step: Step) -> ColumnInfo:
    ci = step.edge.child.col(step.edge.child_cols[0])
    assert ci is not None
    return ci
