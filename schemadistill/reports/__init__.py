"""The run report a data team reads: ``OUT/reports/index.md`` and a self-contained ``index.html``.

    schemadistill report runs/ecommerce        # (re)write the report of a run folder
    schemadistill distill SCHEMA --out runs/ecommerce   # writes it at the end of every run

    from schemadistill.reports import write_report
    write_report(Path("runs/ecommerce"))       # -> runs/ecommerce/reports/index.md

Sections, each shown once its stage has run (otherwise one line "stage X has not run yet"):
run header and stage table (from ``OUT/<stage>/manifest.json``); schema and its coverage (the
teacher's own ``teacher.report.schema_coverage``); data (pairs by family, phase, source and
kind, rejects by reason from ``teacher/rejects.jsonl``, curriculum splits); training (loss
curves, steps, seconds, tokens/s per phase); accuracy after each phase per split, the last
phase broken down by phase/family/difficulty, a few failures; export parity; latency (the bench
stage's ``reports/latency.json``); and current vs previous run from ``reports/history.jsonl``,
regressions marked "▼ regression" in Markdown and red in HTML.

The HTML embeds every plot as base64 PNG and links nothing outside itself; the Markdown links
the same PNGs, written next to it.
"""

from __future__ import annotations

from pathlib import Path

from schemadistill.reports.collect import RunFigures, collect

__all__ = ["RunFigures", "collect", "write_report"]


def write_report(run_dir: Path, *, record_history: bool = True) -> Path:
    """Write ``run_dir/reports/index.md`` and ``index.html``; returns the Markdown's path.

    ``record_history`` adds this run's headline metrics to ``reports/history.jsonl`` (once per
    distinct run state) and compares them with the run before. Raises
    :class:`~schemadistill.errors.UserError` when ``run_dir`` is not a run folder.
    """
    from schemadistill.reports import history
    from schemadistill.reports.render import render

    run_dir = Path(run_dir)
    fig = collect(run_dir)
    reports = run_dir / "reports"
    line = history.history_line(fig)
    previous = history.record(reports, line, write=record_history)
    comparison = history.compare(line["metrics"], previous.get("metrics", {})) if previous else None
    md, _ = render(fig, reports, comparison, previous)
    return md
