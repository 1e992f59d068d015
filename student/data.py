"""Pairs -> training examples: the prompt spec the student is trained with, and the phase files.

A :class:`PromptSpec` fixes how a pair becomes text (schema in the prompt or not, chat template
or raw text, the template source); it is saved in ``student_config.json`` so evaluation, export
and the ONNX runtime build the very same prompt.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from schemadistill.errors import UserError
from schemadistill.io import read_jsonl
from schemadistill.prompt import (
    PROMPT_MODES,
    completion_text,
    fill_slots,
    render_prompt,
    slot_numbers,
    slot_values,
    template_text,
)

PHASES = (1, 2, 3)
HELDOUT_SPLITS = ("heldout_iid", "heldout_family")
REPAIR_SPLIT = "heldout_repair"  # repair pairs of held-out instances: scored apart, by the eval stage
GOLDEN_SKIP_FLAGS = ("empty_or_null_result", "time_dependent")


@dataclass
class PromptSpec:
    """How a pair becomes a prompt and a completion for one student."""

    mode: str  # "compact" | "none"
    schema_text: str  # the compact schema when mode == "compact", else ""
    chat: bool  # pretrained chat model: prompt = user turn, SQL = assistant turn
    template: str  # the jinja2 source of templates/student_prompt.j2 at training time
    number_slots: int = 0  # numbers of >= this many digits become #1, #2, ... (0: off); see prompt.py

    @classmethod
    def create(cls, mode: str, schema_text: str, chat: bool, number_slots: int = 0) -> PromptSpec:
        if mode not in PROMPT_MODES:
            raise UserError(f"unknown student.prompt_schema '{mode}'", hint=f"use one of: {', '.join(PROMPT_MODES)}")
        return cls(mode, schema_text if mode == "compact" else "", chat, template_text(), max(0, number_slots))

    def slots(self, row: dict[str, Any]) -> tuple[str, list[str]]:
        """(the question as the model sees it, the numbers its slots stand for)."""
        return slot_numbers(row["question"], self.number_slots)

    def prompt(self, row: dict[str, Any]) -> str:
        """The rendered prompt text (the user message for chat models)."""
        question, values = self.slots(row)
        repair = row.get("kind") == "repair" and row.get("broken_sql")
        return render_prompt(question, self.schema_text or None,
                             slot_values(row["broken_sql"], values) if repair else None,
                             slot_values(row.get("error") or "", values) if repair else None,
                             template=self.template)

    def example(self, row: dict[str, Any]) -> dict[str, Any]:
        """A TRL prompt-completion example; TRL appends EOS (plain) or the chat template does."""
        prompt, sql = self.prompt(row), self.completion(row)
        if self.chat:
            return {"prompt": [{"role": "user", "content": prompt}],
                    "completion": [{"role": "assistant", "content": sql.strip()}]}
        return {"prompt": prompt, "completion": sql}

    def completion(self, row: dict[str, Any]) -> str:
        """The gold SQL as the model writes it: slots for the question's numbers, ``;`` at the end."""
        return completion_text(slot_values(row["sql"], self.slots(row)[1]))

    def finish(self, row: dict[str, Any], generated: str) -> str:
        """The model's output for ``row`` as SQL: its slots filled with the question's numbers."""
        return fill_slots(generated, self.slots(row)[1])

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PromptSpec:
        return cls(d["mode"], d.get("schema_text", ""), bool(d.get("chat")), d["template"],
                   int(d.get("number_slots", 0)))


def example_length(tokenizer: Any, example: dict[str, Any]) -> int:
    """Tokens of prompt + completion as TRL will see them (EOS included)."""
    if isinstance(example["prompt"], list):
        ids = tokenizer.apply_chat_template(example["prompt"] + example["completion"], tokenize=True)
        return len(ids["input_ids"] if isinstance(ids, dict) else ids)
    return len(tokenizer(example["prompt"] + example["completion"])["input_ids"]) + 1


def build_examples(rows: list[dict[str, Any]], spec: PromptSpec, tokenizer: Any,
                   max_length: int) -> tuple[list[dict[str, Any]], list[int], int]:
    """(examples, their token lengths, how many were dropped for being longer than max_length).

    Too-long pairs are dropped rather than truncated: a cut completion would teach the student
    to stop without ';' and EOS.
    """
    examples, lengths, dropped = [], [], 0
    for row in rows:
        ex = spec.example(row)
        n = example_length(tokenizer, ex)
        if n > max_length:
            dropped += 1
            continue
        examples.append(ex)
        lengths.append(n)
    return examples, lengths, dropped


def curriculum_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "curriculum"


def read_phase(run_dir: Path, phase: int) -> list[dict[str, Any]]:
    path = curriculum_dir(run_dir) / f"train_phase{phase}.jsonl"
    if not path.is_file():
        raise UserError("training data of the curriculum not found", file=path,
                        hint="run the curriculum stage first: schemadistill distill SCHEMA --out RUN")
    return [r for r in read_jsonl(path) if r.get("question") and r.get("sql")]


def read_heldout(run_dir: Path, split: str) -> list[dict[str, Any]]:
    path = curriculum_dir(run_dir) / f"{split}.jsonl"
    if not path.is_file():
        return []
    return [r for r in read_jsonl(path) if r.get("question") and r.get("sql")]


def read_golden(path: Path) -> list[dict[str, Any]]:
    """Golden questions (question + sql), minus rows flagged as unscorable by execution match."""
    if not Path(path).is_file():
        raise UserError("golden file not found", file=path, hint="give a JSONL file of question + sql")
    rows = []
    for r in read_jsonl(path):
        flags = set(r.get("flags") or [])
        if not r.get("question") or not r.get("sql"):
            continue
        if any(r.get(f) or f in flags for f in GOLDEN_SKIP_FLAGS):
            continue
        rows.append(r)
    return rows


def sample_rows(rows: list[dict[str, Any]], limit: int, seed: int) -> list[dict[str, Any]]:
    """At most ``limit`` rows, a seeded sample (every family has a chance, unlike the first N)."""
    if limit <= 0 or len(rows) <= limit:
        return list(rows)
    idx = sorted(random.Random(seed).sample(range(len(rows)), limit))
    return [rows[i] for i in idx]
