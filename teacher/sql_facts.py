"""What the validator learns about a SQL string without running it, and a worker process for it.

    from teacher.sql_facts import FactsPool, sql_facts
    facts = sql_facts("SELECT count(*) FROM shop.users", schema, "duckdb")
    with FactsPool(schema, "duckdb") as pool:
        pool.submit(sqls)             # analysed in another process, in the background
        facts = pool.take(sqls[0])    # that process's answer (None: compute it here)

The facts (parse, names resolved by sqlglot's qualify, the read-only rule, the determinism
rules that need no execution, difficulty, masked template, literals) are pure Python under the
GIL: on a machine with more than one core, the teacher hands the SQL of each round's template
instances to one worker process and validates with its answers, while the main process runs
DuckDB and phrases questions. The same function computes them either way, so the pairs do not
depend on where it ran.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import types
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType

from sqlglot import exp

from schemadistill.sandbox.executor import QUERY_ROOTS, not_a_query
from schemadistill.schema.model import Schema
from schemadistill.sqlcheck import SQLParseError, check_names, difficulty, masked_template, parse_sql

# Functions whose value changes from run to run even on the same data.
VOLATILE = {"random", "rand", "uuid", "gen_random_uuid", "uuidv4", "uuidv7", "setseed", "nextval"}
# Aggregates whose value depends on the order rows arrive in.
ORDER_SENSITIVE = {"first", "last", "any_value", "arbitrary", "arg_max", "arg_min", "max_by", "min_by",
                   "array_agg", "list", "string_agg", "group_concat", "listagg", "first_value", "last_value"}


@dataclass
class SqlFacts:
    """The static part of teacher.validate's checks; the first failing one is set, the rest empty."""

    parse_error: str | None = None
    names_error: str | None = None  # unknown or ambiguous names (sqlcheck.check_names)
    read_only_error: str | None = None  # the sandbox's own rule (executor.not_a_query)
    tables: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    volatile: str | None = None  # "uses random(), ..."
    limit_without_order: bool = False  # in any SELECT
    may_vary: bool = False  # worth a second run: windows, order-sensitive aggregates, sampling
    difficulty: int = 1
    template: str = ""
    literals: tuple[str, ...] = ()


def sql_facts(sql: str, schema: Schema, dialect: str, tree: exp.Expr | None = None) -> SqlFacts:
    """The facts of ``sql``; ``tree`` is its parse when the caller has it (read, never changed)."""
    facts = SqlFacts()
    if tree is None:
        try:
            tree = parse_sql(sql, dialect)
        except SQLParseError as e:
            facts.parse_error = str(e)
            return facts
    try:
        names = check_names(tree, schema, dialect)
    except Exception as e:  # qualify can trip over statements it does not model
        facts.names_error = f"could not resolve names: {e}"
        return facts
    if not names.ok:
        facts.names_error = "; ".join(names.unknown)
        return facts
    facts.tables, facts.columns = sorted(names.tables), sorted(names.columns)
    facts.read_only_error = not_a_query([tree])
    if facts.read_only_error:
        return facts
    nodes = list(tree.walk())  # one walk serves every check below (each find_all is a walk)
    funcs: list[exp.Func] = [n for n in nodes if isinstance(n, exp.Func)]
    for fn in funcs:
        name = (fn.name if isinstance(fn, exp.Anonymous) else fn.sql_name()).lower()
        if name in VOLATILE or isinstance(fn, (exp.Rand, exp.Uuid)):
            facts.volatile = f"uses {name}(), which changes between runs"
            break
    facts.limit_without_order = any(isinstance(n, QUERY_ROOTS) and n.args.get("limit") is not None
                                    and n.args.get("order") is None for n in nodes)
    facts.may_vary = _may_vary(nodes, funcs)
    facts.difficulty = difficulty(tree, nodes=nodes)
    facts.template = masked_template(tree)
    facts.literals = tuple(sorted(n.sql(copy=False) for n in nodes if isinstance(n, exp.Literal | exp.Boolean)))
    return facts


def _may_vary(nodes: list[exp.Expr], funcs: list[exp.Func]) -> bool:
    """Whether a second run could return something else on the same read-only data.

    A query made only of deterministic operators returns the same rows on every run of the
    sandbox, and unordered results are compared as multisets, so the second run is spent only
    where execution order can leak into the result: windows, order-sensitive aggregates
    (first, string_agg, arg_max, ...), sampling, and functions sqlglot does not know.
    """
    if any(isinstance(n, exp.Window | exp.TableSample) for n in nodes):
        return True
    return any(isinstance(fn, exp.Anonymous) or fn.sql_name().lower() in ORDER_SENSITIVE for fn in funcs)


# -- the worker process ----------------------------------------------------------------------

_WORKER: tuple[Schema, str] | None = None


def _start_worker(schema: Schema, dialect: str) -> None:
    global _WORKER
    _WORKER = (schema, dialect)
    # masking literals makes sqlglot warn ("LIST_SORT only takes literal orders"); the teacher
    # mutes that in its own process, and this one writes to the same terminal
    logging.getLogger("sqlglot").setLevel(logging.ERROR)


def _facts_of(sqls: list[str]) -> list[SqlFacts]:
    assert _WORKER is not None
    schema, dialect = _WORKER
    return [sql_facts(s, schema, dialect) for s in sqls]


class FactsPool:
    """One worker process computing :func:`sql_facts` ahead of the validator.

    Started by ``spawn``: the teacher holds DuckDB and watchdog threads, and forking a process
    with threads can copy a lock some thread holds; ``forkserver`` would leave its server
    process behind for the rest of the pipeline. Spawn imports the caller's ``__main__``
    script again, which runs a script without
    an ``if __name__ == "__main__"`` guard a second time (a user's ``generate(...)`` call would
    start the teacher inside the worker): the worker needs nothing from that script, so it is
    started while ``__main__`` is a blank module. If the worker cannot start or dies, the
    validator computes the facts itself.
    """

    CHUNK = 64  # SQL strings a task: fewer round trips, and the first answers come back early

    def __init__(self, schema: Schema, dialect: str) -> None:
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                                         initargs=(schema, dialect))
        self._pending: dict[str, tuple[Future[list[SqlFacts]], int]] = {}
        self.broken = False
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            self._submit([])  # starts the process now, while the families run
        finally:
            sys.modules["__main__"] = main

    def _submit(self, part: list[str]) -> Future[list[SqlFacts]] | None:
        if self.broken:
            return None
        try:
            return self._pool.submit(_facts_of, part)
        except Exception:  # BrokenProcessPool, or a platform that cannot start it
            self.broken = True
            return None

    def submit(self, sqls: Iterable[str]) -> None:
        """Analyse these SQL strings in the worker (ones already submitted are skipped)."""
        new = [s for s in dict.fromkeys(sqls) if s not in self._pending]
        for i in range(0, len(new), self.CHUNK):
            part = new[i:i + self.CHUNK]
            fut = self._submit(part)
            if fut is None:
                return
            for j, s in enumerate(part):
                self._pending[s] = (fut, j)

    def take(self, sql: str) -> SqlFacts | None:
        """The worker's facts of ``sql`` (waits for them), or None when it was not submitted or
        the worker failed: the caller computes them itself."""
        got = self._pending.pop(sql, None)
        if got is None:
            return None
        fut, j = got
        try:
            return fut.result()[j]
        except Exception:  # a worker that died or could not pickle its answer: nothing is lost
            return None

    def close(self) -> None:
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> FactsPool:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
