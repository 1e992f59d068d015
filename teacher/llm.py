"""The OpenAI-compatible teacher (``TEACHER=openai:MODEL``): paraphrases, new pairs, sidecar drafts.

It talks the chat-completions protocol through the ``openai`` package, so the same code serves
OpenAI, vLLM, Ollama and the llama.cpp server: ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` (or the
constructor's arguments) pick the server. Three tasks, each a jinja2 prompt pair (system + user)
under ``templates/prompts/``:

* :meth:`OpenAITeacher.paraphrase_many` -- n rewrites of each question, same meaning;
* :meth:`OpenAITeacher.write_pairs` -- new question/SQL pairs from the schema and a few examples,
  in batches with different focus hints so the batches do not all ask the same questions;
* :meth:`OpenAITeacher.propose_sidecar` -- a draft ``schema.yaml`` (descriptions, synonyms,
  metrics) for a schema that has none.

Every answer is asked for as one JSON object. ``response_format={"type": "json_object"}`` is sent,
but nothing depends on it: local servers often ignore it (and a server that rejects it with a 400
is asked again without it), so the first JSON object in the reply is parsed, code fences and
``<think>`` blocks tolerated.

Reliability and cost are handled here rather than in the ``openai`` client, so they can be counted:

* bounded concurrency (``cfg.concurrency`` requests in flight);
* retries with exponential backoff and jitter on 429 (honouring ``Retry-After``), 5xx, timeouts
  and connection errors, and on replies that are not the JSON the task wants; the client's own
  retries are off. After ``cfg.max_retries`` retries a request is dropped with its reason;
* an on-disk cache (:mod:`teacher.llm_cache`) of successful parsed answers, so a rerun or a
  resume of an interrupted run sends no request twice;
* usage accounting -- requests, cache hits, retries, tokens, cost from the configured prices,
  failures by reason -- returned by :meth:`OpenAITeacher.usage` for the data report.

The public methods are synchronous (the pipeline is); each runs its requests on its own event
loop with ``asyncio.run`` (in a helper thread when called from inside a running loop).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import json
import logging
import math
import os
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import jinja2
import openai

from schemadistill.config import TeacherConfig
from schemadistill.errors import UserError
from schemadistill.schema.model import Schema
from teacher.llm_cache import ResponseCache, cache_key
from teacher.pair import Candidate

log = logging.getLogger(__name__)

T = TypeVar("T")

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "templates" / "prompts"
DEFAULT_BASE_URL = "https://api.openai.com/v1"

FailureReason = Literal[
    "rate_limited", "server_error", "timeout", "malformed_json", "connection", "bad_request",
]
FAILURE_REASONS: tuple[str, ...] = (
    "rate_limited", "server_error", "timeout", "malformed_json", "connection", "bad_request",
)

# Focus hints for write_pairs batches: (family suffix, phase hint, text for the prompt). Cycling
# through them makes successive batches cover different kinds of question instead of the ten a
# model would write first every time.
FOCUS: tuple[tuple[str, int, str], ...] = (
    ("lookup", 1, "simple questions on one table: lists, counts and filters on one or two columns"),
    ("aggregate", 1, "aggregates (COUNT, COUNT DISTINCT, SUM, AVG, MIN, MAX) with a filter or two"),
    ("join", 2, "questions that need a join between tables along the foreign keys"),
    ("dates", 2, "date filters and time grains: given days, months, quarters and years, date ranges, "
                 "trends by month"),
    ("group_by", 2, "breakdowns by one or two dimensions (GROUP BY), with HAVING where it is natural"),
    ("top_k", 2, "rankings: top or bottom N, most and least, highest and lowest (ORDER BY ... LIMIT)"),
    ("metrics", 2, "the business metrics, dimensions and rules of the schema, used exactly as defined"),
    ("ratios", 2, "percentages, shares and rates (100.0 * part / total) and conditional aggregates "
                  "with CASE"),
    ("window", 3, "window functions: running totals, ranks within groups, change from the previous "
                  "period"),
    ("subquery", 3, "multi-step questions that need a subquery or a CTE: first or last event per "
                    "entity, comparison with an average, counts of counts"),
    ("edge_cases", 3, "edge cases: missing values (IS NULL), DISTINCT, BETWEEN, IN lists, LIKE "
                      "patterns, ties, questions whose answer may be empty"),
)

# Which few-shot examples suit a focus: a crude textual test on the SQL is enough to prefer, say,
# examples with a JOIN for the join batch.
_FOCUS_SQL = {
    "join": r"\bJOIN\b", "dates": r"DATE|EXTRACT|INTERVAL|YEAR\(|MONTH\(", "group_by": r"GROUP\s+BY",
    "top_k": r"\bLIMIT\b", "window": r"\bOVER\s*\(", "subquery": r"\(\s*SELECT\b|^\s*WITH\b",
    "ratios": r"\bCASE\b|100", "edge_cases": r"IS\s+(NOT\s+)?NULL|BETWEEN|LIKE|\bIN\s*\(|DISTINCT",
    "aggregate": r"COUNT|SUM|AVG|MIN|MAX", "metrics": r"COUNT|SUM|AVG",
}

PAIRS_PER_REQUEST = 10
FEW_SHOT = 4

_DIALECT_NAMES = {
    "duckdb": "DuckDB", "postgres": "PostgreSQL", "mysql": "MySQL", "sqlite": "SQLite",
    "clickhouse": "ClickHouse", "snowflake": "Snowflake", "bigquery": "BigQuery", "tsql": "SQL Server",
    "oracle": "Oracle", "redshift": "Redshift", "spark": "Spark SQL", "databricks": "Databricks SQL",
    "trino": "Trino", "presto": "Presto",
}


# -- names ------------------------------------------------------------------------------------

def parse_teacher_name(name: str) -> str:
    """``"openai:gpt-4o-mini"`` -> ``"gpt-4o-mini"``; anything else is a UserError.

    Only the first colon separates: Ollama model names carry their own (``openai:llama3.1:8b``).
    """
    prefix, sep, model = name.partition(":")
    if prefix.strip().lower() != "openai" or not sep:
        raise UserError(f"teacher '{name}' is not an OpenAI-compatible teacher",
                        hint="use TEACHER=offline or TEACHER=openai:MODEL, e.g. openai:gpt-4o-mini")
    model = model.strip()
    if not model:
        raise UserError(f"teacher '{name}' names no model",
                        hint="write the model after the colon, e.g. TEACHER=openai:gpt-4o-mini")
    return model


# -- JSON in replies ----------------------------------------------------------------------------

_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def extract_json(text: str | None) -> Any | None:
    """The first JSON object in a model's reply (an array if there is no object), else None.

    Tolerates what chat models wrap around JSON: prose before and after, ```json fences,
    ``<think>...</think>`` reasoning (local reasoning models), and trailing commas.
    """
    if not text:
        return None
    text = _THINK.sub("", text)
    # Fenced blocks first: the JSON a model means is usually the fenced one.
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for blob in candidates:
        for repaired in (blob, _TRAILING_COMMA.sub(r"\1", blob)):
            for opener in "{[":
                found = _first_decodable(repaired, opener)
                if found is not None:
                    return found
    return None


def _first_decodable(text: str, opener: str) -> Any | None:
    decoder = json.JSONDecoder()
    start = text.find(opener)
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find(opener, start + 1)
            continue
        if isinstance(value, (dict, list)):
            return value
        start = text.find(opener, start + 1)
    return None


# -- usage --------------------------------------------------------------------------------------

@dataclass
class DroppedRequest:
    """A request given up on after its retries, kept for the report."""

    task: str
    label: str  # what was asked: the question, the batch, ...
    reason: str  # one of FAILURE_REASONS
    detail: str = ""


@dataclass
class _Usage:
    requests: int = 0  # HTTP requests sent, retries included
    cache_hits: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # every failed attempt, by reason
    dropped: Counter[str] = field(default_factory=Counter)  # requests given up on, by last reason
    filtered: Counter[str] = field(default_factory=Counter)  # answers parsed but not usable


# -- the teacher --------------------------------------------------------------------------------

class OpenAITeacher:
    """An LLM teacher behind any OpenAI-compatible chat-completions endpoint.

    ``model`` is the model id (``gpt-4o-mini``) or the teacher name (``openai:gpt-4o-mini``).
    ``base_url``/``api_key`` default to ``OPENAI_BASE_URL``/``OPENAI_API_KEY``. Answers are cached
    under ``cache_dir``. ``backoff_base_s``/``backoff_max_s`` shape the retry delays (tests make
    them tiny). Not thread-safe: one call at a time per instance.
    """

    def __init__(self, model: str, cache_dir: Path, cfg: TeacherConfig, base_url: str | None = None,
                 api_key: str | None = None, *, backoff_base_s: float = 1.0, backoff_max_s: float = 60.0,
                 prompts_dir: Path | None = None) -> None:
        self.model = parse_teacher_name(model) if model.lower().startswith("openai:") else model.strip()
        if not self.model:
            raise UserError("the openai teacher needs a model name",
                            hint="e.g. TEACHER=openai:gpt-4o-mini")
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        if not key or not key.strip():
            raise UserError(
                "TEACHER=openai:... needs an API key, and OPENAI_API_KEY is not set",
                hint="export OPENAI_API_KEY=sk-...; for a local server (vLLM, Ollama, llama.cpp) any "
                     "non-empty string works, e.g. OPENAI_API_KEY=local with "
                     "OPENAI_BASE_URL=http://localhost:11434/v1")
        self._api_key = key.strip()
        url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).strip()
        if not re.match(r"^https?://", url):
            raise UserError(f"OPENAI_BASE_URL '{url}' is not an http(s) URL",
                            hint="e.g. OPENAI_BASE_URL=http://localhost:8000/v1")
        self.base_url = url.rstrip("/")
        self.cfg = cfg
        self.cache = ResponseCache(cache_dir)
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.drops: list[DroppedRequest] = []
        self._usage = _Usage()
        self._json_mode = True  # send response_format until a server says it does not know it
        self._unsupported: set[str] = set()  # sampling params the server rejected (o-series: temperature)
        self._rng = random.Random()  # jitter only: never affects what is generated
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(prompts_dir or PROMPTS_DIR)),
            undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
            keep_trailing_newline=False, autoescape=False,
        )
        # Set while a run is active (one event loop per sync call).
        self._client: openai.AsyncOpenAI | None = None
        self._sem: asyncio.Semaphore | None = None

    # -- public, synchronous ------------------------------------------------------------------
    def paraphrase_many(self, items: list[tuple[str, str]], n: int) -> list[list[str]]:
        """For each (question, sql): up to ``n`` paraphrases with the same meaning ([] if dropped)."""
        if n <= 0 or not items:
            return [[] for _ in items]
        # Identical items would race to the same cache entry: ask once, answer each.
        unique = list(dict.fromkeys(items))
        answers = _run_sync(self._session(lambda: asyncio.gather(
            *(self._paraphrase_one(q, s, n) for q, s in unique))))
        by_item = dict(zip(unique, answers, strict=True))
        return [list(by_item[item]) for item in items]

    def write_pairs(self, schema: Schema, examples: list[tuple[str, str]], n: int) -> list[Candidate]:
        """Up to ``n`` new question/SQL candidates, in batches of ``PAIRS_PER_REQUEST``.

        ``examples`` are the few-shot material: (question, sql) pairs, or ("", sql) for queries
        from a log. The SQL is not validated here; the Validator does that and records rejects.
        """
        if n <= 0:
            return []
        batches = math.ceil(n / PAIRS_PER_REQUEST)
        sizes = [PAIRS_PER_REQUEST] * (batches - 1) + [n - PAIRS_PER_REQUEST * (batches - 1)]
        ctx = schema_context(schema)
        results: list[list[Candidate]] = _run_sync(self._session(lambda: asyncio.gather(
            *(self._pairs_batch(schema, ctx, examples, i, size) for i, size in enumerate(sizes)))))
        out: list[Candidate] = []
        seen: set[str] = set()
        for batch in results:
            for cand in batch:
                norm = " ".join(cand.question.lower().split())
                if norm in seen:
                    self._usage.filtered["duplicate_question"] += 1
                    continue
                seen.add(norm)
                out.append(cand)
        return out[:n]

    def propose_sidecar(self, schema: Schema, max_metrics: int = 12) -> dict[str, Any]:
        """A draft sidecar in the schema.yaml layout ({} if the request was dropped).

        The shape is normalised (lists of named items become mappings, unknown top-level keys
        go), but names are not checked against the schema: the caller validates the result.
        """
        ctx = schema_context(schema)
        messages = self._messages("propose_sidecar", {**ctx, "max_metrics": max_metrics})
        result = _run_sync(self._session(lambda: self._request(
            "propose_sidecar", messages, {"temperature": 0.2}, _sidecar_shape, label="sidecar")))
        return result or {}

    def usage(self) -> dict[str, Any]:
        """Counts for the data report; ``failures`` counts failed attempts, ``dropped`` gave-ups."""
        u = self._usage
        cost = (u.prompt_tokens * self.cfg.price_in_per_mtok
                + u.completion_tokens * self.cfg.price_out_per_mtok) / 1_000_000
        return {
            "model": self.model,
            "requests": u.requests,
            "cache_hits": u.cache_hits,
            "retries": u.retries,
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "cost_usd": round(cost, 6),
            "failures": dict(u.failures),
            "dropped": dict(u.dropped),
            "filtered": dict(u.filtered),
        }

    # -- prompts ------------------------------------------------------------------------------
    def _messages(self, task: str, ctx: dict[str, Any]) -> list[dict[str, str]]:
        system = self._env.get_template(f"{task}.system.j2").render(**ctx).strip()
        user = self._env.get_template(f"{task}.user.j2").render(**ctx).strip()
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    # -- tasks --------------------------------------------------------------------------------
    async def _paraphrase_one(self, question: str, sql: str, n: int) -> list[str]:
        question_line = " ".join(question.split())
        messages = self._messages("paraphrase", {"question": question_line, "sql": sql.strip(), "n": n})
        texts = await self._request("paraphrase", messages, {"temperature": 0.9}, _strings_shape,
                                    label=question_line)
        if texts is None:
            return []
        return self._filter_paraphrases(question_line, texts, n)

    def _filter_paraphrases(self, question: str, texts: list[str], n: int) -> list[str]:
        """Drop rewrites that repeat the original or each other, or change its numbers."""
        want = _numbers(question)
        seen = {question.lower()}
        out: list[str] = []
        for text in texts:
            text = _clean_line(text)
            key = text.lower()
            if not text or key in seen:
                self._usage.filtered["paraphrase_duplicate"] += 1
                continue
            # The prompt asks for literal values kept as written, so a rewrite whose numbers
            # differ ("top 5" -> "top 10", a dropped year) has most likely changed the meaning.
            if _numbers(text) != want:
                self._usage.filtered["paraphrase_changed_numbers"] += 1
                continue
            seen.add(key)
            out.append(text)
        return out[:n]

    async def _pairs_batch(self, schema: Schema, ctx: dict[str, Any], examples: list[tuple[str, str]],
                           batch: int, size: int) -> list[Candidate]:
        focus, phase, focus_text = FOCUS[batch % len(FOCUS)]
        shots = _pick_examples(examples, focus, random.Random(f"{self.cfg.seed}:{batch}"))
        messages = self._messages("write_pairs", {
            **ctx, "n": size, "batch": batch + 1, "focus_text": focus_text,
            "examples": [(q, s) for q, s in shots if q], "queries": [s for q, s in shots if not q],
        })
        pairs = await self._request("write_pairs", messages, {"temperature": 0.8}, _pairs_shape,
                                    label=f"batch {batch + 1} ({focus})")
        if pairs is None:
            return []
        return [
            Candidate(question=q, sql=s, family=f"llm_{focus}", source=f"openai:{self.model}",
                      phase=phase, meta={"focus": focus, "batch": batch + 1})
            for q, s in pairs[:size]
        ]

    # -- requests -----------------------------------------------------------------------------
    async def _session(self, work: Callable[[], Awaitable[T]]) -> T:
        """Open a client and a semaphore on the current loop, run ``work``, close the client."""
        # max_retries=0: retries are ours, so they are counted and share one backoff policy.
        client = openai.AsyncOpenAI(api_key=self._api_key, base_url=self.base_url, max_retries=0,
                                    timeout=self.cfg.request_timeout_s)
        self._client = client
        self._sem = asyncio.Semaphore(max(1, int(self.cfg.concurrency)))
        try:
            return await work()
        finally:
            self._client = None
            self._sem = None
            await client.close()

    async def _request(self, task: str, messages: list[dict[str, str]], params: dict[str, Any],
                       shape: Callable[[Any], T | None], label: str) -> T | None:
        """One task request: cache, bounded concurrency, retries; None when dropped."""
        # The task goes into the key so that two tasks with identical text never share answers;
        # response_format does not, so falling back to plain mode keeps the cache valid.
        key = cache_key(self.base_url, self.model, messages, {**params, "task": task})
        record = self.cache.get(key)
        if record is not None:
            shaped = shape(record["parsed"])
            if shaped is not None:
                self._usage.cache_hits += 1
                return shaped
        assert self._client is not None and self._sem is not None, "request outside a session"
        reason, detail = "server_error", ""
        attempt = 0
        while True:
            delay = 0.0
            retryable = True
            sent_json_mode, sent = self._json_mode, dict(params)
            try:
                async with self._sem:
                    # Decide what to send only now: a request that ran meanwhile may have learnt
                    # that the server rejects JSON mode or a parameter.
                    sent_json_mode = self._json_mode
                    sent = {k: v for k, v in params.items() if k not in self._unsupported}
                    self._usage.requests += 1
                    resp = await self._create(messages, sent, sent_json_mode)
            except openai.BadRequestError as e:
                text = str(e).lower()
                if sent_json_mode and "response_format" in text:
                    # The server does not know JSON mode: ask again without it, same attempt.
                    if self._json_mode:
                        log.warning("teacher server rejected response_format; continuing without it")
                    self._json_mode = False
                    continue
                rejected = {p for p in sent if p in text}
                if rejected:
                    # Some models only take their default sampling (reasoning models and
                    # temperature): drop the parameter for this teacher, same attempt.
                    log.warning("teacher server rejected %s; continuing without", ", ".join(sorted(rejected)))
                    self._unsupported |= rejected
                    continue
                reason, detail, retryable = "bad_request", _short(e), False  # a 400 stays a 400
            except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
                raise UserError(
                    f"the teacher server refused the API key ({_short(e)})",
                    hint="check OPENAI_API_KEY (and OPENAI_BASE_URL if you use a local server)") from None
            except openai.NotFoundError as e:
                raise UserError(
                    f"the teacher server does not know model '{self.model}' or the URL "
                    f"{self.base_url}/chat/completions ({_short(e)})",
                    hint="check the model name in TEACHER=openai:MODEL and that OPENAI_BASE_URL ends "
                         "in /v1") from None
            except openai.RateLimitError as e:
                reason, detail = "rate_limited", _short(e)
                wait = _retry_after(e.response.headers)
                delay = min(wait, self.backoff_max_s) if wait is not None else self._backoff(attempt)
            except (openai.APITimeoutError, asyncio.TimeoutError) as e:
                reason = "timeout"
                detail = f"no answer within {self.cfg.request_timeout_s:g}s ({type(e).__name__})"
                delay = self._backoff(attempt)
            except openai.APIConnectionError as e:
                reason, detail = "connection", _short(e)
                delay = self._backoff(attempt)
            except openai.APIStatusError as e:
                # 408/409 are worth another try; other 4xx are the request's own fault.
                retryable = e.status_code >= 500 or e.status_code in (408, 409)
                reason = "timeout" if e.status_code == 408 else "server_error" if retryable else "bad_request"
                detail = _short(e)
                delay = self._backoff(attempt)
            except openai.APIError as e:  # a 200 whose body is not a chat completion
                reason, detail = "server_error", _short(e)
                delay = self._backoff(attempt)
            else:
                self._account(resp)
                content = _content(resp)
                parsed = extract_json(content)
                shaped = shape(parsed) if parsed is not None else None
                if shaped is not None:
                    self.cache.put(key, {"task": task, "model": self.model, "created": time.time(),
                                         "content": content, "parsed": parsed})
                    return shaped
                # Sampling again usually fixes a malformed answer; no need to wait first.
                reason = "malformed_json"
                detail = f"reply not usable as {task} JSON: {(content or '')[:200]!r}"
            self._usage.failures[reason] += 1
            if not retryable or attempt >= self.cfg.max_retries:
                break
            attempt += 1
            self._usage.retries += 1
            if delay > 0:
                await asyncio.sleep(delay)
        self._usage.dropped[reason] += 1
        self.drops.append(DroppedRequest(task, label, reason, detail))
        log.warning("teacher %s request dropped (%s): %s -- %s", task, reason, label[:80], detail[:200])
        return None

    async def _create(self, messages: list[dict[str, str]], params: dict[str, Any], json_mode: bool) -> Any:
        assert self._client is not None
        extra: dict[str, Any] = {"response_format": {"type": "json_object"}} if json_mode else {}
        extra.update(params)
        timeout = float(self.cfg.request_timeout_s)
        # httpx's timeout is per read; wait_for caps the whole request in case a server trickles.
        return await asyncio.wait_for(
            self._client.chat.completions.create(model=self.model, messages=messages,  # type: ignore[arg-type]
                                                 timeout=timeout, **extra),
            timeout=timeout * 1.5 + 1.0)

    def _account(self, resp: Any) -> None:
        usage = getattr(resp, "usage", None)
        if usage is None:
            return
        self._usage.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
        self._usage.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, capped."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2 ** attempt))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)


# -- schema rendering -----------------------------------------------------------------------------

def schema_context(schema: Schema, max_synonyms: int = 4, max_examples: int = 5) -> dict[str, Any]:
    """What the prompt templates need from a Schema: compact, JSON-able, deterministic."""
    tables = []
    for t in schema.tables:
        tables.append({
            "name": t.qualified_name,
            "description": t.description,
            "synonyms": t.synonyms[:max_synonyms],
            "time_column": t.time_column,
            "primary_key": list(t.primary_key),
            "columns": [{
                "name": c.name,
                "type": c.raw_type or c.sandbox_type(),
                "description": c.description,
                "synonyms": c.synonyms[:max_synonyms],
                "examples": [_example_text(v) for v in c.examples[:max_examples]],
            } for c in t.columns],
        })
    fks = [f"{fk.table}({', '.join(fk.columns)}) -> {fk.ref_table}({', '.join(fk.ref_columns)})"
           for fk in schema.foreign_keys]
    return {
        "dialect": schema.dialect,
        "dialect_name": _DIALECT_NAMES.get(schema.dialect, schema.dialect),
        "tables": tables,
        "foreign_keys": fks,
        "metrics": [{"name": m.name, "sql": m.sql, "table": m.table, "description": m.description,
                     "synonyms": m.synonyms[:max_synonyms]} for m in schema.metrics],
        "dimensions": [{"name": d.name, "sql": d.sql, "table": d.table, "description": d.description}
                       for d in schema.dimensions],
        "rules": list(schema.rules),
    }


def render_schema(schema: Schema, prompts_dir: Path | None = None) -> str:
    """The compact schema text the prompts embed (handy for debugging a prompt)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(prompts_dir or PROMPTS_DIR)),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("_schema.j2").render(**schema_context(schema)).strip()


def _example_text(value: object) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def _pick_examples(examples: list[tuple[str, str]], focus: str,
                   rng: random.Random) -> list[tuple[str, str]]:
    """Few-shot examples for a batch: up to two that suit its focus, the rest at random."""
    if len(examples) <= FEW_SHOT:
        return list(examples)
    pattern = _FOCUS_SQL.get(focus)
    suited = [e for e in examples if pattern and re.search(pattern, e[1], re.I)]
    picked = rng.sample(suited, min(2, len(suited))) if suited else []
    rest = [e for e in examples if e not in picked]
    picked += rng.sample(rest, FEW_SHOT - len(picked))
    return picked


# -- reply shapes: parsed JSON -> what the task needs, or None (counted as malformed) --------------

def _strings_shape(parsed: Any) -> list[str] | None:
    """{"paraphrases": [...]} (or any list of strings in the object, or a bare list)."""
    items: Any = None
    if isinstance(parsed, list):
        items = parsed
    elif isinstance(parsed, dict):
        items = parsed.get("paraphrases")
        if not isinstance(items, list):
            items = next((v for v in parsed.values() if isinstance(v, list)), None)
    if not isinstance(items, list):
        return None
    out: list[str] = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("question") or item.get("text") or item.get("paraphrase")
        if isinstance(item, str) and item.strip():
            out.append(item.strip())
    return out or None


def _pairs_shape(parsed: Any) -> list[tuple[str, str]] | None:
    """{"pairs": [{"question", "sql"}]} (or a bare list of such objects)."""
    items: Any = None
    if isinstance(parsed, list):
        items = parsed
    elif isinstance(parsed, dict):
        items = parsed.get("pairs")
        if not isinstance(items, list):
            items = next((v for v in parsed.values() if isinstance(v, list)), None)
    if not isinstance(items, list):
        return None
    out: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        q = item.get("question")
        s = item.get("sql", item.get("query"))
        if isinstance(q, str) and isinstance(s, str) and q.strip() and s.strip():
            out.append((" ".join(q.split()), _clean_sql(s)))
    return out or None


_SIDECAR_SECTIONS = ("tables", "metrics", "dimensions", "rules")


def _sidecar_shape(parsed: Any) -> dict[str, Any] | None:
    """Normalise a proposed sidecar to the schema.yaml layout; None if it has no tables."""
    if not isinstance(parsed, dict):
        return None
    if "sidecar" in parsed and isinstance(parsed["sidecar"], dict):  # a wrapped answer
        parsed = parsed["sidecar"]
    tables = _as_mapping(parsed.get("tables"))
    if not tables:
        return None
    out: dict[str, Any] = {"tables": {}}
    for name, spec in tables.items():
        spec = dict(spec) if isinstance(spec, dict) else {}
        if "columns" in spec:
            spec["columns"] = _as_mapping(spec["columns"]) or {}
        out["tables"][name] = spec
    for section in ("metrics", "dimensions"):
        mapping = _as_mapping(parsed.get(section))
        if mapping:
            out[section] = mapping
    rules = parsed.get("rules")
    if isinstance(rules, list):
        out["rules"] = [r.strip() for r in rules if isinstance(r, str) and r.strip()]
    return out


def _as_mapping(value: Any) -> dict[str, Any] | None:
    """{name: spec} as is; [{"name": ..., ...}] turned into {name: spec}; anything else None."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, Any] = {}
        for item in value:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                out[item["name"]] = {k: v for k, v in item.items() if k != "name"}
        return out or None
    return None


# -- small helpers --------------------------------------------------------------------------------

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ENUM_PREFIX = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")


def _numbers(text: str) -> set[str]:
    """Numbers in a text, thousands separators and leading zeros ignored ("1,000" == "1000")."""
    return {m.group(0).replace(",", "").lstrip("0") or "0" for m in _NUMBER.finditer(text)}


def _clean_line(text: str) -> str:
    text = _ENUM_PREFIX.sub("", text.strip())
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1]
    return " ".join(text.split())


def _clean_sql(sql: str) -> str:
    """SQL as a model wrote it, minus a ```sql fence and the trailing semicolon."""
    sql = sql.strip()
    if sql.startswith("```"):
        m = _FENCE.search(sql if sql.endswith("```") else sql + "```")
        if m:
            sql = m.group(1).strip()
    return sql.rstrip().rstrip(";").rstrip()


def _content(resp: Any) -> str:
    choices = getattr(resp, "choices", None) or []
    if not choices:
        return ""
    message = getattr(choices[0], "message", None)
    return (getattr(message, "content", None) or "") if message is not None else ""


def _short(e: BaseException) -> str:
    return " ".join(str(e).split())[:300]


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``Retry-After-Ms`` / ``Retry-After`` (seconds or an HTTP date), if given."""
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
    except (AttributeError, ValueError):
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, or asyncio.run in a helper thread when a loop already runs here (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
