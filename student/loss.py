"""The training loss on a CPU: only completion positions go through the LM head.

TRL's ``SFTTrainer`` computes its completion-only loss with a fused LM head that, off Triton
devices, projects *every* position (prompt and padding too) through the vocabulary and also
computes each position's entropy and top-1 hit, then zeroes the prompt's. For the scratch
student about half of a batch's tokens are prompt (0.51 in a sample of k27's pairs), the head
is a fifth of the model's multiply-adds and the entropy one more pass over the logits: on a CPU
about a fifth of each step went there. :class:`CompletionHeadTrainer` runs the backbone, keeps the
positions whose next token is a label, and projects only those: the same loss and gradients
(tests/test_student_loss.py), ~1.27x the tokens/s on a run's pairs::

    python -m student.bench --pairs RUN/curriculum/train_phase2.jsonl --batch-size 16 --steps 40 [--trl-loss]

read 5,350-5,610 against 4,140-4,420 with ``--trl-loss`` (session 29, 2-core AVX2 machine, two
runs each, alternated). Elsewhere (CUDA, where TRL's Triton head already skips ignored
positions) and for models whose head scales or caps its logits, TRL's loss runs as is.

The logged metrics keep TRL's names: ``mean_token_accuracy`` (top-1 hits on completion tokens)
and ``num_tokens``; the entropy is not computed.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from trl import SFTTrainer

IGNORE = -100


def _unwrapped(model: Any) -> Any:
    """The causal LM itself: a PEFT model's base (its LoRA layers stay in place)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def completion_logits(model: Any, inputs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits of the positions whose next token is a label, those labels), for a causal LM."""
    base = _unwrapped(model)
    backbone = getattr(base, base.base_model_prefix)
    hidden = backbone(input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask"),
                      use_cache=False).last_hidden_state
    labels = inputs["labels"][:, 1:]
    mask = labels != IGNORE
    head = base.get_output_embeddings()
    return head(hidden[:, :-1][mask]), labels[mask]


def plain_head(model: Any) -> bool:
    """True where the logits are the head's projection and nothing more (no scaling, no cap)."""
    config = _unwrapped(model).config.get_text_config()
    return all(getattr(config, name, None) is None for name in
               ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling"))


class CompletionHeadTrainer(SFTTrainer):
    """``SFTTrainer`` whose loss on a CPU projects only completion positions (module docstring)."""

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        # padding-free batches (packing) carry no attention mask: their attention needs TRL's path
        if (return_outputs or self.args.device.type != "cpu" or "labels" not in inputs
                or "attention_mask" not in inputs or not plain_head(model)):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        logits, labels = completion_logits(model, inputs)
        n = num_items_in_batch if num_items_in_batch is not None else labels.numel()
        # clamped so a batch without completion tokens is a finite, differentiable zero
        loss = F.cross_entropy(logits, labels, reduction="sum") / torch.as_tensor(n).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes  # as TRL: DDP averages the gradients
        mode = "train" if model.training else "eval"
        with torch.no_grad():
            valid = self.accelerator.gather_for_metrics(torch.tensor(labels.numel())).sum()
            hits = self.accelerator.gather_for_metrics((logits.argmax(-1) == labels).sum()).sum()
        self._metrics[mode]["mean_token_accuracy"].append((hits / valid).item() if valid > 0 else 0.0)
        if mode == "train":
            self._total_train_tokens += self.accelerator.gather_for_metrics(inputs["attention_mask"].sum()).sum().item()
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
        return loss
