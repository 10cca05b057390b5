"""Fixtures every folder may use, and the ``browser`` marker.

Tests under ``browser/`` and ``e2e/`` are marked ``browser`` here, so ``pytest -m "not browser"``
runs the pure tests of ``unit/`` alone. The fixtures that start Chromium live in
``browser/conftest.py``; helpers are plain functions in ``support/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.site import FixtureSite, serve_site

# Tests never read a developer's .env, THINKRUN_* environment or real LLM keys and endpoints:
# tests that need a model point the SDKs at local fake servers themselves.
_LLM_ENV = (
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_CLOUD_PROJECT",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ADMIN_KEY",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "OPENAI_CUSTOM_HEADERS",
)
for _name in [n for n in os.environ if n.startswith("THINKRUN_") or n in _LLM_ENV]:
    del os.environ[_name]

_BROWSER_FOLDERS = ("browser", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under ``browser/`` and ``e2e/`` with ``browser``."""
    here = Path(__file__).parent
    for item in items:
        if item.path.relative_to(here).parts[0] in _BROWSER_FOLDERS:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def site_server() -> Iterator[FixtureSite]:
    """The fixture site for the whole run; module-scoped fixtures use it, tests use ``site``."""
    with serve_site() as s:
        yield s


@pytest.fixture
def site(site_server: FixtureSite) -> Iterator[FixtureSite]:
    """The fixture site; the routes a test sets and the hits it counted are forgotten after it."""
    yield site_server
    site_server.reset()
