"""Plain-language instructions resolved to refs without an LLM."""

from __future__ import annotations

import itertools

import pytest

from thinkrun_mcp.browser.instruction import (
    ParsedInstruction,
    parse_instruction,
    rank_elements,
    resolve,
)
from thinkrun_mcp.browser.observe import ElementInfo


def el(ref: str, role: str, name: str, *, text: str = "", in_viewport: bool = True, **attrs) -> ElementInfo:
    return ElementInfo(ref=ref, role=role, name=name, attrs=attrs, text=text, in_viewport=in_viewport, box=None)


# -- parsing -------------------------------------------------------------------------------------

PARSES = [
    ("click Sign in", "click", "Sign in", None),
    ("Click on Sign in.", "click", "Sign in", None),
    ("please click the Sign in button", "click", "Sign in", None),
    ("double click X", "dblclick", "X", None),
    ("double-click the Row 3 cell", "dblclick", "Row 3 cell", None),
    ("hover over Menu", "hover", "Menu", None),
    ("type hello into Search", "type", "Search", "hello"),
    ("type 'hello world' in the search box", "type", "search", "hello world"),
    ('type "it\'s in here" into Comments', "type", "Comments", "it's in here"),
    ("type I live in Paris into Bio", "type", "Bio", "I live in Paris"),
    ("type hello", "type", None, "hello"),
    ("fill Email with ada@example.com", "fill", "Email", "ada@example.com"),
    ("fill in the Full name field with Ada Lovelace", "fill", "Full name", "Ada Lovelace"),
    ("enter ada@example.com in Email", "fill", "Email", "ada@example.com"),
    ("enter “ada@example.com” into the Email field", "fill", "Email", "ada@example.com"),
    ("set Email to x", "fill", "Email", "x"),
    ("put 5 in Quantity", "fill", "Quantity", "5"),
    ("clear Email", "fill", "Email", ""),
    ("select Japan in Country", "select", "Country", "Japan"),
    ("choose Japan from Country", "select", "Country", "Japan"),
    ("select United Kingdom from the Country dropdown", "select", "Country", "United Kingdom"),
    ("set the Country dropdown to Japan", "select", "Country", "Japan"),
    ("select Japan", "select", None, "Japan"),
    ("check Remember me", "check", "Remember me", None),
    ("tick the Terms checkbox", "check", "Terms", None),
    ("check the 'I agree' box", "check", "I agree", None),
    ("uncheck Subscribe", "uncheck", "Subscribe", None),
    ("select the Pro radio", "check", "Pro", None),
    ("press Enter", "press", None, "Enter"),
    ("press enter", "press", None, "Enter"),
    ("press Control+A", "press", None, "Control+A"),
    ("press ctrl+shift+k", "press", None, "Control+Shift+k"),
    ("press the escape key", "press", None, "Escape"),
    ("press Enter in Search", "press", "Search", "Enter"),
    ("press the Submit button", "click", "Submit", None),
    ("scroll down", "scroll", None, "down"),
    ("scroll up", "scroll", None, "up"),
    ("scroll down 500px", "scroll", None, "500"),
    ("scroll up by 300 pixels", "scroll", None, "-300"),
    ("scroll to the bottom", "scroll", None, "bottom"),
    ("scroll to Footer", "scroll", "Footer", None),
    ("focus Email", "focus", "Email", None),
    ("focus on the Email field", "focus", "Email", None),
    ("upload report.pdf to Attachment", "upload", "Attachment", "report.pdf"),
]


@pytest.mark.parametrize(("text", "method", "target", "value"), PARSES)
def test_parse_instruction_splits_method_target_and_value(text, method, target, value):
    p = parse_instruction(text)
    assert (p.method, p.target, p.value) == (method, target, value)


def test_role_words_become_hints_not_part_of_the_name():
    p = parse_instruction("click the Sign in button")
    assert (p.target, p.role_hint, p.full_target) == ("Sign in", "button", "Sign in button")
    assert parse_instruction("click on the 'Docs' link").role_hint == "link"
    assert parse_instruction("type hi in the search box").role_hint == "textbox"
    assert parse_instruction("choose Japan from the Country dropdown").role_hint == "combobox"
    assert parse_instruction("check the 'Remember me' box").role_hint == "checkbox"
    # a quoted name is taken literally, role words inside the quotes included
    assert parse_instruction('click "Add item"').target == "Add item"


def test_ordinals_are_parsed():
    assert parse_instruction("click the second Delete button").nth == 2
    assert parse_instruction("click the last Delete button").nth == -1
    assert parse_instruction("click the 3rd link").target == "link"


@pytest.mark.parametrize("text", ["", "   ", "foo the bar", "navigate back", "fill Email", "press"])
def test_unparseable_instructions_raise_a_helpful_value_error(text):
    with pytest.raises(ValueError) as info:
        parse_instruction(text)
    message = str(info.value)
    if text.strip() and text.split()[0] in ("foo", "navigate"):
        assert "supported" in message and "click" in message and "type … into …" in message


# -- ranking ---------------------------------------------------------------------------------------

FORM = [
    el("e2", "link", "Home"),
    el("e5", "textbox", "Email", placeholder="you@example.com"),
    el("e6", "textbox", "Password"),
    el("e7", "combobox", "Country", options=["France", "Japan", "Spain"], value="France"),
    el("e8", "checkbox", "Remember me"),
    el("e9", "button", "Sign in"),
    el("e10", "link", "Sign in with Google"),
    el("e11", "link", "Forgot password?"),
    el("e12", "searchbox", "Search"),
    el("e13", "button", "Search"),
    el("e14", "generic", "", text="Email"),  # the label, a fallback text target
]


def test_rank_prefers_exact_names_and_compatible_roles():
    c = rank_elements("Sign in", FORM, method="click")
    assert [x.ref for x in c[:2]] == ["e9", "e10"]
    assert c[0].score - c[1].score >= 0.12
    assert rank_elements("Email", FORM, method="fill")[0].ref == "e5"
    assert rank_elements("search", FORM, method="type")[0].ref == "e12"
    assert rank_elements("search", FORM, method="click")[0].ref in ("e12", "e13")
    assert rank_elements("Search", FORM, method="click", role_hint="button")[0].ref == "e13"


def test_rank_matches_placeholders_tokens_and_typos():
    assert rank_elements("you@example.com", FORM, method="fill")[0].ref == "e5"
    assert rank_elements("remember", FORM, method="check")[0].ref == "e8"
    assert rank_elements("Pasword", FORM, method="fill")[0].ref == "e6"
    assert rank_elements("forgot my password", FORM, method="click")[0].ref == "e11"
    assert rank_elements("Something else entirely", FORM, method="click") == []


def test_rank_orders_best_first_and_drops_weak_matches():
    c = rank_elements("Sign in", FORM, method="click")
    assert all(a.score >= b.score for a, b in itertools.pairwise(c))
    assert {x.ref for x in c} <= {"e9", "e10"}


# -- resolving ---------------------------------------------------------------------------------------


def test_resolve_returns_the_clear_winner():
    r = resolve("fill Email with ada@example.com", FORM)
    assert (r.method, r.ref, r.value, r.ambiguous) == ("fill", "e5", "ada@example.com", False)
    assert resolve("select Japan in Country", FORM).ref == "e7"
    assert resolve("check Remember me", FORM).ref == "e8"
    assert resolve("click Sign in", FORM).ref == "e9"
    assert resolve("click the Search button", FORM).ref == "e13"
    assert resolve("type cats into Search", FORM).ref == "e12"


def test_resolve_select_without_a_target_finds_the_list_that_offers_the_option():
    r = resolve("select Japan", FORM)
    assert (r.method, r.ref, r.value) == ("select", "e7", "Japan")
    assert resolve("select Narnia", FORM).ref is None


def test_press_without_a_target_needs_no_ref():
    r = resolve("press Enter", FORM)
    assert (r.method, r.ref, r.value, r.candidates, r.ambiguous) == ("press", None, "Enter", [], False)
    assert resolve("press Enter in Email", FORM).ref == "e5"


def test_two_equal_matches_are_ambiguous_and_both_reported():
    rows = [el("e1", "button", "Delete"), el("e2", "button", "Delete"), el("e3", "button", "Delete all")]
    r = resolve("click Delete", rows)
    assert r.ref is None and r.ambiguous
    assert [c.ref for c in r.candidates] == ["e1", "e2"]
    assert resolve("click the second Delete button", rows).ref == "e2"
    assert resolve("click the last Delete button", rows).ref == "e2"
    assert resolve("click Delete all", rows).ref == "e3"


def test_an_ordinal_with_only_a_role_word_picks_by_position():
    items = [el(f"e{i}", "link", f"Result {i}") for i in range(1, 6)] + [el("e9", "button", "Next")]
    assert resolve("click the 3rd link", items).ref == "e3"
    assert resolve("click the last link", items).ref == "e5"
    assert resolve("click the first button", items).ref == "e9"


def test_scroll_targets_can_be_landmarks_and_headings():
    page = [
        el("e1", "banner", ""),
        el("e2", "contentinfo", "", in_viewport=False),
        el("e3", "link", "Footer links", in_viewport=False),
        el("e4", "heading", "", text="Numeric Types", in_viewport=False),
    ]
    assert resolve("scroll to the footer", page).ref == "e2"
    assert resolve("scroll to Numeric Types", page).ref == "e4"
    assert resolve("scroll to the header", page).ref == "e1"


def test_an_off_screen_duplicate_yields_to_the_visible_one():
    boxes = [el("e1", "searchbox", "Search"), el("e9", "searchbox", "Search", in_viewport=False)]
    assert resolve("type x into Search", boxes).ref == "e1"


def test_no_match_gives_no_ref_and_not_ambiguous():
    r = resolve("click Checkout", FORM)
    assert r.ref is None and not r.ambiguous


def test_resolve_accepts_a_parsed_instruction_and_a_method_override():
    p = ParsedInstruction("fill", "Password", "hunter2")
    assert resolve(p, FORM).ref == "e6"
    r = resolve("the Email field", FORM, method="fill")
    assert (r.method, r.ref) == ("fill", "e5")
    with pytest.raises(ValueError):
        resolve("the Email field", FORM)


def test_text_elements_are_a_fallback_target():
    elements = [el("e1", "generic", "", text="Hover me"), el("e2", "button", "Other")]
    assert resolve("hover over Hover me", elements).ref == "e1"
    # … but a control with the same name wins
    elements.append(el("e3", "button", "Hover me"))
    assert resolve("hover over Hover me", elements).ref == "e3"
