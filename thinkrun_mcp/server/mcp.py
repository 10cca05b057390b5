"""The MCP front end: a thin adapter from tools to the runtime's services.

Errors are translated here, once: a :class:`ThinkRunError` becomes a tool error
``"<code>: <message> (hint: …)"``; arguments that fail validation become
``invalid_input`` naming each bad field; any other exception is logged with its
traceback and reported as ``internal_error``.

Tool parameters are snake_case in Python and camelCase on the wire: the
:func:`camel_case_args` adapter aliases them, and unknown argument names are
refused rather than silently ignored.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, get_origin

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, ImageContent, TextContent
from pydantic import BaseModel, Field, ValidationError, WithJsonSchema
from pydantic.alias_generators import to_camel

from .. import __version__
from ..config import Settings
from ..errors import ThinkRunError
from ..runtime import Runtime

__all__ = ["ThinkRunMCP", "create_server", "camel_case_args", "client_key", "respond", "runtime_of", "terse"]

log = logging.getLogger(__name__)

_CLOSE_SECONDS = 60  # longest a shutdown may take (ending sessions, stopping the browser, flushing the store)

INSTRUCTIONS = """\
thinkrun-mcp drives real, isolated Chromium sessions.
Start with browser_navigate(url); every browser tool works on your default session unless you pass sessionId
(session_create opens more). Observations list the page's elements with refs like e12; pass a ref to browser_act
(method=click|fill|select|press|…). browser_extract reads text/markdown/links/tables. Errors read
"<code>: <message> (hint: …)". agent_execute runs a whole task on its own; page_cache_* fetch a URL without a session."""


class ThinkRunMCP(MCPServer[Runtime]):
    """MCPServer with our error translation, argument checks and compact tool schemas."""

    async def list_tools(self) -> list[Any]:
        tools = await super().list_tools()
        for tool in tools:
            tool.input_schema = compact_schema(tool.input_schema)
            if tool.output_schema is not None:
                tool.output_schema = shallow_output_schema(tool.output_schema)
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None) -> Any:
        tool = self._tool_manager.get_tool(name)
        if tool is not None:
            known = set(tool.parameters.get("properties", {}))
            unknown = [k for k in arguments if k not in known]
            if unknown:
                raise ToolError(str(_unknown_args(name, unknown, known)))
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ThinkRunError):
                raise ToolError(str(cause)) from cause
            if isinstance(cause, ValidationError) and not isinstance(exc, UnexpectedToolError):
                # The caller's arguments; a result that fails validation is our bug (below).
                raise ToolError(str(_validation_error(cause))) from cause
            if isinstance(cause, (ToolError,)) and isinstance(cause.__cause__, ThinkRunError):
                raise ToolError(str(cause.__cause__)) from cause
            if cause is None:  # unknown tool, or a ToolError raised on purpose
                raise
            log.error("tool %s failed unexpectedly", name, exc_info=cause)
            first = str(cause).splitlines()[0][:200] if str(cause) else ""
            raise ToolError(
                str(ThinkRunError("internal_error", f"{name} failed: {type(cause).__name__}{': ' + first if first else ''}",
                                  hint="this is a bug in thinkrun-mcp; the traceback is in the server log"))
            ) from cause


def _unknown_args(tool: str, unknown: list[str], known: set[str]) -> ThinkRunError:
    import difflib

    parts = []
    for k in unknown:
        close = difflib.get_close_matches(to_camel(k), sorted(known), n=1) or difflib.get_close_matches(k, sorted(known), n=1)
        parts.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return ThinkRunError(
        "invalid_input",
        f"{tool} got unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(parts)}",
        hint=f"arguments are: {', '.join(sorted(known)) or 'none'}",
    )


def _validation_error(exc: ValidationError) -> ThinkRunError:
    parts = []
    for err in exc.errors()[:8]:
        loc = ".".join(str(p) for p in err["loc"]) or "arguments"
        value = err.get("input")
        shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
        if len(shown) > 60:
            shown = shown[:57] + "…"
        parts.append(f"{loc}: {err['msg']} (got {shown})" if err["type"] != "missing" else f"{loc}: required")
    return ThinkRunError("invalid_input", "; ".join(parts), hint="see the tool's input schema")


# -- schemas ----------------------------------------------------------------------------


# Size limits are enforced by the server (pydantic) and named in its errors; publishing them
# in every argument would cost the tool list about a tenth of its size.
_ENFORCED_ONLY = frozenset({"maxLength", "minLength", "maxItems", "minItems"})
_GUARD_RAIL = 1_000_000  # a maximum this large only stops absurd input: enforced, not published


def compact_schema(schema: Any) -> Any:
    """The same input JSON Schema with less to read.

    No titles; optional arguments lose their ``null`` (leaving one out is how a caller
    says "none"); size limits, guard-rail maximums and defaults of ``false``/``0`` are
    enforced by the server but not published.
    """
    if isinstance(schema, list):
        return [compact_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in _ENFORCED_ONLY:
            continue
        if key == "default" and value in (False, 0) and value is not None:
            continue  # false and 0 are what a caller assumes anyway
        if key == "maximum" and isinstance(value, int) and value >= _GUARD_RAIL:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: compact_schema(v) for name, v in value.items()}
        else:
            out[key] = compact_schema(value)
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(o for o in options if o != {"type": "null"})
        del out["anyOf"]
        if out.get("default", 0) is None:
            del out["default"]
        out = {**other, **out}
    return out


def shallow_output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Only the names of the top-level fields: ``{"type": "object", "properties": {"url": {}, …}}``.

    Every client sends the whole tool list to its model on every turn, and the model
    reads a result's text, not its schema; the field names tell a program what to
    expect, and the structured results stay valid against it. (Typed fields would add
    a sixth to the tool list.)
    """
    out = {k: v for k, v in schema.items() if k not in ("$defs", "required", "description", "title", "properties")}
    out["properties"] = {name: {} for name in schema.get("properties", {})}
    return out


def terse(model: type[BaseModel]) -> Any:
    """``model`` as a tool argument whose schema is only its field names and JSON types.

    For nested option objects (page-cache options, an initial task): their fields are
    explained in the tool description, and the full schemas would cost the tool list
    kilobytes. Values are still validated by the model (ranges, unknown names).
    """
    schema = model.model_json_schema()

    def simple(prop: dict[str, Any]) -> dict[str, Any]:
        if "anyOf" in prop:
            return simple(next((o for o in prop["anyOf"] if o != {"type": "null"}), {}))
        if "$ref" in prop:
            return {"type": "object"}
        if "enum" in prop:
            return {"enum": prop["enum"]}
        if prop.get("type") == "array" and "items" in prop:
            return {"type": "array", "items": simple(prop["items"])}
        return {"type": prop["type"]} if "type" in prop else {}

    out: dict[str, Any] = {"type": "object", "properties": {n: simple(p) for n, p in schema["properties"].items()}}
    if schema.get("required"):
        out["required"] = schema["required"]
    return Annotated[model, WithJsonSchema(out)]


# -- parameter naming -------------------------------------------------------------------


def camel_case_args(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Publish a tool's snake_case parameters under camelCase names and map them back on call."""
    sig = inspect.signature(fn, eval_str=True)
    params = []
    back: dict[str, str] = {}
    for name, p in sig.parameters.items():
        ann = p.annotation
        alias = to_camel(name)
        is_ctx = ann is Context or (isinstance(ann, type) and issubclass(ann, Context)) or get_origin(ann) is Context
        if alias != name and not is_ctx:
            ann = Annotated[ann, Field(alias=alias)]
            back[alias] = name
        params.append(p.replace(annotation=ann))

    @functools.wraps(fn)
    async def wrapper(**kwargs: Any) -> Any:
        return await fn(**{back.get(k, k): v for k, v in kwargs.items()})

    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    # get_type_hints() on the wrapper must see the aliased annotations, not fn's.
    wrapper.__annotations__ = {p.name: p.annotation for p in params} | {"return": sig.return_annotation}
    return wrapper


# -- helpers for tools ------------------------------------------------------------------


def runtime_of(ctx: Context) -> Runtime:
    return ctx.request_context.lifespan_context


def client_key(ctx: Context) -> str:
    """Who is calling, for default sessions and the per-client cap.

    stdio has one client per process; a streamable-HTTP client in a stateful
    session is its ``mcp-session-id``; a stateless HTTP client is known only
    by the client name it declares.
    """
    headers = ctx.headers
    if headers:
        sid = headers.get("mcp-session-id")
        if sid:
            return f"mcp:{sid}"
        meta = ctx.request_context.meta or {}
        info = meta.get("io.modelcontextprotocol/clientInfo") if isinstance(meta, dict) else None
        name = info.get("name") if isinstance(info, dict) else None
        return f"http:{name or 'anonymous'}"
    return "local"


def respond(model: BaseModel, text: str, *, image: tuple[bytes, str] | None = None) -> CallToolResult:
    """A tool result: readable text (and an image) for the model, the model as structured content."""
    content: list[Any] = []
    if image is not None:
        import base64

        data, mime = image
        content.append(ImageContent(type="image", data=base64.b64encode(data).decode("ascii"), mime_type=mime))
    content.append(TextContent(type="text", text=text))
    return CallToolResult(content=content, structured_content=model.model_dump(mode="json", by_alias=True))


# -- the server -------------------------------------------------------------------------


def create_server(settings: Settings | None = None, *, runtime: Runtime | None = None) -> ThinkRunMCP:
    """Build the MCP server.

    Args:
        settings: Configuration; read from the environment when omitted.
        runtime: An already started runtime to serve (tests share one); otherwise each
            lifespan (one per process for stdio and HTTP) starts and closes its own.
    """
    settings = settings or (runtime.settings if runtime else Settings())

    @asynccontextmanager
    async def lifespan(_server: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        if runtime is not None:
            yield runtime
            return
        rt = Runtime(settings)
        await rt.start()
        try:
            yield rt
        finally:
            # The transport may end in a cancelled scope (stdin closed, SIGTERM): closing must still run to
            # its end, or sessions stay "running" in the database and browsers are left behind.
            with anyio.move_on_after(_CLOSE_SECONDS, shield=True):
                await rt.close()

    server = ThinkRunMCP(
        "thinkrun-mcp",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level=settings.log_level if settings.log_level != "DEBUG" else "DEBUG",
    )
    from .tools import register_all

    register_all(server)
    return server
