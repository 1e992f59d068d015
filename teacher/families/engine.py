"""``generate_candidates``: spread n candidates over the families, bind, render, check, phrase.

Each family gets a share of n proportional to its default weight times the caller's weights
(by family name and by feature). A family draws instances from its own rng (seeded from the
caller's rng and its name), so changing one family's share never changes another family's
instances. An instance is rendered once to DuckDB SQL, transpiled to the schema's dialect and
(when ``view.check``) executed in the sandbox: failing, empty, all-NULL or truncated results are
dropped and the family binds again. Then ``phrasings`` distinct questions are rendered from
different question blocks with re-picked words; they share the instance id.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlglot.errors import SqlglotError

from teacher.families.registry import FAMILIES, FamilySpec
from teacher.pair import Candidate, stable_id
from teacher.render import load, to_dialect
from teacher.slots import SchemaView, Slot, V

MISS_LIMIT = 12  # binds in a row that yield nothing usable before a family is given up


@dataclass
class FamilyStats:
    requested: int = 0
    produced: int = 0
    instances: int = 0
    binds: int = 0
    unbound: int = 0  # bind returned None
    rejected: dict[str, int] = field(default_factory=dict)  # check failures by reason
    skipped: str = ""  # why the family produced nothing (empty when it did)


def family_shares(weights: dict[str, float] | None, families: Iterable[FamilySpec] | None = None
                  ) -> dict[str, float]:
    """Each family's relative share: default weight x weights[name] x the geometric mean of
    weights[feature] over the family's features.

    The mean (not the product) keeps a family's multiplier in the range of the feature weights
    whatever its number of features: weights mined from a query log raise every feature a
    little, and a product would hand families with four features a 100x share. A feature
    weighted 0 still removes every family that uses it.
    """
    w = weights or {}
    out: dict[str, float] = {}
    for spec in families if families is not None else FAMILIES.values():
        s = spec.weight * float(w.get(spec.name, 1.0))
        fw = [float(w.get(f, 1.0)) for f in spec.features]
        if fw:
            s *= math.prod(fw) ** (1.0 / len(fw))
        if s > 0:
            out[spec.name] = s
    return out


def _allocate(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Largest-remainder split of ``total`` by ``shares`` (deterministic, ties by name order)."""
    s = sum(shares.values())
    if s <= 0 or total <= 0:
        return {k: 0 for k in shares}
    raw = {k: total * v / s for k, v in shares.items()}
    out = {k: int(math.floor(x)) for k, x in raw.items()}
    left = total - sum(out.values())
    for k in sorted(raw, key=lambda k: -(raw[k] - out[k]))[:left]:
        out[k] += 1
    return out


def walk(obj: Any) -> Iterable[Slot]:
    if isinstance(obj, Slot):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from walk(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from walk(v)


def canon(obj: Any) -> Any:
    if isinstance(obj, Slot):
        return obj.canon()
    if isinstance(obj, dict):
        return {str(k): canon(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [canon(v) for v in obj]
    if callable(obj):  # lazily built SQL (a sidecar expression): its text, never its repr
        return str(obj())
    return obj if isinstance(obj, (int, float, str, bool)) or obj is None else str(obj)


def _literals(slots: dict[str, Any]) -> list[V]:
    out: list[V] = []
    for s in walk(slots):
        for v in s.values():
            if v not in out:
                out.append(v)
    return out


def check_result(view: SchemaView, sql: str, allow_zero: bool) -> str:
    """'' when ``sql`` runs in the sandbox with a useful result, else a short reason."""
    res = view.executor.run(sql, dialect=view.dialect)
    if not res.ok:
        return f"exec_error:{res.error.kind if res.error else '?'}"
    if not res.rows:
        return "empty_result"
    if res.truncated:
        return "truncated"
    if all(v is None for row in res.rows for v in row):
        return "null_result"
    if not allow_zero and len(res.rows) == 1 and all(v in (0, None, False) for v in res.rows[0]):
        return "zero_result"
    return ""


def _produce(job: tuple[_Family, int]) -> list[list[Candidate]]:
    fam, quota = job
    return fam.produce(quota)


@contextmanager
def _family_threads(view: SchemaView, threads: int) -> Iterator[ThreadPoolExecutor | None]:
    """A pool whose threads each check instances on a connection of their own (None: run inline)."""
    shared: Any = view.executor  # a CachedExecutor (teacher.validate) has twins for other threads
    if threads <= 1 or not hasattr(shared, "sharing"):
        yield None
        return
    forks: list[Any] = []

    def connect() -> None:
        own = shared.inner.fork()
        forks.append(own)
        view.use_in_this_thread(shared.sharing(own))

    try:
        with ThreadPoolExecutor(max_workers=threads, initializer=connect,
                                thread_name_prefix="sd-family") as pool:
            yield pool
    finally:
        for own in forks:
            own.close()


class _Family:
    """One family's generation state across allocation rounds."""

    def __init__(self, spec: FamilySpec, view: SchemaView, seed: int, phrasings: int) -> None:
        self.spec, self.view, self.phrasings = spec, view, phrasings
        self.rng = random.Random(f"{seed}:{spec.name}")
        self.tmpl = load(spec.template)
        self.stats = FamilyStats()
        self.seen: set[str] = set()
        self.misses = 0
        self.done = False

    def produce(self, quota: int) -> list[list[Candidate]]:
        """Instances (each a list of phrasings) until ``quota`` candidates or the family runs dry."""
        out: list[list[Candidate]] = []
        got = 0
        while got < quota and not self.done:
            inst = self._instance(min(self.phrasings, quota - got))
            if inst is None:
                self.misses += 1
                if self.misses >= MISS_LIMIT:
                    self.done = True
                continue
            self.misses = 0
            out.append(inst)
            got += len(inst)
        return out

    def _reject(self, reason: str) -> None:
        self.stats.rejected[reason] = self.stats.rejected.get(reason, 0) + 1

    def _instance(self, k: int) -> list[Candidate] | None:
        spec, view, rng = self.spec, self.view, self.rng
        self.stats.binds += 1
        assert spec.bind is not None
        slots = spec.bind(view, rng)
        if slots is None:
            self.stats.unbound += 1
            return None
        duck = self.tmpl.sql(slots)
        slot_canon = canon(slots)
        instance = stable_id(spec.name, json.dumps(slot_canon, sort_keys=True, default=str), duck)
        if instance in self.seen:
            self._reject("duplicate")
            return None
        self.seen.add(instance)
        try:
            sql = to_dialect(duck, view.dialect)
        except SqlglotError:
            self._reject("transpile_error")
            return None
        if view.check:
            why = check_result(view, sql, spec.allow_zero)
            if why:
                self._reject(why)
                return None
        features = sorted(set(spec.features) | {f for s in walk(slots) for f in getattr(s, "features", ())})
        cands: list[Candidate] = []
        blocks = list(self.tmpl.questions)
        rng.shuffle(blocks)
        questions: list[str] = []
        for i in range(len(blocks) * 2):
            if len(questions) >= k:
                break
            for s in walk(slots):
                s.reword(rng)
            q = self.tmpl.question(blocks[i % len(blocks)], slots, rng)
            if q in questions:
                continue
            questions.append(q)
            protect = [v.text for v in _literals(slots) if v.text and v.text in q]
            meta = {"protect": list(dict.fromkeys(protect)), "slots": slot_canon, "group": spec.group,
                    "features": features, "block": blocks[i % len(blocks)]}
            if sql != duck:
                meta["duckdb_sql"] = duck
            cands.append(Candidate(question=q, sql=sql, family=spec.name, source="template",
                                   instance=instance, phase=spec.phase, meta=meta))
        self.stats.instances += 1
        self.stats.produced += len(cands)
        return cands


def generate_candidates(view: SchemaView, n: int, rng: random.Random,
                        weights: dict[str, float] | None = None, phrasings: int = 3,
                        threads: int = 1) -> list[Candidate]:
    """``n`` template candidates spread over the families (see the module docstring).

    ``view.family_stats`` afterwards holds per-family :class:`FamilyStats` (requested,
    produced, rejections, and why a family was skipped). ``threads`` > 1 runs the families
    of an allocation round side by side, each thread on its own sandbox connection: DuckDB
    checks one family's instance while Python binds and phrases another's. A family's
    instances depend only on its own rng and quota, so the candidates are the same.
    """
    phrasings = max(1, phrasings)
    seed = rng.getrandbits(64)
    shares = family_shares(weights)
    fams = {name: _Family(FAMILIES[name], view, seed, phrasings) for name in shares}
    produced: list[list[Candidate]] = []
    remaining = n
    with _family_threads(view, threads) as pool:
        while remaining > 0:
            active = {k: shares[k] for k, f in fams.items() if not f.done}
            if not active:
                break
            jobs = [(fams[name], quota) for name, quota in _allocate(remaining, active).items() if quota > 0]
            for fam, quota in jobs:
                fam.stats.requested += quota
            made = 0
            batches = pool.map(_produce, jobs) if pool is not None else map(_produce, jobs)
            for batch in batches:  # in allocation order, whichever thread made it
                produced.extend(batch)
                made += sum(len(b) for b in batch)
            remaining = n - sum(len(b) for b in produced)
            if made == 0:
                break
    for f in fams.values():
        if f.stats.produced == 0:
            f.stats.skipped = (f"needs {f.spec.needs}" if f.spec.needs else "no usable binding") + (
                f" (rejected: {f.stats.rejected})" if f.stats.rejected else "")
    view.family_stats = {k: f.stats for k, f in fams.items()}
    rng.shuffle(produced)  # instances in random order; phrasings of one instance stay together
    return [c for inst in produced for c in inst][:n]
