"""Stage configs: one typed dataclass per stage, and the one place that loads them.

A run's settings come from, in increasing priority: the dataclass defaults, an optional YAML
file (``--config run.yaml``), and CLI overrides (``--set sandbox.rows=5000``; the Makefile's
``SCHEMA=``/``DATA=``/... map onto the same fields). Every field carries help text in its
metadata, shown by ``schemadistill config --help-fields``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from schemadistill.errors import UserError


def _f(default: Any, help: str) -> Any:
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class SchemaConfig:
    path: str = _f("", "DDL file (.sql), DuckDB or SQLite database describing the schema.")
    dialect: str | None = _f(None, "SQL dialect of the DDL and of generated SQL; detected when unset.")
    sidecar: str | None = _f(None, "schema.yaml with descriptions/synonyms/metrics; default: next to the schema.")


@dataclass
class SandboxConfig:
    data: str | None = _f(None, "The user's data: DuckDB/SQLite file or a folder of CSV/Parquet per table. "
                                "Unset: synthetic rows that fit the schema.")
    rows: int = _f(2000, "Rows per fact table when data is synthetic (lookup tables get fewer).")
    seed: int = _f(0, "Seed of the synthetic data.")
    timeout_s: float = _f(5.0, "Per-statement timeout of the executor, seconds.")
    row_cap: int = _f(1000, "Most rows the executor returns for one statement.")


@dataclass
class TeacherConfig:
    name: str = _f("offline", "offline | openai:MODEL (OPENAI_BASE_URL / OPENAI_API_KEY).")
    # Many instances with one phrasing each beat few instances with many phrasings: the student
    # generalises over values and compositions, not over wordings of one SQL (docs/DESIGN.md).
    n: int = _f(36000, "Target number of validated pairs (before error-repair pairs are added). 36,000 over "
                       "24,000 on the seed data: +7 points on unseen families, same families unchanged, "
                       "~2 more minutes of teacher time (docs/DESIGN.md, session 24).")
    seed: int = _f(0, "Seed of sampling and offline paraphrasing: same seed, same pairs.")
    phrasings_per_instance: int = _f(1, "Question phrasings rendered per template instance.")
    paraphrases_per_question: int = _f(1, "Extra paraphrases per rendered question (offline rules or LLM).")
    example_variants: int = _f(20, "Variants of each EXAMPLES pair (other values, periods, numbers, group-by "
                                   "dimensions, measures; teacher/example_variants.py), at most a tenth of n in all; "
                                   "0: the examples as given.")
    sql_style: str = _f("auto", "SQL form of calendar filters (\"in December 2024\"): trunc | cast | range | "
                                "extract | varied (a mix); auto: the form EXAMPLES use most, else trunc.")
    repair_share: float = _f(0.15, "Error-repair pairs as a share of the validated generate pairs.")
    typo_rate: float = _f(0.05, "Share of offline paraphrases that get a light typo.")
    row_cap: int = _f(1000, "Pairs whose SQL returns more rows than this are rejected.")
    timeout_s: float = _f(2.0, "Per-statement timeout when validating a pair.")
    threads: int = _f(0, "DuckDB threads for validating pairs; 0: every core. On a real table most of the "
                         "teacher's time is spent executing (seed data, 2 cores: 97 -> 134 pairs/s with 2).")
    reference_date: str | None = _f(None, "Date that 'today'/'last 30 days' mean; default: the latest date in the data.")
    concurrency: int = _f(8, "openai teacher: concurrent requests.")
    max_retries: int = _f(5, "openai teacher: retries on 429/5xx/timeouts/malformed JSON.")
    request_timeout_s: float = _f(60.0, "openai teacher: seconds before a request counts as timed out.")
    llm_pairs: int = _f(300, "openai teacher: new question/SQL pairs to ask for (few-shot from the schema).")
    price_in_per_mtok: float = _f(0.0, "openai teacher: USD per million prompt tokens, for the cost report.")
    price_out_per_mtok: float = _f(0.0, "openai teacher: USD per million completion tokens.")


@dataclass
class CurriculumConfig:
    heldout_iid: float = _f(0.05, "Share of template instances held out (same families, unseen values and phrasings).")
    heldout_families: int = _f(3, "Whole template families held out, never trained on (generalisation to new shapes).")
    replay: float = _f(0.3, "Share of each later phase's training mix drawn from earlier phases (forgetting guard).")
    seed: int = _f(0, "Seed of the splits and mixes.")


@dataclass
class StudentConfig:
    name: str = _f("scratch", "scratch (xs, or xxs where the time budget affords xs too few steps: student/budget.py) | "
                              "scratch:xxs|:xs|:sm|:s|:m | a Hugging Face id or local path (<= 3B parameters, LoRA).")
    prompt_schema: str = _f("none", "compact: a compact schema rendering in the prompt; none: the question only.")
    number_slots: int = _f(3, "Numbers of at least this many digits in a question become slots #1, #2, ... in "
                              "prompt and SQL, filled back after generation (0: off). 3, not 2: with 2 the student "
                              "wrote slots into SQL for questions without numbers (docs/DESIGN.md).")
    schedule: str = _f("shuffled", "shuffled: every phase's pairs in one shuffled run with one learning-rate "
                                   "schedule, saved and evaluated at each third of its steps (written as phases "
                                   "1-3; measured better, docs/DESIGN.md); phases: one run per curriculum phase, "
                                   "each from the weights the one before left.")
    epochs: list = _f([6.0, 6.0, 6.0], "Epochs per phase (phase 1, 2, 3); the time budget may cap them (on a "
                                       "2-core CPU it stops the default run first).")
    learning_rate: list = _f([7.5e-4, 5e-4, 3.75e-4], "Peak learning rate per phase (cosine schedule, warm-up; "
                                                       "the shuffled run takes the largest phase's: 5e-4, measured "
                                                       "best of 2.5e-4 to 5e-3, docs/DESIGN.md).")
    batch_size: int = _f(16, "Per-device batch size (small: more updates per token for a small model).")
    max_length: int = _f(256, "Longest training sequence in tokens (prompt + SQL).")
    max_minutes: float = _f(20.0, "Training time budget in minutes for all three phases (CPU default).")
    lora_r: int = _f(16, "LoRA rank (pretrained students).")
    lora_alpha: int = _f(32, "LoRA alpha (pretrained students).")
    lora_targets: list = _f(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                            "Modules LoRA adapts (pretrained students).")
    eval_max: int = _f(200, "Most held-out questions evaluated after each phase (per split).")
    max_new_tokens: int = _f(160, "Longest SQL the student may write.")
    ground_values: bool = _f(True, "Grounding in the evaluations, as the runtime does: a value the question names (a "
                                   "distinct value of a text column, e.g. 'Germany', or a yes/no column's word) that "
                                   "the SQL left out or swapped is put in (the artifact's values.json, export.values), "
                                   "and a date or number the question states that the SQL copied wrong is put back; "
                                   "schemadistill/grounding.py, literals.py. false: score the model's SQL as it is.")
    seed: int = _f(0, "Seed of model init and data order.")


EXPORT_VARIANTS = ("fp32", "int8", "fp16")
# The backend names export/bench.py can time; which of them apply depends on the artifact and the machine.
BENCH_BACKENDS = ("pytorch", "optimum", "runtime-fp32", "runtime-int8", "pytorch-cuda", "runtime-fp16-cuda",
                  "runtime-fp32-cuda")


@dataclass
class ExportConfig:
    variants: list = _f(list(EXPORT_VARIANTS), "ONNX variants in the artifact: fp32, int8, fp16 "
                                               "(int8 and fp16 are made from fp32, which ships only if listed).")
    parity_max: int = _f(200, "Most held-out questions the parity gate decodes (a seeded sample when there are "
                              "more); each is decoded by PyTorch and by every variant.")
    values: bool = _f(True, "Ship values.json, the value index the runtime grounds answers with (distinct values "
                            "of the data's low-cardinality text columns: your data's values travel with the "
                            "artifact). false: the runtime grounds only the question's dates and numbers.")
    neighbors: bool = _f(True, "Ship neighbors.json, the training questions and their SQL: the runtime offers the "
                               "SQL of the questions nearest to a doubted answer's question, grounded, beside its "
                               "beams (schemadistill/neighbors.py). false: beams only.")

    def check(self) -> None:
        bad = [v for v in self.variants if v not in EXPORT_VARIANTS]
        if bad or not self.variants:
            raise UserError(f"export.variants: unknown variant(s) {', '.join(map(str, bad)) or '(none given)'}",
                            hint=f"choose from {', '.join(EXPORT_VARIANTS)}, e.g. export.variants=fp32,int8")
        if self.parity_max < 1:
            raise UserError(f"export.parity_max={self.parity_max} must be at least 1",
                            hint="the gate needs questions; `schemadistill export --skip-parity` skips it")


# Beams searched for an answer that fails the checks or that the consistency check questions
# (export/runtime.py). For failing answers alone 8 beams did no better than 4 (docs/DESIGN.md);
# with the consistency check 8 beams were right on 0-3 more answers than 4 on 20 of the 21 splits
# of seven runs (3 fewer on one run's real questions), for a beam search on the questioned answers
# only (2-25% of them).
DEFAULT_BEAMS = 8
# Training pairs nearest to the question (neighbors.json) offered beside the beams of an answer
# that fails or is questioned. On the cached outputs of two runs (docs/DESIGN.md, session 21):
# 1 -> 5 answers made right over six splits, 3 -> 20 right and 4 wrong, 5 -> 27 right and 9 wrong.
DEFAULT_NEIGHBORS = 3


@dataclass
class EvalConfig:
    questions: int = _f(200, "Most held-out questions per split the exported artifact answers (a sample seeded "
                             "like the student's own evaluation); the golden file is answered whole.")
    beams: int = _f(DEFAULT_BEAMS, "Beam-search completions the runtime tries for an answer that fails the checks "
                                   "(before the repair prompt) or that the consistency check questions "
                                   "(export/runtime.py); 0: no beams (the neighbors, eval.neighbors, and the repair "
                                   "prompt remain).")
    consistency: bool = _f(True, "Question answers that add to the question or leave part of it out "
                                 "(schemadistill/consistency.py) and take a beam that says more; false: only "
                                 "failing answers get beams.")
    neighbors: int = _f(DEFAULT_NEIGHBORS, "Training pairs nearest to the question whose SQL (grounded) competes with "
                                           "the beams of a failing or questioned answer (the artifact's "
                                           "neighbors.json); 0: beams only.")
    variant: str = _f("auto", "ONNX variant answered with: auto (int8 on CPU, fp16 on CUDA) | fp32 | int8 | fp16.")

    def check(self) -> None:
        if self.questions < 0 or self.beams < 0 or self.neighbors < 0:
            raise UserError(f"eval.questions={self.questions}, eval.beams={self.beams} and "
                            f"eval.neighbors={self.neighbors} must not be negative")
        if self.variant not in ("auto", "fp32", "int8", "fp16"):
            raise UserError(f"eval.variant={self.variant!r} is not a variant", hint="use auto, fp32, int8 or fp16")


@dataclass
class BenchConfig:
    # The bench's work is backends x batch sizes x questions x max_new_tokens decoding steps (plus a
    # warm-up): a model that never stops writes max_new_tokens for every question, so these numbers,
    # not the model, bound its cost, and timeout_s x backends bounds its time. Measured with these
    # defaults on 2 cores, students under-trained so that every answer ran to the limit: scratch:xs
    # (the default, 2.9M parameters, examples/large) 27 s for the four CPU backends; scratch:s
    # (12.9M) 1 min 49 s with one thread per backend while a training job shared the cores (with
    # two threads there, PyTorch's own thread pool fought the job's and its backend hit the timeout).
    # Raise them for a report whose tails (p95/p99) mean something.
    questions: int = _f(16, "Questions timed per backend and batch size (the run's held-out ones, cycled "
                            "when fewer).")
    batch_sizes: list = _f([1, 4, 8], "Batch sizes timed (one pass over the questions each).")
    max_new_tokens: int = _f(64, "Most tokens decoded per question (at most the artifact's own limit).")
    backends: list = _f([], "Backends to time; empty: every one that applies here (pytorch, optimum, "
                            "runtime-fp32, runtime-int8; on CUDA also pytorch-cuda, runtime-fp16-cuda).")
    timeout_s: float = _f(120.0, "Seconds one backend may take; past that it is recorded as failed and the "
                                 "next one runs.")

    def check(self) -> None:
        if self.questions < 1:
            raise UserError(f"bench.questions={self.questions} must be at least 1")
        if not self.batch_sizes or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1
                                           for b in self.batch_sizes):
            raise UserError(f"bench.batch_sizes={self.batch_sizes!r} is not a list of positive integers",
                            hint="e.g. bench.batch_sizes=1,4,8")
        if self.max_new_tokens < 1:
            raise UserError(f"bench.max_new_tokens={self.max_new_tokens} must be at least 1")
        bad = [b for b in self.backends if b not in BENCH_BACKENDS]
        if bad:
            raise UserError(f"bench.backends: unknown backend(s) {', '.join(map(str, bad))}",
                            hint=f"choose from {', '.join(BENCH_BACKENDS)}, or leave it empty for all")
        if self.timeout_s <= 0:
            raise UserError(f"bench.timeout_s={self.timeout_s} must be positive")


@dataclass
class RunConfig:
    """The whole pipeline: ``make distill SCHEMA=...`` fills this."""

    out: str = _f("", "Run folder; default runs/<schema name>.")
    examples: str | None = _f(None, "JSONL of question/sql pairs (or plain SQL log) the user already has.")
    golden: str | None = _f(None, "JSONL of question + gold sql to report accuracy on (never trained on).")
    resume: bool = _f(True, "Skip stages whose inputs are unchanged and continue interrupted ones.")
    schema: SchemaConfig = field(default_factory=SchemaConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Turn a YAML/CLI value into the field's declared type, with a clear error."""
    if isinstance(tp, str):  # postponed annotations
        tp = eval(tp, vars(typing) | {"str": str, "int": int, "float": float, "bool": bool})
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("", "none", "null")):
            return None
        return _coerce(value, args[0], key)
    try:
        if tp is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if tp in (int, float, str):
            return tp(value)
        if tp is list and isinstance(value, str):
            # "1,2,2" or "[1, 2, 2]" from the command line; YAML types each item
            text = value.strip()
            if not text:
                return []  # `--set bench.backends=`: the empty list, not [None]
            items = yaml.safe_load(text) if text.startswith("[") else [yaml.safe_load(v) for v in text.split(",")]
            if not isinstance(items, list):
                raise ValueError(value)
            return items
    except (TypeError, ValueError, yaml.YAMLError):
        raise UserError(f"config value {key}={value!r} is not a valid {tp.__name__}",
                        hint=f"give {key} a {tp.__name__}") from None
    return value


def _apply(obj: Any, key_path: list[str], value: Any, full_key: str) -> None:
    names = {f.name: f for f in dataclasses.fields(obj)}
    head = key_path[0]
    if head not in names:
        raise UserError(f"unknown config key '{full_key}'",
                        hint=f"known keys here: {', '.join(sorted(names))}")
    fld = names[head]
    current = getattr(obj, head)
    if len(key_path) > 1:
        if not dataclasses.is_dataclass(current):
            raise UserError(f"unknown config key '{full_key}'", hint=f"'{head}' has no sub-keys")
        _apply(current, key_path[1:], value, full_key)
        return
    if dataclasses.is_dataclass(current):
        if not isinstance(value, dict):
            raise UserError(f"config section '{full_key}' must be a mapping")
        for k, v in value.items():
            _apply(current, [k], v, f"{full_key}.{k}")
        return
    setattr(obj, head, _coerce(value, fld.type, full_key))


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | list[str] | None = None,
                cls: type = RunConfig) -> Any:
    """Defaults <- YAML file <- overrides (``{"sandbox.rows": 5000}`` or ``["sandbox.rows=5000"]``)."""
    cfg = cls()
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise UserError("config file not found", file=p, hint="check the --config path")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            raise UserError(f"config is not valid YAML: {getattr(e, 'problem', e)}", file=p,
                            line=mark.line + 1 if mark else None) from None
        if not isinstance(data, dict):
            raise UserError("config must be a YAML mapping", file=p)
        for k, v in data.items():
            _apply(cfg, [k], v, k)
    items: list[tuple[str, Any]]
    if isinstance(overrides, dict):
        items = list(overrides.items())
    else:
        items = []
        for item in overrides or []:
            if "=" not in item:
                raise UserError(f"override '{item}' is not KEY=VALUE", hint="e.g. --set sandbox.rows=5000")
            k, v = item.split("=", 1)
            items.append((k.strip(), v))
    for k, v in items:
        if v is None:
            continue
        _apply(cfg, k.split("."), v, k)
    return cfg


def config_to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def field_help(cls: type = RunConfig, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, help) for every field, nested sections flattened with dots."""
    rows: list[tuple[str, str, str]] = []
    inst = cls()
    for f in dataclasses.fields(cls):
        val = getattr(inst, f.name)
        if dataclasses.is_dataclass(val):
            rows += field_help(type(val), prefix + f.name + ".")
        else:
            rows.append((prefix + f.name, repr(val), f.metadata.get("help", "")))
    return rows
