"""Trained tiny students in run folders, for the export tests (tests/test_export_*.py).

* :func:`student_run` - a run folder (tests/tiny_models.write_run) whose ``student/model`` holds a
  tiny scratch Llama trained for a few hundred plain-PyTorch steps on the tiny pairs, with the
  ``student_config.json`` student/train.py writes. Trained, because a random model's logits are
  nearly flat: greedy ties would make "identical SQL" a test of rounding, not of the export;
* :func:`chat_run` - the same with a random tiny Qwen2 + ChatML tokenizer (the chat prompt path).

A plain loop instead of TRL keeps it at ~2 s; the prompt/completion text is the one TRL is fed.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tiny_models import PAIRS, tiny_pretrained, tiny_schema, tiny_scratch, write_run

from schemadistill.io import atomic_write_json
from schemadistill.prompt import render_schema_compact

TRAIN_QUESTIONS = [p for p in PAIRS if p["kind"] == "generate"]


def _student_config(spec: Any, model: Any, name: str, kind: str) -> dict[str, Any]:
    schema = tiny_schema()
    return {"student": name, "kind": kind, "base": name, "params": sum(p.numel() for p in model.parameters()),
            "prompt": spec.to_json(), "prompt_schema": spec.mode, "dialect": schema.dialect,
            "schema_fingerprint": schema.fingerprint, "stop": ";", "max_new_tokens": 48, "max_length": 256}


def train_steps(model: Any, tokenizer: Any, spec: Any, rows: list[dict[str, Any]], steps: int, lr: float = 3e-3,
                seed: int = 0) -> None:
    """Full-sequence LM loss on prompt + completion + EOS, all rows in one left-padded batch."""
    import torch

    torch.manual_seed(seed)
    texts = [spec.prompt(r) + spec.example(r)["completion"] for r in rows]
    enc = [tokenizer(t)["input_ids"] + [tokenizer.eos_token_id] for t in texts]
    width = max(map(len, enc))
    ids = torch.full((len(enc), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, e in enumerate(enc):
        ids[i, width - len(e):] = torch.tensor(e)
        mask[i, width - len(e):] = 1
    labels = ids.masked_fill(mask == 0, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()


_TRAINED: dict[tuple[int, int, str], Path] = {}  # one training per settings per test session


def student_run(run: Path, seed: int = 0, steps: int = 150, prompt_schema: str = "none") -> Path:
    """A run folder with a trained tiny scratch student in ``student/model``; returns ``run``.

    Training is deterministic, so a session trains once per settings and copies the folder.
    """
    key = (seed, steps, prompt_schema)
    if key not in _TRAINED:
        base = Path(tempfile.mkdtemp(prefix="sd-export-student-"))
        atexit.register(shutil.rmtree, base, True)
        _TRAINED[key] = _train_run(base / "run", seed, steps, prompt_schema)
    shutil.copytree(_TRAINED[key], run, dirs_exist_ok=True)
    return run


def _train_run(run: Path, seed: int, steps: int, prompt_schema: str) -> Path:
    from student.data import PromptSpec

    write_run(run)
    model, tok = tiny_scratch(seed=seed)
    spec = PromptSpec.create(prompt_schema, render_schema_compact(tiny_schema()), chat=False)
    train_steps(model, tok, spec, TRAIN_QUESTIONS, steps, seed=seed)
    model_dir = run / "student" / "model"
    model.save_pretrained(str(model_dir))
    tok.save_pretrained(str(model_dir))
    atomic_write_json(model_dir / "student_config.json", _student_config(spec, model, "scratch:tiny", "scratch"))
    atomic_write_json(run / "student" / "eval_phase3.json",
                      {"heldout_iid": {"n": 1, "execution_accuracy": 1.0, "valid_sql_rate": 1.0},
                       "heldout_family": {"n": 1, "execution_accuracy": 0.0, "valid_sql_rate": 1.0}})
    return run


def chat_run(run: Path, seed: int = 0) -> Path:
    """A run folder whose student is a random tiny Qwen2 with a ChatML chat template."""
    from transformers import AutoModelForCausalLM

    from student.data import PromptSpec

    write_run(run)
    model_dir = tiny_pretrained(run / "student" / "model", seed=seed)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    spec = PromptSpec.create("none", "", chat=True)
    atomic_write_json(model_dir / "student_config.json", _student_config(spec, model, "tiny-qwen2", "pretrained"))
    return run
