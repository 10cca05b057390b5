"""Acting on a page: the act methods, finding the target (ref or selector), performing one method.

:data:`ACT_METHODS` is the one table of act methods: what each needs (a target, a
value), a value example for the error hint, a one-line description, and whether a
model may choose it on its own. Everything else reads it: the ``ActMethod`` type of
the tool signatures, :func:`check_arguments`, :func:`needs_target`, the instruction
grammar's verbs (:mod:`~thinkrun_mcp.browser.instruction`) and the agent layer
(:func:`model_methods`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page

from ..errors import ThinkRunError
from .capture import SECRET_FIELD
from .errors import first_line, is_signal, kind_of

if TYPE_CHECKING:
    from .session import BrowserSession

__all__ = [
    "ACT_METHODS",
    "METHODS",
    "ActMethod",
    "ActSpec",
    "check_arguments",
    "locate",
    "model_methods",
    "needs_target",
    "perform",
]

log = logging.getLogger(__name__)

TargetRule = Literal["required", "optional", "none"]


@dataclass(frozen=True, slots=True)
class ActSpec:
    """What one act method needs and how it is described.

    Attributes:
        target: Whether the method acts on an element (ref, selector or instruction):
            ``"required"``, ``"optional"`` (else the page or the focused element) or ``"none"``.
        value_required: Whether the method needs ``value``.
        description: One line saying what the method does.
        value_example: The example shown in the hint when a required value is missing.
        by_model: Whether a model choosing an element's action on its own may pick it.
    """

    target: TargetRule
    value_required: bool
    description: str
    value_example: str | None = None
    by_model: bool = False


ACT_METHODS: dict[str, ActSpec] = {
    "click": ActSpec("required", False, "Click the element.", by_model=True),
    "dblclick": ActSpec("required", False, "Double-click the element.", by_model=True),
    "hover": ActSpec("required", False, "Move the mouse over the element.", by_model=True),
    "fill": ActSpec("required", True, "Replace the text of a field.", 'value="ada@example.com"', by_model=True),
    "type": ActSpec("optional", True, "Type keystrokes into the element or the focus.", 'value="hello"', by_model=True),
    "press": ActSpec("optional", True, "Press a key or a combination.", 'value="Enter"', by_model=True),
    "select": ActSpec("required", True, "Choose an option of a list.", 'value="Japan"', by_model=True),
    "check": ActSpec("required", False, "Tick a checkbox, radio button or switch.", by_model=True),
    "uncheck": ActSpec("required", False, "Untick a checkbox or switch.", by_model=True),
    "scroll": ActSpec("optional", False, "Bring the element into view, or scroll the page.", by_model=True),
    "focus": ActSpec("required", False, "Move the keyboard focus to the element.", by_model=True),
    "upload": ActSpec("required", True, "Give a file input files from the upload folder.", 'value="report.pdf"'),
    "wait": ActSpec("none", True, "Wait for a time, a text, a URL or a selector.", 'value="text=Welcome" or "1500"'),
    "switch_tab": ActSpec("none", True, "Make another tab the active one.", 'value="2"'),
    "close_tab": ActSpec("none", False, "Close a tab (the active one without a value)."),
    "dialog": ActSpec("none", True, "Answer the next dialog.", 'value="accept", "dismiss" or "accept:answer"'),
}

# At run time a Literal of the table's keys, so tool signatures and their JSON schema list
# exactly these methods; a type checker cannot evaluate that expression and sees a str.
if TYPE_CHECKING:
    ActMethod = str
else:
    ActMethod = Literal[tuple(ACT_METHODS)]
METHODS: tuple[str, ...] = tuple(ACT_METHODS)

_REF = re.compile(r"^(?:f\d+)?e\d+$")
_MAX_WAIT_MS = 60_000
_MAX_SCROLL_PX = 1_000_000


def model_methods() -> list[str]:
    """The methods a model may choose on its own when it picks an element's action, in table order."""
    return [name for name, spec in ACT_METHODS.items() if spec.by_model]


def needs_target(method: str) -> bool:
    """Whether ``method`` must be given an element (ref, selector or instruction)."""
    spec = ACT_METHODS.get(method)
    return spec is not None and spec.target == "required"


def check_arguments(method: str, *, ref: str | None, selector: str | None, value: str | None) -> None:
    """Reject impossible argument combinations before touching the page."""
    spec = ACT_METHODS.get(method)
    if spec is None:
        raise ThinkRunError("invalid_input", f"unknown method {method!r}", hint=f"use one of: {', '.join(METHODS)}")
    if ref and selector:
        raise ThinkRunError(
            "invalid_input", "give either ref or selector, not both", hint="refs come from the latest observation"
        )
    if spec.target == "required" and not (ref or selector):
        raise ThinkRunError(
            "invalid_input",
            f"method {method!r} needs a target",
            hint='pass ref (e.g. ref="e12" from the observation), selector, or instruction',
        )
    if spec.target == "none" and (ref or selector):
        raise ThinkRunError("invalid_input", f"method {method!r} takes no ref or selector")
    if spec.value_required and value is None:
        raise ThinkRunError("invalid_input", f"method {method!r} needs a value", hint=spec.value_example)


async def locate(page: Page, *, ref: str | None, selector: str | None) -> Locator:
    """A locator for exactly one element, or ``element_not_found``."""
    if ref is not None:
        ref = ref.strip()
        if ref.startswith("ref="):
            ref = ref[4:]
        if not _REF.match(ref):
            raise ThinkRunError(
                "invalid_input", f"{ref[:40]!r} is not a ref", hint='refs look like "e12" or "f1e3" (from the observation)'
            )
        loc = page.locator(f"aria-ref={ref}")
        try:
            count = await loc.count()
        except PlaywrightError:
            count = 0
        if count == 0:
            raise ThinkRunError(
                "element_not_found",
                f"ref {ref} is not on the page any more",
                hint="refs belong to the latest observation of the active tab; call browser_observe for fresh refs",
            )
        return loc
    assert selector is not None
    loc = page.locator(selector)
    try:
        count = await loc.count()
    except PlaywrightError as exc:
        raise ThinkRunError("invalid_input", f"bad selector {selector[:100]!r}: {first_line(exc)}") from exc
    if count == 0:
        raise ThinkRunError(
            "element_not_found",
            f"selector {selector[:100]!r} matches nothing",
            hint="check the observation for the element's ref, or wait for it with method=wait",
        )
    if count > 1:
        raise ThinkRunError(
            "element_not_found",
            f"selector {selector[:100]!r} matches {count} elements",
            hint="make it match one (e.g. add >> nth=0), or use the ref from the observation",
        )
    return loc


async def _mark_if_secret(session: BrowserSession, page: Page, target: Locator | None, value: str | None) -> None:
    """Mark the field just typed into when the value holds a secret: screenshots hide its text from then on."""
    if not session.redactor.holds(value):
        return
    session.secret_typed = True
    mark = f"el => el.setAttribute({SECRET_FIELD!r}, '')"
    try:
        if target is not None:
            await target.evaluate(mark)
        else:
            await page.evaluate(f"() => document.activeElement && ({mark})(document.activeElement)")
    except PlaywrightError as exc:  # the field went away (the page navigated on Enter): nothing left to hide
        log.debug("marking a secret field: %s", exc)


async def perform(
    session: BrowserSession,
    page: Page,
    method: str,
    target: Locator | None,
    value: str | None,
    *,
    timeout_ms: int,
) -> dict[str, Any]:
    """Do one method; returns details for the action log (never secret values)."""
    t = timeout_ms
    if method == "click":
        await target.click(timeout=t)  # type: ignore[union-attr]
    elif method == "dblclick":
        await target.dblclick(timeout=t)  # type: ignore[union-attr]
    elif method == "hover":
        await target.hover(timeout=t)  # type: ignore[union-attr]
    elif method == "focus":
        await target.focus(timeout=t)  # type: ignore[union-attr]
    elif method == "fill":
        await target.fill(value or "", timeout=t)  # type: ignore[union-attr]
        await _mark_if_secret(session, page, target, value)
    elif method == "type":
        if target is not None:
            await target.press_sequentially(value or "", timeout=t)
        else:
            await page.keyboard.type(value or "")
        await _mark_if_secret(session, page, target, value)
    elif method == "press":
        try:
            if target is not None:
                await target.press(value or "", timeout=t)
            else:
                await page.keyboard.press(value or "")
        except PlaywrightError as exc:
            if is_signal(exc, "unknown_key"):
                raise ThinkRunError(
                    "invalid_input", f"unknown key {value!r}", hint='keys look like "Enter", "Tab", "ArrowDown", "Control+A"'
                ) from exc
            raise
    elif method == "select":
        return await _select(target, value or "", t)  # type: ignore[arg-type]
    elif method in ("check", "uncheck"):
        await (target.check(timeout=t) if method == "check" else target.uncheck(timeout=t))  # type: ignore[union-attr]
    elif method == "scroll":
        return await _scroll(page, target, value, t)
    elif method == "upload":
        files = _upload_paths(value or "", session.settings.uploads_dir)
        await target.set_input_files(files, timeout=t)  # type: ignore[union-attr]
        return {"files": [p.name for p in files]}
    elif method == "wait":
        return await _wait(page, value or "", t)
    elif method == "switch_tab":
        return await _switch_tab(session, value or "")
    elif method == "close_tab":
        return await _close_tab(session, value)
    elif method == "dialog":
        return _dialog(session, value or "")
    return {}


async def _select(target: Locator, value: str, timeout: int) -> dict[str, Any]:
    # Playwright waits the whole timeout for an option that is not there: on a <select>, look first.
    listed = await target.evaluate(
        "el => el instanceof HTMLSelectElement ? Array.from(el.options).map(o => [o.label, o.value]) : null"
    )
    if listed is not None:
        if any(label == value for label, _ in listed):
            return {"selected": await target.select_option(label=value, timeout=timeout)}
        if any(v == value for _, v in listed):
            return {"selected": await target.select_option(value=value, timeout=timeout)}
        names = [label or v for label, v in listed][:50]
        raise ThinkRunError(
            "action_failed", f"no option {value!r} in this list", hint=f"options are: {', '.join(names)}" if names else None
        )
    try:
        chosen = await target.select_option(label=value, timeout=timeout)
    except PlaywrightError as exc:
        if is_signal(exc, "not_a_select"):
            raise ThinkRunError(
                "action_failed",
                "select works on <select> elements; this element is a custom widget",
                hint="click it to open the list, then click the option",
            ) from exc
        try:
            chosen = await target.select_option(value=value, timeout=2_000)
        except PlaywrightError:
            options = await target.evaluate("el => Array.from(el.options || []).map(o => o.label || o.value).slice(0, 50)")
            raise ThinkRunError(
                "action_failed",
                f"no option {value!r} in this list",
                hint=f"options are: {', '.join(map(str, options))}" if options else None,
            ) from exc
    return {"selected": chosen}


async def _scroll(page: Page, target: Locator | None, value: str | None, timeout: int) -> dict[str, Any]:
    if target is not None:
        await target.scroll_into_view_if_needed(timeout=timeout)
        return {"scrolledTo": "element"}
    v = (value or "down").strip().lower()
    size = page.viewport_size or {"width": 1280, "height": 720}
    if v in ("top", "bottom"):
        await page.evaluate(
            "(toBottom) => { const el = document.scrollingElement || document.documentElement;"
            " window.scrollTo(0, toBottom ? el.scrollHeight : 0); }",
            v == "bottom",
        )
        return {"scrolledTo": v}
    if v in ("down", "up"):
        dx, dy = 0, int(size["height"] * 0.8) * (1 if v == "down" else -1)
    elif v in ("left", "right"):
        dx, dy = int(size["width"] * 0.8) * (1 if v == "right" else -1), 0
    else:
        try:
            dx, dy = 0, max(-_MAX_SCROLL_PX, min(_MAX_SCROLL_PX, int(float(v))))
        except (ValueError, OverflowError) as exc:  # "ten", "nan", "inf"
            raise ThinkRunError(
                "invalid_input",
                f"cannot scroll {value!r}",
                hint='use "down", "up", "top", "bottom", "left", "right" or pixels like "600"',
            ) from exc
    await page.mouse.move(size["width"] / 2, size["height"] / 2)
    await page.mouse.wheel(dx, dy)
    # Wheel scrolling is applied asynchronously; wait two frames so the next observation sees it.
    await page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return {"scrolledBy": [dx, dy]}


async def _wait(page: Page, value: str, timeout: int) -> dict[str, Any]:
    v = value.strip()
    if v.isdigit():
        ms = min(int(v), _MAX_WAIT_MS)
        await asyncio.sleep(ms / 1000)
        return {"waitedMs": ms}
    if v.startswith("text="):
        await page.get_by_text(v[5:]).first.wait_for(state="visible", timeout=timeout)
        return {"waitedFor": "text"}
    if v.startswith("gone="):
        await page.get_by_text(v[5:]).first.wait_for(state="hidden", timeout=timeout)
        return {"waitedFor": "text gone"}
    if v.startswith("url="):
        needle = v[4:]
        await page.wait_for_url(lambda u: needle in u, timeout=timeout)
        return {"waitedFor": "url"}
    selector = v[9:] if v.startswith("selector=") else v
    try:
        await page.locator(selector).first.wait_for(state="visible", timeout=timeout)
    except PlaywrightError as exc:
        if kind_of(exc) == "timeout":
            raise
        raise ThinkRunError(
            "invalid_input",
            f"cannot wait for {value[:100]!r}: {first_line(exc)}",
            hint='use "1500" (ms), "text=Welcome", "gone=Loading", "url=/account" or a CSS selector',
        ) from exc
    return {"waitedFor": "selector"}


async def _switch_tab(session: BrowserSession, value: str) -> dict[str, Any]:
    index = _tab_number(session, value)
    page = session.pages[index - 1]
    session.active = page
    await page.bring_to_front()
    return {"tab": index}


async def _close_tab(session: BrowserSession, value: str | None) -> dict[str, Any]:
    index = _tab_number(session, value) if value else session.tab_index()
    page = session.pages[index - 1]
    await page.close()
    return {"closedTab": index}


def _tab_number(session: BrowserSession, value: str) -> int:
    try:
        index = int(str(value).strip())
    except ValueError:
        index = 0
    if not 1 <= index <= len(session.pages):
        raise ThinkRunError(
            "invalid_input", f"no tab {value!r}", hint=f"tabs are numbered 1 to {len(session.pages)} (see the observation header)"
        )
    return index


def _dialog(session: BrowserSession, value: str) -> dict[str, Any]:
    action, _, text = value.partition(":")
    action = action.strip().lower()
    if action not in ("accept", "dismiss"):
        raise ThinkRunError(
            "invalid_input", f"bad dialog response {value!r}", hint='use "accept", "dismiss" or "accept:<prompt text>"'
        )
    session.next_dialog = (action, text if text else None)
    return {"nextDialog": action}


def _upload_paths(value: str, root: Path) -> list[Path]:
    raw = value.strip()
    names: list[str]
    if raw.startswith("["):
        try:
            names = [str(x) for x in json.loads(raw)]
        except json.JSONDecodeError as exc:
            raise ThinkRunError("invalid_input", "upload value is not a JSON list of paths") from exc
    else:
        names = [raw]
    root = root.expanduser().resolve()
    out = []
    for name in names:
        p = Path(name).expanduser()
        p = (p if p.is_absolute() else root / p).resolve()
        if not p.is_relative_to(root):
            raise ThinkRunError(
                "invalid_input",
                f"{name!r} is outside the upload folder {root}",
                hint="copy the file into the upload folder (THINKRUN_UPLOAD_DIR) and pass its name",
            )
        if not p.is_file():
            raise ThinkRunError("invalid_input", f"no file {name!r} in the upload folder {root}")
        out.append(p)
    return out
