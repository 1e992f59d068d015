"""Gather a run folder's figures into one typed :class:`RunFigures` (reads files, writes nothing).

Every stage's numbers come from the files the stage itself wrote (its ``manifest.json`` and the
records named in docs/DESIGN.md), never from re-running anything, so the report says exactly
what the run recorded. A stage that has not run leaves its field ``None``; a file in an
unexpected shape is treated as absent rather than failing the report, because the report is
written at the end of every run and must not turn a finished run into a failed one.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from schemadistill.errors import UserError
from schemadistill.hardware import describe
from schemadistill.io import read_jsonl
from schemadistill.reports.figures import (
    AccuracyFigures,
    BreakdownRow,
    DataFigures,
    Header,
    LatencyFigures,
    LatencyRow,
    ParityFigures,
    PhaseRecord,
    RejectReason,
    RunFigures,
    SchemaFigures,
    Score,
    StageRow,
    TrainingFigures,
    VariantParity,
)

T = TypeVar("T")
STAGES = ("schema", "sandbox", "teacher", "curriculum", "student", "export", "eval", "bench")
SPLIT_ORDER = ("heldout_iid", "heldout_family", "golden")
REPAIR = "heldout_repair"  # the eval stage's repair-prompt score (eval.json), not a split of the phases
# the manifest does not record memory today; these are the names we look for when it does
PEAK_KEYS = ("peak_memory_mb", "peak_rss_mb", "max_rss_mb", "peak_mb")
FAILURES_SHOWN = 5
CURRICULUM_LABELS = {**{f"train_phase{k}": f"train_phase{k} (training mix, with replay)" for k in (1, 2, 3)},
                     **{f"phase{k}": f"phase{k} (the phase's own pairs)" for k in (1, 2, 3)}}


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


# -- per stage -----------------------------------------------------------------------------


def _outputs_present(run: Path, stage: str) -> bool:
    """A stage's own records without its manifest: run outside the pipeline, or unfinished."""
    probe = {"schema": ["schema/schema.json"], "sandbox": ["sandbox/sandbox.duckdb"],
             "teacher": ["teacher/pairs.jsonl"], "curriculum": ["curriculum/*.jsonl"],
             "student": ["student/summary.json", "student/eval_phase*.json", "student/model/config.json"],
             "export": ["export/artifact/manifest.json", "export/parity.json"], "eval": ["eval/eval.json"],
             "bench": ["reports/latency.json"]}[stage]
    return any(next(run.glob(p), None) is not None for p in probe)


def _peak(m: dict[str, Any]) -> float | None:
    for src in (m, _dict(m.get("figures"))):
        for k in PEAK_KEYS:
            if isinstance(src.get(k), (int, float)):
                return float(src[k])
    return None


def _schema_name(run: Path, manifests: dict[str, dict[str, Any]], schema_json: dict[str, Any]) -> str:
    # the same naming as pipeline.default_out: examples/retail/schema.sql is "retail"
    src = _dict(_dict(manifests.get("schema", {}).get("inputs")).get("config")).get("path") or schema_json.get("source")
    if not src:
        return run.name
    p = Path(str(src))
    return p.parent.name if p.stem.lower() in ("schema", "ddl") and p.parent.name else p.stem


def _header(run: Path, manifests: dict[str, dict[str, Any]], schema_json: dict[str, Any]) -> Header:
    rows = []
    for s in STAGES:
        m = manifests.get(s)
        if m is not None:
            rows.append(StageRow(s, "done", m.get("seconds"), m.get("finished_at"), _peak(m)))
        else:
            rows.append(StageRow(s, "files only" if _outputs_present(run, s) else "not run"))
    sfig = _dict(manifests.get("schema", {}).get("figures"))
    teacher = _dict(_dict(manifests.get("teacher", {}).get("inputs")).get("config")).get("name") or \
        _dict(read_json(run / "teacher" / "summary.json")).get("teacher")
    student = _dict(_dict(manifests.get("student", {}).get("inputs")).get("config")).get("name") or \
        _dict(read_json(run / "student" / "summary.json")).get("student")
    finished = [r.finished_at for r in rows if r.finished_at]
    timed = [r for r in rows if r.seconds is not None]
    return Header(
        run_dir=str(run), schema_name=_schema_name(run, manifests, schema_json),
        fingerprint=sfig.get("fingerprint") or schema_json.get("fingerprint"),
        dialect=sfig.get("dialect") or schema_json.get("dialect"), teacher=teacher, student=student,
        generated_at=time.strftime("%Y-%m-%dT%H:%M:%S"), finished_at=max(finished) if finished else None,
        total_seconds=round(sum(r.seconds or 0.0 for r in timed), 3) if timed else None, stages=rows,
        has_peak=any(r.peak_mb is not None for r in rows))


def _schema(schema_json: dict[str, Any], sandbox: dict[str, Any]) -> SchemaFigures:
    fks = [f for f in schema_json.get("foreign_keys", []) if isinstance(f, dict)]
    return SchemaFigures(
        tables=len(schema_json.get("tables", [])),
        columns=sum(len(t.get("columns", [])) for t in schema_json.get("tables", [])),
        fk_declared=sum(not f.get("inferred") for f in fks), fk_inferred=sum(bool(f.get("inferred")) for f in fks),
        metrics=len(schema_json.get("metrics", [])), sandbox_source=sandbox.get("source"),
        sandbox_rows={str(k): int(v) for k, v in _dict(sandbox.get("rows")).items()})


def _coverage(pair_rows: list[dict[str, Any]], schema_json: dict[str, Any]) -> dict[str, Any]:
    # the teacher's own definition (what data_report.md shows), not a second one
    from schemadistill.schema.model import Schema
    from teacher.pair import Pair
    from teacher.report import schema_coverage

    return schema_coverage([Pair.from_json(r) for r in pair_rows], Schema.from_dict(schema_json))


def _data(run: Path, pair_rows: list[dict[str, Any]]) -> DataFigures:
    summary = _dict(read_json(run / "teacher" / "summary.json"))
    fam: Counter[str] = Counter()
    phase_of: dict[str, int] = {}
    for p in pair_rows:
        fam[p.get("family", "?")] += 1
        phase_of[p.get("family", "?")] = int(p.get("phase") or 0)

    def count(key: str) -> dict[str, int]:
        c = Counter(str(p.get(key)) for p in pair_rows)
        return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))

    reasons: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rej_path = run / "teacher" / "rejects.jsonl"
    for r in (read_jsonl(rej_path) if rej_path.is_file() else []):
        reasons[str(r.get("reason", "?"))].append(r)
    by_reason = [RejectReason(k, len(v), str(v[0].get("question", "")), str(v[0].get("sql", "")),
                              str(v[0].get("detail") or "").split("\n")[0])
                 for k, v in sorted(reasons.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    by_phase = Counter(str(p.get("phase")) for p in pair_rows)
    return DataFigures(
        pairs=len(pair_rows),
        by_family=[(f, phase_of[f], n) for f, n in sorted(fam.items(), key=lambda kv: (-kv[1], kv[0]))],
        by_phase=dict(sorted(by_phase.items())), by_source=count("source"), by_kind=count("kind"),
        rejects=sum(r.count for r in by_reason), rejects_by_reason=by_reason,
        skipped_families={str(k): str(v) for k, v in _dict(summary.get("skipped_families")).items()},
        curriculum=_curriculum(run))


def _curriculum(run: Path) -> dict[str, Any] | None:
    s = _dict(read_json(run / "curriculum" / "summary.json"))
    counts = _dict(s.get("counts"))
    if not counts:
        return None
    # the training mixes and held-out splits first: those are what the student sees
    order = ["train_phase1", "train_phase2", "train_phase3", "heldout_iid", "heldout_family", "heldout_repair"]
    names = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
    rows = {CURRICULUM_LABELS.get(k, k): _dict(counts[k]).get("rows") for k in names}
    return {"rows": rows, "heldout_families": s.get("heldout_families") or [],
            "notes": [str(n) for n in s.get("notes") or []]}


def _phase_dirs(student: Path) -> list[tuple[int, Path]]:
    out = []
    for d in student.glob("phase*"):
        m = re.fullmatch(r"phase(\d+)", d.name)
        if m and d.is_dir():
            out.append((int(m.group(1)), d))
    return sorted(out)


def _training(run: Path) -> TrainingFigures | None:
    student = run / "student"
    summary = _dict(read_json(student / "summary.json"))
    records = {int(r["phase"]): r for r in summary.get("phase_records") or [] if isinstance(r, dict) and "phase" in r}
    losses: dict[int, list[tuple[int, float]]] = {}
    for k, d in _phase_dirs(student):
        done = read_json(d / "done.json")
        if isinstance(done, dict):
            records[k] = done  # the phase's own record is the freshest
        hist = read_json(d / "loss.json")
        if isinstance(hist, list):
            losses[k] = [(int(h["step"]), float(h["loss"])) for h in hist
                         if isinstance(h, dict) and "step" in h and "loss" in h]
    if not records and not losses:
        return None
    phases = [PhaseRecord(
        phase=k, trained=bool(r.get("trained")), pairs=r.get("pairs"), steps=r.get("steps", r.get("global_step")),
        planned_steps=r.get("planned_steps"), stopped_by_time=bool(r.get("stopped_by_time")),
        seconds=r.get("train_seconds"), tokens_per_s=r.get("tokens_per_s"), final_loss=r.get("final_loss"),
        note=str(r.get("note") or ""), others_cpu_share=r.get("others_cpu_share"),
        busy_machine=bool(r.get("busy_machine"))) for k, r in sorted(records.items())]
    return TrainingFigures(
        student=summary.get("student"), params=summary.get("params"), phases=phases,
        shuffled=any(isinstance(r.get("segment"), dict) for r in records.values()),
        steps=sum(p.steps or 0 for p in phases if p.trained),
        seconds=round(sum(p.seconds or 0.0 for p in phases if p.trained), 2), losses=losses,
        loss_png=student / "loss.png" if (student / "loss.png").is_file() else None,
        machine=describe(summary["hardware"]) if isinstance(summary.get("hardware"), dict) else None,
        preset_reason=_dict(summary.get("preset_choice")).get("reason"))


def _score(r: Any) -> Score:
    r = _dict(r)
    return Score(int(r.get("n") or 0), r.get("execution_accuracy"), r.get("valid_sql_rate"))


def _leading_int(text: str) -> int:
    m = re.match(r"\d+", text)
    return int(m.group()) if m else 1 << 30


def _accuracy(run: Path) -> AccuracyFigures | None:
    evals: dict[int, dict[str, Any]] = {}
    for p in (run / "student").glob("eval_phase*.json"):
        m = re.fullmatch(r"eval_phase(\d+)\.json", p.name)
        data = read_json(p)
        if m and isinstance(data, dict):
            evals[int(m.group(1))] = data
    if not evals:
        return None
    names = {s for e in evals.values() for s in e}
    splits = [s for s in SPLIT_ORDER if s in names] + sorted(names - set(SPLIT_ORDER))
    last = max(evals)
    breakdown: dict[str, dict[str, list[BreakdownRow]]] = {}
    failures: dict[str, list[dict[str, Any]]] = {}
    counts: dict[str, dict[str, int]] = {}
    for split, r in evals[last].items():
        r = _dict(r)
        if not r.get("n"):
            continue
        dims = {}
        for dim in ("by_phase", "by_family", "by_difficulty"):
            rows = [BreakdownRow(str(k), int(_dict(v).get("n") or 0), _dict(v).get("execution_accuracy"),
                                 _dict(v).get("valid_sql_rate")) for k, v in _dict(r.get(dim)).items()]
            if dim == "by_family":  # the weakest families first: where more data would help
                rows.sort(key=lambda x: (x.execution_accuracy if x.execution_accuracy is not None else 2.0,
                                         -x.n, x.key))
            elif dim == "by_difficulty":
                rows.sort(key=lambda x: _leading_int(x.key))  # 1-3, 4-6, 7-10, 11+: not as strings
            else:
                rows.sort(key=lambda x: x.key)
            dims[dim] = rows
        breakdown[split] = dims
        failures[split] = [f for f in r.get("failures") or [] if isinstance(f, dict)][:FAILURES_SHOWN]
        counts[split] = {str(k): int(v) for k, v in _dict(r.get("failure_counts")).items()}
    artifact = _dict(read_json(run / "eval" / "eval.json")) if (run / "eval" / "manifest.json").is_file() else {}
    first = _dict(next(iter(artifact.values()), {}))
    return AccuracyFigures(splits=splits, per_phase={k: {s: _score(e.get(s)) for s in splits if s in e}
                                                     for k, e in sorted(evals.items())},
                           last_phase=last, breakdown=breakdown, failures=failures, failure_counts=counts,
                           artifact={s: _score(r) for s, r in artifact.items() if s in splits},
                           artifact_variant=str(first.get("variant") or ""), artifact_beams=first.get("beams"),
                           golden_coverage=_dict(_dict(artifact.get("golden")).get("teacher_coverage")) or None,
                           artifact_repair=_score(artifact[REPAIR]) if _dict(artifact.get(REPAIR)).get("n") else None)


def _parity(run: Path, manifests: dict[str, dict[str, Any]]) -> ParityFigures | None:
    artifact = _dict(read_json(run / "export" / "artifact" / "manifest.json"))
    figs = _dict(manifests.get("export", {}).get("figures"))
    # a failed gate leaves no artifact and no stage manifest, only export/parity.json
    report = _dict(read_json(run / "export" / "parity.json")) or _dict(artifact.get("parity"))
    if not (artifact or figs or report):
        return None
    sizes = {v: round(_dict(rec).get("bytes", 0) / 1e6, 3) for v, rec in _dict(artifact.get("variants")).items()}
    names = list(dict.fromkeys([*sizes, *_dict(report.get("variants")),
                                *(str(figs.get("variants") or "").split(",") if figs.get("variants") else [])]))
    ref = _dict(report.get("pytorch")).get("execution_accuracy")
    skipped = bool(report.get("skipped")) or figs.get("parity") == "skipped"
    variants = []
    for v in names:
        p = _dict(_dict(report.get("variants")).get(v))
        if skipped:
            status = "skipped"
        elif p.get("checked"):
            status = "pass" if p.get("passed") else "fail"
        else:
            status = str(p.get("note") or figs.get(f"{v}_parity") or "not checked")
        acc = p.get("execution_accuracy")
        variants.append(VariantParity(
            v, sizes.get(v, figs.get(f"{v}_mb")), status, p.get("identical"), report.get("n") if p.get("checked") else None,
            acc, round(100 * (acc - ref), 2) if acc is not None and ref is not None else None))
    return ParityFigures(passed=None if skipped else report.get("passed"), n=report.get("n"),
                         tolerance_points=report.get("tolerance_points"), pytorch_accuracy=ref,
                         variants=variants, installed=bool(artifact))


def _latency(run: Path) -> LatencyFigures | None:
    rep = _dict(read_json(run / "reports" / "latency.json"))
    if not rep:
        return None
    rows = []
    for name, r in _dict(rep.get("backends")).items():
        r = _dict(r)
        if "error" in r:
            rows.append(LatencyRow(name, "", error=str(r["error"])[:200]))
            continue
        for b, x in _dict(r.get("batches")).items():
            x, e2e = _dict(x), _dict(_dict(x).get("e2e_ms"))
            rows.append(LatencyRow(name, str(b), x.get("ttft_ms_p50"), x.get("ms_per_token"), e2e.get("p50"),
                                   e2e.get("p95"), x.get("questions_per_s"), r.get("rss_peak_delta_mb"),
                                   r.get("agree_with_pytorch")))
    s = _dict(rep.get("summary"))
    png = run / "reports" / "latency.png"
    return LatencyFigures(rows=rows, speedup_vs_pytorch=s.get("speedup_vs_pytorch"),
                          speedup_backend=s.get("speedup_backend"),
                          e2e_ms_p50={k: float(v) for k, v in _dict(s.get("e2e_ms_p50")).items()
                                      if isinstance(v, (int, float))},
                          questions=_dict(rep.get("questions")).get("n"), cpu=_dict(rep.get("hardware")).get("cpu"),
                          png=png if png.is_file() else None)


# -- the run --------------------------------------------------------------------------------


def is_run(run: Path) -> bool:
    return run.is_dir() and ((run / "schema" / "schema.json").is_file()
                             or any((run / s / "manifest.json").is_file() for s in STAGES))


def collect(run_dir: str | Path) -> RunFigures:
    """Everything the report shows, from ``run_dir``'s files; UserError if it is not a run folder."""
    run = Path(run_dir)
    if not run.exists():
        raise UserError("run folder not found", file=run, hint="give the OUT folder of `schemadistill distill`")
    if not run.is_dir():
        raise UserError("not a run folder (a file, not a folder)", file=run,
                        hint="give the OUT folder of `schemadistill distill`, e.g. runs/ecommerce")
    if not is_run(run):
        raise UserError("not a run folder (no schema/schema.json and no <stage>/manifest.json)", file=run,
                        hint="give the OUT folder of `schemadistill distill`, e.g. runs/ecommerce")
    manifests = {s: m for s in STAGES if isinstance(m := read_json(run / s / "manifest.json"), dict)}
    schema_json = _dict(read_json(run / "schema" / "schema.json"))
    fig = RunFigures(run_dir=run, header=_header(run, manifests, schema_json), manifests=manifests)

    def safe(what: str, fn: Callable[..., T], *args: Any) -> T | None:
        # a hand-edited or older-format file costs its section, not the report (nor the run)
        try:
            return fn(*args)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            fig.notes.append(f"{what}: could not read the stage's files ({type(e).__name__}: {e})")
            return None

    if schema_json:
        fig.schema = safe("schema", _schema, schema_json, _dict(manifests.get("sandbox", {}).get("figures")))
    pairs_path = run / "teacher" / "pairs.jsonl"
    if pairs_path.is_file():
        pair_rows = list(read_jsonl(pairs_path))
        fig.data = safe("data", _data, run, pair_rows)
        if fig.schema is not None:
            fig.schema.coverage = safe("coverage", _coverage, pair_rows, schema_json)
    fig.training = safe("training", _training, run)
    fig.accuracy = safe("accuracy", _accuracy, run)
    fig.parity = safe("parity", _parity, run, manifests)
    fig.latency = safe("latency", _latency, run)
    return fig
