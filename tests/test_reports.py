"""The run report (schemadistill/reports): contents from a run folder's files, the self-contained
HTML, missing stages, history and regressions, the `report` command and the pipeline hook.

The run folder is written by hand in the shapes the stages write (pipeline.py's manifests,
teacher/generate.py's pairs/rejects/summary, student/train.py's done/loss/eval/summary,
export/build.py's manifests and parity.json, export/bench.py's latency.json): running the real
stages would take minutes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from schemadistill.io import atomic_write_json, atomic_write_jsonl, read_jsonl
from schemadistill.reports import collect, write_report
from schemadistill.reports.history import HISTORY
from schemadistill.reports.render import TEMPLATE_DIR
from schemadistill.schema import load_schema

ROOT = Path(__file__).resolve().parents[1]
ECOM = ROOT / "examples" / "ecommerce" / "schema.sql"
STAGES = ("schema", "sandbox", "teacher", "curriculum", "student", "export", "eval", "bench")

REJECTS = [("duplicate_sql", 3), ("exec_error", 2), ("empty_result", 1)]
# (split, phase) -> (n, execution accuracy, valid SQL rate)
EVALS = {
    ("heldout_iid", 1): (64, 0.125, 0.5), ("heldout_iid", 2): (64, 0.4375, 0.8125),
    ("heldout_iid", 3): (64, 0.625, 0.90625),
    ("heldout_family", 1): (40, 0.05, 0.4), ("heldout_family", 2): (40, 0.2, 0.7),
    ("heldout_family", 3): (40, 0.35, 0.85),
    ("golden", 1): (10, 0.1, 0.6), ("golden", 2): (10, 0.3, 0.8), ("golden", 3): (10, 0.5, 1.0),
}


def _manifest(run: Path, stage: str, figures: dict[str, Any], seconds: float, inputs: dict[str, Any] | None = None):
    atomic_write_json(run / stage / "manifest.json", {
        "stage": stage, "inputs_hash": f"hash-{stage}", "inputs": inputs or {}, "figures": figures,
        "seconds": seconds, "finished_at": f"2026-01-01T00:00:{STAGES.index(stage):02d}"})


def _pair(i: int, family: str, phase: int, kind: str, source: str, tables: list[str], columns: list[str]):
    return {"id": f"p{i}", "question": f"question {i}?", "sql": f"SELECT {i}", "dialect": "duckdb",
            "family": family, "phase": phase, "difficulty": 3, "kind": kind, "source": source,
            "instance": f"inst{i % 3}", "tables": tables, "columns": columns,
            **({"broken_sql": "SELEC 1", "error": "syntax error"} if kind == "repair" else {})}


def _pairs() -> list[dict[str, Any]]:
    users = ["ecommerce.users"]
    rows = [_pair(i, "count_rows", 1, "generate", "template", users, []) for i in range(4)]
    rows += [_pair(10 + i, "agg_filtered", 2, "generate", "paraphrase", ["ecommerce.sessions", "ecommerce.users"],
                   ["ecommerce.sessions.user_id", "ecommerce.users.user_id", "ecommerce.users.country"])
             for i in range(6)]
    rows += [_pair(20 + i, "repair_misspelt_column", 3, "repair", "repair", users, ["ecommerce.users.country"])
             for i in range(2)]
    return rows

# the exported artifact through the runtime (the eval stage's eval.json), after the last phase
ARTIFACT = {"heldout_iid": 0.65625, "heldout_family": 0.375, "golden": 0.6}


def _eval(split: str, phase: int) -> dict[str, Any]:
    n, acc, valid = EVALS[(split, phase)]
    rates = {"execution_accuracy": acc, "valid_sql_rate": valid, "unknown_name_rate": 0.0, "exact_match_rate": 0.0}
    return {
        "n": n, **rates, "gold_errors": 0, "skipped": 0, "skipped_by_flag": {},
        "by_phase": {"1": {"n": n // 4, **rates}, "2": {"n": n - n // 4, **rates}},
        "by_family": {"count_rows": {"n": n // 2, **rates, "execution_accuracy": 0.75},
                      "agg_filtered": {"n": n - n // 2, **rates, "execution_accuracy": 0.25}},
        "by_difficulty": {"7-10": {"n": 1, **rates}, "1-3": {"n": n - 1, **rates}}, "by_kind": {},
        "failure_counts": {"wrong_result": 2, "invalid_sql": 1},
        "failures": [
            {"question": f"How many {split} users are from Spain?", "gold": "SELECT COUNT(*) FROM ecommerce.users",
             "pred": "SELECT COUNT(*) FROM ecommerce.user", "why": "unknown_name", "detail": "ecommerce.user",
             "family": "count_rows", "phase": 1},
            {"question": "Average age | per country?", "gold": "SELECT AVG(age) FROM ecommerce.users",
             "pred": None, "why": "invalid_sql", "detail": "parse: syntax error", "family": "agg_filtered", "phase": 2},
        ],
    }


def _png(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([1, 2], [1, 2])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def make_run(run: Path, until: str = "bench", latency_ms: float = 4.5, int8_bytes: int = 4_108_170) -> Path:
    """A run folder, every stage up to ``until`` finished, in the shapes the stages write."""
    stages = STAGES[: STAGES.index(until) + 1]
    schema = load_schema(ECOM)
    atomic_write_json(run / "schema" / "schema.json", schema.to_dict())
    _manifest(run, "schema", {"tables": 2, "columns": 12, "dialect": "duckdb", "fingerprint": schema.fingerprint}, 0.2,
              {"config": {"path": str(ECOM), "dialect": None, "sidecar": None}})
    if "sandbox" in stages:
        _manifest(run, "sandbox", {"source": "synthetic", "rows": {"ecommerce.users": 200}}, 0.6)
    if "teacher" in stages:
        pairs = _pairs()
        atomic_write_jsonl(run / "teacher" / "pairs.jsonl", pairs)
        atomic_write_jsonl(run / "teacher" / "rejects.jsonl", [
            {"question": f"{reason} q{i}", "sql": f"SELECT {i}", "family": "count_rows", "source": "template",
             "reason": reason, "detail": f"{reason} detail\nsecond line"}
            for reason, k in REJECTS for i in range(k)])
        atomic_write_json(run / "teacher" / "summary.json", {
            "teacher": "offline", "pairs": len(pairs), "skipped_families": {"join_3hop": "needs a 3-hop path"}})
        _manifest(run, "teacher", {"pairs": len(pairs), "rejects": 6}, 12.0,
                  {"config": {"name": "offline", "n": 6000}})
    if "curriculum" in stages:
        atomic_write_json(run / "curriculum" / "summary.json", {
            "counts": {k: {"rows": r} for k, r in (("phase1", 4), ("train_phase1", 4), ("train_phase2", 8),
                                                   ("train_phase3", 3), ("heldout_iid", 64), ("heldout_family", 40))},
            "heldout_families": ["group_agg"], "notes": ["train_phase2: replay repeats earlier rows"]})
        _manifest(run, "curriculum", {"train_phase1": 4}, 6.0)
    if "student" in stages:
        student = run / "student"
        records = []
        for k in (1, 2, 3):
            done = {"phase": k, "trained": True, "global_step": 10 * k, "max_steps": 10 * k, "planned_steps": 12 * k,
                    "resumed_from_step": 0, "stopped_by_time": k == 3, "train_seconds": 30.5 * k,
                    "tokens_per_s": 1000.0 + k, "final_loss": 1.0 / k, "pairs": 100 * k, "dropped_too_long": 0,
                    "execution_accuracy": {s: EVALS[(s, k)][1] for s in ("heldout_iid", "heldout_family")},
                    "key": f"key{k}"}
            atomic_write_json(student / f"phase{k}" / "done.json", done)
            atomic_write_json(student / f"phase{k}" / "loss.json", [
                {"step": s, "epoch": s / 10, "loss": 3.0 / (k + s), "learning_rate": 1e-3} for s in range(1, 11)])
            atomic_write_json(student / f"eval_phase{k}.json",
                              {s: _eval(s, k) for s in ("heldout_iid", "heldout_family", "golden")})
            records.append(done)
        summary = {"student": "scratch:xs", "kind": "scratch", "params": 2_918_016, "phases": 3, "steps": 60,
                   "train_seconds": 183.0, "tokens_per_s": 1003.0, "final_loss": 1 / 3,
                   "heldout_iid_execution_accuracy": 0.625,
                   "hardware": {"cpu": "Test EPYC", "logical_cores": 2, "vector_extensions": ["avx2"]},
                   "preset_choice": {"preset": "xs", "reason": "the budget affords xs 4321 steps at 5000 tokens/s "
                                                               "(at least 4000)"}}
        atomic_write_json(student / "summary.json", {**summary, "phase_records": records})
        _manifest(run, "student", summary, 200.0, {"config": {"name": "scratch:xs"}})
    if "export" in stages:
        parity = {"n": 50, "tolerance_points": 1.0, "max_new_tokens": 160,
                  "pytorch": {"execution_accuracy": 0.62, "valid_sql_rate": 0.9},
                  "variants": {"fp32": {"checked": True, "provider": "CPUExecutionProvider", "passed": True,
                                        "identical": 50, "execution_accuracy": 0.62, "valid_sql_rate": 0.9},
                               "int8": {"checked": True, "provider": "CPUExecutionProvider", "passed": True,
                                        "identical": 44, "execution_accuracy": 0.615, "valid_sql_rate": 0.9},
                               "fp16": {"checked": False, "note": "not checked: no CUDA provider"}},
                  "passed": True}
        atomic_write_json(run / "export" / "parity.json", parity)
        atomic_write_json(run / "export" / "artifact" / "manifest.json", {
            "format": 1, "variants": {"fp32": {"file": "model.onnx", "bytes": 10_982_346},
                                      "int8": {"file": "model.int8.onnx", "bytes": int8_bytes},
                                      "fp16": {"file": "model.fp16.onnx", "bytes": 5_728_749}},
            "parity": parity})
        _manifest(run, "export", {"variants": "fp32,int8,fp16", "fp32_mb": 10.982, "fp32_parity": "pass",
                                  "int8_mb": round(int8_bytes / 1e6, 3), "int8_parity": "pass", "fp16_mb": 5.729,
                                  "fp16_parity": "not checked: no CUDA provider", "parity_n": 50}, 15.0)
    if "eval" in stages:
        served = {s: {**_eval(s, 3), "execution_accuracy": ARTIFACT[s], "variant": "int8", "beams": 4}
                  for s in ("heldout_iid", "heldout_family", "golden")}
        served["golden"]["teacher_coverage"] = {"questions": 10, "template_exact": 1, "template_share": 0.1,
                                                "shape": 4, "shape_share": 0.4, "family": 8, "family_share": 0.8}
        served["heldout_repair"] = {"n": 40, "execution_accuracy": 0.725, "valid_sql_rate": 0.95, "unchanged": 1,
                                    "variant": "int8"}
        atomic_write_json(run / "eval" / "eval.json", served)
        _manifest(run, "eval", {"variant": "int8", "golden_execution_accuracy": ARTIFACT["golden"]}, 20.0)
    if "bench" in stages:
        def backend(name: str, kind: str, p50: float) -> dict[str, Any]:
            return {"name": name, "kind": kind, "device": "cpu", "load_s": 1.0, "rss_peak_delta_mb": 100.0,
                    "agree_with_pytorch": 1.0, "batches": {"1": {
                        "n": 50, "ttft_ms_p50": 0.5, "ms_per_token": 0.3,
                        "e2e_ms": {"p50": p50, "p95": p50 * 2, "p99": p50 * 3, "mean": p50},
                        "questions_per_s": 1000 / p50, "tokens": 700, "tokens_per_s": 2000.0}}}

        atomic_write_json(run / "reports" / "latency.json", {
            "artifact": str(run / "export" / "artifact"), "questions": {"source": "heldout", "n": 50, "distinct": 50},
            "batch_sizes": [1], "hardware": {"cpu": "Test CPU"},
            "backends": {"pytorch": backend("pytorch", "pytorch", 220.0),
                         "runtime-int8": backend("runtime-int8", "runtime", latency_ms)},
            "summary": {"speedup_vs_pytorch": round(220.0 / latency_ms, 2), "speedup_backend": "runtime-int8",
                        "e2e_ms_p50": {"pytorch": 220.0, "runtime-int8": latency_ms}}})
        _png(run / "reports" / "latency.png")
        _manifest(run, "bench", {"speedup_vs_pytorch": round(220.0 / latency_ms, 2)}, 30.0)
    return run


def _section(md: str, number: int) -> str:
    m = re.search(rf"^## {number}\..*?(?=^## \d+\.|\Z)", md, re.S | re.M)
    assert m, f"section {number} missing"
    return m.group(0)


def _read(run: Path) -> tuple[str, str]:
    return (run / "reports" / "index.md").read_text(encoding="utf-8"), \
        (run / "reports" / "index.html").read_text(encoding="utf-8")


# -- contents -------------------------------------------------------------------------------


def test_full_run_report(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    md_path = write_report(run)
    assert md_path == run / "reports" / "index.md"
    md, html = _read(run)

    header = _section(md, 1)
    for stage in STAGES:
        assert re.search(rf"^\| {stage} \| done \|", header, re.M), stage
    assert "ecommerce" in md.splitlines()[0] and "offline" in md and "scratch:xs" in md
    assert "| total stage wall time | 283.8 s |" in md  # 0.2 + 0.6 + 12 + 6 + 200 + 15 + 20 + 30

    # accuracy: every phase x split from the eval json, as "acc (valid), n"
    acc = _section(md, 5)
    for (split, phase), (n, a, v) in EVALS.items():
        row = next(line for line in acc.splitlines() if line.startswith(f"| phase {phase} |"))
        assert f"{100 * a:.1f}% ({100 * v:.1f}%), n={n}" in row, (split, phase, row)
    assert "heldout_iid | heldout_family | golden" in acc
    served = next(line for line in acc.splitlines() if line.startswith("| exported artifact |"))
    assert all(f"{100 * a:.1f}% ({100 * EVALS[(s, 3)][2]:.1f}%), n={EVALS[(s, 3)][0]}" in served
               for s, a in ARTIFACT.items()), served
    assert "(int8, grounded," in acc and "4 beams then the repair prompt" in acc and "exported artifact</td>" in html
    assert "repair prompt alone on 40 held-out broken SQL + error pairs" in acc and "**72.5%** of the fixes" in acc
    assert "heldout_repair |" not in acc and "<b>72.5%</b> of the fixes" in html  # a sentence, not a split column
    assert "falls into a family the teacher generated: **8 of 10 (80.0%)**; same shape as some pair 40.0%, " \
        "same masked template 10.0%" in acc and "<b>8 of 10 (80.0%)</b>" in html
    # the last phase's breakdown: weakest family first; difficulty in its natural order
    iid = acc[acc.index("### heldout_iid after phase 3"):acc.index("### heldout_family after phase 3")]
    assert iid.index("| agg_filtered |") < iid.index("| count_rows |")
    assert iid.index("| 1-3 |") < iid.index("| 7-10 |")
    assert "How many heldout_iid users are from Spain?" in iid and "unknown_name" in iid
    assert "Average age \\| per country?" in iid  # a pipe in a question does not break the table
    assert "wrong_result 2, invalid_sql 1" in iid

    # data: rejects by reason, counted from rejects.jsonl
    data = _section(md, 3)
    for reason, k in REJECTS:
        assert re.search(rf"^\| {reason} \| {k} \|", data, re.M), reason
    assert "12 pairs kept (10 generate, 2 repair), 6 rejected, 3 families" in data
    assert re.search(r"^\| agg_filtered \| 2 \| 6 \|", data, re.M)
    assert re.search(r"^\| paraphrase \| 6 \| 50.0% \|", data, re.M)
    assert "second line" not in data  # one line of detail

    # coverage: the teacher's own figures (teacher.report.schema_coverage)
    from teacher.pair import Pair
    from teacher.report import schema_coverage

    cov = schema_coverage([Pair.from_json(r) for r in _pairs()], load_schema(ECOM))
    schema_sec = _section(md, 2)
    assert f"| columns | {cov['columns_used']} | {cov['columns']} |" in schema_sec
    assert f"| foreign-key edges | {cov['fk_edges_used']} | {cov['fk_edges']} |" in schema_sec
    assert "`ecommerce.sessions.revenue`" in schema_sec  # an unused column is named

    training = _section(md, 4)
    assert "| 3 | 300 | 30 (36) | yes | 91.5 | 1,003 | 0.3333 |" in training
    assert "s of training on Test EPYC, 2 logical cores, vector extensions avx2." in training
    assert "`student.name=scratch` picked this preset: the budget affords xs 4321 steps at 5000 tokens/s " \
        "(at least 4000) (`student/preset.json`)." in training
    assert "on Test EPYC, 2 logical cores, vector extensions avx2. <code>student.name=scratch</code> picked" in html
    parity = _section(md, 6)
    assert "**passed** on 50" in parity
    assert "| int8 | 4.11 | pass | 44/50 (88.0%) | 61.5% | -0.5 pts |" in parity
    assert "not checked: no CUDA provider" in parity
    latency = _section(md, 7)
    assert "| runtime-int8 | 1 |" in latency and "48.89x" in latency
    assert "No previous run" in _section(md, 8)

    # the Markdown links its plots, written next to it
    for png in ("pairs_per_family.png", "training_loss.png", "accuracy.png", "latency.png"):
        assert f"]({png})" in md
        assert (run / "reports" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the HTML stands alone: plots inline, nothing fetched from anywhere
    assert html.count("data:image/png;base64,") == 4
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", html)
    assert "http://" not in html and "https://" not in html and "<link" not in html and "<script" not in html
    assert "62.5% (90.6%), n=64" in html
    assert "Average age | per country?" in html  # escaped as HTML, not as Markdown


def test_shuffled_run_says_what_its_phases_are(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", until="student")
    for k, (first, stop) in enumerate([(0, 10), (10, 20), (20, 30)], start=1):
        path = run / "student" / f"phase{k}" / "done.json"
        done = json.loads(path.read_text(encoding="utf-8"))
        done.update(global_step=stop, steps=stop - first, max_steps=10, planned_steps=12,
                    segment={"first_step": first, "stop_step": stop, "run_steps": 30})
        atomic_write_json(path, done)
    write_report(run)
    training = _section(_read(run)[0], 4)
    assert "phase k below is the k-th third of its steps" in training
    assert "30 optimizer steps" in training  # steps of each segment, not the run's global step
    assert "| 3 | 300 | 10 (12) |" in training
    phases = make_run(tmp_path / "phases", until="student")
    write_report(phases)
    assert "phase k below" not in _section(_read(phases)[0], 4)


def test_a_busy_machine_is_named_in_the_training_section(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", until="student")
    write_report(run)
    assert "warning" not in _section(_read(run)[0], 4)  # records without the share: no column value, no warning
    for k, share in ((1, 0.02), (2, 0.41), (3, 0.1)):
        path = run / "student" / f"phase{k}" / "done.json"
        done = json.loads(path.read_text(encoding="utf-8"))
        done.update(others_cpu_share=share, busy_machine=share > 0.25)
        atomic_write_json(path, done)
    write_report(run)
    md, html = _read(run)
    training = _section(md, 4)
    assert "| 2.0% |" in training or "| 2% |" in training
    assert "**warning:** other processes used up to 41% of the machine's CPU" in training
    assert "other processes used up to 41%" in html


def test_missing_stages_say_so(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", until="teacher")
    write_report(run)
    md, html = _read(run)
    for number, stage in ((4, "student"), (5, "student"), (6, "export"), (7, "bench")):
        assert f"stage {stage} has not run yet." in _section(md, number)
        assert f"stage {stage} has not run yet." in html
    assert "stage curriculum has not run yet" in _section(md, 3)
    assert re.search(r"^\| export \| not run \|", md, re.M)
    assert "| duplicate_sql | 3 |" in md  # what did run is there
    assert not (run / "reports" / "accuracy.png").exists()
    assert html.count("data:image/png;base64,") == 1  # pairs per family only


def test_schema_only_run(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", until="schema")
    write_report(run)
    md, _ = _read(run)
    assert "Coverage: stage teacher has not run yet." in md
    assert "stage teacher has not run yet." in _section(md, 3)


def test_regression_against_previous_run(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", latency_ms=4.5)
    write_report(run)
    lines = list(read_jsonl(run / "reports" / HISTORY))
    assert len(lines) == 1 and lines[0]["metrics"]["accuracy.heldout_iid"] == 0.625
    assert lines[0]["metrics"]["accuracy.artifact.heldout_repair"] == 0.725  # judged run to run like the splits
    write_report(run)  # the same run again: no new line, still nothing to compare with
    assert len(list(read_jsonl(run / "reports" / HISTORY))) == 1
    assert "No previous run" in _read(run)[0]

    # the next run: iid accuracy down 10 points, latency +50%, int8 artifact +20%
    make_run(run, latency_ms=6.75, int8_bytes=4_929_804)
    ev = json.loads((run / "student" / "eval_phase3.json").read_text())
    ev["heldout_iid"]["execution_accuracy"] = 0.525
    ev["golden"]["execution_accuracy"] = 0.8  # better
    atomic_write_json(run / "student" / "eval_phase3.json", ev)
    write_report(run)
    assert len(list(read_jsonl(run / "reports" / HISTORY))) == 2
    md, html = _read(run)
    comp = _section(md, 8)
    row = {m: next(line for line in comp.splitlines() if line.startswith(f"| {m} |"))
           for m in ("execution accuracy, heldout_iid", "execution accuracy, golden",
                     "execution accuracy, heldout_family", "latency ms/question p50 (batch 1), runtime-int8",
                     "artifact size MB, int8", "artifact size MB, fp32", "pairs kept")}
    assert "| 52.5% | 62.5% | -10.0 pts | ▼ regression |" in row["execution accuracy, heldout_iid"]
    assert "▲ better" in row["execution accuracy, golden"]
    assert "▼ regression" in row["latency ms/question p50 (batch 1), runtime-int8"]
    assert "▼ regression" in row["artifact size MB, int8"]
    for unchanged in ("execution accuracy, heldout_family", "artifact size MB, fp32", "pairs kept"):
        assert "regression" not in row[unchanged] and "better" not in row[unchanged]
    assert "▼ 3 regressions against the previous run" in md

    red = re.findall(r'<tr class="regression" style="color:#c62828"><td>([^<]+)</td>', html)
    assert sorted(red) == ["artifact size MB, int8", "execution accuracy, heldout_iid",
                           "latency ms/question p50 (batch 1), runtime-int8"]
    assert ".regression, .regression td { color: #c62828" in html

    # re-rendering the second run compares with the first again, and adds nothing
    write_report(run)
    assert len(list(read_jsonl(run / "reports" / HISTORY))) == 2
    assert "▼ regression" in _read(run)[0]


def test_small_changes_are_not_regressions(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", latency_ms=4.5)
    write_report(run)
    make_run(run, latency_ms=4.6)  # +2%: inside the tolerance
    ev = json.loads((run / "student" / "eval_phase3.json").read_text())
    ev["heldout_iid"]["execution_accuracy"] = 0.62  # -0.5 point
    atomic_write_json(run / "student" / "eval_phase3.json", ev)
    write_report(run)
    md, html = _read(run)
    assert "-0.5 pts" in _section(md, 8)
    assert "▼" not in md and 'class="regression"' not in html


def test_collect_is_typed_and_tolerates_torn_files(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    (run / "student" / "eval_phase2.json").write_text("{torn")
    fig = collect(run)
    assert fig.accuracy is not None and sorted(fig.accuracy.per_phase) == [1, 3]
    assert fig.accuracy.per_phase[3]["golden"].execution_accuracy == 0.5
    assert fig.parity is not None and fig.parity.passed is True
    assert fig.schema is not None and fig.schema.sandbox_rows == {"ecommerce.users": 200} and not fig.notes

    # a file in a shape the report does not know costs its section, with a note, not the report
    ev = json.loads((run / "student" / "eval_phase3.json").read_text())
    ev["heldout_iid"]["by_family"] = {"count_rows": {"n": "many"}}
    atomic_write_json(run / "student" / "eval_phase3.json", ev)
    write_report(run)
    md, _ = _read(run)
    assert "stage student left no figures for this section" in _section(md, 5)
    assert "**note:** accuracy: could not read the stage's files (ValueError" in md
    assert "| 3 | 300 | 30 (36) |" in _section(md, 4)  # the training section is unaffected


def test_templates_are_found_from_the_package() -> None:
    assert (TEMPLATE_DIR / "index.md.j2").is_file() and (TEMPLATE_DIR / "index.html.j2").is_file()


# -- CLI and pipeline -----------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "schemadistill.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_report_command(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", until="student")
    r = cli("report", str(run))
    assert r.returncode == 0, r.stderr
    assert (run / "reports" / "index.md").is_file() and (run / "reports" / "index.html").is_file()
    assert "index.html" in r.stdout
    assert "stage export has not run yet" in (run / "reports" / "index.md").read_text()


@pytest.mark.parametrize("make", [lambda p: p / "missing", lambda p: p, lambda p: Path(str(ECOM))],
                         ids=["missing", "empty-folder", "a-file"])
def test_report_command_on_a_non_run(tmp_path: Path, make) -> None:
    target = make(tmp_path)
    r = cli("report", str(target))
    assert r.returncode == 2, r.stdout
    err = " ".join(r.stderr.split())  # rich wraps long lines at the console width
    assert err.startswith(f"error: {target}") and ("not a run folder" in err or "run folder not found" in err)
    assert "Traceback" not in r.stderr + r.stdout
    assert not (tmp_path / "reports").exists()


def test_pipeline_writes_the_report_when_stopped_early(tmp_path: Path) -> None:
    from schemadistill.config import load_config
    from schemadistill.pipeline import run_pipeline

    out = tmp_path / "run"
    run_pipeline(load_config(None, {"schema.path": str(ECOM), "out": str(out)}), until="schema")
    md = (out / "reports" / "index.md").read_text()
    assert re.search(r"^\| schema \| done \|", md, re.M)
    assert "stage teacher has not run yet" in md and (out / "reports" / "index.html").is_file()
