"""Matching an instruction's target against the elements of an observation.

:func:`rank_elements` scores the observation's elements against the target
(exact name > whole-word prefix > contained > shared words > fuzzy, also
matching placeholder and text), adjusted by role compatibility with the method,
the role hint and visibility; :func:`resolve` accepts a clear winner only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from ..observe import INTERACTIVE_ROLES, ElementInfo
from .grammar import ROLE_WORDS, ParsedInstruction, parse_instruction, parse_target

__all__ = ["Candidate", "Resolution", "rank_elements", "resolve"]


@dataclass
class Candidate:
    """An element that may be the target, with its score (higher is better)."""

    ref: str
    role: str
    name: str
    score: float


@dataclass
class Resolution:
    """The outcome of :func:`resolve`: the winner's ``ref``, or none and the candidates."""

    method: str
    ref: str | None
    value: str | None
    candidates: list[Candidate] = field(default_factory=list)
    ambiguous: bool = False


# Roles a role hint ("the Email field" → textbox) accepts.
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
_CLICKABLE = frozenset(
    [
        "button",
        "link",
        "tab",
        "menuitem",
        "menuitemcheckbox",
        "menuitemradio",
        "checkbox",
        "radio",
        "option",
        "switch",
        "treeitem",
        "combobox",
        "listbox",
        "gridcell",
        "columnheader",
        "row",
        "generic",
        "img",
    ]
)
_METHOD_ROLES: dict[str, frozenset[str]] = {
    "fill": frozenset({"textbox", "searchbox", "combobox", "spinbutton"}),
    "type": frozenset({"textbox", "searchbox", "combobox", "spinbutton"}),
    "select": frozenset({"combobox", "listbox"}),
    "check": frozenset({"checkbox", "radio", "switch", "menuitemcheckbox", "menuitemradio"}),
    "uncheck": frozenset({"checkbox", "switch", "menuitemcheckbox"}),
    "upload": frozenset({"button", "textbox"}),
}
# The roles a person acts on (the observation's own list, less its marker for sortable column headers).
_INTERACTIVE = INTERACTIVE_ROLES - {"columnheader_sortable"}
_STOP = frozenset(
    ["the", "a", "an", "to", "of", "for", "and", "or", "on", "in", "with", "your", "my", "our", "this", "that", "please"]
)
_MIN_NAME = 0.5  # a candidate must match the target at least this well
_ACCEPT = 0.62  # a winner needs this total score …
_MARGIN = 0.12  # … and this lead over the runner-up

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


# -- scoring ----------------------------------------------------------------------------


def _normalized(s: str) -> str:
    return " ".join(s.casefold().replace("\u00a0", " ").split()).strip(" :*…")


_WORD = re.compile(r"\w+")


def _tokens(s: str) -> list[str]:
    return [_stem(t) for t in _WORD.findall(s)]


def _stem(t: str) -> str:
    if len(t) > 3 and t.endswith("s") and not t.endswith("ss"):
        return t[:-1]
    return t


def _match(target: str, target_tokens: list[str], name: str) -> float:
    """How well the normalized ``target`` (its tokens ``target_tokens``) names the normalized ``name``."""
    if not name or not target:
        return 0.0
    if name == target:
        return 1.0
    name_tokens = _tokens(name)
    if not name_tokens:
        return 0.0
    if target_tokens and name_tokens == target_tokens:
        return 0.97  # same words, different punctuation/case/plural
    ratio = len(target) / len(name) if len(name) >= len(target) else len(name) / len(target)
    score = 0.0
    if target_tokens and name_tokens[: len(target_tokens)] == target_tokens:
        score = 0.75 + 0.15 * ratio  # whole-word prefix: "Sign in" ~ "Sign in with Google"
    elif target_tokens and _contains(name_tokens, target_tokens):
        score = 0.6 + 0.15 * ratio
    elif name_tokens and len(name) >= 3 and _contains(target_tokens, name_tokens):
        score = 0.5 + 0.3 * ratio  # the name is part of the description: "Search" in "search docs"
    target_words = {x for x in target_tokens if x not in _STOP} or set(target_tokens)
    name_words = {x for x in name_tokens if x not in _STOP} or set(name_tokens)
    if target_words and name_words:
        if target_words == name_words:
            score = max(score, 0.9)
        else:
            common = target_words & name_words
            if common:
                bonus = 0.1 if target_words <= name_words else 0.0
                score = max(score, 0.3 + 0.4 * len(common) / len(target_words | name_words) + bonus)
    if score < 0.75 and abs(len(name) - len(target)) <= max(len(target), len(name)) * 0.4:
        sm = SequenceMatcher(None, target, name, autojunk=False)
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
    return any(hay[i] == first and hay[i : i + n] == needle for i in range(len(hay) - n + 1))


def _name_score(target: str, target_tokens: list[str], e: ElementInfo) -> float:
    best = _match(target, target_tokens, _normalized(e.name)) if e.name else 0.0
    words = _LANDMARK_WORDS.get(e.role)
    if words is not None and target in words:
        best = 1.0  # "footer" names the contentinfo landmark exactly
    if best >= 1.0:
        return best
    attrs = e.attrs or {}
    ph = attrs.get("placeholder")
    if isinstance(ph, str) and ph:
        best = max(best, 0.92 * _match(target, target_tokens, _normalized(ph)))
    if e.text:
        w = 0.55 if e.role in _METHOD_ROLES["fill"] else 0.9  # a textbox's text is its current value
        best = max(best, w * _match(target, target_tokens, _normalized(e.text[:300])))
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


# -- ranking and resolving --------------------------------------------------------------


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
    t = _normalized(target or "")
    if not t:
        return []
    t_tokens = _tokens(t)
    alts = [(a, _tokens(a)) for a in (_normalized(x) for x in alt_targets if x) if a and a != t]
    scored: list[tuple[float, int, Candidate]] = []
    for i, e in enumerate(elements):
        ns = _name_score(t, t_tokens, e)
        hint = role_hint
        for alt, alt_tokens in alts:
            na = _name_score(alt, alt_tokens, e)
            if na > ns + 0.05:
                ns, hint = na, None
        if ns < _MIN_NAME:
            continue
        interactive = (
            e.role in _INTERACTIVE or (e.attrs or {}).get("cursor") == "pointer" or (e.role == "generic" and bool(e.name))
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
    v = _normalized(value)
    v_tokens = _tokens(v)
    out: list[tuple[float, int, Candidate]] = []
    for i, e in enumerate(elements):
        if e.role not in ("combobox", "listbox"):
            continue
        opts = (e.attrs or {}).get("options") or []
        best = max((_match(v, v_tokens, _normalized(str(o))) for o in opts), default=0.0)
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
            parsed = parse_target(instruction_or_parsed, method)
    m = method or parsed.method
    elems = list(elements)
    if parsed.target is None:
        if m == "select" and parsed.value:
            cands = _option_lists(parsed.value, elems)
            return _decide(m, parsed, cands, elems)
        return Resolution(m, None, parsed.value, [], False)
    if parsed.nth is not None and parsed.role_hint and parsed.target.lower() in ROLE_WORDS:
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
