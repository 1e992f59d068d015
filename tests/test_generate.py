"""teacher.generate end to end on examples/ecommerce: format, validity, dedup, repairs, report,
resume after an interruption, determinism, the CLI command and the pipeline stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemadistill.config import TeacherConfig
from schemadistill.io import read_jsonl
from schemadistill.sandbox import Executor, build_sandbox
from schemadistill.schema import load_schema
from schemadistill.schema.model import Schema
from schemadistill.sqlcheck import parse_sql
from teacher.pair import Pair
from teacher.validate import Validator, normalise_question

ROOT = Path(__file__).resolve().parents[1]
ECOMMERCE = ROOT / "examples" / "ecommerce" / "schema.sql"
N = 300
CHUNK = 100


def _cfg(**kw: object) -> TeacherConfig:
    cfg = TeacherConfig(n=N)
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema(ECOMMERCE)


@pytest.fixture(scope="module")
def sandbox(schema: Schema, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("gen_sandbox") / "sandbox.duckdb"
    build_sandbox(schema, db, rows=600, seed=0, progress=False)
    return db


@pytest.fixture(scope="module")
def run(schema: Schema, sandbox: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    from teacher.generate import generate

    out = tmp_path_factory.mktemp("gen_out")
    summary = generate(schema, sandbox, out, _cfg(), progress=False, chunk_size=CHUNK)
    return out, summary


def _pairs(out: Path) -> list[Pair]:
    return [Pair.from_json(r) for r in read_jsonl(out / "pairs.jsonl")]


def test_files_and_pair_format(run: tuple[Path, dict]) -> None:
    out, summary = run
    for name in ("pairs.jsonl", "rejects.jsonl", "data_report.md", "manifest.json"):
        assert (out / name).is_file(), name
    for name in ("pairs.partial.jsonl", "rejects.partial.jsonl", "progress.json"):
        assert not (out / name).exists(), name
    rows = list(read_jsonl(out / "pairs.jsonl"))
    assert len(rows) == summary["pairs"]
    for r in rows:
        assert {"id", "question", "sql", "dialect", "family", "phase", "difficulty", "kind", "source",
                "instance", "tables", "columns"} <= set(r)
        assert r["kind"] in ("generate", "repair") and r["question"].strip() and r["phase"] in (1, 2, 3)
        assert ("broken_sql" in r and "error" in r) == (r["kind"] == "repair")
    assert len({r["id"] for r in rows}) == len(rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["pairs"] == summary["pairs"] and manifest["seed"] == 0
    assert manifest["fingerprint"].startswith("sha256:") and manifest["seconds"] > 0


def test_target_reached_and_sources(run: tuple[Path, dict]) -> None:
    _, summary = run
    assert N <= summary["generate_pairs"] <= N + 20  # stops at an instance boundary past N
    assert summary["pairs_per_source"].get("template", 0) > 0
    assert summary["pairs_per_source"].get("paraphrase", 0) > 0
    assert summary["families"] >= 5


def test_every_kept_sql_reexecutes_non_empty(run: tuple[Path, dict], sandbox: Path) -> None:
    out, _ = run
    pairs = _pairs(out)
    with Executor(sandbox) as ex:
        for sql in sorted({p.sql for p in pairs}):
            res = ex.run(sql, pairs[0].dialect)
            assert res.ok and res.rows, sql
        for p in pairs:
            if p.kind == "repair":  # the recorded error is still exactly what the sandbox says
                broken = ex.run(p.broken_sql or "", p.dialect)
                if not broken.ok:
                    assert broken.error is not None and broken.error.message == p.error


def test_no_duplicate_questions(run: tuple[Path, dict]) -> None:
    out, summary = run
    gen = [p for p in _pairs(out) if p.kind == "generate"]
    keys = [normalise_question(p.question) for p in gen]
    assert len(keys) == len(set(keys)) and summary["duplicate_questions"] == 0


def test_repair_share(run: tuple[Path, dict]) -> None:
    out, summary = run
    pairs = _pairs(out)
    rep = [p for p in pairs if p.kind == "repair"]
    gen = [p for p in pairs if p.kind == "generate"]
    assert abs(len(rep) - round(0.15 * len(gen))) <= 2
    assert len({p.family for p in rep}) >= 4
    instances = {p.instance for p in gen}
    assert all(p.instance in instances and p.phase == 3 for p in rep)


def test_report_sections(run: tuple[Path, dict]) -> None:
    out, _ = run
    report = (out / "data_report.md").read_text()
    for section in ("## Totals", "### Per family", "### Per phase", "### Per source", "### Per kind",
                    "## Schema coverage", "Columns never used", "## Rejects by reason", "## Skipped families",
                    "## Teacher usage", "## Timing"):
        assert section in report, section


def test_resume_after_interruption_gives_the_same_pairs(run: tuple[Path, dict], schema: Schema, sandbox: Path,
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from teacher.generate import generate

    calls = {"n": 0}
    real = Validator.check

    def flaky(self: Validator, cand: object) -> object:
        calls["n"] += 1
        if calls["n"] > int(CHUNK * 1.5):  # the first chunk finishes, the second dies halfway
            raise KeyboardInterrupt
        return real(self, cand)  # type: ignore[arg-type]

    monkeypatch.setattr(Validator, "check", flaky)
    with pytest.raises(KeyboardInterrupt):
        generate(schema, sandbox, tmp_path, _cfg(), progress=False, chunk_size=CHUNK)
    assert (tmp_path / "progress.json").is_file() and not (tmp_path / "pairs.jsonl").exists()
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert progress["done"] == CHUNK
    monkeypatch.setattr(Validator, "check", real)
    summary = generate(schema, sandbox, tmp_path, _cfg(), resume=True, progress=False, chunk_size=CHUNK)
    out, first = run
    assert (tmp_path / "pairs.jsonl").read_bytes() == (out / "pairs.jsonl").read_bytes()
    assert (tmp_path / "rejects.jsonl").read_bytes() == (out / "rejects.jsonl").read_bytes()
    assert summary["pairs"] == first["pairs"]
    assert not (tmp_path / "progress.json").exists()


def test_other_seed_other_pairs(run: tuple[Path, dict], schema: Schema, sandbox: Path, tmp_path: Path) -> None:
    from teacher.generate import generate

    generate(schema, sandbox, tmp_path, _cfg(n=100, seed=1), progress=False)
    out, _ = run
    assert {p.question for p in _pairs(tmp_path)} != {p.question for p in _pairs(out)}


def test_same_pairs_on_any_number_of_threads(schema: Schema, sandbox: Path, tmp_path: Path) -> None:
    """The teacher runs DuckDB on every core: float sums then add up in another order and a GROUP
    BY returns its groups in another order, neither of which may change a pair or a reject. It
    also runs the families in that many threads, which finish in any order."""
    from teacher.generate import generate

    for threads in (1, 4):
        generate(schema, sandbox, tmp_path / str(threads), _cfg(threads=threads), progress=False)
    for name in ("pairs.jsonl", "rejects.jsonl"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "4" / name).read_bytes()


@pytest.mark.slow
def test_examples_become_pairs_and_weights(schema: Schema, sandbox: Path, tmp_path: Path) -> None:
    from teacher.generate import generate

    ex = tmp_path / "examples.jsonl"
    ex.write_text("\n".join(json.dumps(r) for r in [
        {"question": "How many sessions were on Android?",
         "sql": "SELECT COUNT(*) FROM ecommerce.sessions WHERE os = 'Android'"},
        {"question": "Total revenue by browser",
         "sql": "SELECT browser, SUM(revenue) AS revenue FROM ecommerce.sessions GROUP BY browser"},
    ]) + "\n")
    summary = generate(schema, sandbox, tmp_path / "out", _cfg(n=150), examples=ex, progress=False)
    pairs = _pairs(tmp_path / "out")
    assert summary["pairs_per_source"].get("examples") == 2
    assert pairs[0].source == "examples"  # the user's pairs come first and win conflicts
    # their variants (another OS; another dimension or measure) are validated and kept like any pair
    variants = [p for p in pairs if p.family == "example_variants"]
    assert summary["example_variants"]["kept"] == len(variants) > 0
    assert summary["example_variants"]["candidates"] >= len(variants)
    assert all(p.source == "example_variant" for p in variants)


@pytest.mark.slow
def test_examples_define_metrics_on_a_schema_without_sidecar(schema: Schema, sandbox: Path, tmp_path: Path) -> None:
    """The team's fraud rate (over users) becomes a metric the metric families compose, and the
    calendar filters take the examples' form."""
    import dataclasses

    from teacher.generate import generate

    fraud = "100 * COUNT(DISTINCT CASE WHEN is_fraud = 1 THEN user_id END) / COUNT(DISTINCT user_id)"
    ex = tmp_path / "examples.jsonl"
    ex.write_text("\n".join(json.dumps(r) for r in [
        {"question": "What was the fraud rate in 2023?",
         "sql": f"SELECT {fraud} AS fraud_rate FROM ecommerce.sessions "
                "WHERE CAST(DATE_TRUNC('YEAR', action_date) AS DATE) = '2023-01-01'"},
        {"question": "How many customers made a purchase in 2023?",
         "sql": "SELECT COUNT(DISTINCT user_id) FROM ecommerce.sessions "
                "WHERE CAST(DATE_TRUNC('YEAR', action_date) AS DATE) = '2023-01-01' AND revenue > 0"},
        {"question": "Average purchase revenue on iOS?",
         "sql": "SELECT AVG(revenue) FROM ecommerce.sessions WHERE os = 'iOS' AND revenue > 0"},
    ]) + "\n")
    bare = dataclasses.replace(schema, metrics=[], dimensions=[], filters=[])
    summary = generate(bare, sandbox, tmp_path / "out", _cfg(n=400), examples=ex, progress=False)
    assert summary["mined_metrics"] == {"fraud_rate": fraud} and summary["sql_style"] == "cast"
    # "purchase" is said by both questions with revenue > 0 and by no other: a named condition
    # for grounding, written where the later stages read it
    assert summary["mined_filters"]["revenue_gt_0"]["sql"] == "revenue > 0"
    written = json.loads((tmp_path / "out" / "filters.json").read_text())
    assert written[0]["table"] == "ecommerce.sessions" and "purchase" in written[0]["synonyms"]
    metric_pairs = [p for p in _pairs(tmp_path / "out") if p.family.startswith("metric_")]
    assert metric_pairs and all(p.sql.count("COUNT(DISTINCT CASE WHEN") == 1 for p in metric_pairs)
    assert any("fraud rate" in p.question.lower() for p in metric_pairs)
    assert "fraud_rate" in (tmp_path / "out" / "data_report.md").read_text()


@pytest.mark.slow
def test_cli_generate(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from schemadistill.cli import app

    out = tmp_path / "gen"
    res = CliRunner().invoke(app, ["generate", str(ECOMMERCE), "--out", str(out), "--n", "120", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert (out / "sandbox.duckdb").is_file() and (out / "pairs.jsonl").is_file()
    assert "pairs" in res.output
    first = (out / "pairs.jsonl").read_bytes()
    res = CliRunner().invoke(app, ["generate", str(ECOMMERCE), "--out", str(out), "--n", "120", "--seed", "3"])
    assert res.exit_code == 0 and (out / "pairs.jsonl").read_bytes() == first  # sandbox reused


@pytest.mark.slow
def test_pipeline_teacher_stage(tmp_path: Path) -> None:
    from schemadistill.config import load_config
    from schemadistill.pipeline import run_pipeline

    cfg = load_config(overrides={"schema.path": str(ECOMMERCE), "out": str(tmp_path / "run"),
                                 "sandbox.rows": "400", "teacher.n": "120"})
    # only the stages up to the teacher: the later ones (training...) have their own tests
    outcomes = {o.name: o for o in run_pipeline(cfg, until="teacher")}
    assert outcomes["teacher"].status == "ran" and outcomes["teacher"].figures["pairs"] > 120
    stage = tmp_path / "run" / "teacher"
    assert (stage / "pairs.jsonl").is_file() and (stage / "summary.json").is_file()
    assert json.loads((stage / "manifest.json").read_text())["stage"] == "teacher"
    again = {o.name: o for o in run_pipeline(cfg, until="teacher")}
    assert again["teacher"].status == "skipped"


@pytest.mark.slow
def test_openai_teacher_path(schema: Schema, sandbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fake_openai_server import FakeOpenAIServer

    from teacher.generate import generate

    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        cfg = _cfg(n=60, name="openai:fake-model", llm_pairs=10, paraphrases_per_question=1)
        summary = generate(schema, sandbox, tmp_path, cfg, progress=False)
        assert server.requests
    sources = summary["pairs_per_source"]
    assert sources.get("openai:fake-model", 0) > 0 and "paraphrase" not in sources
    assert summary["usage"]["requests"] > 0 and (tmp_path / "llm_cache").is_dir()
    assert "## Teacher usage" in (tmp_path / "data_report.md").read_text()


def test_resume_during_the_repair_phase(run: tuple[Path, dict], schema: Schema, sandbox: Path,
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from teacher.generate import generate

    seen = {"repairs": 0}
    real = Validator.check

    def dies_in_repairs(self: Validator, cand: object) -> object:
        if getattr(cand, "kind", "") == "repair":
            seen["repairs"] += 1
            if seen["repairs"] > 10:
                raise RuntimeError("killed")
        return real(self, cand)  # type: ignore[arg-type]

    monkeypatch.setattr(Validator, "check", dies_in_repairs)
    with pytest.raises(RuntimeError):
        generate(schema, sandbox, tmp_path, _cfg(), progress=False, chunk_size=10)
    monkeypatch.setattr(Validator, "check", real)
    generate(schema, sandbox, tmp_path, _cfg(), resume=True, progress=False, chunk_size=10)
    out, _ = run
    assert (tmp_path / "pairs.jsonl").read_bytes() == (out / "pairs.jsonl").read_bytes()


def test_coverage_cli(run: tuple[Path, dict], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from teacher.coverage import main

    out, _ = run
    gen = [p for p in _pairs(out) if p.kind == "generate"]
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps({"question": p.question, "sql": p.sql}) for p in gen[:20]) + "\n"
                         + json.dumps({"question": "odd", "sql": "SELECT max(age) FROM ecommerce.users "
                                       "WHERE user_id IN (SELECT user_id FROM ecommerce.sessions)"}) + "\n")
    assert main([str(out / "pairs.jsonl"), str(questions)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["questions"] == 21 and line["template_exact"] >= 20 and line["construct"] >= 20
    assert "shape" not in line  # needs the schema
    assert main([str(out / "pairs.jsonl"), str(questions), "--schema", str(ECOMMERCE)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["template_exact"] <= line["template_loose"] <= line["shape"] <= line["family"] and line["shape"] >= 20


def test_shape_template_evens_out_what_a_family_binds() -> None:
    from teacher.coverage import shape_template

    schema = load_schema(ECOMMERCE)
    def shape(sql: str) -> str:
        return shape_template(parse_sql(sql, "duckdb"), schema)
    a = ("SELECT browser, AVG(session_duration) AS avg_d FROM ecommerce.sessions WHERE os = 'iOS' "
         "AND is_fraud = 1 GROUP BY browser ORDER BY avg_d DESC, browser LIMIT 1")
    b = ("SELECT os, AVG(session_duration) AS average FROM ecommerce.sessions WHERE is_fraud = 0 "
         "AND browser = 'Chrome' GROUP BY os ORDER BY average DESC LIMIT 1")
    assert shape(a) == shape(b)
    assert shape("SELECT os, COUNT(*) FROM ecommerce.sessions GROUP BY os ORDER BY os") == \
        shape("SELECT browser, COUNT(*) FROM ecommerce.sessions GROUP BY browser")
    # a different aggregate, or a measure of another type, is another shape
    assert shape(a) != shape(a.replace("AVG(", "SUM("))
    assert shape(a) != shape(a.replace("AVG(session_duration)", "AVG(revenue)"))



def test_family_level_composes_what_a_family_draws_apart() -> None:
    """A gold query is in a family when the family generated its skeleton and, in any of its
    pairs, each of its conditions and aggregates: the family draws them independently, and a
    sample cannot show every combination. What the family never drew keeps it out."""
    from teacher.coverage import FamilyIndex, family_parts, loose_template

    schema = load_schema(ECOMMERCE)
    def parts(sql: str) -> tuple[str, frozenset[str], frozenset[str]]:
        return family_parts(parse_sql(sql, "duckdb"), schema)
    group = "SELECT os, {agg}(revenue) AS m FROM ecommerce.sessions WHERE {where} GROUP BY os"
    index = FamilyIndex()
    index.add("group_agg", parts(group.format(agg="SUM", where="is_fraud = 1")))
    index.add("group_agg", parts(group.format(
        agg="AVG", where="browser = 'Chrome' AND DATE_TRUNC('month', action_date) = DATE '2024-01-01'")))
    index.add("top_group", parts(group.format(agg="MAX", where="is_fraud = 1") + " ORDER BY m DESC LIMIT 1"))
    # SUM's filter, AVG's calendar filter (in another spelling), another dimension: in the family
    assert index.covers(parts(group.format(agg="AVG", where="is_fraud = 0 AND YEAR(action_date) = 2023")
                              .replace("os", "browser")))
    for calendar in ("action_date >= '2024-03-01' AND action_date < '2024-04-01'",
                     "(action_date >= DATE '2024-03-01' AND action_date < DATE '2024-04-01')",
                     "EXTRACT(YEAR FROM action_date) = 2024 AND EXTRACT(MONTH FROM action_date) = 3",
                     "CAST(DATE_TRUNC('quarter', action_date) AS DATE) = '2024-01-01'"):
        assert index.covers(parts(group.format(agg="SUM", where=calendar))), calendar
    # more conditions than the family ever drew, a condition it never drew, an aggregate it never
    # drew (MAX came from another family's skeleton), a skeleton it never made: out
    assert not index.covers(parts(group.format(agg="SUM", where="is_fraud = 1 AND browser = 'x' AND "
                                               "YEAR(action_date) = 2023")))
    assert not index.covers(parts(group.format(agg="SUM", where="revenue > 0")))
    assert not index.covers(parts(group.format(agg="MAX", where="is_fraud = 1")))
    assert not index.covers(parts(group.format(agg="SUM", where="is_fraud = 1") + " HAVING SUM(revenue) > 10"))
    assert not index.covers(parts(group.format(agg="SUM", where="action_date = CURRENT_DATE - 1")))
    # one query in other spellings: the tables of an inner join in either order, a column with
    # its schema's name, DuckDB's COUNT() for COUNT(*)
    join = "SELECT COUNT(*) FROM ecommerce.sessions AS s JOIN ecommerce.users AS u ON s.user_id = u.user_id"
    assert parts(join) == parts("SELECT COUNT() FROM ecommerce.users AS u JOIN ecommerce.sessions AS s "
                                "ON ecommerce.s.user_id = u.user_id")
    assert parts(join) != parts(join.replace("JOIN", "LEFT JOIN"))
    assert loose_template(parse_sql("SELECT COUNT() FROM t", "duckdb")) == \
        loose_template(parse_sql("SELECT COUNT(*) FROM t", "duckdb"))
    # a calendar test in HAVING, on MIN(date) or on its alias, is the same condition
    first = ("SELECT COUNT(*) FROM (SELECT user_id, MIN(action_date) AS first_date FROM ecommerce.sessions "
             "GROUP BY user_id HAVING {h}) AS t")
    assert parts(first.format(h="DATE_TRUNC('year', MIN(action_date)) = DATE '2023-01-01'")) == \
        parts(first.format(h="CAST(DATE_TRUNC('YEAR', first_date) AS DATE) = '2023-01-01'"))

def test_a_script_without_a_main_guard_can_run_the_teacher(schema: Schema, sandbox: Path, tmp_path: Path) -> None:
    """On more than one thread the teacher starts a worker process; starting one imports the
    caller's __main__ again, and a script without ``if __name__ == "__main__"`` would then run
    the teacher inside the worker (and multiprocessing refuses). The worker must start without it."""
    import subprocess
    import sys

    from teacher.generate import generate

    script, ran = tmp_path / "make_pairs.py", tmp_path / "ran.txt"
    script.write_text(
        f"open({str(ran)!r}, 'a').write('ran\\n')\n"  # once per process that runs the script
        "from pathlib import Path\n"
        "from schemadistill.config import TeacherConfig\n"
        "from teacher.generate import generate\n"
        f"cfg = TeacherConfig(n={N}, threads=2)\n"
        f"summary = generate({str(ECOMMERCE)!r}, Path({str(sandbox)!r}), Path({str(tmp_path / 'two')!r}), cfg, "
        "progress=False)\n"
        "print(summary['pairs'])\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    assert ran.read_text().splitlines() == ["ran"]  # not again in the worker
    assert "LIST_SORT" not in done.stderr  # the worker's sqlglot is as quiet as the teacher's
    generate(schema, sandbox, tmp_path / "one", _cfg(threads=1), progress=False)
    for name in ("pairs.jsonl", "rejects.jsonl"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
