"""The MCP plumbing every tool module shares: tool definitions, argument checks, errors, schemas.

Errors are translated here, once, at the tool boundary (:func:`tool`): a
:class:`ThinkRunError` becomes an error result ``"<code>: <message> (hint: …)"``;
arguments that fail validation become ``invalid_input`` naming each bad field
(:meth:`ThinkRunMCP.call_tool` checks them against the tool's own argument
model before the SDK runs it); any other exception is logged with its
traceback and reported as ``internal_error``. Nothing here reads SDK internals.

Tool parameters are snake_case in Python and camelCase on the wire: the
:func:`camel_case_args` adapter aliases them, and unknown argument names are
refused rather than silently ignored.
"""

from __future__ import annotations

import base64
import difflib
import functools
import inspect
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeAlias, get_origin

import pydantic_core
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ImageContent, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, create_model
from pydantic.alias_generators import to_camel

from ..errors import ThinkRunError, invalid_input
from ..models import Owner
from ..redact import Redactor
from ..runtime import Runtime
from ..text import clip, safe_text
from .stdio import UNREADABLE, stdio_streams

__all__ = [
    "Ctx",
    "ThinkRunMCP",
    "ToolDef",
    "camel_case_args",
    "error_result",
    "owner_of",
    "redactor_of",
    "respond",
    "runtime_of",
    "terse",
    "tool",
]

log = logging.getLogger(__name__)

Ctx: TypeAlias = Context[Runtime]  # what a tool is handed: its lifespan context is the started Runtime


# -- tool definitions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolDef:
    """A tool as the server registers it: the wrapped function, its wire name and metadata, its argument model."""

    fn: Callable[..., Any]
    name: str
    description: str
    annotations: ToolAnnotations | None
    arguments: type[BaseModel]
    context_arg: str  # the parameter that receives the request's Context

    def register(self, server: MCPServer[Any]) -> None:
        server.add_tool(self.fn, name=self.name, description=self.description, annotations=self.annotations)


def tool(*, description: str, annotations: ToolAnnotations | None = None) -> Callable[[Callable[..., Any]], ToolDef]:
    """Make a module-level async function a tool: camelCase arguments, errors translated at its boundary."""

    def make(fn: Callable[..., Any]) -> ToolDef:
        named = camel_case_args(fn)

        @functools.wraps(named)
        async def guarded(**kwargs: Any) -> Any:
            try:
                return await named(**kwargs)
            except ThinkRunError as exc:
                return error_result(exc)
            except Exception as exc:
                return internal_error(fn.__name__, exc)

        context_arg = next(n for n, p in inspect.signature(fn, eval_str=True).parameters.items() if _is_context(p.annotation))
        return ToolDef(
            fn=guarded,
            name=fn.__name__,
            description=description,
            annotations=annotations,
            arguments=_argument_model(fn),
            context_arg=context_arg,
        )

    return make


def internal_error(tool_name: str, exc: Exception) -> CallToolResult:
    """An unexpected exception: its traceback to the log, a short coded message to the caller."""
    log.error("tool %s failed unexpectedly", tool_name, exc_info=exc)
    first = str(exc).splitlines()[0][:200] if str(exc) else ""
    return error_result(
        ThinkRunError(
            "internal_error",
            f"{tool_name} failed: {type(exc).__name__}{': ' + first if first else ''}",
            hint="this is a bug in thinkrun-mcp; the traceback is in the server log",
        )
    )


def error_result(exc: ThinkRunError) -> CallToolResult:
    """The error result the model reads: ``"<code>: <message> (hint: …)"``."""
    return CallToolResult(content=[TextContent(type="text", text=safe_text(str(exc)))], is_error=True)


_ARG = "arg_"  # prefix of the argument model's field names: "schema" must not shadow BaseModel's attributes


def _argument_model(fn: Callable[..., Any]) -> type[BaseModel]:
    """A pydantic model of a tool function's arguments under their wire names, Context left out."""
    fields: dict[str, Any] = {}
    for name, p in inspect.signature(fn, eval_str=True).parameters.items():
        if _is_context(p.annotation):
            continue
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[f"{_ARG}{name}"] = (Annotated[p.annotation, Field(alias=to_camel(name))], default)
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    return create_model(f"{fn.__name__}_arguments", __config__=config, **fields)


def _is_context(annotation: Any) -> bool:
    return (
        annotation is Context
        or (isinstance(annotation, type) and issubclass(annotation, Context))
        or get_origin(annotation) is Context
    )


class ThinkRunMCP(MCPServer[Runtime]):
    """MCPServer with our argument checks and compact tool schemas."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._tool_defs: dict[str, ToolDef] = {}

    async def run_stdio_async(self) -> None:
        """Serve stdio, answering also lines that hold lone-surrogate escapes (see ``server/stdio.py``)."""
        async with stdio_streams() as (read_stream, write_stream):  # type: ignore[attr-defined]
            server = self._lowlevel_server  # the SDK's own run_stdio_async does the same
            await server.run(read_stream, write_stream, server.create_initialization_options())

    def add_tools(self, tools: Sequence[ToolDef]) -> None:
        for t in tools:
            t.register(self)
            self._tool_defs[t.name] = t

    async def list_tools(self) -> list[Any]:
        tools = await super().list_tools()
        for t in tools:
            t.input_schema = compact_schema(t.input_schema)
            if t.output_schema is not None:
                t.output_schema = shallow_output_schema(t.output_schema)
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None) -> Any:
        """Run one of our tools: arguments checked against its own model, its result shaped here.

        The SDK's own argument handling is not used for our tools: it turns a string that
        looks like JSON into a list, an object or null before validating, so ``"[1]"`` could
        not be typed into a field. Here a string parameter takes any string, and JSON text is
        read only for a parameter that cannot be a string (an object sent as text by some clients).

        Acknowledged means durable: the result (a success or an error) is sent only after what the
        call recorded is committed (:meth:`Runtime.sync`); a database that cannot take the commit
        within the bounded wait answers ``storage_unavailable`` / ``storage_corrupt`` instead.

        Every answer to a request, an error about its arguments included, leaves through
        :func:`safe_result`: no lone surrogate and none of the caller's secret values.
        """
        result = await self._answer(name, arguments, context)
        if context is None or not isinstance(result, CallToolResult):
            return result  # a direct call in Python: the SDK's own result
        return safe_result(result, redactor_of(context))

    async def _answer(self, name: str, arguments: dict[str, Any], context: Context | None) -> Any:
        definition = self._tool_defs.get(name)
        if definition is None:
            close = difflib.get_close_matches(name, sorted(self._tool_defs), n=1)
            return error_result(
                ThinkRunError(
                    "invalid_input",
                    f"there is no tool {name[:100]!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
                    hint="tools/list names every tool",
                )
            )
        if UNREADABLE in arguments:  # the transport could not read this call's JSON (server/stdio.py)
            why = clip(str(arguments[UNREADABLE]), 200)
            return error_result(ThinkRunError("invalid_input", f"the arguments cannot be read: {why}", hint="send flatter JSON"))
        try:
            arguments = safe_text(arguments)  # a client's JSON may hold lone surrogates ("\ud800")
            values = parse_arguments(definition, arguments)
        except ThinkRunError as exc:
            return error_result(exc)
        except RecursionError:
            return error_result(ThinkRunError("invalid_input", "the arguments are nested too deeply", hint="send flatter JSON"))
        except Exception as exc:
            return internal_error(name, exc)
        if context is None:  # a direct call in Python, not a request: let the SDK make the context
            return await super().call_tool(name, arguments, context)
        result = await definition.fn(**{definition.context_arg: context}, **values)
        try:
            await runtime_of(context).sync()  # a result is sent only once what the call recorded is committed
        except ThinkRunError as exc:
            return error_result(exc)
        except Exception as exc:
            return internal_error(name, exc)
        return as_tool_result(result)


def safe_result(result: CallToolResult, redactor: Redactor) -> CallToolResult:
    """The result as it may leave: no lone surrogate (a page may hold some) and none of the caller's
    secret values, raw or encoded, in its texts or structured fields — whatever the tool forgot."""

    def clean(value: Any) -> Any:
        return redactor.redact_data(safe_text(value))

    content = [c.model_copy(update={"text": clean(c.text)}) if isinstance(c, TextContent) else c for c in result.content]
    return result.model_copy(update={"content": content, "structured_content": clean(result.structured_content)})


def as_tool_result(result: Any) -> CallToolResult:
    """A tool function's return value as the result sent: a model as JSON text plus structured content."""
    if isinstance(result, CallToolResult):
        return result
    if isinstance(result, BaseModel):
        text = pydantic_core.to_json(result, fallback=str, indent=2).decode()
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=result.model_dump(mode="json"))
    return CallToolResult(content=[TextContent(type="text", text=result if isinstance(result, str) else str(result))])


def parse_arguments(definition: ToolDef, arguments: dict[str, Any]) -> dict[str, Any]:
    """The tool's arguments, validated, by Python parameter name; ``invalid_input`` naming what is wrong."""
    known = {f.alias or n for n, f in definition.arguments.model_fields.items()}  # aliases: the wire names
    unknown = [k for k in arguments if k not in known]
    if unknown:
        raise _unknown_args(definition.name, unknown, known)
    try:
        validated = definition.arguments.model_validate(arguments)
    except ValidationError as exc:
        decoded = _json_text_decoded(arguments, exc)
        if decoded is None:
            raise invalid_input(exc) from None
        try:
            validated = definition.arguments.model_validate(decoded)
        except ValidationError as again:
            raise invalid_input(again) from None
    return {field.removeprefix(_ARG): getattr(validated, field) for field in type(validated).model_fields}


def _json_text_decoded(arguments: dict[str, Any], exc: ValidationError) -> dict[str, Any] | None:
    """The arguments with JSON text read as its object or list where a top-level argument failed; None if none."""
    failed = {err["loc"][0] for err in exc.errors() if err["loc"]}
    out, changed = dict(arguments), False
    for key in failed:
        raw = arguments.get(key) if isinstance(key, str) else None
        if not isinstance(raw, str) or raw.lstrip()[:1] not in ("{", "["):
            continue
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict | list):
            out[key], changed = value, True
    return out if changed else None


def _unknown_args(tool: str, unknown: list[str], known: set[str]) -> ThinkRunError:
    parts = []
    for k in unknown:
        close = difflib.get_close_matches(to_camel(k), sorted(known), n=1) or difflib.get_close_matches(k, sorted(known), n=1)
        parts.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return ThinkRunError(
        "invalid_input",
        f"{tool} got unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(parts)}",
        hint=f"arguments are: {', '.join(sorted(known)) or 'none'}",
    )


# -- schemas ----------------------------------------------------------------------------


# Size limits are enforced by the server (pydantic) and named in its errors; publishing them
# in every argument would cost the tool list about a tenth of its size.
_ENFORCED_ONLY = frozenset({"maxLength", "minLength", "maxItems", "minItems"})
_GUARD_RAIL = 1_000_000  # a maximum this large only stops absurd input: enforced, not published


def compact_schema(schema: Any) -> Any:
    """The same input JSON Schema with less to read.

    No titles, no ``additionalProperties: false``; optional arguments lose their ``null`` (leaving one out is how a caller
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
        if key in _ENFORCED_ONLY or (key == "additionalProperties" and value is False):
            continue  # unknown keys are refused at any depth all the same
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
    dropped = ("$defs", "required", "description", "title", "properties", "additionalProperties")
    out = {k: v for k, v in schema.items() if k not in dropped}
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
        if alias != name and not _is_context(ann):
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


def runtime_of(ctx: Ctx) -> Runtime:
    return ctx.request_context.lifespan_context


def owner_of(ctx: Ctx) -> Owner:
    """Who is calling: the owner (sessions, tasks) and which of its clients (default session, cap).

    Without API keys there is one local owner, as DESIGN.md says for loopback; its
    clients are told apart for their default sessions and the per-client cap: stdio
    has one client per process, a streamable-HTTP client in a stateful session is
    its ``mcp-session-id``, a stateless HTTP client is known only by the client name
    it declares.
    """
    headers = ctx.headers
    if headers:
        sid = headers.get("mcp-session-id")
        if sid:
            return Owner("local", client=f"mcp:{sid}")
        meta = ctx.request_context.meta or {}
        info = meta.get("io.modelcontextprotocol/clientInfo") if isinstance(meta, dict) else None
        name = info.get("name") if isinstance(info, dict) else None
        return Owner("local", client=f"http:{name or 'anonymous'}")
    return Owner.local()


def redactor_of(ctx: Ctx) -> Redactor:
    """The calling owner's secret values: hidden from everything it is sent (results, progress messages)."""
    return runtime_of(ctx).redactors.for_owner(owner_of(ctx).id)


def respond(model: BaseModel, text: str, *, image: tuple[bytes, str] | None = None) -> CallToolResult:
    """A tool result: readable text (and an image) for the model, the model as structured content."""
    content: list[Any] = []
    if image is not None:
        data, mime = image
        content.append(ImageContent(type="image", data=base64.b64encode(data).decode("ascii"), mime_type=mime))
    content.append(TextContent(type="text", text=text))
    return CallToolResult(content=content, structured_content=model.model_dump(mode="json", by_alias=True))
