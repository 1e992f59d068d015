"""Loss history per phase (JSON) and loss curves (PNG, matplotlib's Agg backend: no display)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemadistill.io import atomic_write_json

_KEYS = ("step", "epoch", "loss", "learning_rate", "grad_norm", "mean_token_accuracy", "num_tokens")


def loss_history(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The training-loss entries of a Trainer's ``state.log_history``."""
    return [{k: e[k] for k in _KEYS if k in e} for e in log_history if "loss" in e and "step" in e]


def save_history(path: Path, history: list[dict[str, Any]]) -> None:
    atomic_write_json(path, history)


def plot_losses(path: Path, phases: dict[int, list[dict[str, Any]]], title: str = "student training loss") -> None:
    """One curve per phase on a shared step axis (phase k starts where phase k-1 ended)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=110)
    offset = 0
    for phase, hist in sorted(phases.items()):
        if not hist:
            continue
        steps = [offset + h["step"] for h in hist]
        ax.plot(steps, [h["loss"] for h in hist], label=f"phase {phase}")
        offset = steps[-1]
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (completion tokens)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if any(phases.values()):
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
