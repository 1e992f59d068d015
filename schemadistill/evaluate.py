"""Execution-accuracy evaluation: run gold and predicted SQL in the sandbox, compare the results.

    from schemadistill.evaluate import evaluate, evaluate_file
    report = evaluate([{"question": q, "gold_sql": g, "pred_sql": p, "family": f}], executor, schema)
    report["execution_accuracy"], report["by_family"], report["failures"][:3]

A prediction is right when its result equals the gold result (:func:`results_match`):

* rows are a multiset: duplicates count, and row order only counts when the gold SQL ends in a
  top-level ORDER BY (:func:`gold_is_ordered`); rows tied on the sort key must then come in
  the same order too (strict, as in Spider's and BIRD's evaluations);
* columns are matched as a permutation (names and aliases are ignored, since a question does not
  fix them), found from column value signatures, with duplicate columns handled. The number of
  columns must be equal: an extra column is a different answer (strict but fair: ``SELECT *``
  for "which users..." is not the list of user names);
* numbers compare by value within ``float_tol`` (relative or absolute): ``3 == 3.0 ==
  Decimal('3.00')``; integers of any width compare exactly; NaN equals NaN;
* NULL equals NULL (and nothing else);
* booleans equal 0/1: many schemas store flags as integers, and ``is_active = 1`` versus a
  boolean projection is a dialect habit, not a different answer;
* dates and timestamps compare by value; a timestamp at midnight equals the same date (a
  ``date_trunc`` that returns a timestamp names the same day);
* strings compare exactly (case and spaces matter); lists and structs compare element-wise.

A result cut at the executor's row cap only matches another one cut the same way, compared on
the returned rows (for unordered results this can miss a match: generated gold SQL stays under
the cap, so it is rare).

The report of :func:`evaluate` (all rates over ``n``, the items whose gold SQL ran):
``execution_accuracy``; ``valid_sql_rate`` (the prediction ran: parsed, was not refused by the
read-only executor, executed); ``unknown_name_rate`` (it failed with a catalog/binder error and
:func:`~schemadistill.sqlcheck.check_names` finds a table or column the schema lacks);
``exact_match_rate`` (same SQL up to formatting and identifier case); ``by_phase``,
``by_family``, ``by_kind``, ``by_difficulty`` (buckets of :func:`difficulty_bucket`) with the
same rates; ``gold_errors`` (gold SQL that fails: excluded from ``n``), ``skipped`` /
``skipped_by_flag``; ``failure_counts`` and the first ``failures`` as ``{question, gold, pred,
why, detail}``, ``why`` one of ``invalid_sql`` (detail: the error), ``unknown_name`` (detail:
the names), ``wrong_result`` (detail: row/column counts and the first differing row),
``gold_failed``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlglot import exp

from schemadistill.errors import UserError
from schemadistill.io import read_jsonl
from schemadistill.sandbox.executor import ExecResult, Executor
from schemadistill.schema.model import Schema
from schemadistill.sqlcheck import SQLParseError, check_names, difficulty, parse_sql

DEFAULT_SKIP_FLAGS = ("empty_or_null_result", "time_dependent")
MAX_MAPPINGS = 256  # column permutations tried before giving up (only many look-alike columns)
WHYS = ("invalid_sql", "unknown_name", "wrong_result", "gold_failed")


# -- comparing results ------------------------------------------------------------------------


def _norm(v: Any) -> Any:
    """One canonical Python value per SQL value (see the module docstring for the choices)."""
    if v is None or (isinstance(v, (str, int, float)) and not isinstance(v, bool)):
        return v
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and abs(v) < 2**63 else float(v)
    if isinstance(v, dt.datetime):
        if v.tzinfo is None and v.time() == dt.time(0):
            return v.date()
        return v
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, (list, tuple)):
        return tuple(_norm(x) for x in v)
    if isinstance(v, dict):
        return tuple((k, _norm(x)) for k, x in v.items())
    return v


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float))


def values_equal(a: Any, b: Any, tol: float = 1e-6) -> bool:
    """Equality of two normalised values: NULL-safe, numbers within ``tol``."""
    if a is None or b is None:
        return a is None and b is None
    if _is_num(a) and _is_num(b):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return math.isclose(fa, fb, rel_tol=tol, abs_tol=tol)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(values_equal(x, y, tol) for x, y in zip(a, b, strict=True))
    if _is_num(a) or _is_num(b) or type(a) is not type(b):
        return False
    return bool(a == b)


def _coarse(v: Any) -> Any:
    """A hashable key that equal values share regardless of tolerance (numbers all alike)."""
    if v is None:
        return "null"
    if _is_num(v):
        return "num"
    if isinstance(v, tuple):
        return ("tuple", tuple(_coarse(x) for x in v))
    try:
        hash(v)
    except TypeError:
        return ("repr", type(v).__name__, repr(v))
    return (type(v).__name__, v)


def _sort_key(v: Any) -> tuple[int, float, str]:
    if v is None:
        return (0, 0.0, "")
    if _is_num(v):
        f = float(v)
        return (1, math.inf, "nan") if math.isnan(f) else (1, f, "")
    return (2, 0.0, f"{type(v).__name__}:{v!r}")


def result_key(rows: Iterable[Sequence[Any]], digits: int = 6) -> tuple[str, ...]:
    """Rows as a key that ignores row and column order, under the normalisation the scoring uses
    (``3``, ``3.0`` and ``Decimal('3.00')`` alike, a midnight timestamp as its date, booleans as
    0/1; numbers rounded to ``digits`` places). Results that :func:`results_match` calls equal
    with row order aside share the key; since each row's cells are sorted on their own, two that
    differ can share it too (rows ``(1, 2), (2, 1)`` and ``(1, 2), (1, 2)``): good for the runtime's
    candidates to vote with, not a verdict."""
    def cell(v: Any) -> str:
        v = _norm(v)
        if _is_num(v):
            if isinstance(v, int) and abs(v) >= 2**53:  # ids past float precision stay exact
                return repr(v)
            f = float(v)
            return "nan" if math.isnan(f) else repr(round(f, digits) + 0.0)
        return f"{type(v).__name__}:{v!r}"
    return tuple(sorted("|".join(sorted(cell(x) for x in row)) for row in rows))


def _row_equal(g: tuple[Any, ...], p: tuple[Any, ...], tol: float) -> bool:
    return all(values_equal(x, y, tol) for x, y in zip(g, p, strict=True))


def _unmatched(gold: list[tuple[Any, ...]], pred: list[tuple[Any, ...]], tol: float
               ) -> tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]:
    """Multiset matching: the first gold row without a partner and the first pred row left over."""
    buckets: dict[Any, list[tuple[Any, ...]]] = defaultdict(list)
    for p in pred:
        buckets[tuple(_coarse(x) for x in p)].append(p)
    for rows in buckets.values():
        rows.sort(key=lambda r: [_sort_key(x) for x in r])
    used: dict[Any, list[bool]] = {k: [False] * len(v) for k, v in buckets.items()}
    missing = None
    for g in sorted(gold, key=lambda r: [_sort_key(x) for x in r]):
        key = tuple(_coarse(x) for x in g)
        cands, flags = buckets.get(key, []), used.get(key, [])
        for i, p in enumerate(cands):
            if not flags[i] and _row_equal(g, p, tol):
                flags[i] = True
                break
        else:
            if missing is None:
                missing = g
    extra = next((p for k, rows in buckets.items() for p, f in zip(rows, used[k], strict=True) if not f), None)
    return missing, extra


def _mappings(gold_cols: list[list[Any]], pred_cols: list[list[Any]], tol: float) -> Iterable[list[int]]:
    """Column permutations gold -> pred whose columns hold the same multiset of values."""
    gs = [sorted(c, key=_sort_key) for c in gold_cols]
    ps = [sorted(c, key=_sort_key) for c in pred_cols]
    ok = [[k for k in range(len(ps)) if _row_equal(tuple(gs[j]), tuple(ps[k]), tol)] for j in range(len(gs))]
    # most constrained gold column first keeps the search small with duplicate columns
    order = sorted(range(len(gs)), key=lambda j: len(ok[j]))
    mapping = [-1] * len(gs)
    taken: set[int] = set()

    def walk(i: int) -> Iterable[list[int]]:
        if i == len(order):
            yield list(mapping)
            return
        j = order[i]
        for k in ok[j]:
            if k not in taken:
                taken.add(k)
                mapping[j] = k
                yield from walk(i + 1)
                taken.discard(k)
    yield from walk(0)


@dataclass
class Comparison:
    match: bool
    detail: str = ""  # why not, in a line: counts, the first differing row


def _fmt(row: tuple[Any, ...] | None) -> str:
    text = "none" if row is None else "(" + ", ".join(repr(v) for v in row) + ")"
    return text if len(text) <= 160 else text[:157] + "..."


def compare_results(gold: ExecResult, pred: ExecResult, ordered: bool, float_tol: float = 1e-6) -> Comparison:
    """:func:`results_match` with a short reason when they differ."""
    if not gold.ok or not pred.ok:
        return Comparison(False, "gold failed" if not gold.ok else "prediction failed")
    ng, np_ = len(gold.columns), len(pred.columns)
    if ng != np_:
        return Comparison(False, f"columns: gold {ng}, pred {np_}")
    if len(gold.rows) != len(pred.rows):
        return Comparison(False, f"rows: gold {len(gold.rows)}, pred {len(pred.rows)}")
    if gold.truncated != pred.truncated:
        return Comparison(False, f"only the {'gold' if gold.truncated else 'pred'} result hit the row cap")
    g_rows = [tuple(_norm(v) for v in r) for r in gold.rows]
    p_rows = [tuple(_norm(v) for v in r) for r in pred.rows]
    g_cols = [[r[j] for r in g_rows] for j in range(ng)]
    p_cols = [[r[k] for r in p_rows] for k in range(np_)]
    first: list[int] | None = None
    for n, mapping in enumerate(_mappings(g_cols, p_cols, float_tol)):
        if n >= MAX_MAPPINGS:
            break
        first = first or mapping
        mapped = [tuple(r[k] for k in mapping) for r in p_rows]
        if ordered:
            if all(_row_equal(g, p, float_tol) for g, p in zip(g_rows, mapped, strict=True)):
                return Comparison(True)
        elif _unmatched(g_rows, mapped, float_tol) == (None, None):
            return Comparison(True)
    if first is None:  # no column permutation fits: say which gold column has no partner
        bad = next((j for j in range(ng) if not any(
            _row_equal(tuple(sorted(g_cols[j], key=_sort_key)), tuple(sorted(c, key=_sort_key)), float_tol)
            for c in p_cols)), 0)
        name = gold.columns[bad] if bad < len(gold.columns) else str(bad)
        missing, extra = _unmatched(g_rows, p_rows, float_tol)
        return Comparison(False, f"rows: {len(g_rows)} each; no pred column holds the values of gold column "
                                 f"{name!r}; first gold row not in pred {_fmt(missing)}, "
                                 f"first pred row not in gold {_fmt(extra)}")
    mapped = [tuple(r[k] for k in first) for r in p_rows]
    missing, extra = _unmatched(g_rows, mapped, float_tol)
    if ordered and missing is None:
        i = next(i for i, (g, p) in enumerate(zip(g_rows, mapped, strict=True)) if not _row_equal(g, p, float_tol))
        return Comparison(False, f"rows: {len(g_rows)} each, same rows in another order; row {i}: "
                                 f"gold {_fmt(g_rows[i])}, pred {_fmt(mapped[i])}")
    return Comparison(False, f"rows: {len(g_rows)} each; first gold row not in pred {_fmt(missing)}, "
                             f"first pred row not in gold {_fmt(extra)}")


def results_match(gold: ExecResult, pred: ExecResult, ordered: bool, float_tol: float = 1e-6) -> bool:
    """True when ``pred`` returns the same answer as ``gold`` (rules in the module docstring)."""
    return compare_results(gold, pred, ordered, float_tol).match


@functools.lru_cache(maxsize=4096)  # phrasings of an instance share their gold SQL
def gold_is_ordered(sql: str, dialect: str = "duckdb") -> bool:
    """The query's outermost result has an ORDER BY (so row order is part of the answer)."""
    try:
        root = parse_sql(sql, dialect)
    except SQLParseError:
        return False
    while isinstance(root, exp.Subquery) and root.args.get("order") is None:
        root = root.this
    return root.args.get("order") is not None


@functools.lru_cache(maxsize=4096)
def canonical_sql(sql: str, dialect: str) -> str:
    """The SQL up to formatting and identifier case: what exact match compares."""
    try:
        return parse_sql(sql, dialect).sql(dialect="duckdb", normalize=True)
    except SQLParseError:
        return " ".join(sql.strip().rstrip(";").split()).lower()


# -- evaluating a question set ----------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _difficulty(sql: str, dialect: str) -> int:
    try:
        return difficulty(sql, dialect)
    except SQLParseError:
        return 1


def difficulty_bucket(score: int) -> str:
    """Buckets of :func:`schemadistill.sqlcheck.difficulty`: 1-3, 4-6, 7-10, 11+."""
    if score <= 3:
        return "1-3"
    if score <= 6:
        return "4-6"
    if score <= 10:
        return "7-10"
    return "11+"


def _rates(recs: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(recs)

    def rate(key: str) -> float:
        return sum(r[key] for r in recs) / n if n else 0.0
    return {"n": n, "execution_accuracy": rate("correct"), "valid_sql_rate": rate("valid"),
            "unknown_name_rate": rate("unknown"), "exact_match_rate": rate("exact")}


def _breakdown(recs: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in recs:
        if r[key] is not None:
            groups[str(r[key])].append(r)
    return {k: _rates(v) for k, v in sorted(groups.items())}


def _judge(pred: str, gold: str, g: ExecResult, executor: Executor, schema: Schema, dialect: str,
           float_tol: float) -> tuple[dict[str, bool], str | None, str]:
    """One prediction against its gold result: (valid/unknown/exact/correct flags, why, detail)."""
    flags = {"valid": False, "unknown": False, "exact": False, "correct": False}
    if not pred.strip():
        return flags, "invalid_sql", "empty prediction"
    flags["exact"] = canonical_sql(pred, dialect) == canonical_sql(gold, dialect)
    # the same query as gold (up to formatting) returns the same rows: no need to run it again
    p = g if flags["exact"] else executor.run(pred, dialect)
    if not p.ok:
        err = p.error
        if err is not None and err.kind in ("catalog", "binder"):
            # DuckDB names one missing thing; check_names says whether the model invented names
            try:
                unknown = [u for u in check_names(pred, schema, dialect).unknown
                           if not u.startswith("could not resolve")]
            except SQLParseError:
                unknown = []
            if unknown:
                flags["unknown"] = True
                return flags, "unknown_name", "; ".join(unknown)
        detail = f"{err.kind}: {err.message}" if err else "prediction failed"
        return flags, "invalid_sql", detail.splitlines()[0]
    flags["valid"] = True
    cmp = compare_results(g, p, gold_is_ordered(gold, dialect), float_tol)
    flags["correct"] = cmp.match
    return flags, None if cmp.match else "wrong_result", cmp.detail


def evaluate(items: Iterable[Mapping[str, Any]], executor: Executor, schema: Schema, dialect: str = "duckdb",
             *, skip_flags: Sequence[str] = DEFAULT_SKIP_FLAGS, float_tol: float = 1e-6,
             max_failures: int = 20) -> dict[str, Any]:
    """Execution accuracy of ``items`` (``question``, ``gold_sql`` or ``sql``, ``pred_sql``; optional
    ``family``, ``phase``, ``difficulty``, ``kind``). Rows with a truthy flag named in ``skip_flags``
    are left out; rows whose gold SQL fails are left out of ``n`` and counted in ``gold_errors``.
    ``failures`` lists the first ``max_failures``; ``failure_counts`` counts them all.
    """
    recs: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    why_counts: Counter[str] = Counter()
    n_skipped = gold_errors = 0
    gold_cache: dict[str, ExecResult] = {}  # phrasings of one instance share their gold SQL
    for item in items:
        flags = [f for f in skip_flags if item.get(f)]
        if flags:
            skipped.update(flags)  # a row with two flags counts under both (and once in "skipped")
            n_skipped += 1
            continue
        gold = str(item.get("gold_sql") or item.get("sql") or "")
        pred = str(item.get("pred_sql") or "")
        meta = {k: item.get(k) for k in ("family", "phase", "kind")}
        if gold not in gold_cache:
            gold_cache[gold] = executor.run(gold, dialect)
        g = gold_cache[gold]
        if g.ok:
            diff = item.get("difficulty")
            if not isinstance(diff, int) or isinstance(diff, bool):
                diff = _difficulty(gold, dialect)
            verdict, why, detail = _judge(pred, gold, g, executor, schema, dialect, float_tol)
            recs.append({**meta, **verdict, "difficulty": difficulty_bucket(diff)})
        else:
            gold_errors += 1
            why, detail = "gold_failed", g.error.message if g.error else "gold SQL failed"
        if why is None:
            continue
        why_counts[why] += 1
        if len(failures) < max_failures:
            failures.append({"question": str(item.get("question", "")), "gold": gold, "pred": pred, "why": why,
                             "detail": detail, **{k: v for k, v in meta.items() if v is not None}})
    return {
        **_rates(recs),
        "gold_errors": gold_errors,
        "skipped": n_skipped,
        "skipped_by_flag": dict(sorted(skipped.items())),
        "by_phase": _breakdown(recs, "phase"),
        "by_family": _breakdown(recs, "family"),
        "by_difficulty": _breakdown(recs, "difficulty"),
        "by_kind": _breakdown(recs, "kind"),
        "failure_counts": {w: why_counts[w] for w in WHYS if why_counts[w]},
        "failures": failures,
    }


Predictions = Sequence[str] | Mapping[str, str] | Callable[[list[str]], list[str]]


def evaluate_file(questions_jsonl: str | Path, predictions: Predictions, executor: Executor, schema: Schema,
                  dialect: str = "duckdb", *, skip_flags: Sequence[str] = DEFAULT_SKIP_FLAGS,
                  float_tol: float = 1e-6, max_failures: int = 20) -> dict[str, Any]:
    """:func:`evaluate` over a JSONL of ``question`` + gold ``sql`` (or ``gold_sql``) rows.

    ``predictions``: a list aligned with the file's lines, a mapping question -> SQL, or a
    callable given the questions of the rows not skipped (one call, so a model can batch) that
    returns their SQL in order.
    """
    path = Path(questions_jsonl)
    if not path.is_file():
        raise UserError("questions file not found", file=path)
    return evaluate_rows(list(read_jsonl(path)), predictions, executor, schema, dialect, skip_flags=skip_flags,
                         float_tol=float_tol, max_failures=max_failures, source=path)


def evaluate_rows(rows: list[Any], predictions: Predictions, executor: Executor, schema: Schema,
                  dialect: str = "duckdb", *, skip_flags: Sequence[str] = DEFAULT_SKIP_FLAGS,
                  float_tol: float = 1e-6, max_failures: int = 20, source: Path | None = None) -> dict[str, Any]:
    """:func:`evaluate_file` over rows already read (``source`` names their file in errors)."""
    path = source
    if not rows:
        raise UserError("questions file has no rows", file=path, hint="one JSON object per line: question, sql")
    for i, r in enumerate(rows, 1):
        if not isinstance(r, dict) or "question" not in r or not (r.get("sql") or r.get("gold_sql")):
            raise UserError("each line needs 'question' and 'sql'", file=path, line=i)
    skipped: Counter[str] = Counter()
    kept: list[dict[str, Any]] = []
    for r in rows:
        flags = [f for f in skip_flags if r.get(f)]
        skipped.update(flags)
        if not flags:
            kept.append(r)
    if callable(predictions):
        preds = list(predictions([str(r["question"]) for r in kept]))
        if len(preds) != len(kept):
            raise UserError(f"the predictor returned {len(preds)} SQL strings for {len(kept)} questions")
    elif isinstance(predictions, Mapping):
        preds = [predictions.get(str(r["question"]), "") for r in kept]
    else:
        if len(predictions) != len(rows):
            raise UserError(f"{len(predictions)} predictions for {len(rows)} questions", file=path)
        by_row = {id(r): p for r, p in zip(rows, predictions, strict=True)}
        preds = [by_row[id(r)] for r in kept]
    items = [{**r, "pred_sql": p} for r, p in zip(kept, preds, strict=True)]
    # skipping already happened here (before any prediction was asked for)
    report = evaluate(items, executor, schema, dialect, skip_flags=(), float_tol=float_tol,
                      max_failures=max_failures)
    report["skipped"] = len(rows) - len(kept)
    report["skipped_by_flag"] = dict(sorted(skipped.items()))
    return report
