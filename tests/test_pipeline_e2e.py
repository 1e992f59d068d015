"""The whole pipeline as a user runs it: `schemadistill distill` on examples/ecommerce at the tiny
size of tests/fixtures/tiny.yaml, in a subprocess; the artifact is then judged by executing its
SQL (`schemadistill eval` / `ask` on the run's sandbox), a second call must skip every stage, and
a run killed in the middle of training must resume and end where an uninterrupted one does.

    .venv/bin/python -m pytest -q tests/test_pipeline_e2e.py            # ~5 min on 2 cores

One uninterrupted reference run (module fixture) serves every test; the kill-and-resume test
makes a second run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from schemadistill.config import DEFAULT_BEAMS, load_config
from schemadistill.io import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
ECOM = ROOT / "examples" / "ecommerce" / "schema.sql"
TINY = ROOT / "tests" / "fixtures" / "tiny.yaml"
STAGES = ("schema", "sandbox", "teacher", "curriculum", "student", "export", "eval", "bench")
# Tiny models gain nothing from a second torch thread and lose a lot when the 2 cores are shared
# (tests/tiny_models.one_thread does the same in-process); onnxruntime keeps its own setting.
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
# Execution accuracy of the tiny student on EVAL_QUESTIONS questions it was trained on: measured
# 0.90 (18 of 20, int8 through the runtime) with tiny.yaml and the default shuffled schedule
# (0.80 with schedule=phases); the floor sits well below it. An untrained or broken student
# scores ~0 (0.05 when phase 3 wiped phase 2 out, see tiny.yaml).
EVAL_QUESTIONS = 20
ACCURACY_FLOOR = 0.4


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "schemadistill.cli", *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def distill_args(out: Path) -> list[str]:
    return ["-m", "schemadistill.cli", "distill", str(ECOM), "--out", str(out), "--config", str(TINY)]


def last_json(stdout: str) -> dict[str, Any]:
    return json.loads(stdout.strip().splitlines()[-1])


def manifest(out: Path, stage: str) -> dict[str, Any]:
    return json.loads((out / stage / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("e2e") / "run"
    r = subprocess.run([sys.executable, *distill_args(out)], cwd=ROOT, env=ENV, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-4000:]
    return out, r


def trained_questions(out: Path, n: int) -> list[dict[str, Any]]:
    """A seeded sample of the plain (not repair) questions the student trained on, with their gold SQL."""
    import random

    gold: dict[str, str] = {}
    for k in (1, 2, 3):
        for r in read_jsonl(out / "curriculum" / f"train_phase{k}.jsonl"):
            if r["kind"] == "generate":
                gold.setdefault(r["question"], r["sql"])
    picked = random.Random(0).sample(sorted(gold), min(n, len(gold)))
    return [{"question": q, "sql": gold[q]} for q in picked]


@pytest.mark.slow
def test_distill_runs_every_stage(reference: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, r = reference
    for stage in STAGES:
        m = manifest(out, stage)
        assert m["stage"] == stage and m["inputs_hash"] and m["seconds"] > 0
        assert m["figures"]["peak_rss_mb"] > 20, stage  # at least a Python interpreter
    # training holds torch, a model, its optimizer and data: far more than parsing the schema
    assert manifest(out, "student")["figures"]["peak_rss_mb"] > 2 * manifest(out, "schema")["figures"]["peak_rss_mb"]
    # the summary table: every stage ran, with its peak memory
    table = r.stdout
    assert "schemadistill run:" in table and "peak MB" in table and "not run" not in table
    for stage in STAGES:
        assert stage in table
    artifact = out / "export" / "artifact"
    assert (artifact / "model.onnx").is_file() and (artifact / "model.int8.onnx").is_file()
    assert manifest(out, "export")["figures"]["fp32_parity"] == "pass"
    # the bench did the work tiny.yaml's bench section asks for, and says what it cost
    want = load_config(TINY).bench
    bench = manifest(out, "bench")
    assert bench["inputs"]["questions"] == want.questions and bench["inputs"]["batch_sizes"] == want.batch_sizes
    figs = bench["figures"]
    assert 0 < figs["bench_seconds"] <= bench["seconds"] + 0.1 and figs["max_new_tokens"] == want.max_new_tokens
    assert figs["backends"] == ",".join(want.backends)
    assert figs["peak_rss_tree_mb"] >= figs["peak_rss_mb"]  # the bench's workers are child processes
    latency = json.loads((out / "reports" / "latency.json").read_text(encoding="utf-8"))
    assert latency["questions"]["n"] == want.questions and list(latency["backends"]) == want.backends
    assert "errors" not in latency["summary"]
    # value grounding: built from the sandbox, shipped with the artifact, scored both ways
    shipped = json.loads((artifact / "values.json").read_text(encoding="utf-8"))
    assert {(c["table"], c["column"]) for c in shipped["columns"]} >= {("ecommerce.users", "country")}
    evals = json.loads((out / "student" / "eval_phase3.json").read_text(encoding="utf-8"))
    assert evals["heldout_iid"]["n"] > 0
    for split in [s for s, r in evals.items() if r["n"]]:  # tiny.yaml holds no family out
        g = evals[split]["grounding"]
        assert 0 <= g["changed"] <= evals[split]["n"]
        assert 0 <= g["ungrounded"]["execution_accuracy"] <= 1
    # the eval stage: the artifact through the runtime on the student's held-out sample
    served = json.loads((out / "eval" / "eval.json").read_text(encoding="utf-8"))
    # no family held out, no golden file, and no repair of a held-out instance (scored when there
    # is one: test_export_runtime.py's eval-stage test)
    assert set(served) == {"heldout_iid"}
    assert not list(read_jsonl(out / "curriculum" / "heldout_repair.jsonl"))
    iid = served["heldout_iid"]
    assert iid["n"] == evals["heldout_iid"]["n"] and iid["variant"] == "int8" and iid["beams"] == DEFAULT_BEAMS
    assert iid["repair_tried"] >= iid["fixed_by_beam"] + iid["fixed_by_repair"] == iid["repaired"]
    assert iid["questioned"] >= iid["fixed_by_consistency"] >= 0
    assert iid["fixed_by_neighbor"] <= iid["fixed_by_beam"] + iid["fixed_by_consistency"]  # one of those, by a neighbor
    figs = manifest(out, "eval")["figures"]
    assert figs["heldout_iid_execution_accuracy"] == iid["execution_accuracy"]
    report = (out / "reports" / "index.md").read_text(encoding="utf-8")
    assert "| exported artifact |" in report


@pytest.mark.slow
def test_artifact_answers_trained_questions_by_execution(
        reference: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    out, _ = reference
    artifact, db = out / "export" / "artifact", out / "sandbox" / "sandbox.duckdb"
    questions = trained_questions(out, EVAL_QUESTIONS)
    assert len(questions) == EVAL_QUESTIONS
    qfile = tmp_path / "trained.jsonl"
    qfile.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    r = cli("eval", str(artifact), "--questions", str(qfile), "--db", str(db))
    assert r.returncode == 0, r.stderr
    report = last_json(r.stdout)
    assert report["n"] == EVAL_QUESTIONS and report["gold_errors"] == 0 and "grounded" in report
    assert report["valid_sql_rate"] > 0
    assert report["execution_accuracy"] >= ACCURACY_FLOOR, report

    # `ask` on the same database: the first answer that is right executes to the gold rows
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        for q in questions[:5]:
            a = cli("ask", str(artifact), q["question"], "--db", str(db))
            if a.returncode != 0:
                continue
            sql, marker, _ = a.stdout.partition("\n-- repaired: ")
            assert marker and sql.lstrip().upper().startswith(("SELECT", "WITH")), a.stdout
            if sorted(map(repr, con.execute(sql.rstrip(";")).fetchall())) == \
                    sorted(map(repr, con.execute(q["sql"]).fetchall())):
                break
        else:
            pytest.fail("none of 5 trained questions was answered with the gold rows through `ask`")
    finally:
        con.close()



@pytest.mark.slow
def test_golden_file_is_scored_and_its_coverage_reported(reference: tuple[Path, subprocess.CompletedProcess[str]],
                                                          tmp_path: Path) -> None:
    """GOLDEN= added to a finished run: the eval stage scores it and measures how many of its gold
    queries fall into a family the teacher generated (the teacher's own questions: all of them,
    and a query no family makes: not)."""
    import shutil

    ref, _ = reference
    out = tmp_path / "run"
    shutil.copytree(ref, out)
    golden = trained_questions(out, 5) + [{"question": "odd", "sql": (
        "SELECT country, MAX(age) - MIN(age) FROM ecommerce.users GROUP BY country HAVING COUNT(*) > 1 "
        "ORDER BY 2 DESC")}]
    qfile = tmp_path / "golden.jsonl"
    qfile.write_text("".join(json.dumps(q) + "\n" for q in golden), encoding="utf-8")
    r = subprocess.run([sys.executable, *distill_args(out), "--golden", str(qfile), "--until", "eval"], cwd=ROOT,
                       env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    served = json.loads((out / "eval" / "eval.json").read_text(encoding="utf-8"))
    cov = served["golden"]["teacher_coverage"]
    assert served["golden"]["n"] == 6 and cov["questions"] == 6
    assert cov["template_exact"] == cov["shape"] == cov["family"] == 5
    assert manifest(out, "eval")["figures"]["golden_family_coverage"] == round(5 / 6, 4)
    report = (out / "reports" / "index.md").read_text(encoding="utf-8")
    assert "falls into a family the teacher generated: **5 of 6 (83.3%)**" in report

@pytest.mark.slow
def test_second_distill_skips_every_stage(reference: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = reference
    before = {s: (out / s / "manifest.json").read_bytes() for s in STAGES}
    r = subprocess.run([sys.executable, *distill_args(out)], cwd=ROOT, env=ENV, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    for stage in STAGES:
        assert f"{stage}: up to date, skipped" in r.stderr
        assert (out / stage / "manifest.json").read_bytes() == before[stage]
    assert "ran" not in r.stdout.split()  # every row of the table says skipped


def _complete_checkpoint(ckpt_dir: Path) -> Path | None:
    """The newest checkpoint, once the Trainer finished writing it (trainer_state.json is its last file).

    Killing mid-save is tested in tests/test_student_train.py (a planted torn checkpoint): here the
    kill must land at a moment the test can name.
    """
    ckpts = sorted(ckpt_dir.glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]))
    return ckpts[-1] if ckpts and (ckpts[-1] / "trainer_state.json").is_file() else None


def _step(ckpt: Path | None) -> int:
    return int(ckpt.name.rsplit("-", 1)[1]) if ckpt else 0


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_result(reference: tuple[Path, subprocess.CompletedProcess[str]],
                                               tmp_path: Path) -> None:
    """The default schedule (one shuffled run saved at each third) killed in its second segment."""
    ref, _ = reference
    out = tmp_path / "run"
    student = out / "student"
    ckpts = student / "shuffled" / "checkpoints"
    # segment 2 (not 1): the resumed run must then skip a finished segment and continue a begun one
    phase = student / "phase2"
    proc = subprocess.Popen([sys.executable, *distill_args(out)], cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while not ((student / "phase1" / "done.json").is_file()
                   and _step(_complete_checkpoint(ckpts)) > _segment_stop(student, 1)):
            assert proc.poll() is None, "the run ended before segment 2 wrote a checkpoint"
            assert time.monotonic() < deadline, "no checkpoint in segment 2 after 10 minutes"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)  # no handler, no cleanup: what a crash or OOM kill does
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert not (student / "manifest.json").exists() and not (phase / "done.json").exists()
    killed_at = _step(_complete_checkpoint(ckpts))

    r = subprocess.run([sys.executable, *distill_args(out)], cwd=ROOT, env=ENV, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-4000:]
    for stage in ("schema", "sandbox", "teacher", "curriculum"):
        assert f"{stage}: up to date, skipped" in r.stderr
    assert "phase 1: done, skipped" in r.stderr
    assert "resuming phase 2 from checkpoint-" in r.stderr
    done = json.loads((phase / "done.json").read_text(encoding="utf-8"))
    assert done["segment"]["first_step"] + done["resumed_from_step"] >= killed_at > done["segment"]["first_step"]
    assert done["global_step"] == done["segment"]["stop_step"] and done["steps"] == done["max_steps"]

    # the same data, byte for byte, as the uninterrupted run
    for rel in ("teacher/pairs.jsonl", "teacher/rejects.jsonl", *(
            f"curriculum/{p.name}" for p in sorted((ref / "curriculum").glob("*.jsonl")))):
        assert (out / rel).read_bytes() == (ref / rel).read_bytes(), rel
    # and a finished student, artifact and bench
    for stage in ("student", "export", "bench"):
        assert manifest(out, stage)["stage"] == stage
    assert not ckpts.exists()  # removed once the run is done
    # The same weights, too: the Trainer's checkpoint holds optimizer, scheduler, RNG states and
    # the data position, and with one thread CPU training is deterministic, so a resumed run
    # ends bit for bit where an uninterrupted one does (measured: it does), and so does the export.
    for rel in ("student/model/model.safetensors", "export/artifact/model.onnx", "export/artifact/model.int8.onnx"):
        assert (out / rel).read_bytes() == (ref / rel).read_bytes(), rel


def _segment_stop(student: Path, k: int) -> int:
    from student.train import plan_segment

    plan = json.loads((student / "shuffled" / "plan.json").read_text(encoding="utf-8"))
    return plan_segment(plan, k)[1]


def test_stage_memory_is_per_stage() -> None:
    """A stage's peak is its own, not the process's lifetime peak (which getrusage alone gives)."""
    from schemadistill.pipeline import StageMemory

    with StageMemory() as m:
        big = bytearray(300 * 2**20)
        big[:: 4096] = b"x" * len(big[:: 4096])  # touch every page: resident, not just reserved
        time.sleep(0.2)
        del big
    first = m.figures()["peak_rss_mb"]
    with StageMemory() as m:
        small = bytearray(20 * 2**20)
        small[:: 4096] = b"x" * len(small[:: 4096])
        time.sleep(0.2)
        del small
    second = m.figures()["peak_rss_mb"]
    assert first >= 300 and second < first - 200
    assert "peak_rss_tree_mb" not in m.figures()  # no child processes


def test_stage_memory_leaves_out_processes_an_earlier_stage_left_running() -> None:
    from schemadistill.pipeline import StageMemory

    left = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])  # e.g. a resource tracker
    try:
        time.sleep(0.3)
        with StageMemory() as m:
            time.sleep(0.2)
        assert "peak_rss_tree_mb" not in m.figures()
    finally:
        left.kill()
        left.wait()


def test_stage_memory_counts_child_processes() -> None:
    from schemadistill.pipeline import StageMemory

    code = "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); import time; time.sleep(0.5)"
    with StageMemory() as m:
        subprocess.run([sys.executable, "-c", code], check=True)
    figs = m.figures()
    assert figs["peak_rss_child_mb"] >= 200 and figs["peak_rss_tree_mb"] >= figs["peak_rss_mb"] + 200
