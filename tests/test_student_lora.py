"""Pretrained students: LoRA moves the adapter only, chat-template examples, merged final model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from datasets import Dataset
from tiny_models import PAIRS, one_thread, read_json, tiny_pretrained, tiny_schema, write_run
from transformers import AutoModelForCausalLM
from trl import SFTTrainer

from schemadistill.config import StudentConfig
from student import train as st
from student.data import PromptSpec
from student.infer import load_student, predict
from student.model import add_lora, load_pretrained

__all__ = ["one_thread"]  # the autouse fixture: one torch thread for tiny models


def test_lora_trains_the_adapter_and_leaves_the_base_alone(tmp_path: Path) -> None:
    path = tiny_pretrained(tmp_path / "tiny-qwen")
    base, tok = load_pretrained(str(path))
    model = add_lora(base, 4, 8, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    spec = PromptSpec.create("none", "", chat=True)
    examples = [spec.example(r) for r in PAIRS] * 2
    cfg = StudentConfig(name=str(path), batch_size=4, max_length=128)
    with st.quiet_training():
        trainer = SFTTrainer(model=model, args=st._sft_args(tmp_path / "ckpt", cfg, 5e-3, 6, 1),
                             train_dataset=Dataset.from_list(examples), processing_class=tok)
    # the chat template frames the SQL: loss on the assistant turn (and its end token) only
    row = trainer.train_dataset[0]
    trained_text = tok.decode([t for t, lab in zip(row["input_ids"], row["labels"], strict=True) if lab != -100])
    assert trained_text.strip().endswith(";<|im_end|>") and "Question:" not in trained_text
    with st.quiet_training():
        trainer.train()
    after = dict(model.named_parameters())
    lora = [n for n in before if "lora_" in n]
    frozen = [n for n in before if "lora_" not in n]
    assert lora and frozen
    assert any(not torch.equal(before[n], after[n].detach()) for n in lora if "lora_B" in n)
    assert all(torch.equal(before[n], after[n].detach()) for n in frozen)


def test_pretrained_student_end_to_end_merges_the_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tiny_pretrained(tmp_path / "tiny-qwen")
    run = write_run(tmp_path / "run", copies=2, sandbox=False)
    monkeypatch.setattr(st, "score_items", lambda items, ex, schema, dialect: {"n": len(items)})
    cfg = StudentConfig(name=str(path), batch_size=4, epochs=[1, 1, 1], learning_rate=[5e-3] * 3, max_minutes=0,
                        eval_max=2, max_new_tokens=12, max_length=128, lora_r=4, lora_alpha=8)
    summary = st.train(run, cfg, tiny_schema(), None)
    out = run / "student"
    assert (out / "phase1" / "final" / "adapter_model.safetensors").is_file()
    assert set(read_json(out / "eval_phase1.json")) == {"heldout_iid", "heldout_family"}

    merged = AutoModelForCausalLM.from_pretrained(str(out / "model"))
    keys = merged.state_dict().keys()
    assert not any("lora" in k for k in keys)  # a plain HF model
    original = AutoModelForCausalLM.from_pretrained(str(path))
    w = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(original.state_dict()[w], merged.state_dict()[w])  # the adapter is merged in
    student = load_student(out / "model")
    assert student.spec.chat and student.config["kind"] == "pretrained"
    wrap = student.config["input"]["chat_wrap"]  # what a runtime without transformers needs
    assert wrap == {"prefix": "<|im_start|>user\n", "suffix": "<|im_end|>\n<|im_start|>assistant\n"}
    sql = predict(student.model, student.tokenizer, student.spec, [{"question": "How many users are there?"}],
                  max_new_tokens=8)
    assert len(sql) == 1
    assert summary["params"] == sum(p.numel() for p in {id(p): p for p in merged.parameters()}.values())
