"""Training mixes: each phase's own rows, easy to hard in buckets, with earlier phases replayed.

Plain easy-to-hard ordering in one run forgets early material and does not beat shuffling
(docs/DESIGN.md); separate runs per phase with replay of earlier phases do. So the mix of
phase k is:

* the phase's own rows sorted by difficulty and cut into ``BUCKETS`` equal, contiguous
  buckets, shuffled (seeded) *inside* each bucket: the run still moves from easy to hard, but
  neighbouring examples are not all the same shape, so a trainer that keeps the file's order
  does not see long runs of one template;
* ``replay`` of the mix's rows drawn from the training rows of phases < k (uniformly from their
  union, so bigger earlier phases give more), sampled without replacement; only when the
  earlier phases are too small are they repeated, at most ``MAX_REPEAT`` times each, and the
  shortfall is reported;
* replayed rows interleaved evenly through the mix (replayed row i sits at fraction
  (i + 0.5) / replay_n of the file), never bunched at the start or the end.

Each row of a mix carries ``replay`` (bool); a replayed row keeps its own ``phase``.
"""

from __future__ import annotations

from typing import Any

from curriculum.split import rank

BUCKETS = 4
MAX_REPEAT = 3

Row = dict[str, Any]


def order_easy_to_hard(rows: list[Row], seed: int) -> list[Row]:
    """Sorted by difficulty; ties in a seeded order (independent of the input order)."""
    return sorted(rows, key=lambda r: (r["difficulty"], rank(seed, "order", r["id"], r["question"])))


def bucketed(rows: list[Row], seed: int, buckets: int = BUCKETS) -> list[Row]:
    ordered = order_easy_to_hard(rows, seed)
    n = len(ordered)
    out: list[Row] = []
    for b in range(buckets):
        chunk = ordered[b * n // buckets: (b + 1) * n // buckets]
        out.extend(sorted(chunk, key=lambda r: rank(seed, "bucket", r["id"], r["question"])))
    return out


def replay_count(own: int, share: float) -> int:
    """Replayed rows so that they are ``share`` of own + replayed."""
    if own <= 0 or share <= 0:
        return 0
    return round(own * share / (1.0 - share))


def draw_replay(pool: list[Row], n: int, seed: int, phase: int) -> list[Row]:
    """``n`` rows of ``pool``, without replacement while the pool lasts (capped repeats after)."""
    if not pool or n <= 0:
        return []
    out: list[Row] = []
    for rep in range(MAX_REPEAT):
        # every pass a fresh seeded order, so repeats are not the same prefix again
        order = sorted(pool, key=lambda r: rank(seed, "replay", phase, rep, r["id"], r["question"]))
        out.extend(order[: n - len(out)])
        if len(out) >= n:
            break
    return out


def interleave(own: list[Row], replay: list[Row]) -> list[Row]:
    """Spread ``replay`` evenly through ``own`` (keeping each list's order)."""
    if not replay:
        return list(own)
    if not own:
        return list(replay)
    placed = [((i + 0.5) / len(own), 0, r) for i, r in enumerate(own)]
    placed += [((i + 0.5) / len(replay), 1, r) for i, r in enumerate(replay)]
    placed.sort(key=lambda t: (t[0], t[1]))
    return [r for _, _, r in placed]


def make_mix(own: list[Row], earlier: list[Row], share: float, seed: int,
             phase: int) -> tuple[list[Row], dict[str, Any]]:
    """The training file of one phase and its figures (asked and actual replay)."""
    wanted = replay_count(len(own), share) if earlier else 0
    replayed = draw_replay(earlier, wanted, seed, phase)
    mix = interleave([{**r, "replay": False} for r in bucketed(own, seed)],
                     [{**r, "replay": True} for r in replayed])
    from_phases: dict[str, int] = {}
    for r in replayed:
        from_phases[str(r["phase"])] = from_phases.get(str(r["phase"]), 0) + 1
    stats: dict[str, Any] = {
        "own": len(own), "replay": len(replayed), "replay_wanted": wanted,
        "replay_share": round(len(replayed) / len(mix), 4) if mix else 0.0,
        "replay_unique": len({(r["id"], r["question"]) for r in replayed}),
        "replay_from_phases": from_phases, "pool": len(earlier),
    }
    return mix, stats
