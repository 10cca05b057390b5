"""Plain-language instructions resolved to refs without an LLM, on a checkout form in real Chromium."""

from __future__ import annotations

import pytest

from thinkrun_mcp.browser.instruction import resolve
from thinkrun_mcp.browser.observe import GEOMETRY_JS, ElementInfo, Geometry, parse_snapshot, render_tree

CHECKOUT = """
<header><nav aria-label="Main"><a href="/">Home</a> <a href="/cart">Cart</a> <a href="/login">Sign in</a></nav>
<form role="search"><input type="search" aria-label="Search products"><button>Search</button></form></header>
<main>
  <h1>Checkout</h1>
  <form id="checkout">
    <label for="email">Email address</label> <input id="email" type="email" placeholder="you@example.com">
    <label for="name">Full name</label> <input id="name">
    <label for="country">Country</label>
    <select id="country"><option>France</option><option>Japan</option><option>Spain</option></select>
    <label><input type="checkbox" id="gift"> This is a gift</label>
    <label><input type="checkbox" id="news" checked> Send me the newsletter</label>
    <fieldset><legend>Shipping</legend>
      <label><input type="radio" name="ship" value="std" checked> Standard</label>
      <label><input type="radio" name="ship" value="exp"> Express</label></fieldset>
    <textarea id="notes" aria-label="Delivery notes"></textarea>
    <button type="button" id="pay">Place order</button>
  </form>
  <table><tr><td>Blue widget</td><td><button class="del">Delete</button></td></tr>
         <tr><td>Red widget</td><td><button class="del">Delete</button></td></tr></table>
</main>
"""


@pytest.fixture(scope="module")
async def checkout_page(chromium):
    context = await chromium.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = await context.new_page()
        await page.set_content(CHECKOUT)
        yield page
    finally:
        await context.close()


async def elements_of(page) -> list[ElementInfo]:
    snap = await page.aria_snapshot(mode="ai", boxes=True)
    geo = Geometry.from_js(await page.evaluate(GEOMETRY_JS))
    return list(render_tree(parse_snapshot(snap), geometry=geo, scope="page").all_elements.values())


async def element_id(page, ref: str) -> str:
    return await page.locator(f"aria-ref={ref}").evaluate(
        "el => el.id || el.getAttribute('aria-label') || el.className || el.textContent.trim()"
    )


@pytest.mark.parametrize(
    ("instruction", "expected"),
    [
        ("fill Email address with ada@example.com", "email"),
        ("type ada@example.com into the email field", "email"),
        ("enter Ada Lovelace in Full name", "name"),
        ("select Japan in Country", "country"),
        ("choose Spain from the country dropdown", "country"),
        ("select Japan", "country"),
        ("check This is a gift", "gift"),
        ("uncheck the newsletter checkbox", "news"),
        ("type leave it at the door into Delivery notes", "notes"),
        ("click Place order", "pay"),
        ("click the Search button", "Search"),
        ("type widgets in the search box", "Search products"),
    ],
)
async def test_instructions_resolve_to_the_right_element_on_a_checkout_form(checkout_page, instruction, expected):
    elements = await elements_of(checkout_page)
    r = resolve(instruction, elements)
    assert r.ref is not None, (instruction, r.candidates)
    assert await checkout_page.locator(f"aria-ref={r.ref}").count() == 1
    assert await element_id(checkout_page, r.ref) == expected


async def test_resolved_refs_act_on_the_intended_controls(checkout_page):
    elements = await elements_of(checkout_page)
    r = resolve("fill Full name with Ada Lovelace", elements)
    await checkout_page.locator(f"aria-ref={r.ref}").fill(r.value)
    assert await checkout_page.locator("#name").input_value() == "Ada Lovelace"
    r = resolve("select Japan in Country", elements)
    await checkout_page.locator(f"aria-ref={r.ref}").select_option(label=r.value)
    assert await checkout_page.locator("#country").input_value() == "Japan"
    r = resolve("check Express", elements)
    await checkout_page.locator(f"aria-ref={r.ref}").check()
    assert await checkout_page.locator("input[value=exp]").is_checked()


async def test_the_sign_in_link_is_found_by_role_words(checkout_page):
    elements = await elements_of(checkout_page)
    r = resolve("click the Sign in link", elements)
    assert r.ref is not None
    assert await checkout_page.locator(f"aria-ref={r.ref}").get_attribute("href") == "/login"


async def test_two_delete_buttons_are_ambiguous_on_a_real_page(checkout_page):
    elements = await elements_of(checkout_page)
    r = resolve("click Delete", elements)
    assert r.ambiguous and r.ref is None
    assert len(r.candidates) == 2 and {c.role for c in r.candidates} == {"button"}
    rows = [
        await checkout_page.locator(f"aria-ref={c.ref}").evaluate("b => b.closest('tr').cells[0].textContent")
        for c in r.candidates
    ]
    assert rows == ["Blue widget", "Red widget"]
    second = resolve("click the second Delete button", elements)
    assert second.ref == r.candidates[1].ref
