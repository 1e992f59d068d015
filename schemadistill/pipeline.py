"""The pipeline: schema -> sandbox -> teacher -> curriculum -> student -> export -> eval -> bench.

    schemadistill distill examples/ecommerce/schema.sql --out runs/ecommerce
    make distill SCHEMA=examples/ecommerce/schema.sql

Each stage writes into ``OUT/<stage>/`` and finishes by writing ``OUT/<stage>/manifest.json``
(the commit point) with the hash of its inputs, its config, its figures and its wall time.
A rerun skips a stage whose manifest records the same input hash; a changed input (or a
changed upstream output) reruns that stage and everything after it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from schemadistill.config import RunConfig
from schemadistill.errors import UserError
from schemadistill.io import atomic_write_json, sha256_file, sha256_json

console = Console(stderr=True)

MANIFEST = "manifest.json"


@dataclass
class StageOutcome:
    name: str
    status: str  # "ran" | "skipped" | "missing"
    seconds: float = 0.0
    figures: dict[str, Any] | None = None
    note: str = ""


@dataclass
class Stage:
    """One step of the pipeline: ``inputs`` says what it depends on, ``run`` does the work."""

    name: str
    inputs: Callable[[RunConfig, Path], dict[str, Any]]
    run: Callable[[RunConfig, Path, Path], dict[str, Any]]  # (cfg, out_root, stage_dir) -> figures


def _file_hash(path: str | None) -> str | None:
    if not path:
        return None
    p = Path(path)
    return sha256_file(p) if p.exists() else None


def _upstream(out: Path, name: str) -> str | None:
    """The input hash recorded by an upstream stage: a changed upstream reruns us."""
    m = read_manifest(out / name)
    return m.get("inputs_hash") if m else None


def read_manifest(stage_dir: Path) -> dict[str, Any] | None:
    p = stage_dir / MANIFEST
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a torn manifest means the stage did not finish


# -- peak memory ----------------------------------------------------------------------------


def _maxrss_mb() -> float:
    """This process's lifetime peak RSS (exact: the kernel's high-water mark)."""
    import resource
    import sys

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 2**20 if sys.platform == "darwin" else kb / 2**10  # bytes on macOS, KiB on Linux


class StageMemory:
    """Peak resident memory (MB) while one stage runs: ``with StageMemory() as m: ...; m.figures()``.

    Neither source alone is right per stage. ``getrusage``'s ru_maxrss is exact but is the peak of
    the whole process lifetime, so a stage after a hungrier one would be credited with the earlier
    peak. A sampling thread sees each stage on its own but can miss a spike shorter than its
    interval. Combined: if ru_maxrss rose during the stage, the stage set a new lifetime high and
    ru_maxrss is its exact peak; if not, its peak lies below the earlier high and the samples give
    it (exact up to spikes shorter than ``INTERVAL_S``). Child processes (the bench's workers) have
    their own memory: the thread also samples this process plus all its descendants, summed, which
    is what the machine had to hold (shared library pages are counted once per process, so it
    errs high). Children are sampled only: RUSAGE_CHILDREN is no help, since Linux copies the
    parent's high-water mark into a forked child and keeps it across exec, so even `true` started
    from here reports this process's lifetime peak (measured: 514 MB after a freed 500 MB buffer).
    """

    INTERVAL_S = 0.05

    def __init__(self) -> None:
        import threading

        import psutil

        self._proc = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="stage-memory", daemon=True)
        self.sampled = self.tree = self.child = 0.0
        self.children_seen = False
        # processes an earlier stage left running (multiprocessing's resource tracker, which
        # lives as long as this process once the teacher's worker has started) are not this stage's
        self._earlier: set[int] = set()

    def _sample(self) -> None:
        import psutil

        own = self._proc.memory_info().rss / 2**20
        kids = 0.0
        for c in self._proc.children(recursive=True):
            if c.pid in self._earlier:
                continue
            try:
                rss = c.memory_info().rss / 2**20
            except psutil.Error:  # ended between listing and reading
                continue
            kids += rss
            self.child = max(self.child, rss)
            self.children_seen = True
        self.sampled, self.tree = max(self.sampled, own), max(self.tree, own + kids)

    def _loop(self) -> None:
        while not self._stop.wait(self.INTERVAL_S):
            self._sample()

    def __enter__(self) -> StageMemory:
        self._self0 = _maxrss_mb()
        self._earlier = {c.pid for c in self._proc.children(recursive=True)}
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def figures(self) -> dict[str, float]:
        self_now = _maxrss_mb()
        peak = self_now if self_now > self._self0 else self.sampled
        out = {"peak_rss_mb": round(peak, 1)}
        if self.children_seen:
            out["peak_rss_child_mb"] = round(self.child, 1)
            out["peak_rss_tree_mb"] = round(max(self.tree, peak), 1)
        return out


# -- stages ---------------------------------------------------------------------------------


def _schema_inputs(cfg: RunConfig, out: Path) -> dict[str, Any]:
    schema_path = Path(cfg.schema.path)
    sidecar = cfg.schema.sidecar
    if sidecar is None:
        for name in ("schema.yaml", "schema.yml"):
            if (schema_path.parent / name).is_file():
                sidecar = str(schema_path.parent / name)
                break
    return {"schema": _file_hash(cfg.schema.path), "sidecar": _file_hash(sidecar),
            "config": asdict(cfg.schema)}


def _schema_run(cfg: RunConfig, out: Path, stage_dir: Path) -> dict[str, Any]:
    from schemadistill.schema import load_schema

    schema = load_schema(cfg.schema.path, dialect=cfg.schema.dialect, sidecar=cfg.schema.sidecar)
    atomic_write_json(stage_dir / "schema.json", schema.to_dict())
    return {
        "tables": len(schema.tables),
        "columns": sum(len(t.columns) for t in schema.tables),
        "foreign_keys_declared": sum(not fk.inferred for fk in schema.foreign_keys),
        "foreign_keys_inferred": sum(fk.inferred for fk in schema.foreign_keys),
        "metrics": len(schema.metrics),
        "dialect": schema.dialect,
        "fingerprint": schema.fingerprint,
    }


def load_run_schema(out: Path) -> Any:
    """The schema the ``schema`` stage wrote (later stages read this, not the DDL)."""
    from schemadistill.schema.model import Schema

    return Schema.from_dict(json.loads((out / "schema" / "schema.json").read_text(encoding="utf-8")))


def load_run_filters(out: Path) -> list[Any]:
    """The named conditions the teacher stage read off EXAMPLES (``teacher/filters.json``, written
    by teacher/mined_filters.py); none when it mined none or has not run."""
    from schemadistill.schema.model import NamedFilter

    path = out / "teacher" / "filters.json"
    if not path.is_file():
        return []
    return [NamedFilter(**f) for f in json.loads(path.read_text(encoding="utf-8"))]


def _sandbox_inputs(cfg: RunConfig, out: Path) -> dict[str, Any]:
    return {"schema": _upstream(out, "schema"), "data": _file_hash(cfg.sandbox.data),
            "rows": cfg.sandbox.rows, "seed": cfg.sandbox.seed}


def _sandbox_run(cfg: RunConfig, out: Path, stage_dir: Path) -> dict[str, Any]:
    from schemadistill.sandbox import build_sandbox

    info = build_sandbox(load_run_schema(out), stage_dir / "sandbox.duckdb",
                         data=Path(cfg.sandbox.data) if cfg.sandbox.data else None,
                         rows=cfg.sandbox.rows, seed=cfg.sandbox.seed)
    return asdict(info)


def _teacher_inputs(cfg: RunConfig, out: Path) -> dict[str, Any]:
    return {"schema": _upstream(out, "schema"), "sandbox": _upstream(out, "sandbox"),
            "config": asdict(cfg.teacher), "examples": _file_hash(cfg.examples)}


def _teacher_run(cfg: RunConfig, out: Path, stage_dir: Path) -> dict[str, Any]:
    from teacher.generate import generate

    # The stage's manifest.json is the pipeline's commit record, so the teacher's own summary
    # (usage, timing, per-family counts) goes to summary.json next to pairs.jsonl.
    s = generate(load_run_schema(out), out / "sandbox" / "sandbox.duckdb", stage_dir, cfg.teacher,
                 examples=Path(cfg.examples) if cfg.examples else None, resume=cfg.resume,
                 manifest_name="summary.json")
    keys = ("pairs", "generate_pairs", "repair_pairs", "rejects", "families", "column_share",
            "duplicate_questions", "pairs_per_s")
    return {k: s[k] for k in keys}


def _curriculum_inputs(cfg: RunConfig, out: Path) -> dict[str, Any]:
    return {"teacher": _upstream(out, "teacher"), "pairs": _file_hash(str(out / "teacher" / "pairs.jsonl")),
            "config": asdict(cfg.curriculum)}


def _curriculum_run(cfg: RunConfig, out: Path, stage_dir: Path) -> dict[str, Any]:
    from curriculum import build_curriculum

    # as with the teacher: manifest.json is the pipeline's, the stage's own record is summary.json
    m = build_curriculum(out / "teacher" / "pairs.jsonl", stage_dir, cfg.curriculum,
                         manifest_name="summary.json")
    rows = {name: c["rows"] for name, c in m["counts"].items()}
    # scalars first: the run table shows those; the dicts stay in the manifest
    return {**{k: rows[k] for k in ("train_phase1", "train_phase2", "train_phase3", "heldout_iid",
                                    "heldout_family")},
            "heldout_families": ",".join(m["heldout_families"]) or "none",
            "phase_moves": m["phase_moves"]["count"], "notes": len(m["notes"]),
            "rows": rows, "leakage": m["leakage"], "note_text": m["notes"]}


def _student_inputs(cfg: RunConfig, out: Path) -> dict[str, Any]:
    return {"curriculum": _upstream(out, "curriculum"), "config": asdict(cfg.student),
            "golden": _file_hash(cfg.golden)}


def _student_run(cfg: RunConfig, out: Path, stage_dir: Path) -> dict[str, Any]:
    from schemadistill.sandbox import Executor
    from student.train import train

    # train() keeps its own record (summary.json, per-phase done.json) and resumes from it
    with Executor(out / "sandbox" / "sandbox.duckdb", timeout_s=cfg.sandbox.timeout_s,
                  row_cap=cfg.sandbox.row_cap) as ex:
        return train(out, cfg.student, load_run_schema(out), ex,
                     golden=Path(cfg.golden) if cfg.golden else None, resume=cfg.resume)


def _export_inputs(cfg: RunConfig, out: Path) -> dict[str, Any]:
    # the model's own hash too: a retrained student with unchanged settings is a new model
    return {"student": _upstream(out, "student"), "model": _file_hash(str(out / "student" / "model")),
            "variants": list(cfg.export.variants), "parity_max": cfg.export.parity_max,
            "values": cfg.export.values, "neighbors": cfg.export.neighbors}


def _export_run(cfg: RunConfig, out: Path, stage_dir: Path) -> dict[str, Any]:
    from export.build import export_run

    # ONNX artifact in OUT/export/artifact, installed only if it passes the parity gate
    return export_run(out, variants=cfg.export.variants, parity_max=cfg.export.parity_max, values=cfg.export.values,
                      neighbors=cfg.export.neighbors)


def _eval_inputs(cfg: RunConfig, out: Path) -> dict[str, Any]:
    return {"export": _upstream(out, "export"), "golden": _file_hash(cfg.golden), "config": asdict(cfg.eval),
            "seed": cfg.student.seed, "repairs": True}


def _eval_run(cfg: RunConfig, out: Path, stage_dir: Path) -> dict[str, Any]:
    from export.evaluate import evaluate_artifact, evaluate_repairs
    from export.runtime import Runtime
    from schemadistill.io import read_jsonl
    from student.data import HELDOUT_SPLITS, REPAIR_SPLIT, read_heldout, sample_rows

    # the artifact as services run it (grounded, fallbacks) on the student's held-out sample and
    # the golden file, gold and answers executed in the run's sandbox as the student's evaluation
    # does; and its repair prompt alone on the held-out repair pairs (never trained on)
    sets: dict[str, list[Any]] = {}
    for split in HELDOUT_SPLITS:
        rows = read_heldout(out, split)
        if rows and cfg.eval.questions:
            sets[split] = sample_rows(rows, cfg.eval.questions, cfg.student.seed)
    if cfg.golden:
        sets["golden"] = list(read_jsonl(cfg.golden))
    repairs = [r for r in read_heldout(out, REPAIR_SPLIT) if r.get("broken_sql") and r.get("error")]
    if repairs and cfg.eval.questions:
        sets[REPAIR_SPLIT] = sample_rows(repairs, cfg.eval.questions, cfg.student.seed)
    reports: dict[str, Any] = {}
    db = out / "sandbox" / "sandbox.duckdb"
    with Runtime(out / "export" / "artifact", variant=cfg.eval.variant, beams=cfg.eval.beams,
                 consistency=cfg.eval.consistency, neighbors=cfg.eval.neighbors) as rt:
        for name, rows in sets.items():
            if name == REPAIR_SPLIT:
                console.print(f"  {name}: {len(rows)} broken SQL + error, through the repair prompt")
                reports[name] = evaluate_repairs(rt, rows, db)
                continue
            console.print(f"  {name}: {len(rows)} questions")
            reports[name] = evaluate_artifact(rt, rows, db,
                                              source=Path(cfg.golden) if name == "golden" and cfg.golden else None)
        variant, dialect = rt.variant, rt.dialect
    if "golden" in reports:
        reports["golden"]["teacher_coverage"] = _golden_coverage(out, sets["golden"], dialect)
    atomic_write_json(stage_dir / "eval.json", reports)
    figures: dict[str, Any] = {"variant": variant, "beams": cfg.eval.beams, "consistency": cfg.eval.consistency,
                               "neighbors": cfg.eval.neighbors}
    if "golden" in reports:
        figures["golden_family_coverage"] = reports["golden"]["teacher_coverage"]["family_share"]
    for name, r in reports.items():
        figures[f"{name}_n"] = r["n"]
        figures[f"{name}_execution_accuracy"] = r["execution_accuracy"]
        figures[f"{name}_valid_sql_rate"] = r["valid_sql_rate"]
    return figures


def _golden_coverage(out: Path, golden: list[dict[str, Any]], dialect: str) -> dict[str, Any]:
    """How many golden questions' SQL fall into a family the teacher generated (teacher/coverage.py):
    a measurement only; the golden file never reaches the teacher."""
    import logging

    from schemadistill.io import read_jsonl
    from schemadistill.schema.model import Schema
    from teacher.coverage import coverage

    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # masked literals trip generator warnings
    schema = Schema.from_dict(json.loads((out / "schema" / "schema.json").read_text(encoding="utf-8")))
    console.print("  golden: coverage by the teacher's families")
    return coverage(list(read_jsonl(out / "teacher" / "pairs.jsonl")), golden, dialect, schema)


def _bench_inputs(cfg: RunConfig, out: Path) -> dict[str, Any]:
    return {"export": _upstream(out, "export"), **asdict(cfg.bench)}


def _bench_run(cfg: RunConfig, out: Path, stage_dir: Path) -> dict[str, Any]:
    from export.bench import bench

    b = cfg.bench
    t0 = time.perf_counter()
    # latency.json/.md/.png in OUT/reports: PyTorch generate vs optimum vs the lean runtime
    summary = bench(out / "export" / "artifact", n=b.questions, batch_sizes=tuple(b.batch_sizes),
                    out=out / "reports", max_new_tokens=b.max_new_tokens, only=tuple(b.backends),
                    timeout_s=b.timeout_s)
    report = json.loads(Path(summary["latency_json"]).read_text(encoding="utf-8"))
    # what the work was and what it cost, next to the results: a slow bench says why at a glance
    return {"bench_seconds": round(time.perf_counter() - t0, 1), "questions": b.questions,
            "batch_sizes": ",".join(map(str, b.batch_sizes)), "max_new_tokens": report["max_new_tokens"],
            "backends": ",".join(report["backends"]), **{k: v for k, v in summary.items() if v is not None}}


STAGES: list[Stage] = [
    Stage("schema", _schema_inputs, _schema_run),
    Stage("sandbox", _sandbox_inputs, _sandbox_run),
    Stage("teacher", _teacher_inputs, _teacher_run),
    Stage("curriculum", _curriculum_inputs, _curriculum_run),
    Stage("student", _student_inputs, _student_run),
    Stage("export", _export_inputs, _export_run),
    Stage("eval", _eval_inputs, _eval_run),
    Stage("bench", _bench_inputs, _bench_run),
]

# Stages of the design that have not landed yet, with the issue that brings each. The pipeline
# says so plainly instead of pretending.
PLANNED: list[tuple[str, str]] = []


def default_out(cfg: RunConfig) -> Path:
    """runs/<name>: the schema file's stem, or its folder's name for the usual schema.sql."""
    if cfg.out:
        return Path(cfg.out)
    src = Path(cfg.schema.path)
    name = src.parent.name if src.stem.lower() in ("schema", "ddl") and src.parent.name else src.stem
    return Path("runs") / (name or "run")


def run_pipeline(cfg: RunConfig, until: str | None = None) -> list[StageOutcome]:
    """Run the stages in order; ``until`` stops after the named stage (the rest are reported)."""
    if not cfg.schema.path:
        raise UserError("no schema given", hint="make distill SCHEMA=path/to/schema.sql")
    names = [s.name for s in STAGES]
    if until is not None and until not in names:
        raise UserError(f"unknown stage '{until}'", hint=f"stages: {', '.join(names)}")
    cfg.export.check()  # a bad setting of a late stage fails now, not after an hour of training
    cfg.eval.check()
    cfg.bench.check()
    out = default_out(cfg)
    out.mkdir(parents=True, exist_ok=True)
    outcomes: list[StageOutcome] = []
    for i, stage in enumerate(STAGES):
        if until is not None and i > names.index(until):
            outcomes.append(StageOutcome(stage.name, "missing", note=f"not run (--until {until})"))
            continue
        stage_dir = out / stage.name
        inputs = stage.inputs(cfg, out)
        inputs_hash = sha256_json(inputs)
        prev = read_manifest(stage_dir)
        if cfg.resume and prev and prev.get("inputs_hash") == inputs_hash:
            console.print(f"[dim]= {stage.name}: up to date, skipped[/dim]")
            outcomes.append(StageOutcome(stage.name, "skipped", prev.get("seconds", 0.0), prev.get("figures")))
            continue
        console.print(f"[bold]> {stage.name}[/bold]")
        stage_dir.mkdir(parents=True, exist_ok=True)
        (stage_dir / MANIFEST).unlink(missing_ok=True)  # stale until this stage finishes
        t0 = time.perf_counter()
        with StageMemory() as mem:
            figures = stage.run(cfg, out, stage_dir)
        seconds = round(time.perf_counter() - t0, 3)
        figures = {**figures, **mem.figures()}
        atomic_write_json(stage_dir / MANIFEST, {
            "stage": stage.name, "inputs_hash": inputs_hash, "inputs": inputs,
            "figures": figures, "seconds": seconds, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        })
        outcomes.append(StageOutcome(stage.name, "ran", seconds, figures))
    from schemadistill.reports import write_report

    write_report(out)  # OUT/reports/index.md + index.html, also after --until
    for name, why in PLANNED:
        outcomes.append(StageOutcome(name, "missing", note=why))
    return outcomes
