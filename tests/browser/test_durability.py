"""The tool boundary answers only what is committed: a database another process has locked, or one damaged
under the running server, gives a coded storage error (never internal_error, never a hang), and nothing
recorded meanwhile is dropped. Real Chromium, real SQLite files, a real lock-holding process.
"""

from __future__ import annotations

import asyncio

from tests.support.locks import WRITE_LOCK, damage_table, lock_held
from tests.support.mcp import call, call_error, error_code
from tests.support.site import FixtureSite

HANG = 10.0  # a call not answered by then would have hung (the bounded wait here is 0.5 s)


async def test_calls_under_a_foreign_write_lock_answer_storage_unavailable_and_every_action_is_kept(
    own_client, site: FixtureSite
):
    async with own_client(db_lock_wait_seconds=0.5) as (c, rt):
        session_id = (await call(c, "browser_navigate", {"url": site.url("forms.html")}))["sessionId"]
        with lock_held(rt.store.path, WRITE_LOCK) as holder:
            async with asyncio.timeout(HANG):
                acted = await call_error(c, "browser_act", {"method": "scroll", "value": "bottom", "sessionId": session_id})
                read = await call_error(c, "session_actions", {"sessionId": session_id})
            holder.release()
        logged = await call(c, "session_actions", {"sessionId": session_id})

    assert error_code(acted) == "storage_unavailable"
    assert f"what this call recorded is not committed yet: {rt.store.path} is locked by another process" in acted
    assert "do not repeat it" in acted
    assert error_code(read) == "storage_unavailable"
    assert [(a["type"], a["success"]) for a in logged["actions"]] == [("navigate", True), ("scroll", True)]


async def test_a_database_damaged_under_the_running_server_answers_storage_corrupt(own_client, site: FixtureSite):
    async with own_client() as (c, rt):
        session_id = (await call(c, "browser_navigate", {"url": site.url("forms.html")}))["sessionId"]
        damage_table(rt.store.path, "actions")
        read = await call_error(c, "session_actions", {"sessionId": session_id})

    assert error_code(read) == "storage_corrupt"
    assert f"cannot read the database: {rt.store.path} is damaged" in read
    assert "thinkrun-mcp doctor" in read
