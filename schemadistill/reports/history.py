"""``OUT/reports/history.jsonl``: one line of headline metrics per run, and current vs previous.

A line is added only when the run changed since the last line (its key hashes the stages'
manifests and the metrics), so writing the report twice, or a rerun in which every stage was
up to date, does not make a run look like its own predecessor.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemadistill.io import atomic_write_text, read_jsonl, sha256_json
from schemadistill.reports.collect import SPLIT_ORDER, STAGES, RunFigures

HISTORY = "history.jsonl"
# Beyond these a change is a regression: one accuracy point is the parity gate's tolerance too
# (export/parity.py), and a held-out split of ~100 questions moves by a point per question.
ACCURACY_TOL = 0.01
LATENCY_TOL = 0.10  # relative: timings on a shared machine wobble by a few percent
SIZE_TOL = 0.02  # relative


def headline(fig: RunFigures) -> dict[str, float]:
    """Flat metric name -> value; the prefix says how a change is judged (see :func:`judge`)."""
    m: dict[str, float] = {}
    if fig.data is not None:
        m["pairs"] = fig.data.pairs
        m["rejects"] = fig.data.rejects
    if fig.accuracy is not None:
        for split, s in fig.accuracy.per_phase[fig.accuracy.last_phase].items():
            if s.n and s.execution_accuracy is not None:
                m[f"accuracy.{split}"] = round(float(s.execution_accuracy), 4)
        for split, s in fig.accuracy.artifact.items():
            if s.n and s.execution_accuracy is not None:
                m[f"accuracy.artifact.{split}"] = round(float(s.execution_accuracy), 4)
        r = fig.accuracy.artifact_repair
        if r is not None and r.n and r.execution_accuracy is not None:
            m["accuracy.artifact.heldout_repair"] = round(float(r.execution_accuracy), 4)
    if fig.parity is not None:
        for v in fig.parity.variants:
            if v.mb is not None:
                m[f"size_mb.{v.name}"] = float(v.mb)
    if fig.latency is not None:
        for backend, ms in fig.latency.e2e_ms_p50.items():
            m[f"latency_ms.{backend}"] = ms
    for row in fig.header.stages:
        if row.seconds is not None:
            m[f"seconds.{row.name}"] = float(row.seconds)
    if fig.header.total_seconds is not None:
        m["seconds.total"] = fig.header.total_seconds
    return m


def history_line(fig: RunFigures) -> dict[str, Any]:
    metrics = headline(fig)
    ident = {s: [m.get("inputs_hash"), m.get("finished_at")] for s, m in fig.manifests.items()}
    return {"key": sha256_json({"manifests": ident, "metrics": metrics})[:16],
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "finished_at": fig.header.finished_at,
            "fingerprint": fig.header.fingerprint, "teacher": fig.header.teacher, "student": fig.header.student,
            "stages": [r.name for r in fig.header.stages if r.status != "not run"], "metrics": metrics}


def _lines(reports_dir: Path) -> list[dict[str, Any]]:
    path = reports_dir / HISTORY
    return list(read_jsonl(path)) if path.is_file() else []


def previous(lines: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The run before the one named ``key``: the last different line before its own line."""
    at = max((i for i, x in enumerate(lines) if x.get("key") == key), default=len(lines))
    return next((x for x in reversed(lines[:at]) if x.get("key") != key), None)


def record(reports_dir: Path, line: dict[str, Any], write: bool = True) -> dict[str, Any] | None:
    """Add ``line`` unless it is already there; return the previous run's line, if any."""
    lines = _lines(reports_dir)
    if write and not any(x.get("key") == line["key"] for x in lines):
        # rewrite-and-rename rather than open(..., "a"): a crash leaves the old file or the new
        # one, never a torn last line
        path = reports_dir / HISTORY
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if text and not text.endswith("\n"):
            text += "\n"
        atomic_write_text(path, text + json.dumps(line, ensure_ascii=False) + "\n").chmod(0o644)
    return previous(lines, line["key"])


@dataclass
class CompareRow:
    metric: str
    label: str
    current: float | None
    previous: float | None
    delta: str
    regression: bool
    improvement: bool


def _label(metric: str) -> str:
    kind, _, what = metric.partition(".")
    return {"pairs": "pairs kept", "rejects": "rejects", "accuracy": f"execution accuracy, {what}",
            "size_mb": f"artifact size MB, {what}", "latency_ms": f"latency ms/question p50 (batch 1), {what}",
            "seconds": f"stage seconds, {what}" if what != "total" else "total seconds"}.get(kind, metric)


def judge(metric: str, cur: float, prev: float) -> tuple[bool, bool]:
    """(regression, improvement): accuracy down, latency or size up, beyond the tolerances."""
    kind = metric.split(".")[0]
    if kind == "accuracy":
        return cur < prev - ACCURACY_TOL, cur > prev + ACCURACY_TOL
    tol = {"latency_ms": LATENCY_TOL, "size_mb": SIZE_TOL}.get(kind)
    if tol is None or prev <= 0:
        return False, False  # pairs and seconds are shown, not judged: a config change moves them
    return cur > prev * (1 + tol), cur < prev * (1 - tol)


def _delta(metric: str, cur: float | None, prev: float | None) -> str:
    if cur is None or prev is None:
        return ""
    if metric.startswith("accuracy."):
        return f"{100 * (cur - prev):+.1f} pts"
    if prev:
        return f"{cur - prev:+.4g} ({(cur - prev) / abs(prev):+.1%})"
    return f"{cur - prev:+.4g}"


def _order(metric: str) -> tuple[int, int, str]:
    kind, _, what = metric.partition(".")
    kinds = ["pairs", "rejects", "accuracy", "size_mb", "latency_ms", "seconds"]
    # stages in pipeline order, splits in the report's order, the rest by name
    within = {**{s: i for i, s in enumerate(STAGES)}, **{s: i for i, s in enumerate(SPLIT_ORDER)}, "total": 98}
    return (kinds.index(kind) if kind in kinds else 99, within.get(what, 50), what)


def compare(current: dict[str, float], previous: dict[str, Any]) -> list[CompareRow]:
    prev = {k: v for k, v in previous.items() if isinstance(v, (int, float))}
    rows = []
    for metric in sorted(set(current) | set(prev), key=_order):
        c, p = current.get(metric), prev.get(metric)
        reg, imp = judge(metric, c, p) if c is not None and p is not None else (False, False)
        rows.append(CompareRow(metric, _label(metric), c, p, _delta(metric, c, p), reg, imp))
    return rows
