"""Reading sessions: details, lists, and their recorded logs — for open and ended sessions alike."""

from __future__ import annotations

import asyncio
import time

from ..errors import ThinkRunError
from ..models import (
    ActionList,
    ActionRecord,
    Artifact,
    ArtifactList,
    ConsoleEntry,
    ConsoleList,
    NetworkEntry,
    NetworkList,
    Owner,
    SessionDetails,
    SessionHealth,
    SessionList,
    SessionStatus,
    SessionSummary,
    Viewport,
    ts,
)
from ..store.records import ArtifactRow, Records
from ..store.sessions import SessionRow, SessionRows
from .registry import SessionRegistry

__all__ = ["SessionHistory"]

_LEVELS = {
    "error": ("error",),
    "warn": ("error", "warn"),
    "warning": ("error", "warn"),
    "info": ("error", "warn", "info", "log"),
    "log": ("error", "warn", "info", "log"),
    "debug": None,
    "all": None,
}


class SessionHistory:
    def __init__(self, registry: SessionRegistry, rows: SessionRows, records: Records):
        self.registry = registry
        self.rows = rows
        self.records = records

    async def _row(self, owner: Owner, session_id: str) -> SessionRow:
        """The session's row, current, when ``owner`` owns it; else ``session_not_found``."""
        live = self.registry.live(session_id)
        if live is not None and live.owner_id == owner.id:
            # Push the live counters first so the row is current.
            self.rows.update(
                session_id,
                action_count=live.action_count,
                navigation_count=live.navigation_count,
                screenshot_count=live.screenshot_count,
                current_url=live.current_url,
                title=live.title and live.redact(live.title),
            )
        row = await self.rows.get(session_id)
        if row is None or row.owner_id != owner.id:
            raise ThinkRunError(
                "session_not_found",
                f"no session {session_id!r}",
                hint="list sessions with session_list (includeTerminated=true for ended ones)",
            )
        return row

    async def details(self, owner: Owner, session_id: str) -> SessionDetails:
        row = await self._row(owner, session_id)
        live = self.registry.live(session_id)
        end = row.ended_at or time.time()
        return SessionDetails(
            session_id=row.id,
            status=row.status,
            current_url=row.current_url,
            title=row.title,
            created_at=ts(row.created_at),
            ended_at=ts(row.ended_at),
            end_reason=row.end_reason or None,  # "" once a restored session has no reason any more
            navigation_count=row.navigation_count,
            action_count=row.action_count,
            screenshot_count=row.screenshot_count,
            duration=int((end - row.created_at) * 1000),
            viewport=Viewport(width=row.viewport_width, height=row.viewport_height),
            tabs=len(live.pages) if live else 0,
            avoid_domains=row.options.get("avoidDomains", []),
            allow_domains=row.options.get("allowDomains", []),
            browser=row.options.get("browser"),
            dropped={k: v for k, v in row.dropped.items() if v},
        )

    async def list(self, owner: Owner, *, include_terminated: bool, limit: int, offset: int) -> SessionList:
        for s in self.registry.open_sessions(owner):
            self.rows.update(s.id, navigation_count=s.navigation_count, current_url=s.current_url)
        rows, total = await self.rows.list(owner_id=owner.id, include_terminated=include_terminated, limit=limit, offset=offset)
        return SessionList(
            sessions=[
                SessionSummary(
                    session_id=r.id,
                    status=r.status,
                    current_url=r.current_url,
                    title=r.title,
                    created_at=ts(r.created_at),
                    navigation_count=r.navigation_count,
                )
                for r in rows
            ],
            total=total,
            has_more=offset + len(rows) < total,
        )

    async def actions(self, owner: Owner, session_id: str, *, offset: int, limit: int) -> ActionList:
        await self._row(owner, session_id)
        rows, total = await self.records.actions(session_id, offset=offset, limit=limit)
        return ActionList(
            actions=[
                ActionRecord(
                    type=r.type,
                    timestamp=ts(r.ts),
                    success=r.success,
                    details=r.details,
                    duration=r.duration_ms,
                    error=r.error,
                )
                for r in rows
            ],
            total=total,
        )

    async def artifacts(self, owner: Owner, session_id: str) -> ArtifactList:
        await self._row(owner, session_id)
        rows = await self.records.artifacts(session_id)
        return ArtifactList(artifacts=[artifact_model(r) for r in rows])

    async def console(self, owner: Owner, session_id: str, *, level: str | None, offset: int, limit: int) -> ConsoleList:
        await self._row(owner, session_id)
        key = (level or "all").lower()
        if key not in _LEVELS:
            raise ThinkRunError("invalid_input", f"unknown level {level!r}", hint="use error, warn, info, debug or all")
        rows, total = await self.records.console_entries(session_id, levels=_LEVELS[key], offset=offset, limit=limit)
        return ConsoleList(
            logs=[ConsoleEntry(level=r.level, message=r.message, timestamp=ts(r.ts), url=r.url) for r in rows],
            total=total,
        )

    async def network(
        self, owner: Owner, session_id: str, *, url_contains: str | None, failed_only: bool, offset: int, limit: int
    ) -> NetworkList:
        await self._row(owner, session_id)
        rows, total = await self.records.network_entries(
            session_id, url_contains=url_contains, failed_only=failed_only, offset=offset, limit=limit
        )
        return NetworkList(
            requests=[
                NetworkEntry(
                    url=r.url,
                    method=r.method,
                    status=r.status,
                    resource_type=r.resource_type,
                    duration=r.duration_ms,
                    size=r.size,
                    failure=r.failure,
                    timestamp=ts(r.ts),
                )
                for r in rows
            ],
            total=total,
        )

    async def health(self, owner: Owner, session_id: str) -> SessionHealth:
        row = await self._row(owner, session_id)
        live = self.registry.live(session_id)
        uptime = int(((row.ended_at or time.time()) - row.created_at) * 1000)
        endpoints = self.registry.engine.status()
        if live is None or not (live.is_open or live.status == SessionStatus.ORPHANED):
            return SessionHealth(
                status="ended",
                session_state=row.status,
                browser_responsive=False,
                current_url=row.current_url,
                uptime_ms=uptime,
                endpoints=endpoints,
            )
        detail = f"the session {self.registry.orphaned(live)}" if live.status == SessionStatus.ORPHANED else None
        responsive = False
        try:
            page = live.active if live.active is not None and not live.active.is_closed() else None
            if page is not None:
                responsive = await asyncio.wait_for(page.evaluate("1 + 1"), timeout=2.0) == 2
            elif live.context is not None:
                responsive = detail is None and self.registry.engine.is_up(live.endpoint)
        except Exception:
            responsive = False
        return SessionHealth(
            status="healthy" if responsive else "unhealthy",
            session_state=live.status,
            browser_responsive=responsive,
            current_url=live.current_url,
            uptime_ms=uptime,
            endpoint=self.registry.engine.shown(live.endpoint),
            detail=detail,
            endpoints=endpoints,
        )


def artifact_model(r: ArtifactRow) -> Artifact:
    return Artifact(
        object_id=r.id,
        type=r.type,
        path=r.path,
        public_url=None,
        mime_type=r.mime_type,
        bytes=r.bytes,
        width=r.width,
        height=r.height,
        name=r.name,
        timestamp=ts(r.ts),
    )
