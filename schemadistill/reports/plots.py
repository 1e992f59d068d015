"""The report's plots as PNG bytes (matplotlib's Agg backend: no display needed, works headless).

Each function returns the PNG itself so the HTML can embed it (base64) and the Markdown can
link the same image written next to it.
"""

from __future__ import annotations

import io
from typing import Any

PHASE_COLORS = {1: "#4c72b0", 2: "#55a868", 3: "#c44e52"}
DPI = 100


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: a display-less machine must never pick a GUI backend
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def pairs_per_family(by_family: list[tuple[str, int, int]]) -> bytes:
    """Horizontal bars, most pairs on top, coloured by the family's curriculum phase."""
    plt = _pyplot()
    rows = list(reversed(by_family))  # barh draws bottom-up
    fig, ax = plt.subplots(figsize=(7, max(2.0, 0.17 * len(rows) + 0.8)))
    ax.barh([f for f, _, _ in rows], [n for _, _, n in rows],
            color=[PHASE_COLORS.get(ph, "#8c8c8c") for _, ph, _ in rows])
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("pairs")
    ax.set_title("pairs per family (colour: phase)")
    ax.margins(y=0.01)
    phases = sorted({ph for _, ph, _ in rows})
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=PHASE_COLORS.get(ph, "#8c8c8c"), label=f"phase {ph}") for ph in phases],
              fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def loss_curves(losses: dict[int, list[tuple[int, float]]]) -> bytes:
    """One curve per phase on a shared step axis (phase k starts where phase k-1 ended)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    offset = 0
    for phase, hist in sorted(losses.items()):
        if not hist:
            continue
        steps = [offset + s for s, _ in hist]
        ax.plot(steps, [v for _, v in hist], marker="." if len(hist) <= 3 else None,
                color=PHASE_COLORS.get(phase), label=f"phase {phase}")
        offset = steps[-1]
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (completion tokens)")
    ax.set_title("student training loss")
    ax.grid(alpha=0.3)
    if any(losses.values()):
        ax.legend(fontsize=8)
    return _png(fig)


def accuracy_per_phase(per_phase: dict[int, dict[str, Any]], splits: list[str]) -> bytes:
    """Execution accuracy (solid) and valid-SQL rate (dashed) after each phase, per split."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.5))
    phases = sorted(per_phase)
    for i, split in enumerate(splits):
        color = f"C{i}"
        for attr, style, what in (("execution_accuracy", "-", "execution accuracy"), ("valid_sql_rate", "--", "valid SQL")):
            pts = [(k, getattr(per_phase[k][split], attr)) for k in phases
                   if split in per_phase[k] and per_phase[k][split].n and getattr(per_phase[k][split], attr) is not None]
            if pts:
                ax.plot([k for k, _ in pts], [100 * v for _, v in pts], style, marker="o", color=color,
                        label=f"{split}: {what}")
    ax.set_xticks(phases, [f"after phase {k}" for k in phases])
    ax.set_ylim(-2, 102)
    ax.set_ylabel("% of questions")
    ax.set_title("accuracy after each phase")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))  # outside: lines fill the box
    return _png(fig)
