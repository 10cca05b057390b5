"""The instruction grammar: a sentence → an act method, a target description and a value.

:func:`parse_instruction` reads the verb at the start of the sentence (the table
:data:`VERBS`: verb words → the act method of :data:`~thinkrun_mcp.browser.actions.ACT_METHODS`
they name, and the reader of the words after them)::

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

This module is longer than ~500 lines on purpose: about a third of it is word tables
(role words, ordinals, keys, the verbs) consulted by the readers next to them; the
readers share the quoting and target-stripping helpers, and split apart each part
would have to be read with the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "ROLE_WORDS",
    "SUPPORTED_VERBS",
    "VERBS",
    "ParsedInstruction",
    "Verb",
    "normalize_key",
    "parse_instruction",
    "parse_target",
]


@dataclass
class ParsedInstruction:
    """What an instruction asks: the act method, the target's description, the value and hints."""

    method: str
    target: str | None
    value: str | None
    role_hint: str | None = None  # "button", "link", "textbox", "checkbox", "combobox" …
    nth: int | None = None  # 1-based; -1 = last ("the second Delete button")
    full_target: str | None = None  # the target with its role words ("Add item" when target is "Add")


# A word table laid out by hand: the formatter leaves it alone.
# fmt: off
SUPPORTED_VERBS = (
    "click", "double click", "hover (over)", "type … into …", "fill … with …", "enter … in …", "set … to …",
    "clear …", "select … in/from …", "choose … from …", "check", "uncheck", "press <key>", "scroll up/down/to …",
    "focus", "upload <file> to …",
)
# fmt: on

_POLITE = ("please ", "now ", "then ", "and ", "just ", "kindly ")

# Trailing (or leading) words that describe the element's kind: word(s) → role hint.
# A word table laid out by hand: the formatter leaves it alone.
# fmt: off
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
)
# fmt: on
# The role words a target may consist of alone ("the 3rd link").
ROLE_WORDS = frozenset(words for words, _ in _HINTS)
# A word table laid out by hand: the formatter leaves it alone.
# fmt: off
_ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5,
    "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8, "ninth": 9, "9th": 9,
    "tenth": 10, "10th": 10, "last": -1,
}
# fmt: on
_ARTICLES = ("the ", "a ", "an ", "this ", "that ", "my ", "our ", "your ")

# A word table laid out by hand: the formatter leaves it alone.
# fmt: off
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
}
# fmt: on

_QUOTES = re.compile(r"\"([^\"]*)\"|“([^”]*)”|‘([^’]*)’|«([^»]*)»|`([^`]*)`|(?<![\w])'([^']*)'(?![\w])")
_PH = "\x00"


# -- quoted parts -----------------------------------------------------------------------


def _protect(text: str) -> tuple[str, list[str]]:
    """Replace quoted parts by placeholders (``\\x00N\\x00``) so word parsing ignores them."""
    quoted: list[str] = []

    def repl(m: re.Match) -> str:
        quoted.append(next(g for g in m.groups() if g is not None))
        return f"{_PH}{len(quoted) - 1}{_PH}"

    return _QUOTES.sub(repl, text), quoted


def _restore(s: str, quoted: list[str]) -> str:
    if _PH not in s:
        return s
    return re.sub(r"\x00(\d+)\x00", lambda m: quoted[int(m.group(1))], s)


def _is_quoted(s: str) -> bool:
    return bool(re.fullmatch(r"\x00\d+\x00", s.strip()))


# -- splitting a value from a target ----------------------------------------------------


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


def _strip_target(raw: str, quoted: list[str]) -> tuple[str, str | None, int | None, str]:
    """Remove articles, ordinals and role words; returns (name, role_hint, nth, full name).

    The full name keeps the role words ("Add item" for "the Add item", whose trailing
    "item" would otherwise be taken as a role hint).
    """
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
    full = _restore(s, quoted).strip().strip(",.;:!?").strip()
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
    name = _restore(s, quoted).strip()
    if hint is None and nth is not None and not _is_quoted(s):
        # "the 3rd link", "the last button": only a role word is left
        hint = next((role for words, role in _HINTS if words == name.lower()), None)
    if hint == "any":
        hint = None
    return name, hint, nth, full


def _strip_value(raw: str, quoted: list[str]) -> str:
    s = raw.strip()
    if _is_quoted(s):
        return _restore(s, quoted)
    low = s.lower()
    for art in ("the ", "option ", "the option "):
        if low.startswith(art) and len(s) > len(art):
            s, low = s[len(art) :], low[len(art) :]
    for suffix in (" option",):
        if low.endswith(suffix) and len(s) > len(suffix):
            s = s[: -len(suffix)]
    return _restore(s.strip(), quoted)


# -- keys -------------------------------------------------------------------------------


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
    if "+" in k or ("-" in k and len(k) > 2 and k.split("-")[0].lower() in _KEYS):
        parts = re.split(r"\s*[+]\s*", k) if "+" in k else k.split("-")
        out = []
        for p in parts:
            pl = p.strip().lower()
            out.append(_KEYS.get(pl, p.strip()))
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


# -- the verbs --------------------------------------------------------------------------


@dataclass(slots=True)
class _Sentence:
    """An instruction being read: the words after its verb, quoted parts set aside."""

    text: str  # the instruction as given, for error messages
    method: str  # the act method the verb names
    rest: str  # the words after the verb, quoted parts replaced by placeholders
    quoted: list[str]  # the quoted parts, in order
    glued: bool  # the verb words run straight into a quoted part ("set'x' to y")
    full_target: str | None = None  # the last target read, with its role words

    def target(self, raw: str) -> tuple[str, str | None, int | None]:
        """Read ``raw`` as a target description: (name, role_hint, nth)."""
        name, hint, nth, self.full_target = _strip_target(raw, self.quoted)
        return name, hint, nth

    def restore(self, s: str) -> str:
        """``s`` with its quoted parts put back."""
        return _restore(s, self.quoted)


def _target_only(s: _Sentence, verb: str) -> ParsedInstruction:
    if not s.rest:
        raise ValueError(f"{verb} needs a target, e.g. '{verb} Sign in'")
    name, hint, nth = s.target(s.rest)
    return ParsedInstruction(verb, name or None, None, hint, nth)


def _read_target(s: _Sentence) -> ParsedInstruction:
    """click / dblclick / hover / focus TARGET."""
    return _target_only(s, s.method)


def _read_check(s: _Sentence) -> ParsedInstruction:
    """check / uncheck TARGET; a target without a clear kind is taken as a checkbox."""
    p = _target_only(s, s.method)
    if p.role_hint in (None, "textbox", "item"):
        p.role_hint = "checkbox"  # "check the 'I agree' box"
    return p


def _read_clear(s: _Sentence) -> ParsedInstruction:
    """clear FIELD: fill it with nothing."""
    p = _target_only(s, "clear")
    return ParsedInstruction("fill", p.target, "", p.role_hint or "textbox", p.nth)


def _read_press(s: _Sentence) -> ParsedInstruction:
    """press KEY [in TARGET]; "press the Submit button" means a click."""
    rest = s.rest
    if not rest:
        raise ValueError("press needs a key, e.g. 'press Enter' or 'press Control+A'")
    split = _split_last(rest, ("in", "on", "into", "inside"))
    if split and _looks_like_key(s.restore(split[0])):
        name, hint, nth = s.target(split[1])
        return ParsedInstruction("press", name or None, normalize_key(s.restore(split[0])), hint, nth)
    if _looks_like_key(s.restore(rest)):
        return ParsedInstruction("press", None, normalize_key(s.restore(rest)))
    name, hint, nth = s.target(rest)
    return ParsedInstruction("click", name or None, None, hint or "button", nth)


def _read_type(s: _Sentence) -> ParsedInstruction:
    """type TEXT [into TARGET]."""
    if not s.rest:
        raise ValueError("type needs text, e.g. 'type hello into Search'")
    vt = _value_then_target(s.rest, ("into", "in", "inside", "on", "to"))
    if vt is None:
        return ParsedInstruction("type", None, s.restore(s.rest))
    name, hint, nth = s.target(vt[1])
    return ParsedInstruction("type", name or None, s.restore(vt[0]), hint, nth)


def _need_field_and_value(s: _Sentence) -> None:
    if not s.rest:
        raise ValueError("fill needs a field and a value, e.g. 'fill Email with ada@example.com'")


def _read_fill(s: _Sentence) -> ParsedInstruction:
    """fill [in|out] FIELD with VALUE, or fill VALUE into FIELD."""
    _need_field_and_value(s)
    split = _split_first(s.rest, ("with",))
    if split:
        name, hint, nth = s.target(split[0])
        return ParsedInstruction("fill", name or None, s.restore(split[1]), hint, nth)
    vt = _value_then_target(s.rest, ("into", "in", "inside"))
    if vt is not None:
        name, hint, nth = s.target(vt[1])
        return ParsedInstruction("fill", name or None, s.restore(vt[0]), hint, nth)
    raise ValueError(f"cannot tell the field from the value in {s.text.strip()[:80]!r}; e.g. 'fill Email with ada@example.com'")


def _read_enter(s: _Sentence) -> ParsedInstruction:
    """enter VALUE in FIELD; "enter" alone or "enter key" presses Enter."""
    if s.rest.lower() in ("", "key", "the enter key"):
        return ParsedInstruction("press", None, "Enter")
    return _read_input(s)


def _read_input(s: _Sentence) -> ParsedInstruction:
    """enter / input VALUE [in FIELD] (typed where the focus is without a field)."""
    if s.glued:
        return _read_fill(s)  # the verb runs into a quote ("input'x' in y"): read as fill
    _need_field_and_value(s)
    vt = _value_then_target(s.rest, ("into", "in", "inside", "on", "for", "as"))
    if vt is None:
        return ParsedInstruction("type", None, s.restore(s.rest))
    name, hint, nth = s.target(vt[1])
    return ParsedInstruction("fill", name or None, s.restore(vt[0]), hint, nth)


def _read_set(s: _Sentence) -> ParsedInstruction:
    """set FIELD to VALUE (a list's option, a checkbox on/off), else like put."""
    if s.glued:
        return _read_fill(s)  # the verb runs into a quote ("set'x' to y"): read as fill
    _need_field_and_value(s)
    split = _split_first(s.rest, ("to", "as", "="))
    if split:
        name, hint, nth = s.target(split[0])
        value = s.restore(split[1])
        m = "select" if hint in ("combobox", "listbox") else "fill"
        on, off = ("on", "true", "checked", "yes"), ("off", "false", "unchecked", "no")
        if hint in ("checkbox", "switch") and value.lower() in on + off:
            m = "check" if value.lower() in on else "uncheck"
            value = None
        return ParsedInstruction(m, name or None, value, hint, nth)
    return _value_into_field(s)


def _read_put(s: _Sentence) -> ParsedInstruction:
    """put VALUE in FIELD."""
    if s.glued:
        return _read_fill(s)  # the verb runs into a quote ("put'x' in y"): read as fill
    _need_field_and_value(s)
    return _value_into_field(s)


def _value_into_field(s: _Sentence) -> ParsedInstruction:
    vt = _value_then_target(s.rest, ("into", "in", "inside", "on", "to"))
    if vt is None:
        raise ValueError(f"cannot tell the field from the value in {s.text.strip()[:80]!r}; e.g. 'set Email to ada@example.com'")
    name, hint, nth = s.target(vt[1])
    return ParsedInstruction("fill", name or None, s.restore(vt[0]), hint, nth)


def _read_select(s: _Sentence) -> ParsedInstruction:
    """select OPTION [in LIST]; "select the Remember me checkbox" / "select the Docs link" act on it."""
    if not s.rest:
        raise ValueError("select needs an option, e.g. 'select Japan in Country'")
    vt = _value_then_target(s.rest, ("from", "in", "on", "for", "inside"))
    if vt is not None:
        name, hint, nth = s.target(vt[1])
        return ParsedInstruction("select", name or None, _strip_value(vt[0], s.quoted), hint or "combobox", nth)
    name, hint, nth = s.target(s.rest)
    if hint in ("checkbox", "switch"):
        return ParsedInstruction("check", name or None, None, hint, nth)
    if hint in ("radio",):
        return ParsedInstruction("check", name or None, None, hint, nth)
    if hint in ("button", "link", "tab", "menuitem", "img", "heading", "item"):
        return ParsedInstruction("click", name or None, None, hint, nth)
    # "select Japan": the option of whichever list offers it (resolve finds the list)
    return ParsedInstruction("select", None, name, "combobox" if hint is None else hint, nth)


def _read_scroll(s: _Sentence) -> ParsedInstruction:
    """scroll [down|up|left|right] [N px], scroll to the top/bottom, scroll to TARGET, scroll TARGET into view."""
    rest = s.rest
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
        name, hint, nth = s.target(tgt)
        return ParsedInstruction("scroll", name or None, None, hint, nth)
    if low.endswith(" into view"):
        name, hint, nth = s.target(rest.strip()[: -len(" into view")])
        return ParsedInstruction("scroll", name or None, None, hint, nth)
    if low.replace("-", "", 1).isdigit():
        return ParsedInstruction("scroll", None, low)
    name, hint, nth = s.target(rest)
    return ParsedInstruction("scroll", name or None, None, hint, nth)


def _read_upload(s: _Sentence) -> ParsedInstruction:
    """upload FILE [to TARGET]."""
    vt = _value_then_target(s.rest, ("to", "into", "in", "on", "for"))
    if vt is None:
        if not s.rest:
            raise ValueError("upload needs a file, e.g. 'upload report.pdf to Attachment'")
        return ParsedInstruction("upload", None, s.restore(s.rest), "button")
    name, hint, nth = s.target(vt[1])
    return ParsedInstruction("upload", name or None, s.restore(vt[0]).strip(), hint, nth)


@dataclass(frozen=True, slots=True)
class Verb:
    """One verb of the grammar: the words that say it, the act method it names, the reader of the rest.

    A reader may return another method where the words mean it ("press the Submit
    button" is a click, "set Remember me checkbox to on" a check).
    """

    words: tuple[str, ...]
    method: str  # a key of ACT_METHODS
    read: Callable[[_Sentence], ParsedInstruction]


# Laid out by hand, one verb a row with its words wrapped under it: the formatter leaves it alone.
# fmt: off
VERBS: tuple[Verb, ...] = (
    Verb(("double click on", "double-click on", "double click", "double-click", "doubleclick", "dblclick", "dbl click"),
         "dblclick", _read_target),
    Verb(("click on", "click", "tap on", "tap", "follow", "open", "toggle", "activate", "go to", "navigate to"),
         "click", _read_target),
    Verb(("hover over", "hover on", "hover", "mouse over", "mouseover", "move the mouse over", "move the mouse to",
          "move mouse over", "move mouse to", "point at", "point to"), "hover", _read_target),
    Verb(("type", "write"), "type", _read_type),
    Verb(("fill in", "fill out", "fill"), "fill", _read_fill),
    Verb(("enter",), "fill", _read_enter),
    Verb(("input",), "fill", _read_input),
    Verb(("put",), "fill", _read_put),
    Verb(("set",), "fill", _read_set),
    Verb(("clear", "empty"), "fill", _read_clear),
    Verb(("select", "choose", "pick"), "select", _read_select),
    Verb(("check", "tick", "turn on", "switch on", "enable"), "check", _read_check),
    Verb(("uncheck", "un-check", "untick", "un-tick", "turn off", "switch off", "disable"), "uncheck", _read_check),
    Verb(("press", "hit", "push"), "press", _read_press),
    Verb(("scroll",), "scroll", _read_scroll),
    Verb(("focus on", "focus"), "focus", _read_target),
    Verb(("upload", "attach"), "upload", _read_upload),
)
# fmt: on

# Every verb's words, longest first: "double click" is tried before "click".
_VERB_WORDS: list[tuple[str, Verb]] = sorted(
    ((words, verb) for verb in VERBS for words in verb.words), key=lambda wv: -len(wv[0])
)


def parse_instruction(text: str) -> ParsedInstruction:
    """Parse one instruction into its method, target and value.

    Args:
        text: The instruction, e.g. "type 'hello' into the search box".

    Returns:
        The parsed instruction; ``full_target`` is set when the target had role words
        that may belong to the name.

    Raises:
        ValueError: The instruction is empty or its verb unknown (the message lists the
            supported verbs), or the words after the verb cannot be read.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the instruction is empty; " + _verbs_hint())
    s, quoted = _protect(" ".join(text.split()))
    s = s.strip().rstrip(".!;")
    low = s.lower()
    changed = True
    while changed:
        changed = False
        for p in _POLITE:
            if low.startswith(p) and len(low) > len(p):
                s, low = s[len(p) :].lstrip(), low[len(p) :].lstrip()
                changed = True
    for words, verb in _VERB_WORDS:
        spaced = low == words or low.startswith(words + " ")
        if spaced or low.startswith(words + _PH):
            sentence = _Sentence(text, verb.method, s[len(words) :].strip(), quoted, glued=not spaced)
            parsed = verb.read(sentence)
            full = sentence.full_target
            if parsed.target is not None and full is not None and full != parsed.target:
                parsed.full_target = full
            return parsed
    word = _restore(s.split(" ", 1)[0], quoted)
    raise ValueError(f"unknown action {word!r} in {text.strip()[:80]!r}; " + _verbs_hint())


def parse_target(text: str, method: str) -> ParsedInstruction:
    """Read a text without a verb as the target of ``method`` ("the Email field" for fill)."""
    s, quoted = _protect(" ".join(str(text).split()))
    name, hint, nth, full = _strip_target(s, quoted)
    return ParsedInstruction(method, name or None, None, hint, nth, full if full != name else None)


def _verbs_hint() -> str:
    return "supported: " + ", ".join(SUPPORTED_VERBS) + " (e.g. 'click Sign in', 'type hello into Search', 'press Enter')"
