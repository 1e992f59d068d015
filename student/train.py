"""Student training with TRL, saved and evaluated by execution match at each of three points.

    schemadistill train runs/ecommerce [--student scratch:s] [--golden golden.jsonl] [--no-resume]
    accelerate launch -m schemadistill.cli train runs/ecommerce     # several GPUs, same code

Reads ``RUN/curriculum/train_phase{1,2,3}.jsonl`` (and the held-out splits), writes under
``RUN/student/``::

    tokenizer/                 scratch students: byte-level BPE trained on the training pairs
    preset.json                `scratch`: the preset the machine's speed picked (:func:`_choose_preset`)
    phase{k}/final/            weights after phase k (full model, or the LoRA adapter)
    phase{k}/loss.json, .png   loss history and curve;  phase{k}/done.json: the phase's record
    eval_phase{k}.json         {"heldout_iid": {...}, "heldout_family": {...}, "golden": {...}}
    phase{k}/plan.json, phase{k}/checkpoints/          schedule=phases: the phase's step plan and
    shuffled/plan.json, shuffled/checkpoints/          checkpoints; schedule=shuffled: the run's
    model/                     final plain HF model (LoRA merged) + tokenizer + student_config.json
    loss.png, summary.json

``student.schedule`` picks how the phases' pairs are trained (docs/DESIGN.md has the comparison):

* ``shuffled`` (default): every phase's pairs in one shuffled ``SFTTrainer`` run with one
  learning-rate schedule, cut into three segments of equal steps; "phase k" is the k-th segment,
  saved and evaluated like a phase (:func:`_train_shuffled`).
* ``phases``: one ``SFTTrainer`` run per curriculum phase (with its replay of earlier phases),
  each starting from the previous phase's weights (:func:`_train_phases`).

Prompt-completion examples with the loss on the completion only. A finished phase (its
``done.json`` records a hash of its data, settings and the phase before) is skipped on the
next call; an interrupted one continues from its last checkpoint (plan.json keeps the step
count so the schedule is the same). Packing stays off and examples are grouped by length
instead (measured in student/bench.py's docstring: packing was ~3x slower per token on CPU).
Examples are shuffled inside a phase: the curriculum's easy-to-hard order within a mix is not
kept. The time budget is explained in student/budget.py; it covers the training steps, not
the evaluations after each phase.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import datasets
import torch
from accelerate import PartialState
from datasets import Dataset
from rich.console import Console
from transformers import AutoModelForCausalLM, PrinterCallback, ProgressCallback, TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices
from transformers.trainer_utils import get_last_checkpoint
from trl import SFTConfig

from schemadistill.config import StudentConfig
from schemadistill.errors import UserError
from schemadistill.grounding import Grounded, ValueIndex, ground_sql
from schemadistill.hardware import hardware
from schemadistill.io import atomic_write_json, sha256_json
from schemadistill.prompt import render_schema_compact, schema_names
from student import budget
from student.data import (
    HELDOUT_SPLITS,
    PHASES,
    PromptSpec,
    build_examples,
    read_golden,
    read_heldout,
    read_phase,
    sample_rows,
)
from student.history import loss_history, plot_losses, save_history
from student.infer import CONFIG_NAME, predict
from student.loss import CompletionHeadTrainer
from student.model import (
    AUTO_PRESET,
    DEFAULT_PRESET,
    SMALL_PRESET,
    add_lora,
    build_scratch_model,
    check_size,
    count_params,
    load_config_only,
    load_lora,
    load_pretrained,
    load_pretrained_tokenizer,
    parse_student,
    train_tokenizer,
    training_dtype,
    uses_chat_template,
)

console = Console(stderr=True)

CHECKPOINTS_PER_PHASE = 5  # a checkpoint every max_steps/5 steps: at most a fifth of a phase is lost
SAVE_TOTAL_LIMIT = 2
GROUP_BY_LENGTH = True
INFER_BATCH = 32
TRAIN_KEYS = ("name", "prompt_schema", "number_slots", "schedule", "batch_size", "max_length", "max_minutes",
              "lora_r", "lora_alpha", "lora_targets", "seed")  # settings that change the weights (eval settings do not)


def score_items(items: list[dict[str, Any]], executor: Any, schema: Any, dialect: str) -> dict[str, Any]:
    """Execution-match scoring (``schemadistill.evaluate``); a seam the tests replace."""
    from schemadistill.evaluate import evaluate

    return evaluate(items, executor, schema, dialect)


class EpochSeededLengthSampler(LengthGroupedSampler):
    """Length-grouped order drawn from (seed, epoch) alone.

    transformers' ``LengthGroupedSampler`` draws each epoch's order from the global RNG, and a run
    resumed in the middle of an epoch restores that RNG only after the order is drawn: it then
    trains on other batches than the run it continues (measured: different weights whenever the
    checkpoint was not at an epoch boundary). Seeding per epoch makes a resume exact, which a
    shuffled run relies on at each of its segments. accelerate calls ``set_epoch``.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int):
        super().__init__(batch_size, lengths=lengths)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=generator))


class ResumableSFTTrainer(CompletionHeadTrainer):
    """``SFTTrainer`` whose data order survives a resume in the middle of an epoch (and whose loss
    skips the prompt's positions in the LM head on a CPU: student/loss.py)."""

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        sampler = super()._get_train_sampler(train_dataset)
        if isinstance(sampler, LengthGroupedSampler):
            return EpochSeededLengthSampler(sampler.lengths, sampler.batch_size, self.args.seed)
        return sampler


class LossInProgressBar(ProgressCallback):
    """The Trainer's progress bar with the latest loss on it, instead of a dict of a dozen
    figures printed every few steps (thousands of lines a run; loss.json keeps them all)."""

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if state.is_world_process_zero and self.training_bar is not None and logs and "loss" in logs:
            self.training_bar.set_postfix(loss=f"{logs['loss']:.3f}", refresh=False)


class _StartStep(TrainerCallback):
    """Remembers where a (possibly resumed) run began: global step and tokens already seen."""

    step = 0
    tokens = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.step, self.tokens = state.global_step, state.num_input_tokens_seen


def _tied_head_filter(record: logging.LogRecord) -> bool:
    # scratch presets tie lm_head to the embeddings, so a checkpoint stores it once and every
    # resume (each shuffled segment is one) warns that lm_head.weight is "missing": it is not
    return "missing keys in the checkpoint model loaded: ['lm_head.weight']" not in record.getMessage()


@contextlib.contextmanager
def quiet_training() -> Iterator[None]:
    """Hide the per-map progress bars of dataset preparation, two warnings that fire every step
    (transformers' token counter copying a tensor; checkpoint mtimes on some filesystems) and the
    tied lm_head's "missing key" on resume."""
    enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    trainer_log = logging.getLogger("transformers.trainer")
    trainer_log.addFilter(_tied_head_filter)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="To copy construct from a tensor")
        warnings.filterwarnings("ignore", message="mtime may not be reliable")
        try:
            yield
        finally:
            trainer_log.removeFilter(_tied_head_filter)
            if enabled:
                datasets.enable_progress_bars()


def _per_phase(values: list[Any], what: str) -> list[float]:
    vals = [float(v) for v in values]
    if not vals:
        raise UserError(f"student.{what} is empty", hint=f"give one value per phase, e.g. {what}=2,2,2")
    return (vals + [vals[-1]] * len(PHASES))[:len(PHASES)]  # a short list repeats its last value


def _as_one_run(phase_rows: dict[int, list[dict[str, Any]]], epochs: list[float],
                lrs: list[float]) -> tuple[dict[int, list[dict[str, Any]]], list[float], list[float]]:
    """The phases' own pairs as one shuffled phase, each seen as often as its phase's epochs ask,
    at the peak learning rate of the largest phase.

    Replayed copies (``replay: true`` rows of the mixes) are left out: replay guards separate
    phase runs against forgetting, and one run has nothing to forget. Measured on the seed data
    (same pairs, 20 minutes): with the copies 4,248 steps reached 41.5% / 11.0% / 17.8% (held-out
    iid / unseen families / real questions), without them 3,088 steps reached 43.0% / 14.0% / 18.7%.
    """
    own = {k: [r for r in phase_rows[k] if not r.get("replay")] for k in PHASES}
    rows = [r for k in PHASES for r in own[k]]
    passes = sum(len(own[k]) * epochs[i] for i, k in enumerate(PHASES))
    biggest = max(range(len(PHASES)), key=lambda i: len(phase_rows[PHASES[i]]))
    merged = {k: (rows if k == PHASES[0] else []) for k in PHASES}
    return merged, [passes / max(1, len(rows))] + epochs[1:], [lrs[biggest]] + lrs[1:]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _scratch_tokenizer(out: Path, rows: list[dict[str, Any]], spec: PromptSpec, schema: Any,
                       cfg: StudentConfig, state: PartialState) -> Any:
    """Train (once per data) or reload the scratch tokenizer; the main process trains first."""
    from transformers import PreTrainedTokenizerFast

    texts = [spec.prompt(r) + spec.example(r)["completion"] for r in rows]
    key = sha256_json({"texts": hashlib.sha256("\n".join(texts).encode()).hexdigest(),
                       "names": schema_names(schema), "max_length": cfg.max_length})
    tok_dir = out / "tokenizer"
    with state.main_process_first():
        meta = _read_json(tok_dir / "key.json")
        if meta and meta.get("key") == key:
            return PreTrainedTokenizerFast.from_pretrained(str(tok_dir))
        tok = train_tokenizer(texts, schema_names(schema), max_length=cfg.max_length)
        if state.is_main_process:
            tok.save_pretrained(str(tok_dir))
            atomic_write_json(tok_dir / "key.json", {"key": key, "vocab": len(tok)})
        return tok


def _make_model(kind: str, ref: str, tokenizer: Any, prev: Path | None, cfg: StudentConfig) -> Any:
    if kind == "scratch":
        if prev is not None:
            return AutoModelForCausalLM.from_pretrained(str(prev), dtype=torch.float32)
        return build_scratch_model(ref, tokenizer, cfg.max_length, cfg.seed)
    base, _ = load_pretrained(ref)
    return load_lora(base, prev) if prev is not None else add_lora(base, cfg.lora_r, cfg.lora_alpha,
                                                                   cfg.lora_targets)


def _sft_args(ckpt_dir: Path, cfg: StudentConfig, lr: float, max_steps: int, phase: int,
              cadence_steps: int | None = None) -> SFTConfig:
    """``cadence_steps``: the step count that sets warm-up, logging and checkpoint intervals (a
    re-planned shuffled run keeps its first plan's, so its checkpoints and LR warm-up stay as begun)."""
    bf16 = training_dtype() == torch.bfloat16
    cadence = cadence_steps or max_steps
    return SFTConfig(
        output_dir=str(ckpt_dir), max_steps=max_steps, per_device_train_batch_size=cfg.batch_size,
        learning_rate=lr, lr_scheduler_type="cosine", warmup_steps=max(1, round(0.05 * cadence)),
        logging_steps=max(1, min(10, cadence // 20)), save_strategy="steps",
        save_steps=max(1, -(-cadence // CHECKPOINTS_PER_PHASE)), save_total_limit=SAVE_TOTAL_LIMIT,
        report_to="none", bf16=bf16, fp16=False, gradient_checkpointing=False,
        max_length=cfg.max_length, completion_only_loss=True, packing=False,
        group_by_length=GROUP_BY_LENGTH, seed=cfg.seed + phase,
        include_num_input_tokens_seen="non_padding", dataloader_pin_memory=torch.cuda.is_available(),
    )


def _items(rows: list[dict[str, Any]], preds: list[str]) -> list[dict[str, Any]]:
    return [{"question": r["question"], "gold_sql": r["sql"], "pred_sql": p, "family": r.get("family", ""),
             "phase": r.get("phase"), "difficulty": r.get("difficulty")} for r, p in zip(rows, preds, strict=True)]


def _evaluate(model: Any, tokenizer: Any, spec: PromptSpec, splits: dict[str, list[dict[str, Any]]],
              executor: Any, schema: Any, cfg: StudentConfig, values: ValueIndex | None = None) -> dict[str, Any]:
    """Scores per split. With ``values`` the predictions are grounded first, as the runtime does
    (values, dates and numbers: schemadistill/grounding.py), and ``ungrounded`` keeps what the
    model alone scored. ``values=None``: grounding is off."""
    results: dict[str, Any] = {}
    for split, rows in splits.items():
        if not rows:
            results[split] = {"n": 0}
            continue
        raw = predict(model, tokenizer, spec, rows, max_new_tokens=cfg.max_new_tokens, batch_size=INFER_BATCH)
        grounded = [ground_sql(p, r["question"], values, schema.dialect, schema) if values is not None
                    else Grounded(p) for r, p in zip(rows, raw, strict=True)]

        results[split] = score_items(_items(rows, [g.sql for g in grounded]), executor, schema, schema.dialect)
        if values is not None:
            changed = sum(bool(g.changes) for g in grounded)
            alone = score_items(_items(rows, raw), executor, schema, schema.dialect) if changed else results[split]
            results[split]["grounding"] = {
                "changed": changed,
                "ungrounded": {k: alone.get(k) for k in ("execution_accuracy", "valid_sql_rate")}}
    return results


def _clean(out: Path) -> None:
    """--no-resume: forget every phase, tokenizer and model of an earlier run."""
    for child in list(out.glob("phase*")) + [out / "tokenizer", out / "model", out / "shuffled"]:
        shutil.rmtree(child, ignore_errors=True)
    for f in list(out.glob("eval_phase*.json")) + [out / "loss.png", out / "summary.json"]:
        f.unlink(missing_ok=True)


@dataclass
class _Run:
    """What every phase of one train() call shares."""

    out: Path
    cfg: StudentConfig
    kind: str
    ref: str
    tokenizer: Any
    spec: PromptSpec
    splits: dict[str, list[dict[str, Any]]]
    schema: Any
    executor: Any
    state: PartialState
    resume: bool
    callbacks: list[TrainerCallback]
    values: ValueIndex | None = None  # value grounding for the evaluations (None: off)
    # what choosing the preset (`scratch`) took from the budget, and the speed it measured when the
    # run trains the preset it probed
    spent_s: float = 0.0
    measured_tps: float | None = None


def _student_and_tokenizer(out: Path, cfg: StudentConfig, kind: str, ref: str, schema: Any,
                           rows: list[dict[str, Any]], state: PartialState) -> tuple[PromptSpec, Any, str]:
    """(prompt spec, tokenizer, a hash naming the tokenizer) for a scratch or pretrained student."""
    schema_text = render_schema_compact(schema)
    if kind == "scratch":
        spec = PromptSpec.create(cfg.prompt_schema, schema_text, chat=False, number_slots=cfg.number_slots)
        tokenizer = _scratch_tokenizer(out, rows, spec, schema, cfg, state)
        return spec, tokenizer, sha256_json(tokenizer.get_vocab())
    check_size(ref, load_config_only(ref))  # refuse > 3B before anything heavy
    tokenizer = load_pretrained_tokenizer(ref)
    spec = PromptSpec.create(cfg.prompt_schema, schema_text, chat=uses_chat_template(tokenizer),
                             number_slots=cfg.number_slots)
    return spec, tokenizer, ref


def train(run_dir: Path, cfg: StudentConfig, schema: Any, executor: Any, golden: Path | None = None,
          resume: bool = True, *, callbacks: list[TrainerCallback] | None = None) -> dict[str, Any]:
    """Train the student (``cfg.schedule``), evaluated after each phase; returns the run's figures (also summary.json).

    ``executor`` runs gold and predicted SQL for the evaluation after each phase; ``callbacks``
    are extra ``TrainerCallback``s added to every phase's trainer.
    """
    run_dir = Path(run_dir)
    out = run_dir / "student"
    state = PartialState()
    if not resume and state.is_main_process:
        _clean(out)
    state.wait_for_everyone()
    out.mkdir(parents=True, exist_ok=True)
    kind, ref = parse_student(cfg.name)
    epochs, lrs = _per_phase(cfg.epochs, "epochs"), _per_phase(cfg.learning_rate, "learning_rate")
    phase_rows = {k: read_phase(run_dir, k) for k in PHASES}
    if cfg.schedule == "shuffled":
        phase_rows, epochs, lrs = _as_one_run(phase_rows, epochs, lrs)
    elif cfg.schedule != "phases":
        raise UserError(f"unknown student.schedule '{cfg.schedule}'", hint="use phases or shuffled")
    splits = {s: sample_rows(read_heldout(run_dir, s), cfg.eval_max, cfg.seed) for s in HELDOUT_SPLITS}
    if golden is not None:
        splits["golden"] = read_golden(Path(golden))
    spec, tokenizer, tok_hash = _student_and_tokenizer(out, cfg, kind, ref, schema,
                                                       [r for k in PHASES for r in phase_rows[k]], state)
    values = ValueIndex.from_database(executor, schema) if cfg.ground_values and executor is not None else None
    if values is not None:
        from schemadistill.pipeline import load_run_filters

        values.add_filters(load_run_filters(run_dir), schema.dialect)
    data = {k: build_examples(phase_rows[k], spec, tokenizer, cfg.max_length) for k in PHASES}
    dropped = sum(d[2] for d in data.values())
    if dropped:
        console.print(f"[yellow]warning:[/yellow] {dropped} training pairs are longer than "
                      f"student.max_length={cfg.max_length} tokens and were left out")
    if not any(d[0] for d in data.values()):
        raise UserError("no training pair fits into student.max_length",
                        hint="raise student.max_length, or use student.prompt_schema=none")
    tokens = [int(sum(data[k][1]) * epochs[i]) for i, k in enumerate(PHASES)]

    def run_key(cfg: StudentConfig) -> str:
        # a phase's key chains its data and settings with the phase before: change one, redo from there
        return sha256_json({"settings": {k: getattr(cfg, k) for k in TRAIN_KEYS}, "tokenizer": tok_hash,
                            "prompt": spec.to_json()})

    key, choice = run_key(cfg), None
    if kind == "scratch" and ref == AUTO_PRESET:
        choice = _choose_preset(out, cfg, tokenizer, data, epochs, lrs, tokens, key, resume, state)
        ref = choice["preset"]
        cfg = replace(cfg, name=f"scratch:{ref}")  # trained, keyed and reported as that preset
        key = run_key(cfg)
    run = _Run(out, cfg, kind, ref, tokenizer, spec, splits, schema, executor, state, resume, callbacks or [], values)
    if choice is not None:
        run.spent_s = choice.get("probe_seconds", 0.0) if choice.get("new") else 0.0
        run.measured_tps = choice.get("xs_tokens_per_s") if ref == DEFAULT_PRESET else None
    if cfg.schedule == "shuffled":
        records, histories, prev = _train_shuffled(run, data[PHASES[0]], sha256_json(phase_rows[PHASES[0]]),
                                                    epochs[0], lrs[0], tokens[0], key)
    else:
        records, histories, prev = _train_phases(run, data, phase_rows, epochs, lrs, tokens, key)

    if prev is None:
        raise UserError("no phase had training pairs", hint="check RUN/curriculum/train_phase*.jsonl")
    summary: dict[str, Any] = {}
    if state.is_main_process:
        _score_new_splits(run, max(r["phase"] for r in records if r.get("trained")), prev)
        summary = _finish(out, kind, ref, prev, tokenizer, spec, schema, cfg, records, histories, choice)
    state.wait_for_everyone()
    return summary


def _choose_preset(out: Path, cfg: StudentConfig, tokenizer: Any,
                   data: dict[int, tuple[list[dict[str, Any]], list[int], int]], epochs: list[float],
                   lrs: list[float], tokens: list[int], key: str, resume: bool, state: PartialState
                   ) -> dict[str, Any]:
    """``student.name=scratch``: xs where the budget affords it ``budget.AUTO_MIN_STEPS`` optimizer
    steps (or all its epochs ask for), else xxs (student/budget.py says why).

    A probe of xs on the run's examples measures the speed, as a phase's plan does; its seconds
    come out of the budget, and a run that keeps xs plans with the speed it read. The choice is
    kept in ``student/preset.json``, so a resumed run trains the preset it began with. Without a
    budget (``max_minutes <= 0``, several processes) nothing is measured and xs trains.
    """
    path = out / "preset.json"
    kept = _read_json(path)
    if resume and kept and kept.get("key") == key:
        console.print(f"[dim]= student preset: {kept['preset']} (chosen before, {path.name})[/dim]")
        return kept
    planned = sum(budget.plan_steps(len(data[k][0]), epochs[i], cfg.batch_size, state.num_processes)
                  for i, k in enumerate(PHASES))
    choice: dict[str, Any] = {"key": key, "preset": DEFAULT_PRESET, "planned_steps": planned,
                              "min_steps": budget.AUTO_MIN_STEPS}
    if cfg.max_minutes <= 0 or state.num_processes > 1:
        choice["reason"] = "no time budget to fit"
    else:
        examples = [e for k in PHASES for e in data[k][0]]
        model = build_scratch_model(DEFAULT_PRESET, tokenizer, cfg.max_length, cfg.seed)
        tps, probe_s = probe_tokens_per_s(model, tokenizer, examples, cfg, max(lrs))
        del model
        steps = (budget.capped_steps(planned, sum(tokens), max(0.0, cfg.max_minutes * 60 - probe_s), tps)
                 if tps else planned)
        enough = steps >= min(planned, budget.AUTO_MIN_STEPS)
        choice.update(preset=DEFAULT_PRESET if enough else SMALL_PRESET, xs_tokens_per_s=round(tps or 0.0, 1),
                      xs_steps=steps, probe_seconds=round(probe_s, 1),
                      reason=f"the budget affords {DEFAULT_PRESET} {steps} steps at {tps or 0:.0f} tokens/s "
                             f"({'at least' if enough else 'fewer than'} {min(planned, budget.AUTO_MIN_STEPS)})")
    console.print(f"> student preset: {choice['preset']}, {choice['reason']} "
                  f"(student.name=scratch:{DEFAULT_PRESET} or :{SMALL_PRESET} fixes it)")
    if state.is_main_process:
        atomic_write_json(path, choice)
    state.wait_for_everyone()
    return {**choice, "new": True}


def _plan_line(name: str, n: int, n_dropped: int, tokens: int, plan: dict[str, Any]) -> str:
    return (f"[bold]> {name}[/bold]: {n} pairs ({n_dropped} too long), {tokens} tokens x epochs, "
            f"{plan['max_steps']}/{plan['planned_steps']} steps"
            + (f", budget {plan['budget_s'] / 60:.1f} min at ~{plan['tokens_per_s']:.0f} tok/s"
               if plan.get("budget_s") else ""))


def _train_phases(run: _Run, data: dict[int, tuple[list[dict[str, Any]], list[int], int]],
                  phase_rows: dict[int, list[dict[str, Any]]], epochs: list[float], lrs: list[float],
                  tokens: list[int], key: str) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]],
                                                        Path | None]:
    """``schedule=phases``: one Trainer run per phase, each from the weights the one before left."""
    out, cfg, state = run.out, run.cfg, run.state
    prev: Path | None = None
    used_s, measured_tps = run.spent_s, run.measured_tps
    records: list[dict[str, Any]] = []
    histories: dict[int, list[dict[str, Any]]] = {}
    for i, k in enumerate(PHASES):
        examples, _, n_dropped = data[k]
        key = sha256_json({"prev": key, "rows": sha256_json(phase_rows[k]), "epochs": epochs[i], "lr": lrs[i]})
        phase_dir = out / f"phase{k}"
        done = _read_json(phase_dir / "done.json")
        if run.resume and done and done.get("key") == key:
            console.print(f"[dim]= phase {k}: done, skipped[/dim]")
            histories[k] = _read_json(phase_dir / "loss.json") or []  # type: ignore[assignment]
        else:
            plan = _read_json(phase_dir / "plan.json")
            if not (run.resume and plan and plan.get("key") == key):
                plan = None  # settings or data changed: the old checkpoints are not this phase's
                if state.is_main_process:
                    shutil.rmtree(phase_dir, ignore_errors=True)
            state.wait_for_everyone()
            phase_dir.mkdir(parents=True, exist_ok=True)
            if examples:
                model = _make_model(run.kind, run.ref, run.tokenizer, prev, cfg)
                if plan is None:
                    plan = _plan(model, cfg, run.tokenizer, examples, lrs[i], epochs[i], tokens, i, used_s,
                                 measured_tps, state, key)
                    if state.is_main_process:
                        atomic_write_json(phase_dir / "plan.json", plan)
                console.print(_plan_line(f"phase {k}", len(examples), n_dropped, tokens[i], plan))
                done, histories[k] = _train_phase(run, k, model, examples, lrs[i], plan)
                done.update(pairs=len(examples), dropped_too_long=n_dropped)
                del model  # the next phase reloads from final/; two models at once would double memory
            else:
                done = {"phase": k, "trained": False, "note": "no training pairs", "train_seconds": 0.0}
            done["key"] = key
            if state.is_main_process:
                atomic_write_json(phase_dir / "done.json", done)
                shutil.rmtree(phase_dir / "checkpoints", ignore_errors=True)  # final/ holds the weights
            state.wait_for_everyone()
        records.append(done)
        used_s += done.get("train_seconds", 0.0)
        measured_tps = done.get("tokens_per_s") or measured_tps
        prev = phase_dir / "final" if done.get("trained") else prev
    return records, histories, prev


def segment_bounds(max_steps: int, k: int) -> tuple[int, int]:
    """Steps ``(first, stop]`` of segment ``k`` (1-based) of a shuffled run of ``max_steps`` steps."""
    n = len(PHASES)
    return round(max_steps * (k - 1) / n), round(max_steps * k / n)


def plan_segment(plan: dict[str, Any], k: int) -> tuple[int, int]:
    """Segment ``k`` of a shuffled run's plan: equal thirds, or after a re-plan the first third of
    the old step count and two halves of the rest (``plan["stops"]``)."""
    stops = plan.get("stops")
    if not stops:
        return segment_bounds(plan["max_steps"], k)
    return (stops[k - 2] if k > 1 else 0), stops[k - 1]


def _replan(plan: dict[str, Any], first_segment: dict[str, Any]) -> bool:
    """Fit the rest of a shuffled run to its budget at the speed segment 1 ran; True when it re-planned
    now (written down even if the step count stays, so it happens once)."""
    if plan.get("replanned") or "tokens" not in plan:
        return False
    stop1 = plan_segment(plan, 1)[1]
    new = budget.replanned_steps(plan, stop1, first_segment.get("train_seconds") or 0.0,
                                 first_segment.get("tokens_per_s") or 0.0)
    plan["replanned"] = {"after_step": stop1, "tokens_per_s": first_segment.get("tokens_per_s"),
                         "from_max_steps": plan["max_steps"]}
    if new != plan["max_steps"]:
        plan["stops"] = [stop1, stop1 + (new - stop1) // 2, new]
        plan["max_steps"] = new
    return True


def _cut_short(plan: dict[str, Any], k: int, done: dict[str, Any]) -> bool:
    """Segment ``k`` ended before its last step (the time limit stopped it: the run's budget is
    spent): the run ends where it stopped, so the later segments start there with no steps left
    and only save and evaluate those weights. True when it cut the plan now. Without this a
    busy machine's segment 2, stopped at step 2,640 of 2,672, left segment 3 looking for a
    checkpoint at 2,672 that was never written, and the student stage failed after 20 minutes."""
    stops = [plan_segment(plan, j)[1] for j in PHASES]
    step = done.get("global_step")
    if not isinstance(step, int) or step >= stops[k - 1]:
        return False
    plan["stops"] = stops[:k - 1] + [step] * (len(PHASES) - k + 1)
    plan["max_steps"] = step
    plan["cut_short"] = {"segment": k, "at_step": step, "from_max_steps": stops[-1]}
    return True


def _replan_last(plan: dict[str, Any], records: list[dict[str, Any]]) -> bool:
    """Before segment 3: fit it to what is left at the speed segment 2 ran. Segment 1's speed alone
    misleads when something else used the CPU then (a run planned 2,774 steps at 3,751 tokens/s
    measured with other jobs running, then ran at 5,817 and ended 7 minutes early)."""
    if plan.get("replanned_last") or "tokens" not in plan or len(records) != 2:
        return False
    stop1, stop2 = plan_segment(plan, 1)[1], plan_segment(plan, 2)[1]
    used = sum(r.get("train_seconds") or 0.0 for r in records)
    new = budget.replanned_steps(plan, stop2, used, records[-1].get("tokens_per_s") or 0.0, segments_left=1)
    plan["replanned_last"] = {"after_step": stop2, "tokens_per_s": records[-1].get("tokens_per_s"),
                              "from_max_steps": plan["max_steps"]}
    if new != plan["max_steps"]:
        plan["stops"] = [stop1, stop2, new]
        plan["max_steps"] = new
    return True


def _train_shuffled(run: _Run, data: tuple[list[dict[str, Any]], list[int], int], rows_hash: str, passes: float,
                    lr: float, tokens: int, key: str) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]],
                                                               Path | None]:
    """``schedule=shuffled``: one Trainer schedule over every phase's pairs, cut into three segments.

    Segment k ends at k/3 of the run's steps; the next one resumes its checkpoint (weights,
    optimizer, LR schedule, data order), so the three are one uninterrupted run that is saved
    and evaluated at each third. Each segment writes what a phase writes (``phase{k}/final``,
    ``done.json``, ``loss.json`` with steps counted from the segment's start, ``eval_phase{k}.json``),
    so reports, export and resume read both schedules alike. Shared by the segments, under
    ``student/shuffled/``: ``plan.json`` (the run's step count and budget) and ``checkpoints/``.
    """
    out, cfg, state = run.out, run.cfg, run.state
    examples, _, n_dropped = data
    key = sha256_json({"prev": key, "rows": rows_hash, "epochs": passes, "lr": lr, "schedule": "shuffled"})
    shared = out / "shuffled"
    plan = _read_json(shared / "plan.json")
    if not (run.resume and plan and plan.get("key") == key):
        plan = None  # settings or data changed: no segment or checkpoint of the old run is this one's
        if state.is_main_process:
            for old in [shared, *(out / f"phase{k}" for k in PHASES)]:
                shutil.rmtree(old, ignore_errors=True)
    state.wait_for_everyone()
    prev: Path | None = None
    records: list[dict[str, Any]] = []
    histories: dict[int, list[dict[str, Any]]] = {}
    for k in PHASES:
        seg_key = sha256_json({"run": key, "segment": k})
        phase_dir = out / f"phase{k}"
        done = _read_json(phase_dir / "done.json")
        if run.resume and done and done.get("key") == seg_key:
            console.print(f"[dim]= phase {k}: done, skipped (segment {k}/{len(PHASES)} of the shuffled run)[/dim]")
            histories[k] = _read_json(phase_dir / "loss.json") or []  # type: ignore[assignment]
        else:
            phase_dir.mkdir(parents=True, exist_ok=True)
            model = _make_model(run.kind, run.ref, run.tokenizer, prev, cfg)
            if plan is None:
                plan = _plan(model, cfg, run.tokenizer, examples, lr, passes, [tokens], 0, run.spent_s,
                             run.measured_tps, state, key)
                # every segment needs a step of its own
                plan["max_steps"] = max(len(PHASES), plan["max_steps"])
                if state.is_main_process:
                    atomic_write_json(shared / "plan.json", plan)
                console.print(_plan_line("shuffled run (3 segments)", len(examples), n_dropped, tokens, plan))
            first, stop = plan_segment(plan, k)
            console.print(f"[bold]> phase {k}[/bold]: steps {first + 1}-{stop} of the shuffled run" if stop > first
                          else f"[bold]> phase {k}[/bold]: no steps left in the shuffled run (its weights are "
                               f"step {stop}'s)")
            done, histories[k] = _train_phase(run, k, model, examples, lr, plan, segment=(first, stop))
            done.update(pairs=len(examples), dropped_too_long=n_dropped,
                        note=f"steps {first + 1}-{stop} of one shuffled run over all phases' pairs")
            del model
            done["key"] = seg_key
            if state.is_main_process:
                atomic_write_json(phase_dir / "done.json", done)
            state.wait_for_everyone()
        records.append(done)
        prev = phase_dir / "final"
        if plan is not None and _cut_short(plan, k, done):
            if state.is_main_process:
                atomic_write_json(shared / "plan.json", plan)
            console.print(f"  [yellow]phase {k} stopped at step {plan['cut_short']['at_step']}, before its last "
                          "step: the time budget is spent, so the run ends there (later phases keep these weights)"
                          "[/yellow]")
            state.wait_for_everyone()
        elif k == PHASES[0] and plan is not None and _replan(plan, done):
            if state.is_main_process:
                atomic_write_json(shared / "plan.json", plan)
            console.print(f"  re-planned at {done.get('tokens_per_s')} tok/s measured: "
                          f"{plan['replanned']['from_max_steps']} -> {plan['max_steps']} steps")
            state.wait_for_everyone()
        elif k == PHASES[1] and plan is not None and _replan_last(plan, records):
            if state.is_main_process:
                atomic_write_json(shared / "plan.json", plan)
            if plan["replanned_last"]["from_max_steps"] != plan["max_steps"]:
                console.print(f"  re-planned at {done.get('tokens_per_s')} tok/s measured: "
                              f"{plan['replanned_last']['from_max_steps']} -> {plan['max_steps']} steps")
            state.wait_for_everyone()
    if state.is_main_process:
        shutil.rmtree(shared / "checkpoints", ignore_errors=True)  # phase3/final holds the weights
    return records, histories, prev


def last_complete_checkpoint(ckpt_dir: Path) -> str | None:
    """The newest checkpoint the Trainer finished writing, or None.

    ``trainer_state.json`` is the last file a checkpoint save writes, so a kill mid-save leaves a
    folder without it; transformers' ``get_last_checkpoint`` would pick that torn folder and every
    later resume would fail. Torn folders are removed (they hold nothing a resume can use).
    """
    if not ckpt_dir.is_dir():
        return None
    while (last := get_last_checkpoint(str(ckpt_dir))) is not None:
        if (Path(last) / "trainer_state.json").is_file():
            return last
        console.print(f"  [yellow]checkpoint {Path(last).name} was cut off mid-save: removed, resuming from the "
                      "one before it[/yellow]")
        shutil.rmtree(last)
    return None


class _SegmentEnd(TrainerCallback):
    """Saves a checkpoint and stops at the segment's last step (or wherever another callback,
    the time limit, stopped it), so the next segment resumes exactly there."""

    def __init__(self, stop: int):
        self.stop = stop

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step >= self.stop or control.should_training_stop:
            control.should_save = control.should_training_stop = True


def _checkpoint_step(path: str | None) -> int:
    return int(Path(path).name.rsplit("-", 1)[-1]) if path else 0


def _train_phase(run: _Run, k: int, model: Any, examples: list[dict[str, Any]], lr: float,
                 plan: dict[str, Any], segment: tuple[int, int] | None = None
                 ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One SFTTrainer run (resumed from its last checkpoint when there is one), saved and evaluated.

    ``segment=(first, stop)``: steps ``first+1..stop`` of a shuffled run whose checkpoints are shared
    by its segments (:func:`_train_shuffled`); a segment always continues the latest of them.
    """
    phase_dir = run.out / f"phase{k}"
    ckpt_dir = run.out / "shuffled" / "checkpoints" if segment else phase_dir / "checkpoints"
    first, stop = segment or (0, plan["max_steps"])
    first_planned, planned = segment_bounds(plan["planned_steps"], k) if segment else (0, plan["planned_steps"])
    limit = budget.TimeLimit(plan.get("budget_s") if run.state.num_processes == 1 else None)
    start, speed, others = _StartStep(), budget.Throughput(), budget.OthersCpu()
    busy: float | None = None
    last = last_complete_checkpoint(ckpt_dir) if run.resume or segment else None
    if segment and first > 0 and _checkpoint_step(last) < first:
        raise UserError(f"the shuffled run's checkpoint at step {first} is missing", file=ckpt_dir,
                        hint="start the student stage over with --no-resume")
    if last and _checkpoint_step(last) > first:
        console.print(f"  resuming phase {k} from {Path(last).name}")
    seconds = 0.0
    if segment and last and _checkpoint_step(last) >= stop:
        # killed after the segment's last save but before its record: the weights are all there
        model = _make_model(run.kind, run.ref, run.tokenizer, Path(last), run.cfg)
        model.save_pretrained(str(phase_dir / "final"))
        run.tokenizer.save_pretrained(str(phase_dir / "final"))
        trained_model, global_step, stopped, seen = model, stop, False, 0
        log_history = (_read_json(Path(last) / "trainer_state.json") or {}).get("log_history", [])
        start.step = stop
    else:
        # the segment's end last: it saves wherever any callback before it stopped the run
        callbacks = [limit, start, speed, *run.callbacks, *([_SegmentEnd(stop)] if segment else [])]
        with quiet_training():
            # a shuffled run's segments share one seed: they are one run
            args = _sft_args(ckpt_dir, run.cfg, lr, plan["max_steps"], 1 if segment else k,
                             (plan.get("replanned") or {}).get("from_max_steps"))
            trainer = ResumableSFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(examples),
                                          processing_class=run.tokenizer, callbacks=callbacks)
            if trainer.pop_callback(ProgressCallback) is not None:  # absent under disable_tqdm
                trainer.add_callback(LossInProgressBar())
            t0 = time.perf_counter()
            others.start()
            trainer.train(resume_from_checkpoint=last)
            seconds = time.perf_counter() - t0
            busy = others.stop()
        trainer.save_model(str(phase_dir / "final"))
        trained_model, global_step, stopped = trainer.model, trainer.state.global_step, limit.stopped
        log_history, seen = trainer.state.log_history, trainer.state.num_input_tokens_seen - start.tokens
        del trainer
    tps = speed.tokens_per_s or (seen / seconds if seconds > 0 else None)
    # a segment's history counts its steps from its own start, as a phase's does
    history = [{**h, "step": h["step"] - first} for h in loss_history(log_history) if h["step"] > first]
    done: dict[str, Any] = {
        "phase": k, "trained": True, "global_step": global_step, "steps": global_step - first,
        "max_steps": stop - first, "planned_steps": planned - first_planned,
        "resumed_from_step": max(0, start.step - first), "stopped_by_time": stopped,
        "train_seconds": round(seconds, 2), "tokens_per_s": round(tps, 1) if tps else None,
        "final_loss": history[-1]["loss"] if history else None, "others_cpu_share": busy,
        "busy_machine": bool(busy is not None and busy > budget.BUSY_SHARE and plan.get("budget_s"))}
    if done["busy_machine"]:
        console.print(f"[yellow]warning:[/yellow] other processes used {busy:.0%} of the machine's CPU while "
                      f"phase {k} trained: its time budget bought fewer steps than an idle machine gives")
    if segment:
        done["segment"] = {"first_step": first, "stop_step": stop, "run_steps": plan["max_steps"]}
    if run.state.is_main_process:
        save_history(phase_dir / "loss.json", history)
        plot_losses(phase_dir / "loss.png", {k: history}, title=f"phase {k} loss")
        evals = _evaluate(trained_model, run.tokenizer, run.spec, run.splits, run.executor, run.schema, run.cfg,
                          run.values)
        atomic_write_json(run.out / f"eval_phase{k}.json", evals)
        done["execution_accuracy"] = {s: r.get("execution_accuracy") for s, r in evals.items()}
    del trained_model, model
    gc.collect()
    return done, history


def _score_new_splits(run: _Run, k: int, weights: Path) -> None:
    """A split asked for after the last phase was trained (``GOLDEN=`` added to a finished run):
    score the final weights on it now, instead of leaving it silently out of eval_phase{k}.json."""
    path = run.out / f"eval_phase{k}.json"
    evals = _read_json(path) or {}
    missing = {s: rows for s, rows in run.splits.items() if s not in evals}
    if not missing:
        return
    console.print(f"  scoring the phase {k} weights on {', '.join(missing)} (not asked for when it was trained)")
    model = _make_model(run.kind, run.ref, run.tokenizer, weights, run.cfg)
    evals.update(_evaluate(model, run.tokenizer, run.spec, missing, run.executor, run.schema, run.cfg,
                               run.values))
    atomic_write_json(path, evals)
    del model
    gc.collect()


def probe_tokens_per_s(model: Any, tokenizer: Any, examples: list[dict[str, Any]], cfg: StudentConfig,
                       lr: float) -> tuple[float | None, float]:
    """(tokens/s of real optimizer steps, seconds the probe took): see student/budget.py.

    The phase's own Trainer settings on :func:`budget.probe_sample` of its examples, two passes,
    the second timed, nothing saved; the trainable weights are restored afterwards (the optimizer
    state is the probe's own and is dropped), and the real Trainer reseeds every RNG when built.
    """
    t0 = time.perf_counter()
    saved = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    sample = [examples[i] for i in budget.probe_sample(len(examples), cfg.batch_size, cfg.seed)]
    per_pass = -(-len(sample) // cfg.batch_size)
    speed = budget.Throughput(warmup=per_pass)
    with tempfile.TemporaryDirectory() as tmp, quiet_training():
        args = _sft_args(Path(tmp), cfg, lr, 2 * per_pass, 1)
        args.save_strategy, args.disable_tqdm, args.logging_steps = "no", True, 10**9
        trainer = ResumableSFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(sample),
                                      processing_class=tokenizer, callbacks=[speed])
        trainer.pop_callback(PrinterCallback)  # it prints the final metrics dict
        trainer.train()
        del trainer
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in saved:
                p.copy_(saved[n])
            p.grad = None
    gc.collect()
    return speed.tokens_per_s, time.perf_counter() - t0


def _plan(model: Any, cfg: StudentConfig, tokenizer: Any, examples: list[dict[str, Any]], lr: float,
          epochs: float, tokens: list[int], i: int, used_s: float, measured_tps: float | None,
          state: PartialState, key: str) -> dict[str, Any]:
    planned = budget.plan_steps(len(examples), epochs, cfg.batch_size, state.num_processes)
    plan: dict[str, Any] = {"key": key, "planned_steps": planned, "max_steps": planned, "budget_s": None,
                            "tokens_per_s": None, "tokens_per_s_source": None}
    if cfg.max_minutes <= 0 or state.num_processes > 1:
        return plan
    # phase 1 is measured already only when the preset choice probed this very model
    tps, source, probe_s = measured_tps, "previous phase" if i else "the preset choice's probe", 0.0
    if tps is None:
        tps, probe_s = probe_tokens_per_s(model, tokenizer, examples, cfg, lr)
        source = "probe"
    budget_s = budget.phase_budgets_s(cfg.max_minutes * 60, used_s + probe_s, tokens, i)
    plan.update(tokens=tokens[i], budget_s=round(budget_s, 1), tokens_per_s=round(tps, 1) if tps else None,
                tokens_per_s_source=source, probe_seconds=round(probe_s, 1),
                max_steps=budget.capped_steps(planned, tokens[i], budget_s, tps) if tps else planned)
    return plan


def _chat_wrap(tokenizer: Any) -> dict[str, str]:
    """The chat template around one user turn, as text: input = prefix + prompt + suffix."""
    marker = "\x00PROMPT\x00"
    text = tokenizer.apply_chat_template([{"role": "user", "content": marker}], tokenize=False,
                                         add_generation_prompt=True)
    prefix, _, suffix = text.partition(marker)
    return {"prefix": prefix, "suffix": suffix}


def _finish(out: Path, kind: str, ref: str, prev: Path, tokenizer: Any, spec: PromptSpec, schema: Any,
            cfg: StudentConfig, records: list[dict[str, Any]], histories: dict[int, list[dict[str, Any]]],
            choice: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the final plain HF model (LoRA merged), its tokenizer and student_config.json."""
    model_dir = out / "model"
    shutil.rmtree(model_dir, ignore_errors=True)
    if kind == "scratch":
        model = AutoModelForCausalLM.from_pretrained(str(prev), dtype=torch.float32)
    else:
        base, _ = load_pretrained(ref)
        model = load_lora(base, prev).merge_and_unload()
    model.save_pretrained(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    params = count_params(model)
    evals = _read_json(out / f"eval_phase{max(r['phase'] for r in records if r.get('trained'))}.json") or {}
    atomic_write_json(model_dir / CONFIG_NAME, {
        "student": cfg.name, "kind": kind, "base": ref, "params": params, "prompt": spec.to_json(),
        "prompt_schema": spec.mode, "dialect": schema.dialect, "schema_fingerprint": schema.fingerprint,
        "stop": ";", "max_new_tokens": cfg.max_new_tokens, "max_length": cfg.max_length,
        # how a runtime without transformers builds the model input from the rendered prompt
        "input": {"add_special_tokens": not spec.chat, "chat_wrap": _chat_wrap(tokenizer) if spec.chat else None},
        "config": asdict(cfg),
    })
    plot_losses(out / "loss.png", histories)
    trained = [r for r in records if r.get("trained")]
    summary = {
        "student": cfg.name, "kind": kind, "params": params, "model_dir": str(model_dir),
        "phases": len(trained), "schedule": cfg.schedule,
        "steps": sum(r.get("steps", r.get("global_step", 0)) for r in trained),
        "train_seconds": round(sum(r.get("train_seconds", 0.0) for r in trained), 2),
        "tokens_per_s": trained[-1].get("tokens_per_s") if trained else None,
        "final_loss": trained[-1].get("final_loss") if trained else None,
        "hardware": hardware(),  # tokens/s, and so the steps a time budget buys, follow the machine
        # `scratch`: the preset the machine's speed picked, and what the probe measured
        "preset_choice": {k: v for k, v in choice.items() if k not in ("key", "new")} if choice else None,
        **{f"{s}_execution_accuracy": r.get("execution_accuracy") for s, r in evals.items()},
    }
    atomic_write_json(out / "summary.json", {**summary, "phase_records": records})
    return summary
