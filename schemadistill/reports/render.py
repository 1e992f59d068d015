"""Render :class:`~schemadistill.reports.collect.RunFigures` through ``templates/report/*.j2``.

The templates live in the repository's ``templates/`` folder beside the other jinja2 files,
found from this file's location as :mod:`schemadistill.prompt` finds the student prompt, which
works from a checkout and from an editable install alike.
"""

from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from schemadistill.io import atomic_write_text
from schemadistill.reports import plots
from schemadistill.reports.collect import RunFigures
from schemadistill.reports.history import CompareRow

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "report"
MD_TEMPLATE, HTML_TEMPLATE = "index.md.j2", "index.html.j2"
# images this module writes into OUT/reports/ (latency.png belongs to the bench stage)
OWN_IMAGES = ("pairs_per_family.png", "training_loss.png", "accuracy.png")


@dataclass
class Image:
    md_path: str  # relative to OUT/reports/, for the Markdown
    b64: str  # for the HTML: data:image/png;base64,...


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """schemadistill.io.atomic_write_text for bytes: a temporary sibling, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the report is for others to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# -- filters --------------------------------------------------------------------------------


def pct(x: Any, digits: int = 1) -> str:
    return "—" if x is None else f"{100 * float(x):.{digits}f}%"


def num(x: Any, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.{digits}f}"
    return str(x)


def metric(x: Any, name: str) -> str:
    """A headline metric the way its kind reads best."""
    if x is None:
        return "—"
    if name.startswith("accuracy."):
        return pct(x)
    if name in ("pairs", "rejects"):
        return f"{int(x):,}"
    return num(float(x))


def cell(x: Any, limit: int = 160) -> str:
    """One Markdown table cell: one line, capped, pipes escaped."""
    text = " ".join(str("" if x is None else x).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def clip(x: Any, limit: int = 300) -> str:
    text = " ".join(str("" if x is None else x).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=autoescape,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(pct=pct, num=num, cell=cell, clip=clip, metric=metric)
    return env


# -- images ---------------------------------------------------------------------------------


def _images(fig: RunFigures, reports: Path) -> dict[str, Image]:
    """Draw the plots, write them next to the Markdown, and keep their bytes for the HTML."""
    made: dict[str, tuple[str, bytes]] = {}
    if fig.data is not None and fig.data.by_family:
        made["families"] = ("pairs_per_family.png", plots.pairs_per_family(fig.data.by_family))
    if fig.training is not None and any(fig.training.losses.values()):
        made["loss"] = ("training_loss.png", plots.loss_curves(fig.training.losses))
    if fig.accuracy is not None:
        made["accuracy"] = ("accuracy.png", plots.accuracy_per_phase(fig.accuracy.per_phase, fig.accuracy.splits))
    out: dict[str, Image] = {}
    for key, (name, data) in made.items():
        atomic_write_bytes(reports / name, data)
        out[key] = Image(name, base64.b64encode(data).decode("ascii"))
    for name in OWN_IMAGES:  # a section that is gone (a --fresh rerun stopped earlier) takes its plot
        if name not in {n for n, _ in made.values()}:
            (reports / name).unlink(missing_ok=True)
    # plots other stages drew: linked by their place in the run, embedded as they are
    if "loss" not in out and fig.training is not None and fig.training.loss_png is not None:
        out["loss"] = Image(os.path.relpath(fig.training.loss_png, reports),
                            base64.b64encode(fig.training.loss_png.read_bytes()).decode("ascii"))
    if fig.latency is not None and fig.latency.png is not None:
        out["latency"] = Image(os.path.relpath(fig.latency.png, reports),
                               base64.b64encode(fig.latency.png.read_bytes()).decode("ascii"))
    return out


def missing_lines(fig: RunFigures) -> dict[str, str]:
    """Section -> the one line shown instead of it when its stage has not run."""
    status = {r.name: r.status for r in fig.header.stages}
    have = {"schema": fig.schema, "data": fig.data, "coverage": fig.schema and fig.schema.coverage,
            "curriculum": fig.data and fig.data.curriculum, "training": fig.training,
            "accuracy": fig.accuracy, "parity": fig.parity, "latency": fig.latency}
    stage_of = {"schema": "schema", "data": "teacher", "coverage": "teacher", "curriculum": "curriculum",
                "training": "student", "accuracy": "student", "parity": "export", "latency": "bench"}
    out = {}
    for section, value in have.items():
        if not value:
            stage = stage_of[section]
            out[section] = (f"stage {stage} has not run yet" if status.get(stage) == "not run"
                            else f"stage {stage} left no figures for this section")
    return out


def render(fig: RunFigures, reports: Path, comparison: list[CompareRow] | None,
           previous: dict[str, Any] | None) -> tuple[Path, Path]:
    """Write ``reports/index.md`` and the self-contained ``reports/index.html``."""
    reports.mkdir(parents=True, exist_ok=True)
    ctx = {"r": fig, "h": fig.header, "images": _images(fig, reports), "missing": missing_lines(fig),
           "comparison": comparison or [], "previous": previous,
           "regressions": [c for c in comparison or [] if c.regression]}
    md = atomic_write_text(reports / "index.md", _env(False).get_template(MD_TEMPLATE).render(ctx))
    html = atomic_write_text(reports / "index.html", _env(True).get_template(HTML_TEMPLATE).render(ctx))
    for p in (md, html):
        p.chmod(0o644)
    return md, html
