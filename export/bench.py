"""Latency benchmark of an exported artifact: PyTorch generate vs optimum vs our lean runtime.

    python -m export.bench --artifact runs/ecommerce/export/artifact [--n 16] [--batch-sizes 1,4,8]
    make bench ARTIFACT=runs/ecommerce/export/artifact [CONFIG=run.yaml]
    python -m export.bench --random-qwen05b --out /tmp/qwen05b     # GPU machine: a 0.5B-sized model

How much work it does (questions, batch sizes, max new tokens, backends, a timeout per backend)
comes from the ``bench`` section of the run config (``schemadistill config``), as in the
pipeline's bench stage; the flags override it.

Backends, each timed in its own subprocess (its own block of runs, its own memory, no thread
pool of another framework spinning beside it), all on the same questions with the same greedy
settings and thread count:

* ``pytorch``: transformers ``generate`` on the student's HF model (RUN/student/model or --model),
  batched and stopped as student/infer.py does;
* ``optimum``: ``ORTModelForCausalLM.generate`` on the artifact's fp32 graph;
* ``runtime-fp32`` / ``runtime-int8``: :class:`export.runtime.Runtime` on CPU;
* on a GPU (CUDA in torch and CUDAExecutionProvider in onnxruntime): ``pytorch-cuda`` and
  ``runtime-fp16-cuda`` (IO binding, KV cache kept on the device).

Per backend and batch size, after warm-up: time to first token (prefill; from the call, so
tokenising counts), median time per output token (decode step interval), end-to-end latency per
question p50/p95/p99 (a question waits for its whole batch), questions per second; per backend
the peak RSS increase over the worker's baseline (psutil, sampled every 5 ms; the load counts)
and on GPU the CUDA peak. Outputs are compared with PyTorch's (``agree_with_pytorch``).

Writes latency.json, latency.md and latency.png into --out (default RUN/reports/, else the
artifact's parent's reports/). The last stdout line is one JSON object: ``speedup_vs_pytorch``
(PyTorch's p50 end-to-end time per question at batch 1 over our runtime's, the faster of our
CPU variants, named in ``speedup_backend``), ``ms_per_token`` and ``e2e_ms_p50`` per backend.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from export.artifact import ArtifactInfo, load_artifact
from schemadistill.errors import UserError
from schemadistill.hardware import hardware, vector_phrase
from schemadistill.io import atomic_write_json, read_jsonl

WARMUP = 2
# Peak HBM bandwidth by GPU name (substring, most specific first), TB/s: batch-1 decoding reads
# every weight once per token, so weight bytes / bandwidth bounds the time per token from below.
HBM_TBPS = [("H100 PCIe", 2.0), ("H100", 3.35), ("H200", 4.8), ("A100 80GB", 2.0), ("A100-SXM4-80GB", 2.0),
            ("A100-PCIE-80GB", 2.0)]
QWEN05B = {"hidden_size": 896, "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
           "intermediate_size": 4864, "vocab_size": 151936, "max_position_embeddings": 32768,
           "tie_word_embeddings": True, "rope_theta": 1e6}


# -- what to run ------------------------------------------------------------------------------


def find_run(artifact: Path) -> Path | None:
    """The run folder an artifact sits in (RUN/export/artifact -> RUN), if any."""
    for parent in list(artifact.resolve().parents)[:3]:
        if (parent / "curriculum").is_dir() or (parent / "student" / "model").is_dir():
            return parent
    return None


def pick_questions(art: ArtifactInfo, run: Path | None, questions: Path | None, n: int) -> tuple[list[str], str]:
    """n questions (cycled when fewer exist): held-out curriculum rows, --questions, or the schema."""
    rows: list[dict[str, Any]] = []
    source = ""
    if questions is not None:
        if not questions.is_file():
            raise UserError("questions file not found", file=questions)
        rows, source = list(read_jsonl(questions)), str(questions)
    elif run is not None:
        for split in ("heldout_iid", "heldout_family"):
            p = run / "curriculum" / f"{split}.jsonl"
            if p.is_file():
                rows += list(read_jsonl(p))
        source = f"{run / 'curriculum'} heldout_iid + heldout_family"
    texts = [str(r["question"]) for r in rows if isinstance(r, dict) and str(r.get("question", "")).strip()]
    if not texts:  # the artifact's own sample: one plain question per table and a few per column
        for t in art.schema["tables"]:
            name = t.get("qualified_name") or t["name"]
            texts.append(f"How many rows does {name} have?")
            texts += [f"List the distinct {c['name']} values of {name}." for c in t["columns"][:3]]
        source = "questions made from the artifact's schema"
    return [texts[i % len(texts)] for i in range(n)], source


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("onnxruntime", "onnxruntime-gpu", "torch", "transformers", "optimum", "optimum-onnx", "tokenizers",
                "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


def _cuda_available() -> bool:
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    probe = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def plan_backends(art: ArtifactInfo, model_dir: Path | None, cuda: bool) -> list[dict[str, Any]]:
    plans: list[dict[str, Any]] = []
    if model_dir is not None:
        plans += [{"name": "pytorch", "kind": "pytorch", "device": "cpu"},
                  {"name": "optimum", "kind": "optimum", "device": "cpu"}]
    plans += [{"name": f"runtime-{v}", "kind": "runtime", "variant": v, "device": "cpu"}
              for v in ("fp32", "int8") if v in art.variants]
    if cuda:
        if model_dir is not None:
            plans.append({"name": "pytorch-cuda", "kind": "pytorch", "device": "cuda"})
        v = "fp16" if "fp16" in art.variants else "fp32"
        plans.append({"name": f"runtime-{v}-cuda", "kind": "runtime", "variant": v, "device": "cuda"})
    return plans


# -- a worker: one backend, in its own process ------------------------------------------------


class _Peak:
    """Peak RSS of this process above the baseline at construction, sampled in a thread."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.base = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def delta_mb(self) -> float:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)
        return round((self.peak - self.base) / 2**20, 1)


class _Clock:
    """Step timestamps of one call: the hook is called once per generated token (per row set)."""

    def __init__(self) -> None:
        self.start = 0.0
        self.steps: list[float] = []

    def begin(self) -> None:
        self.steps = []
        self.start = time.perf_counter()

    def step(self) -> None:
        self.steps.append(time.perf_counter())


def _hf_loader(plan: dict[str, Any], spec: dict[str, Any], clock: _Clock) -> Any:
    """generate(questions) for PyTorch or optimum, batched and stopped as student/infer.py does."""
    import torch
    from transformers import AutoTokenizer, LogitsProcessor, LogitsProcessorList, StoppingCriteriaList

    from student.infer import StopAtSemicolon, stop_token_ids

    torch.set_num_threads(spec["threads"])
    model_dir = spec["model_dir"]
    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    if plan["kind"] == "pytorch":
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True,
                                                     dtype=torch.float16 if plan["device"] == "cuda" else torch.float32)
        model.to(plan["device"]).eval()
    else:
        import onnxruntime as ort
        from optimum.onnxruntime import ORTModelForCausalLM

        so = ort.SessionOptions()  # the session settings our runtime uses: only the loop differs
        so.intra_op_num_threads, so.inter_op_num_threads = spec["threads"], 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model = ORTModelForCausalLM.from_pretrained(spec["optimum_dir"], use_cache=True, session_options=so,
                                                    provider="CPUExecutionProvider", local_files_only=True)

    class Hook(LogitsProcessor):  # observes each step's scores, changes nothing
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            clock.step()
            return scores

    stop = StoppingCriteriaList([StopAtSemicolon(stop_token_ids(tok))])
    hooks = LogitsProcessorList([Hook()])
    texts_of = spec["texts"]
    chat = spec["chat"]
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def generate(questions: list[str]) -> list[str]:
        from schemadistill.prompt import cut_at_stop, fill_slots, slot_numbers

        enc = [tok(texts_of[q], add_special_tokens=not chat)["input_ids"] for q in questions]
        width = max(map(len, enc))
        ids = torch.full((len(enc), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, e in enumerate(enc):
            ids[r, width - len(e):] = torch.tensor(e)
            mask[r, width - len(e):] = 1
        with torch.no_grad():
            gen = model.generate(input_ids=ids.to(plan["device"]), attention_mask=mask.to(plan["device"]),
                                 do_sample=False, max_new_tokens=spec["max_new_tokens"], stopping_criteria=stop,
                                 logits_processor=hooks, pad_token_id=pad, eos_token_id=spec["eos_token_id"],
                                 temperature=None, top_p=None, top_k=None)
        if plan["device"] == "cuda":
            torch.cuda.synchronize()
        # the numbers go back into the SQL as the runtime does, so the outputs compare
        return [fill_slots(cut_at_stop(tok.decode(g[width:], skip_special_tokens=True)),
                           slot_numbers(q, spec.get("number_slots", 0))[1]) for g, q in zip(gen, questions, strict=True)]

    return generate


def _runtime_loader(plan: dict[str, Any], spec: dict[str, Any], clock: _Clock) -> Any:
    from export.runtime import CUDA, Runtime

    rt = Runtime(spec["artifact"], variant=plan["variant"], threads=spec["threads"],
                 provider=CUDA if plan["device"] == "cuda" else "CPUExecutionProvider", batch_size=10**6)

    def generate(questions: list[str]) -> list[str]:
        return rt.generate(questions, spec["max_new_tokens"], on_step=clock.step)

    return generate


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return round(float(np.percentile(values, q)), 3) if values else float("nan")


def run_worker(plan: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Load one backend, warm it up, and time it at each batch size."""
    import numpy as np

    mem = _Peak()
    clock = _Clock()
    t0 = time.perf_counter()
    generate = (_runtime_loader if plan["kind"] == "runtime" else _hf_loader)(plan, spec, clock)
    load_s = time.perf_counter() - t0
    qs: list[str] = spec["questions"]
    for b in sorted({1, max(spec["batch_sizes"])}):
        for _ in range(WARMUP):
            generate(qs[:b])
    result: dict[str, Any] = {**plan, "load_s": round(load_s, 3), "batches": {}}
    outputs: list[str] = []
    for b in spec["batch_sizes"]:
        e2e, ttft, steps, tokens = [], [], [], 0
        t_all = time.perf_counter()
        for start in range(0, len(qs), b):
            batch = qs[start:start + b]
            clock.begin()
            out = generate(batch)
            end = time.perf_counter()
            e2e += [(end - clock.start) * 1000] * len(batch)
            if clock.steps:
                ttft.append((clock.steps[0] - clock.start) * 1000)
                steps += [(y - x) * 1000 for x, y in zip(clock.steps, clock.steps[1:], strict=False)]
                tokens += len(clock.steps) if b == 1 else 0
            if b == 1:
                outputs += out
        wall = time.perf_counter() - t_all
        result["batches"][str(b)] = {
            "n": len(qs), "ttft_ms_p50": _pct(ttft, 50), "ms_per_token": _pct(steps, 50),
            "e2e_ms": {"p50": _pct(e2e, 50), "p95": _pct(e2e, 95), "p99": _pct(e2e, 99),
                       "mean": round(float(np.mean(e2e)), 3)},
            "questions_per_s": round(len(qs) / wall, 2),
            **({"tokens": tokens, "tokens_per_s": round(tokens / wall, 1)} if b == 1 else {}),
        }
    result["rss_peak_delta_mb"] = mem.delta_mb()
    if plan["device"] == "cuda":
        result["cuda_peak_mb"] = _cuda_peak_mb(plan)
    result["outputs"] = outputs
    return result


def _cuda_peak_mb(plan: dict[str, Any]) -> float | None:
    if plan["kind"] == "pytorch":
        import torch

        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    try:  # onnxruntime's arena keeps what it took, so this process's usage now is its peak
        out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
        for line in out.splitlines():
            pid, used = (x.strip() for x in line.split(","))
            if int(pid) == os.getpid():
                return float(used)
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    return None


# -- the parent: plan, spawn, report ----------------------------------------------------------


def _optimum_dir(art: ArtifactInfo, model_dir: Path, tmp: Path) -> Path:
    """The fp32 graph (linked) next to the HF config: the folder ORTModelForCausalLM loads."""
    d = tmp / "optimum"
    d.mkdir(exist_ok=True)
    graph = art.model_path("fp32")
    for f in graph.parent.glob(graph.name + "*"):
        (d / ("model.onnx" + f.name[len(graph.name):])).symlink_to(f.resolve())
    for name in ("config.json", "generation_config.json"):
        if (model_dir / name).is_file():
            (d / name).write_bytes((model_dir / name).read_bytes())
    return d


def _spawn(plan: dict[str, Any], spec: dict[str, Any], tmp: Path, timeout_s: float) -> dict[str, Any]:
    job = tmp / f"{plan['name']}.json"
    job.write_text(json.dumps({"plan": plan, "spec": spec}), encoding="utf-8")
    out = tmp / f"{plan['name']}.result.json"
    print(f"bench: {plan['name']} ...", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run([sys.executable, "-m", "export.bench", "--worker", str(job), "--worker-out", str(out)],
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {**plan, "error": f"timed out after {timeout_s:.0f}s"}
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {**plan, "error": " | ".join(tail) or f"exit code {proc.returncode}"}
    return json.loads(out.read_text(encoding="utf-8"))


def _sig(x: float) -> float:
    return float(f"{x:.4g}")


def _bandwidth(art: ArtifactInfo, results: dict[str, dict[str, Any]], gpu: str | None) -> dict[str, Any] | None:
    """Weight bytes / peak HBM bandwidth: the least time a batch-1 token can take on this GPU."""
    from export.quantize import graph_bytes

    tbps = next((bw for key, bw in HBM_TBPS if gpu and key.lower() in gpu.lower()), None)
    if tbps is None:
        return None
    out: dict[str, Any] = {"gpu": gpu, "peak_tb_per_s": tbps, "backends": {}}
    for name, r in results.items():
        if r.get("device") != "cuda" or "batches" not in r:
            continue
        variant = r.get("variant") or ("fp16" if "fp16" in art.variants else "fp32")
        weight_bytes = graph_bytes(art.model_path(variant))  # pytorch-cuda runs fp16 weights too
        bound_ms = weight_bytes / (tbps * 1e12) * 1000
        measured = r["batches"]["1"]["ms_per_token"] if "1" in r["batches"] else None
        out["backends"][name] = {"weight_bytes": weight_bytes, "bound_ms_per_token": _sig(bound_ms),
                                 "share_of_bound": _sig(bound_ms / measured) if measured else None}
    return out


def bench(artifact: Path, model_dir: Path | None = None, questions: Path | None = None, n: int = 50,
          batch_sizes: tuple[int, ...] = (1, 4, 8), out: Path | None = None, threads: int | None = None,
          max_new_tokens: int | None = None, only: tuple[str, ...] = (), timeout_s: float = 1800) -> dict[str, Any]:
    """Run every backend that applies; write latency.json/.md/.png; return the summary line.

    ``max_new_tokens`` caps the tokens decoded per question at most at the artifact's own limit
    (None: the artifact's limit); past it the runtime's context arithmetic would not hold.
    """
    from export.runtime import _default_threads, prompt_text

    art = load_artifact(artifact)
    run = find_run(artifact)
    if model_dir is None and run is not None and (run / "student" / "model" / "config.json").is_file():
        model_dir = run / "student" / "model"
    if model_dir is not None and not (model_dir / "config.json").is_file():
        raise UserError("not a Hugging Face model folder (no config.json)", file=model_dir)
    out = out or (run / "reports" if run is not None else artifact.resolve().parent / "reports")
    qs, source = pick_questions(art, run, questions, n)
    hw = hardware()
    cuda = _cuda_available()
    plans = [p for p in plan_backends(art, model_dir, cuda) if not only or p["name"] in only]
    spec: dict[str, Any] = {
        "artifact": str(artifact), "model_dir": str(model_dir) if model_dir else None, "questions": qs,
        "texts": {q: prompt_text(art, q) for q in dict.fromkeys(qs)}, "chat": bool(art.generation.get("chat")),
        "number_slots": int(art.generation.get("number_slots") or 0),
        "eos_token_id": art.generation["eos_token_id"], "batch_sizes": list(batch_sizes),
        "threads": threads or _default_threads(),
        "max_new_tokens": min(int(max_new_tokens or art.generation["max_new_tokens"]),
                              int(art.generation["max_new_tokens"])),
    }
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="sd-bench-") as tmp:
        if model_dir is not None and any(p["kind"] == "optimum" for p in plans):
            spec["optimum_dir"] = str(_optimum_dir(art, model_dir, Path(tmp)))
        for plan in plans:
            results[plan["name"]] = _spawn(plan, spec, Path(tmp), timeout_s)
    ref = results.get("pytorch", {}).get("outputs")
    for r in results.values():
        outs = r.pop("outputs", None)
        if ref and outs:
            r["agree_with_pytorch"] = round(sum(a == b for a, b in zip(outs, ref, strict=False)) / len(ref), 3)
    report = {
        "artifact": str(artifact), "model_dir": str(model_dir) if model_dir else None,
        "questions": {"source": source, "n": len(qs), "distinct": len(set(qs))},
        "batch_sizes": list(batch_sizes), "threads": spec["threads"], "max_new_tokens": spec["max_new_tokens"],
        "hardware": hw, "versions": versions(), "backends": results,
        "definitions": {
            "ttft_ms_p50": "call start (tokenising included) to the first token, median over batches",
            "ms_per_token": "median interval between decoding steps (one token per unfinished row)",
            "e2e_ms": "per question: the wall time of the call that answered it (its whole batch)",
            "speedup_vs_pytorch": "pytorch e2e p50 at batch 1 / the faster runtime CPU variant's",
            "rss_peak_delta_mb": "peak RSS above the worker's baseline (the backend's imports and load included)"},
    }
    report["gpu_bandwidth"] = _bandwidth(art, results, hw.get("gpu")) if cuda else None
    summary = _summary(results)
    report["summary"] = summary
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "latency.json", report)
    (out / "latency.md").write_text(_markdown(report), encoding="utf-8")
    _plot(report, out / "latency.png")
    return {**summary, "latency_json": str(out / "latency.json")}


def _p50(r: dict[str, Any], b: str = "1") -> float | None:
    return r.get("batches", {}).get(b, {}).get("e2e_ms", {}).get("p50")


def _fastest(results: dict[str, dict[str, Any]], device: str) -> tuple[str, float] | None:
    """Our runtime's fastest variant on ``device`` by batch-1 p50: (backend name, ms)."""
    times: dict[str, float] = {}
    for k, r in results.items():
        p50 = _p50(r)
        if r.get("kind") == "runtime" and r.get("device") == device and p50:
            times[k] = p50
    return min(times.items(), key=lambda kv: kv[1]) if times else None


def _summary(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    best = _fastest(results, "cpu")
    torch_p50 = _p50(results.get("pytorch", {}))
    out: dict[str, Any] = {"speedup_vs_pytorch": round(torch_p50 / best[1], 2) if best and torch_p50 else None,
                           "speedup_backend": best[0] if best else None}
    opt = _p50(results.get("optimum", {}))
    if best and opt:
        out["speedup_vs_optimum"] = round(opt / best[1], 2)
    gpu_best, torch_cuda = _fastest(results, "cuda"), _p50(results.get("pytorch-cuda", {}))
    if gpu_best and torch_cuda:
        out["speedup_vs_pytorch_cuda"] = round(torch_cuda / gpu_best[1], 2)
        out["speedup_cuda_backend"] = gpu_best[0]
    out["ms_per_token"] = {k: r.get("batches", {}).get("1", {}).get("ms_per_token") for k, r in results.items()}
    out["e2e_ms_p50"] = {k: _p50(r) for k, r in results.items()}
    errors = {k: r["error"] for k, r in results.items() if "error" in r}
    if errors:
        out["errors"] = errors
    return out


def _fmt(v: Any) -> str:
    return "—" if v is None or v != v else (f"{v:.2f}" if isinstance(v, float) else str(v))


def _markdown(report: dict[str, Any]) -> str:
    s, hw = report["summary"], report["hardware"]
    lines = [
        "# Latency benchmark", "",
        f"Artifact `{report['artifact']}`; {report['questions']['n']} questions ({report['questions']['source']}); "
        f"greedy, at most {report['max_new_tokens']} new tokens; {report['threads']} threads per backend.", "",
        f"**Speed-up vs PyTorch generate** (p50 end-to-end per question, batch 1): "
        f"{_fmt(s['speedup_vs_pytorch'])}x with `{s['speedup_backend']}`"
        + (f"; vs optimum: {_fmt(s.get('speedup_vs_optimum'))}x" if s.get("speedup_vs_optimum") else "")
        + (f"; on GPU vs PyTorch CUDA: {_fmt(s.get('speedup_vs_pytorch_cuda'))}x"
           if s.get("speedup_vs_pytorch_cuda") else ""), "",
        "| backend | batch | TTFT p50 ms | ms/token | e2e p50 ms | e2e p95 ms | e2e p99 ms | questions/s "
        "| RSS Δ MB | agrees with PyTorch |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in report["backends"].items():
        if "error" in r:
            lines.append(f"| {name} | — | failed: {r['error'][:120]} | | | | | | | |")
            continue
        for b, x in r["batches"].items():
            lines.append(f"| {name} | {b} | {_fmt(x['ttft_ms_p50'])} | {_fmt(x['ms_per_token'])} | "
                         f"{_fmt(x['e2e_ms']['p50'])} | {_fmt(x['e2e_ms']['p95'])} | {_fmt(x['e2e_ms']['p99'])} | "
                         f"{_fmt(x['questions_per_s'])} | {_fmt(r.get('rss_peak_delta_mb'))} | "
                         f"{_fmt(r.get('agree_with_pytorch'))} |")
    bw = report.get("gpu_bandwidth")
    if bw:
        lines += ["", f"GPU bound ({bw['gpu']}, {bw['peak_tb_per_s']} TB/s): weight bytes / bandwidth per token."]
        for name, x in bw["backends"].items():
            lines.append(f"- {name}: {x['weight_bytes'] / 1e6:.1f} MB -> {x['bound_ms_per_token']} ms/token at best; "
                         f"reached {_fmt(x['share_of_bound'])} of it")
    vectors = vector_phrase(hw)
    lines += ["", "## Machine", "", f"- CPU: {hw['cpu']} ({hw['physical_cores']} physical / {hw['logical_cores']} "
              f"logical cores), {hw['memory_gb']} GB" + (f", {vectors}" if vectors else "")]
    if hw.get("gpu"):
        lines.append(f"- GPU: {hw['gpu']}, driver {hw.get('gpu_driver')}, {hw.get('gpu_memory')}")
    lines.append("- " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    lines += ["", "## Definitions", ""] + [f"- `{k}`: {v}" for k, v in report["definitions"].items()]
    return "\n".join(lines) + "\n"


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ok = {k: r for k, r in report["backends"].items() if "batches" in r}
    sizes = [str(b) for b in report["batch_sizes"]]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / max(1, len(ok))
    for i, (name, r) in enumerate(ok.items()):
        vals = [r["batches"].get(b, {}).get("e2e_ms", {}).get("p50", np.nan) for b in sizes]
        ax1.bar(np.arange(len(sizes)) + i * width, vals, width, label=name)
    ax1.set_xticks(np.arange(len(sizes)) + width * (len(ok) - 1) / 2, [f"batch {b}" for b in sizes])
    ax1.set_ylabel("end-to-end ms per question (p50)")
    ax1.legend(fontsize=8)
    names = list(ok)
    ax2.barh(names, [ok[k]["batches"].get("1", {}).get("ms_per_token") or 0 for k in names])
    ax2.set_xlabel("ms per output token (batch 1, median)")
    fig.suptitle(f"latency: {Path(report['artifact']).name}, {report['hardware']['cpu'][:48]}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- a randomly initialised model of Qwen2.5-0.5B's shape ---------------------------------------


def random_qwen05b(root: Path, max_new_tokens: int = 64, config: dict[str, Any] | None = None) -> Path:
    """A run folder with a random model of Qwen2.5-0.5B's public config, exported; returns the artifact.

    No weights are downloaded: the config values are public and the weights random, which is all
    a latency figure needs (greedy decoding of a random model rarely stops early, so every
    question decodes ``max_new_tokens`` tokens). The tokenizer is a small one trained on the
    schema's questions; its ids all index into the 151,936-row embedding. ``config`` replaces
    the shape (the tests use a tiny one).
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from export.build import export_run
    from schemadistill.prompt import completion_text, render_prompt, template_text
    from schemadistill.schema import load_schema
    from student.data import PromptSpec
    from student.model import train_tokenizer

    schema = load_schema(Path(__file__).resolve().parent.parent / "examples" / "ecommerce" / "schema.sql")
    run = root / "qwen05b-random"
    model_dir = run / "student" / "model"
    if not (model_dir / "config.json").is_file():
        atomic_write_json(run / "schema" / "schema.json", schema.to_dict())
        texts = [render_prompt(f"How many rows does {t.qualified_name} have?") + completion_text(
            f"SELECT COUNT(*) FROM {t.qualified_name}") for t in schema.tables]
        tok = train_tokenizer(texts * 3, vocab_size=300)
        cfg = Qwen2Config(**(config or QWEN05B), pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                          eos_token_id=tok.eos_token_id)
        torch.manual_seed(0)
        model = Qwen2ForCausalLM(cfg)
        model.save_pretrained(str(model_dir))
        tok.save_pretrained(str(model_dir))
        spec = PromptSpec("none", "", False, template_text())
        atomic_write_json(model_dir / "student_config.json", {
            "student": "random-qwen2.5-0.5b-shape", "kind": "pretrained", "base": "random", "prompt": spec.to_json(),
            "prompt_schema": "none", "dialect": schema.dialect, "schema_fingerprint": schema.fingerprint,
            "stop": ";", "max_new_tokens": max_new_tokens, "max_length": 256})
        del model
    variants = ("fp32", "fp16") if _cuda_available() else ("fp32", "int8")
    return Path(export_run(run, variants=variants, skip_parity=True)["artifact"])


# -- command line -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m export.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--artifact", type=Path)
    ap.add_argument("--model", type=Path, help="HF model folder (default RUN/student/model)")
    ap.add_argument("--questions", type=Path, help="JSONL with a question per line (default: the run's held-out)")
    # the defaults are the pipeline's (the bench section of the config): `make bench` costs what the stage does
    ap.add_argument("--config", type=Path, help="YAML run config whose bench section gives the defaults below")
    ap.add_argument("--n", type=int, help="questions per backend and batch size (bench.questions)")
    ap.add_argument("--batch-sizes", help="comma-separated (bench.batch_sizes)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--max-new-tokens", type=int, help="at most the artifact's limit (bench.max_new_tokens)")
    ap.add_argument("--backends", help="comma-separated subset, e.g. pytorch,runtime-int8 (bench.backends)")
    ap.add_argument("--timeout-s", type=float, help="seconds per backend (bench.timeout_s)")
    ap.add_argument("--random-qwen05b", action="store_true", help="export and bench a random Qwen2.5-0.5B-shaped model")
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        job = json.loads(a.worker.read_text(encoding="utf-8"))
        if job["plan"]["kind"] == "runtime":  # the lean runtime is timed without torch in the process
            for mod in ("torch", "transformers", "optimum"):
                sys.modules[mod] = None  # type: ignore[assignment]
        atomic_write_json(a.worker_out, run_worker(job["plan"], job["spec"]))
        return 0
    from schemadistill.config import load_config

    cfg = load_config(a.config).bench
    try:
        sizes = tuple(int(x) for x in a.batch_sizes.split(",") if x.strip()) if a.batch_sizes else cfg.batch_sizes
        if not sizes or min(sizes) < 1:
            raise ValueError
    except ValueError:
        raise UserError(f"--batch-sizes {a.batch_sizes!r} is not a list of positive integers",
                        hint="e.g. --batch-sizes 1,4,8") from None
    cfg.batch_sizes = list(sizes)
    for key, value in (("questions", a.n), ("max_new_tokens", a.max_new_tokens), ("timeout_s", a.timeout_s)):
        if value is not None:
            setattr(cfg, key, value)
    if a.backends is not None:
        cfg.backends = [x.strip() for x in a.backends.split(",") if x.strip()]
    cfg.check()
    if a.random_qwen05b:
        out = a.out or Path("runs") / "bench-qwen05b"
        artifact = random_qwen05b(out, cfg.max_new_tokens)
        model = artifact.parent.parent / "student" / "model"
    elif a.artifact is None:
        raise UserError("no artifact given", hint="python -m export.bench --artifact RUN/export/artifact")
    else:
        artifact, model, out = a.artifact, a.model, a.out
    only = tuple(cfg.backends)
    if a.random_qwen05b and not only and _cuda_available():  # 0.5B on CPU backends takes long: GPU only
        only = ("pytorch-cuda", "runtime-fp16-cuda")
    summary = bench(artifact, model, a.questions, cfg.questions, tuple(cfg.batch_sizes), out, a.threads,
                    cfg.max_new_tokens, only, cfg.timeout_s)
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as e:
        print(f"error: {e}" + (f" ({e.location()})" if e.location() else "") + (f"\nhint: {e.hint}" if e.hint else ""),
              file=sys.stderr)
        sys.exit(2)
