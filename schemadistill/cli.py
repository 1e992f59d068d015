"""The ``schemadistill`` command.

    schemadistill schema examples/ecommerce/schema.sql [--json]
    schemadistill sandbox examples/ecommerce/schema.sql --out /tmp/ecommerce.duckdb [--data DB|DIR]
    schemadistill generate examples/ecommerce/schema.sql --out /tmp/pairs [--n 3000] [--teacher offline]
    schemadistill distill examples/ecommerce/schema.sql [--out runs/ecommerce] [--data ...]
    schemadistill train runs/ecommerce [--student scratch:s] [--golden FILE] [--no-resume]
    schemadistill export runs/ecommerce [--out DIR] [--variants fp32,int8,fp16] [--skip-parity]
    schemadistill ask runs/ecommerce/export/artifact "How many users?" [--db FILE.duckdb]
    schemadistill eval runs/ecommerce/export/artifact --questions FILE.jsonl --db FILE.duckdb [--limit N]
    schemadistill report runs/ecommerce                 # reports/index.md + self-contained index.html
    schemadistill config              # every setting, its default and what it does

Bad input ends in one clear message (file:line, what to do) and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from schemadistill.config import DEFAULT_BEAMS, DEFAULT_NEIGHBORS
from schemadistill.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Turn one database schema into a tiny text-to-SQL model of its own.")
out_console = Console()
err_console = Console(stderr=True)

DialectOpt = Annotated[str | None, typer.Option("--dialect", help="SQL dialect of the DDL (detected when unset).")]
SidecarOpt = Annotated[Path | None, typer.Option("--sidecar", help="schema.yaml (default: next to the schema).")]


def parse_sets(items: list[str] | None, example: str) -> dict[str, str]:
    """``--set KEY=VALUE`` options as config overrides (later ones win)."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--set {item!r} is not KEY=VALUE", hint=f"e.g. --set {example}")
        out[key.strip()] = value
    return out


@app.command()
def schema(
    path: Annotated[Path, typer.Argument(help="DDL file, DuckDB or SQLite database.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    dialect: DialectOpt = None,
    sidecar: SidecarOpt = None,
) -> None:
    """Parse a schema and print its tables, keys and fingerprint."""
    from schemadistill.schema import load_schema

    s = load_schema(path, dialect=dialect, sidecar=sidecar)
    if as_json:
        sys.stdout.write(json.dumps(s.to_dict(), ensure_ascii=False) + "\n")
        return
    out_console.print(f"[bold]{path}[/bold]  dialect={s.dialect}  fingerprint={s.fingerprint}")
    for t in s.tables:
        tab = RichTable(title=t.qualified_name + (f" — {t.description}" if t.description else ""),
                        title_justify="left", show_edge=False)
        for col in ("column", "type", "role", "null", "key", "description"):
            tab.add_column(col)
        for c in t.columns:
            key = "PK" if c.name in t.primary_key else ""
            for fk in s.foreign_keys:
                if fk.table == t.qualified_name and c.name in fk.columns:
                    key += (" " if key else "") + f"→ {fk.ref_table}" + (" (inferred)" if fk.inferred else "")
            tab.add_row(c.name, f"{c.type} ({c.raw_type})" if c.raw_type else c.type, c.role or "",
                        "yes" if c.nullable else "no", key, c.description)
        out_console.print(tab)
    if s.metrics:
        out_console.print("[bold]metrics[/bold]: " + ", ".join(m.name for m in s.metrics))


@app.command()
def sandbox(
    path: Annotated[Path, typer.Argument(help="DDL file, DuckDB or SQLite database.")],
    out: Annotated[Path, typer.Option("--out", help="DuckDB file to write.")],
    data: Annotated[Path | None, typer.Option("--data", help="DuckDB/SQLite file or folder of CSV/Parquet.")] = None,
    rows: Annotated[int, typer.Option(help="Rows per fact table for synthetic data.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 0,
    dialect: DialectOpt = None,
    sidecar: SidecarOpt = None,
) -> None:
    """Build the DuckDB sandbox: the user's data, or synthetic rows that fit the schema."""
    from schemadistill.sandbox import build_sandbox
    from schemadistill.schema import load_schema

    s = load_schema(path, dialect=dialect, sidecar=sidecar)
    info = build_sandbox(s, out, data=data, rows=rows, seed=seed)
    for w in info.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {w}")
    total = sum(info.rows.values())
    out_console.print(f"wrote {out}: {len(info.rows)} tables, {total} rows ({info.source}) "
                      f"in {info.seconds:.2f}s")


@app.command()
def generate(
    schema_path: Annotated[Path, typer.Argument(metavar="SCHEMA", help="DDL file, DuckDB or SQLite database.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for pairs.jsonl, rejects.jsonl, data_report.md.")],
    data: Annotated[Path | None, typer.Option("--data", help="DuckDB/SQLite file or folder of CSV/Parquet.")] = None,
    n: Annotated[int | None, typer.Option("--n", help="Target number of validated pairs (before repairs).")] = None,
    teacher: Annotated[str, typer.Option("--teacher", help="offline | openai:MODEL")] = "offline",
    seed: Annotated[int, typer.Option("--seed", help="Seed of sampling and paraphrasing.")] = 0,
    examples: Annotated[Path | None, typer.Option("--examples", help="JSONL of question/sql pairs or a SQL log.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run in --out.")] = False,
    dialect: DialectOpt = None,
    sidecar: SidecarOpt = None,
) -> None:
    """Generate validated question/SQL pairs (the teacher stage on its own)."""
    from schemadistill.config import TeacherConfig
    from schemadistill.sandbox import SandboxInfo, build_sandbox, info_path
    from schemadistill.schema import load_schema
    from teacher.generate import generate as run_teacher

    if teacher.lower() != "offline" and not teacher.lower().startswith("openai:"):
        raise UserError(f"unknown teacher '{teacher}'", hint="use --teacher offline or --teacher openai:MODEL")
    s = load_schema(schema_path, dialect=dialect, sidecar=sidecar)
    if examples is not None and not examples.is_file():
        raise UserError("examples file not found", file=examples)
    db = out / "sandbox.duckdb"
    fresh = not db.is_file() or not info_path(db).is_file()
    if not fresh:  # built once per --out folder and reused, unless the schema or the data changed
        built = SandboxInfo.read(db)
        fresh = built.fingerprint != s.fingerprint or (data is None) != (built.source == "synthetic")
    if fresh:
        info = build_sandbox(s, db, data=data, seed=seed)
        for w in info.warnings:
            err_console.print(f"[yellow]warning:[/yellow] {w}")
    cfg = TeacherConfig(name=teacher, seed=seed)
    if n is not None:
        cfg.n = n
    summary = run_teacher(s, db, out, cfg, examples=examples, resume=resume)
    out_console.print(
        f"wrote {out / 'pairs.jsonl'}: {summary['pairs']} pairs ({summary['generate_pairs']} generate, "
        f"{summary['repair_pairs']} repair) from {summary['families']} families, {summary['rejects']} rejected, "
        f"in {summary['seconds']:.1f}s; report: {out / 'data_report.md'}")


@app.command()
def distill(
    schema_path: Annotated[Path, typer.Argument(metavar="SCHEMA", help="DDL file, DuckDB or SQLite database.")],
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/<name>).")] = None,
    data: Annotated[Path | None, typer.Option(help="The user's data (DuckDB/SQLite file or CSV/Parquet folder).")] = None,
    teacher: Annotated[str | None, typer.Option(help="offline | openai:MODEL")] = None,
    student: Annotated[str | None, typer.Option(help="scratch | HF id or local path")] = None,
    dialect: DialectOpt = None,
    examples: Annotated[Path | None, typer.Option(help="JSONL of question/sql pairs you already have.")] = None,
    golden: Annotated[Path | None, typer.Option(help="JSONL question + gold sql to report accuracy on.")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file of settings (see `schemadistill config`).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a setting: KEY=VALUE.")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Redo every stage even if up to date.")] = False,
    until: Annotated[str | None, typer.Option(help="Stop after this stage (schema, sandbox, teacher, ...).")] = None,
) -> None:
    """Run the whole pipeline on one schema."""
    from schemadistill.config import load_config
    from schemadistill.pipeline import default_out, run_pipeline

    overrides = {
        "schema.path": str(schema_path), "out": str(out) if out else None,
        "sandbox.data": str(data) if data else None, "teacher.name": teacher, "student.name": student,
        "schema.dialect": dialect, "examples": str(examples) if examples else None,
        "golden": str(golden) if golden else None,
    }
    cfg = load_config(config, {**overrides, **parse_sets(set_, "sandbox.rows=5000")})
    if fresh:
        cfg.resume = False
    outcomes = run_pipeline(cfg, until=until)
    tab = RichTable(title=f"schemadistill run: {default_out(cfg)}", title_justify="left")
    for col in ("stage", "status", "seconds", "peak MB", "figures"):
        tab.add_column(col, justify="right" if col in ("seconds", "peak MB") else "left",
                       no_wrap=col != "figures")
    memory_keys = ("peak_rss_mb", "peak_rss_tree_mb", "peak_rss_child_mb")
    for o in outcomes:
        all_figs = o.figures or {}
        figs = ", ".join(f"{k}={v}" for k, v in all_figs.items()
                         if not isinstance(v, (dict, list)) and k not in memory_keys)
        peak = all_figs.get("peak_rss_mb")
        tree = all_figs.get("peak_rss_tree_mb")
        # the pipeline process's peak; "/ N" adds the process tree's when the stage spawned workers (the bench)
        mem = "" if peak is None else f"{peak:.0f}" + (f" / {tree:.0f}" if tree else "")
        style = {"ran": "green", "skipped": "dim", "missing": "yellow"}[o.status]
        status = "not run" if o.status == "missing" else o.status
        tab.add_row(o.name, f"[{style}]{status}[/{style}]", f"{o.seconds:.2f}" if o.seconds else "", mem,
                    figs if o.status != "missing" else o.note)
    out_console.print(tab)
    if any((o.figures or {}).get("peak_rss_tree_mb") for o in outcomes):
        out_console.print("[dim]peak MB: peak resident memory of the pipeline process during the stage; "
                          "A / B: B with the stage's worker processes[/dim]")
    missing = [o.name for o in outcomes if o.status == "missing"]
    if missing:
        out_console.print(f"[yellow]Stages not run: {', '.join(missing)}.[/yellow]")


@app.command()
def curriculum(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR",
                                            help="Run folder (with teacher/pairs.jsonl) or a folder with pairs.jsonl.")],
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default RUN_DIR/curriculum).")] = None,
    heldout_iid: Annotated[float | None, typer.Option(help="Share of instances held out.")] = None,
    heldout_families: Annotated[int | None, typer.Option(help="Whole families held out.")] = None,
    replay: Annotated[float | None, typer.Option(help="Share of later mixes replayed from earlier phases.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the splits and mixes.")] = None,
) -> None:
    """Phase files, training mixes and held-out sets from pairs.jsonl (the curriculum stage on its own)."""
    from curriculum import build_curriculum
    from schemadistill.config import CurriculumConfig

    in_run = (run_dir / "teacher" / "pairs.jsonl").is_file()
    pairs = run_dir / "teacher" / "pairs.jsonl" if in_run else run_dir / "pairs.jsonl"
    cfg = CurriculumConfig()
    for key, value in (("heldout_iid", heldout_iid), ("heldout_families", heldout_families),
                       ("replay", replay), ("seed", seed)):
        if value is not None:
            setattr(cfg, key, value)
    target = out or run_dir / "curriculum"
    # inside a run folder manifest.json is the pipeline's commit record: write summary.json there,
    # and drop the record, since these files may now differ from what the pipeline made
    if in_run and out is None:
        (target / "manifest.json").unlink(missing_ok=True)
    m = build_curriculum(pairs, target, cfg, manifest_name="summary.json" if in_run and out is None
                         else "manifest.json")
    c = m["counts"]
    out_console.print(
        f"wrote {target}: train {c['train_phase1']['rows']}/{c['train_phase2']['rows']}/{c['train_phase3']['rows']} "
        f"rows (phases 1/2/3), heldout_iid {c['heldout_iid']['rows']}, heldout_family "
        f"{c['heldout_family']['rows']} ({', '.join(m['heldout_families']) or 'none'}), "
        f"{m['phase_moves']['count']} phase moves")
    for note in m["notes"]:
        err_console.print(f"[yellow]note:[/yellow] {escape(note)}")


@app.command()
def train(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="Run folder with curriculum/ and sandbox/.")],
    student: Annotated[str | None, typer.Option(help="scratch[:xs|:sm|:s|:m] | HF id or local path")] = None,
    golden: Annotated[Path | None, typer.Option(help="JSONL question + gold sql to report accuracy on.")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file of settings (see `schemadistill config`).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a setting: student.KEY=VALUE.")] = None,
    resume: Annotated[bool, typer.Option("--resume/--no-resume",
                                         help="Skip finished phases and continue an interrupted one.")] = True,
) -> None:
    """Train the student and evaluate it after each phase (the student stage on its own).

    Several GPUs: accelerate launch -m schemadistill.cli train RUN_DIR
    """
    from schemadistill.config import load_config
    from schemadistill.pipeline import load_run_schema
    from schemadistill.sandbox import Executor
    from student.train import train as train_student

    if not (run_dir / "schema" / "schema.json").is_file():
        raise UserError("not a run folder (no schema/schema.json)", file=run_dir,
                        hint="make one first: schemadistill distill SCHEMA --out RUN_DIR")
    cfg = load_config(config, {"student.name": student, **parse_sets(set_, "student.max_minutes=5")})
    with Executor(run_dir / "sandbox" / "sandbox.duckdb", timeout_s=cfg.sandbox.timeout_s,
                  row_cap=cfg.sandbox.row_cap) as ex:
        s = train_student(run_dir, cfg.student, load_run_schema(run_dir), ex, golden=golden, resume=resume)
    if s:  # only the main process of a multi-GPU launch reports
        sys.stdout.write(json.dumps(s) + "\n")


@app.command("export")
def export_cmd(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="Run folder with a trained student/model.")],
    out: Annotated[Path | None, typer.Option("--out", help="Artifact folder (default RUN_DIR/export/artifact).")] = None,
    variants: Annotated[str | None, typer.Option("--variants", help="Comma-separated: fp32, int8, fp16 "
                                                                    "(default: the config's export.variants).")] = None,
    skip_parity: Annotated[bool, typer.Option("--skip-parity", help="Install without the parity gate.")] = False,
    parity_max: Annotated[int | None, typer.Option("--parity-max", help="Most held-out questions the gate decodes "
                                                                        "(default: export.parity_max).")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file of settings (see `schemadistill config`).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a setting: export.KEY=VALUE.")] = None,
) -> None:
    """ONNX artifact of the trained student, checked against PyTorch (the export stage on its own)."""
    from export.build import export_run
    from schemadistill.config import load_config

    cfg = load_config(config, {"export.variants": variants, "export.parity_max": parity_max,
                               **parse_sets(set_, "export.parity_max=50")}).export
    cfg.check()
    if out is None:
        # the artifact in the run may now differ from what the pipeline recorded: let it redo the stage
        (run_dir / "export" / "manifest.json").unlink(missing_ok=True)
    figs = export_run(run_dir, out, cfg.variants, cfg.parity_max, skip_parity=skip_parity, values=cfg.values,
                      neighbors=cfg.neighbors)
    sizes = ", ".join(f"{v} {figs[f'{v}_mb']:.2f} MB" for v in figs["variants"].split(","))
    gate = "skipped" if skip_parity else ", ".join(f"{v} {figs.get(f'{v}_parity')}" for v in figs["variants"].split(","))
    err_console.print(f"wrote {figs['artifact']} ({sizes}); parity gate: {gate}", highlight=False,
                      soft_wrap=True)
    sys.stdout.write(json.dumps(figs) + "\n")


VariantOpt = Annotated[str, typer.Option("--variant", help="auto (int8 on CPU, fp16 on CUDA) | fp32 | int8 | fp16")]
BeamsOpt = Annotated[int, typer.Option("--beams", help="Beam-search completions tried for an answer that fails the "
                                                       "checks (before the repair prompt) or that the consistency "
                                                       "check questions; 0 skips them.")]
NeighborsOpt = Annotated[int, typer.Option("--neighbors", help="Training pairs nearest to the question whose SQL "
                                                               "(grounded) competes with those beams (the "
                                                               "artifact's neighbors.json); 0 skips them.")]
ConsistencyOpt = Annotated[bool, typer.Option("--consistency/--no-consistency",
                                              help="Question answers that add to the question or leave part of it "
                                                   "out, and take a beam that says more.")]


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    for text in dict.fromkeys(str(w.message) for w in caught):
        err_console.print(f"[yellow]warning:[/yellow] {escape(text)}", highlight=False)


@app.command()
def ask(
    artifact: Annotated[Path, typer.Argument(metavar="ARTIFACT", help="Artifact folder (RUN/export/artifact).")],
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    db: Annotated[Path | None, typer.Option("--db", help="DuckDB file: run the SQL read-only, show its rows, "
                                                         "repair it on error.")] = None,
    variant: VariantOpt = "auto",
    beams: BeamsOpt = DEFAULT_BEAMS,
    neighbors: NeighborsOpt = DEFAULT_NEIGHBORS,
    consistency: ConsistencyOpt = True,
) -> None:
    """Answer one question with the exported student (lean ONNX runtime, no torch): prints the SQL.

    A statement that is not one read-only query is refused (exit code 1). One that fails the
    checks gets fallbacks (beam search, then the repair prompt); a line ``-- repaired: yes|no``
    follows the SQL (with the fallback and the first attempt), a line ``-- grounded: ...`` for
    each value, date or number of the question that grounding put into it, and a line
    ``-- unsupported: ...`` for each thing the answer adds to the question or leaves out of it
    (the consistency check); ``-- second choice: ...`` when a beam that says more of the question
    replaced a first answer that passed; ``-- from the training question: ...`` when the answer is
    the SQL of a training question near this one, grounded.
    """
    from export.runtime import Runtime

    with warnings.catch_warnings(record=True) as caught, \
            Runtime(artifact, variant=variant, beams=beams, consistency=consistency, neighbors=neighbors) as rt:
        warnings.simplefilter("always")
        a = rt.ask(question, db)
    _print_warnings(caught)
    if a.sql is None:
        err_console.print(f"[bold red]refused:[/bold red] {escape(a.error or 'not a read-only query')}", highlight=False)
        sys.exit(1)
    sys.stdout.write(a.sql + "\n")
    if a.fixed_by == "consistency":  # the first answer passed: not a repair, a second choice
        sys.stdout.write(f"-- repaired: no\n-- second choice: a beam that says more of the question "
                         f"(first answer: {a.first_sql})\n")
    else:
        how = f"by {a.fixed_by}; " if a.fixed_by else ""
        sys.stdout.write(f"-- repaired: {'yes' if a.repaired else 'no'}"
                         + (f" ({how}first attempt: {a.first_sql})" if a.first_sql else "") + "\n")
    if a.neighbor is not None:
        sys.stdout.write(f"-- from the training question: {a.neighbor}\n")
    for change in a.grounded:
        sys.stdout.write(f"-- grounded: {change}\n")
    for issue in a.unsupported:
        sys.stdout.write(f"-- unsupported: {issue}\n")
    if not a.ok:
        err_console.print(f"[bold red]the SQL does not pass the checks:[/bold red] {escape(a.error or '')}",
                          highlight=False)
        sys.exit(1)
    if a.rows is not None:
        tab = RichTable(show_edge=False)
        for col in a.columns or []:
            tab.add_column(col)
        for row in a.rows[:20]:
            tab.add_row(*(str(v) for v in row))
        out_console.print(tab)
        if len(a.rows) > 20:
            out_console.print(f"... {len(a.rows) - 20} more rows")


# what `eval` prints of evaluate()'s report, as its last line (plus the fallback counts or the repair figures)
REPORT_KEYS = ("n", "execution_accuracy", "valid_sql_rate", "unknown_name_rate", "exact_match_rate", "skipped",
               "gold_errors", "failure_counts")


@app.command("eval")
def eval_cmd(
    artifact: Annotated[Path, typer.Argument(metavar="ARTIFACT", help="Artifact folder (RUN/export/artifact).")],
    questions: Annotated[Path, typer.Option("--questions", help="JSONL: question + gold sql per line.")],
    db: Annotated[Path, typer.Option("--db", help="DuckDB file both gold and predicted SQL run on.")],
    variant: VariantOpt = "auto",
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N lines of the file.")] = None,
    ground: Annotated[bool, typer.Option("--ground/--no-ground",
                                         help="Grounding (values from the artifact's values.json; the question's dates "
                                              "and numbers), as `ask` does.")] = True,
    beams: BeamsOpt = DEFAULT_BEAMS,
    neighbors: NeighborsOpt = DEFAULT_NEIGHBORS,
    consistency: ConsistencyOpt = True,
    repair: Annotated[bool, typer.Option("--repair", help="Rows hold broken_sql and error too (e.g. "
                                                          "RUN/curriculum/heldout_repair.jsonl): score the "
                                                          "repair prompt alone on them.")] = False,
) -> None:
    """Execution accuracy of the exported student through the lean runtime (grounding, guard and fallbacks included).

    Rows flagged empty_or_null_result or time_dependent are skipped. The last line printed is one
    JSON object: n, execution_accuracy, valid_sql_rate, repaired, ... With --repair, each row's
    broken SQL and error go through the repair prompt (Runtime.repair_many) instead.
    """
    from export.evaluate import FALLBACK_COUNTS, evaluate_artifact, evaluate_repairs
    from export.runtime import Runtime
    from schemadistill.io import read_jsonl

    if not questions.is_file():
        raise UserError("questions file not found", file=questions)
    rows = list(read_jsonl(questions))
    if limit is not None:
        rows = rows[:max(0, limit)]
    if repair:
        with Runtime(artifact, variant=variant, ground=ground, beams=0, consistency=consistency,
                     neighbors=0) as rt:
            fixes = evaluate_repairs(rt, rows, db, source=questions)
        out_console.print(f"{artifact} ({fixes['variant']}) on {questions.name}: {fixes['n']} broken SQL + error "
                          f"through the repair prompt, {fixes['seconds']:.1f}s")
        out_console.print(f"execution accuracy {fixes['execution_accuracy']:.1%}, valid SQL "
                          f"{fixes['valid_sql_rate']:.1%}, {fixes['unchanged']} given back unchanged")
        sys.stdout.write(json.dumps({k: fixes[k] for k in (*REPORT_KEYS, "unchanged", "variant", "seconds")}) + "\n")
        return
    with warnings.catch_warnings(record=True) as caught, \
            Runtime(artifact, variant=variant, ground=ground, beams=beams, consistency=consistency,
                    neighbors=neighbors) as rt:
        warnings.simplefilter("always")
        report = evaluate_artifact(rt, rows, db, source=questions)
    counts = {k: report[k] for k in FALLBACK_COUNTS}
    seconds, used = report["seconds"], report["variant"]
    _print_warnings(caught)
    n = report["n"]
    out_console.print(f"{artifact} ({used}) on {questions.name}: {n} questions scored, {report['skipped']} skipped "
                      f"{report['skipped_by_flag'] or ''}, {report['gold_errors']} gold errors, {seconds:.1f}s")
    out_console.print(f"execution accuracy {report['execution_accuracy']:.1%}, valid SQL {report['valid_sql_rate']:.1%}, "
                      f"unknown names {report['unknown_name_rate']:.1%}; repaired {counts['repaired']} of "
                      f"{counts['repair_tried']} failing answers ({counts['fixed_by_beam']} by beams, "
                      f"{counts['fixed_by_repair']} by the repair prompt), refused {counts['refused']}, grounded {counts['grounded']}, "
                      f"questioned {counts['questioned']} passing answers ({counts['fixed_by_consistency']} replaced by a beam "
                      f"that says more); {counts['fixed_by_neighbor']} of the replacements are a training question's SQL")
    for f in report["failures"][:5]:
        out_console.print(f"  [dim]{f['why']}:[/dim] {escape(f['question'])} -> {escape(f['pred'] or '(none)')}",
                          highlight=False)
    sys.stdout.write(json.dumps({**{k: report[k] for k in REPORT_KEYS}, **counts, "variant": used,
                                 "seconds": seconds}) + "\n")


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="Run folder (the OUT of `distill`).")],
) -> None:
    """Write the run report: RUN_DIR/reports/index.md and a self-contained index.html.

    `distill` writes it after every run; this rewrites it (e.g. after `train` or `export` on their own).
    """
    from schemadistill.reports import write_report

    md = write_report(run_dir)
    out_console.print(f"wrote {md} and {md.with_name('index.html')}", highlight=False, soft_wrap=True)


@app.command("config")
def config_cmd() -> None:
    """List every setting, its default and what it does."""
    from schemadistill.config import field_help

    tab = RichTable(show_edge=False)
    for col in ("key", "default", "help"):
        tab.add_column(col)
    for key, default, help_ in field_help():
        tab.add_row(key, default, help_)
    out_console.print(tab)


def main() -> None:
    """Console-script entry: user errors become one message and exit code 2."""
    try:
        app()
    except UserError as e:
        err_console.print(f"[bold red]error:[/bold red] {escape(str(e))}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted; finished stages are kept, rerun to resume")
        sys.exit(130)


if __name__ == "__main__":
    main()
