"""Export a trained student (a merged Hugging Face causal LM) to ONNX with a KV cache, in fp32.

    schemadistill export runs/ecommerce          # the whole stage (export/build.py)

    from export.onnx_export import export_onnx
    info = export_onnx(Path("runs/ecommerce/student/model"), Path("/tmp/onnx"), log_path=Path("/tmp/export.log"))
    info["files"], info["opset"], info["io"]["num_layers"]

optimum's ``onnx_export_from_model`` with task ``text-generation-with-past`` writes one graph
(``model.onnx``, plus ``model.onnx_data`` for models over 2 GB) taking ``input_ids``,
``attention_mask``, ``position_ids`` and ``past_key_values.{i}.key|value`` and returning
``logits`` and ``present.{i}.key|value``. The model is loaded in fp32 whatever dtype it was
saved in (a LoRA student merged on a GPU is bf16), so the reference graph is full precision and
the quantised variants derive from it. Everything optimum, transformers and the tracer log or
warn goes to ``export.log`` rather than the console. The graph is then opened in an
onnxruntime session and its inputs/outputs are recorded (see ``export.artifact``), so the
runtime needs no transformers config.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from schemadistill.errors import UserError

TASK = "text-generation-with-past"
# Library loggers (some have their own stderr handler and propagate=False) whose records go to the
# export log instead while an export runs, at the level worth keeping: optimum's INFO lines are
# the export's own account (validation figures, tied weights); transformers' INFO is config
# dumps. The root logger catches the rest (onnxruntime's quantiser logs through it).
_LIBRARY_LOGGERS = {"optimum": logging.INFO, "transformers": logging.WARNING, "torch.onnx": logging.WARNING,
                    "onnxruntime": logging.INFO, "onnx": logging.WARNING}
PAST_KEY, PAST_VALUE = "past_key_values.{i}.key", "past_key_values.{i}.value"
PRESENT_KEY, PRESENT_VALUE = "present.{i}.key", "present.{i}.value"


@contextlib.contextmanager
def capture_logs(log_path: Path, title: str) -> Iterator[None]:
    """Send logging, warnings and Python-level prints of the block to ``log_path`` (appended)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    stream = handler.stream  # our own lines (headers, warnings, prints) go in between the records
    assert stream is not None
    saved: list[tuple[logging.Logger, list[logging.Handler], int, bool]] = []
    for name, level in _LIBRARY_LOGGERS.items():
        lg = logging.getLogger(name)
        saved.append((lg, list(lg.handlers), lg.level, lg.propagate))
        lg.handlers = [handler]
        lg.setLevel(level)
        lg.propagate = False
    root = logging.getLogger()
    root.addHandler(handler)  # with a handler present, logging.warning() no longer calls basicConfig
    printed = io.StringIO()
    t0 = time.perf_counter()
    stream.write(f"== {title} ({time.strftime('%Y-%m-%d %H:%M:%S')})\n")
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed), \
                contextlib.redirect_stderr(printed):
            warnings.simplefilter("always")
            try:
                yield
            finally:
                for w in caught:
                    stream.write(f"WARNING {w.category.__name__}: {w.message} "
                                         f"({Path(w.filename).name}:{w.lineno})\n")
                if printed.getvalue().strip():
                    stream.write(printed.getvalue().rstrip() + "\n")
                stream.write(f"== {title}: {time.perf_counter() - t0:.2f}s\n")
    finally:
        root.removeHandler(handler)
        for lg, handlers, level, propagate in saved:
            lg.handlers, lg.level, lg.propagate = handlers, level, propagate
        handler.close()


def supported_model_types() -> list[str]:
    """Model types optimum can export for ``text-generation-with-past``."""
    import optimum.exporters.onnx.model_configs  # noqa: F401  (registers the ONNX configs)
    from optimum.exporters.tasks import TasksManager

    out = []
    for model_type in TasksManager._SUPPORTED_MODEL_TYPE:
        with contextlib.suppress(KeyError):
            if TASK in TasksManager.get_supported_tasks_for_model_type(model_type, "onnx",
                                                                      library_name="transformers"):
                out.append(model_type)
    return sorted(out)


def _unsupported(config: Any, model_dir: Path, why: str) -> UserError:
    arch = ", ".join(getattr(config, "architectures", None) or []) or type(config).__name__
    examples = [t for t in ("llama", "qwen2", "qwen3", "mistral", "gemma", "phi3", "smollm3")
                if t in supported_model_types()]
    return UserError(
        f"cannot export the student to ONNX: its architecture {arch} (model_type '{config.model_type}') {why}",
        file=model_dir,
        hint=f"train the student with an architecture optimum exports with a KV cache, e.g. "
             f"student.name=scratch (Llama) or a pretrained {'/'.join(examples)} model; the full list: "
             f"python -c 'from export.onnx_export import supported_model_types as s; print(s())'")


def check_exportable(config: Any, model_dir: Path) -> None:
    """Refuse, before loading any weight, a model optimum has no ONNX decoder config for."""
    if getattr(config, "is_encoder_decoder", False):
        raise _unsupported(config, model_dir, "is an encoder-decoder; the student must be a decoder-only LM")
    if config.model_type not in supported_model_types():
        raise _unsupported(config, model_dir,
                           f"is not supported by optimum's ONNX exporter for {TASK}")


def describe_graph(onnx_path: Path, config: Any | None = None) -> dict[str, Any]:
    """Open the graph in onnxruntime (it must load) and describe its I/O for the runtime."""
    import onnxruntime as ort

    try:
        sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
        raise UserError(f"the exported graph does not load in onnxruntime: {e}", file=onnx_path,
                        hint="see export.log next to the artifact; report the model architecture") from None
    inputs = {i.name: i for i in sess.get_inputs()}
    outputs = {o.name: o for o in sess.get_outputs()}
    layers = 0
    while PAST_KEY.format(i=layers) in inputs:
        layers += 1
    if not layers or "logits" not in outputs or "input_ids" not in inputs:
        raise UserError(f"the exported graph has no KV-cache inputs or no logits (inputs: {list(inputs)})",
                        file=onnx_path, hint=f"export with task {TASK}")
    kv_shape = inputs[PAST_KEY.format(i=0)].shape  # [batch, kv_heads, past_len, head_dim]

    def dim(value: Any, attr: str) -> int:
        if isinstance(value, int):
            return value
        known = getattr(config, attr, None) if config is not None else None
        if attr == "head_dim" and not known and config is not None:
            known = config.hidden_size // config.num_attention_heads
        if known:
            return int(known)
        raise UserError(f"cannot read {attr} from the graph's KV-cache shape {kv_shape}", file=onnx_path)

    return {
        "inputs": list(inputs), "outputs": list(outputs),
        "input_dtypes": {n: i.type for n, i in inputs.items()},
        "output_dtypes": {n: o.type for n, o in outputs.items()},
        "past_key": PAST_KEY, "past_value": PAST_VALUE, "present_key": PRESENT_KEY, "present_value": PRESENT_VALUE,
        "num_layers": layers,
        "num_kv_heads": dim(kv_shape[1], "num_key_value_heads"),
        "head_dim": dim(kv_shape[3], "head_dim"),
        "vocab_size": dim(outputs["logits"].shape[2], "vocab_size"),
        "has_position_ids": "position_ids" in inputs,
        "kv_dtype": "float32",
    }


def graph_opset(onnx_path: Path) -> int:
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    return max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def export_onnx(model_dir: Path, out_dir: Path, *, opset: int | None = None,
                log_path: Path | None = None) -> dict[str, Any]:
    """Export ``model_dir`` into ``out_dir``; returns ``{"model": path, "files", "opset", "io", "model_type"}``.

    ``files`` are the graph and its external data, if any (what the artifact must carry).
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    log_path = log_path or out_dir / "export.log"
    try:
        config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    except (OSError, ValueError) as e:
        raise UserError(f"no usable model config in the student folder: {e}", file=model_dir,
                        hint="train the student first: schemadistill train RUN_DIR") from None
    check_exportable(config, model_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with capture_logs(log_path, f"optimum ONNX export of {model_dir} ({config.model_type}, {TASK})"):
        from optimum.exporters.onnx import onnx_export_from_model

        model = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True, dtype=torch.float32)
        model.eval()
        try:
            onnx_export_from_model(model, out_dir, task=TASK, opset=opset, device="cpu")
        except Exception as e:  # optimum raises ValueError/RuntimeError/KeyError for unsupported models
            logging.getLogger("optimum").exception("export failed")
            raise _unsupported(config, model_dir, f"could not be exported by optimum ({type(e).__name__}: "
                                                  f"{str(e)[:300]}); details in {log_path}") from None
        finally:
            del model
    graph = out_dir / "model.onnx"
    if not graph.is_file():
        raise UserError("optimum wrote no model.onnx", file=out_dir, hint=f"see {log_path}")
    files = [graph] + sorted(p for p in out_dir.glob("model.onnx?*") if p.is_file())  # + external data
    return {"model": graph, "files": files, "opset": graph_opset(graph), "io": describe_graph(graph, config),
            "model_type": config.model_type, "architectures": list(getattr(config, "architectures", None) or [])}
