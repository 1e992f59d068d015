"""``data_report.md``: what the teacher made, what it threw away and why, what it never touched.

    from teacher.report import schema_coverage, write_report
    write_report(out_dir / "data_report.md", pairs, rejects, schema, summary)

Sections: totals; pairs per family, phase, source and kind; schema coverage (share of tables,
columns and foreign-key edges that kept pairs use, and the ones never used); rejects by reason
with one example each; families skipped because they bind to nothing in this schema; teacher
usage and cost; timing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from schemadistill.io import atomic_write_text
from schemadistill.schema.model import Schema
from teacher.pair import Pair, Reject


def schema_coverage(pairs: list[Pair], schema: Schema) -> dict[str, Any]:
    """Tables, columns and FK edges the kept pairs use (generate pairs only).

    An FK edge counts as used when a pair reads both of its tables and every column on both
    sides of it (the pair's ``tables``/``columns`` come from sqlglot's name resolution).
    """
    used_tables: set[str] = set()
    used_cols: set[str] = set()
    per_pair: list[tuple[set[str], set[str]]] = []
    for p in pairs:
        if p.kind != "generate":
            continue
        t = {x.lower() for x in p.tables}
        c = {x.lower() for x in p.columns}
        used_tables |= t
        used_cols |= c
        per_pair.append((t, c))
    all_tables = [t.qualified_name for t in schema.tables]
    all_cols = [f"{t.qualified_name}.{c.name}" for t in schema.tables for c in t.columns]
    edges: list[tuple[str, bool]] = []
    for fk in schema.foreign_keys:
        need_t = {fk.table.lower(), fk.ref_table.lower()}
        need_c = {f"{fk.table}.{c}".lower() for c in fk.columns} | {
            f"{fk.ref_table}.{c}".lower() for c in fk.ref_columns}
        label = (f"{fk.table}({', '.join(fk.columns)}) -> {fk.ref_table}({', '.join(fk.ref_columns)})"
                 + (" [inferred]" if fk.inferred else ""))
        edges.append((label, any(need_t <= t and need_c <= c for t, c in per_pair)))
    unused_tables = [t for t in all_tables if t.lower() not in used_tables]
    unused_cols = [c for c in all_cols if c.lower() not in used_cols]
    return {
        "tables": len(all_tables), "tables_used": len(all_tables) - len(unused_tables),
        "columns": len(all_cols), "columns_used": len(all_cols) - len(unused_cols),
        "fk_edges": len(edges), "fk_edges_used": sum(u for _, u in edges),
        "unused_tables": unused_tables, "unused_columns": unused_cols,
        "unused_fk_edges": [label for label, u in edges if not u],
        "table_share": _share(len(all_tables) - len(unused_tables), len(all_tables)),
        "column_share": _share(len(all_cols) - len(unused_cols), len(all_cols)),
        "fk_edge_share": _share(sum(u for _, u in edges), len(edges)),
    }


def _share(a: int, b: int) -> float:
    return round(a / b, 4) if b else 1.0


def _cell(x: object, limit: int = 120) -> str:
    text = " ".join(str(x).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(_cell(v) for v in r) + " |" for r in rows]
    return out + [""]


def _counts(title: str, key: str, counter: Counter[Any], total: int) -> list[str]:
    rows: list[list[object]] = [[k, v, f"{v / total:.1%}" if total else ""] for k, v in sorted(
        counter.items(), key=lambda kv: (-kv[1], str(kv[0])))]
    return [f"### {title}", ""] + _table([key, "pairs", "share"], rows)


def render_report(pairs: list[Pair], rejects: list[Reject], schema: Schema, summary: dict[str, Any]) -> str:
    gen = [p for p in pairs if p.kind == "generate"]
    rep = [p for p in pairs if p.kind == "repair"]
    total = len(pairs)
    lines = [f"# Teacher data report: {Path(schema.source).name or 'schema'}", ""]
    lines += [f"Teacher `{summary.get('teacher', 'offline')}`, seed {summary.get('seed', 0)}, "
              f"dialect `{summary.get('dialect', schema.dialect)}`, schema {schema.fingerprint}, "
              f"calendar filters in the `{summary.get('sql_style', 'varied')}` form.", ""]
    mined = summary.get("mined_metrics") or {}
    if mined:
        lines += ["Metrics read off EXAMPLES (the team's own definitions, used like sidecar metrics): "
                  + "; ".join(f"`{name}` = `{sql}`" for name, sql in mined.items()), ""]
    words = summary.get("metric_words_from_examples") or {}
    if words:
        lines += ["Sidecar metrics named differently in EXAMPLES (synonyms added): "
                  + "; ".join(f"`{name}`: {', '.join(w)}" for name, w in words.items()), ""]

    lines += ["## Totals", ""]
    lines += _table(["measure", "value"], [
        ["kept pairs", total], ["generate pairs", len(gen)], ["repair pairs", len(rep)],
        ["repair share (of generate pairs)", f"{len(rep) / len(gen):.1%}" if gen else "n/a"],
        ["distinct SQL queries", len({p.sql for p in gen})],
        ["template instances", len({p.instance for p in gen})],
        ["candidates validated", summary.get("candidates", len(pairs) + len(rejects))],
        ["rejected", len(rejects)],
        ["duplicate questions among kept pairs", summary.get("duplicate_questions", 0)],
    ])

    lines += ["## Pairs", ""]
    rej_by_family = Counter(r.family for r in rejects)
    inst: dict[str, set[str]] = defaultdict(set)
    phase_of: dict[str, int] = {}
    for p in pairs:
        inst[p.family].add(p.instance)
        phase_of[p.family] = p.phase
    fam = Counter(p.family for p in pairs)
    lines += ["### Per family", ""]
    lines += _table(["family", "phase", "pairs", "instances", "rejected"], [
        [f, phase_of[f], n, len(inst[f]), rej_by_family.get(f, 0)]
        for f, n in sorted(fam.items(), key=lambda kv: (phase_of[kv[0]], -kv[1], kv[0]))])
    lines += _counts("Per phase", "phase", Counter(p.phase for p in pairs), total)
    lines += _counts("Per source", "source", Counter(p.source for p in pairs), total)
    lines += _counts("Per kind", "kind", Counter(p.kind for p in pairs), total)
    if rep:
        lines += _counts("Repairs per mutation", "mutation", Counter(p.family for p in rep), len(rep))
    diff = Counter(min(p.difficulty, 15) for p in gen)
    lines += ["### Difficulty (generate pairs; 15 means 15 or more)", ""]
    lines += _table(["difficulty", "pairs"], [[d, diff[d]] for d in sorted(diff)])

    cov = schema_coverage(pairs, schema)
    lines += ["## Schema coverage", ""]
    lines += _table(["", "used", "of", "share"], [
        ["tables", cov["tables_used"], cov["tables"], f"{cov['table_share']:.1%}"],
        ["columns", cov["columns_used"], cov["columns"], f"{cov['column_share']:.1%}"],
        ["foreign-key edges", cov["fk_edges_used"], cov["fk_edges"], f"{cov['fk_edge_share']:.1%}"],
    ])
    for what, key in (("Tables", "unused_tables"), ("Columns", "unused_columns"), ("FK edges", "unused_fk_edges")):
        items = cov[key]
        lines += [f"**{what} never used** ({len(items)}): " + (", ".join(f"`{x}`" for x in items) or "none"), ""]

    lines += ["## Rejects by reason", ""]
    by_reason: dict[str, list[Reject]] = defaultdict(list)
    for r in rejects:
        by_reason[r.reason].append(r)
    lines += _table(["reason", "count", "example question", "example SQL", "detail"], [
        [reason, len(rs), rs[0].question, rs[0].sql, (rs[0].detail or "").splitlines()[0] if rs[0].detail else ""]
        for reason, rs in sorted(by_reason.items(), key=lambda kv: -len(kv[1]))]) if rejects else ["none", ""]

    lines += ["## Skipped families", ""]
    skipped = summary.get("skipped_families", {})
    if skipped:
        lines += ["Families that bind to nothing in this schema (no candidates were made):", ""]
        lines += [f"- `{f}`" + (f": {why}" if why else "") for f, why in sorted(skipped.items())] + [""]
    else:
        lines += ["none", ""]
    all_rejected = summary.get("all_rejected_families", [])
    if all_rejected:
        lines += ["Families whose every candidate was rejected: "
                  + ", ".join(f"`{f}`" for f in all_rejected), ""]

    lines += ["## Teacher usage", ""]
    usage = summary.get("usage") or {}
    if usage:
        lines += _table(["measure", "value"], [[k, v] for k, v in usage.items()])
    else:
        lines += ["offline teacher: no model calls, no cost", ""]

    lines += ["## Timing", ""]
    timing = summary.get("timing") or {}
    lines += _table(["step", "seconds"], [[k, f"{v:.2f}"] for k, v in timing.items()])
    secs = summary.get("seconds")
    if secs:
        lines += [f"Total {secs:.1f} s, {total / secs:.0f} kept pairs per second.", ""]
    return "\n".join(lines)


def write_report(path: Path, pairs: list[Pair], rejects: list[Reject], schema: Schema,
                 summary: dict[str, Any]) -> Path:
    return atomic_write_text(path, render_report(pairs, rejects, schema, summary))
