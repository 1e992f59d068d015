"""The artifact folder: layout, completeness and tokenizer checks at load, schema drift."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from export_support import student_run
from tiny_models import ROOT, one_thread, tiny_schema  # noqa: F401  (one_thread: autouse)

from export.artifact import ArtifactInfo, check_fingerprint, load_artifact, schema_differences
from export.build import export_run
from schemadistill.errors import UserError
from schemadistill.schema.model import Column, Table


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run = student_run(tmp_path_factory.mktemp("run"))
    figs = export_run(run, variants=("fp32", "int8"), skip_parity=True)
    return {"run": run, "artifact": Path(figs["artifact"]), "figures": figs}


@pytest.fixture
def copy(built: dict[str, Any], tmp_path: Path) -> Path:
    """A private copy to break."""
    return Path(shutil.copytree(built["artifact"], tmp_path / "artifact"))


def test_layout_and_manifest(built: dict[str, Any]) -> None:
    art = built["artifact"]
    assert art == built["run"] / "export" / "artifact"
    names = sorted(p.name for p in art.iterdir())
    assert names == ["export.log", "generation.json", "manifest.json", "model.int8.onnx", "model.onnx",
                     "neighbors.json", "prompt.j2", "schema.json", "tokenizer.json", "values.json"]
    assert not list(art.parent.glob(".artifact*"))  # the staging folder was renamed, not left behind
    m = json.loads((art / "manifest.json").read_text())
    assert m["packages"]["optimum"] and m["packages"]["onnxruntime"] and m["opset"] >= 14
    assert m["variants"]["int8"]["providers"] == ["CPUExecutionProvider"]
    assert set(m["variants"]["fp32"]["providers"]) == {"CPUExecutionProvider", "CUDAExecutionProvider"}
    assert m["files"]["model.onnx"] == (art / "model.onnx").stat().st_size
    assert m["files"]["values.json"] == (art / "values.json").stat().st_size  # checked like every file
    assert m["files"]["neighbors.json"] == (art / "neighbors.json").stat().st_size
    assert m["eval"]["heldout_iid"]["execution_accuracy"] == 1.0  # from student/eval_phase3.json
    assert m["parity"] == {"skipped": True}
    assert m["schema"]["fingerprint"] == tiny_schema().fingerprint
    gen = json.loads((art / "generation.json").read_text())
    assert gen["stop"] == ";" and gen["eos_token_id"] in gen["stop_token_ids"] and gen["add_special_tokens"]
    assert gen["max_new_tokens"] == 48 and gen["prompt_mode"] == "none" and not gen["chat"]
    assert "Question: {{ question }}" in (art / "prompt.j2").read_text()
    assert built["figures"]["parity"] == "skipped" and built["figures"]["int8_mb"] > 0


def test_neighbors_hold_the_training_pairs_and_no_held_out_question(built: dict[str, Any]) -> None:
    """neighbors.json: every distinct training pair of the curriculum's train files (repairs
    aside), never a held-out question (the runtime must not answer a test by finding it)."""
    from schemadistill.io import read_jsonl
    from schemadistill.neighbors import load_neighbors

    run = built["run"]
    index = load_neighbors(built["artifact"] / "neighbors.json")
    trained = {(r["question"], r["sql"]) for k in (1, 2, 3)
               for r in read_jsonl(run / "curriculum" / f"train_phase{k}.jsonl") if r["kind"] == "generate"}
    shipped = {(q, index.sqls[i]) for q, i in zip(index.questions, index.sql_of, strict=True)}
    assert shipped == trained and len(index) == len(trained)
    held_out = {r["question"] for s in ("heldout_iid", "heldout_family")
                for r in read_jsonl(run / "curriculum" / f"{s}.jsonl")}
    assert held_out and not held_out & set(index.questions)
    assert load_artifact(built["artifact"]).neighbors_path == built["artifact"] / "neighbors.json"


def test_load_artifact(built: dict[str, Any]) -> None:
    info = load_artifact(built["artifact"])
    assert isinstance(info, ArtifactInfo)
    assert info.fingerprint == tiny_schema().fingerprint and info.dialect == "duckdb"
    assert set(info.variants) == {"fp32", "int8"} and info.model_path("int8").name == "model.int8.onnx"
    assert info.io["num_layers"] == 2 and info.io["max_positions"] == 512
    assert info.default_variant(["CPUExecutionProvider"]) == "int8"
    assert info.default_variant(["CUDAExecutionProvider", "CPUExecutionProvider"]) == "fp32"  # no fp16 here
    with pytest.raises(UserError, match="no fp16 variant"):
        info.model_path("fp16")


def test_missing_file_is_named(copy: Path) -> None:
    (copy / "tokenizer.json").unlink()
    with pytest.raises(UserError, match=r"incomplete artifact: missing tokenizer\.json"):
        load_artifact(copy)


def test_missing_variant_and_partial_file_are_named(copy: Path) -> None:
    data = (copy / "model.int8.onnx").read_bytes()
    (copy / "model.int8.onnx").write_bytes(data[: len(data) // 2])  # an interrupted copy
    with pytest.raises(UserError, match=r"model\.int8\.onnx has \d+ bytes, the manifest recorded \d+"):
        load_artifact(copy)
    (copy / "model.int8.onnx").unlink()
    with pytest.raises(UserError, match=r"missing model\.int8\.onnx"):
        load_artifact(copy)
    with pytest.raises(UserError, match="artifact folder not found"):
        load_artifact(copy / "nope")


def _replace_tokenizer(artifact: Path, tok: Any) -> None:
    """Swap in another tokenizer and refresh its recorded size (else the size check fires first)."""
    tok.save(str(artifact / "tokenizer.json"))
    m = json.loads((artifact / "manifest.json").read_text())
    m["files"]["tokenizer.json"] = (artifact / "tokenizer.json").stat().st_size
    (artifact / "manifest.json").write_text(json.dumps(m))


def test_tokenizer_model_mismatch_is_caught_at_load(copy: Path) -> None:
    from tokenizers import Tokenizer

    bigger = Tokenizer.from_file(str(copy / "tokenizer.json"))
    bigger.add_tokens([f"<extra_{i}>" for i in range(12)])  # ids 400..411: past the embedding's rows
    _replace_tokenizer(copy, bigger)
    with pytest.raises(UserError, match=r"tokenizer/model mismatch: the tokenizer has 412 tokens but the "
                                        r"graph's embedding has 400 rows"):
        load_artifact(copy)
    # fewer ids than rows is allowed (padded embeddings), yet this is not the exported tokenizer
    tok = json.loads((copy / "tokenizer.json").read_text())
    tok["added_tokens"] = [t for t in tok["added_tokens"] if not t["content"].startswith("<extra_")]
    tok["model"]["vocab"] = {k: v for k, v in tok["model"]["vocab"].items() if v < 390}
    tok["model"]["merges"] = []
    _replace_tokenizer(copy, Tokenizer.from_str(json.dumps(tok)))
    with pytest.raises(UserError, match="not the tokenizer this model was exported with"):
        load_artifact(copy)


def test_fingerprint_differences_name_the_change(built: dict[str, Any]) -> None:
    info = load_artifact(built["artifact"])
    assert check_fingerprint(info, tiny_schema()) == []
    live = tiny_schema()
    users = live.table("ecommerce.users")
    assert users is not None
    users.column("age").type = "text"  # type: ignore[union-attr]
    users.columns = [c for c in users.columns if c.name != "country"]
    users.columns.append(Column("email", "text"))
    live.tables.append(Table("coupons", "ecommerce", [Column("code", "text")]))
    with pytest.warns(UserWarning, match="the artifact was trained for schema sha256:"):
        diffs = check_fingerprint(info, live)
    assert "column ecommerce.users.age type changed: integer -> text" in diffs
    assert "column ecommerce.users.country removed" in diffs
    assert "column ecommerce.users.email added (text)" in diffs
    assert "table ecommerce.coupons added" in diffs
    assert schema_differences(live, tiny_schema())[0] == "table ecommerce.coupons removed"
    # a path works as well as a loaded artifact, and a dict as well as a Schema
    with pytest.warns(UserWarning):
        assert check_fingerprint(built["artifact"], live.to_dict()) == diffs


def test_artifact_module_needs_neither_torch_nor_transformers(built: dict[str, Any]) -> None:
    code = textwrap.dedent(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "transformers", "optimum"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        from export.artifact import load_artifact, check_fingerprint
        info = load_artifact({str(built["artifact"])!r})
        assert check_fingerprint(info, info.schema) == []
        print(info.io["num_layers"])
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "2"
