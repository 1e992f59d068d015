"""Run one untrusted SELECT against the sandbox and report rows or a structured error.

    from schemadistill.sandbox import Executor
    with Executor(Path("runs/x/sandbox.duckdb"), timeout_s=5) as ex:
        res = ex.run("SELECT country, count(*) FROM ecommerce.users GROUP BY 1")
        res.ok, res.columns, res.rows, res.error   # error.kind: refused/parse/catalog/binder/timeout/runtime

Generated SQL is untrusted, so there are three fences:

1. refusal before execution: exactly one statement, which sqlglot sees as a query
   (SELECT / UNION / INTERSECT / EXCEPT, maybe under WITH) and DuckDB's own parser types as
   SELECT. DDL, DML, ATTACH, COPY, PRAGMA, SET, INSTALL/LOAD, CALL, EXPORT... never run;
2. the connection: the file attached READ_ONLY, then ``enable_external_access = false`` (no
   file or network table functions, no ATTACH, no extension loading), then
   ``lock_configuration`` so SQL cannot undo that;
3. a time limit (a watchdog thread calls ``interrupt()``), a memory limit and a row cap.

DuckDB's error class and message are kept verbatim: later stages put them into repair
training examples, where the model must learn to read the real text.

Thread safety: one Executor runs one query at a time (``run`` takes a lock, so concurrent
callers queue). For parallel validation give each thread ``executor.fork()``: a cursor on the
same in-process database with its own watchdog, interruptible independently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from schemadistill.errors import UserError

ErrorKind = Literal["refused", "parse", "catalog", "binder", "timeout", "runtime"]

CATALOG = "sandbox_db"  # the alias the sandbox file is attached under
QUERY_ROOTS = (exp.Select, exp.Union, exp.Intersect, exp.Except)
_NOT_IN_QUERY = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter,
                 exp.Command, exp.Copy, exp.Set, exp.Pragma, exp.Use, exp.Describe)
_KINDS: list[tuple[type[Exception], ErrorKind]] = [
    (duckdb.ParserException, "parse"), (duckdb.CatalogException, "catalog"),
    (duckdb.BinderException, "binder"), (duckdb.InterruptException, "timeout"),
]


@dataclass
class ExecError:
    kind: ErrorKind
    type: str  # exception class, e.g. "BinderException" ("Refused" for our own refusals)
    message: str  # verbatim


@dataclass
class ExecResult:
    ok: bool
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    truncated: bool = False  # more rows than row_cap existed
    error: ExecError | None = None
    executed_sql: str = ""  # what DuckDB ran (the transpiled text when dialect != duckdb)
    transpiled_from: str | None = None
    elapsed_ms: float = 0.0
    # sqlglot's parse of the statement in its dialect (None when sqlglot could not parse it and
    # DuckDB's parser decided): the teacher validates the tree it was run from, not a second parse
    tree: Any = field(default=None, repr=False, compare=False)


class _Watchdog:
    """One long-lived thread per Executor: interrupts the connection when a deadline passes.

    A ``threading.Timer`` per query costs a thread start (~1 ms); this costs a notify.
    Interrupts only happen under the lock while a query is armed, so a late timer can never
    hit the next query.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con
        self._cv = threading.Condition()
        self._deadline: float | None = None
        self._fired = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def arm(self, timeout_s: float) -> None:
        with self._cv:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="sandbox-watchdog", daemon=True)
                self._thread.start()
            self._deadline = time.monotonic() + timeout_s
            self._fired = False
            self._cv.notify()

    def disarm(self) -> bool:
        """Stop watching; True if the deadline passed and the query was interrupted."""
        with self._cv:
            self._deadline = None
            return self._fired

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(timeout=1)

    def _loop(self) -> None:
        with self._cv:
            while not self._closed:
                if self._deadline is None:
                    self._cv.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._cv.wait(left)
                    continue
                self._con.interrupt()
                self._fired = True
                self._deadline = None


class Executor:
    """Read-only, sandboxed query runner over a sandbox DuckDB file; see the module docstring."""

    def __init__(self, db: str | Path, timeout_s: float = 5.0, row_cap: int = 1000,
                 memory_limit: str = "1GB", threads: int = 1,
                 _con: duckdb.DuckDBPyConnection | None = None):
        self.db, self.timeout_s, self.row_cap = Path(db), timeout_s, row_cap
        self.memory_limit, self.threads = memory_limit, threads
        if _con is None:
            if not self.db.is_file():
                raise UserError("sandbox database does not exist", file=self.db,
                                hint="build it first: schemadistill sandbox")
            _con = self._open()
        self._con = _con
        self._lock = threading.Lock()
        self._watchdog = _Watchdog(_con)
        self._dialects: set[str] = set()

    def _open(self) -> duckdb.DuckDBPyConnection:
        # The file is ATTACHed under a fixed alias rather than opened directly: DuckDB names a
        # catalog after the file stem, and a sandbox called ecommerce.duckdb holding schema
        # "ecommerce" would make every "ecommerce.users" ambiguous.
        config: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": self.memory_limit, "threads": self.threads,
            "autoinstall_known_extensions": False, "autoload_known_extensions": False}
        con = duckdb.connect(":memory:", config=config)
        try:
            con.execute(f"ATTACH {_literal(str(self.db))} AS {CATALOG} (READ_ONLY)")
            con.execute(f"USE {CATALOG}")
        except duckdb.Error as e:
            con.close()
            raise UserError(f"cannot open the sandbox: {e}", file=self.db,
                            hint="rebuild it: schemadistill sandbox") from None
        # only now, after the ATTACH: no more files, no extensions, and SQL cannot undo it
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con

    # -- lifecycle ----------------------------------------------------------------------
    def fork(self) -> Executor:
        """An Executor for another thread, sharing this one's database (close it when done)."""
        cur = self._con.cursor()
        cur.execute(f"USE {CATALOG}")  # the default catalog is per connection
        return Executor(self.db, self.timeout_s, self.row_cap, self.memory_limit, self.threads, _con=cur)

    def close(self) -> None:
        self._watchdog.close()
        self._con.close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- running ------------------------------------------------------------------------
    def run(self, sql: str, dialect: str = "duckdb", tree: exp.Expr | None = None) -> ExecResult:
        """Check, maybe transpile, and run ``sql``; never raises for bad SQL.

        ``tree``: the caller's sqlglot parse of ``sql`` in ``dialect`` (``sqlcheck.parse_sql``),
        which saves parsing it again; the read-only checks run on it all the same.
        """
        t0 = time.perf_counter()
        dialect = self._dialect(dialect)
        res = self._prepare(sql, dialect, tree)
        if res.error is None:
            with self._lock:
                self._execute(res)
        res.elapsed_ms = round((time.perf_counter() - t0) * 1000, 3)
        return res

    def _dialect(self, dialect: str) -> str:
        d = (dialect or "duckdb").lower()
        if d not in self._dialects:
            try:
                sqlglot.Dialect.get_or_raise(d)
            except ValueError as e:
                raise UserError(f"unknown SQL dialect {dialect!r}: {e}") from None
            self._dialects.add(d)
        return d

    def _prepare(self, sql: str, dialect: str, tree: exp.Expr | None = None) -> ExecResult:
        from schemadistill.sqlcheck import MAX_NESTING, paren_depth

        res = ExecResult(ok=False, executed_sql=sql)
        if paren_depth(sql) > MAX_NESTING:  # sqlglot's recursive parser would overflow the stack
            res.error = ExecError("parse", "ParserError",
                                  f"the statement nests parentheses more than {MAX_NESTING} deep")
            return res
        try:
            trees: list[exp.Expr | None] | None = [tree] if tree is not None else sqlglot.parse(sql, read=dialect)
        except RecursionError:  # "- - - ... 1", "NOT NOT ...": no parentheses, as deep (an untrained model writes it)
            res.error = ExecError("parse", "ParserError", "the statement is too deeply nested to parse")
            return res
        except SqlglotError as e:
            if dialect != "duckdb":
                res.error = ExecError("parse", type(e).__name__, str(e))
                return res
            trees = None  # sqlglot lags DuckDB's grammar: let DuckDB's parser decide
        if trees is not None:
            why = not_a_query(trees)
            if why:
                res.error = ExecError("refused", "Refused", why)
                return res
            res.tree = next(t for t in trees if t is not None)
            if dialect != "duckdb":
                res.transpiled_from = dialect
                res.executed_sql = res.tree.sql(dialect="duckdb")
        try:
            stmts = self._con.extract_statements(res.executed_sql)
        except duckdb.Error as e:
            res.error = _error(e)
            return res
        if len(stmts) != 1:
            res.error = ExecError("refused", "Refused", f"expected one statement, got {len(stmts)}")
        elif stmts[0].type != duckdb.StatementType.SELECT:
            res.error = ExecError("refused", "Refused",
                                  f"only SELECT queries may run; this is {stmts[0].type.name}")
        return res

    def _execute(self, res: ExecResult) -> None:
        # DuckDB streams execute() results: fetching row_cap + 1 rows never computes the rest,
        # and the time limit covers the fetch, where most of the work happens.
        self._watchdog.arm(self.timeout_s)
        try:
            cur = self._con.execute(res.executed_sql)
            cols = [d[0] for d in cur.description or []]
            rows = cur.fetchmany(self.row_cap + 1)
        except duckdb.Error as e:
            fired = self._watchdog.disarm()
            res.error = _error(e, timed_out=fired)
            return
        except Exception as e:  # e.g. a value Python cannot represent (year 10000)
            self._watchdog.disarm()
            res.error = ExecError("runtime", type(e).__name__, str(e))
            return
        finally:
            self._finish()
        self._watchdog.disarm()
        res.ok, res.columns = True, cols
        res.truncated = len(rows) > self.row_cap
        res.rows = rows[: self.row_cap]


    def _finish(self) -> None:
        """Drop the rest of a streamed result: DuckDB refuses other work while one is open."""
        try:
            self._con.abort()
        except duckdb.Error:
            pass


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def not_a_query(trees: Sequence[Any]) -> str | None:
    """Why sqlglot's parse is not exactly one read-only query (None when it is)."""
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        return f"expected one statement, got {len(trees)}"
    root = trees[0]
    while isinstance(root, exp.Subquery):
        root = root.this
    if not isinstance(root, QUERY_ROOTS):
        return f"only SELECT queries may run; this is {type(root).__name__.upper()}"
    if root.args.get("into") is not None:
        return "SELECT ... INTO creates a table; only plain SELECT may run"
    bad = root.find(*_NOT_IN_QUERY)
    if bad is not None:
        return f"the query contains a {type(bad).__name__.upper()} statement"
    return None


def _error(e: Exception, timed_out: bool = False) -> ExecError:
    kind: ErrorKind = "runtime"
    for cls, k in _KINDS:
        if isinstance(e, cls):
            kind = k
            break
    if timed_out and kind == "runtime":
        kind = "timeout"
    return ExecError(kind, type(e).__name__, str(e))
