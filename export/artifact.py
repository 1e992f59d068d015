"""The artifact folder: what an exported student ships with, and the checks made when loading it.

    schemadistill export runs/ecommerce            # writes runs/ecommerce/export/artifact/

    from export.artifact import load_artifact, check_fingerprint
    art = load_artifact("runs/ecommerce/export/artifact")    # UserError naming a missing file
    art.model_path("int8"), art.generation["max_new_tokens"], art.io["num_layers"]
    for line in check_fingerprint(art, live_schema): print(line)   # also warns when it differs

Layout (every file is listed with its size in ``manifest.json["files"]``)::

    model.onnx            fp32 graph with KV cache (optimum, text-generation-with-past); CPU + CUDA
    model.int8.onnx       int8 dynamic quantisation of the MatMul weights; CPUExecutionProvider
    model.fp16.onnx       fp16 weights, fp32/int64 inputs and outputs (keep_io_types); CUDAExecutionProvider
    *.onnx_data           external weights of a variant, only for models too large for one protobuf
    tokenizer.json        the student's tokenizer (``tokenizers.Tokenizer.from_file``)
    prompt.j2             the prompt template text the student was trained with
    generation.json       decoding settings (see GENERATION_KEYS below)
    schema.json           the normalised schema (``Schema.to_dict()``: includes fingerprint and dialect)
    values.json           optional (export.values): the value index the runtime grounds answers with
                          (distinct values of the sandbox's low-cardinality text columns;
                          schemadistill/grounding.py)
    neighbors.json        optional (export.neighbors): the training questions and their SQL, whose
                          nearest ones the runtime offers beside the beams of a doubted answer
                          (schemadistill/neighbors.py)
    manifest.json         format, source, package versions, opset, graph I/O (``io``), variants,
                          file sizes, eval figures from training, parity figures

``generation.json`` holds ``max_new_tokens``, ``stop`` (";"), ``stop_token_ids`` (every token
whose text contains the stop, plus EOS: what student/infer.py stops on), ``eos_token_id``,
``pad_token_id``, ``bos_token_id``, ``add_special_tokens`` (encode the rendered prompt with the
tokenizer's post-processor, true for scratch students), ``skip_special_tokens`` and
``clean_up_tokenization_spaces`` (decode as transformers does), ``prompt_mode`` ("compact" |
"none"), ``schema_text`` (the compact schema for prompt_mode compact, else ""), ``chat``
(pretrained chat students), ``chat_prefix`` / ``chat_suffix`` (the chat template rendered around
the prompt: model input = prefix + prompt + suffix, verified against ``apply_chat_template`` at
export time) and ``dialect``.

``manifest.json["io"]`` describes the graph so the runtime needs no transformers config:
``inputs`` / ``outputs`` (names in order), ``input_dtypes``, ``past_key`` / ``past_value`` /
``present_key`` / ``present_value`` (name patterns with ``{i}``), ``num_layers``,
``num_kv_heads``, ``head_dim``, ``vocab_size`` (logits width), ``has_position_ids``,
``kv_dtype`` ("float32": every variant keeps fp32 KV inputs and outputs).

This module imports neither torch nor transformers (the lean runtime uses it); the schema model
is imported only by :func:`check_fingerprint`.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemadistill.errors import UserError
from schemadistill.io import sha256_file

FORMAT = 1
VARIANT_FILES: dict[str, str] = {"fp32": "model.onnx", "int8": "model.int8.onnx", "fp16": "model.fp16.onnx"}
# Which provider each variant is made for: int8 dynamic quantisation has fast kernels on CPU
# only; fp16 pays off on a GPU (CPU fp16 kernels are few, slow, or missing).
PROVIDERS: dict[str, list[str]] = {
    "fp32": ["CPUExecutionProvider", "CUDAExecutionProvider"],
    "int8": ["CPUExecutionProvider"],
    "fp16": ["CUDAExecutionProvider"],
}
TOKENIZER = "tokenizer.json"
PROMPT = "prompt.j2"
GENERATION = "generation.json"
SCHEMA = "schema.json"
MANIFEST = "manifest.json"
VALUES = "values.json"  # optional (student.ground_values=false leaves it out)
NEIGHBORS = "neighbors.json"  # optional (export.neighbors=false leaves it out)
REQUIRED = (MANIFEST, TOKENIZER, PROMPT, GENERATION, SCHEMA)
GENERATION_KEYS = ("max_new_tokens", "stop", "stop_token_ids", "eos_token_id", "pad_token_id",
                   "add_special_tokens", "prompt_mode", "schema_text", "chat")
EXPORT_HINT = "export it again: schemadistill export RUN_DIR [--out DIR]"


@dataclass
class ArtifactInfo:
    """A loaded, validated artifact folder (no model session: the runtime opens those)."""

    path: Path
    manifest: dict[str, Any]
    generation: dict[str, Any]
    template: str  # prompt.j2
    schema: dict[str, Any]  # schema.json (Schema.to_dict form)
    variants: dict[str, Path] = field(default_factory=dict)  # variant -> model file
    values: dict[str, Any] | None = None  # values.json (ValueIndex.to_json form), when shipped

    @property
    def neighbors_path(self) -> Path | None:
        """neighbors.json when shipped (read by the runtime on its first doubted answer)."""
        p = self.path / NEIGHBORS
        return p if p.is_file() else None

    @property
    def fingerprint(self) -> str:
        return str(self.manifest.get("schema", {}).get("fingerprint") or self.schema.get("fingerprint", ""))

    @property
    def dialect(self) -> str:
        return str(self.manifest.get("schema", {}).get("dialect") or self.schema.get("dialect", "duckdb"))

    @property
    def io(self) -> dict[str, Any]:
        return dict(self.manifest["io"])

    @property
    def tokenizer_path(self) -> Path:
        return self.path / TOKENIZER

    def model_path(self, variant: str) -> Path:
        if variant not in self.variants:
            raise UserError(f"the artifact has no {variant} variant (it has: {', '.join(self.variants)})",
                            file=self.path, hint="pick one of those, or export it: "
                                                 "schemadistill export RUN_DIR --variants fp32,int8,fp16")
        return self.variants[variant]

    def providers(self, variant: str) -> list[str]:
        """The execution providers the variant is meant for (see PROVIDERS)."""
        return list(self.manifest["variants"][variant].get("providers") or PROVIDERS[variant])

    def default_variant(self, available_providers: Iterable[str]) -> str:
        """fp16 when CUDA is there, else int8, else fp32 (whichever of them the artifact has)."""
        avail = set(available_providers)
        order = ["fp16", "fp32", "int8"] if "CUDAExecutionProvider" in avail else ["int8", "fp32"]
        for v in order:
            if v in self.variants and avail.intersection(self.providers(v)):
                return v
        return "fp32" if "fp32" in self.variants else next(iter(self.variants))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise UserError(f"{path.name} is not valid JSON ({e}); the artifact is damaged", file=path,
                        hint=EXPORT_HINT) from None


def load_artifact(path: str | Path, check_tokenizer: bool = True) -> ArtifactInfo:
    """Read and validate an artifact folder.

    Every required file and every file the manifest lists must be present with its recorded size
    (a partial copy or a half-written file is caught here, naming the file). With
    ``check_tokenizer`` the tokenizer must be the one exported with the graph: same hash, and no
    token id beyond the graph's embedding (logits) width.
    """
    root = Path(path)
    if not root.is_dir():
        raise UserError("artifact folder not found", file=root, hint="export one: schemadistill export RUN_DIR")
    missing = [name for name in REQUIRED if not (root / name).is_file()]
    if missing:
        raise UserError(f"incomplete artifact: missing {', '.join(missing)}", file=root, hint=EXPORT_HINT)
    manifest = _read_json(root / MANIFEST)
    if manifest.get("format") != FORMAT:
        raise UserError(f"artifact format {manifest.get('format')!r} is not the supported format {FORMAT}",
                        file=root / MANIFEST, hint=EXPORT_HINT)
    for name, size in manifest.get("files", {}).items():
        f = root / name
        if not f.is_file():
            raise UserError(f"incomplete artifact: missing {name}", file=root, hint=EXPORT_HINT)
        if f.stat().st_size != size:
            raise UserError(f"{name} has {f.stat().st_size} bytes, the manifest recorded {size}: the file is "
                            "partial or was replaced", file=f, hint=EXPORT_HINT)
    variants = {v: root / rec["file"] for v, rec in manifest.get("variants", {}).items()}
    if not variants:
        raise UserError("the artifact lists no model variant", file=root / MANIFEST, hint=EXPORT_HINT)
    generation = _read_json(root / GENERATION)
    absent = [k for k in GENERATION_KEYS if k not in generation]
    if absent:
        raise UserError(f"generation.json lacks {', '.join(absent)}", file=root / GENERATION, hint=EXPORT_HINT)
    values = _read_json(root / VALUES) if (root / VALUES).is_file() else None
    info = ArtifactInfo(root, manifest, generation, (root / PROMPT).read_text(encoding="utf-8"),
                        _read_json(root / SCHEMA), variants, values)
    if check_tokenizer:
        check_tokenizer_matches(info)
    return info


def tokenizer_vocab_size(path: Path) -> int:
    """Ids the tokenizer can produce, added tokens included."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path)).get_vocab_size(with_added_tokens=True)


def check_vocab(tokenizer_size: int, graph_vocab: int, where: str | Path) -> None:
    """A tokenizer with more ids than the graph's embedding has rows would index past it.

    Fewer is fine: pretrained models pad their embedding (Qwen2.5 has 151,936 rows for 151,665
    tokens).
    """
    if tokenizer_size > graph_vocab:
        raise UserError(f"tokenizer/model mismatch: the tokenizer has {tokenizer_size} tokens but the graph's "
                        f"embedding has {graph_vocab} rows", file=where,
                        hint="the tokenizer belongs to another model; " + EXPORT_HINT)


def check_tokenizer_matches(info: ArtifactInfo) -> None:
    tok = info.manifest.get("tokenizer", {})
    check_vocab(tokenizer_vocab_size(info.tokenizer_path), int(info.io["vocab_size"]), info.tokenizer_path)
    if tok.get("sha256") and sha256_file(info.tokenizer_path) != tok["sha256"]:
        raise UserError("tokenizer.json is not the tokenizer this model was exported with (its hash differs "
                        "from the manifest's)", file=info.tokenizer_path, hint=EXPORT_HINT)


# -- schema drift -----------------------------------------------------------------------------


def _structure(schema: Any) -> tuple[str, dict[str, Any]]:
    from schemadistill.schema.model import Schema

    s = schema if isinstance(schema, Schema) else Schema.from_dict(schema)
    return s.fingerprint, s.structure()


def schema_differences(old: Any, new: Any) -> list[str]:
    """Human-readable differences between two schemas (``Schema`` or its dict), old -> new."""
    _, a = _structure(old)
    _, b = _structure(new)
    ta = {t["name"]: t for t in a["tables"]}
    tb = {t["name"]: t for t in b["tables"]}
    out = [f"table {n} removed" for n in sorted(ta.keys() - tb.keys())]
    out += [f"table {n} added" for n in sorted(tb.keys() - ta.keys())]
    for name in sorted(ta.keys() & tb.keys()):
        ca = {c[0]: c for c in ta[name]["columns"]}
        cb = {c[0]: c for c in tb[name]["columns"]}
        out += [f"column {name}.{c} removed" for c in sorted(ca.keys() - cb.keys())]
        out += [f"column {name}.{c} added ({cb[c][1]})" for c in sorted(cb.keys() - ca.keys())]
        for c in sorted(ca.keys() & cb.keys()):
            if ca[c][1] != cb[c][1]:
                out.append(f"column {name}.{c} type changed: {ca[c][1]} -> {cb[c][1]}")
            if ca[c][2] != cb[c][2]:
                out.append(f"column {name}.{c} is now {'nullable' if cb[c][2] else 'NOT NULL'}")
        if ta[name]["primary_key"] != tb[name]["primary_key"]:
            out.append(f"table {name} primary key changed: {ta[name]['primary_key']} -> {tb[name]['primary_key']}")
    fa = {json.dumps(fk) for fk in a["foreign_keys"]}
    fb = {json.dumps(fk) for fk in b["foreign_keys"]}
    for fk, what in [(f, "removed") for f in sorted(fa - fb)] + [(f, "added") for f in sorted(fb - fa)]:
        t, cols, rt, rcols = json.loads(fk)
        out.append(f"foreign key {t}({', '.join(cols)}) -> {rt}({', '.join(rcols)}) {what}")
    return out


def check_fingerprint(artifact: ArtifactInfo | str | Path, live_schema: Any) -> list[str]:
    """Differences between the schema the artifact was trained for and ``live_schema``.

    Empty when the fingerprints agree. Otherwise a ``UserWarning`` is issued (the model may name
    tables or columns that no longer exist) and the differences are returned, one line each.
    """
    info = artifact if isinstance(artifact, ArtifactInfo) else load_artifact(artifact, check_tokenizer=False)
    trained_fp, _ = _structure(info.schema)
    live_fp, _ = _structure(live_schema)
    if trained_fp == live_fp:
        return []
    diffs = schema_differences(info.schema, live_schema) or [
        f"fingerprint {trained_fp} -> {live_fp}, though no table, column or key differs"]
    warnings.warn(f"the artifact was trained for schema {trained_fp}, the live schema is {live_fp}: "
                  + "; ".join(diffs), UserWarning, stacklevel=2)
    return diffs


# -- writing ----------------------------------------------------------------------------------


def file_sizes(root: Path) -> dict[str, int]:
    """Every file of the folder except the manifest (which records them), name -> bytes."""
    return {p.name: p.stat().st_size for p in sorted(root.iterdir()) if p.is_file() and p.name != MANIFEST}


def staging_dir(final: Path) -> Path:
    """A fresh temporary sibling of ``final``: renamed onto it once complete."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp


def commit(staging: Path, final: Path) -> Path:
    """Replace ``final`` by ``staging``: the old artifact stays whole until the new one is.

    Two renames (old aside, new in place) since a directory cannot replace a non-empty one in
    one step; a crash between them leaves the old one at ``.NAME.old`` and no half artifact.
    """
    old = final.parent / f".{final.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)
    return final
