"""Validation of teacher candidates: every kept pair parses, names real things, runs, and is stable.

    from teacher.validate import Validator, Collector
    validator = Validator(schema, executor, dialect=schema.dialect, cfg=TeacherConfig())
    collector = Collector(validator)
    result = collector.add(validator.check(candidate))   # -> Pair (kept) or Reject (dropped)

``Validator.check`` looks at one candidate and stops at the first failure, in this order (the
reject reason codes are stable; reports and tests key on them):

    parse_error      the SQL does not parse in the target dialect (sqlglot's message)
    unknown_name     unknown table/column or an ambiguous column (sqlcheck.check_names)
    not_read_only    anything but one read-only query (or the sandbox refused it)
    exec_error       the sandbox raised; detail is the DuckDB class and message verbatim
    degenerate_rate  a rate whose own condition also filters its rows (100% by construction:
                     schemadistill/rates.py); checked before running
    timeout          the statement ran past the executor's time limit
    empty_result     zero rows, or a single row whose values are all NULL; also a single row of
                     zeros/false (a filter that matches nothing looks like "0"), except for
                     families that declare ``allow_zero`` and for the user's own examples
    too_many_rows    more rows than ``cfg.row_cap``
    nondeterministic a volatile function (random(), uuid()), a LIMIT without ORDER BY (in any
                     SELECT), ties at the LIMIT cut of the outer query, or two runs that differ
                     (run twice only where execution order can matter, see ``sql_facts._may_vary``)
    empty_question   the question is blank
    repair_not_broken / repair_error_mismatch / repair_no_error
                     repair candidates only: ``broken_sql`` must really fail with exactly the
                     recorded error text, or (a "runs but wrong" repair) run and give a
                     different result than ``sql``

Many phrasings share one SQL, so everything about a SQL string (parse, names, difficulty,
execution, the determinism checks) is computed once and cached; only the question is
checked per candidate. ``Collector`` then removes duplicates across candidates; its rules are
in its docstring.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from schemadistill.config import TeacherConfig
from schemadistill.rates import self_filtering
from schemadistill.sandbox import ExecResult, Executor
from schemadistill.sandbox.executor import QUERY_ROOTS
from schemadistill.schema.model import Schema
from schemadistill.sqlcheck import SQLParseError, masked_template, parse_sql
from teacher.pair import Candidate, Pair, Reject, stable_id
from teacher.sql_facts import FactsPool, SqlFacts, sql_facts


@dataclass
class SqlInfo:
    """Everything the validator learns about one SQL string (shared by all its phrasings)."""

    sql: str
    reason: str | None = None  # reject reason, None when the SQL is good
    detail: str = ""
    tables: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    difficulty: int = 1
    template: str = ""  # sqlcheck.masked_template
    literals: tuple[str, ...] = ()  # the literal values the mask hides, sorted
    result: ExecResult | None = None
    result_hash: str = ""
    zero_only: bool = False  # one row of 0 / false: rejected unless the family allows it
    tree: exp.Expr | None = None  # the parsed SQL (make_repairs mutates copies of it)


TIMEOUT_RETRY_FACTOR = 5.0
TIMEOUT_RETRY_MAX_S = 20.0


@dataclass
class ValidatorStats:
    candidates: int = 0
    sql_infos: int = 0  # distinct SQL strings analysed
    sql_cache_hits: int = 0
    executions: int = 0  # statements sent to the sandbox
    second_runs: int = 0  # determinism re-runs (queries where execution order could matter)
    exec_cache_hits: int = 0
    timeout_retries: int = 0  # statements run again with a longer limit after a timeout


def _family_spec(family: str) -> Any:
    try:
        from teacher.families import FAMILIES
    except ImportError:  # the families module is optional for validating hand-made candidates
        return None
    return FAMILIES.get(family)


def default_phase(family: str, kind: str = "generate") -> int:
    """The family's phase from the families table; repairs are phase 3, anything unknown 2."""
    if kind == "repair" or family.startswith("repair"):
        return 3
    spec = _family_spec(family)
    return int(spec.phase) if spec is not None else 2


def allows_zero(family: str) -> bool:
    spec = _family_spec(family)
    return bool(getattr(spec, "allow_zero", False))


def normalise_value(v: Any) -> Any:
    """A comparable form of one result cell: floats to 10 significant digits, so 0.1+0.2 equals
    0.3 and a sum of a million doubles equals itself when DuckDB's threads add it up in another
    order (rounding to 6 decimals left such sums differing in their last places: false
    "nondeterministic" rejects whenever the sandbox ran on more than one thread)."""
    if isinstance(v, float):
        return float(f"{v:.10g}") if v == v else "NaN"
    if isinstance(v, (list, tuple)):
        return tuple(normalise_value(x) for x in v)
    return v


def result_key(res: ExecResult, ordered: bool) -> tuple[Any, ...]:
    """Rows in comparable form; unordered results compare as multisets."""
    rows = [tuple(normalise_value(v) for v in r) for r in res.rows]
    if not ordered:
        rows.sort(key=repr)
    return (len(res.columns), res.truncated, tuple(rows))


def hash_result(res: ExecResult, ordered: bool) -> str:
    return hashlib.sha1(repr(result_key(res, ordered)).encode()).hexdigest()[:16]


def is_ordered(tree: exp.Expr) -> bool:
    """True when the outer query fixes its row order (so results compare as lists)."""
    return tree.args.get("order") is not None


def empty_question(question: str) -> bool:
    return not re.sub(r"[\W_]+", "", question or "")


class CachedExecutor:
    """An Executor whose ``run`` remembers results by (SQL, dialect); everything else passes through.

    The families execute every instance once to check it, the validator runs the same SQL
    again, and repairs run their broken SQL before the validator does: with one shared cache
    each distinct statement reaches DuckDB once. ``run_uncached`` is for the validator's
    second, deliberate run (the determinism check).
    """

    def __init__(self, executor: Executor, max_rows: int = 200) -> None:
        self.inner, self.max_rows = executor, max_rows
        self._cache: dict[tuple[str, str], ExecResult] = {}
        self._counts = [0]  # hits, shared with the twins of other threads

    @property
    def hits(self) -> int:
        return self._counts[0]

    def sharing(self, inner: Executor) -> CachedExecutor:
        """A twin over ``inner`` (another thread's connection) that shares this cache."""
        twin = CachedExecutor(inner, self.max_rows)
        twin._cache, twin._counts = self._cache, self._counts
        return twin

    def run(self, sql: str, dialect: str = "duckdb", tree: exp.Expr | None = None) -> ExecResult:
        key = (sql, dialect)
        hit = self._cache.get(key)
        if hit is not None:
            self._counts[0] += 1
            return hit
        res = self.inner.run(sql, dialect, tree)
        if len(res.rows) <= self.max_rows:  # big results are rare and cheap to recompute
            self._cache[key] = res
        return res

    def run_uncached(self, sql: str, dialect: str = "duckdb", tree: exp.Expr | None = None) -> ExecResult:
        return self.inner.run(sql, dialect, tree)

    def tree_of(self, sql: str, dialect: str = "duckdb") -> exp.Expr | None:
        """The parse a cached run of ``sql`` was checked on (the families run every instance
        before the validator sees it: one parse serves both)."""
        hit = self._cache.get((sql, dialect))
        return hit.tree if hit is not None else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Validator:
    """Check candidates one at a time against the schema and the sandbox (no dedup here)."""

    def __init__(self, schema: Schema, executor: Executor, dialect: str, cfg: TeacherConfig) -> None:
        self.schema, self.executor, self.dialect, self.cfg = schema, executor, dialect, cfg
        self.stats = ValidatorStats()
        self._sql: dict[str, SqlInfo] = {}
        self._exec: dict[str, ExecResult] = {}
        self.facts_pool: FactsPool | None = None  # a worker computing the static checks ahead

    # -- public -------------------------------------------------------------------------
    def check(self, cand: Candidate) -> Pair | Reject:
        self.stats.candidates += 1
        info = self.sql_info(cand.sql)
        if info.reason is not None:
            return self._reject(cand, info.reason, info.detail)
        if info.zero_only and cand.kind == "generate" and cand.source != "examples" \
                and not allows_zero(cand.family):
            return self._reject(cand, "empty_result", "a single row of zeros: the filter matches nothing")
        if empty_question(cand.question):
            return self._reject(cand, "empty_question", "the question is blank")
        if cand.kind == "repair":
            why = self._check_repair(cand, info)
            if why is not None:
                return self._reject(cand, *why)
        # Repairs share question and SQL with their source pair; the broken SQL tells them apart.
        pid = (stable_id(cand.question, cand.sql, cand.broken_sql or "") if cand.kind == "repair"
               else stable_id(cand.question, cand.sql))
        return Pair(
            id=pid, question=cand.question.strip(), sql=cand.sql, dialect=self.dialect,
            family=cand.family, phase=cand.phase or default_phase(cand.family, cand.kind),
            difficulty=info.difficulty, kind=cand.kind, source=cand.source, instance=cand.instance,
            broken_sql=cand.broken_sql, error=cand.error, tables=list(info.tables),
            columns=list(info.columns),
        )

    def run(self, sql: str, tree: exp.Expr | None = None) -> ExecResult:
        """Execute once per distinct SQL text (the cache many phrasings and repairs share)."""
        hit = self._exec.get(sql)
        if hit is not None:
            self.stats.exec_cache_hits += 1
            return hit
        self.stats.executions += 1
        res = self.executor.run(sql, self.dialect, tree)
        if not res.ok and res.error is not None and res.error.kind == "timeout":
            res = self._rerun_slow(sql, res, tree)
        self._exec[sql] = res
        return res

    def _rerun_slow(self, sql: str, first: ExecResult, tree: exp.Expr | None) -> ExecResult:
        """A timeout once more with ``TIMEOUT_RETRY_FACTOR`` times the limit: on a loaded machine
        ordinary pairs over a big real table ran past the 2 s limit and were thrown away, while
        a query that is really too slow for the sandbox still fails."""
        inner = getattr(self.executor, "inner", self.executor)  # past the shared cache
        old = getattr(inner, "timeout_s", None)
        if not old:
            return first
        self.stats.timeout_retries += 1
        inner.timeout_s = min(old * TIMEOUT_RETRY_FACTOR, max(old, TIMEOUT_RETRY_MAX_S))
        try:
            return inner.run(sql, self.dialect, tree)
        finally:
            inner.timeout_s = old

    def sql_info(self, sql: str) -> SqlInfo:
        info = self._sql.get(sql)
        if info is not None:
            self.stats.sql_cache_hits += 1
            return info
        self.stats.sql_infos += 1
        info = self._analyse(sql)
        self._sql[sql] = info
        return info

    # -- per SQL ------------------------------------------------------------------------
    def _analyse(self, sql: str) -> SqlInfo:
        info = SqlInfo(sql=sql)
        tree_of = getattr(self.executor, "tree_of", None)
        tree = tree_of(sql, self.dialect) if tree_of is not None else None
        facts = self.facts_pool.take(sql) if self.facts_pool is not None else None
        if facts is None:
            facts = sql_facts(sql, self.schema, self.dialect, tree)
        if facts.parse_error is not None:
            return _fail(info, "parse_error", facts.parse_error)
        if facts.names_error is not None:
            return _fail(info, "unknown_name", facts.names_error)
        info.tables, info.columns = facts.tables, facts.columns
        if facts.read_only_error:
            return _fail(info, "not_read_only", facts.read_only_error)
        if tree is None:
            tree = parse_sql(sql, self.dialect)  # it parsed in sql_facts: no error here
        degenerate = self_filtering(tree)
        if degenerate:
            return _fail(info, "degenerate_rate", f"the rate counts {degenerate[0][1].sql()} and the WHERE keeps "
                                                  "only those rows: 100% by construction")
        res = self.run(sql, tree)
        if not res.ok:
            err = res.error
            assert err is not None
            if err.kind == "timeout":
                return _fail(info, "timeout", f"{err.type}: {err.message}")
            if err.kind == "refused":
                return _fail(info, "not_read_only", err.message)
            return _fail(info, "exec_error", f"{err.type}: {err.message}")
        if not res.rows or (len(res.rows) == 1 and all(v is None for v in res.rows[0])):
            return _fail(info, "empty_result", "no rows" if not res.rows else "one row of NULLs")
        if res.truncated or len(res.rows) > self.cfg.row_cap:
            return _fail(info, "too_many_rows", f"more than {self.cfg.row_cap} rows")
        why = self._nondeterministic(sql, tree, res, facts)
        if why:
            return _fail(info, "nondeterministic", why)
        info.result, info.tree = res, tree
        info.zero_only = len(res.rows) == 1 and all(v in (0, False, None) for v in res.rows[0])
        info.result_hash = hash_result(res, is_ordered(tree))
        info.difficulty, info.template, info.literals = facts.difficulty, facts.template, facts.literals
        return info

    def _nondeterministic(self, sql: str, tree: exp.Expr, res: ExecResult, facts: SqlFacts) -> str | None:
        if facts.volatile:
            return facts.volatile
        if facts.limit_without_order:
            return "LIMIT without ORDER BY returns an arbitrary subset"
        if facts.may_vary:
            # Run a second time, bypassing the cache: a changed result means the query is unstable.
            again = getattr(self.executor, "run_uncached", self.executor.run)(sql, self.dialect, tree)
            self.stats.executions += 1
            self.stats.second_runs += 1
            ordered = is_ordered(tree)
            if not again.ok or result_key(again, ordered) != result_key(res, ordered):
                return "two runs of the query gave different results"
        return self._tie_at_cut(tree)

    def _tie_at_cut(self, tree: exp.Expr) -> str | None:
        """ORDER BY ... LIMIT k: the k-th and (k+1)-th rows must differ in their order keys.

        Otherwise which rows make the cut is arbitrary. Only the outer query is checked: its
        order keys are fetched by position (an ORDER BY alias, ordinal or projected expression)
        or, for a plain SELECT, by projecting the key expressions as extra columns.
        """
        limit = tree.args.get("limit")
        order = tree.args.get("order")
        if limit is None or order is None or self._total_order(tree):
            return None
        k = _int_literal(limit.expression if isinstance(limit, exp.Limit) else None)
        if k is None:
            return None
        offset_node = tree.args.get("offset")
        offset = _int_literal(offset_node.expression) if offset_node is not None else 0
        if offset is None:
            return None
        probe = tree.copy()
        keys = [o.this for o in probe.args["order"].expressions]
        positions = key_positions(probe, keys)
        if positions is None:
            if not isinstance(probe, exp.Select) or probe.args.get("distinct") is not None:
                return None  # cannot see the keys without changing the query's meaning
            width = len(probe.expressions)
            positions = []
            for i, key in enumerate(keys):
                probe.select(exp.alias_(key.copy(), f"__sd_key{i}"), copy=False)
                positions.append(width + i)
        probe.set("limit", exp.Limit(expression=exp.Literal.number(k + 1)))
        res = self.run(probe.sql(self.dialect, copy=False))
        if not res.ok or len(res.rows) <= k:
            return None  # nothing beyond the cut, or the probe itself failed: no tie to see
        a, b = res.rows[k - 1], res.rows[k]
        if all(normalise_value(a[p]) == normalise_value(b[p]) for p in positions):
            return f"ORDER BY ... LIMIT {k} cuts through a tie: rows {k} and {k + 1} share their order keys"
        return None

    def _total_order(self, tree: exp.Expr) -> bool:
        """True when the ORDER BY provably has no ties, so the probe query can be skipped.

        A grouped SELECT ordered by all of its GROUP BY keys, or a single-table SELECT (no join,
        GROUP BY or DISTINCT) ordered by its table's one-column primary key.
        """
        if not isinstance(tree, exp.Select) or tree.args.get("distinct") is not None:
            return False
        keys = {_bare(o.this) for o in tree.args["order"].expressions}
        by_alias = {p.alias.lower(): _bare(p.this) for p in tree.expressions if isinstance(p, exp.Alias)}
        keys |= {by_alias[k] for k in keys if k in by_alias}
        group = tree.args.get("group")
        if group is not None:
            return bool(group.expressions) and all(_bare(g) in keys for g in group.expressions)
        tables = list(tree.find_all(exp.Table))
        if tree.args.get("joins") or len(tables) != 1 or tree.find(exp.AggFunc) is not None:
            return False
        t = tables[0]
        model = self.schema.table(f"{t.db}.{t.name}" if t.db else t.name)
        return model is not None and len(model.primary_key) == 1 and model.primary_key[0].lower() in keys

    # -- repairs ------------------------------------------------------------------------
    def _check_repair(self, cand: Candidate, info: SqlInfo) -> tuple[str, str] | None:
        if not cand.broken_sql or not cand.error:
            return "repair_no_error", "a repair needs broken_sql and error"
        broken = self.run(cand.broken_sql)
        if not broken.ok:
            assert broken.error is not None
            if broken.error.kind in ("refused", "timeout"):
                return "repair_error_mismatch", f"broken SQL was {broken.error.kind}: {broken.error.message}"
            if broken.error.message != cand.error:
                return "repair_error_mismatch", f"the sandbox says: {broken.error.message}"
            return None
        # A "runs but wrong" repair: the broken SQL must give a different answer.
        assert info.result is not None
        ordered = is_ordered(parse_sql(cand.sql, self.dialect))
        if result_key(broken, ordered) == result_key(info.result, ordered):
            return "repair_not_broken", "broken_sql runs and returns the same result as sql"
        return None

    def _reject(self, cand: Candidate, reason: str, detail: str) -> Reject:
        return Reject(question=cand.question, sql=cand.sql, family=cand.family, source=cand.source,
                      reason=reason, detail=detail)


def _fail(info: SqlInfo, reason: str, detail: str) -> SqlInfo:
    info.reason, info.detail = reason, detail
    return info


def _bare(node: exp.Expr) -> str:
    """A key expression without table qualifiers, lower-cased, for comparing ORDER/GROUP BY keys."""
    node = node.copy()
    for col in node.find_all(exp.Column):
        col.set("table", None)
    return node.sql().lower()


def _int_literal(node: exp.Expr | None) -> int | None:
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(node.this)
        except ValueError:
            return None
    return None


def key_positions(tree: exp.Expr, keys: list[exp.Expr]) -> list[int] | None:
    """Output column index of each ORDER BY key, or None when one is not an output column."""
    projections = tree.selects if isinstance(tree, QUERY_ROOTS) else []
    if not projections:
        return None
    by_alias = {p.alias_or_name.lower(): i for i, p in enumerate(projections) if p.alias_or_name}
    by_sql = {(p.this if isinstance(p, exp.Alias) else p).sql().lower(): i for i, p in enumerate(projections)}
    out: list[int] = []
    for key in keys:
        lit = _int_literal(key)
        if lit is not None and 1 <= lit <= len(projections):
            out.append(lit - 1)
        elif key.sql().lower() in by_sql:
            out.append(by_sql[key.sql().lower()])
        elif isinstance(key, exp.Column) and not key.table and key.name.lower() in by_alias:
            out.append(by_alias[key.name.lower()])
        else:
            return None
    return out


# -- dedup ----------------------------------------------------------------------------------

_PUNCT = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")


def normalise_question(q: str) -> str:
    """Lowercase, punctuation stripped, whitespace collapsed: the question dedup key."""
    return _SPACE.sub(" ", _PUNCT.sub("", q.lower())).strip()


class Collector:
    """Dedup and conflicts across all candidates of a run; keeps the first of each.

    Rules (checked in this order; generate pairs and repair pairs are deduplicated separately,
    since a repair pair deliberately repeats its source pair's question and SQL):

    1. Same normalised question already kept (lowercase, punctuation stripped, whitespace
       collapsed) -> ``duplicate_question`` when the two SQLs are the same query (same masked
       template and same result), else ``conflict`` (the first is kept; the detail names both
       SQLs). For repairs the key is (question, broken SQL), reason ``duplicate_question``.
    2. ``duplicate_sql``: the first *instance* to produce a query owns it. A query is its
       masked template (aliases, qualifiers and formatting ignored) plus its literal values
       plus its result, i.e. the same query up to spelling. Every phrasing and paraphrase of the
       owning instance is kept (they are distinct training examples of one query), but another
       instance that renders the same query (two families, or one family sampling the same
       slots twice) is dropped, so one query is not over-weighted in training. Literal values
       are part of the key because the masked template alone would merge ``country = 'US'``
       with ``country = 'UK'`` whenever their counts happen to coincide.
       The user's own example pairs (source "examples") are exempt: they are always kept.
    """

    def __init__(self, validator: Validator | None = None) -> None:
        self.validator = validator
        self.kept: list[Pair] = []
        self.rejects: list[Reject] = []
        self._questions: dict[str, Pair] = {}
        self._repairs: set[tuple[str, str]] = set()
        self._owner: dict[tuple[str, tuple[str, ...], str], str] = {}

    def add(self, result: Pair | Reject) -> Pair | Reject:
        if isinstance(result, Reject):
            self.rejects.append(result)
            return result
        pair = result
        q = normalise_question(pair.question)
        if pair.kind == "repair":
            key = (q, _SPACE.sub(" ", (pair.broken_sql or "").strip()))
            if key in self._repairs:
                return self._drop(pair, "duplicate_question", "the same repair example is already kept")
            self._repairs.add(key)
            self.kept.append(pair)
            return pair
        qkey = self._query_key(pair.sql)
        first = self._questions.get(q)
        if first is not None:
            if first.sql == pair.sql or self._query_key(first.sql)[::2] == qkey[::2]:
                return self._drop(pair, "duplicate_question", f"same question as pair {first.id}")
            return self._drop(pair, "conflict",
                              f"question already kept with different SQL.\nkept: {first.sql}\nthis: {pair.sql}")
        if pair.source != "examples":
            owner = self._owner.setdefault(qkey, pair.instance)
            if owner != pair.instance:
                return self._drop(pair, "duplicate_sql", f"the same query is already kept for instance {owner}")
        self._questions[q] = pair
        self.kept.append(pair)
        return pair

    def _query_key(self, sql: str) -> tuple[str, tuple[str, ...], str]:
        if self.validator is not None:
            info = self.validator.sql_info(sql)
            if info.reason is None:
                return info.template, info.literals, info.result_hash
        try:  # without a validator (tests, re-reads) the text is the best key there is
            return masked_template(sql), (), sql
        except SQLParseError:
            return sql, (), sql

    def _drop(self, pair: Pair, reason: str, detail: str) -> Reject:
        rej = Reject(question=pair.question, sql=pair.sql, family=pair.family, source=pair.source,
                     reason=reason, detail=detail)
        self.rejects.append(rej)
        return rej
