"""The report's figures, one typed record per section (filled by :mod:`schemadistill.reports.collect`).

A section whose stage has not run stays ``None`` in :class:`RunFigures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StageRow:
    name: str
    status: str  # "done" | "files only" (outputs without a manifest) | "not run"
    seconds: float | None = None
    finished_at: str | None = None
    peak_mb: float | None = None


@dataclass
class Header:
    run_dir: str
    schema_name: str
    fingerprint: str | None
    dialect: str | None
    teacher: str | None
    student: str | None
    generated_at: str
    finished_at: str | None
    total_seconds: float | None  # None: no stage manifest recorded a time
    stages: list[StageRow]
    has_peak: bool


@dataclass
class SchemaFigures:
    tables: int
    columns: int
    fk_declared: int
    fk_inferred: int
    metrics: int
    coverage: dict[str, Any] | None = None  # teacher.report.schema_coverage(), once the teacher ran
    sandbox_source: str | None = None  # "synthetic" or where the user's data came from
    sandbox_rows: dict[str, int] = field(default_factory=dict)


@dataclass
class RejectReason:
    reason: str
    count: int
    question: str
    sql: str
    detail: str


@dataclass
class DataFigures:
    pairs: int
    by_family: list[tuple[str, int, int]]  # (family, phase, pairs), most pairs first
    by_phase: dict[str, int]
    by_source: dict[str, int]
    by_kind: dict[str, int]
    rejects: int
    rejects_by_reason: list[RejectReason]
    skipped_families: dict[str, str]
    curriculum: dict[str, Any] | None = None  # split sizes, held-out families


@dataclass
class PhaseRecord:
    phase: int
    trained: bool
    pairs: int | None = None
    steps: int | None = None
    planned_steps: int | None = None
    stopped_by_time: bool = False
    seconds: float | None = None
    tokens_per_s: float | None = None
    final_loss: float | None = None
    note: str = ""
    others_cpu_share: float | None = None  # other processes' share of the CPU while it trained
    busy_machine: bool = False  # that share cut a time-budgeted phase's steps (student.budget.BUSY_SHARE)


@dataclass
class TrainingFigures:
    student: str | None
    params: int | None
    phases: list[PhaseRecord]
    steps: int
    seconds: float
    losses: dict[int, list[tuple[int, float]]]  # phase -> (step within the phase, loss)
    loss_png: Path | None  # student/loss.png, used when no loss.json survives
    shuffled: bool = False  # student.schedule=shuffled: "phase k" is the k-th third of one run
    machine: str | None = None  # schemadistill.hardware.describe of the machine that trained it
    preset_reason: str | None = None  # `scratch`: why the machine's speed picked this preset


@dataclass
class Score:
    n: int
    execution_accuracy: float | None
    valid_sql_rate: float | None


@dataclass
class BreakdownRow:
    key: str
    n: int
    execution_accuracy: float | None
    valid_sql_rate: float | None


@dataclass
class AccuracyFigures:
    splits: list[str]
    per_phase: dict[int, dict[str, Score]]  # phase -> split -> score
    last_phase: int
    breakdown: dict[str, dict[str, list[BreakdownRow]]]  # split -> by_phase|by_family|by_difficulty
    failures: dict[str, list[dict[str, Any]]]
    failure_counts: dict[str, dict[str, int]]
    # the exported artifact through the runtime (the eval stage): split -> score
    artifact: dict[str, Score] = field(default_factory=dict)
    artifact_variant: str = ""
    artifact_beams: int | None = None
    golden_coverage: dict[str, Any] | None = None  # eval.json: the golden SQL in the teacher's families
    # the artifact's repair prompt alone on held-out broken SQL + error (eval.json's heldout_repair)
    artifact_repair: Score | None = None


@dataclass
class VariantParity:
    name: str
    mb: float | None
    status: str  # pass | fail | not checked ... | skipped
    identical: int | None
    n: int | None
    execution_accuracy: float | None
    delta_points: float | None  # vs PyTorch, in accuracy points


@dataclass
class ParityFigures:
    passed: bool | None  # None: the gate was skipped
    n: int | None
    tolerance_points: float | None
    pytorch_accuracy: float | None
    variants: list[VariantParity]
    installed: bool  # the artifact is in place (a failed gate leaves only parity.json)


@dataclass
class LatencyRow:
    backend: str
    batch: str
    ttft_ms: float | None = None
    ms_per_token: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    questions_per_s: float | None = None
    rss_mb: float | None = None
    agree: float | None = None
    error: str = ""


@dataclass
class LatencyFigures:
    rows: list[LatencyRow]
    speedup_vs_pytorch: float | None
    speedup_backend: str | None
    e2e_ms_p50: dict[str, float]
    questions: int | None
    cpu: str | None
    png: Path | None


@dataclass
class RunFigures:
    run_dir: Path
    header: Header
    schema: SchemaFigures | None = None
    data: DataFigures | None = None
    training: TrainingFigures | None = None
    accuracy: AccuracyFigures | None = None
    parity: ParityFigures | None = None
    latency: LatencyFigures | None = None
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # sections whose files could not be read
