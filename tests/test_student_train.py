"""Scratch student training end to end on tiny models: weights move, loss falls, eval files,
the final model folder, resume after an interruption, skipping finished phases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from tiny_models import HELDOUT_IID, one_thread, read_json, register_tiny_preset, tiny_schema, write_run
from transformers import AutoModelForCausalLM, TrainerCallback

from schemadistill.config import StudentConfig
from schemadistill.io import atomic_write_jsonl
from schemadistill.prompt import template_text
from schemadistill.sandbox import Executor
from student import train as st
from student.infer import load_student, predict
from student.model import PRESETS, build_scratch_model

__all__ = ["one_thread"]  # the autouse fixture: one torch thread for tiny models

REPORT_KEYS = {"n", "execution_accuracy", "valid_sql_rate", "unknown_name_rate", "by_phase", "by_family",
               "by_difficulty", "failures"}


def _cfg(name: str, **kw: Any) -> StudentConfig:
    base: dict[str, Any] = {"name": name, "batch_size": 4, "epochs": [2, 1, 1], "learning_rate": [3e-3, 2e-3, 2e-3],
                            "max_minutes": 0, "eval_max": 5, "max_new_tokens": 24, "max_length": 128}
    return StudentConfig(**{**base, **kw})


def test_scratch_training_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capfd: pytest.CaptureFixture[str]) -> None:
    name = register_tiny_preset(monkeypatch)
    run = write_run(tmp_path / "run", copies=6)
    golden = tmp_path / "golden.jsonl"
    atomic_write_jsonl(golden, [
        {"question": "How many users are there?", "sql": "SELECT COUNT(*) FROM ecommerce.users"},
        {"question": "Sessions today?", "sql": "SELECT COUNT(*) FROM ecommerce.sessions", "time_dependent": True},
        {"question": "Users over 200?", "sql": "SELECT * FROM ecommerce.users WHERE age > 200",
         "empty_or_null_result": True},
    ])
    cfg = _cfg(name, epochs=[6, 1, 1])
    schema = tiny_schema()
    with Executor(run / "sandbox" / "sandbox.duckdb") as ex:
        summary = st.train(run, cfg, schema, ex, golden=golden)
    out = run / "student"
    # the loss rides on the progress bar; the Trainer's own dict of figures per log step is not printed
    printed = capfd.readouterr()
    assert "'learning_rate'" not in printed.out + printed.err and "loss=" in printed.err

    # weights moved away from the seed's initialisation, and the loss fell in phase 1
    tok = load_student(out / "model").tokenizer
    init = build_scratch_model("tiny", tok, cfg.max_length, cfg.seed)
    phase1 = AutoModelForCausalLM.from_pretrained(str(out / "phase1" / "final"))
    name_ = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.allclose(init.state_dict()[name_], phase1.state_dict()[name_])
    hist = read_json(out / "phase1" / "loss.json")
    assert len(hist) >= 4 and hist[-1]["loss"] < hist[0]["loss"] * 0.8
    assert (out / "phase1" / "loss.png").stat().st_size > 0 and (out / "loss.png").is_file()

    for k in (1, 2, 3):
        ev = read_json(out / f"eval_phase{k}.json")
        assert set(ev) == {"heldout_iid", "heldout_family", "golden"}
        for split in ev.values():
            assert REPORT_KEYS <= set(split)
        assert ev["golden"]["n"] == 1  # the two flagged rows are skipped
        assert ev["heldout_iid"]["n"] == len(HELDOUT_IID)
        done = read_json(out / f"phase{k}" / "done.json")
        assert done["trained"] and done["steps"] == done["max_steps"] > 0
        assert not (out / f"phase{k}" / "checkpoints").exists()  # final/ holds the weights

    student = load_student(out / "model")
    assert student.config["prompt"]["template"] == template_text()
    assert student.config["prompt_schema"] == "none" and student.config["dialect"] == "duckdb"
    assert student.config["schema_fingerprint"] == schema.fingerprint
    assert (out / "model" / "tokenizer.json").is_file()
    sql = predict(student.model, student.tokenizer, student.spec, [{"question": "How many users are there?"}])
    assert len(sql) == 1 and isinstance(sql[0], str)
    assert summary["phases"] == 3 and summary["params"] > 0

    # everything done: a second call trains nothing
    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("a finished phase must not be trained again")

    monkeypatch.setattr(st, "ResumableSFTTrainer", refuse)
    # a golden file given only now (GOLDEN= added to a finished run) is scored without training
    ev3 = read_json(out / "eval_phase3.json")
    del ev3["golden"]
    (out / "eval_phase3.json").write_text(json.dumps(ev3), encoding="utf-8")
    with Executor(run / "sandbox" / "sandbox.duckdb") as ex:
        again = st.train(run, cfg, schema, ex, golden=golden)
    assert again["steps"] == summary["steps"]
    assert read_json(out / "eval_phase3.json")["golden"]["n"] == 1
    assert "golden_execution_accuracy" in again


class Interrupt(Exception):
    pass


class StopAt(TrainerCallback):
    """Raises after ``step`` optimizer steps, like a killed process would stop."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.step:
            raise Interrupt()


class StopTraining(TrainerCallback):
    """Stops the Trainer after ``step`` optimizer steps, as the time limit does on a busy machine."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.step:
            control.should_training_stop = True


def test_resume_continues_from_the_last_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = register_tiny_preset(monkeypatch)
    run = write_run(tmp_path / "run", copies=2, sandbox=False)
    monkeypatch.setattr(st, "score_items", lambda items, ex, schema, dialect: {"n": len(items)})
    # phase 1: 12 rows, batch 2, 2 epochs -> 12 steps, a checkpoint every 3 steps
    cfg = _cfg(name, schedule="phases", batch_size=2, epochs=[2, 1, 1])
    with pytest.raises(Interrupt):
        st.train(run, cfg, tiny_schema(), None, callbacks=[StopAt(7)])
    ckpts = sorted(p.name for p in (run / "student" / "phase1" / "checkpoints").glob("checkpoint-*"))
    assert ckpts == ["checkpoint-3", "checkpoint-6"]
    assert not (run / "student" / "phase1" / "done.json").exists()
    # a kill in the middle of saving a later checkpoint: its folder lacks trainer_state.json
    torn = run / "student" / "phase1" / "checkpoints" / "checkpoint-9"
    torn.mkdir()
    (torn / "model.safetensors").write_bytes(b"cut off")

    st.train(run, cfg, tiny_schema(), None)
    done = read_json(run / "student" / "phase1" / "done.json")
    assert done["resumed_from_step"] == 6  # continued from the last whole checkpoint, not restarted
    assert done["global_step"] == done["max_steps"] == 12
    steps = [h["step"] for h in read_json(run / "student" / "phase1" / "loss.json")]
    assert steps == sorted(set(steps)) and steps[-1] == 12  # one history across the interruption
    assert read_json(run / "student" / "phase3" / "done.json")["resumed_from_step"] == 0
    assert read_json(run / "student" / "eval_phase3.json") == {"heldout_iid": {"n": 1}, "heldout_family": {"n": 1}}

    # --no-resume starts over
    st.train(run, cfg, tiny_schema(), None, resume=False)
    assert read_json(run / "student" / "phase1" / "done.json")["resumed_from_step"] == 0


def test_time_budget_caps_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = register_tiny_preset(monkeypatch)
    run = write_run(tmp_path / "run", copies=4, sandbox=False)
    monkeypatch.setattr(st, "score_items", lambda items, ex, schema, dialect: {"n": len(items)})
    monkeypatch.setattr(st, "probe_tokens_per_s", lambda *a, **k: (100.0, 0.0))
    cfg = _cfg(name, schedule="phases", epochs=[4, 4, 4], max_minutes=0.05)  # 3 s at a pretended 100 tokens/s
    st.train(run, cfg, tiny_schema(), None)
    plan = read_json(run / "student" / "phase1" / "plan.json")
    assert plan["tokens_per_s_source"] == "probe"
    assert plan["max_steps"] < plan["planned_steps"]
    plan2 = read_json(run / "student" / "phase2" / "plan.json")
    assert plan2["tokens_per_s_source"] == "previous phase"


def test_probe_times_real_steps_and_leaves_the_weights_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = register_tiny_preset(monkeypatch)
    run = write_run(tmp_path / "run", copies=2, sandbox=False)
    cfg = _cfg(name, batch_size=4)
    rows = [r for k in (1, 2, 3) for r in st.read_phase(run, k)]
    spec = st.PromptSpec.create("none", "", chat=False, number_slots=cfg.number_slots)
    tok = st.train_tokenizer([r["question"] + " " + r["sql"] for r in rows])
    examples = st.build_examples(rows, spec, tok, cfg.max_length)[0]
    model = build_scratch_model(name.partition(":")[2], tok, cfg.max_length, cfg.seed)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    seen: list[int] = []

    class Count(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            seen.append(state.global_step)

    monkeypatch.setattr(st, "ResumableSFTTrainer", _with_callback(st.ResumableSFTTrainer, Count()))
    tps, seconds = st.probe_tokens_per_s(model, tok, examples, cfg, 3e-3)
    per_pass = -(-min(len(examples), st.budget.PROBE_STEPS * cfg.batch_size) // cfg.batch_size)
    assert seen == list(range(1, 2 * per_pass + 1))  # two passes over the sample, real optimizer steps
    assert tps is not None and tps > 0 and seconds > 0
    assert all(torch.equal(before[n], p) and p.grad is None for n, p in model.named_parameters())


def _with_callback(cls: Any, callback: TrainerCallback) -> Any:
    class WithCallback(cls):  # type: ignore[misc, valid-type]
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            self.add_callback(callback)
    return WithCallback


def test_shuffled_run_is_replanned_at_the_speed_its_first_segment_ran(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A probe that reads far too slow caps the run; segment 1's real speed gives the steps back."""
    name = register_tiny_preset(monkeypatch)
    monkeypatch.setattr(st, "score_items", lambda items, ex, schema, dialect: {"n": len(items)})
    monkeypatch.setattr(st, "probe_tokens_per_s", lambda *a, **k: (30.0, 0.0))
    run = write_run(tmp_path / "run", copies=2, sandbox=False)
    cfg = _cfg(name, schedule="shuffled", batch_size=2, epochs=[4, 4, 4], max_minutes=0.5)
    st.train(run, cfg, tiny_schema(), None)
    out = run / "student"
    plan = read_json(out / "shuffled" / "plan.json")
    first = plan["replanned"]["from_max_steps"]
    assert first < plan["planned_steps"]  # 30 s at a pretended 30 tokens/s
    assert plan["max_steps"] == plan["planned_steps"] > first  # the real speed affords every epoch
    spans = [read_json(out / f"phase{k}" / "done.json")["segment"] for k in (1, 2, 3)]
    assert spans[0]["stop_step"] == st.segment_bounds(first, 1)[1]  # segment 1 ran as first planned
    assert [s["first_step"] for s in spans[1:]] == [s["stop_step"] for s in spans[:2]]  # no gap, no overlap
    assert spans[2]["stop_step"] == plan["max_steps"] == read_json(out / "phase3" / "done.json")["global_step"]
    assert [st.plan_segment(plan, k) for k in (1, 2, 3)] == [(s["first_step"], s["stop_step"]) for s in spans]
    # checkpoint, logging and warm-up intervals stay as the run began them (the Trainer warns on a
    # resume whose save_steps differ, and a longer warm-up would lift the rate of later steps)
    args = st._sft_args(tmp_path / "ckpt", cfg, 1e-3, 400, 1, cadence_steps=100)
    assert (args.max_steps, args.save_steps, args.warmup_steps, args.logging_steps) == (400, 20, 5, 5)


def test_replanned_steps_arithmetic() -> None:
    plan = {"planned_steps": 300, "max_steps": 150, "tokens": 30_000, "budget_s": 100.0}  # 100 tokens a step
    # 50 steps done in 25 s; the other 75 s at 400 tokens/s afford ~280 more steps: the epochs cap at 300
    assert st.budget.replanned_steps(plan, 50, 25.0, 400.0) == 300
    margin = st.budget.REPLAN_MARGIN
    assert st.budget.replanned_steps(plan, 50, 25.0, 100.0) == 50 + int(75 * margin)  # slower than the probe said
    assert st.budget.replanned_steps(plan, 50, 200.0, 100.0) == 52  # over budget: a step for each segment left
    assert st.budget.replanned_steps({**plan, "budget_s": None}, 50, 25.0, 400.0) == 150  # no budget: no change
    # before the last segment: a step for it alone
    assert st.budget.replanned_steps(plan, 50, 200.0, 100.0, segments_left=1) == 51


def test_last_segment_is_replanned_at_the_speed_the_second_ran() -> None:
    """Segment 1 ran slowly (another job on the CPU): segment 2's speed gives the last third more steps."""
    plan = {"planned_steps": 1000, "max_steps": 600, "tokens": 100_000, "budget_s": 100.0,
            "stops": [200, 400, 600], "replanned": {"from_max_steps": 450}}
    records = [{"train_seconds": 40.0, "tokens_per_s": 500.0}, {"train_seconds": 20.0, "tokens_per_s": 1000.0}]
    assert st._replan_last(plan, records)
    # 40 s left at 1000 tokens/s, 100 tokens a step, less the margin
    assert plan["max_steps"] == 400 + int(40 * st.budget.REPLAN_MARGIN * 1000 / 100)
    assert plan["stops"][:2] == [200, 400] and plan["stops"][2] == plan["max_steps"]
    assert plan["replanned_last"]["from_max_steps"] == 600 and plan["replanned"] == {"from_max_steps": 450}
    assert not st._replan_last(plan, records)  # once


def test_shuffled_schedule_is_one_run_of_the_same_pairs_and_steps(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    rows = {1: [{"q": i} for i in range(10)], 2: [{"q": i} for i in range(30)], 3: [{"q": i} for i in range(20)]}
    merged, epochs, lrs = st._as_one_run(rows, [3.0, 2.0, 1.0], [3e-3, 2e-3, 1e-3])
    assert len(merged[1]) == 60 and merged[2] == merged[3] == []
    assert epochs[0] * 60 == 10 * 3 + 30 * 2 + 20 * 1  # as many example-passes as the phases
    assert lrs[0] == 2e-3  # the largest phase's rate
    # replayed copies are not trained twice in one run
    rows[2] += [{"q": i, "replay": True} for i in range(5)]
    merged, epochs, _ = st._as_one_run(rows, [3.0, 2.0, 1.0], [3e-3, 2e-3, 1e-3])
    assert len(merged[1]) == 60 and not any(r.get("replay") for r in merged[1])
    assert epochs[0] * 60 == 10 * 3 + 30 * 2 + 20 * 1
    assert [st.segment_bounds(10, k) for k in (1, 2, 3)] == [(0, 3), (3, 7), (7, 10)]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return AutoModelForCausalLM.from_pretrained(str(path)).state_dict()


def test_shuffled_run_is_saved_and_evaluated_at_each_third(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three segments of one run: each writes a phase's files, and together they give the weights
    of the same run trained without a stop, also when a segment is interrupted and resumed."""
    name = register_tiny_preset(monkeypatch)
    monkeypatch.setattr(st, "score_items", lambda items, ex, schema, dialect: {"n": len(items)})
    # 24 pairs, 2 epochs -> 24 steps (12 an epoch), segments end at 8, 16, 24; a checkpoint every 5 steps
    cfg = _cfg(name, schedule="shuffled", batch_size=2, epochs=[2, 2, 2])

    segmented = write_run(tmp_path / "segmented", copies=2, sandbox=False)
    summary = st.train(segmented, cfg, tiny_schema(), None)
    out = segmented / "student"
    assert summary["phases"] == 3 and summary["schedule"] == "shuffled" and summary["steps"] == 24
    rates: list[float] = []
    for k, (first, stop) in zip((1, 2, 3), [(0, 8), (8, 16), (16, 24)], strict=True):
        done = read_json(out / f"phase{k}" / "done.json")
        assert done["segment"] == {"first_step": first, "stop_step": stop, "run_steps": 24}
        assert done["global_step"] == stop and done["steps"] == stop - first and done["trained"]
        assert read_json(out / f"eval_phase{k}.json") == {"heldout_iid": {"n": 1}, "heldout_family": {"n": 1}}
        hist = read_json(out / f"phase{k}" / "loss.json")
        assert hist and 1 <= hist[0]["step"] and hist[-1]["step"] <= stop - first  # counted from its start
        rates += [h["learning_rate"] for h in hist]
    # one learning-rate schedule: no warm-up again after a segment, the rate keeps falling
    after_peak = rates[rates.index(max(rates)):]
    assert after_peak == sorted(after_peak, reverse=True) and len(after_peak) > 8
    name_ = "model.layers.0.self_attn.q_proj.weight"
    w1, w3 = _weights(out / "phase1" / "final"), _weights(out / "phase3" / "final")
    assert not torch.allclose(w1[name_], w3[name_])  # the later segments trained on
    assert not (out / "shuffled" / "checkpoints").exists()  # phase3/final holds the weights

    # the same run without stops: segment 1 takes every step; 2 and 3 find the work done
    whole = write_run(tmp_path / "whole", copies=2, sandbox=False)
    monkeypatch.setattr(st, "segment_bounds", lambda steps, k: (0 if k == 1 else steps, steps))
    st.train(whole, cfg, tiny_schema(), None)
    assert read_json(whole / "student" / "phase3" / "done.json")["steps"] == 0
    ww = _weights(whole / "student" / "phase3" / "final")
    assert all(torch.equal(ww[n], w3[n]) for n in ww)
    monkeypatch.undo()

    # killed in the middle of segment 2 and of the second epoch, then resumed: still the same weights
    # (transformers' own length-grouped sampler would train on other batches after such a resume)
    name = register_tiny_preset(monkeypatch)
    monkeypatch.setattr(st, "score_items", lambda items, ex, schema, dialect: {"n": len(items)})
    killed = write_run(tmp_path / "killed", copies=2, sandbox=False)
    with pytest.raises(Interrupt):
        st.train(killed, cfg, tiny_schema(), None, callbacks=[StopAt(16)])
    assert (killed / "student" / "phase1" / "done.json").is_file()
    assert not (killed / "student" / "phase2" / "done.json").exists()
    st.train(killed, cfg, tiny_schema(), None)
    done2 = read_json(killed / "student" / "phase2" / "done.json")
    assert done2["resumed_from_step"] == 7  # the step-15 checkpoint, 7 steps into the segment
    wk = _weights(killed / "student" / "phase3" / "final")
    assert all(torch.equal(wk[n], w3[n]) for n in wk)


def test_a_segment_stopped_early_ends_the_shuffled_run_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy machine's time limit stops segment 2 before its last step: segment 3 starts where it
    stopped with no steps left (it found no checkpoint at segment 2's planned end and failed)."""
    name = register_tiny_preset(monkeypatch)
    monkeypatch.setattr(st, "score_items", lambda items, ex, schema, dialect: {"n": len(items)})
    cfg = _cfg(name, schedule="shuffled", batch_size=2, epochs=[2, 2, 2])  # 24 steps: segments end at 8, 16, 24
    run = write_run(tmp_path / "run", copies=2, sandbox=False)
    summary = st.train(run, cfg, tiny_schema(), None, callbacks=[StopTraining(12)])
    out = run / "student"
    assert summary["phases"] == 3
    plan = read_json(out / "shuffled" / "plan.json")
    assert plan["stops"] == [8, 12, 12] and plan["cut_short"] == {"segment": 2, "at_step": 12, "from_max_steps": 24}
    done2, done3 = read_json(out / "phase2" / "done.json"), read_json(out / "phase3" / "done.json")
    assert (done2["global_step"], done2["steps"]) == (12, 4)
    assert (done3["global_step"], done3["steps"]) == (12, 0)
    assert read_json(out / "eval_phase3.json") == {"heldout_iid": {"n": 1}, "heldout_family": {"n": 1}}
    w2, w3 = _weights(out / "phase2" / "final"), _weights(out / "phase3" / "final")
    assert all(torch.equal(w2[n], w3[n]) for n in w2)
    # resumed as it is, nothing trains again
    st.train(run, cfg, tiny_schema(), None)
    assert read_json(out / "phase3" / "done.json")["steps"] == 0


def _no_probe(*a: Any, **k: Any) -> Any:
    raise AssertionError("nothing should be probed here")


def test_scratch_picks_the_small_preset_where_the_budget_affords_xs_too_few_steps(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`scratch`: a probe of xs finds too few steps in the budget, so the small preset trains; it is
    keyed, saved and reported as that preset, the probe's seconds come out of the budget, and a
    resumed run keeps the choice without probing again."""
    register_tiny_preset(monkeypatch)
    monkeypatch.setattr(st, "SMALL_PRESET", "tiny")  # the small preset, kept tiny for the test
    monkeypatch.setattr(st, "score_items", lambda items, ex, schema, dialect: {"n": len(items)})
    probed: list[int] = []

    def probe(model: Any, *a: Any, **k: Any) -> tuple[float, float]:
        probed.append(model.config.hidden_size)
        return 100.0, 0.5

    monkeypatch.setattr(st, "probe_tokens_per_s", probe)
    run = write_run(tmp_path / "run", copies=2, sandbox=False)
    cfg = _cfg("scratch", schedule="shuffled", batch_size=2, epochs=[4, 4, 4], max_minutes=0.05)
    summary = st.train(run, cfg, tiny_schema(), None)
    out = run / "student"
    choice = read_json(out / "preset.json")
    assert probed[0] == PRESETS["xs"]["hidden_size"]  # xs was probed first
    assert choice["preset"] == "tiny" and choice["xs_tokens_per_s"] == 100.0 and choice["probe_seconds"] == 0.5
    assert choice["xs_steps"] < min(choice["planned_steps"], st.budget.AUTO_MIN_STEPS)
    assert summary["student"] == "scratch:tiny" and summary["preset_choice"]["preset"] == "tiny"
    saved = read_json(out / "model" / "student_config.json")
    assert saved["student"] == "scratch:tiny" and saved["config"]["name"] == "scratch:tiny"
    plan = read_json(out / "shuffled" / "plan.json")
    assert plan["tokens_per_s_source"] == "probe"  # the small preset is measured on its own
    assert plan["budget_s"] == pytest.approx(0.05 * 60 - 0.5 - 0.5)  # both probes' seconds spent
    weights = _weights(out / "model")
    monkeypatch.setattr(st, "probe_tokens_per_s", _no_probe)
    again = st.train(run, cfg, tiny_schema(), None)
    assert again["student"] == "scratch:tiny" and _weights(out / "model").keys() == weights.keys()
    assert all(torch.equal(v, _weights(out / "model")[k]) for k, v in weights.items())  # skipped, not retrained


def test_scratch_keeps_xs_where_the_budget_affords_it_and_plans_with_the_speed_it_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Enough steps (here every epoch fits): the default preset trains, planned with the choice's
    probe (no second probe); without a time budget nothing is probed and the default trains."""
    register_tiny_preset(monkeypatch)
    monkeypatch.setattr(st, "DEFAULT_PRESET", "tiny")  # the default preset, kept tiny for the test
    monkeypatch.setattr(st, "score_items", lambda items, ex, schema, dialect: {"n": len(items)})
    calls: list[float] = []

    def probe(*a: Any, **k: Any) -> tuple[float, float]:
        calls.append(1.0)
        return 1e9, 0.25

    monkeypatch.setattr(st, "probe_tokens_per_s", probe)
    run = write_run(tmp_path / "run", copies=2, sandbox=False)
    cfg = _cfg("scratch", schedule="shuffled", batch_size=2, max_minutes=5)
    summary = st.train(run, cfg, tiny_schema(), None)
    out = run / "student"
    choice = read_json(out / "preset.json")
    assert choice["preset"] == "tiny" and choice["xs_steps"] == choice["planned_steps"] and len(calls) == 1
    plan = read_json(out / "shuffled" / "plan.json")
    assert plan["tokens_per_s_source"] == "the preset choice's probe" and plan["tokens_per_s"] == 1e9
    assert plan["max_steps"] == plan["planned_steps"] and summary["student"] == "scratch:tiny"

    monkeypatch.setattr(st, "probe_tokens_per_s", _no_probe)
    run2 = write_run(tmp_path / "run2", copies=2, sandbox=False)
    summary = st.train(run2, _cfg("scratch", schedule="shuffled", batch_size=2), tiny_schema(), None)
    choice = read_json(run2 / "student" / "preset.json")
    assert choice["preset"] == "tiny" and choice["reason"] == "no time budget to fit" and "xs_steps" not in choice
    assert summary["preset_choice"]["reason"] == "no time budget to fit"


def test_scratch_choice_serves_the_phases_schedule_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """schedule=phases: phase 1 plans with the choice's probe (charged to the budget), phase 2 with
    phase 1's speed."""
    register_tiny_preset(monkeypatch)
    monkeypatch.setattr(st, "DEFAULT_PRESET", "tiny")
    monkeypatch.setattr(st, "score_items", lambda items, ex, schema, dialect: {"n": len(items)})
    monkeypatch.setattr(st, "probe_tokens_per_s", lambda *a, **k: (1e9, 0.25))
    run = write_run(tmp_path / "run", copies=2, sandbox=False)
    summary = st.train(run, _cfg("scratch", schedule="phases", batch_size=2, max_minutes=5), tiny_schema(), None)
    out = run / "student"
    assert summary["student"] == "scratch:tiny" and read_json(out / "preset.json")["preset"] == "tiny"
    plan1, plan2, plan3 = (read_json(out / f"phase{k}" / "plan.json") for k in (1, 2, 3))
    assert plan1["tokens_per_s_source"] == "the preset choice's probe" and plan1["probe_seconds"] == 0.0
    assert plan2["tokens_per_s_source"] == "previous phase"
    share = plan1["tokens"] / sum(p["tokens"] for p in (plan1, plan2, plan3))
    assert plan1["budget_s"] == pytest.approx((5 * 60 - 0.25) * share, abs=0.1)  # the choice's probe is spent
