"""The model of an MCP client that supports sampling with tools, driven by the same script as the fake APIs.

    model = FakeClientModel(Reply(tool_calls=[ToolCall("done", {"output": "ok"})]))
    async with Client(server, mode="legacy", **model.client_options()) as client:
        ...  # the server's sampling/createMessage requests are answered from the script

Every request pops the next script item (``Reply``, ``Failure``, ``Delay`` or a callable of the
request), like :class:`~tests.support.fakes.scripted.ScriptedServer`, and is recorded as a
:class:`~tests.support.fakes.scripted.RecordedRequest` (``api == "sampling"``) whose body is the
request's params in wire form, so the conversation helpers and ``steps.py`` read it as they read
the other fakes' requests. A ``Failure`` is answered as a JSON-RPC error; a ``Delay`` sleeps, and
when the server cancels the request meanwhile the request is recorded as ``client_disconnected``.
``mode="legacy"``: only handshake-era connections carry requests from the server.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import traceback
from typing import Any

from mcp import types

from .scripted import Delay, Failure, RecordedRequest, Reply, ScriptItem, random_id

__all__ = ["FakeClientModel"]

_INTERNAL_ERROR = -32603


class FakeClientModel:
    """Constructor: ``FakeClientModel(*items, model="fake-client-model")``."""

    def __init__(self, *items: ScriptItem, model: str = "fake-client-model") -> None:
        self.model = model
        self.requests: list[RecordedRequest] = []
        self._script: list[ScriptItem] = list(items)
        self._cond = threading.Condition()
        self.client: Any = None  # the MCP client using this model, when a fixture made one

    # -- the script, as on the fake API servers --

    def push(self, *items: ScriptItem) -> FakeClientModel:
        self._script.extend(items)
        return self

    @property
    def model_requests(self) -> list[RecordedRequest]:
        return self.requests

    @property
    def calls(self) -> int:
        return len(self.requests)

    @property
    def pending(self) -> int:
        return len(self._script)

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]

    def all_raw(self) -> bytes:
        """Every request's body, concatenated (to assert a secret never went out)."""
        return b"\n".join(r.raw for r in self.requests)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until ``n`` requests were answered or abandoned (sync: call through ``asyncio.to_thread``)."""
        with self._cond:
            if not self._cond.wait_for(
                lambda: sum(1 for r in self.requests if r.status is not None or r.client_disconnected) >= n, timeout
            ):
                raise TimeoutError(f"FakeClientModel: expected {n} answered requests, saw {len(self.requests)}")
            return list(self.requests)

    # -- the MCP client's side --

    def client_options(self) -> dict[str, Any]:
        """``Client(...)`` keyword arguments: the sampling callback and the ``sampling.tools`` capability."""
        return {
            "sampling_callback": self.callback,
            "sampling_capabilities": types.SamplingCapability(tools=types.SamplingToolsCapability()),
            "client_info": types.Implementation(name="fake-client", version="1.0"),
        }

    async def callback(self, _context: Any, params: types.CreateMessageRequestParams) -> Any:
        body = params.model_dump(by_alias=True, mode="json", exclude_none=True)
        raw = json.dumps(body).encode()
        req = RecordedRequest(
            method="sampling/createMessage",
            path="sampling/createMessage",
            query={},
            headers={},
            raw=raw,
            body=body,
            index=len(self.requests),
            received_at=time.monotonic(),
        )
        self.requests.append(req)
        try:
            step = await self._resolve(req)
        except asyncio.CancelledError:
            req.client_disconnected = True
            self._notify()
            raise
        req.script_item = step
        if isinstance(step, Failure):
            req.status = step.status
            answer: Any = types.ErrorData(code=_INTERNAL_ERROR, message=step.message or f"the model failed ({step.status})")
        else:
            req.status = 200
            answer = self._result(step)
        req.response = answer.model_dump(by_alias=True, mode="json", exclude_none=True)
        self._notify()
        return answer

    async def _resolve(self, req: RecordedRequest) -> Reply | Failure:
        item: Any = self._script.pop(0) if self._script else None
        if item is None:
            return Failure(500, f"fake script exhausted: no scripted reply left for sampling request #{len(self.requests)}")
        for _ in range(100):  # callables and nested delays
            if isinstance(item, Delay):
                await asyncio.sleep(item.seconds)
                item = item.then
            elif callable(item) and not isinstance(item, Reply | Failure):
                try:
                    item = item(req)
                except Exception:  # a bug in the test's callable: answer an error, keep the traceback
                    req.error = traceback.format_exc()
                    item = Failure(500, "fake script callable raised: " + req.error.strip().splitlines()[-1])
            else:
                break
        return item if isinstance(item, Reply | Failure) else Failure(500, f"unsupported script item {item!r}")

    def _result(self, step: Reply) -> types.CreateMessageResultWithTools:
        content: list[Any] = []
        if step.text is not None:
            content.append(types.TextContent(type="text", text=step.text))
        for call in step.tool_calls:
            content.append(
                types.ToolUseContent(
                    type="tool_use", id=call.id or random_id("toolu_", 16), name=call.name, input=dict(call.args)
                )
            )
        stop = step.stop_reason or ("toolUse" if step.tool_calls else "endTurn")
        return types.CreateMessageResultWithTools(
            role="assistant", content=content or [types.TextContent(type="text", text="")], model=self.model, stop_reason=stop
        )

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()
