"""The ``schemadistill`` command.

    schemadistill schema examples/ecommerce/schema.sql [--json]
    schemadistill sandbox examples/ecommerce/schema.sql --out /tmp/ecommerce.duckdb [--data DB|DIR]
    schemadistill generate examples/ecommerce/schema.sql --out /tmp/pairs [--n 3000] [--teacher offline]
    schemadistill distill examples/ecommerce/schema.sql [--out runs/ecommerce] [--data ...]
    schemadistill config              # every setting, its default and what it does

Bad input ends in one clear message (file:line, what to do) and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from schemadistill.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Turn one database schema into a tiny text-to-SQL model of its own.")
out_console = Console()
err_console = Console(stderr=True)

DialectOpt = Annotated[str | None, typer.Option("--dialect", help="SQL dialect of the DDL (detected when unset).")]
SidecarOpt = Annotated[Path | None, typer.Option("--sidecar", help="schema.yaml (default: next to the schema).")]


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
    for item in set_ or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--set {item!r} is not KEY=VALUE", hint="e.g. --set sandbox.rows=5000")
        overrides[key.strip()] = value
    cfg = load_config(config, overrides)
    if fresh:
        cfg.resume = False
    outcomes = run_pipeline(cfg)
    tab = RichTable(title=f"schemadistill run: {default_out(cfg)}", title_justify="left")
    for col in ("stage", "status", "seconds", "figures"):
        tab.add_column(col)
    for o in outcomes:
        figs = ", ".join(f"{k}={v}" for k, v in (o.figures or {}).items()
                         if not isinstance(v, (dict, list)))
        style = {"ran": "green", "skipped": "dim", "missing": "yellow"}[o.status]
        status = "not built yet" if o.status == "missing" else o.status
        tab.add_row(o.name, f"[{style}]{status}[/{style}]", f"{o.seconds:.2f}" if o.seconds else "",
                    figs if o.status != "missing" else o.note)
    out_console.print(tab)
    missing = [o.name for o in outcomes if o.status == "missing"]
    if missing:
        out_console.print(f"[yellow]Stages not built yet: {', '.join(missing)}. "
                          f"The run stopped after the stages that exist.[/yellow]")


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
