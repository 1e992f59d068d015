"""Held-out splits, made once before any training and deterministic by seed.

Two held-out sets measure two different things:

* ``heldout_family``: whole template families the student never sees, i.e. generalisation to
  new query *shapes*. Candidates are phase-2/3 template families with at least
  ``MIN_FAMILY_INSTANCES`` instances. At most one family per group prefix (the name up to the
  first ``_``: never both ``join_2hop`` and ``join_3hop``, which would hide a whole construct),
  and families whose prefix still has a sibling in training come first (the construct stays
  learnable, the held-out shape is new); then phases are balanced, then a seeded draw decides.
* ``heldout_iid``: a share of the *instances* of the remaining families, i.e. unseen values and
  phrasings of known shapes. Allocated per family (largest remainder) so every family with
  enough instances is represented.

An instance (one family, one set of slots and literals) moves as a whole: its phrasings, its
paraphrases and its repair pairs all sit on the same side, so no paraphrase of a held-out
question is ever trained on. Leakage guard on top of that: a held-out pair whose SQL
(normalised by sqlglot, literals kept) or question (case/space-folded) also occurs in training
leaves the held-out set: an iid instance goes back to training whole, a held-out-family pair is
dropped (it cannot be trained on without training its family). Held-out eval files keep only
``kind == "generate"`` pairs and at most ``PER_INSTANCE_CAP`` phrasings per instance (the
template rendering first): more phrasings of one instance add eval time, not information.
Repair pairs of held-out instances are kept apart (``heldout_repair``), never trained on.

Randomness comes from :func:`rank`, a hash of (seed, key), so a split depends on the seed and
the set of pairs, not on the order of lines in ``pairs.jsonl``.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from schemadistill.sqlcheck import SQLParseError, parse_sql

MIN_FAMILY_INSTANCES = 10
PER_INSTANCE_CAP = 2

Row = dict[str, Any]


def rank(seed: int, *parts: object) -> str:
    """A seeded pseudo-random sort key that does not depend on input order."""
    return hashlib.sha1("\x1f".join([str(seed), *map(str, parts)]).encode()).hexdigest()


def group_prefix(family: str) -> str:
    return family.split("_", 1)[0]


def question_key(question: str) -> str:
    return " ".join(str(question).lower().split())


@functools.lru_cache(maxsize=65536)  # phrasings share their SQL: parse each text once
def sql_key(sql: str, dialect: str = "duckdb") -> str:
    """SQL up to formatting and identifier case; literals are kept (they make the instance)."""
    try:
        return parse_sql(sql, dialect).sql(dialect="duckdb", normalize=True)
    except (SQLParseError, ValueError):
        return " ".join(str(sql).split())


@dataclass
class SplitResult:
    train: list[Row]
    heldout_iid: list[Row]
    heldout_family: list[Row]
    heldout_repair: list[Row]  # repairs of held-out instances: neither trained on nor in eval files
    families: list[str]  # the held-out families
    candidates: list[str]  # families that were eligible to be held out
    stats: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _owner_families(rows: list[Row]) -> dict[str, str]:
    """instance -> the family of its generate pairs (repairs carry ``repair_<kind>`` names)."""
    by_inst: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        if r["kind"] == "generate":
            by_inst[r["instance"]][r["family"]] += 1
    return {inst: c.most_common(1)[0][0] for inst, c in by_inst.items()}


def choose_heldout_families(rows: list[Row], k: int, seed: int,
                            min_instances: int = MIN_FAMILY_INSTANCES) -> tuple[list[str], list[str], list[str]]:
    """(held-out families, eligible candidates, notes) as the module docstring describes."""
    gen = [r for r in rows if r["kind"] == "generate"]
    instances: dict[str, set[str]] = defaultdict(set)
    phases: dict[str, Counter[int]] = defaultdict(Counter)
    templated: set[str] = set()
    for r in gen:
        instances[r["family"]].add(r["instance"])
        phases[r["family"]][r["phase"]] += 1
        if r.get("source") == "template":
            templated.add(r["family"])
    # majority phase of a family's pairs, ties to the later phase
    fam_phase = {f: max(c.items(), key=lambda kv: (kv[1], kv[0]))[0] for f, c in phases.items()}
    candidates = sorted(f for f in instances if f in templated and fam_phase[f] in (2, 3)
                        and len(instances[f]) >= min_instances)
    notes: list[str] = []
    if k <= 0:
        return [], candidates, notes
    prefix_size = Counter(group_prefix(f) for f in instances)
    picked: list[str] = []
    used_prefixes: set[str] = set()
    phase_count: Counter[int] = Counter()
    while len(picked) < k:
        options = [f for f in candidates if f not in picked and group_prefix(f) not in used_prefixes]
        if not options:
            break
        best = min(options, key=lambda f: (prefix_size[group_prefix(f)] < 2, phase_count[fam_phase[f]],
                                           rank(seed, "family", f)))
        picked.append(best)
        used_prefixes.add(group_prefix(best))
        phase_count[fam_phase[best]] += 1
    if len(picked) < k:
        notes.append(f"asked for {k} held-out families, found {len(picked)} eligible "
                     f"(phase-2/3 template families with >= {min_instances} instances, "
                     f"one per group prefix; eligible: {candidates or 'none'})")
    return sorted(picked), candidates, notes


def _pick_iid(instances_by_family: dict[str, list[str]], share: float, seed: int) -> set[str]:
    """``share`` of all instances, allocated per family by the largest-remainder method."""
    total = sum(len(v) for v in instances_by_family.values())
    if share <= 0 or total < 2:
        return set()
    target = min(total - 1, max(1, round(share * total)))  # keep at least one instance to train on
    quotas = {f: share * len(v) for f, v in instances_by_family.items()}
    take = {f: math.floor(q) for f, q in quotas.items()}
    rest = sorted(quotas, key=lambda f: (-(quotas[f] - take[f]), rank(seed, "quota", f)))
    for f in rest[: max(0, target - sum(take.values()))]:
        take[f] += 1
    chosen: set[str] = set()
    for f, insts in instances_by_family.items():
        chosen.update(sorted(insts, key=lambda i: rank(seed, "iid", i))[: take[f]])
    return chosen


def _cap_phrasings(rows: list[Row], seed: int, cap: int) -> tuple[list[Row], int]:
    by_inst: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_inst[r["instance"]].append(r)
    kept: list[Row] = []
    for group in by_inst.values():
        # the template's own rendering first, then a seeded pick of the paraphrases
        group.sort(key=lambda r: (r.get("source") != "template", rank(seed, "phrasing", r["id"])))
        kept.extend(group[:cap])
    return kept, len(rows) - len(kept)


def split_pairs(rows: list[Row], heldout_iid: float, heldout_families: int, seed: int,
                per_instance_cap: int = PER_INSTANCE_CAP) -> SplitResult:
    """Split phase-assigned rows (each with ``instance``, ``family``, ``kind``, ``phase``)."""
    owner = _owner_families(rows)

    def fam_of(r: Row) -> str:
        return owner.get(r["instance"]) or str(r["family"])

    families, candidates, notes = choose_heldout_families(rows, heldout_families, seed)
    fam_set = set(families)
    rest_instances: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r["kind"] == "generate" and fam_of(r) not in fam_set:
            rest_instances[fam_of(r)].add(r["instance"])
    iid = _pick_iid({f: sorted(v) for f, v in rest_instances.items()}, heldout_iid, seed)

    by_inst: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_inst[r["instance"]].append(r)
    train = [r for r in rows if fam_of(r) not in fam_set and r["instance"] not in iid]
    train_sql = {sql_key(r["sql"], r["dialect"]) for r in train}
    train_q = {question_key(r["question"]) for r in train}

    def leaks(r: Row) -> bool:
        return sql_key(r["sql"], r["dialect"]) in train_sql or question_key(r["question"]) in train_q

    # iid instances that share SQL or a question with training go back to training whole; that
    # adds keys, which can expose another instance, so repeat until nothing moves
    moved_back = 0
    changed = True
    while changed:
        changed = False
        for inst in sorted(iid):
            if any(leaks(r) for r in by_inst[inst]):
                iid.discard(inst)
                moved_back += 1
                changed = True
                train.extend(by_inst[inst])
                train_sql.update(sql_key(r["sql"], r["dialect"]) for r in by_inst[inst])
                train_q.update(question_key(r["question"]) for r in by_inst[inst])
    if heldout_iid > 0 and rest_instances and not iid:
        notes.append("no instance could be held out for heldout_iid (too few instances or all leak)")

    fam_rows = [r for r in rows if fam_of(r) in fam_set]
    fam_gen = [r for r in fam_rows if r["kind"] == "generate"]
    fam_kept = [r for r in fam_gen if not leaks(r)]
    iid_rows = [r for inst in sorted(iid) for r in by_inst[inst]]
    iid_gen = [r for r in iid_rows if r["kind"] == "generate"]
    iid_eval, capped_iid = _cap_phrasings(iid_gen, seed, per_instance_cap)
    fam_eval, capped_fam = _cap_phrasings(fam_kept, seed, per_instance_cap)
    repairs = [r for r in fam_rows + iid_rows if r["kind"] == "repair"]
    stats = {
        "iid_instances": len(iid),
        "family_instances": len({r["instance"] for r in fam_gen}),
        "leak_iid_instances_moved_to_train": moved_back,
        "leak_family_pairs_dropped": len(fam_gen) - len(fam_kept),
        "phrasings_over_cap_dropped": capped_iid + capped_fam,
        "heldout_repair_pairs": len(repairs),
    }
    return SplitResult(train, iid_eval, fam_eval, repairs, families, candidates, stats, notes)
