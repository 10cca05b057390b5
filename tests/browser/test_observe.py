"""Compact observations of live pages in real Chromium: refs resolve, boxes and the viewport follow scrolling."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.site import SITE_DIR as SITE
from thinkrun_mcp.browser.observe import GEOMETRY_JS, Geometry, Node, TreeText, paginate, parse_snapshot, render_tree

STDTYPES = Path("/usr/share/doc/python3/html/library/stdtypes.html")


def walk(nodes: list[Node]):
    for n in nodes:
        yield n
        yield from walk(n.children)


@pytest.fixture
async def page(chromium):
    context = await chromium.new_context(viewport={"width": 1280, "height": 720})
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def observe(page, scope: str = "viewport", **kw) -> TreeText:
    snap = await page.aria_snapshot(mode="ai", boxes=True)
    geo = Geometry.from_js(await page.evaluate(GEOMETRY_JS))
    return render_tree(parse_snapshot(snap, geometry=geo), geometry=geo, scope=scope, **kw)  # type: ignore[arg-type]


async def assert_refs_resolve(page, tree: TreeText) -> None:
    assert tree.elements
    for ref in tree.elements:
        assert await page.locator(f"aria-ref={ref}").count() == 1, ref


async def test_every_ref_shown_resolves_to_exactly_one_element(page):
    await page.goto((SITE / "forms.html").as_uri())
    tree = await observe(page, "page")
    await assert_refs_resolve(page, tree)
    assert '- textbox "Email" [placeholder="you@example.com"]' in tree.text
    assert '- combobox "Country"' in tree.text and '"United States"]' in tree.text
    for ref, info in tree.all_elements.items():
        if info.role in ("button", "textbox", "checkbox", "radio", "combobox", "searchbox"):
            assert await page.locator(f"aria-ref={ref}").count() == 1


async def test_boxes_are_page_coordinates_even_after_scrolling(page):
    await page.set_content('<div style="height:3000px"></div><button id="b">Far</button><div style="height:3000px"></div>')
    await page.evaluate("window.scrollTo(0, 2800)")
    snap = await page.aria_snapshot(mode="ai", boxes=True)
    geo = Geometry.from_js(await page.evaluate(GEOMETRY_JS))
    nodes = parse_snapshot(snap, geometry=geo)
    far = next(n for n in walk(nodes) if n.name == "Far")
    bb = await page.locator("#b").bounding_box()  # viewport coordinates
    assert far.box is not None and abs(far.box[1] - (bb["y"] + 2800)) <= 1 and abs(far.box[0] - bb["x"]) <= 1


async def test_viewport_scope_follows_scrolling_on_a_tall_page(page):
    sections = "".join(
        f'<section style="height:900px"><h2>Section {i}</h2><p>Body {i}</p><button>Button {i}</button></section>'
        for i in range(1, 9)
    )
    await page.set_content(f"<main>{sections}</main>")
    tree = await observe(page)
    assert "Button 1" in tree.text and "Button 8" not in tree.text
    assert tree.outside is not None and "Section 8" in tree.outside and "below" in tree.outside
    await assert_refs_resolve(page, tree)

    await page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    tree = await observe(page)
    assert "Button 8" in tree.text and "Button 1" not in tree.text
    assert '- heading "Section 8" [level=2]' in tree.text
    assert "above" in (tree.outside or "")
    await assert_refs_resolve(page, tree)


async def test_iframe_and_open_shadow_root_elements_show_with_working_refs(page):
    await page.set_content(
        """<h1>Host</h1>
        <iframe title="Frame"
          srcdoc="<p>In the frame</p><button>Frame button</button><input aria-label='Frame input'>"></iframe>
        <div id="host"></div>
        <script>
          const root = document.getElementById('host').attachShadow({mode: 'open'});
          root.innerHTML = '<button>Shadow button</button><label>Shadow input <input></label>';
        </script>"""
    )
    await page.frame_locator("iframe").locator("button").wait_for()
    tree = await observe(page)
    lines = tree.text.splitlines()
    iframe = next(i for i, ln in enumerate(lines) if ln.startswith("- iframe [ref="))
    assert lines[iframe + 1 : iframe + 4] == [
        "  - paragraph: In the frame",
        f'  - button "Frame button" [ref={_ref_of(tree, "Frame button")}]',
        f'  - textbox "Frame input" [ref={_ref_of(tree, "Frame input")}]',
    ]
    assert _ref_of(tree, "Frame button").startswith("f")
    assert '- button "Shadow button"' in tree.text and '- textbox "Shadow input"' in tree.text
    await assert_refs_resolve(page, tree)
    await page.locator(f"aria-ref={_ref_of(tree, 'Frame input')}").fill("typed in the frame")
    assert await page.frame_locator("iframe").locator("input").input_value() == "typed in the frame"
    await page.locator(f"aria-ref={_ref_of(tree, 'Shadow input')}").fill("typed in the shadow root")
    assert await page.evaluate("document.getElementById('host').shadowRoot.querySelector('input').value") == (
        "typed in the shadow root"
    )


def _ref_of(tree: TreeText, name: str) -> str:
    return next(ref for ref, e in tree.elements.items() if e.name == name)


async def test_repeated_siblings_are_folded_with_the_right_count(page):
    items = "".join(f"<li>Entry number {i}</li>" for i in range(1, 31))
    links = "".join(f'<li><a href="#l{i}">Link {i}</a></li>' for i in range(1, 51))
    await page.set_content(f'<ul aria-label="Entries">{items}</ul><ul aria-label="Links">{links}</ul>')
    tree = await observe(page, "page")
    assert tree.text.count("- listitem: Entry number") == 5
    assert "- … 25 more listitem (browser_extract ref=" in tree.text
    assert tree.text.count('- link "Link ') == 20
    assert '- … 30 more link: "Link 21" … "Link 50"' in tree.text
    await assert_refs_resolve(page, tree)
    fold = next(ln for ln in tree.text.splitlines() if "more listitem" in ln)
    list_ref = fold.split("browser_extract ref=")[1].split(" ")[0]
    assert await page.locator(f"aria-ref={list_ref}").evaluate("el => el.children.length") == 30


async def test_small_pages_render_to_a_few_hundred_characters(page):
    await page.goto((SITE / "login.html").as_uri())
    tree = await observe(page)
    assert len(tree.text) < 600, tree.text
    assert '- textbox "Email"' in tree.text and '- button "Sign in"' in tree.text
    await assert_refs_resolve(page, tree)


@pytest.mark.skipif(not STDTYPES.exists(), reason="python3 docs (stdtypes.html) not installed")
async def test_stdtypes_viewport_is_small_and_page_scope_paginates_exactly(page):
    await page.goto(STDTYPES.as_uri())
    snap = await page.aria_snapshot(mode="ai", boxes=True)
    geo = Geometry.from_js(await page.evaluate(GEOMETRY_JS))
    assert len(snap) > 500_000

    tree = render_tree(parse_snapshot(snap), geometry=geo, scope="viewport")
    assert len(tree.text) < 8000, len(tree.text)
    assert '- heading "Built-in Types" [level=1]' in tree.text
    assert tree.outside is not None and len(tree.outside) <= 320
    await assert_refs_resolve(page, tree)

    full = render_tree(parse_snapshot(snap), geometry=geo, scope="page")
    assert full.outside is None and len(full.text) > 50_000
    assert len(full.text) < len(snap) / 2
    pieces, cursor = [], 0
    while cursor is not None:
        piece, cursor = paginate(full.text, max_chars=20_000, cursor=cursor)
        assert 0 < len(piece) <= 20_000
        pieces.append(piece)
    assert "".join(pieces) == full.text

    await page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight / 2)")
    middle = await observe(page)
    assert len(middle.text) < 8000
    assert "Built-in Types" in middle.text  # the h1 stays as context
    await assert_refs_resolve(page, middle)
