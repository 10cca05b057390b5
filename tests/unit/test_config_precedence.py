"""Configuration precedence: CLI flags > ``THINKRUN_*`` environment > ``.env`` > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinkrun_mcp.browser.policy import UrlPolicy
from thinkrun_mcp.cli import build_parser, settings_from_args


@pytest.fixture
def env_file_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a .env that sets three settings."""
    (tmp_path / ".env").write_text("THINKRUN_MAX_SESSIONS=7\nTHINKRUN_LOG_LEVEL=ERROR\nTHINKRUN_SESSION_IDLE_SECONDS=11\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def settings_for(*argv: str):
    return settings_from_args(build_parser().parse_args(list(argv)))


def test_env_file_in_working_directory_sets_settings(env_file_dir: Path) -> None:
    s = settings_for()

    assert (s.max_sessions, s.log_level, s.session_idle_seconds) == (7, "ERROR", 11)


def test_environment_variable_overrides_env_file(env_file_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINKRUN_MAX_SESSIONS", "9")

    s = settings_for()

    assert s.max_sessions == 9
    assert s.log_level == "ERROR"  # still from .env


def test_cli_flag_overrides_environment_and_env_file(env_file_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINKRUN_MAX_SESSIONS", "9")
    monkeypatch.setenv("THINKRUN_LOG_LEVEL", "INFO")

    s = settings_for("--max-sessions", "4", "--idle-seconds", "2.5")

    assert (s.max_sessions, s.session_idle_seconds, s.log_level) == (4, 2.5, "INFO")


def test_data_dir_flag_overrides_environment(env_file_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINKRUN_DATA_DIR", str(env_file_dir / "from-env"))

    assert settings_for().data_dir == env_file_dir / "from-env"
    assert settings_for("--data-dir", str(env_file_dir / "from-flag")).data_dir == env_file_dir / "from-flag"


@pytest.mark.parametrize(
    "argv, env, blocked",
    [
        ((), {}, None),
        (("--transport", "streamable-http"), {}, None),  # --host defaults to 127.0.0.1
        (("--transport", "streamable-http", "--host", "::1"), {}, None),
        (("--transport", "streamable-http", "--host", "0.0.0.0"), {}, True),
        (("--transport", "sse", "--host", "192.168.1.5"), {}, True),
        (("--transport", "stdio", "--host", "0.0.0.0"), {}, None),
        (("--transport", "streamable-http", "--host", "0.0.0.0"), {"THINKRUN_BLOCK_PRIVATE_NETWORKS": "false"}, False),
        (("--block-private-networks",), {}, True),
    ],
)
def test_private_networks_are_blocked_by_default_when_serving_http_on_a_non_loopback_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...], env: dict[str, str], blocked: bool | None
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    s = settings_for(*argv)

    assert s.block_private_networks is blocked
    assert UrlPolicy.from_settings(s).block_private is bool(blocked)
