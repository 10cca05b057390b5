"""The runtime: owns and wires the long-lived services, started and closed once.

Front ends hold a :class:`Runtime` and call its services; they never touch
Playwright or SQL themselves. ``start()`` opens the store (running
migrations), starts the Playwright driver and the session reaper; ``close()``
ends every session, stops the browser and the driver, and flushes the store,
leaving no process behind.
"""

from __future__ import annotations

import enum
import logging

from .agent.assist import Assist
from .agent.backends import Backends
from .agent.tasks import TaskManager
from .browser.egress import Egress, Resolver
from .browser.engine import BrowserEngine
from .browser.history import SessionHistory
from .browser.profiles import Profiles
from .browser.registry import SessionRegistry
from .browser.service import BrowserService
from .cache.page_cache import PageCache
from .config import Settings
from .redact import Redactors, redact_logs
from .store.cache import CacheRows
from .store.db import Store
from .store.profiles import ProfileRows
from .store.records import Records
from .store.sessions import SessionRows
from .store.tasks import ActCacheRows, TaskRows

__all__ = ["Runtime", "RuntimeState"]

log = logging.getLogger(__name__)


class RuntimeState(enum.Enum):
    NEW = "new"
    STARTED = "started"
    CLOSED = "closed"


class Runtime:
    def __init__(self, settings: Settings, *, resolver: Resolver | None = None):
        """``resolver`` replaces the system's DNS for the egress proxy (tests: rebinding, names of their own)."""
        self.settings = settings
        self.state = RuntimeState.NEW
        self.redactors = Redactors()  # agent secrets: hidden from results, model requests, the database and the log
        redact_logs(self.redactors.everything)
        self.store = Store(settings.db_path, lock_wait=settings.db_lock_wait_seconds, redactor=self.redactors.everything)
        self.rows = SessionRows(self.store)
        self.records = Records(self.store)
        self.engine = BrowserEngine(settings)
        self.egress = Egress(settings, resolver=resolver)  # the one way out of every browser context
        self.registry = SessionRegistry(settings, self.engine, self.rows, self.records, self.redactors, egress=self.egress)
        self.backends = Backends(settings)  # one factory of LLM clients for element help and agent tasks
        self.assist = Assist(settings, ActCacheRows(self.store), self.backends)
        self.profiles = Profiles(settings, ProfileRows(self.store))  # saved cookies and storage, by owner
        self.browser = BrowserService(settings, self.registry, help=self.assist, profiles=self.profiles)
        self.history = SessionHistory(self.registry, self.rows, self.records)
        self.cache = PageCache(settings, self.engine, CacheRows(self.store), self.egress)
        self.tasks = TaskManager(settings, TaskRows(self.store), self.browser, self.backends)

    async def start(self) -> None:
        if self.state is not RuntimeState.NEW:
            raise RuntimeError(f"runtime cannot start from state {self.state.value}")
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.settings.artifacts_dir.mkdir(parents=True, exist_ok=True)
        await self.store.open()
        self.backends.preload()  # the ready backends' SDKs, imported in a worker thread while the rest starts
        n = await self.rows.fail_leftovers("interrupted by server restart")
        if n:
            log.info("marked %d sessions left open by a previous process as failed", n)
        await self.engine.start()
        self.egress.start()
        if self.egress.mode != "proxy":
            log.warning("URL rules: %s", self.egress.describe())
        await self.cache.start()
        await self.registry.start()
        await self.tasks.start()
        self.state = RuntimeState.STARTED

    async def sync(self) -> None:
        """Return once everything recorded so far is committed; every front end awaits it before it answers.

        Raises:
            ThinkRunError: ``storage_unavailable`` / ``storage_corrupt`` when the database cannot take the
                commit within the bounded wait (the records stay queued).
        """
        await self.store.sync()

    async def close(self) -> None:
        if self.state is not RuntimeState.STARTED:
            self.state = RuntimeState.CLOSED
            return
        self.state = RuntimeState.CLOSED
        try:
            await self.tasks.shutdown()
            await self.registry.shutdown()
            await self.cache.close()
        finally:
            try:
                await self.engine.close()
            finally:
                try:
                    await self.egress.close()
                finally:
                    await self.store.close()

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
