"""The layering rules of DESIGN.md, checked on the source, and the one Playwright-error table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from thinkrun_mcp.browser.errors import RULES, SIGNALS, first_line, is_signal, kind_of, translate

PACKAGE = Path(__file__).resolve().parents[2] / "thinkrun_mcp"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ("." * node.level) + (node.module or "")
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def _modules(*folders: str) -> list[Path]:
    return [p for f in folders for p in sorted((PACKAGE / f).rglob("*.py"))]


def test_no_module_is_much_over_500_lines_without_saying_why():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 520:
            doc = (ast.get_docstring(ast.parse(text)) or "").lower()
            assert "500 lines" in doc or "lines on purpose" in doc, f"{path.relative_to(PACKAGE)} is long and does not say why"


@pytest.mark.parametrize("path", _modules("server", "agent"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_front_ends_and_the_agent_hold_no_browser_objects(path: Path):
    imported = _imports(path)
    assert not [n for n in imported if n.startswith("playwright")], "imports Playwright"
    assert not [n for n in imported if n.endswith(("browser.session", "BrowserSession", "browser.registry", "SessionRegistry"))]


@pytest.mark.parametrize(
    "path",
    [p for p in PACKAGE.rglob("*.py") if "browser" not in p.relative_to(PACKAGE).parts[:1]],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_nothing_outside_browser_reads_the_registrys_internals(path: Path):
    text = path.read_text(encoding="utf-8")
    assert "registry._" not in text and "._sessions" not in text


FOUNDATION = [
    *(PACKAGE / name for name in ("config.py", "errors.py", "urls.py", "text.py", "ids.py", "schema.py")),
    *_modules("models"),
]


def _package_imports(path: Path) -> set[str]:
    """The thinkrun_mcp modules ``path`` imports, as dotted names below the package ("browser.service")."""
    here = list(path.relative_to(PACKAGE).with_suffix("").parts)[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
            out.add(".".join([*base, *(node.module or "").split(".")]).strip("."))
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            out.update(n.removeprefix("thinkrun_mcp.") for n in names if n.startswith("thinkrun_mcp."))
    return out


@pytest.mark.parametrize("path", FOUNDATION, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_foundation_imports_no_layer_above_it(path: Path):
    layers = ("browser", "cache", "agent", "server", "store", "runtime")
    assert not [n for n in _package_imports(path) if n.split(".")[0] in layers]


@pytest.mark.parametrize("path", _modules("store"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_store_imports_only_the_foundation(path: Path):
    layers = ("browser", "cache", "agent", "server", "runtime")
    assert not [n for n in _imports(path) if n.startswith("..") and n.lstrip(".").split(".")[0] in layers]


@pytest.mark.parametrize("path", _modules("agent"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_agent_imports_no_front_end(path: Path):
    # What the agent needs of a front end (the calling client's model) is handed in as a Protocol.
    assert not [n for n in _package_imports(path) if n.split(".")[0] in ("server", "runtime")]


def test_server_modules_do_not_import_the_server_entry_point():
    # server/mcp.py imports the tools; a tool importing it back would be a cycle.
    for path in _modules("server/tools"):
        assert not [n for n in _imports(path) if n.endswith(".mcp") or n.endswith(".mcp.create_server")], path


@pytest.mark.parametrize(
    ("message", "kind", "code"),
    [
        ("Timeout 5000ms exceeded.\nCall log:\n  - waiting for locator", "timeout", "timeout"),
        ("net::ERR_NAME_NOT_RESOLVED at https://nowhere.invalid/", "network", "navigation_failed"),
        ("Target page, context or browser has been closed", "closed", "action_failed"),
        ("strict mode violation: locator('a') resolved to 3 elements", "ambiguous", "element_not_found"),
        ("Element is not an <input>", "other", "action_failed"),
    ],
)
def test_playwright_messages_map_to_one_code_each(message: str, kind: str, code: str):
    exc = PlaywrightError(message)
    assert kind_of(exc) == kind
    assert translate(exc, what="click").code == code


def test_a_playwright_timeout_is_a_timeout_whatever_its_message():
    assert translate(PlaywrightTimeout("waiting failed"), what="wait").code == "timeout"


def test_blocked_requests_are_url_blocked_only_when_the_policy_said_why():
    exc = PlaywrightError("net::ERR_BLOCKED_BY_CLIENT at http://ads.example/")
    assert translate(exc, what="navigate", blocked_reason="ads.example matches avoided domain").code == "url_blocked"
    assert translate(exc, what="navigate").code == "navigation_failed"


@pytest.mark.parametrize("net_error", ["ERR_EMPTY_RESPONSE", "ERR_TUNNEL_CONNECTION_FAILED"])
def test_a_load_the_egress_refused_is_url_blocked_with_its_reason(net_error: str):
    exc = PlaywrightError(f"Page.goto: net::{net_error} at http://a.test/")
    err = translate(exc, what="navigate", blocked_reason="b.test matches avoided domain 'b.test'")
    assert (err.code, err.message) == ("url_blocked", "blocked by the URL policy: b.test matches avoided domain 'b.test'")
    assert translate(exc, what="navigate").code == "navigation_failed"


def test_a_refusal_does_not_explain_a_failure_the_egress_cannot_cause():
    exc = PlaywrightError("Page.goto: net::ERR_CERT_AUTHORITY_INVALID at https://a.test/")
    assert translate(exc, what="navigate", blocked_reason="something else was refused").code == "navigation_failed"


def test_what_the_egress_failed_to_reach_replaces_chromiums_vaguer_error():
    exc = PlaywrightError("Page.goto: net::ERR_EMPTY_RESPONSE at http://a.test:9/")
    failure = "net::ERR_CONNECTION_REFUSED (127.0.0.1:9 refused the connection)"
    assert translate(exc, what="navigate", failure=failure).message == f"the page could not be loaded: {failure}"


def test_callers_name_the_operation_and_may_replace_messages_hints_and_codes():
    exc = PlaywrightError("Page.goto: Something odd happened\nmore")
    err = translate(
        exc, what="loading x", messages={"other": "x could not be rendered: {detail}"}, codes={"other": "navigation_failed"}
    )
    assert (err.code, err.message) == ("navigation_failed", "x could not be rendered: Something odd happened")
    assert translate(exc, what="click").message == "click failed: Something odd happened"


def test_first_line_drops_playwrights_api_prefix():
    assert first_line(PlaywrightError("Locator.click: Timeout 100ms exceeded.\nCall log")) == "Timeout 100ms exceeded."


def test_every_rule_has_a_known_code():
    from thinkrun_mcp.errors import CODES

    assert all(rule.code in CODES for rule in RULES)


@pytest.mark.parametrize(
    ("message", "signal"),
    [
        ("Page.goto: Download is starting", "download_started"),
        ("Navigation to x is interrupted by another navigation to y", "navigation_interrupted"),
        ("Execution context was destroyed, most likely because of a navigation", "context_destroyed"),
        ('Keyboard.press: Unknown key: "Entr"', "unknown_key"),
        ("Error: Element is not a <select> element", "not_a_select"),
        ('Unexpected token "#" while parsing selector "##x"', "bad_selector"),
        ("Page.goto: net::ERR_EMPTY_RESPONSE at http://x/", "egress_answer"),
        ("Page.goto: net::ERR_CONNECTION_REFUSED at http://x/", "error_page"),
    ],
)
def test_playwright_messages_a_caller_handles_itself_are_recognised_from_one_table(message: str, signal: str):
    assert is_signal(PlaywrightError(message), signal)
    assert [name for name in SIGNALS if name != signal and is_signal(message, name)] in (
        [],
        ["bad_selector"],
        ["context_destroyed"],
        ["error_page"],  # Chromium shows its error page for what the egress refused, too
    )


def test_an_aborted_load_shows_no_error_page():
    assert not is_signal("net::ERR_ABORTED at http://x/", "error_page")
