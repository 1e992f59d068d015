"""ONNX export and quantisation of a tiny trained student: real optimum, real onnxruntime sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from export_support import student_run
from tiny_models import one_thread  # noqa: F401  (autouse: one torch thread)

from export.onnx_export import check_exportable, describe_graph, export_onnx, supported_model_types
from export.quantize import choose_int8, convert_fp16, graph_files, quantize_int8
from schemadistill.errors import UserError


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run = student_run(tmp_path_factory.mktemp("run"))
    out = run / "onnx"
    info = export_onnx(run / "student" / "model", out, log_path=out / "export.log")
    return {"run": run, "out": out, **info}


def _prefill(sess: ort.InferenceSession, io: dict[str, Any], ids: list[int]) -> np.ndarray:
    x = np.asarray([ids], dtype=np.int64)
    feed = {"input_ids": x, "attention_mask": np.ones_like(x), "position_ids": np.arange(len(ids))[None]}
    empty = np.zeros((1, io["num_kv_heads"], 0, io["head_dim"]), dtype=np.float32)
    for i in range(io["num_layers"]):
        feed[io["past_key"].format(i=i)] = feed[io["past_value"].format(i=i)] = empty
    return sess.run(["logits"], feed)[0]


def _ids(exported: dict[str, Any], text: str) -> list[int]:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(exported["run"] / "student" / "model" / "tokenizer.json")).encode(text).ids


def test_fp32_export_records_the_graph_layout(exported: dict[str, Any]) -> None:
    io = exported["io"]
    assert exported["model"].name == "model.onnx" and exported["files"] == [exported["model"]]
    assert exported["opset"] >= 14 and exported["model_type"] == "llama"
    # TINY: 2 layers, 1 KV head, head_dim 32/2, vocab of the tiny tokenizer (400)
    assert (io["num_layers"], io["num_kv_heads"], io["head_dim"], io["vocab_size"]) == (2, 1, 16, 400)
    assert io["inputs"][:3] == ["input_ids", "attention_mask", "position_ids"]
    assert "past_key_values.1.value" in io["inputs"] and "present.0.key" in io["outputs"]
    assert io["input_dtypes"]["past_key_values.0.key"] == "tensor(float)"


def test_export_log_holds_what_optimum_said(exported: dict[str, Any]) -> None:
    log = (exported["out"] / "export.log").read_text(encoding="utf-8")
    assert "optimum ONNX export of" in log and "Validating ONNX model" in log
    assert "TracerWarning" in log  # the tracer's warnings are kept, not printed


def test_capture_logs_keeps_the_console_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import logging
    import warnings

    from export.onnx_export import capture_logs

    with capture_logs(tmp_path / "x.log", "step"):
        logging.getLogger("optimum.exporters").warning("from optimum")
        logging.getLogger().warning("from the root logger")
        warnings.warn("a tracer warning", UserWarning, stacklevel=1)
        print("a print")
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    log = (tmp_path / "x.log").read_text()
    for text in ("== step", "from optimum", "from the root logger", "UserWarning: a tracer warning", "a print"):
        assert text in log


def test_optimum_failure_names_the_architecture_and_keeps_the_log(exported: dict[str, Any], tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import optimum.exporters.onnx as oe

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom: an op without a symbolic")

    monkeypatch.setattr(oe, "onnx_export_from_model", boom)
    with pytest.raises(UserError) as e:
        export_onnx(exported["run"] / "student" / "model", tmp_path / "o", log_path=tmp_path / "x.log")
    msg = str(e.value)
    assert "LlamaForCausalLM" in msg and "could not be exported by optimum (RuntimeError: boom" in msg
    assert str(tmp_path / "x.log") in msg and "boom" in (tmp_path / "x.log").read_text()


def test_logits_match_pytorch(exported: dict[str, Any]) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = exported["run"] / "student" / "model"
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir)).eval()
    ids = tok("Question: How many users are there?\nSQL: SELECT")["input_ids"]
    with torch.no_grad():
        ref = model(torch.tensor([ids])).logits.numpy()
    sess = ort.InferenceSession(str(exported["model"]), providers=["CPUExecutionProvider"])
    got = _prefill(sess, exported["io"], ids)
    assert np.abs(got - ref).max() < 1e-4


def test_int8_and_fp16_variants_load_and_stay_close(exported: dict[str, Any]) -> None:
    src, io = exported["model"], exported["io"]
    int8 = quantize_int8(src, exported["out"] / "model.int8.onnx")
    fp16 = convert_fp16(src, exported["out"] / "model.fp16.onnx")
    assert [p.name for p in int8] == ["model.int8.onnx"] and [p.name for p in fp16] == ["model.fp16.onnx"]
    ids = _ids(exported, "Question: How many users are there?\nSQL: SELECT")
    ref = _prefill(ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]), io, ids)
    got = {}
    for path in (int8[0], fp16[0]):
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        # keep_io_types / dynamic quantisation: the same fp32 and int64 tensors go in and come out
        assert {i.name: i.type for i in sess.get_inputs()} == io["input_dtypes"]
        got[path.name] = _prefill(sess, io, ids)
        assert got[path.name].dtype == np.float32
    assert np.abs(got["model.fp16.onnx"] - ref).max() < 0.05
    assert np.corrcoef(got["model.int8.onnx"].ravel(), ref.ravel())[0, 1] > 0.98  # 8-bit weights: close, not equal
    assert describe_graph(int8[0])["num_layers"] == 2
    # int8 holds MatMul weights as 8-bit integers (the tiny model is mostly embedding, so the
    # file is not smaller; bigger presets shrink ~3x)
    import onnx

    m = onnx.load(str(int8[0]))
    assert any(init.data_type == onnx.TensorProto.INT8 for init in m.graph.initializer)


def test_choose_int8_keeps_the_scales_closer_to_fp32(exported: dict[str, Any]) -> None:
    dst = exported["out"] / "chosen" / "model.int8.onnx"
    dst.parent.mkdir()
    seqs = [_ids(exported, "Question: How many users are there?\nSQL: SELECT COUNT(*) FROM ecommerce.users;"),
            _ids(exported, "Question: List the distinct browsers.\nSQL: SELECT DISTINCT browser")]
    rec = choose_int8(exported["model"], dst, seqs, exported["io"])
    assert graph_files(dst) == [dst] and sorted(p.name for p in dst.parent.iterdir()) == ["model.int8.onnx"]
    assert rec["top1_agreement"] == max(rec["top1_agreement_per_channel"], rec["top1_agreement_per_tensor"])
    assert rec["positions"] == sum(map(len, seqs)) and rec["top1_agreement"] > 0.8


def test_unsupported_architecture_is_a_clear_error(tmp_path: Path) -> None:
    from transformers import BertConfig, MambaConfig

    mamba = tmp_path / "mamba"
    MambaConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, state_size=4,
                architectures=["MambaForCausalLM"]).save_pretrained(str(mamba))
    with pytest.raises(UserError) as e:
        export_onnx(mamba, tmp_path / "out")  # refused from config.json alone, before any weight
    msg = str(e.value)
    assert "MambaForCausalLM" in msg and "'mamba'" in msg and "not supported by optimum" in msg
    assert "student.name=scratch" in msg
    # known to optimum, but not as a text generator with a KV cache
    with pytest.raises(UserError, match="model_type 'bert'"):
        check_exportable(BertConfig(), tmp_path)
    assert {"llama", "qwen2"} <= set(supported_model_types())


def test_missing_student_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no usable model config"):
        export_onnx(tmp_path / "nothing", tmp_path / "out")


def test_large_model_path_writes_external_data(exported: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Graphs over protobuf's 2 GB keep their weights in a data file next to them; the tiny graph
    takes the same path when the threshold is zero."""
    from export import quantize

    monkeypatch.setattr(quantize, "EXTERNAL_DATA_BYTES", 0)
    out = exported["out"] / "large"
    out.mkdir()
    int8 = quantize_int8(exported["model"], out / "model.int8.onnx")
    fp16 = convert_fp16(exported["model"], out / "model.fp16.onnx")
    assert [p.name for p in int8] == ["model.int8.onnx", "model.int8.onnx.data"]
    assert [p.name for p in fp16] == ["model.fp16.onnx", "model.fp16.onnx.data"]
    for files in (int8, fp16):
        assert files[1].stat().st_size > 50_000  # the larger weights moved out (tiny ones stay inline)
        assert describe_graph(files[0])["vocab_size"] == 400
