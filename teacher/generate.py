"""The teacher stage: candidates -> validated, deduplicated pairs (+ repairs) on disk.

    schemadistill generate examples/ecommerce/schema.sql --out runs/ecommerce/teacher --n 3000
    from teacher.generate import generate
    summary = generate("examples/ecommerce/schema.sql", Path("sandbox.duckdb"), Path("out"), TeacherConfig())

Steps: template candidates from the families (``phrasings_per_instance`` questions each), then
``paraphrases_per_question`` paraphrases of every question (offline rules, or the LLM when
``cfg.name`` is ``openai:MODEL``, which also writes ``llm_pairs`` new pairs), plus the user's
example pairs. All are validated and deduplicated (teacher.validate) until ``cfg.n`` generate
pairs are kept; then ``repair_share`` of that many error-repair pairs (teacher.repair) are made
and validated too.

Writes into ``out_dir``: ``pairs.jsonl`` (one Pair per line, in acceptance order: examples,
then template instances with their paraphrases, then repairs), ``rejects.jsonl``,
``data_report.md`` and ``manifest.json``.

Resumable: candidates are validated in chunks; after each chunk the kept pairs and rejects are
appended (and fsynced) to ``pairs.partial.jsonl`` / ``rejects.partial.jsonl`` and
``progress.json`` records how far it got. ``resume=True`` reloads those and continues after the
last finished chunk; the candidate stream is a pure function of (schema, sandbox, cfg,
examples), so the result is the same as an uninterrupted run. Final files are written
atomically at the end, then the partials are removed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from schemadistill.config import TeacherConfig
from schemadistill.errors import UserError
from schemadistill.io import JsonlAppender, atomic_write_json, atomic_write_jsonl, read_jsonl
from schemadistill.sandbox import Executor
from schemadistill.schema.model import Schema
from teacher.pair import Candidate, Pair, Reject
from teacher.report import schema_coverage, write_report
from teacher.sql_facts import FactsPool
from teacher.validate import CachedExecutor, Collector, Validator, normalise_question

CHUNK = 500  # candidates validated between two progress markers
OVERSHOOT = 1.1  # template candidates asked for per generate pair wanted (some get rejected)
MAX_ROUNDS = 4  # top-up rounds when rejects leave the run short of cfg.n
VARIANT_SHARE = 0.1  # most variants of EXAMPLES as a share of teacher.n

PARTIAL_PAIRS, PARTIAL_REJECTS, PROGRESS = "pairs.partial.jsonl", "rejects.partial.jsonl", "progress.json"


def generate(schema_path_or_schema: str | Path | Schema, sandbox_db: Path, out_dir: Path, cfg: TeacherConfig,
             examples: Path | None = None, resume: bool = False, *, progress: bool = True,
             chunk_size: int = CHUNK, manifest_name: str = "manifest.json") -> dict[str, Any]:
    """Run the teacher; returns the summary figures (also written to ``manifest_name``).

    The pipeline passes another ``manifest_name``: its own ``manifest.json`` is the stage's
    commit record there.
    """
    # Masking literals makes sqlglot's generator warn ("LIST_SORT only takes literal orders"):
    # noise for a user watching the progress bar, so it is muted for the run.
    sqlglot_log = logging.getLogger("sqlglot")
    level = sqlglot_log.level
    sqlglot_log.setLevel(logging.ERROR)
    try:
        return _generate(schema_path_or_schema, sandbox_db, out_dir, cfg, examples, resume, progress,
                         chunk_size, manifest_name)
    finally:
        sqlglot_log.setLevel(level)


def _generate(schema_path_or_schema: str | Path | Schema, sandbox_db: Path, out_dir: Path, cfg: TeacherConfig,
              examples: Path | None, resume: bool, progress: bool, chunk_size: int,
              manifest_name: str) -> dict[str, Any]:
    started = time.perf_counter()
    if cfg.name.lower() != "offline" and not cfg.name.lower().startswith("openai:"):
        raise UserError(f"unknown teacher '{cfg.name}'", hint="use offline or openai:MODEL")
    schema = _load(schema_path_or_schema)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dialect = schema.dialect or "duckdb"
    timing: dict[str, float] = {}
    threads = cfg.threads if cfg.threads > 0 else (os.cpu_count() or 1)
    # More than one core: a worker process computes the validator's static checks while this
    # one runs DuckDB (started first, so its start-up overlaps the profiling below).
    with Executor(sandbox_db, timeout_s=cfg.timeout_s, row_cap=cfg.row_cap, threads=threads) as raw, \
            (FactsPool(schema, dialect) if threads > 1 else nullcontext()) as facts_pool:
        executor: Any = CachedExecutor(raw)  # one execution per distinct statement, run-wide
        t = time.perf_counter()
        run = _Run(schema, executor, out_dir, cfg, dialect, examples, progress, chunk_size)
        run.threads = threads
        run.validator.facts_pool = facts_pool
        run.stream_key = _stream_key(cfg, Path(sandbox_db), examples)
        timing["setup (lexicon, profiling)"] = time.perf_counter() - t
        run.validate_all(resume)
        timing.update(run.timing)
        pairs, rejects = run.collector.kept, run.collector.rejects
        summary = run.summary(time.perf_counter() - started, timing)
        t = time.perf_counter()
        atomic_write_jsonl(out_dir / "pairs.jsonl", run.pair_rows)
        atomic_write_jsonl(out_dir / "rejects.jsonl", (r.to_json() for r in rejects))
        from teacher.mined_filters import save_filters

        save_filters(run.mined_filters, out_dir)  # for grounding (evaluations, values.json)
        write_report(out_dir / "data_report.md", pairs, rejects, schema, summary)
        timing["write"] = time.perf_counter() - t
        summary["seconds"] = round(time.perf_counter() - started, 3)
        atomic_write_json(out_dir / manifest_name, summary)
        for name in (PARTIAL_PAIRS, PARTIAL_REJECTS, PROGRESS):
            (out_dir / name).unlink(missing_ok=True)
    return summary


def _load(src: str | Path | Schema) -> Schema:
    if isinstance(src, Schema):
        return src
    from schemadistill.schema import load_schema

    return load_schema(src)


def resolve_sql_style(setting: str, mined: str | None) -> str:
    """``teacher.sql_style`` as the run uses it: ``auto`` is the examples' form, else trunc."""
    from teacher.families.compose import TIME_STYLES

    choices = ("auto", "varied", *TIME_STYLES)
    if setting not in choices:
        raise UserError(f"teacher.sql_style={setting!r} is not a style",
                        hint=f"choose from {', '.join(choices)}, e.g. --set teacher.sql_style=trunc")
    if setting == "auto":
        return mined or "trunc"
    return setting


class _Run:
    """One teacher run: the candidate stream, the validator, the collector and the partial files."""

    def __init__(self, schema: Schema, executor: Executor, out_dir: Path, cfg: TeacherConfig, dialect: str,
                 examples: Path | None, progress: bool, chunk_size: int) -> None:
        from teacher.lexicon import Lexicon
        from teacher.slots import SchemaView

        self.schema, self.executor, self.out, self.cfg, self.dialect = schema, executor, out_dir, cfg, dialect
        self.progress, self.chunk_size = progress, max(1, chunk_size)
        self.timing: defaultdict[str, float] = defaultdict(float)
        self.lexicon = Lexicon(schema, seed=cfg.seed)
        try:
            ref = dt.date.fromisoformat(cfg.reference_date) if cfg.reference_date else None
        except ValueError:
            raise UserError(f"teacher.reference_date {cfg.reference_date!r} is not a date",
                            hint="write it as YYYY-MM-DD, e.g. --set teacher.reference_date=2024-12-31") from None
        self.view = SchemaView(schema, executor, self.lexicon, reference_date=ref)
        if self.view.problems:  # loud: these starve whole families of pairs
            import warnings

            warnings.warn(f"{len(self.view.problems)} profiling queries of the sandbox failed, so families "
                          f"over those columns are skipped; first: {self.view.problems[0]}", UserWarning,
                          stacklevel=2)
        self.validator = Validator(schema, executor, dialect, cfg)
        self.collector = Collector(self.validator)
        self.llm: Any = None
        if cfg.name.lower().startswith("openai:"):
            from teacher.llm import OpenAITeacher

            self.llm = OpenAITeacher(cfg.name, out_dir / "llm_cache", cfg)
        self.paraphraser: Any = None
        self.examples: list[Candidate] = []
        self.example_variants: list[Candidate] = []  # the examples with other values, periods, ...
        self.shots: list[tuple[str, str]] = []
        self.weights: dict[str, float] | None = None
        mined_style: str | None = None
        self.mined_metrics: list[Any] = []  # the user's metric definitions read off EXAMPLES
        self.mined_filters: list[Any] = []  # the user's named conditions read off EXAMPLES
        if examples is not None:
            from teacher.examples import load_examples, mine_patterns, mine_time_style
            from teacher.mined_metrics import mine_metrics

            loaded = load_examples(Path(examples), schema)
            self.examples = [c for c in loaded if c.question.strip()]
            self.shots = [(c.question, c.sql) for c in loaded]  # log queries too: few-shot material
            if loaded:
                self.weights = mine_patterns([c.sql for c in loaded], dialect).family_weights()
                mined_style = mine_time_style(c.sql for c in loaded)
                self.mined_metrics = mine_metrics([(c.question, c.sql) for c in loaded], schema)
                self.view.add_metrics(self.mined_metrics)
                from teacher.mined_filters import mine_filters

                stated = {(f.table, f.sql.lower()) for f in schema.filters}  # the sidecar's win
                self.mined_filters = [f for f in mine_filters([(c.question, c.sql) for c in loaded], schema)
                                      if (f.table, f.sql.lower()) not in stated]
                self.view.add_named_filters(self.mined_filters)
                from teacher.example_variants import vary_examples

                # at most a tenth of the pairs, so a small run is not all variants of a few examples
                per = min(cfg.example_variants, int(VARIANT_SHARE * cfg.n) // max(1, len(self.examples)))
                self.example_variants = vary_examples(self.examples, self.view, random.Random(f"{cfg.seed}:variants"),
                                                      per)
        self.time_style = resolve_sql_style(cfg.sql_style, mined_style)
        self.view.time_style = None if self.time_style == "varied" else self.time_style
        self.family_stats: dict[str, Any] = {}
        self.rounds: list[int] = []  # template candidates asked for in each round
        self.round_kept: list[int] = []  # generate pairs kept by the end of each round
        self.n_gen = self.n_rep = 0  # kept generate / repair pairs
        self.n_candidates = self.n_repair_candidates = self.repair_target = 0
        self._last_instance: str | None = None
        self.pair_rows: list[dict[str, Any]] = []  # Pair.to_json of collector.kept, in order
        self._bar_step: Any = None
        self.stream_key = ""
        self.threads = 1  # family threads (teacher.threads, resolved)

    # -- the candidate stream ---------------------------------------------------------------
    def _round(self, r: int, n_templates: int) -> list[Candidate]:
        """Round ``r``'s candidates, grouped by instance (a pure function of seed, r and size)."""
        from teacher.families import generate_candidates

        t = time.perf_counter()
        rng = random.Random(f"{self.cfg.seed}:templates:{r}")
        templates = generate_candidates(self.view, n_templates, rng, self.weights,
                                        phrasings=self.cfg.phrasings_per_instance, threads=self.threads)
        if self.validator.facts_pool is not None:  # analysed there while the paraphrases are made here
            self.validator.facts_pool.submit(c.sql for c in templates)
        for name, st in (getattr(self.view, "family_stats", None) or {}).items():
            prev = self.family_stats.get(name)
            if prev is None or not st.skipped:
                self.family_stats[name] = st
        self.timing["templates"] += time.perf_counter() - t
        t = time.perf_counter()
        out: list[Candidate] = []
        if r == 0:
            out += self.examples + self.example_variants
            if self.llm is not None and self.cfg.llm_pairs > 0:
                out += self.llm.write_pairs(self.schema, self.shots[:50], self.cfg.llm_pairs)
        groups: dict[str, list[Candidate]] = {}
        for c in templates:
            groups.setdefault(c.instance, []).append(c)
        paras = self._paraphrases(templates)
        for c, extra in zip(templates, paras, strict=True):
            groups[c.instance].extend(extra)
        for g in groups.values():
            out += g
        self.timing["paraphrases"] += time.perf_counter() - t
        return out

    def _paraphrases(self, templates: list[Candidate]) -> list[list[Candidate]]:
        k = self.cfg.paraphrases_per_question
        if k <= 0 or not templates:
            return [[] for _ in templates]
        if self.llm is not None:
            texts = self.llm.paraphrase_many([(c.question, c.sql) for c in templates], k)
            source = f"openai:{self.llm.model}"
        else:
            if self.paraphraser is None:
                from teacher.paraphrase import OfflineParaphraser

                self.paraphraser = OfflineParaphraser(self.lexicon, seed=self.cfg.seed,
                                                      typo_rate=self.cfg.typo_rate)
            texts = [self.paraphraser.paraphrase(c.question, k, protect=c.meta.get("protect", []))
                     for c in templates]
            source = "paraphrase"
        return [[Candidate(question=q, sql=c.sql, family=c.family, source=source, instance=c.instance,
                           phase=c.phase, meta=c.meta) for q in qs if q.strip() and q != c.question]
                for c, qs in zip(templates, texts, strict=True)]

    # -- validation -------------------------------------------------------------------------
    def validate_all(self, resume: bool) -> None:
        state = self._load_progress() if resume else None
        if state is None:
            for name in (PARTIAL_PAIRS, PARTIAL_REJECTS, PROGRESS):
                (self.out / name).unlink(missing_ok=True)
            state = {"rounds": [], "round_kept": [], "done": 0}
        self.rounds, self.round_kept = list(state["rounds"]), list(state["round_kept"])
        skip = int(state["done"])
        with JsonlAppender(self.out / PARTIAL_PAIRS, flush_every=10**9) as pairs_out, \
                JsonlAppender(self.out / PARTIAL_REJECTS, flush_every=10**9) as rejects_out, \
                self._bar() as bar:
            self._pairs_out, self._rejects_out, self._bar_step = pairs_out, rejects_out, bar
            offset = 0
            for r in range(MAX_ROUNDS):
                if r < len(self.rounds):
                    size = self.rounds[r]
                else:
                    short = self.cfg.n - self.n_gen
                    gained = self.round_kept[-1] - (self.round_kept[-2] if r >= 2 else 0) if r else 1
                    if short <= 0 or gained <= 0:
                        break  # done, or the last round added nothing: more would not help
                    per = 1 + max(0, self.cfg.paraphrases_per_question)
                    size = max(self.cfg.phrasings_per_instance, math.ceil(short / per * OVERSHOOT))
                    self.rounds.append(size)
                cands = self._round(r, size)
                offset = self._validate_stream(cands, offset, skip, limit=self.cfg.n, kind="generate")
                if r >= len(self.round_kept):
                    self.round_kept.append(self.n_gen)
                    self._save_progress(offset)
                if self.n_gen >= self.cfg.n:
                    break
            t = time.perf_counter()
            from teacher.repair import make_repairs

            gen = [p for p in self.collector.kept if p.kind == "generate"]
            self.repair_target = round(self.cfg.repair_share * len(gen))
            # Ask for a few more than needed: a few fail validation or dedup.
            trees = {p.sql: tr for p in gen if (tr := self.validator.sql_info(p.sql).tree) is not None}
            repairs = make_repairs(gen, self.schema, self.executor, random.Random(f"{self.cfg.seed}:repair"),
                                   self.repair_target + max(3, self.repair_target // 25), trees) if self.repair_target > 0 else []
            self.timing["repairs (mutate + run)"] += time.perf_counter() - t
            self.n_repair_candidates = len(repairs)
            self._validate_stream(repairs, offset, skip, limit=self.repair_target, kind="repair")

    def _validate_stream(self, cands: list[Candidate], offset: int, skip: int, limit: int, kind: str) -> int:
        """Validate ``cands`` (stream positions offset..) in chunks; positions < skip are already done.

        Stops at the first instance boundary once ``limit`` pairs of ``kind`` are kept, so an
        instance's paraphrases are never cut in half.
        """
        self.n_candidates += len(cands)
        if self._bar_step is not None:
            self._bar_step(len(cands), 0)
        for start in range(0, len(cands), self.chunk_size):
            pos = offset + start
            chunk = cands[start:start + self.chunk_size]
            if pos + len(chunk) > skip:
                t = time.perf_counter()
                for cand in chunk:
                    count = self.n_gen if kind == "generate" else self.n_rep
                    if count >= limit and cand.instance != self._last_instance:
                        break
                    if count < limit:
                        self._last_instance = cand.instance
                    self._add(self.validator.check(cand))
                self.timing["validate"] += time.perf_counter() - t
                self._pairs_out.flush()
                self._rejects_out.flush()
                self._save_progress(pos + len(chunk))
            if self._bar_step is not None:
                self._bar_step(0, len(chunk))
        return offset + len(cands)

    def _add(self, result: Pair | Reject) -> None:
        res = self.collector.add(result)
        if isinstance(res, Pair):
            row = res.to_json()
            self.pair_rows.append(row)  # kept for the final file: to_json (asdict) is not free
            self._pairs_out.write(row)
            if res.kind == "generate":
                self.n_gen += 1
            else:
                self.n_rep += 1
        else:
            self._rejects_out.write(res.to_json())

    def _save_progress(self, done: int) -> None:
        atomic_write_json(self.out / PROGRESS, {
            "rounds": self.rounds, "round_kept": self.round_kept, "done": done,
            "pairs_lines": len(self.collector.kept), "rejects_lines": len(self.collector.rejects),
            "last_instance": self._last_instance, "seed": self.cfg.seed,
            "fingerprint": self.schema.fingerprint, "stream": self.stream_key,
        })

    # -- resume -----------------------------------------------------------------------------
    def _load_progress(self) -> dict[str, Any] | None:
        p = self.out / PROGRESS
        if not p.is_file():
            return None
        try:
            state = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (state.get("seed"), state.get("fingerprint"), state.get("stream")) != (
                self.cfg.seed, self.schema.fingerprint, self.stream_key):
            return None  # a different run: start afresh rather than mix two streams
        # Lines past the marker belong to a chunk that did not finish: drop them.
        pairs = list(read_jsonl(self.out / PARTIAL_PAIRS))[: state["pairs_lines"]] if (
            self.out / PARTIAL_PAIRS).is_file() else []
        rejects = list(read_jsonl(self.out / PARTIAL_REJECTS))[: state["rejects_lines"]] if (
            self.out / PARTIAL_REJECTS).is_file() else []
        if len(pairs) != state["pairs_lines"] or len(rejects) != state["rejects_lines"]:
            return None
        collector = Collector(self.validator)
        for row in pairs:  # re-adding in order rebuilds the collector's dedup state exactly
            if not isinstance(collector.add(Pair.from_json(row)), Pair):
                return None  # only if the partial file was edited by hand: start afresh
        collector.rejects.extend(Reject(**r) for r in rejects)
        atomic_write_jsonl(self.out / PARTIAL_PAIRS, pairs)
        atomic_write_jsonl(self.out / PARTIAL_REJECTS, rejects)
        self.collector, self.pair_rows = collector, pairs
        self.n_gen = sum(p.kind == "generate" for p in collector.kept)
        self.n_rep = len(collector.kept) - self.n_gen
        self._last_instance = state.get("last_instance")
        return state

    # -- output -----------------------------------------------------------------------------
    @contextmanager
    def _bar(self) -> Iterator[Any]:
        if not self.progress:
            yield None
            return
        bar = Progress(TextColumn("teacher"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TextColumn("{task.description}"), console=Console(stderr=True), transient=True)
        with bar:
            task = bar.add_task("validating", total=0)

            def step(more: int, advance: int) -> None:
                if more:
                    bar.update(task, total=(bar.tasks[0].total or 0) + more)
                if advance:
                    bar.update(task, advance=advance,
                               description=f"{len(self.collector.kept)} kept")
            yield step

    def summary(self, seconds: float, timing: dict[str, float]) -> dict[str, Any]:
        kept, rejects = self.collector.kept, self.collector.rejects
        gen = [p for p in kept if p.kind == "generate"]
        rep = [p for p in kept if p.kind == "repair"]
        cov = schema_coverage(kept, self.schema)
        questions = Counter(normalise_question(p.question) for p in gen)
        skipped = {name: st.skipped for name, st in sorted(self.family_stats.items()) if st.skipped}
        from teacher.families import FAMILIES

        present = sorted({p.family for p in gen if p.family in FAMILIES})  # template families only
        tried = {r.family for r in rejects} | {p.family for p in kept}
        usage = self.llm.usage() if self.llm is not None else {}
        sidecar = {m.name: m for m in self.schema.metrics}
        return {
            "teacher": self.cfg.name, "seed": self.cfg.seed, "dialect": self.dialect,
            "sql_style": self.time_style,
            # new metrics, and sidecar metrics the examples gave more words for
            "mined_metrics": {m.name: m.sql for m in self.mined_metrics if m.name not in sidecar},
            "mined_filters": {f.name: {"sql": f.sql, "synonyms": f.synonyms} for f in self.mined_filters},
            "metric_words_from_examples": {m.name: m.synonyms[len(sidecar[m.name].synonyms):]
                                           for m in self.mined_metrics if m.name in sidecar},
            # the examples' variants: made, and kept by validation
            "example_variants": {"candidates": len(self.example_variants),
                                 "kept": sum(1 for p in gen if p.family == "example_variants")},
            "fingerprint": self.schema.fingerprint, "n_target": self.cfg.n,
            "pairs": len(kept), "generate_pairs": len(gen), "repair_pairs": len(rep),
            "repair_share": round(len(rep) / len(gen), 4) if gen else 0.0,
            "rejects": len(rejects), "candidates": self.n_candidates,
            "repair_candidates": self.n_repair_candidates, "rounds": self.rounds,
            "rejects_by_reason": dict(Counter(r.reason for r in rejects).most_common()),
            "families": len(present), "families_present": present,
            "pairs_per_family": dict(Counter(p.family for p in kept).most_common()),
            "pairs_per_source": dict(Counter(p.source for p in kept).most_common()),
            "pairs_per_phase": {str(k): v for k, v in sorted(Counter(p.phase for p in kept).items())},
            "skipped_families": skipped,
            # profiling that failed (a timeout on a big table): the families above it lost
            "profiling_problems": list(self.view.problems),
            "all_rejected_families": sorted(f for f in tried if f not in {p.family for p in kept}),
            "duplicate_questions": sum(c - 1 for c in questions.values()),
            "distinct_sql": len({p.sql for p in gen}), "instances": len({p.instance for p in gen}),
            "table_share": cov["table_share"], "column_share": cov["column_share"],
            "fk_edge_share": cov["fk_edge_share"],
            "validator": {**vars(self.validator.stats), "shared_cache_hits": getattr(self.executor, "hits", 0)},
            "usage": usage, "timing": {k: round(v, 3) for k, v in timing.items()},
            "seconds": round(seconds, 3), "pairs_per_s": round(len(kept) / seconds, 1) if seconds else 0.0,
            "repair_target": self.repair_target,
        }


def _stream_key(cfg: TeacherConfig, sandbox_db: Path, examples: Path | None) -> str:
    """What shapes the candidate stream: a resume only continues an identical one.

    The settings, the sandbox build (its info file records the build, so a rebuilt sandbox
    counts as new) and the examples file.
    """
    from schemadistill.io import sha256_file
    from schemadistill.sandbox import info_path

    keys = ("name", "n", "seed", "phrasings_per_instance", "paraphrases_per_question", "repair_share",
            "typo_rate", "row_cap", "timeout_s", "reference_date", "llm_pairs", "sql_style", "example_variants")
    info = info_path(sandbox_db)
    parts = [[getattr(cfg, k) for k in keys],
             sha256_file(info) if info.is_file() else [sandbox_db.stat().st_size, sandbox_db.stat().st_mtime],
             sha256_file(examples) if examples is not None and Path(examples).is_file() else None]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]
