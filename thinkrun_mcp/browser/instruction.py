"""Resolve plain-language instructions ("type hello into Search") without any LLM.

Two steps:

1. :func:`parse_instruction` splits the sentence into a method (the verbs of
   :mod:`~thinkrun_mcp.browser.act`), a target description and a value::

       click Sign in                     → click   "Sign in"
       double click the Row 3 cell       → dblclick "Row 3 cell"
       hover over Menu                   → hover   "Menu"
       type 'hello world' in the search box → type "search" (hint: box)  value "hello world"
       fill Email with ada@example.com   → fill    "Email"    "ada@example.com"
       enter ada@example.com in Email    → fill    "Email"    "ada@example.com"
       set Email to x                    → fill    "Email"    "x"
       select Japan in Country           → select  "Country"  "Japan"
       check Remember me / uncheck X     → check / uncheck
       press Enter / press Control+A     → press   None       "Enter"
       scroll down / scroll to Footer    → scroll  None "down" / scroll "Footer" None
       focus Email / upload a.pdf to CV  → focus / upload

   Quoted parts ('…', "…", “…”, ‘…’, «…», `…`) are taken literally. A leading
   article and trailing words such as "button", "link", "field", "box",
   "checkbox", "dropdown" are role hints, not part of the name; ordinals
   ("the second Delete button", "the last link") pick among equal matches.

2. :func:`rank_elements` scores the observation's elements against the target
   (exact name > whole-word prefix > contained > shared words > fuzzy, also
   matching placeholder and text), adjusted by role compatibility with the method,
   the role hint and visibility; :func:`resolve` accepts a clear winner only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from .observe import ElementInfo

__all__ = [
    "ParsedInstruction",
    "parse_instruction",
    "Candidate",
    "rank_elements",
    "Resolution",
    "resolve",
    "SUPPORTED_VERBS",
    "normalize_key",
]


@dataclass
class ParsedInstruction:
    method: str
    target: str | None
    value: str | None
    role_hint: str | None = None  # "button", "link", "textbox", "checkbox", "combobox" …
    nth: int | None = None  # 1-based; -1 = last ("the second Delete button")
    full_target: str | None = None  # the target with its role words ("Add item" when target is "Add")


@dataclass
class Candidate:
    ref: str
    role: str
    name: str
    score: float


@dataclass
class Resolution:
    method: str
    ref: str | None
    value: str | None
    candidates: list[Candidate] = field(default_factory=list)
    ambiguous: bool = False


# -- parsing ----------------------------------------------------------------------------

SUPPORTED_VERBS = (
    "click", "double click", "hover (over)", "type … into …", "fill … with …", "enter … in …", "set … to …",
    "clear …", "select … in/from …", "choose … from …", "check", "uncheck", "press <key>", "scroll up/down/to …",
    "focus", "upload <file> to …",
)  # fmt: skip

# (phrase, method) — longest phrases first; matched at the start of the instruction.
_VERBS: list[tuple[str, str]] = sorted(
    [
        ("double click on", "dblclick"), ("double-click on", "dblclick"), ("double click", "dblclick"),
        ("double-click", "dblclick"), ("doubleclick", "dblclick"), ("dblclick", "dblclick"), ("dbl click", "dblclick"),
        ("click on", "click"), ("click", "click"), ("tap on", "click"), ("tap", "click"), ("follow", "click"),
        ("open", "click"), ("toggle", "click"), ("activate", "click"), ("go to", "click"), ("navigate to", "click"),
        ("hover over", "hover"), ("hover on", "hover"), ("hover", "hover"), ("mouse over", "hover"),
        ("mouseover", "hover"), ("move the mouse over", "hover"), ("move the mouse to", "hover"),
        ("move mouse over", "hover"), ("move mouse to", "hover"), ("point at", "hover"), ("point to", "hover"),
        ("type", "type"), ("write", "type"),
        ("fill in", "fill"), ("fill out", "fill"), ("fill", "fill"), ("enter", "fill"), ("input", "fill"),
        ("put", "fill"), ("set", "fill"), ("clear", "clear"), ("empty", "clear"),
        ("select", "select"), ("choose", "select"), ("pick", "select"),
        ("check", "check"), ("tick", "check"), ("turn on", "check"), ("switch on", "check"), ("enable", "check"),
        ("uncheck", "uncheck"), ("un-check", "uncheck"), ("untick", "uncheck"), ("un-tick", "uncheck"),
        ("turn off", "uncheck"), ("switch off", "uncheck"), ("disable", "uncheck"),
        ("press", "press"), ("hit", "press"), ("push", "press"),
        ("scroll", "scroll"), ("focus on", "focus"), ("focus", "focus"),
        ("upload", "upload"), ("attach", "upload"),
    ],
    key=lambda pv: -len(pv[0]),
)  # fmt: skip
_POLITE = ("please ", "now ", "then ", "and ", "just ", "kindly ")

# Trailing (or leading) words that describe the element's kind: word(s) → role hint.
_HINTS: list[tuple[str, str]] = sorted(
    [
        ("button", "button"), ("btn", "button"), ("link", "link"), ("hyperlink", "link"),
        ("field", "textbox"), ("text field", "textbox"), ("input field", "textbox"), ("input", "textbox"),
        ("text box", "textbox"), ("textbox", "textbox"), ("textarea", "textbox"), ("text area", "textbox"),
        ("box", "textbox"), ("search box", "searchbox"), ("searchbox", "searchbox"), ("search field", "searchbox"),
        ("checkbox", "checkbox"), ("check box", "checkbox"), ("tickbox", "checkbox"), ("tick box", "checkbox"),
        ("radio button", "radio"), ("radio", "radio"), ("option", "option"), ("switch", "switch"), ("toggle", "switch"),
        ("dropdown", "combobox"), ("drop-down", "combobox"), ("drop down", "combobox"), ("combobox", "combobox"),
        ("combo box", "combobox"), ("select", "combobox"), ("select box", "combobox"), ("dropdown menu", "combobox"),
        ("list box", "listbox"), ("listbox", "listbox"), ("menu item", "menuitem"), ("menuitem", "menuitem"),
        ("menu", "menu"), ("tab", "tab"), ("heading", "heading"), ("title", "heading"), ("image", "img"),
        ("icon", "img"), ("picture", "img"), ("slider", "slider"), ("item", "item"), ("entry", "item"),
        ("element", "any"), ("control", "any"), ("area", "any"), ("section", "any"),
    ],
    key=lambda hv: -len(hv[0]),
)  # fmt: skip
_HINT_ROLES: dict[str, frozenset[str]] = {
    "button": frozenset({"button", "menuitem", "switch"}),
    "link": frozenset({"link"}),
    "textbox": frozenset({"textbox", "searchbox", "combobox", "spinbutton"}),
    "searchbox": frozenset({"searchbox", "textbox", "combobox"}),
    "checkbox": frozenset({"checkbox", "switch", "menuitemcheckbox"}),
    "radio": frozenset({"radio", "menuitemradio"}),
    "option": frozenset({"option", "radio", "menuitemradio", "treeitem"}),
    "switch": frozenset({"switch", "checkbox"}),
    "combobox": frozenset({"combobox", "listbox"}),
    "listbox": frozenset({"listbox", "combobox"}),
    "menuitem": frozenset({"menuitem", "menuitemcheckbox", "menuitemradio"}),
    "menu": frozenset({"menu", "menubar", "menuitem", "button", "combobox"}),
    "tab": frozenset({"tab"}),
    "heading": frozenset({"heading"}),
    "img": frozenset({"img", "image", "button", "link"}),
    "slider": frozenset({"slider"}),
    "item": frozenset({"listitem", "option", "menuitem", "treeitem", "link", "row", "gridcell", "cell"}),
}
_ROLE_WORDS = frozenset(words for words, _ in _HINTS)
_ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5,
    "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8, "ninth": 9, "9th": 9,
    "tenth": 10, "10th": 10, "last": -1,
}  # fmt: skip
_ARTICLES = ("the ", "a ", "an ", "this ", "that ", "my ", "our ", "your ")

_KEYS = {
    "enter": "Enter", "return": "Enter", "tab": "Tab", "escape": "Escape", "esc": "Escape", "space": "Space",
    "spacebar": "Space", "space bar": "Space", "backspace": "Backspace", "back space": "Backspace",
    "delete": "Delete", "del": "Delete", "insert": "Insert", "home": "Home", "end": "End",
    "pageup": "PageUp", "page up": "PageUp", "pgup": "PageUp", "pagedown": "PageDown", "page down": "PageDown",
    "pgdn": "PageDown", "up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight",
    "arrowup": "ArrowUp", "arrowdown": "ArrowDown", "arrowleft": "ArrowLeft", "arrowright": "ArrowRight",
    "arrow up": "ArrowUp", "arrow down": "ArrowDown", "arrow left": "ArrowLeft", "arrow right": "ArrowRight",
    "up arrow": "ArrowUp", "down arrow": "ArrowDown", "left arrow": "ArrowLeft", "right arrow": "ArrowRight",
    "ctrl": "Control", "control": "Control", "cmd": "Meta", "command": "Meta", "meta": "Meta", "win": "Meta",
    "alt": "Alt", "option": "Alt", "opt": "Alt", "shift": "Shift", "controlormeta": "ControlOrMeta",
    "capslock": "CapsLock", "caps lock": "CapsLock", "f1": "F1", "f2": "F2", "f3": "F3", "f4": "F4", "f5": "F5",
    "f6": "F6", "f7": "F7", "f8": "F8", "f9": "F9", "f10": "F10", "f11": "F11", "f12": "F12",
}  # fmt: skip

_QUOTES = re.compile(r"\"([^\"]*)\"|“([^”]*)”|‘([^’]*)’|«([^»]*)»|`([^`]*)`|(?<![\w])'([^']*)'(?![\w])")
_PH = "\x00"


def _protect(text: str) -> tuple[str, list[str]]:
    """Replace quoted parts by placeholders (``\\x00N\\x00``) so word parsing ignores them."""
    found: list[str] = []

    def repl(m: re.Match) -> str:
        found.append(next(g for g in m.groups() if g is not None))
        return f"{_PH}{len(found) - 1}{_PH}"

    return _QUOTES.sub(repl, text), found


def _restore(s: str, found: list[str]) -> str:
    if _PH not in s:
        return s
    return re.sub(r"\x00(\d+)\x00", lambda m: found[int(m.group(1))], s)


def _is_quoted(s: str) -> bool:
    return bool(re.fullmatch(r"\x00\d+\x00", s.strip()))


def _split_last(s: str, seps: tuple[str, ...]) -> tuple[str, str] | None:
    """Split at the last " sep " (first separator kind that occurs wins), both sides non-empty."""
    low = s.lower()
    for sep in seps:
        token = f" {sep} "
        i = low.rfind(token)
        while i > 0:
            left, right = s[:i].strip(), s[i + len(token) :].strip()
            if left and right:
                return left, right
            i = low.rfind(token, 0, i)
    return None


def _split_first(s: str, seps: tuple[str, ...]) -> tuple[str, str] | None:
    low = s.lower()
    for sep in seps:
        token = f" {sep} "
        i = low.find(token)
        while i >= 0:
            left, right = s[:i].strip(), s[i + len(token) :].strip()
            if left and right:
                return left, right
            i = low.find(token, i + 1)
    return None


def _value_then_target(rest: str, seps: tuple[str, ...]) -> tuple[str, str] | None:
    """``VALUE <sep> TARGET``: a quoted value ends where its quote ends; else split at the separator."""
    m = re.match(r"\s*(\x00\d+\x00)\s+(\w+)\s+(.+)$", rest)
    if m and m.group(2).lower() in seps:
        return m.group(1), m.group(3)
    # prefer "into" anywhere, then the last plain preposition
    strong = tuple(x for x in ("into", "inside") if x in seps)
    return (_split_last(rest, strong) if strong else None) or _split_last(
        rest, tuple(x for x in seps if x not in ("into", "inside"))
    )


def _strip_target(raw: str, found: list[str], rec: list[str] | None = None) -> tuple[str, str | None, int | None]:
    """Remove articles, ordinals and role words; returns (name, role_hint, nth).

    ``rec`` receives the name with its role words kept ("Add item" for "the Add item", whose
    trailing "item" would otherwise be taken as a role hint).
    """
    name, hint, nth, full = _strip_target_full(raw, found)
    if rec is not None:
        rec.append(full)
    return name, hint, nth


def _strip_target_full(raw: str, found: list[str]) -> tuple[str, str | None, int | None, str]:
    """Like :func:`_strip_target`, plus the name with its role words kept."""
    s = raw.strip().strip(",.;:!?").strip()
    hint: str | None = None
    nth: int | None = None
    for _ in range(3):
        low = s.lower()
        changed = False
        for art in _ARTICLES:
            if low.startswith(art) and len(s) > len(art):
                s = s[len(art) :].lstrip()
                changed = True
                break
        low = s.lower()
        first, _, after = low.partition(" ")
        if first in _ORDINALS and after:
            nth = _ORDINALS[first]
            s = s[len(first) :].lstrip()
            changed = True
        if s.lower().startswith("one ") and nth is not None:
            s = s[4:]
        if not changed:
            break
    full = _restore(s, found).strip().strip(",.;:!?").strip()
    if not _is_quoted(s):
        low = s.lower()
        # trailing role words: "Sign in button", "the Email field", "the search box"
        for words, role in _HINTS:
            if low.endswith(" " + words) and len(s) > len(words) + 1:
                s = s[: -len(words) - 1].rstrip()
                hint = hint or role
                break
        else:
            # leading role words: "the button Sign in", "link Docs", "checkbox 'Remember me'"
            for words, role in _HINTS:
                if low.startswith(words + " ") and len(s) > len(words) + 1 and role not in ("any", "item"):
                    rest = s[len(words) + 1 :].strip()
                    if rest.lower().startswith(("labeled ", "labelled ", "named ", "called ", "saying ", "with text ")):
                        rest = rest.split(" ", 1)[1] if " " in rest else rest
                    elif not _is_quoted(rest) and words in ("select", "input", "option", "menu", "box", "item"):
                        continue  # "select …" / "input …" are more likely part of a name
                    s = rest
                    hint = role
                    break
        low = s.lower()
        for suffix in (" labeled", " labelled", " named", " called"):
            if low.endswith(suffix):
                s = s[: -len(suffix)]
    s = s.strip().strip(",.;:!?").strip()
    name = _restore(s, found).strip()
    if hint is None and nth is not None and not _is_quoted(s):
        # "the 3rd link", "the last button": only a role word is left
        hint = next((role for words, role in _HINTS if words == name.lower()), None)
    if hint == "any":
        hint = None
    return name, hint, nth, full


def normalize_key(key: str) -> str:
    """'enter' → 'Enter', 'ctrl+a' → 'Control+a', 'the escape key' → 'Escape'."""
    k = key.strip().strip(".!").strip()
    low = k.lower()
    for art in ("the ", "a "):
        if low.startswith(art):
            k, low = k[len(art) :], low[len(art) :]
    for suffix in (" key", " button", " keys"):
        if low.endswith(suffix) and len(low) > len(suffix):
            k, low = k[: -len(suffix)], low[: -len(suffix)]
    if low in _KEYS:
        return _KEYS[low]
    if "+" in k or "-" in k and len(k) > 2 and k.split("-")[0].lower() in _KEYS:
        parts = re.split(r"\s*[+]\s*", k) if "+" in k else k.split("-")
        out = []
        for p in parts:
            pl = p.strip().lower()
            out.append(_KEYS.get(pl, p.strip() if len(p.strip()) != 1 else p.strip()))
        return "+".join(out)
    return k


def _looks_like_key(s: str) -> bool:
    low = s.strip().lower()
    for art in ("the ", "a "):
        if low.startswith(art):
            low = low[len(art) :]
    for suffix in (" key", " keys"):
        if low.endswith(suffix):
            return True
    if low in _KEYS or len(low) == 1:
        return True
    if "+" in low:
        return all(p.strip() and (p.strip() in _KEYS or len(p.strip()) == 1) for p in low.split("+"))
    return False


def parse_instruction(text: str) -> ParsedInstruction:
    """Parse one instruction; raises ``ValueError`` (with the supported verbs) when it cannot."""
    rec: list[str] = []
    parsed = _parse(text, rec)
    if parsed.target is not None and rec and rec[-1] != parsed.target:
        parsed.full_target = rec[-1]
    return parsed


def _parse(text: str, rec: list[str]) -> ParsedInstruction:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the instruction is empty; " + _verbs_hint())
    s = " ".join(text.split())
    s, found = _protect(s)
    s = s.strip().rstrip(".!;")
    low = s.lower()
    changed = True
    while changed:
        changed = False
        for p in _POLITE:
            if low.startswith(p) and len(low) > len(p):
                s, low = s[len(p) :].lstrip(), low[len(p) :].lstrip()
                changed = True
    method = None
    rest = ""
    for phrase, m in _VERBS:
        if low == phrase or low.startswith(phrase + " ") or low.startswith(phrase + _PH):
            method = m
            rest = s[len(phrase) :].strip()
            break
    if method is None:
        word = _restore(s.split(" ", 1)[0], found)
        raise ValueError(f"unknown action {word!r} in {text.strip()[:80]!r}; " + _verbs_hint())

    def target_only(m: str) -> ParsedInstruction:
        if not rest:
            raise ValueError(f"{m} needs a target, e.g. '{m} Sign in'")
        name, hint, nth = _strip_target(rest, found, rec)
        return ParsedInstruction(m, name or None, None, hint, nth)

    if method in ("click", "dblclick", "hover", "focus"):
        return target_only(method)
    if method in ("check", "uncheck"):
        p = target_only(method)
        if p.role_hint in (None, "textbox", "item"):
            p.role_hint = "checkbox"  # "check the 'I agree' box"
        return p
    if method == "clear":
        p = target_only("clear")
        return ParsedInstruction("fill", p.target, "", p.role_hint or "textbox", p.nth)
    if method == "press":
        if not rest:
            raise ValueError("press needs a key, e.g. 'press Enter' or 'press Control+A'")
        split = _split_last(rest, ("in", "on", "into", "inside"))
        if split and _looks_like_key(_restore(split[0], found)):
            name, hint, nth = _strip_target(split[1], found, rec)
            return ParsedInstruction("press", name or None, normalize_key(_restore(split[0], found)), hint, nth)
        if _looks_like_key(_restore(rest, found)):
            return ParsedInstruction("press", None, normalize_key(_restore(rest, found)))
        # "press the Submit button" means a click
        name, hint, nth = _strip_target(rest, found, rec)
        return ParsedInstruction("click", name or None, None, hint or "button", nth)
    if method == "type":
        if not rest:
            raise ValueError("type needs text, e.g. 'type hello into Search'")
        vt = _value_then_target(rest, ("into", "in", "inside", "on", "to"))
        if vt is None:
            return ParsedInstruction("type", None, _restore(rest, found))
        name, hint, nth = _strip_target(vt[1], found, rec)
        return ParsedInstruction("type", name or None, _restore(vt[0], found), hint, nth)
    if method == "fill":
        head = low.split(" ", 1)[0]
        if head == "enter" and rest.lower() in ("", "key", "the enter key"):
            return ParsedInstruction("press", None, "Enter")
        if not rest:
            raise ValueError("fill needs a field and a value, e.g. 'fill Email with ada@example.com'")
        if head in ("set", "put"):
            # "set Email to x" / "put 5 in Quantity"
            if head == "set":
                split = _split_first(rest, ("to", "as", "="))
                if split:
                    name, hint, nth = _strip_target(split[0], found, rec)
                    value = _restore(split[1], found)
                    m = "select" if hint in ("combobox", "listbox") else "fill"
                    on, off = ("on", "true", "checked", "yes"), ("off", "false", "unchecked", "no")
                    if hint in ("checkbox", "switch") and value.lower() in on + off:
                        m = "check" if value.lower() in on else "uncheck"
                        value = None
                    return ParsedInstruction(m, name or None, value, hint, nth)
            vt = _value_then_target(rest, ("into", "in", "inside", "on", "to"))
            if vt is None:
                raise ValueError(
                    f"cannot tell the field from the value in {text.strip()[:80]!r}; e.g. 'set Email to ada@example.com'"
                )
            name, hint, nth = _strip_target(vt[1], found, rec)
            return ParsedInstruction("fill", name or None, _restore(vt[0], found), hint, nth)
        if head in ("enter", "input"):
            vt = _value_then_target(rest, ("into", "in", "inside", "on", "for", "as"))
            if vt is None:
                return ParsedInstruction("type", None, _restore(rest, found))
            name, hint, nth = _strip_target(vt[1], found, rec)
            return ParsedInstruction("fill", name or None, _restore(vt[0], found), hint, nth)
        # fill [in|out] TARGET with VALUE  |  fill VALUE into TARGET
        split = _split_first(rest, ("with",))
        if split:
            name, hint, nth = _strip_target(split[0], found, rec)
            return ParsedInstruction("fill", name or None, _restore(split[1], found), hint, nth)
        vt = _value_then_target(rest, ("into", "in", "inside"))
        if vt is not None:
            name, hint, nth = _strip_target(vt[1], found, rec)
            return ParsedInstruction("fill", name or None, _restore(vt[0], found), hint, nth)
        raise ValueError(
            f"cannot tell the field from the value in {text.strip()[:80]!r}; e.g. 'fill Email with ada@example.com'"
        )
    if method == "select":
        if not rest:
            raise ValueError("select needs an option, e.g. 'select Japan in Country'")
        vt = _value_then_target(rest, ("from", "in", "on", "for", "inside"))
        if vt is not None:
            name, hint, nth = _strip_target(vt[1], found, rec)
            return ParsedInstruction("select", name or None, _strip_value(vt[0], found), hint or "combobox", nth)
        name, hint, nth = _strip_target(rest, found, rec)
        if hint in ("checkbox", "switch"):
            return ParsedInstruction("check", name or None, None, hint, nth)
        if hint in ("radio",):
            return ParsedInstruction("check", name or None, None, hint, nth)
        if hint in ("button", "link", "tab", "menuitem", "img", "heading", "item"):
            return ParsedInstruction("click", name or None, None, hint, nth)
        # "select Japan": the option of whichever list offers it (resolve finds the list)
        return ParsedInstruction("select", None, name, "combobox" if hint is None else hint, nth)
    if method == "scroll":
        return _parse_scroll(rest, found, rec)
    if method == "upload":
        vt = _value_then_target(rest, ("to", "into", "in", "on", "for"))
        if vt is None:
            if not rest:
                raise ValueError("upload needs a file, e.g. 'upload report.pdf to Attachment'")
            return ParsedInstruction("upload", None, _restore(rest, found), "button")
        name, hint, nth = _strip_target(vt[1], found, rec)
        return ParsedInstruction("upload", name or None, _restore(vt[0], found).strip(), hint, nth)
    raise ValueError(_verbs_hint())  # pragma: no cover


def _strip_value(raw: str, found: list[str]) -> str:
    s = raw.strip()
    if _is_quoted(s):
        return _restore(s, found)
    low = s.lower()
    for art in ("the ", "option ", "the option "):
        if low.startswith(art) and len(s) > len(art):
            s, low = s[len(art) :], low[len(art) :]
    for suffix in (" option",):
        if low.endswith(suffix) and len(s) > len(suffix):
            s = s[: -len(suffix)]
    return _restore(s.strip(), found)


def _parse_scroll(rest: str, found: list[str], rec: list[str]) -> ParsedInstruction:
    low = rest.lower().strip()
    for filler in ("the page ", "page ", "the window "):
        if low.startswith(filler):
            low = low[len(filler) :]
            rest = rest[len(filler) :]
    if low in ("", "page", "the page", "down the page"):
        return ParsedInstruction("scroll", None, "down")
    words = low.split()
    direction = words[0] if words else "down"
    if direction in ("down", "up", "left", "right"):
        amount = None
        for w in words[1:]:
            w = w.rstrip("px").rstrip("pixels")
            if w.replace(".", "", 1).isdigit():
                amount = w
                break
        if amount is not None and direction in ("down", "up"):
            n = int(float(amount))
            return ParsedInstruction("scroll", None, str(n if direction == "down" else -n))
        if amount is None and len(words) > 1 and words[1] in ("to",) and len(words) > 2:
            pass
        else:
            return ParsedInstruction("scroll", None, direction)
    if low.startswith(("to the ", "to ")):
        what = low[7:] if low.startswith("to the ") else low[3:]
        what = what.strip()
        if what in ("bottom", "end", "bottom of the page", "end of the page", "footer of the page", "very bottom"):
            return ParsedInstruction("scroll", None, "bottom")
        if what in ("top", "start", "beginning", "top of the page", "very top"):
            return ParsedInstruction("scroll", None, "top")
        tgt = rest.strip()[7:] if low.startswith("to the ") else rest.strip()[3:]
        name, hint, nth = _strip_target(tgt, found, rec)
        return ParsedInstruction("scroll", name or None, None, hint, nth)
    if low.endswith(" into view"):
        name, hint, nth = _strip_target(rest.strip()[: -len(" into view")], found, rec)
        return ParsedInstruction("scroll", name or None, None, hint, nth)
    if low.replace("-", "", 1).isdigit():
        return ParsedInstruction("scroll", None, low)
    name, hint, nth = _strip_target(rest, found, rec)
    return ParsedInstruction("scroll", name or None, None, hint, nth)


def _verbs_hint() -> str:
    return "supported: " + ", ".join(SUPPORTED_VERBS) + " (e.g. 'click Sign in', 'type hello into Search', 'press Enter')"


# -- ranking ----------------------------------------------------------------------------

_CLICKABLE = frozenset(
    """button link tab menuitem menuitemcheckbox menuitemradio checkbox radio option switch treeitem
    combobox listbox gridcell columnheader row generic img""".split()
)
_METHOD_ROLES: dict[str, frozenset[str]] = {
    "fill": frozenset({"textbox", "searchbox", "combobox", "spinbutton"}),
    "type": frozenset({"textbox", "searchbox", "combobox", "spinbutton"}),
    "select": frozenset({"combobox", "listbox"}),
    "check": frozenset({"checkbox", "radio", "switch", "menuitemcheckbox", "menuitemradio"}),
    "uncheck": frozenset({"checkbox", "switch", "menuitemcheckbox"}),
    "upload": frozenset({"button", "textbox"}),
}
_INTERACTIVE = frozenset(
    """button link textbox searchbox combobox listbox option checkbox radio switch slider spinbutton tab menuitem
    menuitemcheckbox menuitemradio treeitem scrollbar gridcell""".split()
)
_STOP = frozenset("the a an to of for and or on in with your my our this that please".split())
_MIN_NAME = 0.5  # a candidate must match the target at least this well
_ACCEPT = 0.62  # a winner needs this total score …
_MARGIN = 0.12  # … and this lead over the runner-up


def _n(s: str) -> str:
    return " ".join(s.casefold().replace("\u00a0", " ").split()).strip(" :*…")


_WORD = re.compile(r"\w+")


def _tokens(s: str) -> list[str]:
    return [_stem(t) for t in _WORD.findall(s)]


def _stem(t: str) -> str:
    if len(t) > 3 and t.endswith("s") and not t.endswith("ss"):
        return t[:-1]
    return t


def _match(t: str, tt: list[str], s: str) -> float:
    """How well the normalized target ``t`` (tokens ``tt``) names the normalized string ``s``."""
    if not s or not t:
        return 0.0
    if s == t:
        return 1.0
    st = _tokens(s)
    if not st:
        return 0.0
    if tt and st == tt:
        return 0.97  # same words, different punctuation/case/plural
    ratio = len(t) / len(s) if len(s) >= len(t) else len(s) / len(t)
    score = 0.0
    if tt and st[: len(tt)] == tt:
        score = 0.75 + 0.15 * ratio  # whole-word prefix: "Sign in" ~ "Sign in with Google"
    elif tt and _contains(st, tt):
        score = 0.6 + 0.15 * ratio
    elif st and len(s) >= 3 and _contains(tt, st):
        score = 0.5 + 0.3 * ratio  # the name is part of the description: "Search" in "search docs"
    ct = {x for x in tt if x not in _STOP} or set(tt)
    cs = {x for x in st if x not in _STOP} or set(st)
    if ct and cs:
        if ct == cs:
            score = max(score, 0.9)
        else:
            common = ct & cs
            if common:
                score = max(score, 0.3 + 0.4 * len(common) / len(ct | cs) + (0.1 if ct <= cs else 0.0))
    if score < 0.75 and abs(len(s) - len(t)) <= max(len(t), len(s)) * 0.4:
        sm = SequenceMatcher(None, t, s, autojunk=False)
        if sm.real_quick_ratio() >= 0.75 and sm.quick_ratio() >= 0.75:
            r = sm.ratio()
            if r >= 0.75:
                score = max(score, 0.8 * r)
    return score


def _contains(hay: list[str], needle: list[str]) -> bool:
    n = len(needle)
    if n == 0 or n > len(hay):
        return False
    first = needle[0]
    for i in range(len(hay) - n + 1):
        if hay[i] == first and hay[i : i + n] == needle:
            return True
    return False


_LANDMARK_WORDS: dict[str, frozenset[str]] = {
    "contentinfo": frozenset({"footer", "page footer", "site footer", "bottom of the page"}),
    "banner": frozenset({"header", "page header", "site header", "banner", "masthead"}),
    "navigation": frozenset({"navigation", "nav", "navbar", "nav bar", "menu bar", "site navigation"}),
    "main": frozenset({"main", "main content", "content", "main section"}),
    "complementary": frozenset({"sidebar", "side bar", "aside"}),
    "search": frozenset({"search", "search form", "search area"}),
    "dialog": frozenset({"dialog", "modal", "popup", "pop-up"}),
    "alertdialog": frozenset({"dialog", "alert", "modal"}),
}


def _name_score(t: str, tt: list[str], e: ElementInfo) -> float:
    best = _match(t, tt, _n(e.name)) if e.name else 0.0
    words = _LANDMARK_WORDS.get(e.role)
    if words is not None and t in words:
        best = 1.0  # "footer" names the contentinfo landmark exactly
    if best >= 1.0:
        return best
    attrs = e.attrs or {}
    ph = attrs.get("placeholder")
    if isinstance(ph, str) and ph:
        best = max(best, 0.92 * _match(t, tt, _n(ph)))
    if e.text:
        w = 0.55 if e.role in _METHOD_ROLES["fill"] else 0.9  # a textbox's text is its current value
        best = max(best, w * _match(t, tt, _n(e.text[:300])))
    return best


def _role_score(role: str, method: str | None, interactive: bool) -> float:
    if not interactive:
        # a plain text element or a landmark: fine to scroll to, a last resort to act on
        return -0.05 if method == "scroll" else -0.25
    if method is None or method in ("press", "focus", "scroll", "hover"):
        return 0.0
    if method in ("click", "dblclick"):
        return 0.1 if role in _CLICKABLE else 0.0
    ok = _METHOD_ROLES.get(method)
    if ok is None:
        return 0.0
    return 0.3 if role in ok else -0.4


def _hint_score(role: str, hint: str | None) -> float:
    if not hint:
        return 0.0
    roles = _HINT_ROLES.get(hint)
    if roles is None:
        return 0.2 if role == hint else 0.0
    return 0.2 if role in roles else -0.1


def rank_elements(
    target: str,
    elements: Iterable[ElementInfo],
    *,
    method: str | None = None,
    role_hint: str | None = None,
    alt_targets: Iterable[str] = (),
) -> list[Candidate]:
    """Score ``elements`` as the target of ``method``; best first, weak matches left out.

    ``alt_targets`` are other readings of the target (the name with its role words,
    "Add item" for "the Add item button"); the best reading counts, and a match that
    needs the role words ignores the role hint.
    """
    t = _n(target or "")
    if not t:
        return []
    tt = _tokens(t)
    alts = [(a, _tokens(a)) for a in (_n(x) for x in alt_targets if x) if a and a != t]
    scored: list[tuple[float, int, Candidate]] = []
    for i, e in enumerate(elements):
        ns = _name_score(t, tt, e)
        hint = role_hint
        for a, at in alts:
            na = _name_score(a, at, e)
            if na > ns + 0.05:
                ns, hint = na, None
        if ns < _MIN_NAME:
            continue
        interactive = e.role in _INTERACTIVE or (e.attrs or {}).get("cursor") == "pointer" or (
            e.role == "generic" and bool(e.name)
        )
        score = ns + _role_score(e.role, method, interactive) + _hint_score(e.role, hint)
        if e.in_viewport:
            score += 0.05
        if (e.attrs or {}).get("disabled") is True:
            score -= 0.1
        if score < _MIN_NAME - 0.15:
            continue
        scored.append((score, i, Candidate(ref=e.ref, role=e.role, name=e.name or e.text[:80], score=round(score, 3))))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [c for _, _, c in scored]


def _option_lists(value: str, elements: list[ElementInfo]) -> list[Candidate]:
    """Comboboxes/listboxes offering an option named ``value`` (for "select Japan")."""
    v = _n(value)
    vt = _tokens(v)
    out: list[tuple[float, int, Candidate]] = []
    for i, e in enumerate(elements):
        if e.role not in ("combobox", "listbox"):
            continue
        opts = (e.attrs or {}).get("options") or []
        best = max((_match(v, vt, _n(str(o))) for o in opts), default=0.0)
        if best >= 0.75:
            score = best + (0.05 if e.in_viewport else 0.0)
            out.append((score, i, Candidate(ref=e.ref, role=e.role, name=e.name, score=round(score, 3))))
    out.sort(key=lambda x: (-x[0], x[1]))
    return [c for _, _, c in out]


def resolve(
    instruction_or_parsed: str | ParsedInstruction,
    elements: Iterable[ElementInfo],
    *,
    method: str | None = None,
) -> Resolution:
    """Find the element an instruction means.

    ``ref`` is set only for a clear winner (score ≥ 0.62 and 0.12 ahead of the
    runner-up, or an ordinal picking among equals); otherwise ``candidates`` holds
    the top five and ``ambiguous`` tells whether several matched about equally.
    ``method`` overrides the parsed method; with it, a text without a verb is taken
    as the target ("the Email field").
    """
    if isinstance(instruction_or_parsed, ParsedInstruction):
        parsed = instruction_or_parsed
    else:
        try:
            parsed = parse_instruction(instruction_or_parsed)
        except ValueError:
            if method is None:
                raise
            found: list[str]
            s, found = _protect(" ".join(str(instruction_or_parsed).split()))
            rec: list[str] = []
            name, hint, nth = _strip_target(s, found, rec)
            parsed = ParsedInstruction(method, name or None, None, hint, nth, rec[-1] if rec and rec[-1] != name else None)
    m = method or parsed.method
    elems = list(elements)
    if parsed.target is None:
        if m == "select" and parsed.value:
            cands = _option_lists(parsed.value, elems)
            return _decide(m, parsed, cands, elems)
        return Resolution(m, None, parsed.value, [], False)
    if parsed.nth is not None and parsed.role_hint and parsed.target.lower() in _ROLE_WORDS:
        # "click the 3rd link": the nth element of that kind, in page order
        roles = _HINT_ROLES.get(parsed.role_hint, frozenset({parsed.role_hint}))
        pool = [e for e in elems if e.role in roles]
        idx = parsed.nth - 1 if parsed.nth > 0 else len(pool) + parsed.nth
        if 0 <= idx < len(pool):
            e = pool[idx]
            return Resolution(m, e.ref, parsed.value, [Candidate(e.ref, e.role, e.name or e.text[:80], 1.0)], False)
        return Resolution(m, None, parsed.value, [], False)
    alts = (parsed.full_target,) if parsed.full_target else ()
    cands = rank_elements(parsed.target, elems, method=m, role_hint=parsed.role_hint, alt_targets=alts)
    return _decide(m, parsed, cands, elems)


def _decide(method: str, parsed: ParsedInstruction, cands: list[Candidate], elems: list[ElementInfo]) -> Resolution:
    top5 = cands[:5]
    if not cands:
        return Resolution(method, None, parsed.value, [], False)
    best = cands[0]
    if best.score < _ACCEPT:
        return Resolution(method, None, parsed.value, top5, False)
    close = [c for c in cands if best.score - c.score < _MARGIN]
    if len(close) == 1:
        return Resolution(method, best.ref, parsed.value, top5, False)
    info = {e.ref: e for e in elems}
    seen = [c for c in close if (e := info.get(c.ref)) is not None and e.in_viewport]
    if parsed.nth is None and len(seen) == 1 and seen[0] is best:
        # the same control repeated off-screen (a second search box in the footer): the visible one
        return Resolution(method, best.ref, parsed.value, top5, False)
    if parsed.nth is not None:
        # equal matches: pick by position on the page (candidates keep document order on ties)
        pool = close
        position = {e.ref: i for i, e in enumerate(elems)}
        order = sorted(pool, key=lambda c: position.get(c.ref, 0))
        idx = parsed.nth - 1 if parsed.nth > 0 else len(order) + parsed.nth
        if 0 <= idx < len(order):
            return Resolution(method, order[idx].ref, parsed.value, top5, False)
    return Resolution(method, None, parsed.value, close[:5] if len(close) >= 2 else top5, True)
