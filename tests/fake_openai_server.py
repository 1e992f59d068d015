"""A real local HTTP server that speaks the OpenAI chat-completions protocol, for tests.

``POST /v1/chat/completions`` with a JSON body answers a ``chat.completion`` object, the way
OpenAI, vLLM, Ollama and llama.cpp do, so tests drive the real ``openai`` client over real
sockets. Each test scripts what happens: :meth:`FakeOpenAIServer.script` queues replies
(:func:`ok`, :func:`rate_limited`, :func:`server_error`, :func:`slow`, :func:`malformed`,
:func:`status`) that incoming requests consume in arrival order; once the queue is empty a
default responder writes plausible answers for the teacher's three prompts (paraphrases that
keep the question's numbers, count queries over the tables named in the schema, a sidecar).

The server records what it saw -- request bodies, the number of requests, the most requests in
flight at once, the token usage it returned -- so tests can assert on retries, the cache and
the concurrency bound.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted behaviour. ``content=None`` on a 200 means: use the default responder."""

    status: int = 200
    content: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""  # message of an error body (status != 200)
    delay: float = 0.0  # seconds to wait before answering (longer than the client timeout: a timeout)
    usage: dict[str, int] | None = None  # usage to report; None: counted from the text
    raw_body: str | None = None  # send this body verbatim (a broken server)


def ok(content: str | dict[str, Any] | None = None, usage: dict[str, int] | None = None) -> Reply:
    text = json.dumps(content) if isinstance(content, dict) else content
    return Reply(content=text, usage=usage)


def rate_limited(retry_after: float = 0.01) -> Reply:
    return Reply(status=429, error="Rate limit reached", headers={"Retry-After": f"{retry_after:g}"})


def server_error(code: int = 500) -> Reply:
    return Reply(status=code, error="The server had an error while processing your request")


def status(code: int, message: str = "error") -> Reply:
    return Reply(status=code, error=message)


def slow(seconds: float, content: str | None = None) -> Reply:
    return Reply(delay=seconds, content=content)


def malformed(text: str = "Sure! Here are the paraphrases you asked for: first, second.") -> Reply:
    return Reply(content=text)


class FakeOpenAIServer:
    """``with FakeOpenAIServer() as srv:`` -- listens on 127.0.0.1:<free port> in a thread."""

    def __init__(self, responder: Callable[[dict[str, Any]], str] | None = None,
                 default_delay: float = 0.0) -> None:
        self.responder = responder or default_responder
        self.default_delay = default_delay  # applies to unscripted replies (concurrency tests)
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.prompt_tokens_returned = 0
        self.completion_tokens_returned = 0
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> FakeOpenAIServer:
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True  # a handler still sleeping must not block shutdown
        # A short poll interval so that stop() returns at once (the default waits up to 0.5 s).
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers that sleep to simulate a slow server
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting and records ----------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = 0
            self.prompt_tokens_returned = 0
            self.completion_tokens_returned = 0

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self._queue:
                return self._queue.popleft()
        return Reply(delay=self.default_delay)

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        content = reply.content if reply.content is not None else self.responder(body)
        if reply.usage is not None:
            usage = dict(reply.usage)
        else:
            prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
            usage = {"prompt_tokens": prompt, "completion_tokens": len(content.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        with self._lock:
            self.prompt_tokens_returned += usage["prompt_tokens"]
            self.completion_tokens_returned += usage["completion_tokens"]
        return {
            "id": f"chatcmpl-fake{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": usage,
        }


def _make_handler(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _send(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._send(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
                return
            reply = server._next(body)
            try:
                if reply.delay:
                    server._stopping.wait(reply.delay)
                if reply.raw_body is not None:
                    self._send(reply.status, reply.raw_body, reply.headers)
                elif reply.status != 200:
                    err = {"error": {"message": reply.error, "type": "fake_error", "code": reply.status}}
                    self._send(reply.status, err, reply.headers)
                else:
                    self._send(200, server._completion(body, reply), reply.headers)
            finally:
                server._done()

    return Handler


# -- default answers --------------------------------------------------------------------------

_STYLES = ("Could you tell me {q}", "I'd like to know {q}", "Quick question: {q}", "Please find out {q}",
           "Help me with this: {q}", "Tell me {q}", "{q} Thanks!", "Can you check {q}")


def default_responder(body: dict[str, Any]) -> str:
    """Plausible JSON answers for the teacher's prompts, recognised by their wording."""
    messages = body.get("messages", [])
    system = next((m["content"] for m in messages if m.get("role") == "system"), "")
    user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    if "rewrite questions" in system:
        return json.dumps({"paraphrases": paraphrases_for(user)})
    if "text-to-SQL" in system:
        return json.dumps({"pairs": pairs_for(user)})
    if "semantic layer" in system:
        return json.dumps(sidecar_for(user))
    return json.dumps({"echo": user})


def paraphrases_for(user: str) -> list[str]:
    question = re.search(r"^Question: (.+)$", user, re.M)
    n = re.search(r"Write (\d+) different paraphrases", user)
    q = question.group(1).strip() if question else "the question"
    lowered = q[0].lower() + q[1:] if q else q
    count = int(n.group(1)) if n else 2
    return [_STYLES[i % len(_STYLES)].format(q=lowered) for i in range(count)]


def _tables(user: str) -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in user.splitlines():
        m = re.match(r"^TABLE (\S+)", line)
        if m:
            current = tables.setdefault(m.group(1), [])
        elif current is not None and re.match(r"^  \w+ ", line) and not line.startswith("  PRIMARY KEY"):
            current.append(line.split()[0])
        elif not line.startswith("  "):
            current = None
    return tables


def pairs_for(user: str) -> list[dict[str, str]]:
    tables = list(_tables(user)) or ["t"]
    n = re.search(r"Write (\d+) new", user)
    batch = re.search(r"Batch (\d+)", user)
    count = int(n.group(1)) if n else 3
    b = int(batch.group(1)) if batch else 1
    out = []
    for i in range(count):
        table = tables[i % len(tables)]
        limit = b * 100 + i  # makes every question of every batch distinct
        out.append({"question": f"Show {limit} rows of {table}.", "sql": f"SELECT * FROM {table} LIMIT {limit}"})
    return out


def sidecar_for(user: str) -> dict[str, Any]:
    tables = _tables(user)
    first = next(iter(tables), "t")
    return {
        "tables": {
            name: {"description": f"Rows of {name}.", "synonyms": [name.split(".")[-1]],
                   "columns": [{"name": c, "description": f"The {c}.", "synonyms": [c.replace("_", " ")]}
                               for c in cols]}
            for name, cols in tables.items()
        },
        # A list of named items, the way models often answer: the teacher turns it into a mapping.
        "metrics": [{"name": "row_count", "sql": "COUNT(*)", "table": first, "description": "Rows."}],
        "rules": ["Counts are over rows."],
    }
