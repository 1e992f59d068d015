"""The training time budget: how many optimizer steps each phase can afford.

``student.max_minutes`` is split across the phases in proportion to their training tokens
(examples x epochs); time a finished phase did not use passes on to the later ones. A phase's
step count is ``min(steps its epochs ask for, steps the budget affords)``, where the affordable
steps come from a throughput estimate:

* the tokens/s measured while training the previous phase (:class:`Throughput`: optimizer
  steps only, the first one and checkpoint saves left out), when there is one;
* otherwise a probe: real optimizer steps of the phase's own Trainer set-up, two passes over a
  random sample of :data:`PROBE_STEPS` batches of its examples, the second pass timed (the first
  meets each sequence length for the first time, and first meetings are slow on a CPU: a long
  run meets most lengths again and again). The trainable weights are put back afterwards, so
  the phase trains exactly as it would without the probe; the probe's seconds come out of the
  budget.

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

# A calibration of bare forward+backward passes (sessions 4-5) read 0.59-1.11x the speed of the
# real steps that followed: inside a pipeline run anything else on the 2 cores during its ~1 s
# (tokenizer threads winding down, the data set just built) skewed it, and one run planned 2,642
# steps where its 20 minutes afforded ~4,000. Real steps are both steadier and honest; timed on
# their first pass over a sample, cold lengths made them read 3,336 where the run went on at 4,200+.
PROBE_STEPS = 24
# The three segments of one run ran at 5,792, 5,070 and 5,422 tokens/s (the machine shared with a
# test run during the second): a re-plan at the first one's full speed overran 20 minutes by 8%.
REPLAN_MARGIN = 0.93
HARD_STOP = 1.3
# `student.name=scratch` picks its preset from the speed a probe of xs measures: xs where the
# budget affords it at least this many optimizer steps (the probe's own plan, which reads low:
# 3,009 planned, 3,357 run), else xxs, ~1.5x xs's tokens/s. Measured (docs/DESIGN.md, session 30):
# where xs ran 3,357 steps, xxs ran 5,235 and answered 94.8% of 1,000 held-out same-family
# questions against xs's 92.0%; where xs ran 4,187 (session 25), the two tied on those (92.0 /
# 91.6%) and xs answered more real questions.
AUTO_MIN_STEPS = 4000


def phase_budgets_s(total_s: float, used_s: float, tokens: list[int], phase_index: int) -> float:
    """Seconds for phase ``phase_index`` (0-based): what is left, shared by the phases still to run."""
    left = max(0.0, total_s - used_s)
    rest = sum(tokens[phase_index:])
    return left * tokens[phase_index] / rest if rest else left


def probe_sample(n_examples: int, batch_size: int, seed: int = 0) -> list[int]:
    """Indices of the examples a probe trains on: a seeded random sample of its steps' worth.

    At most PROBE_STEPS x batch_size examples, fewer than one of the Trainer's length-grouped
    mega-batches (50 batches), so each pass cuts the same sample sorted by length into the same
    batches: they span the phase's length distribution as its real batches do.
    """
    want = min(n_examples, PROBE_STEPS * batch_size)
    return sorted(random.Random(seed).sample(range(n_examples), want))


def plan_steps(n_examples: int, epochs: float, batch_size: int, world_size: int) -> int:
    """Optimizer steps the epochs ask for (no gradient accumulation)."""
    per_epoch = math.ceil(n_examples / max(1, batch_size * world_size))
    return max(1, math.ceil(per_epoch * epochs))


def replanned_steps(plan: dict[str, Any], steps_done: int, seconds_used: float, tokens_per_s: float,
                    segments_left: int = 2) -> int:
    """A shuffled run's step count after a segment: what the rest of the budget affords at the
    speed that segment really ran (``tokens_per_s``, less :data:`REPLAN_MARGIN`), never more
    than its epochs ask for.

    The probe's estimate only sets the first segment's length; a run the probe misjudged by 30%
    (cold CPU caches at the start: measured 3,533 probed vs ~4,500 tokens/s run) still ends near
    its budget. A step is left for each of the ``segments_left`` segments still to run.
    """
    planned = int(plan["planned_steps"])
    if not plan.get("budget_s") or not tokens_per_s or planned <= 0:
        return int(plan["max_steps"])
    tokens_per_step = plan["tokens"] / planned
    left_s = max(0.0, plan["budget_s"] - seconds_used)
    affordable = math.floor(left_s * REPLAN_MARGIN * tokens_per_s / tokens_per_step)
    return max(steps_done + segments_left, min(planned, steps_done + affordable))


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


BUSY_SHARE = 0.25  # other processes' share of the machine above which a budgeted run says so


class OthersCpu:
    """The share of the machine's CPU that other processes used while the student trained.

    A time budget buys steps at the speed the machine gives: when another job shares the
    cores, the same 20 minutes afford fewer steps (one quickstart that shared 2 cores with a
    test run planned 3,566 steps where an idle one ran 4,600, and scored 10 points lower) and
    nothing else in the report would tell why. ``start()`` ... ``stop()`` returns
    (busy CPU time of the whole machine - this process's and its children's) / (wall x cores).
    """

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        self._proc = psutil.Process()
        self._t0 = 0.0
        self._busy0 = self._own0 = 0.0

    def _busy(self) -> float:
        t = self._psutil.cpu_times()  # (guest time is inside user time on Linux: not added again)
        return t.user + t.system + sum(getattr(t, f, 0.0) for f in ("nice", "irq", "softirq"))

    def _own(self) -> float:
        t = self._proc.cpu_times()
        return t.user + t.system + t.children_user + t.children_system + sum(
            self._cpu(c) for c in self._children())

    def _cpu(self, proc: Any) -> float:
        try:
            return float(sum(proc.cpu_times()[:2]))  # user + system
        except self._psutil.Error:  # ended between listing and reading
            return 0.0

    def _children(self) -> list[Any]:
        try:
            return self._proc.children(recursive=True)  # data loader workers not yet waited for
        except self._psutil.Error:
            return []

    def start(self) -> None:
        self._t0, self._busy0, self._own0 = time.perf_counter(), self._busy(), self._own()

    def stop(self) -> float | None:
        wall = time.perf_counter() - self._t0
        cores = self._psutil.cpu_count() or 1
        if wall <= 0:
            return None
        others = (self._busy() - self._busy0) - (self._own() - self._own0)
        return round(min(1.0, max(0.0, others / (wall * cores))), 3)
