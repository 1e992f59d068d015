"""The OpenAI-compatible teacher against a real local HTTP server (tests/fake_openai_server.py).

The real ``openai`` client talks to the fake over sockets, so retries, timeouts, the cache and the
concurrency bound are exercised the way they run against vLLM/Ollama/OpenAI. Timeouts and
backoffs are tiny so the whole file runs in a few seconds.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer, malformed, ok, rate_limited, server_error, slow, status

from schemadistill.config import TeacherConfig
from schemadistill.errors import UserError
from schemadistill.schema.model import Column, ForeignKey, Metric, Schema, Table
from teacher.llm import OpenAITeacher, extract_json, parse_teacher_name, render_schema

QUESTIONS = [
    ("How many orders were placed in 2024?",
     "SELECT COUNT(*) FROM shop.orders WHERE YEAR(ordered_at) = 2024"),
    ("What is the total amount of paid orders?",
     "SELECT SUM(amount) FROM shop.orders WHERE status = 'paid'"),
]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's real key or URL must never leak into (or be used by) these tests.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def make_teacher(server: FakeOpenAIServer, cache: Path, **cfg: Any) -> OpenAITeacher:
    settings: dict[str, Any] = {"concurrency": 4, "max_retries": 3, "request_timeout_s": 5.0}
    settings.update(cfg)
    return OpenAITeacher("openai:fake-model", cache, TeacherConfig(**settings), base_url=server.base_url,
                         api_key="test", backoff_base_s=0.01, backoff_max_s=0.05)


def shop_schema() -> Schema:
    customers = Table("customers", "shop", [
        Column("customer_id", "integer", raw_type="BIGINT", description="Unique id"),
        Column("country", "text", raw_type="VARCHAR", examples=["Germany", "France"]),
    ], primary_key=["customer_id"], description="One row per customer", synonyms=["clients"])
    orders = Table("orders", "shop", [
        Column("order_id", "integer", raw_type="BIGINT"),
        Column("customer_id", "integer", raw_type="BIGINT"),
        Column("ordered_at", "timestamp", raw_type="TIMESTAMP", description="When the order was placed"),
        Column("status", "text", raw_type="VARCHAR", examples=["paid", "refunded"]),
        Column("amount", "decimal", raw_type="DECIMAL(10,2)"),
    ], primary_key=["order_id"], time_column="ordered_at")
    return Schema(
        tables=[customers, orders],
        foreign_keys=[ForeignKey("shop.orders", ["customer_id"], "shop.customers", ["customer_id"])],
        metrics=[Metric("revenue", "SUM(amount)", "shop.orders", description="Paid revenue")],
        rules=["Revenue counts paid orders only."],
        dialect="duckdb",
    )


# -- success and accounting ---------------------------------------------------------------------

def test_paraphrase_success(server: FakeOpenAIServer, tmp_path: Path) -> None:
    teacher = make_teacher(server, tmp_path / "cache")
    out = teacher.paraphrase_many(QUESTIONS, 3)
    assert [len(p) for p in out] == [3, 3]
    assert all("2024" in p for p in out[0])  # numbers kept
    assert len(set(out[0])) == 3 and QUESTIONS[0][0] not in out[0]
    u = teacher.usage()
    assert (u["requests"], u["cache_hits"], u["retries"], u["failures"], u["dropped"]) == (2, 0, 0, {}, {})
    body = server.requests[0]
    assert body["model"] == "fake-model"
    assert body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    users = " ".join(b["messages"][1]["content"] for b in server.requests)
    assert QUESTIONS[0][0] in users and QUESTIONS[1][1] in users  # question and SQL context


def test_token_and_cost_accounting(server: FakeOpenAIServer, tmp_path: Path) -> None:
    teacher = make_teacher(server, tmp_path / "cache", concurrency=1,
                           price_in_per_mtok=2.0, price_out_per_mtok=10.0)
    # The malformed reply was paid for too: its tokens count.
    server.script(malformed(), ok(usage={"prompt_tokens": 1000, "completion_tokens": 300}),
                  ok(usage={"prompt_tokens": 700, "completion_tokens": 50}))
    teacher.paraphrase_many(QUESTIONS, 2)
    u = teacher.usage()
    assert u["prompt_tokens"] == server.prompt_tokens_returned > 1700
    assert u["completion_tokens"] == server.completion_tokens_returned > 350
    expected = (u["prompt_tokens"] * 2.0 + u["completion_tokens"] * 10.0) / 1e6
    assert u["cost_usd"] == pytest.approx(expected)


# -- retries ------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply, reason", [
    (rate_limited(0.01), "rate_limited"),
    (server_error(500), "server_error"),
    (server_error(503), "server_error"),
    (malformed(), "malformed_json"),
])
def test_failure_then_success(server: FakeOpenAIServer, tmp_path: Path, reply: Any, reason: str) -> None:
    teacher = make_teacher(server, tmp_path / "cache")
    server.script(reply)
    out = teacher.paraphrase_many(QUESTIONS[:1], 2)
    assert len(out[0]) == 2
    assert server.request_count == 2  # the client's own retries are off: each one is ours
    u = teacher.usage()
    assert (u["requests"], u["retries"], u["failures"], u["dropped"]) == (2, 1, {reason: 1}, {})


def test_malformed_every_time_is_dropped(server: FakeOpenAIServer, tmp_path: Path) -> None:
    teacher = make_teacher(server, tmp_path / "cache", max_retries=2)
    server.script(malformed(), malformed("```json\n{\"paraphrases\": \n```"), malformed("[]"))
    assert teacher.paraphrase_many(QUESTIONS[:1], 2) == [[]]
    u = teacher.usage()
    assert (u["requests"], u["retries"]) == (3, 2)
    assert u["failures"] == {"malformed_json": 3} and u["dropped"] == {"malformed_json": 1}
    assert teacher.drops[0].reason == "malformed_json" and teacher.drops[0].task == "paraphrase"
    assert len(teacher.cache) == 0  # failures are never cached


def test_timeout_retried_then_dropped(server: FakeOpenAIServer, tmp_path: Path) -> None:
    teacher = make_teacher(server, tmp_path / "cache", request_timeout_s=0.2, max_retries=1)
    server.script(slow(3), slow(3))
    start = time.monotonic()
    assert teacher.paraphrase_many(QUESTIONS[:1], 2) == [[]]
    assert time.monotonic() - start < 2.5
    u = teacher.usage()
    assert server.request_count == 2
    assert u["failures"] == {"timeout": 2} and u["dropped"] == {"timeout": 1} and u["retries"] == 1


def test_timeout_then_success(server: FakeOpenAIServer, tmp_path: Path) -> None:
    teacher = make_teacher(server, tmp_path / "cache", request_timeout_s=0.2)
    server.script(slow(3))
    assert len(teacher.paraphrase_many(QUESTIONS[:1], 2)[0]) == 2
    assert teacher.usage()["failures"] == {"timeout": 1}


def test_connection_error_dropped(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    teacher = OpenAITeacher("fake-model", tmp_path / "cache", TeacherConfig(max_retries=1),
                            base_url=f"http://127.0.0.1:{port}/v1", api_key="test", backoff_base_s=0.01)
    assert teacher.paraphrase_many(QUESTIONS[:1], 2) == [[]]
    assert teacher.usage()["dropped"] == {"connection": 1}


def test_bad_request_is_not_retried(server: FakeOpenAIServer, tmp_path: Path) -> None:
    teacher = make_teacher(server, tmp_path / "cache")
    server.script(status(400, "context length exceeded"))
    assert teacher.paraphrase_many(QUESTIONS[:1], 2) == [[]]
    assert server.request_count == 1 and teacher.usage()["dropped"] == {"bad_request": 1}


def test_server_without_json_mode(server: FakeOpenAIServer, tmp_path: Path) -> None:
    teacher = make_teacher(server, tmp_path / "cache", concurrency=1)
    server.script(status(400, "Unknown parameter: response_format"))
    out = teacher.paraphrase_many(QUESTIONS, 2)
    assert [len(p) for p in out] == [2, 2]
    assert "response_format" not in server.requests[1] and "response_format" not in server.requests[2]
    assert teacher.usage()["failures"] == {}


def test_server_rejecting_temperature(server: FakeOpenAIServer, tmp_path: Path) -> None:
    teacher = make_teacher(server, tmp_path / "cache")
    server.script(status(400, "Unsupported value: 'temperature' does not support 0.9 with this model."))
    assert len(teacher.paraphrase_many(QUESTIONS[:1], 2)[0]) == 2
    assert "temperature" in server.requests[0] and "temperature" not in server.requests[1]
    assert teacher.usage()["failures"] == {}


def test_duplicate_items_are_asked_once(server: FakeOpenAIServer, tmp_path: Path) -> None:
    teacher = make_teacher(server, tmp_path / "cache")
    out = teacher.paraphrase_many([QUESTIONS[0], QUESTIONS[1], QUESTIONS[0]], 2)
    assert out[0] == out[2] and len(out[1]) == 2 and server.request_count == 2


def test_refused_key_is_a_user_error(server: FakeOpenAIServer, tmp_path: Path) -> None:
    teacher = make_teacher(server, tmp_path / "cache")
    server.script(status(401, "Incorrect API key provided"))
    with pytest.raises(UserError, match="refused the API key"):
        teacher.paraphrase_many(QUESTIONS[:1], 2)


# -- cache and concurrency ----------------------------------------------------------------------

def test_resume_from_cache_sends_no_requests(server: FakeOpenAIServer, tmp_path: Path) -> None:
    schema = shop_schema()
    first = make_teacher(server, tmp_path / "cache")
    para = first.paraphrase_many(QUESTIONS, 2)
    pairs = first.write_pairs(schema, QUESTIONS, 15)
    sidecar = first.propose_sidecar(schema)
    assert server.request_count == 2 + 2 + 1
    server.reset_counts()
    second = make_teacher(server, tmp_path / "cache")
    assert second.paraphrase_many(QUESTIONS, 2) == para
    assert [(c.question, c.sql, c.family) for c in second.write_pairs(schema, QUESTIONS, 15)] == \
        [(c.question, c.sql, c.family) for c in pairs]
    assert second.propose_sidecar(schema) == sidecar
    assert server.request_count == 0
    u = second.usage()
    assert (u["requests"], u["cache_hits"], u["prompt_tokens"], u["cost_usd"]) == (0, 5, 0, 0.0)


def test_concurrency_bound(tmp_path: Path) -> None:
    with FakeOpenAIServer(default_delay=0.1) as srv:
        teacher = make_teacher(srv, tmp_path / "cache", concurrency=3)
        items = [(f"How many orders were placed on day {i}?", "SELECT 1") for i in range(12)]
        out = teacher.paraphrase_many(items, 2)
        assert all(len(p) == 2 for p in out)
        assert srv.max_in_flight == 3  # bounded, and the bound is actually used


# -- tasks --------------------------------------------------------------------------------------

def test_write_pairs(server: FakeOpenAIServer, tmp_path: Path) -> None:
    teacher = make_teacher(server, tmp_path / "cache")
    examples = QUESTIONS + [("", "SELECT country, COUNT(*) FROM shop.customers GROUP BY country")]
    cands = teacher.write_pairs(shop_schema(), examples, 25)
    assert len(cands) == 25
    assert {c.source for c in cands} == {"openai:fake-model"}
    assert [c.family for c in cands[::10]] == ["llm_lookup", "llm_aggregate", "llm_join"]
    assert len({c.question for c in cands}) == 25
    prompts = sorted((b["messages"][1]["content"] for b in server.requests), key=lambda p: "Batch 1." not in p)
    assert len(prompts) == 3
    first = prompts[0]
    assert "TABLE shop.orders" in first and "shop.orders(customer_id) -> shop.customers(customer_id)" in first
    assert "revenue = SUM(amount)" in first and "Revenue counts paid orders only." in first
    assert QUESTIONS[0][0] in first and "GROUP BY country" in first  # few-shot pairs and log queries
    assert "Write 10 new" in first and any("Write 5 new" in p for p in prompts)
    assert "DuckDB" in server.requests[0]["messages"][0]["content"]


def test_propose_sidecar(server: FakeOpenAIServer, tmp_path: Path) -> None:
    teacher = make_teacher(server, tmp_path / "cache")
    sidecar = teacher.propose_sidecar(shop_schema())
    assert set(sidecar["tables"]) == {"shop.customers", "shop.orders"}
    assert set(sidecar["tables"]["shop.orders"]["columns"]) == {
        "order_id", "customer_id", "ordered_at", "status", "amount"}
    assert sidecar["metrics"] == {"row_count": {"sql": "COUNT(*)", "table": "shop.customers",
                                                "description": "Rows."}}
    assert sidecar["rules"] == ["Counts are over rows."]


def test_paraphrases_that_change_numbers_are_filtered(server: FakeOpenAIServer, tmp_path: Path) -> None:
    teacher = make_teacher(server, tmp_path / "cache")
    server.script(ok({"paraphrases": ["How many orders were there in 2023?", "Orders placed in 2024: how many?",
                                      "how many orders were placed in 2024?", "1. Count the 2024 orders"]}))
    out = teacher.paraphrase_many(QUESTIONS[:1], 5)
    assert out == [["Orders placed in 2024: how many?", "Count the 2024 orders"]]
    assert teacher.usage()["filtered"] == {"paraphrase_changed_numbers": 1, "paraphrase_duplicate": 1}


# -- configuration ------------------------------------------------------------------------------

def test_missing_api_key_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        OpenAITeacher("openai:gpt-4o-mini", tmp_path, TeacherConfig())
    assert "OPENAI_API_KEY" in str(info.value) and "any non-empty string" in str(info.value)
    with pytest.raises(UserError):
        OpenAITeacher("gpt-4o-mini", tmp_path, TeacherConfig(), api_key="  ")


def test_environment_variables(server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "local")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    teacher = OpenAITeacher("openai:llama3.1:8b", tmp_path, TeacherConfig())
    assert teacher.model == "llama3.1:8b"
    assert len(teacher.paraphrase_many(QUESTIONS[:1], 1)[0]) == 1
    assert server.requests[0]["model"] == "llama3.1:8b"


def test_parse_teacher_name() -> None:
    assert parse_teacher_name("openai:gpt-4o-mini") == "gpt-4o-mini"
    assert parse_teacher_name("openai:qwen2.5:7b") == "qwen2.5:7b"
    for bad in ("offline", "openai:", "anthropic:claude"):
        with pytest.raises(UserError):
            parse_teacher_name(bad)


def test_extract_json() -> None:
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('Sure!\n```json\n{"a": [1, 2,],}\n```\nDone.') == {"a": [1, 2]}
    assert extract_json('<think>maybe {"no": 1}</think>Here: {"yes": true} and {"later": 1}') == {"yes": True}
    assert extract_json('I think [sic] the answer is ["x", "y"]') == ["x", "y"]
    assert extract_json("no json here {oops}") is None
    assert extract_json("") is None


def test_render_schema_is_compact() -> None:
    text = render_schema(shop_schema())
    assert text.splitlines()[0] == "TABLE shop.customers -- One row per customer (also called: clients)"
    assert "  country VARCHAR; e.g. 'Germany', 'France'" in text
    assert "  ordered_at TIMESTAMP -- When the order was placed [time column]" in text
