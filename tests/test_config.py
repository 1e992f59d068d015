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
