"""The CPU training loss (student/loss.py) is TRL's loss, computed on completion positions only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from tiny_models import PAIRS, one_thread, tiny_pretrained, tiny_scratch
from trl import SFTTrainer

from schemadistill.config import StudentConfig
from student import train as st
from student.data import PromptSpec
from student.loss import CompletionHeadTrainer, plain_head
from student.model import add_lora, load_pretrained

__all__ = ["one_thread"]  # the autouse fixture: one torch thread for tiny models

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _loss_and_grads(cls: type[SFTTrainer], model: Any, tok: Any, examples: list[dict[str, Any]],
                    out: Path) -> tuple[float, dict[str, torch.Tensor], SFTTrainer]:
    cfg = StudentConfig(batch_size=len(examples), max_length=128)
    with st.quiet_training():
        trainer = cls(model=model, args=st._sft_args(out, cfg, 1e-3, 1, 1),
                      train_dataset=Dataset.from_list(examples), processing_class=tok)
    batch = next(iter(trainer.get_train_dataloader()))
    n_items = (batch["labels"][:, 1:] != -100).sum()
    model.zero_grad()
    model.train()
    loss = trainer.compute_loss(model, trainer._prepare_inputs(batch), num_items_in_batch=n_items)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.item(), grads, trainer


def test_scratch_loss_and_gradients_equal_trl(tmp_path: Path) -> None:
    model, tok = tiny_scratch(seed=3)
    spec = PromptSpec.create("none", "", chat=False)
    # unequal lengths, so the batch has padding and prompt positions to leave out
    examples = [spec.example(r) for r in PAIRS]
    theirs, their_grads, _ = _loss_and_grads(SFTTrainer, model, tok, examples, tmp_path / "a")
    ours, our_grads, trainer = _loss_and_grads(CompletionHeadTrainer, model, tok, examples, tmp_path / "b")
    assert abs(ours - theirs) < 1e-5 * abs(theirs)
    assert set(our_grads) == set(their_grads) and len(our_grads) == len(list(model.parameters()))
    for name, grad in their_grads.items():
        assert torch.allclose(our_grads[name], grad, rtol=1e-4, atol=1e-6), name
    # its metrics keep TRL's names: top-1 hits on completion tokens, tokens seen
    accuracy = trainer._metrics["train"]["mean_token_accuracy"]
    assert len(accuracy) == 1 and 0.0 <= accuracy[0] <= 1.0
    assert trainer._metrics["train"]["num_tokens"] == [sum(len(tok(e["prompt"] + e["completion"])["input_ids"]) + 1
                                                       for e in examples)]


def test_lora_loss_equals_trl_and_reaches_the_adapter_only(tmp_path: Path) -> None:
    base, tok = load_pretrained(str(tiny_pretrained(tmp_path / "tiny-qwen")))
    model = add_lora(base, 4, 8, LORA_TARGETS)
    spec = PromptSpec.create("none", "", chat=True)
    examples = [spec.example(r) for r in PAIRS[:6]]
    theirs, their_grads, _ = _loss_and_grads(SFTTrainer, model, tok, examples, tmp_path / "a")
    ours, our_grads, _ = _loss_and_grads(CompletionHeadTrainer, model, tok, examples, tmp_path / "b")
    assert abs(ours - theirs) < 1e-5 * abs(theirs)
    assert set(our_grads) == set(their_grads) and all("lora_" in n for n in our_grads)
    assert any(g.abs().sum() > 0 for n, g in our_grads.items() if "lora_B" in n)  # B starts at zero, A waits a step
    for name, grad in their_grads.items():
        assert torch.allclose(our_grads[name], grad, rtol=1e-4, atol=1e-6), name


def test_scaled_or_capped_logits_keep_trls_loss() -> None:
    model, _ = tiny_scratch()
    assert plain_head(model)
    model.config.final_logit_softcapping = 30.0
    assert not plain_head(model)
