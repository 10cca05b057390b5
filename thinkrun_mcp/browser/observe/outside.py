"""The one-line summary of what lies outside the viewport (viewport scope only).

It counts the interactive elements left out (above, below, beside or hidden, by
role), names the next headings below, counts the headings above (not the section
headings kept as context) and gives the page height, in ≤ ~300 characters::

    Outside the viewport (showing y 0–720 of 5,400 px): 37 more elements (37 below: 30 links, 7 buttons);
    4 headings below: "Pricing", "FAQ", "Team", "Contact" — scroll, or browser_observe scope="page".
"""

from __future__ import annotations

from .compact import Compactor, join_runs, quote, shorten
from .snapshot import Node

__all__ = ["summarize_outside"]

_MAX_CHARS = 300


def summarize_outside(compactor: Compactor, roots: list[Node]) -> str | None:
    """The summary line for the last compaction of ``roots``, or ``None`` when nothing lies outside.

    Args:
        compactor: The compactor that built the observation (its kept area and offscreen elements).
        roots: The snapshot's nodes, boxes in page coordinates.

    Returns:
        The line, or ``None`` in page scope or when the whole page is in view.
    """
    if not compactor.viewport_only:
        return None
    g = compactor.geometry
    top, bottom = compactor.extended[1], compactor.extended[3]
    above = below = other = 0
    counts: dict[str, int] = {}
    for e in compactor.offscreen:
        b = e.box
        if b is not None and b[1] + b[3] < top:
            above += 1
        elif b is not None and b[1] > bottom:
            below += 1
        else:
            other += 1
        kind = "clickable" if e.role == "generic" else e.role
        counts[kind] = counts.get(kind, 0) + 1
    heads_below, n_heads_above = _headings_outside(roots, top, bottom, compactor.context_headings)
    page_h = g.page_height
    more_below = page_h and g.scroll_y + g.height < page_h - 1
    if not compactor.offscreen and not heads_below and not n_heads_above and not more_below and g.scroll_y <= 0:
        return None
    y0, y1 = int(g.scroll_y), int(g.scroll_y + g.height)
    head = f"Outside the viewport (showing y {y0:,}–{y1:,}" + (f" of {int(page_h):,} px" if page_h else " px") + ")"
    bits: list[str] = []
    if compactor.offscreen:
        where = []
        if above:
            where.append(f"{above} above")
        if below:
            where.append(f"{below} below")
        if other:
            where.append(f"{other} beside/hidden")
        kinds = ", ".join(f"{c} {_plural(r, c)}" for r, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:4])
        bits.append(f"{len(compactor.offscreen)} more elements ({', '.join(where)}: {kinds})")
    elif not heads_below and not n_heads_above:
        bits.append("more content " + ("below" if more_below else "above"))
    tail = ' — scroll, or browser_observe scope="page".'
    if not compactor.show_urls:
        tail = ' — scroll, or browser_observe scope="page" (link URLs omitted here).'
    s = head + ": " + "; ".join(bits)
    if heads_below:
        budget = _MAX_CHARS - len(s) - len(tail) - 30
        shown_h: list[str] = []
        used = 0
        for h in heads_below:
            q = quote(shorten(h, 40))
            if used + len(q) + 2 > budget and shown_h:
                break
            shown_h.append(q)
            used += len(q) + 2
        extra = len(heads_below) - len(shown_h)
        s += ("; " if bits else "") + f"{len(heads_below)} {_plural('heading', len(heads_below))} below: "
        s += ", ".join(shown_h)
        if extra:
            s += f", … (+{extra})"
    elif n_heads_above:
        s += ("; " if bits else "") + f"{n_heads_above} {_plural('heading', n_heads_above)} above"
    return s + tail


def _headings_outside(roots: list[Node], top: float, bottom: float, context: set[int]) -> tuple[list[str], int]:
    """The texts of the headings below ``bottom`` and the number above ``top`` (context headings not counted)."""
    heads_below: list[str] = []
    n_heads_above = 0
    todo = list(reversed(roots))
    while todo:
        n = todo.pop()
        if n.role == "heading" and n.box is not None and (n.box[2] or n.box[3]):
            if n.box[1] > bottom:
                heads_below.append(n.name or n.text or _flat_text(n))
            elif n.box[1] + n.box[3] < top and id(n) not in context:
                n_heads_above += 1
            continue
        todo.extend(reversed(n.children))
    return heads_below, n_heads_above


def _plural(role: str, count: int) -> str:
    if count == 1:
        return role
    if role.endswith("x") or role.endswith("ch"):
        return role + "es"
    return role + "s"


def _flat_text(n: Node) -> str:
    """The text inside a node without a name of its own (a heading made of links and spans)."""
    parts: list[str] = []
    todo = [n]
    while todo:
        k = todo.pop()
        if k is not n and k.name and not k.children:
            parts.append(k.name)
        elif k.text:
            parts.append(k.text)
        todo.extend(reversed(k.children))
    return join_runs(parts)
