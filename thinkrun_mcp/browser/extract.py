"""Reading content out of a page: text, Markdown, HTML, links, tables."""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

from markdownify import markdownify
from playwright.async_api import Locator, Page

__all__ = ["ExtractFormat", "html_to_markdown", "read_content"]

ExtractFormat = Literal["text", "markdown", "html", "links", "table"]

# Scope element: the located element, or the document body.
_CLEAN_HTML_JS = """(el) => {
  const root = el || document.body || document.documentElement;
  if (!root) return '';
  const copy = root.cloneNode(true);
  copy.querySelectorAll('script,style,noscript,template,svg,canvas,iframe,link,meta').forEach(n => n.remove());
  return copy.outerHTML;
}"""

_TEXT_JS = """(el) => {
  const root = el || document.body || document.documentElement;
  return root ? (root.innerText ?? root.textContent ?? '') : '';
}"""

_LINKS_JS = """(el) => {
  const root = el || document;
  const anchors = root.matches && root.matches('a[href]') ? [root] : Array.from(root.querySelectorAll('a[href]'));
  const seen = new Set(); const out = [];
  for (const a of anchors) {
    const href = a.href; if (!href || href.startsWith('javascript:')) continue;
    const text = (a.innerText || a.getAttribute('aria-label') || a.title || '').replace(/\\s+/g, ' ').trim();
    const key = text + '\\u0000' + href; if (seen.has(key)) continue; seen.add(key);
    out.push({text, href});
  }
  return out;
}"""

_TABLES_JS = """(el) => {
  const root = el || document;
  const tables = root.matches && root.matches('table') ? [root] : Array.from(root.querySelectorAll('table'));
  const clean = s => (s || '').replace(/\\s+/g, ' ').trim();
  return tables.map(t => {
    const rows = Array.from(t.rows).map(r => Array.from(r.cells).map(c => clean(c.innerText)));
    let headers = [];
    if (t.tHead && t.tHead.rows.length) { headers = rows.shift(); }
    else if (t.rows.length && Array.from(t.rows[0].cells).every(c => c.tagName === 'TH')) { headers = rows.shift(); }
    return {caption: clean(t.caption && t.caption.innerText), headers, rows};
  });
}"""

_BLANK_RUNS = re.compile(r"\n{3,}")


def html_to_markdown(html: str) -> str:
    """Markdown of an HTML fragment (markdownify), with runs of blank lines squeezed."""
    md = markdownify(html, heading_style="ATX", bullets="-", strip=["img"] if len(html) > 2_000_000 else None)
    return _BLANK_RUNS.sub("\n\n", md).strip()


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def tables_to_markdown(tables: list[dict[str, Any]]) -> str:
    parts = []
    for i, t in enumerate(tables, 1):
        width = max([len(t["headers"])] + [len(r) for r in t["rows"]] or [0])
        if width == 0:
            continue
        headers = t["headers"] or [f"col{j + 1}" for j in range(width)]
        headers = headers + [""] * (width - len(headers))
        lines = [f"Table {i}" + (f": {t['caption']}" if t["caption"] else "") + f" ({len(t['rows'])} rows)"]
        lines.append("| " + " | ".join(_md_cell(h) for h in headers) + " |")
        lines.append("|" + "---|" * width)
        for row in t["rows"]:
            row = row + [""] * (width - len(row))
            lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


async def read_content(page: Page, target: Locator | None, fmt: ExtractFormat) -> tuple[str, Any]:
    """The whole content in one format (the caller slices it), plus structured data for links/table."""

    async def run(js: str) -> Any:
        if target is not None:
            return await target.evaluate(js)
        return await page.evaluate(f"() => ({js})(null)")

    if fmt == "text":
        return (await run(_TEXT_JS)).strip(), None
    if fmt == "html":
        if target is not None:
            return await target.evaluate("el => el.outerHTML"), None
        return await page.content(), None
    if fmt == "markdown":
        html = await run(_CLEAN_HTML_JS)
        if len(html) > 100_000:
            return await asyncio.to_thread(html_to_markdown, html), None
        return html_to_markdown(html), None
    if fmt == "links":
        links = await run(_LINKS_JS)
        return "\n".join(f"- [{link['text'] or '(no text)'}]({link['href']})" for link in links), links
    tables = await run(_TABLES_JS)
    return tables_to_markdown(tables) or "(no tables)", tables
