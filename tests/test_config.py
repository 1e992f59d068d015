"""Config loading: defaults <- YAML <- overrides, with clear errors."""

from __future__ import annotations

import pytest

from schemadistill.config import RunConfig, field_help, load_config
from schemadistill.errors import UserError


def test_defaults():
    cfg = load_config()
    assert isinstance(cfg, RunConfig)
    assert cfg.teacher.name == "offline" and cfg.student.name == "scratch" and cfg.sandbox.rows == 2000


def test_yaml_then_overrides(tmp_path):
    p = tmp_path / "run.yaml"
    p.write_text("teacher:\n  name: openai:gpt-4o-mini\nsandbox:\n  rows: 500\n  seed: 3\n")
    cfg = load_config(p, ["sandbox.rows=700", "resume=false"])
    assert cfg.teacher.name == "openai:gpt-4o-mini"
    assert cfg.sandbox.rows == 700 and cfg.sandbox.seed == 3  # override wins, file fills the rest
    assert cfg.resume is False


def test_none_override_keeps_file_value(tmp_path):
    p = tmp_path / "run.yaml"
    p.write_text("schema:\n  dialect: postgres\n")
    assert load_config(p, {"schema.dialect": None}).schema.dialect == "postgres"


@pytest.mark.parametrize("override, needle", [
    (["sandbox.rowz=5"], "unknown config key 'sandbox.rowz'"),
    (["sandbox.rows=many"], "not a valid int"),
    (["resume=maybe"], "not a valid bool"),
    (["rows"], "not KEY=VALUE"),
    (["out.path=x"], "has no sub-keys"),
])
def test_bad_overrides(override, needle):
    with pytest.raises(UserError, match=needle):
        load_config(None, override)


def test_bad_yaml_names_line(tmp_path):
    p = tmp_path / "run.yaml"
    p.write_text("student: scratch\nsandbox: [unclosed\n")
    with pytest.raises(UserError) as e:
        load_config(p)
    assert "run.yaml:" in str(e.value) and e.value.line is not None


def test_every_field_has_help():
    rows = field_help()
    assert {"sandbox.rows", "schema.path", "teacher.name"} <= {k for k, _, _ in rows}
    assert all(help_ for _, _, help_ in rows)


def test_list_override():
    cfg = load_config(None, ["student.epochs=1,2.5,3", "student.lora_targets=[q_proj, v_proj]"])
    assert cfg.student.epochs == [1, 2.5, 3]
    assert cfg.student.lora_targets == ["q_proj", "v_proj"]


def test_export_and_bench_sections():
    cfg = load_config(None, ["export.variants=fp32,int8", "export.parity_max=50", "bench.questions=8",
                             "bench.batch_sizes=1,2", "bench.max_new_tokens=32", "bench.backends=runtime-int8",
                             "bench.timeout_s=60"])
    assert cfg.export.variants == ["fp32", "int8"] and cfg.export.parity_max == 50
    assert (cfg.bench.questions, cfg.bench.batch_sizes, cfg.bench.max_new_tokens) == (8, [1, 2], 32)
    assert cfg.bench.backends == ["runtime-int8"] and cfg.bench.timeout_s == 60.0
    cfg.export.check()
    cfg.bench.check()
    assert load_config(None, ["bench.backends="]).bench.backends == []  # empty: every backend that applies
    keys = {k for k, _, _ in field_help()}
    assert {"export.variants", "export.parity_max", "bench.questions", "bench.batch_sizes",
            "bench.max_new_tokens", "bench.backends", "bench.timeout_s"} <= keys


def test_eval_section():
    cfg = load_config(None, ["eval.questions=50", "eval.beams=0", "eval.variant=fp32"])
    assert (cfg.eval.questions, cfg.eval.beams, cfg.eval.variant) == (50, 0, "fp32")
    cfg.eval.check()
    assert {"eval.questions", "eval.beams", "eval.variant"} <= {k for k, _, _ in field_help()}
    for override, needle in (("eval.beams=-1", "eval.beams"), ("eval.variant=int4", "eval.variant")):
        with pytest.raises(UserError, match=needle):
            load_config(None, [override]).eval.check()


def test_bench_defaults_are_bounded():
    # the stage's cost grows with questions x batch sizes x max_new_tokens: the defaults stay small
    b = load_config().bench
    assert b.questions <= 32 and b.max_new_tokens <= 64 and max(b.batch_sizes) <= 8
    assert b.timeout_s <= 600


@pytest.mark.parametrize("override, needle", [
    ("export.variants=fp32,int4", "int4"),
    ("export.variants=", "none given"),
    ("export.parity_max=0", "export.parity_max"),
    ("bench.questions=0", "bench.questions"),
    ("bench.batch_sizes=1,x", "bench.batch_sizes"),
    ("bench.batch_sizes=0", "bench.batch_sizes"),
    ("bench.max_new_tokens=0", "bench.max_new_tokens"),
    ("bench.backends=pytorch,tensorflow", "tensorflow"),
    ("bench.timeout_s=0", "bench.timeout_s"),
])
def test_bad_export_and_bench_values(override, needle):
    cfg = load_config(None, [override])
    with pytest.raises(UserError, match=needle):
        cfg.export.check()
        cfg.bench.check()


def test_pipeline_refuses_bad_late_settings_before_running(tmp_path):
    from schemadistill.pipeline import run_pipeline

    cfg = load_config(None, {"schema.path": "examples/ecommerce/schema.sql", "out": str(tmp_path / "run"),
                             "bench.batch_sizes": "0"})
    with pytest.raises(UserError, match="bench.batch_sizes"):
        run_pipeline(cfg)
    assert not (tmp_path / "run").exists()  # nothing ran
