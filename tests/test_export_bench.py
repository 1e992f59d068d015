"""The latency benchmark end to end on a tiny exported student (structure only, never speed).

    .venv/bin/pytest -q tests/test_export_bench.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from export_support import student_run
from tiny_models import one_thread  # noqa: F401  (autouse: one torch thread)

from export.artifact import load_artifact
from export.bench import HBM_TBPS, _bandwidth, find_run, pick_questions
from export.build import export_run
from schemadistill.hardware import vector_phrase

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = {"pytorch", "optimum", "runtime-fp32", "runtime-int8"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)  # module fixtures run before the autouse one_thread fixture
    try:
        path = student_run(tmp_path_factory.mktemp("bench"))
        export_run(path, variants="fp32,int8", skip_parity=True)
    finally:
        torch.set_num_threads(n)
    return path


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "export.bench", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


@pytest.mark.slow
def test_bench_writes_the_report(run: Path) -> None:
    r = _bench("--artifact", str(run / "export" / "artifact"), "--n", "3", "--batch-sizes", "1,2", "--threads", "1")
    assert r.returncode == 0, r.stderr
    line = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(line["ms_per_token"]) == BACKENDS and set(line["e2e_ms_p50"]) == BACKENDS
    assert isinstance(line["speedup_vs_pytorch"], float) and line["speedup_backend"] in ("runtime-fp32", "runtime-int8")
    assert "errors" not in line
    reports = run / "reports"  # the default: RUN/reports
    report = json.loads((reports / "latency.json").read_text(encoding="utf-8"))
    assert report["questions"]["n"] == 3 and "heldout" in report["questions"]["source"]
    assert report["hardware"]["cpu"] and report["versions"]["onnxruntime"]
    assert report["summary"]["speedup_vs_pytorch"] == line["speedup_vs_pytorch"]
    for name in BACKENDS:
        b = report["backends"][name]
        assert set(b["batches"]) == {"1", "2"} and b["rss_peak_delta_mb"] is not None
        # fp32 backends run the same weights greedily: the same answers; int8 runs other weights, and on
        # a tiny random model its argmax flips on near-ties (what it costs is the parity gate's business)
        agree = b["agree_with_pytorch"]
        assert (agree == 1.0) if name != "runtime-int8" else (0.0 <= agree <= 1.0), (name, agree)
        for x in b["batches"].values():
            assert {"ttft_ms_p50", "ms_per_token", "e2e_ms", "questions_per_s"} <= x.keys()
            assert set(x["e2e_ms"]) == {"p50", "p95", "p99", "mean"}
    assert report["gpu_bandwidth"] is None  # no CUDA here
    md = (reports / "latency.md").read_text(encoding="utf-8")
    assert "| runtime-int8 | 2 |" in md and "Speed-up vs PyTorch" in md
    phrase = vector_phrase(report["hardware"])  # the machine line words the vector units as the training report does
    assert phrase is None or f"GB, {phrase}" in md
    assert (reports / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_questions_and_bad_arguments(run: Path, tmp_path: Path) -> None:
    art = load_artifact(run / "export" / "artifact")
    assert find_run(run / "export" / "artifact") == run
    qs, source = pick_questions(art, run, None, 5)
    assert len(qs) == 5 and "heldout" in source  # two held-out questions, cycled
    qs, source = pick_questions(art, None, None, 4)
    assert len(qs) == 4 and "schema" in source and "ecommerce.users" in " ".join(qs)
    qfile = tmp_path / "q.jsonl"
    qfile.write_text('{"question": "How many users?", "sql": "SELECT 1"}\n', encoding="utf-8")
    assert pick_questions(art, run, qfile, 2) == (["How many users?"] * 2, str(qfile))
    r = _bench("--artifact", str(run / "export" / "artifact"), "--batch-sizes", "0,x")
    assert r.returncode == 2 and "batch-sizes" in r.stderr and "Traceback" not in r.stderr
    r = _bench("--artifact", str(tmp_path / "missing"))
    assert r.returncode == 2 and "not found" in r.stderr


def test_bandwidth_bound_uses_the_gpu_table(run: Path) -> None:
    art = load_artifact(run / "export" / "artifact")
    results = {"runtime-fp32-cuda": {"device": "cuda", "variant": "fp32", "batches": {"1": {"ms_per_token": 0.5}}},
               "runtime-int8": {"device": "cpu", "batches": {"1": {"ms_per_token": 0.5}}}}
    assert dict(HBM_TBPS)["H200"] == 4.8
    sxm = _bandwidth(art, results, "NVIDIA H100 80GB HBM3")
    pcie = _bandwidth(art, results, "NVIDIA H100 PCIe")
    assert sxm and pcie and (sxm["peak_tb_per_s"], pcie["peak_tb_per_s"]) == (3.35, 2.0)
    rec = sxm["backends"]["runtime-fp32-cuda"]
    assert set(sxm["backends"]) == {"runtime-fp32-cuda"} and rec["weight_bytes"] > 0
    assert rec["share_of_bound"] == pytest.approx(rec["bound_ms_per_token"] / 0.5, rel=1e-2)
    assert _bandwidth(art, results, "Some Other GPU") is None


def test_random_qwen_shape_exports(tmp_path: Path) -> None:
    """--random-qwen05b's path (random Qwen2 of a given shape -> artifact), at a tiny shape."""
    from export.bench import QWEN05B, random_qwen05b
    from export.runtime import Runtime

    tiny = {**QWEN05B, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "num_key_value_heads": 1, "intermediate_size": 64, "vocab_size": 1000, "max_position_embeddings": 256}
    artifact = random_qwen05b(tmp_path, max_new_tokens=8, config=tiny)
    art = load_artifact(artifact)
    assert art.io["vocab_size"] == 1000 and art.io["max_positions"] == 256 and "fp32" in art.variants
    with Runtime(artifact, variant="fp32", threads=1) as rt:
        ids = rt.decode_ids([rt.encode("How many users are there?").ids], 8)
    assert 1 <= len(ids[0]) <= 8
    assert find_run(artifact) == tmp_path / "qwen05b-random"
