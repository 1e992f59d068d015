"""The curriculum stage: ``pairs.jsonl`` in, phase files, training mixes and held-out sets out.

    from curriculum import build_curriculum
    manifest = build_curriculum(Path("runs/x/teacher/pairs.jsonl"), Path("runs/x/curriculum"),
                                CurriculumConfig(heldout_iid=0.05, heldout_families=3, replay=0.3))

Writes into ``out_dir`` (each file atomically, the manifest last, so a manifest on disk means
every file next to it is complete):

=========================  ====================================================================
``phase{1,2,3}.jsonl``     the training side of each phase, easy to hard (pure, no replay)
``train_phase{k}.jsonl``   the mix phase k is trained on: its own rows plus replay (see mix.py)
``heldout_iid.jsonl``      unseen instances of trained families (generate pairs only)
``heldout_family.jsonl``   families never trained on (generate pairs only)
``heldout_repair.jsonl``   repair pairs of held-out instances (never trained on; evaluated apart)
``manifest.json``          counts per file/phase/family/kind, held-out families, phase moves,
                           leakage guard figures, replay figures, notes, seed, input hash
=========================  ====================================================================

Every written row is the input row with ``phase`` set to the assigned phase, ``phase_hint`` to
the teacher's hint and ``difficulty`` filled in; mix rows add ``replay``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from curriculum.assign import PHASES, assign_phase
from curriculum.mix import BUCKETS, MAX_REPEAT, make_mix, order_easy_to_hard
from curriculum.split import PER_INSTANCE_CAP, split_pairs
from schemadistill.config import CurriculumConfig
from schemadistill.errors import UserError
from schemadistill.io import atomic_write_json, atomic_write_jsonl, read_jsonl, sha256_file
from teacher.pair import stable_id

Row = dict[str, Any]

ORDERING = (f"phase files: easy to hard by difficulty; training mixes: own rows easy to hard in "
            f"{BUCKETS} buckets shuffled inside each bucket, replayed rows interleaved evenly; "
            f"replay drawn uniformly from the union of earlier phases without replacement "
            f"(repeated at most {MAX_REPEAT}x when the earlier phases are too small)")


def _check_config(cfg: CurriculumConfig) -> None:
    if not 0 <= cfg.heldout_iid < 1:
        raise UserError(f"curriculum.heldout_iid={cfg.heldout_iid} must be in [0, 1)")
    if cfg.heldout_families < 0:
        raise UserError(f"curriculum.heldout_families={cfg.heldout_families} must be >= 0")
    if not 0 <= cfg.replay < 1:
        raise UserError(f"curriculum.replay={cfg.replay} must be in [0, 1)",
                        hint="0.3 means 30% of each later phase's mix is replayed earlier material")


def load_pairs(pairs_path: Path) -> tuple[list[Row], list[str]]:
    """Rows of ``pairs.jsonl`` with defaults filled in, and notes about rows that were skipped."""
    if not pairs_path.is_file():
        raise UserError("pairs file not found", file=pairs_path, hint="run the teacher stage first")
    rows: list[Row] = []
    bad: Counter[str] = Counter()
    for raw in read_jsonl(pairs_path):
        if not isinstance(raw, dict):
            bad["not an object"] += 1
            continue
        q, sql = raw.get("question"), raw.get("sql")
        if not isinstance(q, str) or not q.strip() or not isinstance(sql, str) or not sql.strip():
            bad["no question or sql"] += 1
            continue
        kind = raw.get("kind") or "generate"
        if kind not in ("generate", "repair"):
            bad[f"unknown kind {kind!r}"] += 1
            continue
        r = dict(raw)
        r["kind"] = kind
        r["family"] = str(r.get("family") or "unknown")
        r["dialect"] = str(r.get("dialect") or "duckdb")
        r["source"] = str(r.get("source") or "")
        # the teacher's rule for a missing instance: one instance per (family, sql)
        r["instance"] = str(r.get("instance") or stable_id(r["family"], sql))
        r["id"] = str(r.get("id") or stable_id(q, sql, kind, str(r.get("broken_sql") or "")))
        rows.append(r)
    if not rows:
        why = f" ({sum(bad.values())} unusable lines: {dict(bad)})" if bad else ""
        raise UserError(f"no usable pairs in the pairs file{why}", file=pairs_path,
                        hint="the teacher stage wrote no pairs; check its data_report.md")
    notes = [f"skipped {n} line(s): {why}" for why, n in sorted(bad.items())]
    return rows, notes


def _counts(rows: list[Row]) -> dict[str, Any]:
    return {
        "rows": len(rows),
        "instances": len({r["instance"] for r in rows}),
        "by_phase": {str(k): v for k, v in sorted(Counter(r["phase"] for r in rows).items())},
        "by_kind": dict(sorted(Counter(r["kind"] for r in rows).items())),
        "by_family": dict(sorted(Counter(r["family"] for r in rows).items())),
    }


def build_curriculum(pairs_path: Path, out_dir: Path, cfg: CurriculumConfig,
                     manifest_name: str = "manifest.json") -> dict[str, Any]:
    """Assign phases, split, mix and write the files; returns the manifest (see the module doc).

    ``manifest_name``: the pipeline keeps ``manifest.json`` for its own commit record and
    passes ``summary.json``.
    """
    pairs_path, out_dir = Path(pairs_path), Path(out_dir)
    _check_config(cfg)
    rows, notes = load_pairs(pairs_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / manifest_name).unlink(missing_ok=True)  # stale until every file is rewritten

    moves: Counter[str] = Counter()
    move_reasons: Counter[str] = Counter()
    move_examples: list[dict[str, Any]] = []
    unparsed = 0
    for r in rows:
        d = assign_phase(r)
        r["phase_hint"], r["phase"], r["difficulty"] = d.hint, d.phase, d.difficulty
        unparsed += d.parse_error is not None
        if d.moved:
            moves[r["family"]] += 1
            move_reasons.update(d.reasons)
            if len(move_examples) < 10:
                move_examples.append({"id": r["id"], "family": r["family"], "from": d.hint,
                                      "to": d.phase, "reasons": d.reasons, "sql": r["sql"]})
    if unparsed:
        notes.append(f"{unparsed} pair(s) did not parse: kept their phase hint, difficulty 1")

    split = split_pairs(rows, cfg.heldout_iid, cfg.heldout_families, cfg.seed)
    notes += split.notes
    by_phase = {k: [r for r in split.train if r["phase"] == k] for k in PHASES}
    files: dict[str, list[Row]] = {}
    replay: dict[str, Any] = {}
    for k in PHASES:
        files[f"phase{k}"] = order_easy_to_hard(by_phase[k], cfg.seed)
        if not by_phase[k]:
            notes.append(f"phase {k} has no training pairs: phase{k}.jsonl and train_phase{k}.jsonl are empty")
    for k in PHASES:
        earlier = [r for j in PHASES if j < k for r in by_phase[j]]
        mix, stats = make_mix(by_phase[k], earlier, cfg.replay, cfg.seed, k)
        files[f"train_phase{k}"] = mix
        replay[f"train_phase{k}"] = stats
        if stats["replay"] < stats["replay_wanted"]:
            notes.append(f"train_phase{k}: earlier phases too small for replay={cfg.replay}: "
                         f"{stats['replay']} of {stats['replay_wanted']} replay rows")
        elif stats["replay"] > stats["replay_unique"]:
            notes.append(f"train_phase{k}: replay repeats earlier rows ({stats['replay_unique']} distinct "
                         f"in {stats['replay']})")
    files["heldout_iid"] = order_easy_to_hard(split.heldout_iid, cfg.seed)
    files["heldout_family"] = order_easy_to_hard(split.heldout_family, cfg.seed)
    files["heldout_repair"] = order_easy_to_hard(split.heldout_repair, cfg.seed)

    for name, data in files.items():
        atomic_write_jsonl(out_dir / f"{name}.jsonl", data)
    manifest: dict[str, Any] = {
        "input": {"path": str(pairs_path), "sha256": sha256_file(pairs_path), "rows": len(rows)},
        "seed": cfg.seed,
        "config": asdict(cfg),
        "heldout_families": split.families,
        "heldout_family_candidates": split.candidates,
        "counts": {name: _counts(data) for name, data in files.items()},
        "train_total": _counts(split.train),
        "phase_moves": {"count": sum(moves.values()), "by_family": dict(sorted(moves.items())),
                        "by_reason": dict(sorted(move_reasons.items())), "examples": move_examples},
        "leakage": split.stats,
        "heldout_per_instance_cap": PER_INSTANCE_CAP,
        "replay": replay,
        "ordering": ORDERING,
        "notes": notes,
    }
    atomic_write_json(out_dir / manifest_name, manifest)
    return manifest
