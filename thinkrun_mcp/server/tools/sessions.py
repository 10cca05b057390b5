"""session_create, session_list, session_get, session_close and the session logs."""

from __future__ import annotations

from typing import Annotated

from mcp.types import ToolAnnotations
from pydantic import Field

from ...errors import ThinkRunError
from ...models import (
    ActionList,
    ArtifactList,
    BrowserOptions,
    ConsoleList,
    InitialTask,
    NetworkList,
    RecordOptions,
    SessionClosed,
    SessionCreated,
    SessionDetails,
    SessionHealth,
    SessionList,
    Viewport,
)
from ..app import Ctx, owner_of, runtime_of, terse, tool
from ..params import Domains, Offset, SessionId
from ..sampling import ClientSampler

__all__ = ["TOOLS"]

READ = ToolAnnotations(readOnlyHint=True)
Limit = Annotated[int, Field(ge=1, le=1000)]


@tool(
    description=(
        "Open a new isolated browser session (own cookies and storage), optionally at a starting URL and with "
        'domain rules. Example: {"startingPoint": "https://example.com", "avoidDomains": ["ads.example.com"]}'
    )
)
async def session_create(
    ctx: Ctx,
    starting_point: Annotated[str | None, Field(description="URL to open first.", max_length=8192)] = None,
    viewport: Viewport | None = None,
    avoid_domains: Annotated[Domains, Field(description='Never load these, e.g. "*.ads.com".')] = None,
    allow_domains: Annotated[Domains, Field(description="Load only these (empty: any).")] = None,
    initial_task: Annotated[
        terse(InitialTask) | None,
        Field(description="An agent task to start at once: taskDetails plus agent_execute's options (maxDuration ms)."),
    ] = None,
    profile_id: Annotated[
        str | None, Field(max_length=100, description="Start with this saved profile's cookies/storage.")
    ] = None,
    save_profile_on_end: Annotated[bool, Field(description="Write its state back to profileId at the end.")] = False,
    record: Annotated[terse(RecordOptions) | None, Field(description="{trace, video, har}: artifacts at the end.")] = None,
    browser: Annotated[
        terse(BrowserOptions) | None,
        Field(
            description="device (e.g. iPhone 15), userAgent, locale, timezoneId, geolocation, colorScheme, extraHttpHeaders, "
            "ignoreHttpsErrors."
        ),
    ] = None,
) -> SessionCreated:
    rt = runtime_of(ctx)
    if initial_task is not None:
        if browser is not None or save_profile_on_end or record is not None:
            raise ThinkRunError(
                "invalid_input",
                "browser, saveProfileOnEnd and record with initialTask are not supported yet",
                hint="create the session first",
            )
        return await rt.tasks.open_with_task(
            owner_of(ctx),
            initial_task,
            starting_point=starting_point,
            viewport=viewport,
            avoid_domains=avoid_domains,
            allow_domains=allow_domains,
            sampler=ClientSampler(ctx),
            profile_id=profile_id,
        )
    return await rt.browser.create_session(
        owner_of(ctx),
        starting_point=starting_point,
        viewport=viewport,
        avoid_domains=avoid_domains,
        allow_domains=allow_domains,
        profile_id=profile_id,
        browser=browser,
        save_profile_on_end=save_profile_on_end,
        record=record,
    )


@tool(description='List your sessions, newest first. Example: {"includeTerminated": true, "limit": 10}', annotations=READ)
async def session_list(
    ctx: Ctx, limit: Annotated[int, Field(ge=1, le=100)] = 30, offset: Offset = 0, include_terminated: bool = False
) -> SessionList:
    return await runtime_of(ctx).history.list(owner_of(ctx), include_terminated=include_terminated, limit=limit, offset=offset)


@tool(description="Details of a session (open or ended): status, URL, counts, duration, end reason.", annotations=READ)
async def session_get(ctx: Ctx, session_id: SessionId) -> SessionDetails:
    return await runtime_of(ctx).history.details(owner_of(ctx), session_id)


@tool(description="End a session and close its browser context; its logs and artifacts are kept.")
async def session_close(ctx: Ctx, session_id: SessionId) -> SessionClosed:
    return await runtime_of(ctx).browser.close_session(owner_of(ctx), session_id)


@tool(description="The session's action log (type, time, success, details, duration).", annotations=READ)
async def session_actions(ctx: Ctx, session_id: SessionId, offset: Offset = 0, limit: Limit = 100) -> ActionList:
    return await runtime_of(ctx).history.actions(owner_of(ctx), session_id, offset=offset, limit=limit)


@tool(description="Screenshots and downloads saved by the session, with file paths.", annotations=READ)
async def session_artifacts(ctx: Ctx, session_id: SessionId) -> ArtifactList:
    return await runtime_of(ctx).history.artifacts(owner_of(ctx), session_id)


@tool(description="Whether the session's browser answers, its state, URL and uptime.", annotations=READ)
async def session_health(ctx: Ctx, session_id: SessionId) -> SessionHealth:
    return await runtime_of(ctx).history.health(owner_of(ctx), session_id)


@tool(
    description='Console messages of the session; level=error|warn|info|all. Example: {"sessionId": "ses_1", "level": "error"}',
    annotations=READ,
)
async def session_console(
    ctx: Ctx,
    session_id: SessionId,
    level: Annotated[str | None, Field(max_length=10)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> ConsoleList:
    return await runtime_of(ctx).history.console(owner_of(ctx), session_id, level=level, offset=offset, limit=limit)


@tool(
    description='Network requests of the session (url, method, status, duration, size, failure). Example: {"sessionId": "ses_1", "failedOnly": true}',
    annotations=READ,
)
async def session_network(
    ctx: Ctx,
    session_id: SessionId,
    url_contains: Annotated[str | None, Field(max_length=2000)] = None,
    failed_only: bool = False,
    offset: Offset = 0,
    limit: Limit = 100,
) -> NetworkList:
    return await runtime_of(ctx).history.network(
        owner_of(ctx), session_id, url_contains=url_contains, failed_only=failed_only, offset=offset, limit=limit
    )


TOOLS = [
    session_create,
    session_list,
    session_get,
    session_close,
    session_actions,
    session_artifacts,
    session_health,
    session_console,
    session_network,
]
