"""The export stage as the pipeline and the CLI run it; a chat (Qwen2 + ChatML) student end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from export_support import chat_run
from tiny_models import ROOT, one_thread  # noqa: F401  (one_thread: autouse)

from export import parity
from export.build import export_run, parse_variants
from schemadistill.errors import UserError


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run = chat_run(tmp_path_factory.mktemp("run"))
    figs = export_run(run, variants=("fp32",))
    return {"run": run, "artifact": Path(figs["artifact"]), "figures": figs}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "schemadistill.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_chat_student_passes_the_gate(chat: dict[str, Any]) -> None:
    gen = json.loads((chat["artifact"] / "generation.json").read_text())
    assert gen["chat"] and not gen["add_special_tokens"]
    assert gen["chat_prefix"] == "<|im_start|>user\n" and gen["chat_suffix"] == "<|im_end|>\n<|im_start|>assistant\n"
    m = json.loads((chat["artifact"] / "manifest.json").read_text())
    assert m["source"]["model_type"] == "qwen2" and m["io"]["num_layers"] == 2
    assert gen["eos_token_id"] in gen["stop_token_ids"]
    p = m["parity"]["variants"]["fp32"]
    assert p["passed"] and p["identical"] == m["parity"]["n"] == 2  # random weights, long outputs: same tokens


def test_pipeline_runs_export_after_student(chat: dict[str, Any]) -> None:
    from schemadistill.config import RunConfig
    from schemadistill.pipeline import PLANNED, STAGES

    names = [s.name for s in STAGES]
    assert names.index("export") == names.index("student") + 1
    assert "export" not in [n for n, _ in PLANNED]
    stage = STAGES[names.index("export")]
    inputs = stage.inputs(RunConfig(), chat["run"])
    assert inputs["model"] and inputs["variants"] == ["fp32", "int8", "fp16"] and inputs["parity_max"] == 200


def test_cli_export(chat: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "art"
    r = cli("export", str(chat["run"]), "--out", str(out), "--variants", "fp32", "--skip-parity")
    assert r.returncode == 0, r.stderr
    figs = json.loads(r.stdout.strip().splitlines()[-1])
    assert figs["artifact"] == str(out) and figs["parity"] == "skipped" and (out / "model.onnx").is_file()
    assert "parity gate: skipped" in r.stderr
    # the settings can come from the config like every other stage's
    out2 = tmp_path / "art2"
    r = cli("export", str(chat["run"]), "--out", str(out2), "--set", "export.variants=fp32", "--skip-parity")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["variants"] == "fp32"
    r = cli("export", str(chat["run"]), "--set", "export.variants=fp64")
    assert r.returncode == 2 and "unknown variant" in " ".join(r.stderr.split())
    r = cli("export", str(tmp_path))
    err = " ".join(r.stderr.split())  # rich wraps the message at the terminal width
    assert r.returncode == 2 and "no trained student to export" in err and "Traceback" not in err


def test_cli_exits_non_zero_when_the_gate_fails(chat: dict[str, Any], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from schemadistill import cli as cli_module

    monkeypatch.setattr(parity, "onnx_predictions", lambda *a, **k: ["SELECT 1;"] * len(a[2]))
    monkeypatch.setattr(sys, "argv", ["schemadistill", "export", str(chat["run"]), "--out", str(tmp_path / "a"),
                                      "--variants", "fp32"])
    with pytest.raises(SystemExit) as e:
        cli_module.main()
    assert e.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "failed the parity gate" in err and "fp32 wrote different SQL" in err and "first difference" in err
    assert not (tmp_path / "a").exists() and (tmp_path / "a.rejected").is_dir()


def test_bad_requests_are_user_errors(chat: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown variant"):
        parse_variants("fp32,int4")
    assert parse_variants("int8, fp32,int8") == ["int8", "fp32"]
    # a student trained for another schema than the run's
    cfg_path = chat["run"] / "student" / "model" / "student_config.json"
    saved = cfg_path.read_text()
    cfg = json.loads(saved)
    cfg["schema_fingerprint"] = "sha256:0000000000000000"
    cfg_path.write_text(json.dumps(cfg))
    try:
        with pytest.raises(UserError, match="trained for schema sha256:0000000000000000"):
            export_run(chat["run"], tmp_path / "x", skip_parity=True)
    finally:
        cfg_path.write_text(saved)
