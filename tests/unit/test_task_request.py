"""A task request checks itself when it is built, whoever builds it (no browser, no model)."""

from __future__ import annotations

from typing import Any

import pytest

from thinkrun_mcp.errors import ThinkRunError
from thinkrun_mcp.models import InitialTask, TaskRequest

SCHEMA = {"type": "object", "properties": {"count": {"type": "integer"}}}


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"instruction": "   "}, "instruction is empty"),
        ({"instruction": "y" * 10_001}, "instruction"),
        ({"instruction": "x", "timeout_ms": 1_000}, "timeout_ms"),
        ({"instruction": "x", "maxSteps": 0}, "maxSteps"),
        ({"instruction": "x", "max_input_tokens": 10}, "max_input_tokens"),
        ({"instruction": "x", "backend": "gpt"}, "backend"),
        ({"instruction": "x", "output_type": "structured_json"}, "needs an outputSchema"),
        (
            {"instruction": "x", "output_type": "structured_json", "output_schema": {"type": 5}},
            "outputSchema is not a valid JSON Schema",
        ),
        ({"instruction": "x", "output_schema": SCHEMA}, "outputSchema only applies to outputType structured_json"),
        (
            {"instruction": "x", "secrets": [{"match": "a.com", "fields": {"pin": "12"}}]},
            "secrets[0].fields.pin must be a string of at least 4 characters",
        ),
        ({"instruction": "x", "secrets": [{"match": "a.com", "fields": {}}]}, "secrets[0].fields must be a non-empty object"),
        ({"instruction": "x", "secrets": [{"match": "a.com", "fields": {"my pin": "1234"}}]}, "is not a plain name"),
        ({"instruction": "x", "timeout": 60_000}, "timeout"),
    ],
)
def test_an_invalid_request_is_refused_as_invalid_input_naming_the_field(fields: dict[str, Any], text: str):
    with pytest.raises(ThinkRunError) as caught:
        TaskRequest(**fields)
    assert caught.value.code == "invalid_input"
    assert text in caught.value.message


def test_a_request_validated_from_wire_names_is_refused_the_same_way():
    with pytest.raises(ThinkRunError, match="timeoutMs"):
        TaskRequest.model_validate({"instruction": "x", "timeoutMs": 1_000})


def test_a_secret_value_is_never_echoed_in_the_refusal():
    with pytest.raises(ThinkRunError) as caught:
        TaskRequest(instruction="x", secrets=[{"match": "a.com", "fields": {"pin": "987"}}])
    assert "987" not in str(caught.value)


def test_a_structured_json_request_keeps_its_schema():
    request = TaskRequest(instruction="Count", output_type="structured_json", output_schema=SCHEMA)
    assert (request.output_type, request.output_schema) == ("structured_json", SCHEMA)


def test_a_request_dumps_under_its_wire_names():
    dumped = TaskRequest(instruction="x", timeout_ms=60_000, terminate_on_completion=False).model_dump(by_alias=True, mode="json")
    assert (dumped["timeoutMs"], dumped["terminateOnCompletion"], dumped["avoidDomains"]) == (60_000, False, [])


def test_an_initial_task_becomes_the_request_under_agent_executes_names():
    initial = InitialTask.model_validate(
        {
            "taskDetails": "What is the title?",
            "startingPoint": "https://a.example/",
            "maxDuration": 60_000,
            "avoidDomains": ["ads.example"],
            "backend": "claude",
        }
    )
    request = initial.to_request()
    assert request is not None
    assert (request.instruction, request.timeout_ms, request.avoid_domains, request.backend) == (
        "What is the title?",
        60_000,
        ["ads.example"],
        "claude",
    )
    assert request.starting_point is None  # the session opens there; the task does not navigate again
    assert request.terminate_on_completion is False  # WebRun: the session stays open after an initial task


def test_an_initial_task_without_details_is_no_task():
    assert InitialTask(starting_point="https://a.example/").to_request() is None


def test_an_initial_task_is_checked_like_a_request():
    with pytest.raises(ThinkRunError, match="needs an outputSchema"):
        InitialTask(task_details="Count", output_type="structured_json").to_request()


@pytest.mark.parametrize("backend", ["gemini", "claude", "openai", "sampling"])
def test_every_backend_is_a_valid_request_backend_and_default(backend: str):
    from thinkrun_mcp.config import Settings

    assert TaskRequest(instruction="x", backend=backend).backend == backend
    assert Settings(_env_file=None, default_backend=backend).default_backend == backend


def test_a_profile_is_for_a_new_session_only():
    import pytest

    from thinkrun_mcp.errors import ThinkRunError
    from thinkrun_mcp.models import TaskRequest

    assert TaskRequest(instruction="x", profile_id="prof_1").profile_id == "prof_1"
    with pytest.raises(ThinkRunError, match="profileId applies to a new session"):
        TaskRequest(instruction="x", profile_id="prof_1", session_id="ses_1")
