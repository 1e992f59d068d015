"""The exported artifact scored the way services use it: lean runtime, grounding, guard, fallbacks.

    schemadistill eval runs/ecommerce/export/artifact --questions q.jsonl --db data.duckdb

    from export.evaluate import evaluate_artifact, evaluate_repairs
    with Runtime("runs/ecommerce/export/artifact") as rt:
        report = evaluate_artifact(rt, rows, "data.duckdb")   # rows: {"question", "sql"} dicts
        fixes = evaluate_repairs(rt, repair_rows, "data.duckdb")  # + "broken_sql", "error"

The student's own evaluation after each phase (student/train.py) decodes greedily with
PyTorch; this is the answer a service gets from ``Runtime.ask``: the ONNX variant it loads,
grounded, and for an answer that fails the checks the beam-search and repair-prompt fallbacks.
The pipeline's ``eval`` stage runs it on the held-out splits and the golden file, and
:func:`evaluate_repairs` on the held-out repair pairs (broken SQL + its real error -> fixed SQL,
``curriculum/heldout_repair.jsonl``): what the repair pairs of training buy, measured apart,
since in :meth:`Runtime.ask_many` the repair prompt only runs where no beam passed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from export.runtime import Runtime
from schemadistill.errors import UserError
from schemadistill.evaluate import canonical_sql, evaluate_rows

FALLBACK_COUNTS = ("repaired", "refused", "repair_tried", "grounded", "fixed_by_beam", "fixed_by_repair",
                   "questioned", "fixed_by_consistency", "fixed_by_neighbor")


def evaluate_artifact(rt: Runtime, rows: list[Any], db: str | Path, *, max_failures: int = 20,
                      source: Path | None = None) -> dict[str, Any]:
    """Execution accuracy of ``rt``'s guarded answers to ``rows`` (``question`` + gold ``sql``),
    gold and answers run on ``db``; rows flagged empty_or_null_result or time_dependent are
    skipped. The report of :func:`schemadistill.evaluate.evaluate` plus the fallback counts
    (answers repaired, by beams or the repair prompt; refused; grounded; questioned by the consistency
    check, and replaced by a beam that says more of the question), the variant and seconds."""
    counts = dict.fromkeys(FALLBACK_COUNTS, 0)

    def predict(qs: list[str]) -> list[str]:
        asked = [i for i, q in enumerate(qs) if q.strip()]  # an empty question gets no SQL
        preds = [""] * len(qs)
        for i, a in zip(asked, rt.ask_many([qs[i] for i in asked], db), strict=True):
            preds[i] = a.sql or ""
            counts["repaired"] += a.repaired
            counts["refused"] += a.refused
            counts["repair_tried"] += a.first_sql is not None and a.fixed_by != "consistency"
            # answers that passed the checks yet the consistency check questioned (beams searched)
            counts["questioned"] += a.fixed_by == "consistency" or (a.first_sql is None and a.ok and bool(a.unsupported))
            counts["grounded"] += bool(a.grounded)
            if a.fixed_by:
                counts[f"fixed_by_{a.fixed_by}"] += 1
            counts["fixed_by_neighbor"] += a.neighbor is not None  # of the above, a training pair's SQL
        return preds

    t0 = time.perf_counter()
    report = evaluate_rows(rows, predict, rt.executor(db), rt.schema, rt.dialect, max_failures=max_failures,
                           source=source)
    return {**report, **counts, "variant": rt.variant, "beams": rt.beams,
            "seconds": round(time.perf_counter() - t0, 2)}


def evaluate_repairs(rt: Runtime, rows: list[Any], db: str | Path, *, max_failures: int = 20,
                     source: Path | None = None) -> dict[str, Any]:
    """Execution accuracy of the repair prompt alone (:meth:`Runtime.repair_many`) on rows holding
    ``question``, ``broken_sql``, ``error`` and the gold ``sql``: the fix must return the gold's
    result on ``db``. The report of :func:`schemadistill.evaluate.evaluate` plus ``unchanged``
    (fixes that gave back the broken SQL as it was), the variant and seconds."""
    for i, r in enumerate(rows, 1):
        if not isinstance(r, dict) or not r.get("broken_sql") or not r.get("error"):
            raise UserError("a repair row needs 'broken_sql' and 'error' beside 'question' and 'sql'", file=source,
                            line=i, hint="score plain questions with evaluate_artifact (`schemadistill eval`)")
    t0 = time.perf_counter()
    answers = rt.repair_many([(str(r["question"]), str(r["broken_sql"]), str(r["error"])) for r in rows], db)
    preds = [a.sql or "" for a in answers]
    report = evaluate_rows(rows, preds, rt.executor(db), rt.schema, rt.dialect, max_failures=max_failures,
                           source=source)
    # given back as it was, up to formatting: what exact match would call the same SQL
    unchanged = sum(a.sql is not None and canonical_sql(a.sql, rt.dialect) == canonical_sql(r["broken_sql"], rt.dialect)
                    for a, r in zip(answers, rows, strict=True))
    return {**report, "unchanged": unchanged, "variant": rt.variant, "seconds": round(time.perf_counter() - t0, 2)}

