"""The lean runtime on a real exported artifact: parity with PyTorch, stopping, the guard, the CLI.

    .venv/bin/pytest -q tests/test_export_runtime.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from export_support import student_run
from tiny_models import PAIRS, one_thread  # noqa: F401  (autouse: one torch thread)

from export.build import export_run
from export.runtime import Answer, Encoded, Runtime
from schemadistill.errors import UserError
from schemadistill.neighbors import NeighborIndex
from schemadistill.prompt import tidy_error
from schemadistill.sandbox import Executor

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [p["question"] for p in PAIRS if p["kind"] == "generate"] + [
    "How many users are from Spain?", "What is the total revenue of fraud sessions per browser?"]
MISSPELT = "SELECT agee FROM ecommerce.users WHERE is_active = 1;"
FIXED = "SELECT age FROM ecommerce.users WHERE is_active = 1;"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained tiny student exported (fp32 + int8); parity is this file's own business."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)  # module fixtures run before the autouse one_thread fixture
    try:
        path = student_run(tmp_path_factory.mktemp("rt"))
        export_run(path, variants="fp32,int8", skip_parity=True)
    finally:
        torch.set_num_threads(n)
    return path


@pytest.fixture(scope="module")
def rt(run: Path) -> Any:
    with Runtime(run / "export" / "artifact", variant="fp32", threads=1) as r:
        yield r


def _db(run: Path) -> Path:
    return run / "sandbox" / "sandbox.duckdb"


def _torch_reference(run: Path, batch_size: int) -> tuple[list[str], list[list[int]], Any]:
    """student/infer.py's SQL for QUESTIONS and the new token ids of model.generate."""
    import torch

    from student.infer import StopAtSemicolon, load_student, predict, stop_token_ids

    st = load_student(run / "student" / "model")
    rows = [{"question": q} for q in QUESTIONS]
    sql = predict(st.model, st.tokenizer, st.spec, rows, max_new_tokens=48, batch_size=batch_size)
    ids: list[list[int]] = []
    for q in QUESTIONS:  # batch 1: no padding, so the ids are exactly the generated ones
        enc = st.tokenizer(st.spec.prompt({"question": q}), return_tensors="pt", return_token_type_ids=False)
        with torch.no_grad():
            gen = st.model.generate(**enc, do_sample=False, max_new_tokens=48, pad_token_id=st.tokenizer.pad_token_id,
                                    stopping_criteria=[StopAtSemicolon(stop_token_ids(st.tokenizer))])
        ids.append(gen[0, enc["input_ids"].shape[1]:].tolist())
    return sql, ids, st


@pytest.mark.parametrize("batch_size", [1, 8])
def test_runtime_matches_pytorch_token_for_token(run: Path, rt: Runtime, batch_size: int) -> None:
    ref_sql, ref_ids, _ = _torch_reference(run, batch_size)
    rt.batch_size = batch_size
    try:
        got_ids = rt.decode_ids([rt.encode(q).ids for q in QUESTIONS], 48)
        assert rt.generate(QUESTIONS, 48) == ref_sql
    finally:
        rt.batch_size = 8
    assert got_ids == ref_ids  # batched and left-padded, still the same tokens as batch 1 in torch
    assert sum(s.endswith(";") for s in ref_sql) >= len(QUESTIONS) - 2  # a trained model: real stops


def test_io_binding_loop_matches_the_numpy_loop(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CUDA path's loop (present OrtValues bound as past), run on CPU: the same tokens."""
    seqs = [rt.encode(q).ids for q in QUESTIONS]
    expected = rt.decode_ids(seqs, 48)
    monkeypatch.setattr(rt, "_decode_cpu", rt._decode_bound)
    for batch_size in (1, 8):
        monkeypatch.setattr(rt, "batch_size", batch_size)
        assert rt.decode_ids(seqs, 48) == expected


def test_beam_search_matches_transformers_beams(run: Path, rt: Runtime) -> None:
    """Every beam, in order, as ``model.generate(num_beams=3, early_stopping=True)`` ranks them;
    one beam is greedy decoding."""
    import torch

    from schemadistill.prompt import cut_at_stop, fill_slots
    from student.infer import load_student, stop_token_ids

    st = load_student(run / "student" / "model")
    stops = stop_token_ids(st.tokenizer).tolist()
    for q in QUESTIONS:
        e = rt.encode(q)
        ids = torch.tensor([e.ids])
        with torch.no_grad():
            gen = st.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, num_beams=3,
                                    num_return_sequences=3, early_stopping=True, max_new_tokens=48,
                                    eos_token_id=stops, pad_token_id=st.tokenizer.pad_token_id)
        ref = [fill_slots(cut_at_stop(st.tokenizer.decode(g[ids.shape[1]:], skip_special_tokens=True)), e.slots)
               for g in gen]
        got = rt.beam_search(e, 3, 48)
        assert got == ref
        assert rt.beam_search(e, 1, 48) == rt.complete([e], 48)
    assert len(set(got)) == 3


def test_int8_variant_runs_and_auto_picks_it(run: Path) -> None:
    with Runtime(run / "export" / "artifact", threads=1) as r:
        assert (r.variant, r.provider) == ("int8", "CPUExecutionProvider")
        out = r.generate(QUESTIONS[:3])
    assert len(out) == 3 and all(isinstance(s, str) for s in out)


def test_stops_per_row_at_stop_tokens(rt: Runtime) -> None:
    seqs = [rt.encode(q).ids for q in QUESTIONS[:3]]
    full = rt.decode_ids(seqs, 48)
    assert all(rt.is_stop[t[-1]] and not rt.is_stop[t[:-1]].any() for t in full)  # stop token last, once
    steps: list[int] = []
    rt.decode_ids(seqs[:1], 48, on_step=lambda: steps.append(1))
    assert len(steps) == len(full[0]) < 48  # no step after the stop
    # a token only one row writes becomes a stop token (as EOS is): that row ends there, the others go on
    own = {i: [t for t in full[i][:-1] if all(t not in full[j] for j in range(3) if j != i)] for i in range(3)}
    row, tok = next((i, ts[0]) for i, ts in own.items() if ts)
    saved = rt.is_stop.copy()
    try:
        rt.is_stop[tok] = True
        cut = rt.decode_ids(seqs, 48)
    finally:
        rt.is_stop[:] = saved
    assert cut == [full[i][:full[i].index(tok) + 1] if i == row else full[i] for i in range(3)]
    assert rt.decode_ids(seqs, 3) == [t[:3] for t in full]  # max_new_tokens caps every row


def _plant(rt: Runtime, monkeypatch: pytest.MonkeyPatch, outputs: list[str], beams: list[str] | None = None,
           neighbors: list[tuple[str, str]] | None = None) -> list[Encoded]:
    """complete() returns the planted outputs in turn and beam_search() the planted beams (none by
    default); the nearest training pairs are the planted (question, SQL) ones (none by default:
    the artifact's own neighbors.json holds the tiny run's pairs); the prompts complete() was
    given are recorded."""
    seen: list[Encoded] = []
    queue = list(outputs)
    near = NeighborIndex.from_pairs({"question": q, "sql": sql} for q, sql in neighbors or [])
    monkeypatch.setattr(rt, "_neighbor_index", near)
    monkeypatch.setattr(rt, "neighbors", len(near))

    def fake(prompts: list[Encoded], *a: Any, **k: Any) -> list[str]:
        seen.extend(prompts)
        return [queue.pop(0) for _ in prompts]

    monkeypatch.setattr(rt, "complete", fake)
    monkeypatch.setattr(rt, "beam_search", lambda prompt, n, *a, **k: list(beams or [])[:n])
    return seen


def test_failing_answer_takes_the_first_beam_that_passes(run: Path, rt: Runtime,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Beams before the repair prompt: the first beam that passes (with no consistency issue) wins;
    a beam equal to the failed answer or failing itself is passed over; no beam passing falls
    through to the repair prompt."""
    seen = _plant(rt, monkeypatch, [MISSPELT], beams=[MISSPELT, "SELECT agge FROM ecommerce.users;", FIXED,
                                                     "SELECT 1 AS one;"])
    a = rt.ask("Ages of active users?", db=_db(run))
    assert len(seen) == 1  # no repair prompt
    assert (a.ok, a.repaired, a.fixed_by, a.sql, a.first_sql) == (True, True, "beam", FIXED, MISSPELT)
    assert a.columns == ["age"] and a.rows
    seen = _plant(rt, monkeypatch, [MISSPELT, FIXED], beams=[MISSPELT, "SELECT agge FROM ecommerce.users;"])
    a = rt.ask("Ages of active users?", db=_db(run))
    assert len(seen) == 2 and "Broken SQL: " + MISSPELT in seen[1].text
    assert (a.ok, a.fixed_by, a.sql) == (True, "repair", FIXED)
    monkeypatch.setattr(rt, "beams", 0)
    _plant(rt, monkeypatch, [MISSPELT, MISSPELT], beams=[FIXED])
    a = rt.ask("Ages of active users?", db=_db(run))
    assert (a.ok, a.repaired, a.fixed_by) == (False, False, None)  # beams=0: the beams are never asked


YEARLY = ("SELECT DATE_TRUNC('year', action_date) AS period, COUNT(*) AS n FROM ecommerce.sessions "
          "GROUP BY 1 ORDER BY 1;")
MONTHLY = YEARLY.replace("'year'", "'month'")
WEEKLY = YEARLY.replace("'year'", "'week'")


def test_questioned_answer_takes_a_beam_that_says_more(run: Path, rt: Runtime,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer that runs but buckets by year under "monthly" gets beams; the first beam with
    fewer consistency issues replaces it (not a repair: the first answer passed)."""
    question = "Monthly count of sessions?"
    seen = _plant(rt, monkeypatch, [YEARLY], beams=[YEARLY, WEEKLY, MONTHLY])
    a = rt.ask(question, db=_db(run))
    assert len(seen) == 1
    assert (a.ok, a.sql, a.first_sql, a.fixed_by, a.repaired, a.unsupported) == (
        True, MONTHLY, YEARLY, "consistency", False, [])
    with Executor(_db(run)) as ex:
        assert a.rows == ex.run(MONTHLY).rows
    # no beam says more (a weekly bucket is as wrong as a yearly one): the first answer stays,
    # its issue reported
    _plant(rt, monkeypatch, [YEARLY], beams=[WEEKLY])
    a = rt.ask(question, db=_db(run))
    assert (a.sql, a.first_sql, a.fixed_by) == (YEARLY, None, None)
    assert a.unsupported == ["the question asks by month; the SQL buckets by year"]
    # an answer with no issue never costs a beam search
    _plant(rt, monkeypatch, [MONTHLY])
    monkeypatch.setattr(rt, "beam_search", lambda *a, **k: pytest.fail("beam search on a consistent answer"))
    assert rt.ask(question, db=_db(run)).sql == MONTHLY
    monkeypatch.setattr(rt, "consistency", False)  # off: the answer is the model's, no issue found
    _plant(rt, monkeypatch, [YEARLY])
    monkeypatch.setattr(rt, "beam_search", lambda *a, **k: pytest.fail("beam search with consistency off"))
    a = rt.ask(question, db=_db(run))
    assert (a.sql, a.unsupported) == (YEARLY, [])


def test_beams_with_equal_issues_are_told_apart_by_how_many_return_their_result(
        run: Path, rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Among beams with the fewest issues, the one whose rows other answers also return wins over
    the model's first choice; without a database there are no rows to vote with."""
    question = "Monthly count of sessions?"
    lone = MONTHLY.replace("COUNT(*)", "COUNT(DISTINCT browser)")  # no issue found, rows of its own
    twin = MONTHLY.replace("COUNT(*)", "COUNT(1)").replace("ORDER BY 1", "ORDER BY period")
    with Executor(_db(run)) as ex:
        assert ex.run(lone).rows != ex.run(MONTHLY).rows == ex.run(twin).rows
    _plant(rt, monkeypatch, [YEARLY], beams=[lone, MONTHLY, twin])
    assert rt._issues(lone, question) == rt._issues(MONTHLY, question) == []
    a = rt.ask(question, db=_db(run))
    assert (a.sql, a.first_sql, a.fixed_by) == (MONTHLY, YEARLY, "consistency")
    _plant(rt, monkeypatch, [YEARLY], beams=[lone, MONTHLY, twin])
    assert rt.ask(question).sql == lone  # no rows, no votes: the model's order


def test_a_training_pairs_sql_competes_with_the_beams(run: Path, rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SQL of the nearest training questions (grounded) joins the beams: it replaces a
    questioned answer when it says more, fixes a failing one when no beam passes, and loses to a
    beam that is as good (the model's beams come first)."""
    question = "Monthly count of sessions?"
    trained = [("Monthly count of sessions in 2023?", MONTHLY), ("Ages of active users", FIXED)]
    _plant(rt, monkeypatch, [YEARLY], beams=[WEEKLY], neighbors=trained)
    a = rt.ask(question, db=_db(run))
    assert (a.sql, a.first_sql, a.fixed_by, a.neighbor, a.unsupported) == (
        MONTHLY, YEARLY, "consistency", "Monthly count of sessions in 2023?", [])
    seen = _plant(rt, monkeypatch, [MISSPELT], beams=["SELECT agge FROM ecommerce.users;"], neighbors=trained)
    a = rt.ask("Ages of active users?", db=_db(run))
    assert len(seen) == 1  # no repair prompt: a neighbor passed
    assert (a.ok, a.repaired, a.fixed_by, a.sql, a.neighbor) == (True, True, "beam", FIXED, "Ages of active users")
    twin = MONTHLY.replace("COUNT(*)", "COUNT(1)")  # as good as the neighbor: the beam wins
    _plant(rt, monkeypatch, [YEARLY], beams=[twin], neighbors=trained)
    a = rt.ask(question, db=_db(run))
    assert (a.sql, a.fixed_by, a.neighbor) == (twin, "consistency", None)
    _plant(rt, monkeypatch, [YEARLY], beams=[WEEKLY], neighbors=trained)
    monkeypatch.setattr(rt, "neighbors", 0)  # neighbors=0: beams alone
    assert rt.ask(question, db=_db(run)).sql == YEARLY


def test_the_artifacts_neighbors_are_read_on_the_first_doubted_answer(run: Path) -> None:
    """neighbors.json is read once, when an answer is first doubted; an artifact without it (or
    neighbors=0) offers none."""
    with Runtime(run / "export" / "artifact", variant="fp32", threads=1) as r:
        assert r.neighbors == 3 and r._neighbor_index is None
        near = r._nearest("How many users are in each country?")
        assert r._neighbor_index is not None and 0 < len(near) <= 3
        assert near[0] == ("How many users per country?", "SELECT country, COUNT(*) FROM ecommerce.users GROUP BY country")
        assert all(q != "Ages of active users?" for q, _ in r._nearest("Ages of active users?"))  # repairs stay out
    with Runtime(run / "export" / "artifact", variant="fp32", threads=1, neighbors=0) as r:
        assert r._nearest("How many users are in each country?") == []


def test_repair_round_uses_the_real_sandbox_error(run: Path, rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _plant(rt, monkeypatch, [MISSPELT, FIXED])
    a = rt.ask("Ages of active users?", db=_db(run))
    with Executor(_db(run)) as ex:
        real = ex.run(MISSPELT).error
    assert real is not None and 'Referenced column "agee" not found' in real.message
    assert len(seen) == 2
    assert "Broken SQL: " + MISSPELT in seen[1].text and "Error: " + tidy_error(real.message) in seen[1].text
    assert (a.ok, a.repaired, a.sql, a.first_sql, a.refused) == (True, True, FIXED, MISSPELT, False)
    assert a.fixed_by == "repair" and a.columns == ["age"] and a.rows is not None and a.error is None


def _misspelt_error(run: Path) -> str:
    with Executor(_db(run)) as ex:
        err = ex.run(MISSPELT).error
    assert err is not None
    return err.message


def test_repair_many_fixes_failed_sql_with_its_error(run: Path, rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """repair_many: each prompt holds its broken SQL and error as training's repair pairs do; the
    fix is checked in the sandbox like an answer, and one that still fails says why."""
    err = _misspelt_error(run)
    seen = _plant(rt, monkeypatch, [FIXED, MISSPELT])
    a, b = rt.repair_many([("Ages of active users?", MISSPELT, err)] * 2, db=_db(run))
    assert len(seen) == 2
    assert all("Broken SQL: " + MISSPELT in p.text and "Error: " + tidy_error(err) in p.text for p in seen)
    assert (a.ok, a.repaired, a.fixed_by, a.sql, a.first_sql) == (True, True, "repair", FIXED, MISSPELT)
    assert a.columns == ["age"] and a.rows and a.error is None
    assert (b.ok, b.repaired, b.fixed_by, b.first_sql) == (False, False, None, MISSPELT) and "agee" in (b.error or "")


def test_evaluate_repairs_scores_the_fixes_by_execution(run: Path, rt: Runtime,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A fix counts when it returns the gold's result; one given back as it was is counted apart;
    a row without its broken SQL or error is refused with its line."""
    from export.evaluate import evaluate_repairs

    row = {"question": "Ages of active users?", "broken_sql": MISSPELT, "error": _misspelt_error(run), "sql": FIXED}
    _plant(rt, monkeypatch, [FIXED, MISSPELT, "SELECT 1 AS one;"])
    rep = evaluate_repairs(rt, [dict(row) for _ in range(3)], _db(run))
    assert rep["n"] == 3 and rep["execution_accuracy"] == pytest.approx(1 / 3)
    assert rep["valid_sql_rate"] == pytest.approx(2 / 3) and rep["unchanged"] == 1 and rep["variant"] == "fp32"
    with pytest.raises(UserError, match="broken_sql") as e:
        evaluate_repairs(rt, [row, {"question": "Ages?", "sql": FIXED}], _db(run))
    assert e.value.line == 2


def test_eval_stage_scores_heldout_repairs_through_the_repair_prompt(run: Path, tmp_path: Path) -> None:
    """The pipeline's eval stage: held-out questions through ask_many, held-out repairs (broken SQL
    + error, never trained on) through the repair prompt alone; eval.json and the figures hold both."""
    from schemadistill.config import RunConfig
    from schemadistill.pipeline import _eval_run

    out = tmp_path / "run"
    shutil.copytree(run, out)
    repairs = [p for p in PAIRS if p["kind"] == "repair"]
    (out / "curriculum" / "heldout_repair.jsonl").write_text("".join(json.dumps(p) + "\n" for p in repairs),
                                                            encoding="utf-8")
    cfg = RunConfig()
    cfg.eval.beams, cfg.eval.neighbors = 0, 0
    figures = _eval_run(cfg, out, tmp_path)
    served = json.loads((tmp_path / "eval.json").read_text(encoding="utf-8"))
    assert {"heldout_iid", "heldout_repair"} <= set(served)
    fixes = served["heldout_repair"]
    assert fixes["n"] == len(repairs) and 0 <= fixes["unchanged"] <= len(repairs)
    assert "repair_tried" not in fixes  # its own report: no question was asked, so no fallbacks
    assert figures["heldout_repair_n"] == len(repairs)
    assert figures["heldout_repair_execution_accuracy"] == fixes["execution_accuracy"]


def test_repair_without_db_uses_duckdb_wording(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _plant(rt, monkeypatch, [MISSPELT, MISSPELT])
    a = rt.ask("Ages of active users?")
    assert 'Error: Binder Error: Referenced column "agee" not found in FROM clause!' in seen[1].text
    assert (a.ok, a.repaired, a.sql) == (False, False, MISSPELT) and "agee" in (a.error or "")
    seen = _plant(rt, monkeypatch, ["SELECT COUNT(*) FROM ecommerce.session;", "SELECT COUNT(*) FROM ecommerce.sessions;"])
    a = rt.ask("How many sessions are there?")
    assert "Catalog Error: Table with name ecommerce.session does not exist!" in seen[1].text
    assert a.ok and a.repaired


def test_answers_are_value_grounded_from_values_json(run: Path, rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = json.loads((run / "export" / "artifact" / "values.json").read_text())
    country = next(c for c in shipped["columns"] if c["column"] == "country")
    with Executor(_db(run)) as ex:  # the real value, as the sandbox spells it
        value = ex.run(f"SELECT country FROM ecommerce.users WHERE lower(country) = '{country['values'][0]}' LIMIT 1").rows[0][0]
    _plant(rt, monkeypatch, ["SELECT COUNT(*) FROM ecommerce.users AS u;"])
    a = rt.ask(f"How many users live in {value}?", db=_db(run))
    assert a.sql == f"SELECT COUNT(*) FROM ecommerce.users AS u WHERE u.country = '{value}';"
    assert a.ok and a.grounded == [f"added u.country = '{value}'"] and a.rows is not None
    with Executor(_db(run)) as ex:
        assert a.rows == ex.run(a.sql).rows and a.rows != ex.run("SELECT COUNT(*) FROM ecommerce.users").rows


def test_artifact_without_values_grounds_only_dates_and_numbers(run: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """export.values=false: no values.json, so no value is put in; the question's own dates and
    numbers still are (they need no data), and ground=False leaves the SQL as the model wrote it."""
    art = tmp_path / "artifact"
    export_run(run, out=art, variants="fp32", skip_parity=True, values=False)
    assert not (art / "values.json").exists()
    wrong_date = "SELECT COUNT(*) FROM ecommerce.sessions AS s WHERE s.action_date >= DATE '2023-12-31';"
    question = "How many sessions from Germany were on or after 2023-12-13?"
    with Runtime(art, variant="fp32", threads=1) as bare:
        assert bare.values is None
        _plant(bare, monkeypatch, ["SELECT COUNT(*) FROM ecommerce.users AS u;"])
        a = bare.ask("How many users live in Germany?")
        assert a.sql == "SELECT COUNT(*) FROM ecommerce.users AS u;" and a.grounded == []
        _plant(bare, monkeypatch, [wrong_date])
        a = bare.ask(question)
        assert a.grounded == ["date 2023-12-31 -> 2023-12-13"] and a.sql is not None and "2023-12-13" in a.sql
        assert "Germany" not in a.sql
    with Runtime(art, variant="fp32", threads=1, ground=False) as raw:
        _plant(raw, monkeypatch, [wrong_date])
        a = raw.ask(question)
    assert a.sql == wrong_date and a.grounded == []


@pytest.mark.parametrize("planted", ["DROP TABLE ecommerce.users;", "SELECT 1; DROP TABLE ecommerce.users;",
                                     "INSERT INTO ecommerce.users VALUES (1, 'x', 1, 2);"])
def test_non_read_only_output_is_refused(run: Path, rt: Runtime, monkeypatch: pytest.MonkeyPatch,
                                         planted: str) -> None:
    for db in (None, _db(run)):
        seen = _plant(rt, monkeypatch, [planted])
        a = rt.ask("Drop the users table", db=db)
        assert (a.ok, a.refused, a.sql, a.repaired) == (False, True, None, False)
        assert a.error and len(seen) == 1  # refused outright: no repair round
    with Executor(_db(run)) as ex:
        assert ex.run("SELECT COUNT(*) FROM ecommerce.users").ok


def test_bad_questions(rt: Runtime) -> None:
    for empty in ("", "   \n "):
        with pytest.raises(UserError, match="empty"):
            rt.ask(empty)
    long = "How many users are from Spain and " * 300  # ~10,000 characters
    assert len(long) >= 10_000
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc = rt.encode(long)
        a = rt.ask(long)
    assert enc.truncated and len(enc.ids) + rt.max_new_tokens <= rt.context
    assert any("cut" in str(w.message) for w in caught) and a.warnings
    assert isinstance(a, Answer)


def test_missing_or_partial_artifact(run: Path, tmp_path: Path) -> None:
    art = run / "export" / "artifact"
    with pytest.raises(UserError, match="not found"):
        Runtime(tmp_path / "nope")
    partial = tmp_path / "partial"
    shutil.copytree(art, partial)
    (partial / "tokenizer.json").unlink()
    with pytest.raises(UserError, match="tokenizer.json"):
        Runtime(partial)
    cut = tmp_path / "cut"
    shutil.copytree(art, cut)
    data = (cut / "model.onnx").read_bytes()
    (cut / "model.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="model.onnx"):
        Runtime(cut, variant="fp32")
    with pytest.raises(UserError, match="fp16"):
        Runtime(art, variant="fp16")


def test_imports_without_torch_or_transformers(run: Path) -> None:
    code = (
        "import sys, json\n"
        "for m in ('torch', 'transformers', 'optimum'): sys.modules[m] = None\n"
        "from export.runtime import Runtime\n"
        f"rt = Runtime({str(run / 'export' / 'artifact')!r}, variant='fp32', threads=1)\n"
        f"a = rt.ask({QUESTIONS[0]!r}, db={str(_db(run))!r})\n"
        f"print(json.dumps({{'sql': rt.generate({QUESTIONS[:3]!r}), 'ok': a.ok,\n"
        "                   'heavy': sorted(m for m, v in sys.modules.items() if v is not None\n"
        "                                  and m.split('.')[0] in ('torch', 'transformers', 'optimum'))}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    with Runtime(run / "export" / "artifact", variant="fp32", threads=1) as here:
        assert out["sql"] == here.generate(QUESTIONS[:3])
    assert out["ok"] is True and out["heavy"] == []


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "schemadistill.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=180)


def test_cli_ask_and_eval(run: Path, rt: Runtime, tmp_path: Path) -> None:
    art = str(run / "export" / "artifact")
    r = _cli("ask", art, QUESTIONS[0], "--variant", "fp32")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == rt.generate(QUESTIONS[:1])[0] and lines[1].startswith("-- repaired: ")
    r = _cli("ask", art, QUESTIONS[0], "--db", str(_db(run)), "--variant", "fp32")
    assert r.returncode == 0 and "count_star()" in r.stdout, r.stderr
    r = _cli("ask", art, " ")
    assert r.returncode == 2 and "empty" in r.stderr and "Traceback" not in r.stderr

    rows = [{"question": p["question"], "sql": p["sql"]} for p in PAIRS[:6]]
    rows.append({"question": "Sessions yesterday?", "sql": "SELECT COUNT(*) FROM ecommerce.sessions",
                 "time_dependent": True})
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    r = _cli("eval", art, "--questions", str(qfile), "--db", str(_db(run)), "--variant", "fp32")
    assert r.returncode == 0, r.stderr
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"n", "execution_accuracy", "valid_sql_rate", "repaired"} <= last.keys()
    assert last["n"] == 6 and last["skipped"] == 1 and last["execution_accuracy"] > 0.5
    r = _cli("eval", art, "--questions", str(qfile), "--db", str(_db(run)), "--limit", "2")
    assert r.returncode == 0 and json.loads(r.stdout.strip().splitlines()[-1])["n"] == 2, r.stderr
    r = _cli("eval", art, "--questions", str(qfile), "--db", str(_db(run)), "--limit", "2", "--no-ground")
    assert r.returncode == 0 and json.loads(r.stdout.strip().splitlines()[-1])["grounded"] == 0, r.stderr

    # --repair: the repair pairs' broken SQL and error through the real repair prompt (the tiny
    # student writes no good fix from two examples: evaluate_repairs' scoring is tested above)
    repairs = [p for p in PAIRS if p["kind"] == "repair"]
    rfile = tmp_path / "repairs.jsonl"
    rfile.write_text("".join(json.dumps(p) + "\n" for p in repairs), encoding="utf-8")
    r = _cli("eval", art, "--questions", str(rfile), "--db", str(_db(run)), "--variant", "fp32", "--repair")
    assert r.returncode == 0, r.stderr
    assert f"{len(repairs)} broken SQL + error through the repair prompt" in " ".join(r.stdout.split())
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert last["n"] == len(repairs) and 0 <= last["unchanged"] <= len(repairs) and last["variant"] == "fp32"
    assert 0 <= last["execution_accuracy"] <= last["valid_sql_rate"] <= 1
    r = _cli("eval", art, "--questions", str(qfile), "--db", str(_db(run)), "--repair")
    assert r.returncode == 2 and "broken_sql" in r.stderr and "q.jsonl:1" in r.stderr and "Traceback" not in r.stderr


def test_cli_ask_shows_a_second_choice_and_its_issues(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ask` prints what the consistency check did: a second choice (not a repair) and, for an
    answer no beam improves, its issues."""
    from typer.testing import CliRunner

    from schemadistill.cli import app

    outputs: list[str] = []
    beams: list[str] = []
    monkeypatch.setattr(Runtime, "complete", lambda self, prompts, *a, **k: [outputs[0] for _ in prompts])
    monkeypatch.setattr(Runtime, "beam_search", lambda self, prompt, n, *a, **k: beams[:n])
    monkeypatch.setattr(Runtime, "_nearest", lambda self, question: [])  # beams only (see the test above)
    art = str(run / "export" / "artifact")
    outputs[:], beams[:] = [YEARLY], [MONTHLY]
    res = CliRunner().invoke(app, ["ask", art, "Monthly count of sessions?", "--variant", "fp32"])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[:3] == [MONTHLY, "-- repaired: no", "-- second choice: a beam that says more of "
                                           f"the question (first answer: {YEARLY})"]
    beams[:] = []
    res = CliRunner().invoke(app, ["ask", art, "Monthly count of sessions?", "--variant", "fp32"])
    assert res.stdout.splitlines() == [YEARLY, "-- repaired: no",
                                       "-- unsupported: the question asks by month; the SQL buckets by year"]
    res = CliRunner().invoke(app, ["ask", art, "Monthly count of sessions?", "--variant", "fp32", "--no-consistency"])
    assert res.stdout.splitlines() == [YEARLY, "-- repaired: no"]
