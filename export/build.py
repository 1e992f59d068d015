"""The export stage: trained student -> checked ONNX artifact.

    schemadistill export runs/ecommerce [--out DIR] [--variants fp32,int8,fp16] [--skip-parity]
    make distill SCHEMA=...            # the pipeline runs it after the student stage

    from export.build import export_run
    figures = export_run(Path("runs/ecommerce"))     # -> runs/ecommerce/export/artifact/

Reads ``RUN/student/model`` (merged HF model, tokenizer, student_config.json), the run's schema
(``RUN/schema/schema.json``), the held-out questions and the sandbox (for the parity gate) and
``RUN/student/eval_phase{k}.json`` (the last phase's figures go into the manifest). Steps: fp32
export with KV cache (export/onnx_export.py), int8 and fp16 variants (export/quantize.py), the
artifact files (export/artifact.py), the parity gate (export/parity.py) on the assembled folder
through the lean runtime. Everything is built in a temporary sibling of the artifact folder and
renamed into place only after the gate passes; a failing gate leaves the old artifact (if any)
untouched, moves the rejected one to ``<artifact>.rejected`` for inspection and writes the report
to ``RUN/export/parity.json``. What optimum, the tracer and the quantiser said goes to
``RUN/export/export.log`` (kept when the export fails) and a copy into the artifact.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from export import artifact as art
from export.artifact import FORMAT, PROVIDERS, VARIANT_FILES
from export.parity import ExportGateError, check_parity, parity_rows, torch_predictions
from export.quantize import graph_files
from schemadistill.config import EXPORT_VARIANTS, ExportConfig
from schemadistill.errors import UserError
from schemadistill.io import atomic_write_json, atomic_write_text, sha256_file

VARIANTS = EXPORT_VARIANTS  # every variant there is; which ones a run builds is export.variants
INT8_PROBE = 32  # held-out sequences on which int8 per-channel and per-tensor scales are compared
PACKAGES = ("torch", "transformers", "optimum", "optimum-onnx", "onnx", "onnxruntime", "onnxruntime-gpu",
            "tokenizers")
_MARK = "\u0000PROMPT\u0000"


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def parse_variants(variants: str | Sequence[str]) -> list[str]:
    items = [v.strip() for v in (variants.split(",") if isinstance(variants, str) else variants) if v.strip()]
    bad = [v for v in items if v not in VARIANTS]
    if bad or not items:
        raise UserError(f"unknown variant(s) {', '.join(bad) or '(none given)'}",
                        hint=f"choose from {', '.join(VARIANTS)}, e.g. --variants fp32,int8")
    return list(dict.fromkeys(items))


def _read_student(model_dir: Path) -> dict[str, Any]:
    cfg_path = model_dir / "student_config.json"
    if not cfg_path.is_file():
        raise UserError("no trained student to export (student/model/student_config.json is missing)",
                        file=model_dir, hint="train one first: schemadistill train RUN_DIR")
    return json.loads(cfg_path.read_text(encoding="utf-8"))


def chat_wrapper(tokenizer: Any, sample: str) -> tuple[str, str]:
    """(prefix, suffix) such that the chat template renders a user turn as prefix + text + suffix.

    The runtime has no transformers and so no ``apply_chat_template``; a template whose output is
    not of that shape (one that transforms the content) is refused here rather than mis-rendered.
    """
    def render(text: str) -> str:
        return tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                             add_generation_prompt=True)

    full = render(_MARK)
    if full.count(_MARK) != 1:
        raise UserError("the chat template does not place the prompt once, verbatim",
                        hint="use a student whose chat template is plain (ChatML-like) or a scratch student")
    prefix, _, suffix = full.partition(_MARK)
    if prefix + sample + suffix != render(sample):
        raise UserError("the chat template changes the prompt text; the ONNX runtime could not reproduce it",
                        hint="use a student whose chat template is plain (ChatML-like) or a scratch student")
    return prefix, suffix


def generation_settings(model_dir: Path, student: dict[str, Any],
                        max_positions: int | None) -> tuple[dict[str, Any], Any]:
    """(generation.json, the tokenizer): what the runtime needs to prompt, stop and decode like
    student/infer.py."""
    from transformers import AutoTokenizer, GenerationConfig

    from schemadistill.prompt import STOP, render_prompt
    from student.infer import stop_token_ids

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    prompt = student["prompt"]
    chat = bool(prompt.get("chat"))
    eos = {tok.eos_token_id} - {None}
    try:
        gc_eos = GenerationConfig.from_pretrained(str(model_dir), local_files_only=True).eos_token_id
        eos |= set(gc_eos if isinstance(gc_eos, list) else [gc_eos]) - {None}
    except OSError:
        pass  # no generation_config.json: the tokenizer's EOS is the only one
    settings: dict[str, Any] = {
        "max_new_tokens": int(student.get("max_new_tokens") or 160),
        "stop": student.get("stop") or STOP,
        "stop_token_ids": sorted(set(stop_token_ids(tok).tolist()) | eos),
        "eos_token_id": tok.eos_token_id, "eos_token_ids": sorted(eos),
        "pad_token_id": tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        "bos_token_id": tok.bos_token_id,
        # student/infer.py: chat templates hold their own special tokens; the scratch tokenizer adds <bos>
        "add_special_tokens": not chat,
        "skip_special_tokens": True,
        "clean_up_tokenization_spaces": bool(getattr(tok, "clean_up_tokenization_spaces", False)),
        "prompt_mode": prompt.get("mode", student.get("prompt_schema", "none")),
        "schema_text": prompt.get("schema_text", ""),
        # long numbers of the question travel as slots #1, #2, ... (schemadistill/prompt.py)
        "number_slots": int(prompt.get("number_slots", 0)),
        "chat": chat, "chat_prefix": "", "chat_suffix": "",
        "dialect": student.get("dialect", "duckdb"),
        "max_positions": max_positions,
    }
    if chat:
        sample = render_prompt("How many rows are there?", prompt.get("schema_text") or None,
                               template=prompt["template"])
        settings["chat_prefix"], settings["chat_suffix"] = chat_wrapper(tok, sample)
    return settings, tok


def _sequences(run_dir: Path, model_dir: Path, student: dict[str, Any], limit: int = INT8_PROBE) -> list[list[int]]:
    """Token ids of held-out prompt + gold SQL, as the student reads them (int8 scale choice)."""
    from transformers import AutoTokenizer

    from student.data import PromptSpec
    from student.infer import prompt_texts

    try:
        rows = parity_rows(run_dir, limit)
    except UserError:
        return []  # no held-out questions: per channel, unmeasured
    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    spec = PromptSpec.from_json(student["prompt"])
    texts = [t + spec.completion(r) for t, r in zip(prompt_texts(tok, spec, rows), rows, strict=True)]
    return [tok(t, add_special_tokens=not spec.chat)["input_ids"] for t in texts]


def _tokenizer_json(model_dir: Path, tok: Any, dst: Path) -> None:
    src = model_dir / "tokenizer.json"
    if src.is_file():
        shutil.copy2(src, dst)
    elif getattr(tok, "is_fast", False):
        tok.backend_tokenizer.save(str(dst))
    else:
        raise UserError("the student's tokenizer has no tokenizer.json (a slow tokenizer) and the runtime needs one",
                        file=model_dir, hint="save the student with a fast tokenizer")


def _last_eval(run_dir: Path) -> dict[str, Any]:
    evals = sorted((run_dir / "student").glob("eval_phase*.json"))
    if not evals:
        return {}
    data = json.loads(evals[-1].read_text(encoding="utf-8"))
    keys = ("n", "execution_accuracy", "valid_sql_rate", "unknown_name_rate", "exact_match_rate")
    return {"file": evals[-1].name,
            **{split: {k: r.get(k) for k in keys if k in r} for split, r in data.items() if isinstance(r, dict)}}


def _schema(run_dir: Path, student: dict[str, Any]) -> Any:
    from schemadistill.pipeline import load_run_schema

    if not (run_dir / "schema" / "schema.json").is_file():
        raise UserError("not a run folder (no schema/schema.json)", file=run_dir,
                        hint="make one first: schemadistill distill SCHEMA --out RUN_DIR")
    schema = load_run_schema(run_dir)
    trained = student.get("schema_fingerprint")
    if trained and trained != schema.fingerprint:
        raise UserError(f"the student was trained for schema {trained}, the run's schema is now {schema.fingerprint}",
                        file=run_dir, hint="retrain the student: schemadistill train RUN_DIR")
    return schema


def export_run(run_dir: str | Path, out: str | Path | None = None, variants: str | Sequence[str] | None = None,
               parity_max: int | None = None, *, skip_parity: bool = False, opset: int | None = None,
               fp16_on_cpu: bool = False, values: bool = True, neighbors: bool = True) -> dict[str, Any]:
    """Build, check and install the artifact of ``run_dir``; returns the stage's figures.

    ``out`` defaults to ``RUN/export/artifact``; ``variants`` and ``parity_max`` (the most
    held-out questions the gate decodes) default to the ``export`` config section's defaults;
    ``fp16_on_cpu`` checks fp16 on CPU kernels when there is no CUDA provider; ``values`` ships
    the value index (``values.json``) the runtime grounds answers with; ``neighbors`` the training
    pairs (``neighbors.json``) whose SQL the runtime offers beside the beams of a doubted answer.
    """
    defaults = ExportConfig()
    variants = defaults.variants if variants is None else variants
    parity_max = defaults.parity_max if parity_max is None else parity_max
    run_dir = Path(run_dir)
    model_dir = run_dir / "student" / "model"
    wanted = parse_variants(variants)
    student = _read_student(model_dir)
    schema = _schema(run_dir, student)
    final = Path(out) if out else run_dir / "export" / "artifact"
    # the log lives in the run (it outlives a failed export) and a copy ships with the artifact
    log = run_dir / "export" / "export.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("", encoding="utf-8")
    t0 = time.perf_counter()
    work = art.staging_dir(final)
    try:
        manifest, generation = _assemble(work, run_dir, model_dir, student, schema, wanted, opset, log, values,
                                         neighbors)
        if skip_parity:
            manifest["parity"] = {"skipped": True}
        else:
            t = time.perf_counter()
            manifest["parity"] = _gate(run_dir, model_dir, work, final, schema, wanted, parity_max,
                                       generation["max_new_tokens"], fp16_on_cpu)
            manifest["timings"]["parity_s"] = round(time.perf_counter() - t, 2)
        atomic_write_json(work / art.MANIFEST, manifest)
        for f in work.iterdir():  # mkstemp makes 0600 files; a service user must be able to read them
            f.chmod(0o644)
        art.load_artifact(work)  # the finished folder passes the loader's own checks
        art.commit(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return _figures(final, manifest, round(time.perf_counter() - t0, 2))


def _assemble(work: Path, run_dir: Path, model_dir: Path, student: dict[str, Any], schema: Any,
              wanted: list[str], opset: int | None, log: Path, values: bool = True, neighbors: bool = True
              ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every artifact file into ``work`` (manifest without parity figures); (manifest, generation)."""
    from transformers import AutoConfig

    from export.onnx_export import capture_logs, describe_graph, export_onnx
    from export.quantize import choose_int8, convert_fp16

    t0 = time.perf_counter()
    raw = work / ".optimum"
    exported = export_onnx(model_dir, raw, opset=opset, log_path=log)
    for f in exported["files"]:  # the graph (+ external data); optimum's config copies stay behind
        shutil.move(str(f), work / f.name)
    shutil.rmtree(raw)
    fp32 = work / VARIANT_FILES["fp32"]
    timings = {"export_s": round(time.perf_counter() - t0, 2)}
    int8: dict[str, Any] = {}
    if "int8" in wanted:
        t = time.perf_counter()
        with capture_logs(log, "int8 dynamic quantisation (per channel vs per tensor)"):
            int8 = choose_int8(fp32, work / VARIANT_FILES["int8"], _sequences(run_dir, model_dir, student),
                               exported["io"])
        describe_graph(work / VARIANT_FILES["int8"])  # it must load in onnxruntime
        timings["int8_s"] = round(time.perf_counter() - t, 2)
    if "fp16" in wanted:
        t = time.perf_counter()
        with capture_logs(log, "fp16 conversion"):
            convert_fp16(fp32, work / VARIANT_FILES["fp16"])
        timings["fp16_s"] = round(time.perf_counter() - t, 2)
    if "fp32" not in wanted:  # the source of the others, not shipped
        for p in work.glob(VARIANT_FILES["fp32"] + "*"):
            p.unlink()

    io = dict(exported["io"])
    config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    io["max_positions"] = getattr(config, "max_position_embeddings", None)
    generation, tok = generation_settings(model_dir, student, io["max_positions"])
    _tokenizer_json(model_dir, tok, work / art.TOKENIZER)
    art.check_vocab(art.tokenizer_vocab_size(work / art.TOKENIZER), int(io["vocab_size"]), model_dir)
    atomic_write_text(work / art.PROMPT, student["prompt"]["template"])
    atomic_write_json(work / art.GENERATION, generation)
    atomic_write_json(work / art.SCHEMA, schema.to_dict())
    index = _value_index(run_dir, schema) if values else None
    if index is not None:
        index.save(work / art.VALUES)
    near = _neighbor_index(run_dir) if neighbors else None
    if near is not None:
        near.save(work / art.NEIGHBORS)
    shutil.copy2(log, work / "export.log")
    manifest = _manifest(run_dir, student, exported, io, wanted, work)
    if int8:
        manifest["variants"]["int8"]["quantisation"] = int8
    manifest["timings"] = timings
    atomic_write_json(work / art.MANIFEST, manifest)  # the runtime (parity gate) loads the folder
    return manifest, generation


def _neighbor_index(run_dir: Path) -> Any:
    """The run's training pairs for ``neighbors.json`` (None when the curriculum wrote none).

    Only the files the student trained on: a held-out question must never find itself."""
    from schemadistill.io import read_jsonl
    from schemadistill.neighbors import NeighborIndex

    files = sorted((run_dir / "curriculum").glob("train_phase*.jsonl"))
    rows = (r for f in files for r in read_jsonl(f) if r.get("kind", "generate") == "generate")
    index = NeighborIndex.from_pairs(rows)
    return index if len(index) else None


def _value_index(run_dir: Path, schema: Any) -> Any:
    """The run's value index for ``values.json`` (None without a sandbox)."""
    from schemadistill.grounding import ValueIndex
    from schemadistill.sandbox import Executor

    db = run_dir / "sandbox" / "sandbox.duckdb"
    if not db.is_file():
        return None
    from schemadistill.pipeline import load_run_filters

    with Executor(db) as ex:
        index = ValueIndex.from_database(ex, schema)
    index.add_filters(load_run_filters(run_dir), schema.dialect)  # the teacher's, read off EXAMPLES
    return index


def _manifest(run_dir: Path, student: dict[str, Any], exported: dict[str, Any], io: dict[str, Any],
              wanted: list[str], work: Path) -> dict[str, Any]:
    variants = {}
    for v in wanted:
        f = work / VARIANT_FILES[v]
        data = [p.name for p in graph_files(f)[1:]]
        variants[v] = {"file": f.name, "external_data": data, "bytes": sum((work / n).stat().st_size
                                                                           for n in [f.name, *data]),
                       "providers": PROVIDERS[v],
                       "weights": {"fp32": "float32", "int8": "int8 MatMul weights (dynamic)",
                                   "fp16": "float16"}[v],
                       "io_dtype": "float32"}  # keep_io_types: every variant takes and returns fp32
    return {
        "format": FORMAT,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "source": {"run_dir": str(run_dir), "student": student.get("student"), "kind": student.get("kind"),
                   "base": student.get("base"), "params": student.get("params"),
                   "model_type": exported["model_type"], "architectures": exported["architectures"]},
        "packages": package_versions(),
        "task": "text-generation-with-past",
        "opset": exported["opset"],
        "io": io,
        "variants": variants,
        "tokenizer": {"file": art.TOKENIZER, "sha256": sha256_file(work / art.TOKENIZER),
                      "vocab_size": art.tokenizer_vocab_size(work / art.TOKENIZER)},
        "schema": {"fingerprint": student.get("schema_fingerprint"), "dialect": student.get("dialect", "duckdb")},
        "eval": _last_eval(run_dir),
        "files": art.file_sizes(work),
    }


def _gate(run_dir: Path, model_dir: Path, work: Path, final: Path, schema: Any, wanted: list[str],
          parity_max: int, max_new_tokens: int, fp16_on_cpu: bool) -> dict[str, Any]:
    from schemadistill.sandbox import Executor

    db = run_dir / "sandbox" / "sandbox.duckdb"
    if not db.is_file():
        raise UserError("the run has no sandbox to score the parity gate on", file=db,
                        hint="run the sandbox stage, or export with --skip-parity")
    rows = parity_rows(run_dir, parity_max)
    reference = torch_predictions(model_dir, [r["question"] for r in rows], max_new_tokens)
    with Executor(db) as ex:
        try:
            report = check_parity(work, rows, reference, ex, schema, wanted, max_new_tokens,
                                  fp16_on_cpu=fp16_on_cpu)
        except ExportGateError as e:
            atomic_write_json(run_dir / "export" / "parity.json", e.report)
            rejected = final.parent / f"{final.name}.rejected"
            shutil.rmtree(rejected, ignore_errors=True)
            work.rename(rejected)  # kept for inspection (ask it questions, diff it); never installed
            e.message += f"\n  the rejected artifact is in {rejected}, the full report in {run_dir / 'export' / 'parity.json'}"
            raise
    atomic_write_json(run_dir / "export" / "parity.json", report)
    return report


def _figures(final: Path, manifest: dict[str, Any], seconds: float) -> dict[str, Any]:
    parity = manifest.get("parity", {})
    figs: dict[str, Any] = {"artifact": str(final), "seconds": seconds, "opset": manifest["opset"],
                            "variants": ",".join(manifest["variants"])}
    for v, rec in manifest["variants"].items():
        figs[f"{v}_mb"] = round(rec["bytes"] / 1e6, 3)
        p = parity.get("variants", {}).get(v)
        if p is not None:
            figs[f"{v}_parity"] = ("pass" if p.get("passed") else "fail") if p.get("checked") else p.get("note")
            if p.get("execution_accuracy") is not None:
                figs[f"{v}_execution_accuracy"] = p["execution_accuracy"]
    if parity.get("skipped"):
        figs["parity"] = "skipped"
    elif parity:
        figs["parity_n"] = parity.get("n")
        figs["pytorch_execution_accuracy"] = parity.get("pytorch", {}).get("execution_accuracy")
    return figs
