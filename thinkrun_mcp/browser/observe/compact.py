"""The compactor: which nodes of a snapshot are shown, how they are merged, folded and shortened.

:class:`Compactor` turns the parsed :class:`~.snapshot.Node` forest into a tree of
:class:`DisplayNode` (one per line of the observation) and collects an
:class:`ElementInfo` for every element worth targeting; :mod:`.emit` writes the
lines.

Ref rule: refs are shown on every actionable element (buttons, links, form
controls, options, tabs, menu items, tree items …, named ``generic`` widgets such
as ``<summary>``, and anything with a pointer cursor that has a label) and on
structural elements worth targeting with ``browser_extract`` /
``browser_screenshot`` — headings, tables, grids, lists, images, figures,
landmarks/regions, dialogs, tab panels, menus, iframes — but not on plain text,
paragraphs, list items, rows, cells or generic containers (their text is what
matters; extract their parent).

Compaction: unnamed ``generic``/``group``/``none``/``rowgroup`` wrappers are
removed and their children lifted; inline runs (text, code, emphasis, links' text …)
are merged into their block's text, the links of a paragraph listed below it; a
list item, cell or paragraph holding a single element is replaced by it (or takes
its text); a row of text cells becomes ``- row: a | b | c``; text that repeats the
name of the neighbouring control (form labels) and separator-only text ("|", "»")
are dropped. A clickable card (pointer cursor around headings or paragraphs)
keeps its content as children.

Folding: a run of more than ``fold_after + 2`` siblings of the same list-like role
(listitem, row, option, article, link, button, menuitem, tab, treeitem, img …)
shows the first ``fold_after`` and a ``- … N more <role>`` line naming
``browser_extract`` (with the parent's ref) as the way to read them; runs whose items
carry actionable refs fold only after ``4 × fold_after`` items and the fold line
names the first and last hidden labels.

Viewport scope keeps nodes whose box intersects the viewport extended by
``VIEWPORT_MARGIN`` (20 %) of its height above and below (clipped to iframes), their
ancestors, and the section headings just above it (context); boxless or zero-size
nodes follow their parent. Page scope keeps everything (still compacted and folded).

Elements: :attr:`Compactor.elements` holds every actionable element of the snapshot
— also those outside the viewport or folded — plus short text elements that carry a
ref (a ``<span tabindex=0>Hover me</span>``) and landmarks (banner, main, navigation,
contentinfo …), as fallback targets for instructions
(:mod:`~thinkrun_mcp.browser.instruction` ranks them below real controls).
``ElementInfo.name`` is the name shown (derived from the content when the snapshot
has none); a combobox's ``attrs`` carries ``options`` and ``value``; boxes are page
coordinates.

This module is longer than ~500 lines on purpose: the rules above decide together
what one line shows (whether a node is kept, merged into its block, lifted or folded
depends on the others) and share the compactor's state, so they stay in one class;
the role tables and text helpers they use sit beside them, and :mod:`.emit` and
:mod:`.outside` import the helpers from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .snapshot import Geometry, Node

__all__ = [
    "INTERACTIVE_ROLES",
    "REF_ROLES",
    "VIEWPORT_MARGIN",
    "Compactor",
    "DisplayNode",
    "ElementInfo",
    "is_interactive",
]

# -- roles ------------------------------------------------------------------------------

INTERACTIVE_ROLES = frozenset(
    [
        "button",
        "link",
        "textbox",
        "searchbox",
        "combobox",
        "listbox",
        "option",
        "checkbox",
        "radio",
        "switch",
        "slider",
        "spinbutton",
        "tab",
        "menuitem",
        "menuitemcheckbox",
        "menuitemradio",
        "treeitem",
        "scrollbar",
        "gridcell",
        "columnheader_sortable",
    ]
)
# Non-interactive roles that keep their ref in the output.
REF_ROLES = frozenset(
    [
        "heading",
        "table",
        "grid",
        "treegrid",
        "list",
        "img",
        "image",
        "figure",
        "iframe",
        "dialog",
        "alertdialog",
        "tablist",
        "tabpanel",
        "menu",
        "menubar",
        "tree",
        "radiogroup",
        "toolbar",
        "main",
        "navigation",
        "banner",
        "contentinfo",
        "complementary",
        "search",
        "form",
        "region",
        "article",
        "document",
        "application",
        "feed",
        "math",
        "alert",
        "log",
        "status",
        "marquee",
        "timer",
        "progressbar",
        "meter",
    ]
)
_LANDMARKS = frozenset(
    ["banner", "main", "navigation", "contentinfo", "complementary", "search", "form", "region", "dialog", "alertdialog"]
)
_WRAPPERS = frozenset({"generic", "group", "none", "presentation", "rowgroup", "fragment"})
# Roles whose content is inline text; merged into the surrounding block's text.
_INLINE = frozenset(
    [
        "text",
        "code",
        "emphasis",
        "strong",
        "subscript",
        "superscript",
        "mark",
        "deletion",
        "insertion",
        "time",
        "abbr",
        "sup",
        "sub",
    ]
)
# Roles whose children are phrasing content: generic children inside them are inline.
_PHRASING = frozenset(
    [
        "paragraph",
        "heading",
        "caption",
        "term",
        "label",
        "legend",
        "columnheader",
        "rowheader",
        "cell",
        "gridcell",
        "listitem",
        "definition",
        "code",
        "emphasis",
        "strong",
        "subscript",
        "superscript",
        "mark",
        "deletion",
        "insertion",
        "time",
        "blockquote",
        "note",
        "link",
        "button",
        "tab",
        "option",
        "menuitem",
        "menuitemcheckbox",
        "menuitemradio",
        "treeitem",
        "tooltip",
        "status",
        "alert",
    ]
)
# Interactive roles that read as part of a sentence (their label joins the paragraph text).
INLINE_CONTROLS = frozenset({"link", "button"})
_VALUE_ROLES = frozenset({"textbox", "searchbox", "combobox", "spinbutton", "slider"})
_FOLDABLE = frozenset(
    [
        "listitem",
        "row",
        "option",
        "article",
        "link",
        "button",
        "menuitem",
        "menuitemcheckbox",
        "menuitemradio",
        "treeitem",
        "tab",
        "img",
        "figure",
        "cell",
        "gridcell",
        "term",
        "definition",
        "checkbox",
        "radio",
    ]
)
_TAKE_CHILD_TEXT = frozenset({"listitem", "cell", "gridcell", "definition", "term", "blockquote", "note", "text"})
_LIFT_SINGLE = frozenset({"listitem", "cell", "gridcell", "definition", "blockquote", "paragraph"})
_CELLS = frozenset({"cell", "gridcell", "columnheader", "rowheader"})
_NO_SPACE_BEFORE = frozenset(".,;:!?)]}»”’%")
_NO_SPACE_AFTER = frozenset("([{«“‘$#/")
_TEXT_TARGET_MAX = 80
VIEWPORT_MARGIN = 0.2  # share of the viewport height kept above and below it in viewport scope


def is_interactive(node: Node) -> bool:
    """Whether the node is an element a user can act on (it must carry a ref)."""
    if node.ref is None:
        return False
    if node.role in INTERACTIVE_ROLES:
        return True
    if node.role == "generic" and node.name:
        return True  # <summary>, aria-labelled widgets, named contenteditables
    return node.attrs.get("cursor") == "pointer" and bool(node.name or node.text or node.children)


@dataclass(slots=True)
class ElementInfo:
    """An element carrying a ref; ``box`` in page coordinates, ``in_viewport`` = intersects the viewport."""

    ref: str
    role: str
    name: str
    attrs: dict
    text: str
    in_viewport: bool
    box: tuple | None


# -- text -------------------------------------------------------------------------------


def join_runs(parts: list[str]) -> str:
    """Join inline text runs with spaces where a reader expects them ("int." + "bit_count()" stays joined)."""
    out: list[str] = []
    prev = ""
    for p in parts:
        if not p:
            continue
        if out and not (
            p[0] in _NO_SPACE_BEFORE
            or prev[-1:] in _NO_SPACE_AFTER
            or prev[-1:] == " "
            or p[0] == " "
            # code-like tokens: "int." + "bit_count" + "()" → "int.bit_count()"
            or (
                " " not in prev
                and ((prev[-1] == "." and (p[0].islower() or p[0] == "_")) or (p[0] == "(" and prev[-1].isalnum()))
            )
        ):
            out.append(" ")
        out.append(p)
        prev = p
    return "".join(out).strip()


def shorten(s: str, limit: int) -> str:
    """``s`` cut to at most ``limit`` characters, ending in "…" when cut (trailing spaces dropped)."""
    if len(s) <= limit:
        return s
    return s[: max(1, limit - 1)].rstrip() + "…"


def quote(s: str) -> str:
    """``s`` in double quotes, with backslashes and quotes escaped."""
    if '"' in s or "\\" in s:
        s = s.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + s + '"'


def normalized(s: str) -> str:
    """``s`` with white space collapsed and case folded, for comparing labels."""
    return " ".join(s.split()).casefold()


def has_word(s: str) -> bool:
    """Whether ``s`` holds a letter or digit (not only separators such as "|" or "»")."""
    return any(ch.isalnum() for ch in s)


def public_attrs(attrs: dict, options: list[DisplayNode] | None) -> dict:
    """An element's attributes as :class:`ElementInfo` shows them (a list's options and value included)."""
    out = {k: v for k, v in attrs.items() if k not in ("cursor", "_options")}
    if options:
        out["options"] = [o.name for o in options]
        sel = [o.name for o in options if o.attrs.get("selected")]
        if sel:
            out["value"] = sel[0] if len(sel) == 1 else sel
    return out


# -- the display tree -------------------------------------------------------------------


class DisplayNode:
    """A node of the compacted tree: what one line of the observation shows.

    ``source`` is the snapshot node it stands for (``None`` for merged text and fold
    lines); ``label`` is how a parent or a fold line names it (its name, else its
    text); ``visible`` is false for nodes kept only because something inside them is
    in view; ``fold_line`` is set on the "… N more" line that stands for folded siblings.
    ``attrs["_options"]`` holds the options of a closed list, shown on its line.
    """

    __slots__ = ("attrs", "children", "fold_line", "interactive", "label", "name", "ref", "role", "source", "text", "visible")

    def __init__(self, role: str, source: Node | None = None) -> None:
        self.role = role
        self.source = source
        self.name = ""
        self.ref: str | None = None
        self.attrs: dict = {}
        self.text = ""
        self.children: list[DisplayNode] = []
        self.visible = True
        self.interactive = False
        self.label = ""
        self.fold_line: str | None = None


def is_actionable(d: DisplayNode) -> bool:
    """Whether ``d`` or anything inside it can be acted on."""
    if d.interactive:
        return True
    todo = list(d.children)
    while todo:
        k = todo.pop()
        if k.interactive:
            return True
        todo.extend(k.children)
    return False


def _blocky(d: DisplayNode) -> bool:
    """A block of content (heading, paragraph, list …) rather than a label fragment."""
    return not d.interactive and (d.role not in ("text", "generic") or bool(d.children))


def _intersects(box: tuple, rect: tuple | None) -> bool:
    """Whether an ``(x, y, w, h)`` box meets an ``(x0, y0, x1, y1)`` rectangle (``None``: everywhere)."""
    if rect is None:
        return True
    x, y, w, h = box
    return x <= rect[2] and x + w >= rect[0] and y <= rect[3] and y + h >= rect[1]


def _intersection(rect: tuple, box: tuple) -> tuple | None:
    """The part of an ``(x0, y0, x1, y1)`` rectangle inside an ``(x, y, w, h)`` box, or ``None``."""
    x0, y0 = max(rect[0], box[0]), max(rect[1], box[1])
    x1, y1 = min(rect[2], box[0] + box[2]), min(rect[3], box[1] + box[3])
    if x1 < x0 or y1 < y0:
        return None
    return (x0, y0, x1, y1)


class Compactor:
    """Builds the display tree of one observation and keeps the settings that shape it.

    The settings after ``fold_after`` are the steps :func:`~.emit.render_tree` takes,
    one by one, when a dense viewport does not fit its budget.
    """

    def __init__(self, geometry: Geometry | None, scope: str, text_limit: int, fold_after: int) -> None:
        self.geometry = geometry
        # viewport scope with a known, non-empty viewport: keep only what is in or near it
        self.viewport_only = scope == "viewport" and geometry is not None and geometry.width > 0 and geometry.height > 0
        self.text_limit = max(8, int(text_limit))
        self.fold_after = max(1, int(fold_after))
        self.elements: dict[str, ElementInfo] = {}
        self.offscreen: list[ElementInfo] = []  # interactive elements outside the extended viewport
        self.context_headings: set[int] = set()  # ids of the section headings kept above the viewport
        self.show_urls = True
        self.actionable_fold = 4  # runs of actionable items fold after fold_after × actionable_fold
        self.fold_all = False  # fold runs of any role (last resort for a dense viewport)
        self.max_chars: int | None = None  # stop emitting past this size (very last resort)
        self.steps: list[str] = []  # extra compaction applied to fit the budget
        if geometry is not None:
            g = geometry
            margin = VIEWPORT_MARGIN * g.height
            # rectangles (x0, y0, x1, y1) in page coordinates
            self.viewport = (g.scroll_x, g.scroll_y, g.scroll_x + g.width, g.scroll_y + g.height)
            self.extended = (g.scroll_x, g.scroll_y - margin, g.scroll_x + g.width, g.scroll_y + g.height + margin)
        else:
            self.viewport = self.extended = None

    def in_viewport(self, box: tuple | None) -> bool:
        """Whether a box meets the viewport itself (no margin); boxless nodes count as in it."""
        if box is None or self.viewport is None:
            return True
        return _intersects(box, self.viewport)

    def find_context_headings(self, roots: list[Node]) -> None:
        """Remember the chain of section headings above the viewport (the section it is in)."""
        if not self.viewport_only:
            return
        top = self.extended[1]
        chain: dict[int, Node] = {}
        todo = list(reversed(roots))
        while todo:
            n = todo.pop()
            if n.role == "heading":
                b = n.box
                if b is None or (b[2] == 0 and b[3] == 0):
                    continue
                if b[1] + b[3] < top:
                    try:
                        lvl = int(n.attrs.get("level", 2))
                    except (TypeError, ValueError):
                        lvl = 2
                    for k in [k for k in chain if k >= lvl]:
                        del chain[k]
                    chain[lvl] = n
                    continue
                break
            if n.role == "iframe":
                continue
            todo.extend(reversed(n.children))
        self.context_headings = {id(n) for n in chain.values()}

    # -- building the display tree --

    def compact(self, nodes: list[Node]) -> list[DisplayNode]:
        """The display tree's roots for ``nodes``; refills :attr:`elements` and :attr:`offscreen`."""
        self.elements, self.offscreen = {}, []
        self.find_context_headings(nodes)
        items: list = []
        for n in nodes:
            items.extend(self._items(n, True, self.extended, False))
        roots = self._blocks(items)
        return [d for d in roots if d.visible or not self.viewport_only]

    def _items(self, n: Node, parent_visible: bool, clip: tuple | None, phrasing: bool) -> list:
        """Display items for ``n``: strings (inline text runs) and :class:`DisplayNode` nodes."""
        role = n.role
        if role == "text":
            return [n.text] if n.text else []
        b = n.box
        if not self.viewport_only:
            vis = True
        elif b is None or (b[2] == 0 and b[3] == 0):
            vis = parent_visible
        else:
            vis = _intersects(b, clip)
        if id(n) in self.context_headings:
            vis = True
        interactive = is_interactive(n)
        if role in _INLINE and not interactive:
            # inline content: its text joins the surrounding block whatever its own box says
            items: list = [n.text] if n.text else ([n.name] if n.name and not n.children else [])
            for c in n.children:
                items.extend(self._items(c, parent_visible, clip, True))
            return items
        inner_clip = clip
        if role == "iframe" and self.viewport_only and b is not None and clip is not None:
            inner_clip = _intersection(clip, b)
            if inner_clip is None:
                inner_clip = (1, 1, 0, 0)  # empty: nothing inside is visible
        child_phrasing = role in _PHRASING or (phrasing and role in _WRAPPERS)
        items = []
        for c in n.children:
            items.extend(self._items(c, vis, inner_clip, child_phrasing))
        if interactive:
            if role not in INTERACTIVE_ROLES and any(isinstance(it, DisplayNode) and _blocky(it) for it in items):
                return [self._clickable_container(n, items, vis)]
            return [self._control(n, items, vis)]
        return self._container(n, items, vis, phrasing)

    def _record(self, info: ElementInfo, visible: bool) -> None:
        self.elements[info.ref] = info
        if not visible and self.viewport_only:
            self.offscreen.append(info)

    def _clickable_container(self, n: Node, items: list, vis: bool) -> DisplayNode:
        """A clickable block (a card with a pointer cursor): keep its content as children."""
        d = DisplayNode(n.role, n)
        d.ref = n.ref
        d.interactive = True
        d.visible = vis
        kids = self._blocks(items if vis else [it for it in items if isinstance(it, DisplayNode) and it.visible])
        label = n.name or next((k.label for k in kids if k.label), "")
        d.name = n.name if n.name or n.role in REF_ROLES else shorten(label, _TEXT_TARGET_MAX)
        d.label = shorten(label, _TEXT_TARGET_MAX)
        d.children = kids
        info = ElementInfo(
            ref=n.ref or "",
            role=n.role,
            name=d.label,
            attrs=public_attrs(n.attrs, None),
            text="",
            in_viewport=self.in_viewport(n.box),
            box=n.box,
        )
        self._record(info, vis)
        return d

    def _control(self, n: Node, items: list, vis: bool) -> DisplayNode:
        """An interactive element: its name (or the text inside it), value, and the options of a list."""
        d = DisplayNode(n.role, n)
        d.ref = n.ref
        d.interactive = True
        d.visible = vis
        d.name = n.name
        d.attrs = n.attrs
        runs: list[str] = []
        kids: list[DisplayNode] = []
        options: list[DisplayNode] = []
        for it in items:
            if isinstance(it, str):
                runs.append(it)
            elif it.role == "option" and not it.ref:
                options.append(it)
            else:
                if it.label and (it.role in INLINE_CONTROLS or not it.interactive):
                    runs.append(it.label)
                if it.visible and is_actionable(it):
                    kids.append(it)  # a control nested in this one
        inner = join_runs(runs)
        if n.role in _VALUE_ROLES:
            d.text = n.text or ""
            if not d.name and inner and not d.text:
                d.text = inner
        else:
            if not d.name:
                d.name = n.text or inner
            elif n.text and normalized(n.text) != normalized(d.name):
                d.text = n.text
        if options:
            d.attrs = dict(n.attrs)
            d.attrs["_options"] = options
        d.children = kids
        d.label = d.name or d.text
        info = ElementInfo(
            ref=n.ref or "",
            role=n.role,
            name=d.name,
            attrs=public_attrs(n.attrs, options),
            text=d.text,
            in_viewport=self.in_viewport(n.box),
            box=n.box,
        )
        self._record(info, vis)
        return d

    def _container(self, n: Node, items: list, vis: bool, phrasing: bool) -> list:
        """A non-interactive node: merged, lifted, collapsed or kept (see the module docstring)."""
        role = n.role
        if n.ref and role in _LANDMARKS:
            # landmarks are targets for "scroll to the footer"
            self.elements[n.ref] = ElementInfo(
                ref=n.ref, role=role, name=n.name, attrs={}, text="", in_viewport=self.in_viewport(n.box), box=n.box
            )
        elif n.ref and not n.children and role not in _INLINE:
            label = n.name or n.text
            if label and len(label) <= _TEXT_TARGET_MAX:
                # a short text element: a fallback target for instructions ("hover over Hover me")
                self.elements[n.ref] = ElementInfo(
                    ref=n.ref,
                    role=role,
                    name=n.name,
                    attrs=public_attrs(n.attrs, None),
                    text=n.text,
                    in_viewport=self.in_viewport(n.box),
                    box=n.box,
                )
        if not vis:
            kids = [it for it in items if isinstance(it, DisplayNode) and it.visible]
            if not kids:
                return []
            items = kids
        d = DisplayNode(role, n)
        d.name = n.name
        d.attrs = n.attrs
        d.text = n.text
        if role in REF_ROLES:
            d.ref = n.ref
        has_block = False
        has_run = False
        for it in items:
            if isinstance(it, str):
                has_run = True
            elif it.visible and not (it.interactive and it.role in INLINE_CONTROLS):
                has_block = True
        if phrasing and not has_block and role in _WRAPPERS and not n.name and not n.text:
            return items  # an inline span inside a paragraph: let the paragraph merge it
        kids: list[DisplayNode] = []
        if not has_block:
            # inline content: one text, controls listed below
            parts: list[str] = [d.text] if d.text else []
            for it in items:
                if isinstance(it, str):
                    parts.append(it)
                else:
                    if it.label and (it.visible or it.role in INLINE_CONTROLS):
                        parts.append(it.label)
                    if it.visible:
                        kids.append(it)
            if has_run:
                d.text = join_runs(parts)
                if len(kids) == 1 and not has_word(normalized(d.text).replace(normalized(kids[0].label), "", 1)):
                    d.text = ""  # the text is just the control's label (plus separators like "|" or "»")
            if d.text and d.name and normalized(d.text) == normalized(d.name):
                d.text = ""
        else:
            kids = self._blocks(items)
        if kids and d.name:
            # drop children that only repeat this node's name (<th><p>Name</p></th>)
            nm = normalized(d.name)
            kids = [k for k in kids if k.interactive or k.children or k.ref or normalized(k.text or k.name) != nm]
        if not kids and role in INTERACTIVE_ROLES and role != "option":
            return []  # a control without a ref is invisible: nothing to act on
        d.children = kids
        # collapse
        named = bool(d.name)
        if role in _WRAPPERS and not named:
            if not kids:
                if not d.text:
                    return []
                if phrasing:
                    return [d.text]
                d.role = "text"
                d.ref = None
                return [d]
            if not d.text:
                return kids
            d.role = "text"
            d.ref = None
            return [d]
        if role == "row" and kids and all(k.role in _CELLS and not k.children and not k.interactive for k in kids):
            d.text = " | ".join(k.text or k.name for k in kids)
            d.children = []
            return [d]
        if not named and not d.text and len(kids) == 1 and role not in REF_ROLES:
            only = kids[0]
            if (
                role in _TAKE_CHILD_TEXT
                and not only.interactive
                and not only.ref
                and only.role in ("paragraph", "text", "generic", "strong", "emphasis", "code", "note")
            ):
                d.text = only.text
                d.children = only.children
                return [d]
            if role in _LIFT_SINGLE:
                return [only]
        if not kids and not d.text and not named and role not in ("iframe", "separator"):
            return []  # nothing to read or act on (empty status regions, spacer list items …)
        d.label = d.name or d.text
        return [d]

    def _blocks(self, items: list) -> list[DisplayNode]:
        """Children list of a block container: runs become text lines, label echoes dropped."""
        out: list[DisplayNode] = []
        run: list[str] = []

        def flush() -> None:
            if run:
                t = join_runs(run)
                run.clear()
                if has_word(t):
                    td = DisplayNode("text")
                    td.text = t
                    td.label = t
                    out.append(td)

        for it in items:
            if isinstance(it, str):
                run.append(it)
            elif not it.visible:
                if it.label and run and it.role in INLINE_CONTROLS:
                    run.append(it.label)
            else:
                flush()
                out.append(it)
        flush()
        # drop text lines that merely repeat an adjacent control's name (form labels)
        if len(out) > 1:
            keep: list[DisplayNode] = []
            for i, d in enumerate(out):
                if d.role == "text" and not d.children:
                    t = normalized(d.text).rstrip(":*").strip()
                    prev = out[i - 1] if i > 0 else None
                    nxt = out[i + 1] if i + 1 < len(out) else None
                    if any(o is not None and o.interactive and t and normalized(o.name) == t for o in (prev, nxt)):
                        continue
                keep.append(d)
            out = keep
        return out

    # -- folding --

    def fold(self, kids: list[DisplayNode], parent: DisplayNode | None) -> list[DisplayNode]:
        """``kids`` with long runs of same-role siblings replaced by their first few and a fold line."""
        if len(kids) <= self.fold_after + 2:
            return kids
        out: list[DisplayNode] = []
        i = 0
        n = len(kids)
        while i < n:
            role = kids[i].role
            j = i + 1
            while j < n and kids[j].role == role:
                j += 1
            run = kids[i:j]
            limit = self.fold_after
            foldable = role in _FOLDABLE or (self.fold_all and role != "…")
            if foldable and len(run) > limit + 2 and any(is_actionable(k) for k in run):
                limit = self.fold_after * self.actionable_fold
            if foldable and len(run) > limit + 2:
                out.extend(run[:limit])
                rest = run[limit:]
                f = DisplayNode("…")
                f.fold_line = self._fold_line(role, rest, parent)
                out.append(f)
            else:
                out.extend(run)
            i = j
        return out

    def _fold_line(self, role: str, rest: list[DisplayNode], parent: DisplayNode | None) -> str:
        s = f"… {len(rest)} more {role}"
        labels = [shorten(k.label, 40) for k in rest if k.label]
        if labels and any(is_actionable(k) for k in rest):
            s += f': "{labels[0]}" … "{labels[-1]}"' if len(labels) > 1 else f': "{labels[0]}"'
            s += " (act on one by name with an instruction, or"
        else:
            s += " ("
        if parent is not None and parent.ref:
            s += f" browser_extract ref={parent.ref} reads them all)"
        else:
            s += ' browser_extract reads them; browser_observe scope="page" shows more structure)'
        return s.replace("( ", "(")
