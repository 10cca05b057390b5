"""profile_save, profile_list, profile_get, profile_delete: saved browser identities (cookies and storage)."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.types import ToolAnnotations
from pydantic import Field

from ...errors import ThinkRunError
from ...models import ProfileInfo, ProfileList, ProfileState
from ..app import Ctx, owner_of, runtime_of, tool
from ..params import OptionalSessionId

__all__ = ["TOOLS"]

ProfileId = Annotated[str, Field(min_length=1, max_length=100)]
Name = Annotated[str, Field(min_length=1, max_length=200, description="The profile's name (saving a name again replaces it).")]


@tool(
    description=(
        "Save a session's cookies, localStorage and IndexedDB as a named profile (or import a Playwright "
        "storageState object); start sessions from it with session_create(profileId). "
        'Example: {"name": "acme-login", "sessionId": "ses_…"}'
    ),
    annotations=ToolAnnotations(title="Save a profile", destructiveHint=False, idempotentHint=True),
)
async def profile_save(
    ctx: Ctx,
    name: Name,
    session_id: OptionalSessionId = None,
    storage_state: Annotated[dict[str, Any] | None, Field(description="Import this instead of a session's state.")] = None,
    profile_id: Annotated[str | None, Field(max_length=100, description="Replace this profile.")] = None,
) -> ProfileInfo:
    rt = runtime_of(ctx)
    if storage_state is not None:
        if session_id is not None:
            raise ThinkRunError("invalid_input", "give sessionId or storageState, not both")
        return await rt.profiles.save(owner_of(ctx), name, storage_state, profile_id=profile_id)
    return await rt.browser.save_profile(owner_of(ctx), session_id, name, profile_id=profile_id)


@tool(description="List your saved profiles (names and counts; no values).", annotations=ToolAnnotations(readOnlyHint=True))
async def profile_list(ctx: Ctx) -> ProfileList:
    return await runtime_of(ctx).profiles.list(owner_of(ctx))


@tool(
    description="A profile's (or a live session's) storage state in Playwright's format, cookie values included.",
    annotations=ToolAnnotations(readOnlyHint=True),
)
async def profile_get(
    ctx: Ctx,
    profile_id: Annotated[str | None, Field(max_length=100)] = None,
    session_id: Annotated[OptionalSessionId, Field(description="Instead: a live session's state.")] = None,
) -> ProfileState:
    rt = runtime_of(ctx)
    if (profile_id is None) == (session_id is None):
        raise ThinkRunError("invalid_input", "give profileId or sessionId (exactly one)")
    if session_id is not None:
        return ProfileState(profile_id=None, storage_state=await rt.browser.storage_state(owner_of(ctx), session_id))
    return ProfileState(profile_id=profile_id, storage_state=await rt.profiles.state(owner_of(ctx), profile_id))


@tool(description="Delete a saved profile.", annotations=ToolAnnotations(destructiveHint=True, idempotentHint=True))
async def profile_delete(ctx: Ctx, profile_id: ProfileId) -> ProfileInfo:
    return await runtime_of(ctx).profiles.delete(owner_of(ctx), profile_id)


TOOLS = [profile_save, profile_list, profile_get, profile_delete]
