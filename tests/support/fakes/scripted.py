"""Shared core of the fake API servers: a neutral scripted-reply model and a recording HTTP server.

The fakes are real HTTP servers on ``127.0.0.1:<free port>`` (stdlib ``ThreadingHTTPServer`` in a
background thread), so the real ``anthropic`` / ``google-genai`` SDKs (or any HTTP client) talk to
them exactly as they would to the real services. They start and stop in a few milliseconds and work
from sync and async tests alike (the server never touches the test's event loop).

Script model (API-neutral; each fake renders it in its own wire format)::

    fake.push(
        Reply(tool_calls=[ToolCall("click", {"ref": "e12"})]),
        Failure(429, retry_after=0.01),
        Delay(2.0, then=Reply(text="done")),
        lambda req: Reply(text="saw: " + req.latest_text()[:50]),
    )

Every model request pops the next item. An empty queue answers a 500 ("fake script exhausted")
and records it. Requests rejected before reaching the "model" (missing key, streaming requested,
malformed conversation) are recorded but do not consume a script item.
"""

from __future__ import annotations

import base64
import json
import secrets
import select
import socket
import string
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = [
    "Delay",
    "Failure",
    "RecordedRequest",
    "RecordingServer",
    "Reply",
    "Response",
    "ScriptItem",
    "ScriptedServer",
    "ToolCall",
    "random_id",
]


# -- script model ---------------------------------------------------------------------------


@dataclass
class ToolCall:
    """One tool/function call the fake model makes.

    ``id``: Anthropic ``tool_use.id`` (generated as ``toolu_…`` when None). For Gemini the id is only
    sent when given here (or when ``FakeGemini(function_call_ids=True)``), like the real API, which
    normally omits it.
    """

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass
class Reply:
    """A successful model turn: optional text, then zero or more tool calls.

    Token counts of None are estimated: input from the request size (``len(raw) // 4``), output from
    the rendered reply size (``len(json) // 4``), both at least 1.
    ``stop_reason`` (Anthropic) / ``finish_reason`` (Gemini) override the automatic values
    (``tool_use``/``end_turn`` resp. ``STOP``), e.g. ``stop_reason="max_tokens"``.
    """

    text: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str | None = None
    finish_reason: str | None = None


@dataclass
class Failure:
    """An error answer in the API's own error shape, e.g. ``Failure(429)``, ``Failure(500)``, ``Failure(401)``.

    ``message``: empty → a realistic default for the status. ``error_type`` overrides the API-specific
    error type (Anthropic ``error.type`` such as ``"overloaded_error"``; Gemini ``error.status`` such as
    ``"UNAVAILABLE"``). ``retry_after`` (seconds, may be fractional) → ``retry-after`` header (Anthropic)
    / ``RetryInfo`` detail + ``retry-after`` header (Gemini). ``headers`` are added verbatim.
    """

    status: int
    message: str = ""
    retry_after: float | None = None
    error_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Delay:
    """Sleep ``seconds`` before answering with ``then`` (for timeout / cancellation tests).

    The sleep ends early when the server closes or the client disconnects (then nothing is sent and
    the recorded request gets ``client_disconnected = True``).
    """

    seconds: float
    then: ScriptItem = field(default_factory=Reply)


ScriptItem = Reply | Failure | Delay | Callable[["RecordedRequest"], Reply | Failure | Delay]


def random_id(prefix: str = "", n: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


# -- recorded requests ----------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One HTTP request as the fake received it (and what it answered)."""

    method: str
    path: str  # without the query string
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    raw: bytes  # body bytes exactly as received
    body: Any  # parsed JSON body (None if empty / not JSON)
    index: int = 0  # position in server.requests
    received_at: float = 0.0  # time.monotonic()
    # filled in while/after answering:
    script_item: Any = None  # the resolved Reply/Failure the model step used (None if none)
    status: int | None = None  # HTTP status sent (None: nothing sent)
    response: Any = None  # JSON body sent
    client_disconnected: bool = False  # client went away during a Delay
    error: str | None = None  # traceback if a callable script item raised

    # -- conversation helpers (work for Anthropic, Gemini, OpenAI and MCP sampling request bodies) --

    @property
    def api(self) -> str:
        """``"anthropic"`` / ``"gemini"`` / ``"openai"`` / ``"sampling"`` / ``"other"``, from the path and body shape."""
        if self.path.endswith("/chat/completions"):
            return "openai"
        if self.method == "sampling/createMessage":
            return "sampling"
        if isinstance(self.body, dict):
            if "messages" in self.body:
                return "anthropic"
            if "contents" in self.body:
                return "gemini"
        return "other"

    @property
    def text(self) -> str:
        """The raw body decoded as UTF-8 (for grepping, e.g. that a secret never left the process)."""
        return self.raw.decode("utf-8", "replace")

    def messages(self) -> list[tuple[str, str]]:
        """``[(role, text), …]`` for every turn, normalised: roles ``user``/``assistant``; tool calls as
        ``name({json args})``, tool results / function responses as their text."""
        body = self.body if isinstance(self.body, dict) else {}
        out: list[tuple[str, str]] = []
        if self.api == "anthropic":
            for m in body.get("messages") or []:
                if isinstance(m, dict):
                    out.append((m.get("role", "user"), _anthropic_content_text(m.get("content"))))
        elif self.api == "gemini":
            for c in body.get("contents") or []:
                if isinstance(c, dict):
                    role = "assistant" if c.get("role") == "model" else "user"
                    out.append((role, _gemini_parts_text(c.get("parts"))))
        elif self.api == "openai":
            for m in body.get("messages") or []:
                if isinstance(m, dict) and m.get("role") in ("user", "assistant", "tool"):
                    out.append(("assistant" if m["role"] == "assistant" else "user", _openai_message_text(m)))
        elif self.api == "sampling":
            for m in body.get("messages") or []:
                if isinstance(m, dict):
                    out.append((m.get("role", "user"), _anthropic_content_text(m.get("content"))))
        return out

    def latest_text(self) -> str:
        """Text of the latest user-side turn: user text, Anthropic ``tool_result`` content, Gemini
        ``functionResponse.response`` strings. This is where a page observation usually is."""
        for role, text in reversed(self.messages()):
            if role == "user":
                return text
        return ""

    def system_text(self) -> str:
        body = self.body if isinstance(self.body, dict) else {}
        if self.api == "anthropic":
            return _anthropic_content_text(body.get("system"))
        if self.api == "gemini":
            si = gkey(body, "systemInstruction") or {}
            return _gemini_parts_text(si.get("parts") if isinstance(si, dict) else None)
        if self.api == "openai":
            return "\n".join(
                _openai_message_text(m)
                for m in body.get("messages") or []
                if isinstance(m, dict) and m.get("role") in ("system", "developer")
            )
        if self.api == "sampling":
            return str(body.get("systemPrompt") or "")
        return ""

    def all_text(self) -> str:
        """The whole prompt as text: system prompt, then every turn (both roles), newline-joined."""
        parts = [self.system_text()] + [t for _, t in self.messages()]
        return "\n".join(p for p in parts if p)

    def tool_names(self) -> list[str]:
        """Names of the tools/functions declared in the request."""
        body = self.body if isinstance(self.body, dict) else {}
        names: list[str] = []
        for tool in body.get("tools") or []:
            if not isinstance(tool, dict):
                continue
            if "name" in tool:  # Anthropic, MCP sampling
                names.append(tool["name"])
            if isinstance(tool.get("function"), dict):  # OpenAI
                names.append(tool["function"].get("name"))
            for decl in gkey(tool, "functionDeclarations") or []:  # Gemini
                if isinstance(decl, dict) and "name" in decl:
                    names.append(decl["name"])
        return names

    def tool_results(self) -> list[dict[str, Any]]:
        """Tool results in the latest user turn, normalised to ``{"id", "name", "content", "is_error"}``
        (Anthropic, sampling: name None; Gemini: id only if sent, content = the response dict; OpenAI: the
        trailing tool messages, name None, an error when the content says so, as it has no flag)."""
        body = self.body if isinstance(self.body, dict) else {}
        out: list[dict[str, Any]] = []
        if self.api == "openai":
            for m in reversed([m for m in body.get("messages") or [] if isinstance(m, dict)]):
                if m.get("role") == "tool":
                    content = m.get("content")
                    is_error = isinstance(content, str) and content.startswith("error")
                    out.insert(0, {"id": m.get("tool_call_id"), "name": None, "content": content, "is_error": is_error})
                elif m.get("role") != "user" or out:  # a user message of screenshots may follow the tool messages
                    break
        elif self.api in ("anthropic", "sampling"):
            msgs = [m for m in body.get("messages") or [] if isinstance(m, dict)]
            if msgs and msgs[-1].get("role") == "user" and isinstance(msgs[-1].get("content"), list):
                for b in msgs[-1]["content"]:
                    if isinstance(b, dict) and b.get("type") == "tool_result":
                        out.append(
                            {
                                "id": b.get("tool_use_id") or b.get("toolUseId"),
                                "name": None,
                                "content": _anthropic_content_text(b.get("content")),
                                "is_error": bool(b.get("is_error") or b.get("isError")),
                            }
                        )
        elif self.api == "gemini":
            contents = [c for c in body.get("contents") or [] if isinstance(c, dict)]
            if contents and contents[-1].get("role") != "model":
                for p in contents[-1].get("parts") or []:
                    fr = gkey(p, "functionResponse")
                    if isinstance(fr, dict):
                        out.append(
                            {
                                "id": fr.get("id"),
                                "name": fr.get("name"),
                                "content": fr.get("response"),
                                "is_error": isinstance(fr.get("response"), dict) and "error" in fr["response"],
                            }
                        )
        return out


def gkey(d: Any, camel: str) -> Any:
    """``d[camel]`` or its snake_case twin: google-genai sends pass-through objects (function declarations,
    function responses) in snake_case, which the real API accepts like camelCase (proto3 JSON)."""
    if not isinstance(d, dict):
        return None
    if camel in d:
        return d[camel]
    snake = "".join("_" + c.lower() if c.isupper() else c for c in camel)
    return d.get(snake)


def ghas(d: Any, camel: str) -> bool:
    return gkey(d, camel) is not None


def _strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _anthropic_content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    out: list[str] = []
    for b in content if isinstance(content, list) else [content]:
        if isinstance(b, str):
            out.append(b)
            continue
        if not isinstance(b, dict):
            continue
        t = b.get("type")
        if t == "text":
            out.append(str(b.get("text", "")))
        elif t == "tool_use":
            out.append(f"{b.get('name')}({json.dumps(b.get('input', {}), sort_keys=True)})")
        elif t == "tool_result":
            out.append(_anthropic_content_text(b.get("content")))
        elif t in ("thinking", "redacted_thinking"):
            continue
        elif t:
            out.append(f"[{t}]")
    return "\n".join(s for s in out if s)


def _openai_message_text(m: dict[str, Any]) -> str:
    content = m.get("content")
    out: list[str] = []
    if isinstance(content, str):
        out.append(content)
    elif isinstance(content, list):
        for p in content:
            if isinstance(p, dict):
                out.append(str(p.get("text", "")) if p.get("type") == "text" else f"[{p.get('type')}]")
    for c in m.get("tool_calls") or []:
        function = c.get("function") or {} if isinstance(c, dict) else {}
        try:
            args = json.loads(function.get("arguments") or "{}")
        except ValueError:
            args = function.get("arguments")
        out.append(f"{function.get('name')}({json.dumps(args, sort_keys=True)})")
    return "\n".join(s for s in out if s)


def _gemini_parts_text(parts: Any) -> str:
    out: list[str] = []
    for p in parts or []:
        if not isinstance(p, dict):
            continue
        if p.get("thought"):
            continue
        if "text" in p:
            out.append(str(p["text"]))
        elif ghas(p, "functionCall"):
            fc = gkey(p, "functionCall")
            out.append(f"{fc.get('name')}({json.dumps(fc.get('args', {}), sort_keys=True)})")
        elif ghas(p, "functionResponse"):
            fr = gkey(p, "functionResponse")
            out.append("\n".join(_strings(fr.get("response"))))
        elif ghas(p, "inlineData"):
            out.append("[inlineData]")
        elif ghas(p, "fileData"):
            out.append("[fileData]")
    return "\n".join(s for s in out if s)


# -- HTTP plumbing ----------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialisable, or bytes (sent as is)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # close() must not wait for keep-alive connections
    allow_reuse_address = True
    owner: RecordingServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        owner = self.server.owner
        raw = self._read_body()
        split = urllib.parse.urlsplit(self.path)
        headers: dict[str, str] = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = f"{headers[k]}, {v}" if k in headers else v
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        req = RecordedRequest(
            method=self.command,
            path=urllib.parse.unquote(split.path),
            query=dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True)),
            headers=headers,
            raw=raw,
            body=body,
            received_at=time.monotonic(),
        )
        owner._record(req)
        try:
            resp = owner.handle(req, _Conn(self))
        except Exception:  # a bug in a fake or a test callable: answer 500, keep the traceback
            req.error = traceback.format_exc()
            resp = owner.internal_error(req, "fake server error: " + req.error.strip().splitlines()[-1])
        if resp is None:  # client went away / server closing: send nothing
            self.close_connection = True
            owner._notify()
            return
        req.status = resp.status
        req.response = None if isinstance(resp.body, bytes) else resp.body
        payload = resp.body if isinstance(resp.body, bytes) else json.dumps(resp.body).encode()
        try:
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for k, v in resp.headers.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            req.client_disconnected = True
            self.close_connection = True
        finally:
            owner._notify()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


class _Conn:
    """What a handler needs of the live connection: an interruptible wait that notices a client hang-up."""

    def __init__(self, handler: _Handler) -> None:
        self._handler = handler

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; False if the server is closing or the client disconnected meanwhile."""
        closing = self._handler.server.owner._closing
        sock: socket.socket = self._handler.connection
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            if closing.wait(min(left, 0.02)):
                return False
            try:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable and sock.recv(1, socket.MSG_PEEK) == b"":
                    return False
            except OSError:
                return False


class RecordingServer:
    """A local HTTP server on 127.0.0.1 that records every request. Subclasses implement ``handle``.

    Usable as ``with Fake() as fake:`` / ``async with Fake() as fake:`` or start/``close()`` by hand.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._closing = threading.Event()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        self._closed = False

    # -- public --

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "") -> str:
        return self.base_url + "/" + path.lstrip("/")

    def close(self) -> None:
        """Stop serving (idempotent). Pending Delays end at once without answering."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=2)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def requests_to(self, path_part: str) -> list[RecordedRequest]:
        """Recorded requests whose path contains ``path_part``."""
        with self._lock:
            return [r for r in self.requests if path_part in r.path]

    @property
    def last(self) -> RecordedRequest:
        with self._lock:
            return self.requests[-1]

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``n`` requests were *answered* (or disconnected); raises TimeoutError.
        (Sync; from async code use ``await asyncio.to_thread(fake.wait_for_requests, n)``.)"""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: sum(1 for r in self.requests if r.status is not None or r.client_disconnected) >= n,
                timeout,
            )
            if not ok:
                raise TimeoutError(f"{type(self).__name__}: expected {n} answered requests, saw {len(self.requests)}")
            return list(self.requests)

    def all_raw(self) -> bytes:
        """Every recorded request's headers and body concatenated (to assert a secret never went out)."""
        with self._lock:
            chunks = []
            for r in self.requests:
                chunks.append(json.dumps(r.headers).encode())
                chunks.append(r.path.encode() + json.dumps(r.query).encode())
                chunks.append(r.raw)
            return b"\n".join(chunks)

    # -- for subclasses --

    def handle(self, req: RecordedRequest, conn: _Conn) -> Response | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def internal_error(self, req: RecordedRequest, message: str) -> Response:
        return Response(500, {"error": {"code": 500, "message": message}})

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            req.index = len(self.requests)
            self.requests.append(req)

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()


class ScriptedServer(RecordingServer):
    """A recording server whose model endpoint answers from a queue of script items.

    ``calls``: number of requests that reached the model step (popped an item, or found the queue
    empty). ``model_requests``: those requests. ``pending``: items still queued.
    """

    def __init__(self, *items: ScriptItem) -> None:
        super().__init__()
        self._script: list[ScriptItem] = list(items)
        self.model_requests: list[RecordedRequest] = []

    def push(self, *items: ScriptItem) -> Self:
        with self._lock:
            self._script.extend(items)
        return self

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.model_requests)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    def clear(self) -> None:
        """Drop queued items and forget recorded requests."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.model_requests.clear()

    # -- for subclasses --

    def error(self, status: int, message: str = "", *args: Any, **kwargs: Any) -> Response:
        """An error response in the provider's own shape."""
        raise NotImplementedError

    def answer_model_request(
        self,
        req: RecordedRequest,
        conn: _Conn,
        *,
        not_object: str,
        checks: Iterable[Callable[[dict[str, Any]], str | None]],
        render: Callable[[Reply | Failure], Response],
    ) -> Response | None:
        """What every model endpoint does once the caller is known: a body that is no JSON object is a 400
        (``not_object``), so is the first problem a check finds; otherwise the next script step, rendered
        (None when a Delay was cut short)."""
        if not isinstance(req.body, dict):
            return self.error(400, not_object)
        for check in checks:
            problem = check(req.body)
            if problem:
                return self.error(400, problem)
        step = self.next_step(req, conn)
        return None if step is None else render(step)

    def next_step(self, req: RecordedRequest, conn: _Conn) -> Reply | Failure | None:
        """Pop the next item for a model request and resolve callables and Delays.

        Returns the Reply/Failure to render, a ``Failure(500, "fake script exhausted…")`` when the
        queue is empty, or None when a Delay was cut short (client gone / server closing).
        """
        with self._lock:
            self.model_requests.append(req)
            n = len(self.model_requests)
            item: Any = self._script.pop(0) if self._script else None
        if item is None:
            step: Reply | Failure = Failure(
                500, f"fake script exhausted: no scripted reply left for model request #{n} ({req.path})"
            )
            req.script_item = step
            return step
        for _ in range(100):  # resolve callables / nested delays
            if callable(item) and not isinstance(item, (Reply, Failure, Delay)):
                try:
                    item = item(req)
                except Exception:
                    req.error = traceback.format_exc()
                    item = Failure(500, "fake script callable raised: " + req.error.strip().splitlines()[-1])
                continue
            if isinstance(item, Delay):
                if not conn.wait(item.seconds):
                    req.client_disconnected = not self._closing.is_set()
                    return None
                item = item.then
                continue
            break
        if not isinstance(item, (Reply, Failure)):
            item = Failure(500, f"fake script item of unsupported type {type(item).__name__}: {item!r}")
        req.script_item = item
        return item


def no_stream(fake: str, use: str) -> Callable[[dict[str, Any]], str | None]:
    """A check refusing ``stream=true`` (the fakes answer whole responses only)."""
    return lambda body: f"stream=true is not supported by {fake}; use non-streaming {use}" if body.get("stream") else None


def estimate_tokens(data: Any) -> int:
    n = len(data) if isinstance(data, (bytes, bytearray)) else len(json.dumps(data))
    return max(1, n // 4)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
