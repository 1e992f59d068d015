"""Greedy SQL generation with a trained student (PyTorch; the ONNX runtime in export/ mirrors it).

    from student.infer import load_student, predict
    student = load_student(Path("runs/ecommerce/student/model"))
    sqls = predict(student.model, student.tokenizer, student.spec, [{"question": "How many users?"}])

Batched, left-padded, greedy; a row stops at the first token that contains ``;`` or at EOS (or
after ``max_new_tokens``), and the text is cut right after the ``;``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteria, StoppingCriteriaList

from schemadistill.errors import UserError
from schemadistill.prompt import STOP, cut_at_stop
from student.data import PromptSpec

CONFIG_NAME = "student_config.json"


@dataclass
class Student:
    model: Any
    tokenizer: Any
    spec: PromptSpec
    config: dict[str, Any]  # the whole student_config.json


def load_student(model_dir: Path, device: str | None = None) -> Student:
    """A saved student (``RUN/student/model``): weights, tokenizer and its prompt spec."""
    model_dir = Path(model_dir)
    cfg_path = model_dir / CONFIG_NAME
    if not cfg_path.is_file():
        raise UserError("not a trained student folder (no student_config.json)", file=model_dir,
                        hint="train one first: schemadistill train RUN")
    config = json.loads(cfg_path.read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True)
    if device:
        model.to(device)
    model.eval()
    return Student(model, tokenizer, PromptSpec.from_json(config["prompt"]), config)


_STOP_CACHE: dict[tuple[int, int], torch.Tensor] = {}


def stop_token_ids(tokenizer: Any) -> torch.Tensor:
    """Ids of every token whose text contains ``;`` (BPE may merge it, e.g. ``');``), plus EOS."""
    key = (id(tokenizer), len(tokenizer))
    if key not in _STOP_CACHE:
        pieces = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        ids = {i for i, p in enumerate(pieces) if STOP in p}
        if tokenizer.eos_token_id is not None:
            ids.add(tokenizer.eos_token_id)
        _STOP_CACHE[key] = torch.tensor(sorted(ids), dtype=torch.long)
    return _STOP_CACHE[key]


class StopAtSemicolon(StoppingCriteria):
    """Per-row stop once the newest token is a stop token (generate pads finished rows)."""

    def __init__(self, stop_ids: torch.Tensor):
        self.stop_ids = stop_ids

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        last = input_ids[:, -1]
        return torch.isin(last, self.stop_ids.to(last.device))  # type: ignore[return-value]


def prompt_texts(tokenizer: Any, spec: PromptSpec, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Model input text per row: the raw prompt, or the chat-templated user turn."""
    texts = [spec.prompt(r) for r in rows]
    if spec.chat:
        texts = [tokenizer.apply_chat_template([{"role": "user", "content": t}], tokenize=False,
                                               add_generation_prompt=True) for t in texts]
    return texts


@torch.no_grad()
def generate_sql(model: Any, tokenizer: Any, texts: Sequence[str], *, chat: bool, max_new_tokens: int = 160,
                 batch_size: int = 32) -> list[str]:
    """Greedy completions of already-rendered input texts, in input order, cut after ``;``."""
    if not texts:
        return []
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    # Chat templates already hold their special tokens; the scratch tokenizer adds <bos> itself.
    enc = [tokenizer(t, add_special_tokens=not chat)["input_ids"] for t in texts]
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]))  # similar lengths: less padding
    stop = StoppingCriteriaList([StopAtSemicolon(stop_token_ids(tokenizer))])
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    eos = model.generation_config.eos_token_id
    out: list[str] = [""] * len(enc)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        width = max(len(enc[i]) for i in idx)
        ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):  # left padding: every prompt ends at the same position
            ids[row, width - len(enc[i]):] = torch.tensor(enc[i])
            mask[row, width - len(enc[i]):] = 1
        gen = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=False,
                             max_new_tokens=max_new_tokens, stopping_criteria=stop, pad_token_id=pad_id,
                             eos_token_id=eos if eos is not None else tokenizer.eos_token_id,
                             temperature=None, top_p=None, top_k=None)
        for row, i in enumerate(idx):
            out[i] = cut_at_stop(tokenizer.decode(gen[row, width:], skip_special_tokens=True))
    if was_training:
        model.train()
    return out


def predict(model: Any, tokenizer: Any, spec: PromptSpec, rows: Sequence[dict[str, Any]], *,
            max_new_tokens: int = 160, batch_size: int = 32) -> list[str]:
    """SQL for each row (``question``, and ``broken_sql``/``error`` with ``kind: repair``)."""
    raw = generate_sql(model, tokenizer, prompt_texts(tokenizer, spec, rows), chat=spec.chat,
                       max_new_tokens=max_new_tokens, batch_size=batch_size)
    return [spec.finish(r, sql) for r, sql in zip(rows, raw, strict=True)]
