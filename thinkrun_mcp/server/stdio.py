"""The stdio transport, answering every request the SDK's parser would drop.

The SDK parses each stdin line with pydantic-core; a line it refuses is dropped and
its request never answered. Two kinds of valid JSON are refused:

- lone-surrogate escapes: ``"\\ud800"`` is valid JSON (RFC 8259 allows any
  ``\\uXXXX``) and a client may send one (a model copies a broken emoji, a page's
  text travels back). Each becomes ``\\ufffd``, the replacement character; valid
  pairs and escaped backslashes are left as they are;
- nesting deeper than pydantic-core's limit (about 200 levels). A ``tools/call``
  so deep is passed on with its arguments replaced by a marker, which the tool
  boundary answers with ``invalid_input`` naming the cause.

Everything else is the SDK's own stdio transport.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import AsyncIterator

import anyio
import pydantic_core
from mcp.server.stdio import stdio_server

__all__ = ["UNREADABLE", "fix_surrogate_escapes", "readable", "stdio_streams"]

UNREADABLE = "\u0000thinkrun-unreadable"  # the argument that carries why a call's JSON could not be read
_ID = re.compile(r'"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.){0,200}")')
_NAME = re.compile(r'"name"\s*:\s*("(?:[^"\\]|\\.){1,200}")')

# An escaped backslash (kept, so "\\\\ud800" stays text), a valid surrogate pair (kept), or a lone surrogate.
_ESCAPES = re.compile(r"(\\\\)|(\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})|(\\u[dD][89a-fA-F][0-9a-fA-F]{2})")


def fix_surrogate_escapes(line: str) -> str:
    """JSON text with every lone-surrogate ``\\uXXXX`` escape replaced by ``\\ufffd``."""
    if "\\u" not in line and "\\U" not in line:
        return line
    return _ESCAPES.sub(lambda m: m.group(0) if m.group(3) is None else "\\ufffd", line)


def readable(line: str) -> str:
    """``line`` as the SDK can parse it: surrogate escapes fixed; a ``tools/call`` it cannot read marked."""
    line = fix_surrogate_escapes(line)
    try:
        pydantic_core.from_json(line)
        return line
    except ValueError as exc:
        why = str(exc)
    if '"tools/call"' not in line:
        return line  # not a tool call: the SDK's own handling
    request_id, name = _ID.search(line), _NAME.search(line)
    if request_id is None:
        return line
    message = {
        "jsonrpc": "2.0",
        "id": json.loads(request_id.group(1)),
        "method": "tools/call",
        "params": {"name": json.loads(name.group(1)) if name else "", "arguments": {UNREADABLE: why}},
    }
    return json.dumps(message) + "\n"


class _SafeLines:
    """stdin as lines the SDK can always parse."""

    def __init__(self) -> None:
        # A private duplicate of fd 0: closing it never closes the process's own stdin.
        raw = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
        self._lines = anyio.wrap_file(io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8", errors="replace"))

    async def __aiter__(self) -> AsyncIterator[str]:
        async for line in self._lines:
            yield readable(line)


def stdio_streams() -> object:
    """The SDK's stdio transport (``async with stdio_streams() as (read, write)``) over safe stdin lines."""
    return stdio_server(stdin=_SafeLines())  # type: ignore[arg-type]  # it only iterates lines
