"""The parity gate: identical fp32 SQL, int8/fp16 accuracy within a point, broken variants caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from export_support import TRAIN_QUESTIONS, student_run
from tiny_models import one_thread, tiny_schema  # noqa: F401  (one_thread: autouse)

from export import parity
from export.build import export_run
from export.parity import (
    NOT_CHECKED_FP16,
    ExportGateError,
    check_parity,
    judge,
    parity_rows,
    sign_test,
    torch_predictions,
)
from schemadistill.io import atomic_write_jsonl
from schemadistill.sandbox import Executor


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A run whose held-out questions are the memorised training questions: PyTorch scores 100%,
    so a variant that loses answers shows as an accuracy drop."""
    run = student_run(tmp_path_factory.mktemp("run"))
    atomic_write_jsonl(run / "curriculum" / "heldout_iid.jsonl", TRAIN_QUESTIONS[:6])
    atomic_write_jsonl(run / "curriculum" / "heldout_family.jsonl", TRAIN_QUESTIONS[6:])
    figs = export_run(run, variants=("fp32", "int8", "fp16"), fp16_on_cpu=True)
    rows = parity_rows(run, 200)
    ref = torch_predictions(run / "student" / "model", [r["question"] for r in rows], 48)
    return {"run": run, "artifact": Path(figs["artifact"]), "figures": figs, "rows": rows, "ref": ref}


def test_gate_passes_and_fp32_is_identical(gated: dict[str, Any]) -> None:
    m = json.loads((gated["artifact"] / "manifest.json").read_text())
    p = m["parity"]
    assert p["passed"] and p["n"] == len(TRAIN_QUESTIONS)
    assert p["pytorch"]["execution_accuracy"] == 1.0  # memorised: a real bar for int8/fp16
    assert p["variants"]["fp32"]["identical"] == p["n"] and p["variants"]["fp32"]["first_difference"] is None
    for v in ("int8", "fp16"):
        assert p["variants"][v]["checked"] and p["variants"][v]["passed"]
        assert p["variants"][v]["execution_accuracy"] >= 0.99
    assert p["variants"]["fp16"]["note"] == "fp16 checked on CPU kernels"
    assert json.loads((gated["run"] / "export" / "parity.json").read_text()) == p
    figs = gated["figures"]
    assert figs["fp32_parity"] == figs["int8_parity"] == figs["fp16_parity"] == "pass"


def test_fp16_is_not_checked_without_cuda(gated: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parity, "available_providers", lambda: ["CPUExecutionProvider"])
    with Executor(gated["run"] / "sandbox" / "sandbox.duckdb") as ex:
        report = check_parity(gated["artifact"], gated["rows"], gated["ref"], ex, tiny_schema(), ["fp16"], 48)
    assert report["passed"] and report["variants"]["fp16"] == {"checked": False, "note": NOT_CHECKED_FP16}


def _perturb(path: Path, pick: Any) -> None:
    """Rewrite the initializers ``pick`` selects with the onnx API (same sizes: a plausible file)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    rng = np.random.default_rng(0)
    for init in model.graph.initializer:
        if pick(init):
            arr = numpy_helper.to_array(init)
            init.CopyFrom(numpy_helper.from_array(rng.permutation(arr.reshape(-1)).reshape(arr.shape), init.name))
    onnx.save(model, str(path))


def _refresh_sizes(artifact: Path) -> None:
    m = json.loads((artifact / "manifest.json").read_text())
    m["files"] = {name: (artifact / name).stat().st_size for name in m["files"]}
    (artifact / "manifest.json").write_text(json.dumps(m))


def test_broken_int8_fails_with_its_first_difference(gated: dict[str, Any], tmp_path: Path) -> None:
    import onnx

    art = Path(shutil.copytree(gated["artifact"], tmp_path / "artifact"))
    _perturb(art / "model.int8.onnx", lambda i: i.data_type == onnx.TensorProto.INT8)  # scrambled weights
    _refresh_sizes(art)
    with Executor(gated["run"] / "sandbox" / "sandbox.duckdb") as ex, pytest.raises(ExportGateError) as e:
        check_parity(art, gated["rows"], gated["ref"], ex, tiny_schema(), ["fp32", "int8"], 48)
    msg = str(e.value)
    assert "failed the parity gate" in msg and "int8 execution accuracy" in msg and "below PyTorch's 100.0%" in msg
    assert "first difference: question" in msg and "PyTorch wrote 'SELECT" in msg
    assert "fp32" not in e.value.failures[0]  # only the broken variant is named
    assert e.value.report is not None and e.value.report["variants"]["fp32"]["passed"]
    assert not e.value.report["variants"]["int8"]["passed"]


def test_fp32_that_differs_at_all_fails(gated: dict[str, Any], tmp_path: Path) -> None:
    art = Path(shutil.copytree(gated["artifact"], tmp_path / "artifact"))
    _perturb(art / "model.onnx", lambda i: "embed_tokens" in i.name)  # another model's embedding, in effect
    _refresh_sizes(art)
    with Executor(gated["run"] / "sandbox" / "sandbox.duckdb") as ex, pytest.raises(ExportGateError) as e:
        check_parity(art, gated["rows"], gated["ref"], ex, tiny_schema(), ["fp32"], 48)
    assert e.value.failures[0].startswith("fp32 wrote different SQL than PyTorch for ")
    assert "first difference: question" in e.value.failures[0]


def test_failed_gate_keeps_the_installed_artifact(gated: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    run, art = gated["run"], gated["artifact"]
    before = (art / "manifest.json").read_text()
    real = parity.onnx_predictions

    def off_by_one(artifact_dir: Path, variant: str, questions: Any, n: int, provider: Any = None) -> list[str]:
        out = real(artifact_dir, variant, questions, n, provider)
        return [out[0].replace("SELECT", "SELECT DISTINCT", 1), *out[1:]]

    monkeypatch.setattr(parity, "onnx_predictions", off_by_one)
    with pytest.raises(ExportGateError, match=r"fp32 wrote different SQL than PyTorch for 1 of 10 questions"):
        export_run(run, variants=("fp32",))
    assert (art / "manifest.json").read_text() == before  # untouched
    rejected = art.parent / "artifact.rejected"
    assert (rejected / "model.onnx").is_file() and not list(art.parent.glob(".artifact.tmp*"))
    assert json.loads((run / "export" / "parity.json").read_text())["passed"] is False
    shutil.rmtree(rejected)


def test_judge() -> None:
    qs = ["a?", "b?"]
    assert judge("fp32", ["X;", "Y;"], ["X;", "Y;"], qs, 1.0, 1.0) is None
    assert "for 1 of 2 questions; first difference: question 'b?'" in judge("fp32", ["X;", "Y;"], ["X;", "Z;"], qs,
                                                                            1.0, 1.0)
    # int8/fp16: different text is fine while accuracy holds; better is no failure
    assert judge("int8", ["X;", "Y;"], ["X2;", "Y;"], qs, 0.50, 0.495) is None
    assert judge("fp16", ["X;", "Y;"], ["X;", "Y;"], qs, 0.50, 0.80) is None
    why = judge("int8", ["X;", "Y;"], ["X;", "Z;"], qs, 0.50, 0.45)
    assert why is not None and "5.0 points below PyTorch's 50.0% (allowed: 1)" in why and "'Z;'" in why
    # with the answers that changed correctness known, a fall must also be more than noise
    assert judge("int8", ["X;", "Y;"], ["X;", "Z;"], qs, 0.445, 0.43, lost=5, gained=2) is None
    why = judge("int8", ["X;", "Y;"], ["X;", "Z;"], qs, 0.445, 0.30, lost=31, gained=2)
    assert why is not None and "lost 31 right answers and won 2" in why


def test_sign_test() -> None:
    assert sign_test(0, 0) == 1.0
    assert sign_test(5, 2) == pytest.approx(29 / 128)  # the 1.5-point fall of a real run: noise
    assert sign_test(6, 0) == pytest.approx(1 / 64)
    assert sign_test(0, 6) == 1.0
