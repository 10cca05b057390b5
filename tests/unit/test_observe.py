"""Compact observations: parsing Playwright's AI snapshot and rendering it for a model.

Pure-function tests on snapshot text captured from real Chromium (pasted below); the same
logic against live pages is in ``tests/browser/test_observe.py``.
"""

from __future__ import annotations

import pytest

from thinkrun_mcp.browser.observe import (
    Geometry,
    Node,
    TreeText,
    paginate,
    parse_snapshot,
    render_tree,
)

TOP = Geometry(scroll_x=0, scroll_y=0, width=1280, height=720, page_width=1280, page_height=900)

# Captured from Chromium: page.aria_snapshot(mode="ai", boxes=True) on a page of odd cases.
VARIED = """\
- generic [active] [ref=e1] [box=8,8,1264,870]:
  - 'heading "Title: with \\"quotes\\" and ''apos''" [level=1] [ref=e2] [box=8,8,1264,37]'
  - paragraph [ref=e3] [box=8,66,1264,18]: Para text line one continues here.
  - paragraph [ref=e4] [box=8,100,1264,18]: "- starts with dash"
  - paragraph [ref=e5] [box=8,134,1264,18]: "123"
  - paragraph [ref=e7] [box=8,202,1264,18]: "a # hash, and colon: here"
  - button "Disabled btn" [disabled] [ref=e8] [box=8,237,90,21]
  - button "Menu" [expanded] [ref=e9] [box=102,237,49,21]
  - button "Bold" [pressed] [ref=e10] [box=155,237,43,21]
  - button "Ital" [pressed=mixed] [ref=e11] [box=202,237,34,21]
  - checkbox "Tri" [checked=mixed] [ref=e13] [box=8,258,1264,18]
  - checkbox "Remember" [checked] [ref=e14] [box=12,313,13,13]
  - text: Remember
  - generic [ref=e15] [box=102,312,219,17]:
    - text: Name
    - textbox "Name" [ref=e16] [box=144,311,177,21]: current value
  - textbox "Lab" [ref=e18] [box=506,311,177,21]:
    - /placeholder: "Ph: with colon"
  - combobox "Country" [ref=e20] [box=873,312,64,19]:
    - option "France" [box=0,0,0,0]
    - option "Japan" [selected] [box=0,0,0,0]
  - listbox "Many" [ref=e21] [box=941,276,16,53]:
    - option "A" [ref=e22] [box=942,277,14,17]
    - option "B" [selected] [ref=e23] [box=942,294,14,17]
  - link "link" [ref=e25] [cursor=pointer] [box=961,312,25,17]:
    - /url: /x
  - 'link "Name: colon" [ref=e26] [cursor=pointer] [box=990,312,82,17]':
    - /url: /y?a=1&b=2
  - link "Name with \\\\back\\\\slash and \\"dq\\"" [ref=e27] [cursor=pointer] [box=8,312,1241,37]:
    - /url: "#"
  - text: "|"
  - list [ref=e28] [box=8,366,1264,54]:
    - listitem [ref=e29] [box=48,366,1224,18]: item 0
    - listitem [ref=e31] [box=48,402,1224,18]:
      - link "item link" [ref=e32] [cursor=pointer] [box=48,402,57,17]:
        - /url: z
  - table [ref=e33] [box=8,436,51,46]:
    - rowgroup [ref=e34] [box=10,438,47,42]:
      - row [ref=e35] [box=10,438,47,20]:
        - columnheader "H1" [ref=e36] [box=10,438,22,20]
        - columnheader "H2" [ref=e37] [box=34,438,22,20]
      - row [ref=e38] [box=10,460,47,20]:
        - cell "a" [ref=e39] [box=10,460,22,20]
        - cell "b" [ref=e40] [box=34,460,22,20]
  - img "An image" [ref=e41] [box=8,482,10,10]
  - generic [ref=e42] [cursor=pointer] [box=8,492,1264,18]: Clickable div
  - slider "Vol" [box=8,546,1264,0]
  - 'heading "{curly} `tick`" [level=2] [ref=e46] [box=8,566,1264,27]': X
  - textbox "Bad" [invalid] [ref=e47] [box=8,613,177,21]
  - paragraph [ref=e53] [box=8,689,1264,19]: emoji 😀 and tab here
  - iframe [ref=e54] [box=8,724,304,154]:
    - generic [ref=f1e1] [box=8,8,284,55]:
      - button "Inner" [ref=f1e2] [box=8,8,46,21]
      - paragraph [ref=f1e3] [box=8,45,284,18]: frame text"""

# Captured after window.scrollTo(0, 1400) and scrolling the iframe by 300 px; the iframe has a 5 px border.
SCROLLED_FRAMES = """\
- generic [active] [ref=e1] [box=8,-1392,1264,3447]:
  - generic [ref=e2] [box=8,-1392,1264,1500]: top
  - iframe [ref=e3] [box=8,108,310,160]:
    - generic [ref=f1e1] [box=8,-292,284,579]:
      - generic [ref=f1e2] [box=8,-292,284,400]: spacer
      - button "Inner" [ref=f1e3] [box=8,108,46,21]
      - iframe [ref=f1e4] [box=8,129,304,154]:
        - button "Deep" [ref=f2e2] [box=8,8,48,21]
  - generic [ref=e4] [box=8,268,1264,1500]: bottom
  - button "Fixed" [ref=e6] [box=0,0,49,21]"""


def walk(nodes: list[Node]):
    for n in nodes:
        yield n
        yield from walk(n.children)


def by_ref(nodes: list[Node], ref: str) -> Node:
    return next(n for n in walk(nodes) if n.ref == ref)


# -- parsing ---------------------------------------------------------------------------------


def test_parse_reads_roles_names_attributes_refs_and_boxes():
    nodes = parse_snapshot(VARIED)
    assert len(nodes) == 1 and nodes[0].role == "generic" and nodes[0].attrs["active"] is True
    h = by_ref(nodes, "e2")
    assert (h.role, h.name, h.attrs["level"]) == ("heading", "Title: with \"quotes\" and 'apos'", "1")
    assert h.box == (8, 8, 1264, 37)
    assert by_ref(nodes, "e8").attrs == {"disabled": True}
    assert by_ref(nodes, "e9").attrs == {"expanded": True}
    assert by_ref(nodes, "e11").attrs == {"pressed": "mixed"}
    assert by_ref(nodes, "e13").attrs == {"checked": "mixed"}
    assert by_ref(nodes, "e14").attrs == {"checked": True}
    assert by_ref(nodes, "e47").attrs == {"invalid": True}
    assert by_ref(nodes, "e25").attrs == {"cursor": "pointer", "url": "/x"}


def test_parse_decodes_yaml_quoting_in_keys_and_values():
    nodes = parse_snapshot(VARIED)
    assert by_ref(nodes, "e4").text == "- starts with dash"
    assert by_ref(nodes, "e5").text == "123"
    assert by_ref(nodes, "e7").text == "a # hash, and colon: here"
    assert by_ref(nodes, "e26").name == "Name: colon"
    assert by_ref(nodes, "e26").attrs["url"] == "/y?a=1&b=2"
    assert by_ref(nodes, "e27").name == 'Name with \\back\\slash and "dq"'
    assert by_ref(nodes, "e27").attrs["url"] == "#"
    assert by_ref(nodes, "e46").name == "{curly} `tick`" and by_ref(nodes, "e46").text == "X"
    assert by_ref(nodes, "e18").attrs["placeholder"] == "Ph: with colon"
    assert by_ref(nodes, "e16").text == "current value"
    assert by_ref(nodes, "e53").text == "emoji 😀 and tab here"
    esc = parse_snapshot('- paragraph [ref=e1]: "a\\nb \\x41 \\"q\\" \\\\ \\t"')
    assert esc[0].text == 'a\nb A "q" \\ \t'


def test_parse_keeps_text_only_lines_and_options_without_refs():
    nodes = parse_snapshot(VARIED)
    texts = [n.text for n in nodes[0].children if n.role == "text"]
    assert texts == ["Remember", "|"]
    combo = by_ref(nodes, "e20")
    assert [(o.role, o.name, o.ref, o.attrs) for o in combo.children] == [
        ("option", "France", None, {}),
        ("option", "Japan", None, {"selected": True}),
    ]


def test_parse_converts_frame_boxes_to_page_coordinates():
    geo = Geometry(scroll_x=0, scroll_y=1400, width=1280, height=720)
    nodes = parse_snapshot(SCROLLED_FRAMES, geometry=geo)
    assert by_ref(nodes, "e3").box == (8, 1508, 310, 160)  # the iframe: viewport y 108 + scroll 1400
    inner = by_ref(nodes, "f1e3")
    assert inner.box == (16, 1616, 46, 21)  # iframe origin + frame-viewport box (the 5 px border is not known)
    assert inner.frame == "f1"
    deep = by_ref(nodes, "f2e2")
    assert deep.box == (24, 1645, 48, 21) and deep.frame == "f2"
    assert by_ref(nodes, "e6").box == (0, 1400, 49, 21)  # position:fixed, at the top of the viewport
    assert by_ref(nodes, "e2").frame is None


def test_parse_without_geometry_is_completed_by_render_tree():
    geo = Geometry(scroll_x=0, scroll_y=1400, width=1280, height=720)
    nodes = parse_snapshot(SCROLLED_FRAMES)
    assert by_ref(nodes, "e6").box == (0, 0, 49, 21)  # still viewport-relative
    render_tree(nodes, geometry=geo)
    assert by_ref(nodes, "e6").box == (0, 1400, 49, 21)
    assert by_ref(nodes, "f1e3").box == (16, 1616, 46, 21)
    render_tree(nodes, geometry=geo)  # a second render does not shift again
    assert by_ref(nodes, "e6").box == (0, 1400, 49, 21)


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "\n\n",
        "garbage",
        "- ",
        "-",
        "  - '",
        "- 'unterminated [ref=e1]",
        '- button "unterminated [ref=e1]',
        "- button [box=1,2,x,4] [ref=e1]",
        "- button [ref=e1",
        "- /url: orphan",
        "\t- tab\tindented",
        "- text:",
        "- : value",
        "- [ref=e1]",
        "    - deeper first\n- shallower",
        '- link "a\\u00e9\\x" [ref=e2]: "\\x4"',
        "- generic:\n" + "".join("  " * i + "- generic:\n" for i in range(1, 600)),
    ],
)
def test_parse_never_raises_on_odd_input(junk):
    nodes = parse_snapshot(junk)
    assert isinstance(nodes, list)
    out = render_tree(nodes, geometry=TOP, scope="page")
    assert isinstance(out, TreeText)
    render_tree(nodes, geometry=TOP, scope="viewport")


def test_geometry_from_js_fills_defaults():
    g = Geometry.from_js({"scrollX": 0, "scrollY": 300.5, "innerWidth": 800, "innerHeight": 600, "scrollHeight": 5000})
    assert g == Geometry(scroll_x=0, scroll_y=300.5, width=800, height=600, page_width=0, page_height=5000)
    assert Geometry.from_js({}) == Geometry(0, 0, 1280, 720, 0, 0)


# -- rendering ---------------------------------------------------------------------------------


def test_render_uses_the_compact_line_format():
    out = render_tree(parse_snapshot(VARIED), geometry=TOP, scope="page").text
    lines = out.splitlines()
    assert '- heading "Title: with \\"quotes\\" and \'apos\'" [level=1] [ref=e2]' in lines
    assert '- button "Disabled btn" [disabled] [ref=e8]' in lines
    assert '- button "Ital" [pressed=mixed] [ref=e11]' in lines
    assert '- checkbox "Remember" [checked] [ref=e14]' in lines
    assert '- textbox "Name" [ref=e16]: current value' in lines
    assert '- textbox "Lab" [placeholder="Ph: with colon"] [ref=e18]' in lines
    assert '- link "link" [ref=e25] -> /x' in lines
    assert '- combobox "Country" [ref=e20]: Japan [options: "France", "Japan"]' in lines
    assert '- generic "Clickable div" [ref=e42]' in lines
    assert "  - row: H1 | H2" in lines and "  - row: a | b" in lines
    # noise is gone
    assert "box=" not in out and "cursor=" not in out and "[active]" not in out
    assert "- generic [" not in out  # the unnamed wrappers were lifted
    assert "text: Remember" not in out and "text: Name" not in out  # labels repeating a control's name
    assert 'slider "Vol"' not in out  # invisible (no ref): nothing to act on


def test_render_keeps_refs_on_controls_and_landmarks_but_not_on_plain_text():
    tree = render_tree(parse_snapshot(VARIED), geometry=TOP, scope="page")
    lines = tree.text.splitlines()
    assert "- paragraph: Para text line one continues here." in lines
    assert "  - listitem: item 0" in lines
    assert "- list [ref=e28]" in lines and "- table [ref=e33]" in lines and '- img "An image" [ref=e41]' in lines
    assert "e3" not in tree.elements and "e29" not in tree.elements  # paragraph, listitem
    assert {"e2", "e8", "e16", "e20", "e22", "e25", "e28", "e54", "f1e2"} <= set(tree.elements)
    for ref in tree.elements:
        assert f"[ref={ref}]" in tree.text
    assert tree.elements["e20"].attrs["options"] == ["France", "Japan"]
    assert tree.elements["e20"].attrs["value"] == "Japan"


def test_render_lists_many_options_with_a_count():
    opts = "\n".join(f'    - option "Country {i}" [box=0,0,0,0]' for i in range(1, 13))
    snap = f'- generic [ref=e1] [box=0,0,100,100]:\n  - combobox "Where" [ref=e2] [box=0,0,80,20]:\n{opts}'
    line = render_tree(parse_snapshot(snap), geometry=TOP).text.splitlines()[0]
    assert line.startswith('- combobox "Where" [ref=e2]: [12 options: "Country 1", "Country 2"')
    assert line.endswith('… "Country 12"]')


def test_render_merges_inline_runs_and_lists_the_links_below():
    snap = """\
- paragraph [ref=e37] [box=265,280,800,68]:
  - text: Objects can be converted to a string (with the
  - link [ref=e38] [cursor=pointer] [box=728,304,58,17]:
    - /url: functions.html#repr
    - code [ref=e39] [box=728,304,58,18]: repr()
  - text: function).
- term [ref=e705] [box=265,5182,800,23]:
  - generic [ref=e706] [box=265,5185,39,19]: int.
  - generic [ref=e707] [box=304,5184,95,20]: bit_count
  - text: ()"""
    out = render_tree(parse_snapshot(snap), geometry=None, scope="page").text
    assert out.splitlines() == [
        "- paragraph: Objects can be converted to a string (with the repr() function).",
        '  - link "repr()" [ref=e38] -> functions.html#repr',
        "- term: int.bit_count()",
    ]


def test_render_shortens_long_text():
    snap = "- paragraph [ref=e1] [box=0,0,10,10]: " + "word " * 100
    out = render_tree(parse_snapshot(snap), geometry=TOP, text_limit=50).text
    assert out.endswith("…") and len(out) <= len("- paragraph: ") + 50


def test_render_places_iframe_children_under_the_iframe():
    out = render_tree(parse_snapshot(VARIED), geometry=Geometry(0, 0, 1280, 900), scope="viewport").text
    assert out.splitlines()[-3:] == ["- iframe [ref=e54]", '  - button "Inner" [ref=f1e2]', "  - paragraph: frame text"]


def _list_snapshot(n: int, *, links: bool = False) -> str:
    lines = [f"- list [ref=e1] [box=0,0,800,{20 * n}]:"]
    for i in range(n):
        y = 20 * i
        if links:
            lines.append(f"  - listitem [ref=e{2 * i + 2}] [box=0,{y},800,20]:")
            lines.append(f'    - link "Item {i + 1}" [ref=e{2 * i + 3}] [cursor=pointer] [box=0,{y},60,17]:')
            lines.append(f"      - /url: /item/{i + 1}")
        else:
            lines.append(f"  - listitem [ref=e{i + 2}] [box=0,{y},800,20]: Item {i + 1}")
    return "\n".join(lines)


def test_repeated_text_siblings_are_folded_after_five():
    tree = render_tree(parse_snapshot(_list_snapshot(40)), geometry=None, scope="page")
    lines = tree.text.splitlines()
    assert lines[:7] == ["- list [ref=e1]"] + [f"  - listitem: Item {i}" for i in range(1, 6)] + [lines[6]]
    assert lines[6].startswith("  - … 35 more listitem (browser_extract ref=e1")
    assert len(lines) == 7


def test_repeated_actionable_siblings_fold_later_and_stay_reachable():
    tree = render_tree(parse_snapshot(_list_snapshot(60, links=True)), geometry=None, scope="page")
    lines = tree.text.splitlines()
    assert len([ln for ln in lines if ln.startswith("  - link ")]) == 20
    assert lines[-1].startswith('  - … 40 more link: "Item 21" … "Item 60"')
    assert len(tree.elements) == 21  # the list and the 20 links shown
    assert len([e for e in tree.all_elements.values() if e.role == "link"]) == 60


def test_short_runs_are_not_folded():
    tree = render_tree(parse_snapshot(_list_snapshot(7)), geometry=None, scope="page")
    assert "more listitem" not in tree.text and tree.text.count("listitem: Item") == 7


def _sections(scroll_y: int) -> str:
    """Ten 1000 px sections, boxes relative to the viewport as Playwright reports them."""
    lines = [f"- main [ref=e1] [box=0,{-scroll_y},1280,10000]:"]
    for i in range(10):
        y = i * 1000 - scroll_y
        lines.append(f'  - heading "Section {i + 1}" [level=2] [ref=e{10 * i + 2}] [box=0,{y},1280,30]')
        lines.append(f"  - paragraph [ref=e{10 * i + 3}] [box=0,{y + 40},1280,20]: Text of section {i + 1}")
        lines.append(f'  - button "Button {i + 1}" [ref=e{10 * i + 4}] [cursor=pointer] [box=0,{y + 70},90,20]')
    return "\n".join(lines)


def test_viewport_scope_shows_what_is_near_the_viewport_and_summarises_the_rest():
    geo = Geometry(scroll_x=0, scroll_y=0, width=1280, height=720, page_width=1280, page_height=10000)
    tree = render_tree(parse_snapshot(_sections(0)), geometry=geo, scope="viewport")
    assert '- button "Button 1" [ref=e4]' in tree.text and "Button 2" not in tree.text
    assert set(tree.elements) == {"e1", "e2", "e4"}
    assert tree.elements["e4"].in_viewport and tree.elements["e4"].box == (0, 70, 90, 20)
    assert len(tree.all_elements) > 10
    assert tree.outside is not None and len(tree.outside) <= 320
    assert "9 more elements (9 below: 9 buttons)" in tree.outside
    assert '9 headings below: "Section 2", "Section 3"' in tree.outside
    assert 'scope="page"' in tree.outside


def test_viewport_scope_keeps_the_section_heading_above_as_context():
    geo = Geometry(scroll_x=0, scroll_y=4300, width=1280, height=720, page_width=1280, page_height=10000)
    tree = render_tree(parse_snapshot(_sections(4300)), geometry=geo, scope="viewport")
    assert tree.text.splitlines() == [
        "- main [ref=e1]",
        '  - heading "Section 5" [level=2] [ref=e42]',
        '  - heading "Section 6" [level=2] [ref=e52]',
        "  - paragraph: Text of section 6",
        '  - button "Button 6" [ref=e54]',
    ]
    assert tree.elements["e42"].in_viewport is False
    assert "5 above" in tree.outside and "4 below" in tree.outside
    page = render_tree(parse_snapshot(_sections(4300)), geometry=geo, scope="page")
    assert page.outside is None and page.text.count("- button") == 10


def test_viewport_scope_clips_iframe_content_to_the_iframe():
    geo = Geometry(scroll_x=0, scroll_y=1400, width=1280, height=720)
    tree = render_tree(parse_snapshot(SCROLLED_FRAMES), geometry=geo, scope="viewport")
    text = tree.text.replace("  ", "")
    assert '- button "Inner" [ref=f1e3]' in text and '- button "Deep" [ref=f2e2]' in text
    assert '- button "Fixed" [ref=e6]' in text
    # A frame scrolled so that its first button is above the frame's own viewport.
    snap = """\
- iframe [ref=e3] [box=8,100,300,150]:
  - button "Hidden above" [ref=f1e1] [box=8,-60,46,21]
  - button "Visible" [ref=f1e2] [box=8,40,46,21]
  - button "Hidden below" [ref=f1e3] [box=8,400,46,21]"""
    tree = render_tree(parse_snapshot(snap), geometry=Geometry(0, 0, 1280, 720), scope="viewport")
    assert tree.text.splitlines() == ["- iframe [ref=e3]", '  - button "Visible" [ref=f1e2]']
    assert set(tree.all_elements) == {"f1e1", "f1e2", "f1e3"}


def test_a_dense_viewport_is_compacted_to_the_budget():
    rows = ["- main [ref=e1] [box=0,0,1280,700]:"]
    ref = 2
    for col in range(8):  # 8 columns × 40 paragraphs with a link each, all inside the viewport
        for i in range(40):
            box = f"{col * 160},{i * 17},150,17"
            rows.append(f"  - paragraph [ref=e{ref}] [box={box}]:")
            rows.append(f"    - text: Entry {col}-{i} has a description that goes on for a while, see")
            rows.append(f'    - link "Entry {col}-{i} details" [ref=e{ref + 1}] [cursor=pointer] [box={box}]:')
            rows.append(f"      - /url: https://example.com/some/long/path/to/entry/{col}/{i}?with=query&and=more")
            ref += 2
    snap = "\n".join(rows)
    full = render_tree(parse_snapshot(snap), geometry=TOP, scope="viewport", budget=None)
    tree = render_tree(parse_snapshot(snap), geometry=TOP, scope="viewport")
    assert len(full.text) > 20_000
    assert len(tree.text) < 8000
    assert "->" not in tree.text and "link URLs omitted" in (tree.outside or "")
    assert len([e for e in tree.all_elements.values() if e.role == "link"]) == 320
    for ref in tree.elements:
        assert f"[ref={ref}]" in tree.text


def test_a_viewport_that_cannot_be_folded_is_cut_at_the_budget_with_a_pointer_to_the_rest():
    rows = ["- main [ref=e1] [box=0,0,1280,700]:"]
    for i in range(400):  # alternating roles: nothing to fold
        role = "heading" if i % 2 else "button"
        rows.append(f'  - {role} "Thing number {i} with a fairly long accessible name" [ref=e{i + 2}] [box=0,{i},99,9]')
    tree = render_tree(parse_snapshot("\n".join(rows)), geometry=TOP, scope="viewport")
    assert len(tree.text) <= 6500
    assert tree.text.splitlines()[-1].startswith("- … the viewport holds more (")
    assert 'scope="page"' in tree.text.splitlines()[-1]
    for ref in tree.elements:
        assert f"[ref={ref}]" in tree.text
    assert len(tree.elements) < 200
    assert len([e for e in tree.all_elements.values() if e.role == "button"]) == 200


def test_a_clickable_card_keeps_its_content_and_a_huge_clickable_wrapper_does_not_swallow_the_page():
    snap = """\
- generic [ref=e2] [cursor=pointer] [box=8,8,1264,96]:
  - heading "Card title" [level=3] [ref=e3] [box=8,8,1264,22]
  - paragraph [ref=e4] [box=8,49,1264,18]: Card body text
  - button "Buy" [ref=e5] [box=8,83,39,21]
- generic [ref=e6] [cursor=pointer] [box=8,104,1264,18]: Simple clickable
- link [ref=e7] [cursor=pointer] [box=8,143,1264,57]:
  - /url: /x
  - heading "Linked heading" [level=4] [ref=e8] [box=8,143,1264,18]
  - paragraph [ref=e9] [box=8,182,1264,18]: with text"""
    tree = render_tree(parse_snapshot(snap), geometry=TOP, scope="page")
    assert tree.text.splitlines() == [
        '- generic "Card title" [ref=e2]',
        '  - heading "Card title" [level=3] [ref=e3]',
        "  - paragraph: Card body text",
        '  - button "Buy" [ref=e5]',
        '- generic "Simple clickable" [ref=e6]',
        '- link "Linked heading with text" [ref=e7] -> /x',
    ]
    assert {"e2", "e5", "e6", "e7"} <= set(tree.all_elements)


def test_very_deep_nesting_is_flattened_without_recursion_errors():
    snap = "- generic:\n" + "".join("  " * i + f"- generic [ref=e{i}]:\n" for i in range(1, 3000))
    snap += "  " * 3000 + '- button "Deep" [ref=e9999]'
    tree = render_tree(parse_snapshot(snap), geometry=None, scope="page")
    assert tree.text == '- button "Deep" [ref=e9999]'


# -- pagination ---------------------------------------------------------------------------------


def test_paginate_cuts_at_line_boundaries_and_covers_the_text_exactly_once():
    text = "\n".join(f"- line {i} " + "x" * (i % 37) for i in range(500))
    pieces, cursor = [], 0
    while cursor is not None:
        piece, cursor = paginate(text, max_chars=700, cursor=cursor)
        assert 0 < len(piece) <= 700
        assert cursor is None or text[cursor - 1] == "\n"
        pieces.append(piece)
    assert "".join(pieces) == text and len(pieces) > 5


def test_paginate_cuts_a_single_over_long_line():
    text = "short\n" + "word " * 100 + "\nend"
    piece, cursor = paginate(text, max_chars=100)
    assert piece == "short\n"
    piece2, cursor2 = paginate(text, max_chars=100, cursor=cursor)
    assert len(piece2) <= 100 and cursor2 is not None
    rest = []
    while cursor2 is not None:
        p, cursor2 = paginate(text, max_chars=100, cursor=cursor2)
        rest.append(p)
    assert piece + piece2 + "".join(rest) == text


def test_paginate_edge_cases():
    assert paginate("abc", max_chars=10) == ("abc", None)
    assert paginate("abc", max_chars=10, cursor=3) == ("", None)
    assert paginate("abc", max_chars=10, cursor=99) == ("", None)
    assert paginate("", max_chars=10) == ("", None)
    assert paginate("abcdef", max_chars=0) == ("a", 1)


# -- a large page ------------------------------------------------------------------------------


def _big_snapshot(sections: int = 400) -> str:
    out = [f"- generic [active] [ref=e1] [box=0,0,1280,{sections * 200}]:", "  - main [ref=e2] [box=0,0,1280,9]:"]
    ref = 3
    for s in range(sections):
        y = s * 200
        out.append(f'    - heading "Section {s}" [level=2] [ref=e{ref}] [box=0,{y},800,30]')
        out.append(f"    - paragraph [ref=e{ref + 1}] [box=0,{y + 40},800,60]:")
        out.append("      - text: Some text about the section, long enough to be realistic for a docs page and")
        out.append(f"      - link [ref=e{ref + 2}] [cursor=pointer] [box=100,{y + 60},50,17]:")
        out.append(f'        - /url: "#s{s}"')
        out.append(f"        - code [ref=e{ref + 3}] [box=100,{y + 60},50,18]: func_{s}()")
        out.append("      - text: continues.")
        out.append(f"    - list [ref=e{ref + 4}] [box=0,{y + 110},800,80]:")
        for i in range(4):
            out.append(f"      - listitem [ref=e{ref + 5 + i}] [box=0,{y + 110 + 20 * i},800,20]: item {i} of {s}")
        ref += 10
    return "\n".join(out)


def test_a_large_snapshot_renders_to_a_small_viewport_observation():
    snap = _big_snapshot()
    geo = Geometry(0, 0, 1280, 720, 1280, 80000)
    tree = render_tree(parse_snapshot(snap), geometry=geo, scope="viewport")
    assert len(tree.text) < 3000
