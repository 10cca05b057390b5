"""The store's typed rows: each record family written and read back from a real SQLite file (no browser)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from thinkrun_mcp.models import SessionStatus, TaskStatus
from thinkrun_mcp.store import db
from thinkrun_mcp.store.db import Store, Table
from thinkrun_mcp.store.records import ActionRow, ArtifactRow, ConsoleRow, NetworkRow, Records
from thinkrun_mcp.store.sessions import SessionRow, SessionRows
from thinkrun_mcp.store.tasks import ActCacheRow, ActCacheRows, TaskRow, TaskRows, TaskStepRow


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(tmp_path / "thinkrun.db")
    await s.open()
    yield s
    await s.close()


def new_session(rows: SessionRows, session_id: str = "ses_1", owner_id: str = "alice") -> None:
    rows.insert(
        session_id=session_id,
        owner_id=owner_id,
        status=SessionStatus.CREATING,
        created_at=100.0,
        viewport=(1280, 720),
        options={"avoidDomains": ["ads.example"]},
    )


async def new_task(rows: TaskRows, task_id: str = "task_1", status: TaskStatus = TaskStatus.RUNNING) -> None:
    await rows.insert(
        task_id=task_id,
        session_id="ses_1",
        owner_id="alice",
        status=status,
        backend="gemini",
        model="m",
        instruction="Find it",
        params={"outputType": "text", "secrets": [{"match": "a.com", "fields": ["pin"]}]},
        created_at=100.0,
    )


# -- sessions ---------------------------------------------------------------------------------


async def test_a_session_row_reads_back_as_inserted(store: Store):
    rows = SessionRows(store)
    new_session(rows)
    assert await rows.get("ses_1") == SessionRow(
        id="ses_1",
        owner_id="alice",
        status=SessionStatus.CREATING,
        created_at=100.0,
        ended_at=None,
        end_reason=None,
        current_url=None,
        title=None,
        viewport_width=1280,
        viewport_height=720,
        options={"avoidDomains": ["ads.example"]},
        action_count=0,
        navigation_count=0,
        screenshot_count=0,
        dropped={},
    )


async def test_a_session_update_writes_the_columns_given_and_keeps_the_others(store: Store):
    rows = SessionRows(store)
    new_session(rows)
    rows.update("ses_1", current_url="https://a.example/", title="A", action_count=3)
    rows.update("ses_1", status=SessionStatus.TERMINATED, end_reason="idle timeout", ended_at=200.0, dropped={"console": 2})
    row = await rows.get("ses_1")
    assert row is not None
    assert (row.status, row.end_reason, row.ended_at, row.dropped) == (
        SessionStatus.TERMINATED,
        "idle timeout",
        200.0,
        {"console": 2},
    )
    assert (row.current_url, row.title, row.action_count) == ("https://a.example/", "A", 3)


async def test_a_session_status_is_stored_as_its_string_value(store: Store):
    rows = SessionRows(store)
    new_session(rows)
    rows.update("ses_1", status=SessionStatus.RUNNING)
    assert await store.scalar("SELECT typeof(status) || ':' || status FROM sessions WHERE id = 'ses_1'") == "text:running"


async def test_a_session_update_refuses_a_column_it_does_not_update(store: Store):
    with pytest.raises(TypeError):
        SessionRows(store).update("ses_1", client_key="mallory")  # type: ignore[call-arg]


async def test_sessions_are_listed_per_owner_and_open_ones_by_default(store: Store):
    rows = SessionRows(store)
    new_session(rows, "ses_open")
    new_session(rows, "ses_ended")
    new_session(rows, "ses_other", owner_id="bob")
    rows.update("ses_ended", status=SessionStatus.COMPLETED)
    open_only, total = await rows.list(owner_id="alice", include_terminated=False, limit=10, offset=0)
    everything, _ = await rows.list(owner_id="alice", include_terminated=True, limit=10, offset=0)
    assert ([r.id for r in open_only], total) == (["ses_open"], 1)
    assert sorted(r.id for r in everything) == ["ses_ended", "ses_open"]


async def test_sessions_left_open_or_orphaned_by_a_previous_process_fail(store: Store):
    rows = SessionRows(store)
    for sid, status in (("ses_a", SessionStatus.RUNNING), ("ses_b", SessionStatus.ORPHANED), ("ses_c", SessionStatus.COMPLETED)):
        new_session(rows, sid)
        rows.update(sid, status=status)
    assert await rows.fail_leftovers("restart") == 2
    assert [(await rows.get(s)).status for s in ("ses_a", "ses_b", "ses_c")] == ["failed", "failed", "completed"]  # type: ignore[union-attr]


# -- what a session records -------------------------------------------------------------------


async def test_an_action_row_reads_back_with_its_success_and_details_decoded(store: Store):
    Records(store).action("ses_1", type="click", ts=1.5, success=False, details={"ref": "e3"}, duration_ms=12, error="gone")
    rows, total = await Records(store).actions("ses_1", offset=0, limit=10)
    assert total == 1
    assert rows == [
        ActionRow(
            id=1, session_id="ses_1", type="click", ts=1.5, success=False, details={"ref": "e3"}, duration_ms=12, error="gone"
        )
    ]


async def test_a_console_row_reads_back_as_recorded(store: Store):
    Records(store).console("ses_1", ts=2.0, level="error", message="boom", url="https://a.example/app.js")
    rows, _ = await Records(store).console_entries("ses_1", levels=("error",), offset=0, limit=10)
    assert rows == [ConsoleRow(id=1, session_id="ses_1", ts=2.0, level="error", message="boom", url="https://a.example/app.js")]


async def test_a_network_row_reads_back_as_recorded(store: Store):
    Records(store).network(
        "ses_1",
        ts=3.0,
        url="https://a.example/x",
        method="GET",
        status=404,
        resource_type="fetch",
        duration_ms=8,
        size=10,
        failure=None,
    )
    rows, _ = await Records(store).network_entries("ses_1", url_contains="/x", failed_only=True, offset=0, limit=10)
    assert rows == [
        NetworkRow(
            id=1,
            session_id="ses_1",
            ts=3.0,
            url="https://a.example/x",
            method="GET",
            status=404,
            resource_type="fetch",
            duration_ms=8,
            size=10,
            failure=None,
        )
    ]


async def test_an_artifact_row_reads_back_by_session_and_by_id(store: Store):
    records = Records(store)
    records.artifact(
        object_id="obj_1",
        session_id="ses_1",
        type="screenshot",
        path="/tmp/a.png",
        mime_type="image/png",
        size=42,
        ts=4.0,
        width=10,
        height=20,
    )
    expected = ArtifactRow(
        id="obj_1",
        session_id="ses_1",
        type="screenshot",
        path="/tmp/a.png",
        mime_type="image/png",
        bytes=42,
        width=10,
        height=20,
        name=None,
        ts=4.0,
    )
    assert await records.artifacts("ses_1") == [expected]
    assert await records.artifact_by_id("obj_1") == expected


# -- tasks ------------------------------------------------------------------------------------


async def test_a_task_row_reads_back_with_its_params_decoded(store: Store):
    rows = TaskRows(store)
    await new_task(rows)
    assert await rows.get("task_1") == TaskRow(
        id="task_1",
        session_id="ses_1",
        owner_id="alice",
        status=TaskStatus.RUNNING,
        backend="gemini",
        model="m",
        instruction="Find it",
        params={"outputType": "text", "secrets": [{"match": "a.com", "fields": ["pin"]}]},
        output=None,
        error=None,
        steps=0,
        input_tokens=0,
        output_tokens=0,
        created_at=100.0,
        started_at=None,
        completed_at=None,
        cached_input_tokens=0,
        cost_usd=None,
    )


async def test_a_task_update_stores_its_json_output_and_end(store: Store):
    rows = TaskRows(store)
    await new_task(rows)
    rows.update("task_1", status=TaskStatus.COMPLETED, output={"count": 3}, completed_at=150.0, steps=2, input_tokens=9)
    row = await rows.get("task_1")
    assert row is not None
    assert (row.status, row.output, row.completed_at, row.steps, row.input_tokens) == (
        TaskStatus.COMPLETED,
        {"count": 3},
        150.0,
        2,
        9,
    )


async def test_task_steps_read_back_the_last_ones_oldest_first(store: Store):
    rows = TaskRows(store)
    for n in (1, 2, 3):
        rows.step(
            "task_1",
            step=n,
            ts=float(n),
            action="scroll",
            args={"direction": "down"},
            outcome=f"step {n}",
            success=n != 2,
            url=None,
            duration_ms=5,
            model_ms=7,
            input_tokens=100,
            output_tokens=10,
            prompt_chars=1_000,
            cached_input_tokens=60,
            cost_usd=0.0002 if n != 3 else None,
        )
    steps = await rows.steps("task_1", last=2)
    assert [s.step for s in steps] == [2, 3]
    assert steps[0] == TaskStepRow(
        id=2,
        task_id="task_1",
        step=2,
        ts=2.0,
        action="scroll",
        args={"direction": "down"},
        outcome="step 2",
        success=False,
        url=None,
        duration_ms=5,
        model_ms=7,
        input_tokens=100,
        output_tokens=10,
        prompt_chars=1_000,
        cached_input_tokens=60,
        cost_usd=0.0002,
    )
    assert steps[1].cost_usd is None  # no price: tokens only


async def test_a_task_update_stores_cached_tokens_and_cost(store: Store):
    rows = TaskRows(store)
    await new_task(rows)
    rows.update("task_1", input_tokens=5_000, cached_input_tokens=4_000, output_tokens=70, cost_usd=0.00123)
    rows.update("task_1", steps=3)  # a later update without a cost keeps the cost
    row = await rows.get("task_1")
    assert row is not None
    assert (row.input_tokens, row.cached_input_tokens, row.output_tokens, row.cost_usd, row.steps) == (
        5_000,
        4_000,
        70,
        0.00123,
        3,
    )


async def test_tasks_stored_before_costs_were_recorded_read_back_without_a_cost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    before = [(name, fn) for name, fn in db.MIGRATIONS if name != "m005_task_cost"]
    monkeypatch.setattr(db, "MIGRATIONS", before)
    old = Store(tmp_path / "old.db")
    await old.open()
    await new_task(TaskRows(old))
    await old.close()
    monkeypatch.undo()
    upgraded = Store(tmp_path / "old.db")
    await upgraded.open()
    try:
        row = await TaskRows(upgraded).get("task_1")
        assert "m005_task_cost" in await upgraded.applied_migrations()
    finally:
        await upgraded.close()
    assert row is not None and (row.cached_input_tokens, row.cost_usd) == (0, None)


async def test_tasks_left_live_by_a_previous_process_fail(store: Store):
    rows = TaskRows(store)
    await new_task(rows, "task_pending", TaskStatus.PENDING)
    await new_task(rows, "task_done", TaskStatus.COMPLETED)
    assert await rows.fail_leftovers("restart") == 1
    failed = await rows.get("task_pending")
    assert failed is not None and (failed.status, failed.error) == (TaskStatus.FAILED, "restart")


async def test_an_act_cache_row_reads_back_with_its_hits(store: Store):
    cache = ActCacheRows(store)
    cache.put("a.example", "add an item", method="click", role="button", name="Add", value=None)
    cache.hit("a.example", "add an item")
    row = await cache.get("a.example", "add an item")
    assert row is not None and isinstance(row, ActCacheRow)
    assert (row.method, row.role, row.name, row.value, row.hits) == ("click", "button", "Add", None, 1)


# -- the update builder -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Pair:
    id: str
    value: int


def test_an_update_of_a_column_the_table_does_not_have_is_refused_before_any_sql():
    table = Table("pairs", ("id", "value"), _Pair)
    with pytest.raises(ValueError, match="not updatable columns of pairs: value = 1; DROP TABLE pairs; --"):
        table.update("p1", {"value = 1; DROP TABLE pairs; --": 2})


def test_an_update_of_the_key_column_is_refused():
    with pytest.raises(ValueError, match="not updatable columns of pairs: id"):
        Table("pairs", ("id", "value"), _Pair).update("p1", {"id": "p2"})


async def test_a_row_holding_a_lone_surrogate_is_stored_with_a_replacement_character(tmp_path):
    from thinkrun_mcp.store.db import Store

    store = Store(tmp_path / "s.db")
    await store.open()
    try:
        await store.execute("CREATE TABLE t (v TEXT)")
        store.enqueue("INSERT INTO t (v) VALUES (?)", ("page \ud800 title",))
        store.enqueue("INSERT INTO t (v) VALUES (?)", ("next row",))
        assert [r[0] for r in await store.fetch("SELECT v FROM t ORDER BY rowid")] == ["page \ufffd title", "next row"]
    finally:
        await store.close()


async def test_no_secret_reaches_the_file_even_one_shaped_like_an_id_or_a_digest(tmp_path):
    from thinkrun_mcp.redact import Redactor
    from thinkrun_mcp.store.db import Store

    token = "9f86d081884c7d659a2feaa0c55ad015"  # an API token: 32 hex digits, as many are
    redactor = Redactor()
    redactor.add({token: "<secret:token>"})
    store = Store(tmp_path / "s.db", redactor=redactor)
    await store.open()
    try:
        await store.execute("CREATE TABLE t (id TEXT, v TEXT)")
        store.enqueue("INSERT INTO t (id, v) VALUES (?, ?)", ("ses_0123456789ab", token))
        store.enqueue("INSERT INTO t (id, v) VALUES (?, ?)", ("ses_0123456789ac", f"Bearer {token.upper()}"))
        await store.sync()
        rows = [tuple(r) for r in await store.fetch("SELECT id, v FROM t ORDER BY rowid")]
        assert rows == [("ses_0123456789ab", "<secret:token>"), ("ses_0123456789ac", "Bearer <secret:token>")]
    finally:
        await store.close()
    for f in tmp_path.iterdir():
        assert token.encode() not in f.read_bytes(), f.name
