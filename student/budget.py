"""The training time budget: how many optimizer steps each phase can afford.

``student.max_minutes`` is split across the phases in proportion to their training tokens
(examples x epochs); time a finished phase did not use passes on to the later ones. A phase's
step count is ``min(steps its epochs ask for, steps the budget affords)``, where the affordable
steps come from a throughput estimate:

* the tokens/s measured while training the previous phase (:class:`Throughput`: optimizer
  steps only, the first one and checkpoint saves left out), when there is one;
* otherwise a calibration: a few forward+backward passes on random batches shaped like this
  phase's (same lengths, same batch size) on the device the Trainer will use, scaled by
  ``OPTIMIZER_OVERHEAD`` for the optimizer step and data loading it leaves out (measured: they
  cost about what its cold passes over-count, so the factor is 1).

The step count is fixed before training so the cosine schedule decays over the steps that will
actually run; it is stored in ``plan.json`` so a resumed phase keeps its schedule. A callback
also stops a phase that runs past ``HARD_STOP`` times its budget (an estimate gone wrong).
With several processes (``accelerate launch``) the ranks could estimate differently and
disagree on the step count, so there the epochs decide and the budget is not applied.
``max_minutes <= 0`` turns the budget off.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

import torch
from transformers import TrainerCallback

# calibrated tokens/s x this ~ tokens/s of full training steps. Inside pipeline runs the full steps
# ran at 0.99-1.11 x the raw calibration (scratch:xs twice, scratch:sm once), so the optimizer step
# and data loading cost about what the calibration's cold passes over-count; 0.8 and 0.85 left
# 10-20% of the budget unused. (A calibration alone in a fresh process reads 10-20% higher.)
OPTIMIZER_OVERHEAD = 1.0
HARD_STOP = 1.3
CALIBRATION_STEPS = 5


def phase_budgets_s(total_s: float, used_s: float, tokens: list[int], phase_index: int) -> float:
    """Seconds for phase ``phase_index`` (0-based): what is left, shared by the phases still to run."""
    left = max(0.0, total_s - used_s)
    rest = sum(tokens[phase_index:])
    return left * tokens[phase_index] / rest if rest else left


def quantile_lengths(lengths: list[int], k: int) -> list[int]:
    """``k`` lengths at evenly spaced quantiles (the middles of ``k`` equal slices of the sorted list).

    Calibrating on these instead of ``k`` random picks: three random lengths made the estimate,
    and so a run's step count, vary by 8% (one run: 20%) between runs of the same data; five
    quantiles by 3.5%.
    """
    ordered = sorted(lengths)
    return [ordered[min(len(ordered) - 1, (2 * i + 1) * len(ordered) // (2 * k))] for i in range(k)]


def calibrate_tokens_per_s(model: torch.nn.Module, lengths: list[int], batch_size: int, vocab: int,
                           device: torch.device, bf16: bool, seed: int = 0, grouped: bool = True) -> float:
    """Tokens/s of forward+backward on random batches with this phase's lengths.

    Timing depends on shapes only, so random ids stand in for the real tokens. ``grouped``:
    the Trainer groups examples of similar length (``group_by_length``), so a calibration batch
    is one length repeated, one batch per quantile (:func:`quantile_lengths`); otherwise
    lengths are drawn independently and padded.
    Gradients are cleared afterwards and no optimizer step is taken: the weights are untouched.
    """
    rng = random.Random(seed)
    model.to(device)
    model.train()
    times, tokens = [], []
    n = min(batch_size, len(lengths))
    spread = quantile_lengths(lengths, CALIBRATION_STEPS)
    for step in range(CALIBRATION_STEPS + 1):
        if grouped:  # the first (untimed) pass at the median, then one batch per quantile
            batch = [spread[len(spread) // 2] if step == 0 else spread[step - 1]] * n
        else:
            batch = [rng.choice(lengths) for _ in range(n)]
        width = max(batch)
        ids = torch.randint(3, max(4, vocab), (len(batch), width), device=device)
        mask = torch.zeros_like(ids)
        for i, n in enumerate(batch):
            mask[i, :n] = 1
        labels = ids.masked_fill(mask == 0, -100)
        t0 = time.perf_counter()
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step > 0:  # the first pass pays for allocation and kernel selection
            times.append(time.perf_counter() - t0)
            tokens.append(sum(batch))
    model.zero_grad(set_to_none=True)
    return OPTIMIZER_OVERHEAD * sum(tokens) / max(sum(times), 1e-9)


def plan_steps(n_examples: int, epochs: float, batch_size: int, world_size: int) -> int:
    """Optimizer steps the epochs ask for (no gradient accumulation)."""
    per_epoch = math.ceil(n_examples / max(1, batch_size * world_size))
    return max(1, math.ceil(per_epoch * epochs))


def capped_steps(planned: int, planned_tokens: int, budget_s: float, tokens_per_s: float) -> int:
    affordable = budget_s * tokens_per_s
    if planned_tokens <= 0 or affordable >= planned_tokens:
        return planned
    return max(1, math.floor(planned * affordable / planned_tokens))


class TimeLimit(TrainerCallback):
    """Stops training once the phase has run ``HARD_STOP`` x its budget (scaled to the steps left)."""

    def __init__(self, budget_s: float | None):
        self.budget_s = budget_s
        self.t0 = 0.0
        self.limit = math.inf
        self.stopped = False

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.t0 = time.perf_counter()
        if self.budget_s and state.max_steps:
            left = (state.max_steps - state.global_step) / state.max_steps
            self.limit = HARD_STOP * self.budget_s * left

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if time.perf_counter() - self.t0 > self.limit:
            self.stopped = True
            control.should_training_stop = True


class Throughput(TrainerCallback):
    """Non-padding tokens/s of optimizer steps, the first ``warmup`` steps of a run left out.

    Only the time between ``on_step_begin`` and ``on_step_end`` counts: trainer set-up,
    checkpoint saves and logging are fixed costs that would make a short phase look slow.
    Needs ``include_num_input_tokens_seen="non_padding"`` (counted before ``on_step_begin``).
    """

    def __init__(self, warmup: int = 1):
        self.warmup = warmup
        self.seconds = 0.0
        self.tokens = 0
        self._steps = 0
        self._t = 0.0
        self._before = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._before = state.num_input_tokens_seen

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._t = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self._steps += 1
        if self._steps > self.warmup:
            self.seconds += time.perf_counter() - self._t
            self.tokens += state.num_input_tokens_seen - self._before
        self._before = state.num_input_tokens_seen

    @property
    def tokens_per_s(self) -> float | None:
        return self.tokens / self.seconds if self.seconds > 0 else None
