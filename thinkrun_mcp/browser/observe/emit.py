"""Writing the compact tree as the observation text, and the refs it shows.

One node per line, two spaces of indentation per kept level::

    - heading "Built-in Types" [level=1] [ref=e32]
    - paragraph: The following sections describe …
      - link "repr()" [ref=e38] -> functions.html#repr
    - textbox "Email" [placeholder="you@example.com"] [ref=e4]: ada@example.com
    - checkbox "Remember" [checked] [ref=e9]
    - combobox "Country" [ref=e10]: Japan [options: "France", "Japan"]
    - … 35 more listitem (browser_extract ref=e3 reads them all)

Attributes shown: ``level``, ``checked``/``checked=mixed``, ``pressed``, ``selected``,
``expanded``, ``disabled``, ``invalid``, ``placeholder`` (when it differs from the
name) and ``focused`` (the focused control). ``box``, ``cursor=pointer`` and the
page-level ``active`` are dropped. Links show their URL after ``->`` (cut at 100
characters), except in-page ``#anchors``. A link or button without a name takes the
text inside it as its name. Long text is cut at ``text_limit`` characters with "…";
options of a closed select are listed on the combobox line (all when ≤ 10, else the
first five, the last and the count).

:func:`render_tree` runs the whole pipeline (compact, emit, and the
:mod:`.outside` summary). A viewport denser than ``VIEWPORT_BUDGET`` characters is
compacted further, so any page observes in well under 8,000 characters; ``page`` scope
has no budget and no outside summary (``paginate`` bounds its size).

:attr:`TreeText.elements` maps each ref shown in the text (actionable or structural)
to its :class:`~.compact.ElementInfo`; :attr:`TreeText.all_elements` holds every
element the compactor collected (see :mod:`.compact`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .compact import Compactor, DisplayNode, ElementInfo, normalized, public_attrs, quote, shorten
from .outside import summarize_outside
from .snapshot import Geometry, Node, add_page_scroll

__all__ = ["URL_LIMIT", "VIEWPORT_BUDGET", "TreeText", "emit", "render_tree"]

_ATTR_ORDER = ("level", "checked", "pressed", "selected", "expanded", "disabled", "invalid")
VIEWPORT_BUDGET = 6500  # characters; a denser viewport is compacted further (see render_tree)
URL_LIMIT = 100
# The extra compaction steps of a dense viewport, mildest first (see render_tree).
_BUDGET_STEPS = ("urls", "text", "fold", "strict", "fold_all", "cut")


@dataclass(slots=True)
class TreeText:
    """A rendered tree: ``text`` (no header, no budget cut), the refs it shows, every actionable
    element of the snapshot (plus short text targets), and the outside-the-viewport summary."""

    text: str
    elements: dict[str, ElementInfo]
    all_elements: dict[str, ElementInfo]
    outside: str | None


def emit(compactor: Compactor, roots: list[DisplayNode]) -> tuple[str, dict[str, ElementInfo]]:
    """The observation lines for ``roots`` (folded as the compactor says) and the refs they show.

    Stops with a pointer to the rest once the text passes ``compactor.max_chars``.
    """
    lines: list[str] = []
    shown: dict[str, ElementInfo] = {}
    limit = compactor.text_limit
    stack: list[tuple[DisplayNode, int]] = [(d, 0) for d in reversed(compactor.fold(roots, None))]
    size = 0
    cap = compactor.max_chars
    while stack:
        if cap is not None and size > cap:
            rest = len(stack)
            lines.append(
                f"- … the viewport holds more ({rest} more items not listed): scroll in smaller steps, or"
                ' browser_observe scope="page" and page through it with the cursor'
            )
            break
        d, depth = stack.pop()
        pad = "  " * depth
        if d.fold_line is not None:
            line = pad + "- " + d.fold_line
            size += len(line) + 1
            lines.append(line)
            continue
        parts = [pad, "- ", d.role]
        if d.name:
            parts.append(" ")
            parts.append(quote(shorten(d.name, limit)))
        a = d.attrs
        opts = None
        if a:
            for k in _ATTR_ORDER:
                v = a.get(k)
                if v is True:
                    parts.append(f" [{k}]")
                elif v:
                    parts.append(f" [{k}={v}]")
            if d.interactive and a.get("active") is True:
                parts.append(" [focused]")
            ph = a.get("placeholder")
            if ph and isinstance(ph, str) and normalized(ph) != normalized(d.name):
                parts.append(" [placeholder=" + quote(shorten(ph, 60)) + "]")
            opts = a.get("_options")
        if d.ref:
            parts.append(f" [ref={d.ref}]")
            info = _shown_element(compactor, d)
            if info is not None:
                shown[d.ref] = info
        if a:
            url = a.get("url")
            if url and isinstance(url, str) and d.role == "link" and url[0] != "#" and compactor.show_urls:
                parts.append(" -> " + shorten(url.replace("\n", " "), URL_LIMIT))
        text = d.text
        if opts:
            parts.append(": " + _with_options(text, opts, limit))
        elif text:
            parts.append(": " + shorten(text.replace("\n", " "), limit))
        line = "".join(parts)
        size += len(line) + 1
        lines.append(line)
        if d.children:
            kids = compactor.fold(d.children, d)
            for k in reversed(kids):
                stack.append((k, depth + 1))
    return "\n".join(lines), shown


def _shown_element(compactor: Compactor, d: DisplayNode) -> ElementInfo | None:
    """The element behind a line with a ref: the compactor's record, or a new one for a structural node."""
    source = d.source
    if source is None or d.ref is None:
        return None
    if d.interactive:
        return compactor.elements.get(d.ref)
    return ElementInfo(
        ref=d.ref,
        role=d.role,
        name=d.name,
        attrs=public_attrs(source.attrs, None),
        text=d.text,
        in_viewport=compactor.in_viewport(source.box),
        box=source.box,
    )


def _with_options(text: str, options: list[DisplayNode], limit: int) -> str:
    """A closed list's value (its selected options when it has no text) and its options."""
    sel = [o.name for o in options if o.attrs.get("selected")]
    if not text and sel:
        text = ", ".join(sel)
    names = [quote(shorten(o.name, 40)) for o in options]
    if len(names) <= 10:
        listed = "[options: " + ", ".join(names) + "]"
    else:
        listed = f"[{len(names)} options: " + ", ".join(names[:5]) + ", … " + names[-1] + "]"
    return (shorten(text.replace("\n", " "), limit) + " " if text else "") + listed


def render_tree(
    nodes: list[Node],
    *,
    geometry: Geometry | None,
    scope: Literal["viewport", "page"] = "viewport",
    text_limit: int = 160,
    fold_after: int = 5,
    budget: int | None = VIEWPORT_BUDGET,
) -> TreeText:
    """Render parsed nodes as the compact observation text (see the package docstring).

    In viewport scope, when the text exceeds ``budget`` characters the rendering is
    compacted in steps until it fits: link URLs are left out, text is cut at 80
    characters, actionable runs fold after ``2 × fold_after``, only the viewport
    itself (no margin) is kept, runs of any role fold after ``fold_after``, and as a
    last resort the listing stops at the budget with a line saying how to see the
    rest. ``outside`` says when URLs were left out.

    Args:
        nodes: What :func:`~.snapshot.parse_snapshot` returned; boxes of a snapshot
            parsed without geometry are converted here, once.
        geometry: The viewport; ``None`` keeps everything, as in page scope.
        scope: ``"viewport"`` (what is in or near it, plus the outside summary) or ``"page"``.
        text_limit: Longest text or name shown on a line, in characters.
        fold_after: Siblings shown before a run of the same role is folded.
        budget: Characters a viewport observation may take; ``None`` for no limit.

    Returns:
        The text, the elements it shows, every element collected, and the outside summary.
    """
    if geometry is not None:
        add_page_scroll(nodes, geometry)
    compactor = Compactor(geometry, scope, text_limit, fold_after)
    roots = compactor.compact(nodes)
    text, shown = emit(compactor, roots)
    if compactor.viewport_only and budget and len(text) > budget:
        # A dense viewport: compact step by step until it fits (or nothing is left to try).
        for step in _BUDGET_STEPS:
            if step == "urls":
                compactor.show_urls = False
            elif step == "text":
                compactor.text_limit = min(compactor.text_limit, 80)
            elif step == "fold":
                compactor.actionable_fold = 2
            elif step == "strict":
                compactor.extended = compactor.viewport  # no margin around the viewport
                roots = compactor.compact(nodes)
            elif step == "fold_all":
                compactor.fold_all = True
            else:
                compactor.max_chars = budget - 200
            compactor.steps.append(step)
            text, shown = emit(compactor, roots)
            if len(text) <= budget:
                break
    return TreeText(text=text, elements=shown, all_elements=compactor.elements, outside=summarize_outside(compactor, nodes))
