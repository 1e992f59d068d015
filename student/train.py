"""Phase-by-phase student training with TRL, evaluated by execution match after each phase.

    schemadistill train runs/ecommerce [--student scratch:s] [--golden golden.jsonl] [--no-resume]
    accelerate launch -m schemadistill.cli train runs/ecommerce     # several GPUs, same code

Reads ``RUN/curriculum/train_phase{1,2,3}.jsonl`` (and the held-out splits), writes under
``RUN/student/``::

    tokenizer/                 scratch students: byte-level BPE trained on the training pairs
    phase{k}/checkpoints/      Trainer checkpoints while the phase runs (removed once it is done)
    phase{k}/final/            the phase's weights (full model, or the LoRA adapter)
    phase{k}/plan.json         step count and time budget (kept so a resume keeps its schedule)
    phase{k}/loss.json, .png   loss history and curve;  phase{k}/done.json: the phase's record
    eval_phase{k}.json         {"heldout_iid": {...}, "heldout_family": {...}, "golden": {...}}
    model/                     final plain HF model (LoRA merged) + tokenizer + student_config.json
    loss.png, summary.json

One ``SFTTrainer`` run per phase, each starting from the previous phase's weights, on
prompt-completion examples with the loss on the completion only. A finished phase (its
``done.json`` records a hash of its data, settings and the phase before) is skipped on the
next call; an interrupted one continues from its last checkpoint. Packing stays off and
examples are grouped by length instead (measured in student/bench.py's docstring: packing was
~3x slower per token on CPU). Examples are shuffled inside a phase: the curriculum's easy-to-hard
order within a mix is not kept (docs/DESIGN.md: ordering alone does not beat shuffling; the
separate phases with replay carry the curriculum). The time budget is explained in
student/budget.py; it covers the training steps, not the evaluations after each phase.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import shutil
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import datasets
import torch
from accelerate import PartialState
from datasets import Dataset
from rich.console import Console
from transformers import AutoModelForCausalLM, TrainerCallback
from transformers.trainer_utils import get_last_checkpoint
from trl import SFTConfig, SFTTrainer

from schemadistill.config import StudentConfig
from schemadistill.errors import UserError
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
from student.model import (
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


class _StartStep(TrainerCallback):
    """Remembers where a (possibly resumed) run began: global step and tokens already seen."""

    step = 0
    tokens = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.step, self.tokens = state.global_step, state.num_input_tokens_seen


@contextlib.contextmanager
def quiet_training() -> Iterator[None]:
    """Hide the per-map progress bars of dataset preparation and two warnings that fire every
    step (transformers' token counter copying a tensor; checkpoint mtimes on some filesystems)."""
    enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="To copy construct from a tensor")
        warnings.filterwarnings("ignore", message="mtime may not be reliable")
        try:
            yield
        finally:
            if enabled:
                datasets.enable_progress_bars()


def _per_phase(values: list[Any], what: str) -> list[float]:
    vals = [float(v) for v in values]
    if not vals:
        raise UserError(f"student.{what} is empty", hint=f"give one value per phase, e.g. {what}=2,2,2")
    return (vals + [vals[-1]] * len(PHASES))[:len(PHASES)]  # a short list repeats its last value


def _as_one_run(phase_rows: dict[int, list[dict[str, Any]]], epochs: list[float],
                lrs: list[float]) -> tuple[dict[int, list[dict[str, Any]]], list[float], list[float]]:
    """The phases' pairs as one shuffled phase with as many example-passes (so as many steps) as
    the phases would take together, at the peak learning rate of the largest phase."""
    rows = [r for k in PHASES for r in phase_rows[k]]
    passes = sum(len(phase_rows[k]) * epochs[i] for i, k in enumerate(PHASES))
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


def _sft_args(ckpt_dir: Path, cfg: StudentConfig, lr: float, max_steps: int, phase: int) -> SFTConfig:
    bf16 = training_dtype() == torch.bfloat16
    return SFTConfig(
        output_dir=str(ckpt_dir), max_steps=max_steps, per_device_train_batch_size=cfg.batch_size,
        learning_rate=lr, lr_scheduler_type="cosine", warmup_steps=max(1, round(0.05 * max_steps)),
        logging_steps=max(1, min(10, max_steps // 20)), save_strategy="steps",
        save_steps=max(1, -(-max_steps // CHECKPOINTS_PER_PHASE)), save_total_limit=SAVE_TOTAL_LIMIT,
        report_to="none", bf16=bf16, fp16=False, gradient_checkpointing=False,
        max_length=cfg.max_length, completion_only_loss=True, packing=False,
        group_by_length=GROUP_BY_LENGTH, seed=cfg.seed + phase,
        include_num_input_tokens_seen="non_padding", dataloader_pin_memory=torch.cuda.is_available(),
    )


def _evaluate(model: Any, tokenizer: Any, spec: PromptSpec, splits: dict[str, list[dict[str, Any]]],
              executor: Any, schema: Any, cfg: StudentConfig) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for split, rows in splits.items():
        if not rows:
            results[split] = {"n": 0}
            continue
        preds = predict(model, tokenizer, spec, rows, max_new_tokens=cfg.max_new_tokens, batch_size=INFER_BATCH)
        items = [{"question": r["question"], "gold_sql": r["sql"], "pred_sql": p, "family": r.get("family", ""),
                  "phase": r.get("phase"), "difficulty": r.get("difficulty")} for r, p in zip(rows, preds, strict=True)]
        results[split] = score_items(items, executor, schema, schema.dialect)
    return results


def _clean(out: Path) -> None:
    """--no-resume: forget every phase, tokenizer and model of an earlier run."""
    for child in list(out.glob("phase*")) + [out / "tokenizer", out / "model"]:
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
    """Train the student through the three phases; returns the run's figures (also summary.json).

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
    run = _Run(out, cfg, kind, ref, tokenizer, spec, splits, schema, executor, state, resume, callbacks or [])

    data = {k: build_examples(phase_rows[k], spec, tokenizer, cfg.max_length) for k in PHASES}
    dropped = sum(d[2] for d in data.values())
    if dropped:
        console.print(f"[yellow]warning:[/yellow] {dropped} training pairs are longer than "
                      f"student.max_length={cfg.max_length} tokens and were left out")
    if not any(d[0] for d in data.values()):
        raise UserError("no training pair fits into student.max_length",
                        hint="raise student.max_length, or use student.prompt_schema=none")
    tokens = [int(sum(data[k][1]) * epochs[i]) for i, k in enumerate(PHASES)]
    # a phase's key chains its data and settings with the phase before: change one, redo from there
    key = sha256_json({"settings": {k: getattr(cfg, k) for k in TRAIN_KEYS}, "tokenizer": tok_hash,
                       "prompt": spec.to_json()})
    prev: Path | None = None
    used_s, measured_tps = 0.0, None
    records: list[dict[str, Any]] = []
    histories: dict[int, list[dict[str, Any]]] = {}
    for i, k in enumerate(PHASES):
        examples, lengths, n_dropped = data[k]
        key = sha256_json({"prev": key, "rows": sha256_json(phase_rows[k]), "epochs": epochs[i], "lr": lrs[i]})
        phase_dir = out / f"phase{k}"
        done = _read_json(phase_dir / "done.json")
        if resume and done and done.get("key") == key:
            console.print(f"[dim]= phase {k}: done, skipped[/dim]")
            histories[k] = _read_json(phase_dir / "loss.json") or []  # type: ignore[assignment]
        else:
            plan = _read_json(phase_dir / "plan.json")
            if not (resume and plan and plan.get("key") == key):
                plan = None  # settings or data changed: the old checkpoints are not this phase's
                if state.is_main_process:
                    shutil.rmtree(phase_dir, ignore_errors=True)
            state.wait_for_everyone()
            phase_dir.mkdir(parents=True, exist_ok=True)
            if examples:
                model = _make_model(kind, ref, tokenizer, prev, cfg)
                if plan is None:
                    plan = _plan(model, cfg, tokenizer, lengths, len(examples), epochs[i], tokens, i, used_s,
                                 measured_tps, state, key)
                    if state.is_main_process:
                        atomic_write_json(phase_dir / "plan.json", plan)
                console.print(f"[bold]> phase {k}[/bold]: {len(examples)} pairs ({n_dropped} too long), "
                              f"{tokens[i]} tokens x epochs, {plan['max_steps']}/{plan['planned_steps']} steps"
                              + (f", budget {plan['budget_s'] / 60:.1f} min at ~{plan['tokens_per_s']:.0f} tok/s"
                                 if plan.get("budget_s") else ""))
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

    if prev is None:
        raise UserError("no phase had training pairs", hint="check RUN/curriculum/train_phase*.jsonl")
    summary: dict[str, Any] = {}
    if state.is_main_process:
        _score_new_splits(run, max(r["phase"] for r in records if r.get("trained")), prev)
        summary = _finish(out, kind, ref, prev, tokenizer, spec, schema, cfg, records, histories)
    state.wait_for_everyone()
    return summary


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


def _train_phase(run: _Run, k: int, model: Any, examples: list[dict[str, Any]], lr: float,
                 plan: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One SFTTrainer run (resumed from its last checkpoint when there is one), saved and evaluated."""
    phase_dir = run.out / f"phase{k}"
    ckpt_dir = phase_dir / "checkpoints"
    limit = budget.TimeLimit(plan.get("budget_s") if run.state.num_processes == 1 else None)
    start, speed = _StartStep(), budget.Throughput()
    last = last_complete_checkpoint(ckpt_dir) if run.resume else None
    if last:
        console.print(f"  resuming phase {k} from {Path(last).name}")
    with quiet_training():
        trainer = SFTTrainer(model=model, args=_sft_args(ckpt_dir, run.cfg, lr, plan["max_steps"], k),
                             train_dataset=Dataset.from_list(examples), processing_class=run.tokenizer,
                             callbacks=[limit, start, speed, *run.callbacks])
        t0 = time.perf_counter()
        trainer.train(resume_from_checkpoint=last)
        seconds = time.perf_counter() - t0
    trainer.save_model(str(phase_dir / "final"))
    tps = speed.tokens_per_s or (trainer.state.num_input_tokens_seen - start.tokens) / max(seconds, 1e-9)
    history = loss_history(trainer.state.log_history)
    done: dict[str, Any] = {
        "phase": k, "trained": True, "global_step": trainer.state.global_step, "max_steps": plan["max_steps"],
        "planned_steps": plan["planned_steps"], "resumed_from_step": start.step, "stopped_by_time": limit.stopped,
        "train_seconds": round(seconds, 2), "tokens_per_s": round(tps, 1),
        "final_loss": history[-1]["loss"] if history else None}
    if run.state.is_main_process:
        save_history(phase_dir / "loss.json", history)
        plot_losses(phase_dir / "loss.png", {k: history}, title=f"phase {k} loss")
        evals = _evaluate(trainer.model, run.tokenizer, run.spec, run.splits, run.executor, run.schema, run.cfg)
        atomic_write_json(run.out / f"eval_phase{k}.json", evals)
        done["execution_accuracy"] = {s: r.get("execution_accuracy") for s, r in evals.items()}
    del trainer, model
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
    evals.update(_evaluate(model, run.tokenizer, run.spec, missing, run.executor, run.schema, run.cfg))
    atomic_write_json(path, evals)
    del model
    gc.collect()


def _plan(model: Any, cfg: StudentConfig, tokenizer: Any, lengths: list[int], n: int, epochs: float,
          tokens: list[int], i: int, used_s: float, measured_tps: float | None, state: PartialState,
          key: str) -> dict[str, Any]:
    planned = budget.plan_steps(n, epochs, cfg.batch_size, state.num_processes)
    plan: dict[str, Any] = {"key": key, "planned_steps": planned, "max_steps": planned, "budget_s": None,
                            "tokens_per_s": None, "tokens_per_s_source": None}
    if cfg.max_minutes <= 0 or state.num_processes > 1:
        return plan
    budget_s = budget.phase_budgets_s(cfg.max_minutes * 60, used_s, tokens, i)
    tps, source = measured_tps, "previous phase"
    if tps is None:
        tps = budget.calibrate_tokens_per_s(model, lengths, cfg.batch_size, len(tokenizer), state.device,
                                            training_dtype() == torch.bfloat16, cfg.seed, grouped=GROUP_BY_LENGTH)
        source = "calibration"
    plan.update(budget_s=round(budget_s, 1), tokens_per_s=round(tps, 1), tokens_per_s_source=source,
                max_steps=budget.capped_steps(planned, tokens[i], budget_s, tps))
    return plan


def _chat_wrap(tokenizer: Any) -> dict[str, str]:
    """The chat template around one user turn, as text: input = prefix + prompt + suffix."""
    marker = "\x00PROMPT\x00"
    text = tokenizer.apply_chat_template([{"role": "user", "content": marker}], tokenize=False,
                                         add_generation_prompt=True)
    prefix, _, suffix = text.partition(marker)
    return {"prefix": prefix, "suffix": suffix}


def _finish(out: Path, kind: str, ref: str, prev: Path, tokenizer: Any, spec: PromptSpec, schema: Any,
            cfg: StudentConfig, records: list[dict[str, Any]],
            histories: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
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
        "phases": len(trained), "steps": sum(r.get("global_step", 0) for r in trained),
        "train_seconds": round(sum(r.get("train_seconds", 0.0) for r in trained), 2),
        "tokens_per_s": trained[-1].get("tokens_per_s") if trained else None,
        "final_loss": trained[-1].get("final_loss") if trained else None,
        **{f"{s}_execution_accuracy": r.get("execution_accuracy") for s, r in evals.items()},
    }
    atomic_write_json(out / "summary.json", {**summary, "phase_records": records})
    return summary
