"""The parity gate: an exported variant ships only if it writes what the PyTorch student writes.

    schemadistill export runs/ecommerce               # runs the gate; --skip-parity to skip it

    from export.parity import parity_rows, torch_predictions, check_parity
    rows = parity_rows(run_dir, limit=200)
    ref = torch_predictions(run_dir / "student" / "model", [r["question"] for r in rows], 160)
    report = check_parity(artifact_dir, rows, ref, executor, schema, ("fp32", "int8"), 160)

On the held-out questions (``RUN/curriculum/heldout_iid.jsonl`` + ``heldout_family.jsonl``, a
seeded sample of at most ``limit``), each variant decodes greedily through the lean runtime
(``export.runtime.Runtime``) and is compared with PyTorch greedy (``student.infer``):

* fp32 must write the identical SQL for every question: the graph is the same computation,
  so any difference is an export bug (masking, positions, cache layout, tokenizer), not noise;
* int8 and fp16 may word a query differently, but their execution accuracy on the sandbox
  (``schemadistill.evaluate``) may fall at most ``tolerance`` (1 point) below PyTorch's, unless
  the fall is within noise: of the answers that differ in correctness, the variant lost ``b``
  that PyTorch got right and won ``c`` that PyTorch got wrong, and a fall fails the gate only
  when ``b`` against ``c`` is unlikely under a fair coin (one-sided sign test, p < ``ALPHA``).
  On 200 questions a 1-point rule alone is two answers: a tiny model's int8 copy lost 4 and won
  1 (1.5 points, p = 0.19) on a run whose PyTorch and int8 scored 44.5% and 43.0%, and failed a
  29-minute pipeline at its last step, while a broken quantisation loses tens. Being better is
  no failure.

Every question is asked as a plain question (no repair context): that is what the runtime
answers, and both sides then see the same prompt. fp16 is checked on CUDA when onnxruntime has
the CUDA provider; on a CPU-only machine it is recorded as "not checked: no CUDA provider"
(``fp16_on_cpu=True`` checks it on CPU kernels instead, which the tests use).
A failing gate raises :class:`ExportGateError` naming each failing variant and its first
differing example, after the report is complete.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemadistill.errors import UserError
from schemadistill.io import read_jsonl

HELDOUT_FILES = ("heldout_iid.jsonl", "heldout_family.jsonl")
TOLERANCE = 0.01  # execution accuracy, as a fraction: one point
ALPHA = 0.05  # a fall beyond the tolerance must also be unlikely as noise (sign test)
NOT_CHECKED_FP16 = "not checked: no CUDA provider"


@dataclass
class ExportGateError(UserError):
    """A variant failed the parity gate (the CLI prints it and exits non-zero)."""

    failures: list[str] = field(default_factory=list)
    report: dict[str, Any] | None = None


def parity_rows(run_dir: Path, limit: int = 200, seed: int = 0) -> list[dict[str, Any]]:
    """Held-out rows (question + gold sql) of the run, a seeded sample of at most ``limit``."""
    cur = Path(run_dir) / "curriculum"
    rows: list[dict[str, Any]] = []
    for name in HELDOUT_FILES:
        if (cur / name).is_file():
            rows += [r for r in read_jsonl(cur / name) if r.get("question") and r.get("sql")]
    if not rows:
        raise UserError("no held-out questions to check the export against", file=cur,
                        hint="run the curriculum stage first, or export with --skip-parity")
    if 0 < limit < len(rows):  # a sample, not the first N: every split and family has a chance
        keep = sorted(random.Random(seed).sample(range(len(rows)), limit))
        rows = [rows[i] for i in keep]
    return rows


def torch_predictions(model_dir: Path, questions: Sequence[str], max_new_tokens: int,
                      batch_size: int = 32) -> list[str]:
    """PyTorch greedy SQL of the saved student, in fp32 like the reference graph."""
    from student.infer import load_student, predict

    student = load_student(Path(model_dir))
    student.model.float()  # a merged LoRA student may be saved in bf16; the graph is fp32
    return predict(student.model, student.tokenizer, student.spec, [{"question": q} for q in questions],
                   max_new_tokens=max_new_tokens, batch_size=batch_size)


def onnx_predictions(artifact_dir: Path, variant: str, questions: Sequence[str], max_new_tokens: int,
                     provider: str | None = None) -> list[str]:
    """Greedy SQL of one variant through the lean runtime (the code a service runs)."""
    from export.runtime import Runtime

    return list(Runtime(artifact_dir, variant=variant, provider=provider).generate(list(questions),
                                                                                    max_new_tokens))


def _wrong(report: dict[str, Any]) -> Counter[str]:
    """The questions an evaluation report scored wrong (``score`` lists every failure)."""
    return Counter(f["question"] for f in report.get("failures", []))


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def score(rows: Sequence[dict[str, Any]], preds: Sequence[str], executor: Any, schema: Any,
          dialect: str) -> dict[str, Any]:
    from schemadistill.evaluate import evaluate

    items = [{"question": r["question"], "gold_sql": r["sql"], "pred_sql": p, "family": r.get("family", ""),
              "phase": r.get("phase"), "difficulty": r.get("difficulty")} for r, p in zip(rows, preds, strict=True)]
    return evaluate(items, executor, schema, dialect, max_failures=len(items))  # every failure: the sign test


def _first_diff(questions: Sequence[str], ref: Sequence[str], got: Sequence[str]) -> dict[str, str] | None:
    for q, a, b in zip(questions, ref, got, strict=True):
        if a != b:
            return {"question": q, "pytorch": a, "onnx": b}
    return None


def sign_test(lost: int, gained: int) -> float:
    """P(at least ``lost`` of ``lost + gained`` coin flips come up "lost"): one-sided sign test."""
    n = lost + gained
    return sum(math.comb(n, k) for k in range(lost, n + 1)) / 2 ** n if n else 1.0


def judge(variant: str, ref: Sequence[str], got: Sequence[str], questions: Sequence[str],
          ref_acc: float | None, acc: float | None, tolerance: float = TOLERANCE,
          lost: int | None = None, gained: int | None = None) -> str | None:
    """The gate's verdict for one variant: None when it passes, else one line saying why.
    ``lost``/``gained``: answers right with PyTorch only / with the variant only (when known, a
    fall beyond the tolerance must also pass the sign test to fail)."""
    diff = _first_diff(questions, ref, got)
    n_diff = sum(a != b for a, b in zip(ref, got, strict=True))
    example = (f"; first difference: question {diff['question']!r}: PyTorch wrote {diff['pytorch']!r}, "
               f"ONNX {variant} wrote {diff['onnx']!r}") if diff else ""
    if variant == "fp32":
        if n_diff:
            return f"fp32 wrote different SQL than PyTorch for {n_diff} of {len(ref)} questions{example}"
        return None
    if ref_acc is not None and acc is not None and ref_acc - acc > tolerance + 1e-9:
        odds = ""
        if lost is not None and gained is not None:
            p = sign_test(lost, gained)
            if p >= ALPHA:
                return None  # within noise
            odds = f"; it lost {lost} right answers and won {gained} (sign test p = {p:.3f})"
        return (f"{variant} execution accuracy {acc:.1%} is {100 * (ref_acc - acc):.1f} points below PyTorch's "
                f"{ref_acc:.1%} (allowed: {100 * tolerance:.0f}){odds}; {n_diff} of {len(ref)} answers "
                f"differ{example}")
    return None


def _provider_for(variant: str, providers: Sequence[str], fp16_on_cpu: bool) -> tuple[str | None, str]:
    """(provider to check the variant on, or None when it cannot be checked here; a note)."""
    if variant == "fp16":
        if "CUDAExecutionProvider" in providers:
            return "CUDAExecutionProvider", ""
        if fp16_on_cpu:
            return "CPUExecutionProvider", "fp16 checked on CPU kernels"
        return None, NOT_CHECKED_FP16
    return "CPUExecutionProvider", ""


def check_parity(artifact_dir: Path, rows: Sequence[dict[str, Any]], reference: Sequence[str], executor: Any,
                 schema: Any, variants: Sequence[str], max_new_tokens: int, *, tolerance: float = TOLERANCE,
                 fp16_on_cpu: bool = False, raise_on_failure: bool = True) -> dict[str, Any]:
    """Run the gate on an artifact folder; returns the report (also on failure, in the error).

    ``reference`` is PyTorch's SQL for ``rows`` (:func:`torch_predictions`).
    """
    questions = [r["question"] for r in rows]
    dialect = getattr(schema, "dialect", None) or "duckdb"
    ref_score = score(rows, reference, executor, schema, dialect)
    ref_acc = ref_score.get("execution_accuracy")
    ref_wrong = _wrong(ref_score)
    report: dict[str, Any] = {
        "n": len(rows), "tolerance_points": 100 * tolerance, "max_new_tokens": max_new_tokens,
        "pytorch": {"execution_accuracy": ref_acc, "valid_sql_rate": ref_score.get("valid_sql_rate")},
        "variants": {},
    }
    providers = available_providers()
    failures: list[str] = []
    for variant in variants:
        provider, note = _provider_for(variant, providers, fp16_on_cpu)
        if provider is None:
            report["variants"][variant] = {"checked": False, "note": note}
            continue
        t0 = time.perf_counter()
        got = onnx_predictions(Path(artifact_dir), variant, questions, max_new_tokens, provider)
        seconds = time.perf_counter() - t0
        s = score(rows, got, executor, schema, dialect)
        wrong = _wrong(s)
        lost, gained = sum((wrong - ref_wrong).values()), sum((ref_wrong - wrong).values())
        verdict = judge(variant, reference, got, questions, ref_acc, s.get("execution_accuracy"), tolerance,
                        lost, gained)
        rec: dict[str, Any] = {
            "checked": True, "provider": provider, "passed": verdict is None,
            "identical": sum(a == b for a, b in zip(reference, got, strict=True)),
            "execution_accuracy": s.get("execution_accuracy"), "valid_sql_rate": s.get("valid_sql_rate"),
            "seconds": round(seconds, 2), "first_difference": _first_diff(questions, reference, got),
            "lost": lost, "gained": gained, "sign_test_p": round(sign_test(lost, gained), 4),
        }
        if note:
            rec["note"] = note
        if verdict:
            rec["failure"] = verdict
            failures.append(verdict)
        report["variants"][variant] = rec
    report["passed"] = not failures
    if failures and raise_on_failure:
        raise ExportGateError(
            "the export failed the parity gate:\n  - " + "\n  - ".join(failures), file=artifact_dir,
            hint="the artifact was not installed. fp32 differences mean an export bug (report it with "
                 "export.log); int8/fp16 accuracy drops: export without that variant (--variants) or "
                 "train longer so the model is less brittle", failures=failures, report=report)
    return report
