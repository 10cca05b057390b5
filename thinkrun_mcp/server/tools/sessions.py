"""session_create, session_list, session_get, session_close and the session logs."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from ...models import (
    ActionList,
    ArtifactList,
    ConsoleList,
    InitialTask,
    NetworkList,
    SessionClosed,
    SessionCreated,
    SessionDetails,
    SessionHealth,
    SessionList,
    Viewport,
)
from ..mcp import ThinkRunMCP, camel_case_args, client_key, runtime_of, terse

SessionId = Annotated[str, Field(min_length=1, max_length=100)]
Offset = Annotated[int, Field(ge=0, le=10_000_000)]
Domains = Annotated[list[Annotated[str, Field(max_length=253)]] | None, Field(max_length=200)]
READ = ToolAnnotations(readOnlyHint=True)


def register(server: ThinkRunMCP) -> None:
    @server.tool(
        description=(
            "Open a new isolated browser session (own cookies and storage), optionally at a starting URL and with "
            "domain rules. Example: {\"startingPoint\": \"https://example.com\", \"avoidDomains\": [\"ads.example.com\"]}"
        )
    )
    @camel_case_args
    async def session_create(
        ctx: Context,
        starting_point: Annotated[str | None, Field(description="URL to open first.", max_length=8192)] = None,
        viewport: Viewport | None = None,
        avoid_domains: Annotated[Domains, Field(description='Never load these, e.g. "*.ads.com".')] = None,
        allow_domains: Annotated[Domains, Field(description="Load only these (empty: any).")] = None,
        initial_task: Annotated[
            terse(InitialTask) | None,
            Field(description="An agent task to start at once: taskDetails plus agent_execute's options (maxDuration ms).")
        ] = None,
    ) -> SessionCreated:
        rt = runtime_of(ctx)
        if initial_task is not None:
            return await rt.tasks.open_with_task(
                client_key(ctx), initial_task, starting_point=starting_point, viewport=viewport,
                avoid_domains=avoid_domains, allow_domains=allow_domains,
            )  # fmt: skip
        _, created = await rt.browser.open_session(
            client_key(ctx), starting_point=starting_point, viewport=viewport,
            avoid_domains=avoid_domains, allow_domains=allow_domains,
        )  # fmt: skip
        return created

    @server.tool(description="List your sessions, newest first. Example: {\"includeTerminated\": true, \"limit\": 10}", annotations=READ)
    @camel_case_args
    async def session_list(
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=100)] = 30,
        offset: Offset = 0,
        include_terminated: bool = False,
    ) -> SessionList:
        rt = runtime_of(ctx)
        return await rt.history.list(client_key=client_key(ctx), include_terminated=include_terminated, limit=limit, offset=offset)

    @server.tool(description="Details of a session (open or ended): status, URL, counts, duration, end reason.", annotations=READ)
    @camel_case_args
    async def session_get(ctx: Context, session_id: SessionId) -> SessionDetails:
        return await runtime_of(ctx).history.details(session_id)

    @server.tool(description="End a session and close its browser context; its logs and artifacts are kept.")
    @camel_case_args
    async def session_close(ctx: Context, session_id: SessionId) -> SessionClosed:
        session = await runtime_of(ctx).registry.close(session_id)
        return SessionClosed(success=True, message="Session terminated", session_id=session.id, status=session.status)

    @server.tool(description="The session's action log (type, time, success, details, duration).", annotations=READ)
    @camel_case_args
    async def session_actions(
        ctx: Context, session_id: SessionId, offset: Offset = 0, limit: Annotated[int, Field(ge=1, le=1000)] = 100
    ) -> ActionList:
        return await runtime_of(ctx).history.actions(session_id, offset=offset, limit=limit)

    @server.tool(description="Screenshots and downloads saved by the session, with file paths.", annotations=READ)
    @camel_case_args
    async def session_artifacts(ctx: Context, session_id: SessionId) -> ArtifactList:
        return await runtime_of(ctx).history.artifacts(session_id)

    @server.tool(description="Whether the session's browser answers, its state, URL and uptime.", annotations=READ)
    @camel_case_args
    async def session_health(ctx: Context, session_id: SessionId) -> SessionHealth:
        return await runtime_of(ctx).history.health(session_id)

    @server.tool(description="Console messages of the session; level=error|warn|info|all. Example: {\"sessionId\": \"ses_1\", \"level\": \"error\"}", annotations=READ)
    @camel_case_args
    async def session_console(
        ctx: Context,
        session_id: SessionId,
        level: Annotated[str | None, Field(max_length=10)] = None,
        offset: Offset = 0,
        limit: Annotated[int, Field(ge=1, le=1000)] = 100,
    ) -> ConsoleList:
        return await runtime_of(ctx).history.console(session_id, level=level, offset=offset, limit=limit)

    @server.tool(description="Network requests of the session (url, method, status, duration, size, failure). Example: {\"sessionId\": \"ses_1\", \"failedOnly\": true}", annotations=READ)
    @camel_case_args
    async def session_network(
        ctx: Context,
        session_id: SessionId,
        url_contains: Annotated[str | None, Field(max_length=2000)] = None,
        failed_only: bool = False,
        offset: Offset = 0,
        limit: Annotated[int, Field(ge=1, le=1000)] = 100,
    ) -> NetworkList:
        return await runtime_of(ctx).history.network(
            session_id, url_contains=url_contains, failed_only=failed_only, offset=offset, limit=limit
        )
