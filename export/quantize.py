"""Quantised variants of the fp32 graph: int8 for CPU, fp16 for GPU; each a file of its own.

    schemadistill export runs/ecommerce --variants fp32,int8,fp16   # the stage runs these

    from export.quantize import quantize_int8, convert_fp16
    quantize_int8(Path("onnx/model.onnx"), Path("onnx/model.int8.onnx"))
    convert_fp16(Path("onnx/model.onnx"), Path("onnx/model.fp16.onnx"))

int8: ``onnxruntime.quantization.quantize_dynamic`` on the MatMul weights only. Per output
channel (a scale per weight column) or one scale per tensor: :func:`choose_int8` makes both and
keeps the one whose next-token argmax agrees more often with fp32 on held-out prompt + SQL
sequences (ties: per channel). Neither wins everywhere: on a trained 31k-parameter Llama
(hidden 32) per-tensor agreed on 98.8% of positions and per-channel on 97.2%; on the xs preset
(2.9M parameters) per-channel 99.7% and per-tensor 98.2% (AVX2 CPU without VNNI, where u8s8
products can saturate, which hurts the wider per-channel ranges). ``MatMulConstBOnly`` keeps the attention
products of two activations (Q·Kᵀ, P·V) in fp32: quantising them would quantise the KV cache on
the fly at every step. Embedding lookups (Gather) stay fp32 too: they cost no compute, and
tied embeddings are also the output projection, where int8 rows flip the argmax of close logits.
Activations are quantised per call (dynamic), so no calibration data is needed.

fp16: ``onnxruntime.transformers.float16.convert_float_to_float16`` (onnxconverter-common is not
installed) with ``keep_io_types=True``: inputs, logits and KV cache stay fp32 at the graph's
edge, casts sit inside, so the runtime feeds the same tensors to every variant.

Graphs over ~2 GB are written with their weights in one external ``<file>.data`` (protobuf's
limit; optimum names its own ``model.onnx_data``); the returned lists name every file the
artifact must carry.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemadistill.errors import UserError

# protobuf refuses messages of 2 GiB; leave room for the graph itself.
EXTERNAL_DATA_BYTES = 1_800_000_000


def graph_bytes(path: Path) -> int:
    """The graph file plus its external data files (what has to fit in memory and on disk)."""
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def graph_files(graph: Path) -> list[Path]:
    """The graph file and its external data files (``NAME.data``, optimum's ``NAME_data``)."""
    return [graph] + sorted(p for p in graph.parent.glob(graph.name + "*") if p.is_file() and p != graph)


def _clear(dst: Path) -> None:
    for p in graph_files(dst):
        p.unlink(missing_ok=True)


def quantize_int8(src: Path, dst: Path, *, per_channel: bool = True, reduce_range: bool = False) -> list[Path]:
    """int8 dynamic quantisation of the MatMul weights of ``src`` into ``dst``; returns the files written.

    ``reduce_range`` (7-bit weights) avoids the u8s8 overflow of AVX2 CPUs without VNNI; off by
    default because it costs accuracy on every other CPU, and the parity gate catches the rare
    model that needs it.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    _clear(dst)
    large = graph_bytes(src) > EXTERNAL_DATA_BYTES
    try:
        quantize_dynamic(str(src), str(dst), op_types_to_quantize=["MatMul"], per_channel=per_channel,
                         reduce_range=reduce_range, weight_type=QuantType.QInt8,
                         use_external_data_format=large,
                         extra_options={"MatMulConstBOnly": True, "DefaultTensorType": 1})
    except Exception as e:  # the quantiser raises bare Exceptions/ValueErrors on graphs it cannot read
        raise UserError(f"int8 quantisation failed: {type(e).__name__}: {str(e)[:300]}", file=src,
                        hint="export without it: schemadistill export RUN_DIR --variants fp32,fp16") from None
    return graph_files(dst)


def top1_agreement(reference: Path, candidate: Path, sequences: Sequence[Sequence[int]],
                   io: dict[str, Any]) -> float:
    """Share of positions where both graphs' argmax agree, teacher-forced over ``sequences``."""
    import numpy as np
    import onnxruntime as ort

    def logits(path: Path) -> list[Any]:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        empty = np.zeros((1, io["num_kv_heads"], 0, io["head_dim"]), dtype=np.float32)
        out = []
        for seq in sequences:
            ids = np.asarray([seq], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            if io.get("has_position_ids"):
                feed["position_ids"] = np.arange(ids.shape[1], dtype=np.int64)[None]
            for i in range(io["num_layers"]):
                feed[io["past_key"].format(i=i)] = feed[io["past_value"].format(i=i)] = empty
            out.append(sess.run(["logits"], feed)[0][0].argmax(-1))
        return out

    ref, got = logits(reference), logits(candidate)
    agree = sum(int((a == b).sum()) for a, b in zip(ref, got, strict=True))
    return agree / max(1, sum(len(a) for a in ref))


def choose_int8(src: Path, dst: Path, sequences: Sequence[Sequence[int]], io: dict[str, Any]) -> dict[str, Any]:
    """Quantise per channel and per tensor, keep the one closer to fp32 (see the module docstring).

    Without ``sequences`` it is per channel, unmeasured. Returns what was chosen and the figures.
    """
    if not sequences:
        quantize_int8(src, dst, per_channel=True)
        return {"per_channel": True, "top1_agreement": None}
    # each candidate in a folder of its own under the final name: a graph refers to its external
    # data file by name, so the chosen one can be moved into place without rewriting it
    cands = {pc: dst.parent / f".int8-{'channel' if pc else 'tensor'}" / dst.name for pc in (True, False)}
    try:
        agreement = {}
        for pc, path in cands.items():
            shutil.rmtree(path.parent, ignore_errors=True)
            path.parent.mkdir(parents=True)
            quantize_int8(src, path, per_channel=pc)
            agreement[pc] = top1_agreement(src, path, sequences, io)
        per_channel = agreement[True] >= agreement[False]
        _clear(dst)
        for p in graph_files(cands[per_channel]):
            shutil.move(str(p), dst.parent / p.name)
    finally:
        for path in cands.values():
            shutil.rmtree(path.parent, ignore_errors=True)
    a_channel, a_tensor = agreement[True], agreement[False]
    return {"per_channel": per_channel, "top1_agreement": round(max(a_channel, a_tensor), 4),
            "top1_agreement_per_channel": round(a_channel, 4), "top1_agreement_per_tensor": round(a_tensor, 4),
            "positions": sum(len(s) for s in sequences)}


def convert_fp16(src: Path, dst: Path) -> list[Path]:
    """fp16 weights and compute with fp32 inputs/outputs; returns the files written."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    _clear(dst)
    large = graph_bytes(src) > EXTERNAL_DATA_BYTES
    model = onnx.load(str(src), load_external_data=True)
    try:
        # onnx shape inference cannot take a > 2 GB proto in memory; optimum's graph is typed already
        half = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=large)
    except Exception as e:
        raise UserError(f"fp16 conversion failed: {type(e).__name__}: {str(e)[:300]}", file=src,
                        hint="export without it: schemadistill export RUN_DIR --variants fp32,int8") from None
    del model
    if large or half.ByteSize() > EXTERNAL_DATA_BYTES:
        onnx.save_model(half, str(dst), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=dst.name + ".data", size_threshold=1024)
    else:
        onnx.save_model(half, str(dst))
    return graph_files(dst)
