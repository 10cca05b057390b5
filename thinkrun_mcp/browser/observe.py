"""Turn Playwright's AI snapshot into a compact observation a model can act on.

Input
-----
``page.aria_snapshot(mode="ai", boxes=True)`` returns one YAML-ish line per node::

    - <key>[: <value>]          key = role ["<json name>"] [attr] [attr=value] … [ref=eN] [cursor=pointer] [box=x,y,w,h]
    - text: <value>             a run of text
    - /url: <value>             a property of the parent (also /placeholder)

* The whole key is single-quoted when YAML needs it (it contains ``": "``, ``" #"``,
  braces, backticks …); inside, ``'`` is doubled. The name inside the key is
  ``JSON.stringify``-ed (``\\"``, ``\\\\``, ``\\uXXXX``) and omitted when longer than 900
  characters.
* Values are plain, or double-quoted with YAML escapes (``\\" \\\\ \\n \\t \\xHH`` …) when
  they start with ``-``, look like numbers/booleans, contain ``": "`` / ``" #"`` etc.
* Attributes, in the driver's order: ``checked`` / ``checked=mixed``, ``disabled``,
  ``expanded``, ``active``, ``invalid[=grammar|spelling]``, ``level=N``, ``pressed`` /
  ``pressed=mixed``, ``selected``, ``aria-hidden``, ``ref=…``, ``cursor=pointer`` (only on
  the outermost clickable element), ``box=x,y,w,h``.
* A node has either an inline value (``paragraph: text``, ``textbox "Name": value``)
  or children; a node with props (``/url``) puts its text into a ``- text:`` child.
* Refs are given to every *visible* node that receives pointer events (``e12``);
  nodes inside iframes use the frame's prefix (``f1e3``; a nested frame is ``f2e…``,
  not ``f1f2e…``). Hidden nodes (options of a closed ``<select>``, zero-size
  elements) have no ref and a ``0,0,0,0`` box.

Coordinates (measured on Chromium): boxes are ``getBoundingClientRect()`` values, i.e.
**viewport** coordinates of the node's own frame, rounded. Scrolling the page by
5000 px shifts every main-frame box by −5000; ``position:fixed`` elements keep
their viewport box. Inside an iframe, boxes are relative to that frame's viewport
(they move with the frame's own scroll) and the iframe's border is not included
(the iframe's box is its border box). :func:`parse_snapshot` converts boxes to
**page** coordinates: frame children get the iframe's origin added (the border
width, usually 0–2 px, is ignored) and, given the geometry, the page scroll is
added. Nodes parsed without geometry (viewport-relative boxes) are converted by
:func:`render_tree` when it receives the geometry.

Output (what the model sees)
----------------------------
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
text inside it as its name.

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
are dropped; long text is cut at ``text_limit`` characters with "…"; options of a
closed select are listed on the combobox line (all when ≤ 10, else the first five,
the last and the count). A clickable card (pointer cursor around headings or
paragraphs) keeps its content as children.

Folding: a run of more than ``fold_after + 2`` siblings of the same list-like role
(listitem, row, option, article, link, button, menuitem, tab, treeitem, img …)
shows the first ``fold_after`` and a ``- … N more <role>`` line naming
``browser_extract`` (with the parent's ref) as the way to read them; runs whose items
carry actionable refs fold only after ``4 × fold_after`` items and the fold line
names the first and last hidden labels.

Scopes: ``viewport`` keeps nodes whose box intersects the viewport extended by
``VIEWPORT_MARGIN`` (20 %) of its height above and below (clipped to iframes), their
ancestors, and the section headings just above it (context); boxless or zero-size
nodes follow their parent. ``outside`` then summarises what lies beyond (element
counts above/below by role, the next headings, the page height) in ≤ ~300
characters. A viewport denser than ``VIEWPORT_BUDGET`` characters is compacted
further (see :func:`render_tree`), so any page observes in well under 8,000
characters. ``page`` keeps everything (still compacted and folded) and has no
``outside``; :func:`paginate` bounds its size.

Elements: :attr:`TreeText.elements` maps each ref shown in the text (actionable or
structural) to its :class:`ElementInfo`; :attr:`TreeText.all_elements` holds every
actionable element of the snapshot — also those outside the viewport or folded — plus
short text elements that carry a ref (a ``<span tabindex=0>Hover me</span>``) and
landmarks (banner, main, navigation, contentinfo …), as fallback targets for
instructions (:mod:`~thinkrun_mcp.browser.instruction` ranks
them below real controls). ``ElementInfo.name`` is the name shown (derived from the
content when the snapshot has none); a combobox's ``attrs`` carries ``options`` and
``value``; boxes are page coordinates.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal

from ..text import paginate

__all__ = [
    "Node",
    "Snapshot",
    "parse_snapshot",
    "Geometry",
    "GEOMETRY_JS",
    "ElementInfo",
    "TreeText",
    "render_tree",
    "paginate",
    "INTERACTIVE_ROLES",
    "REF_ROLES",
    "is_interactive",
]


# -- model ------------------------------------------------------------------------------


@dataclass(slots=True)
class Node:
    role: str
    name: str = ""
    ref: str | None = None
    attrs: dict[str, str | bool] = field(default_factory=dict)
    text: str = ""
    box: tuple[float, float, float, float] | None = None
    children: list["Node"] = field(default_factory=list)
    frame: str | None = None


class Snapshot(list):
    """The roots returned by :func:`parse_snapshot` (a plain ``list`` of :class:`Node`).

    ``scroll`` is the page scroll already added to the boxes, or ``None`` when the
    snapshot was parsed without geometry (boxes still viewport-relative; frame offsets
    are always applied). :func:`render_tree` completes the conversion.
    """

    scroll: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class Geometry:
    """The viewport in page coordinates."""

    scroll_x: float
    scroll_y: float
    width: float
    height: float
    page_width: float = 0
    page_height: float = 0

    @classmethod
    def from_js(cls, d: dict) -> "Geometry":
        """Build from the dict :data:`GEOMETRY_JS` returns (missing keys get defaults)."""

        def num(key: str, default: float) -> float:
            v = d.get(key, default) if isinstance(d, dict) else default
            return float(v) if isinstance(v, int | float) else default

        return cls(
            scroll_x=num("scrollX", 0), scroll_y=num("scrollY", 0),
            width=num("innerWidth", 1280), height=num("innerHeight", 720),
            page_width=num("scrollWidth", 0), page_height=num("scrollHeight", 0),
        )  # fmt: skip


GEOMETRY_JS = """() => {
  const d = document.documentElement, b = document.body;
  return {
    scrollX: window.scrollX, scrollY: window.scrollY,
    innerWidth: window.innerWidth, innerHeight: window.innerHeight,
    scrollWidth: Math.max(d ? d.scrollWidth : 0, b ? b.scrollWidth : 0),
    scrollHeight: Math.max(d ? d.scrollHeight : 0, b ? b.scrollHeight : 0),
  };
}"""


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


@dataclass(slots=True)
class TreeText:
    """A rendered tree: ``text`` (no header, no budget cut), the refs it shows, every actionable
    element of the snapshot (plus short text targets), and the outside-the-viewport summary."""

    text: str
    elements: dict[str, ElementInfo]
    all_elements: dict[str, ElementInfo]
    outside: str | None


# -- roles ------------------------------------------------------------------------------

INTERACTIVE_ROLES = frozenset(
    """button link textbox searchbox combobox listbox option checkbox radio switch slider spinbutton
    tab menuitem menuitemcheckbox menuitemradio treeitem scrollbar gridcell columnheader_sortable""".split()
)
# Non-interactive roles that keep their ref in the output.
REF_ROLES = frozenset(
    """heading table grid treegrid list img image figure iframe dialog alertdialog tablist tabpanel menu menubar
    tree radiogroup toolbar main navigation banner contentinfo complementary search form region article
    document application feed math alert log status marquee timer progressbar meter""".split()
)
_LANDMARKS = frozenset(
    "banner main navigation contentinfo complementary search form region dialog alertdialog".split()
)
_WRAPPERS = frozenset({"generic", "group", "none", "presentation", "rowgroup", "fragment"})
# Roles whose content is inline text; merged into the surrounding block's text.
_INLINE = frozenset(
    """text code emphasis strong subscript superscript mark deletion insertion time abbr sup sub""".split()
)
# Roles whose children are phrasing content: generic children inside them are inline.
_PHRASING = frozenset(
    """paragraph heading caption term label legend columnheader rowheader cell gridcell listitem definition
    code emphasis strong subscript superscript mark deletion insertion time blockquote note
    link button tab option menuitem menuitemcheckbox menuitemradio treeitem tooltip status alert""".split()
)
# Interactive roles that read as part of a sentence (their label joins the paragraph text).
_INLINE_CONTROLS = frozenset({"link", "button"})
_VALUE_ROLES = frozenset({"textbox", "searchbox", "combobox", "spinbutton", "slider"})
_FOLDABLE = frozenset(
    """listitem row option article link button menuitem menuitemcheckbox menuitemradio treeitem tab img
    figure cell gridcell term definition checkbox radio""".split()
)
_TAKE_CHILD_TEXT = frozenset({"listitem", "cell", "gridcell", "definition", "term", "blockquote", "note", "text"})
_LIFT_SINGLE = frozenset({"listitem", "cell", "gridcell", "definition", "blockquote", "paragraph"})
_CELLS = frozenset({"cell", "gridcell", "columnheader", "rowheader"})
_ATTR_ORDER = ("level", "checked", "pressed", "selected", "expanded", "disabled", "invalid")
_NO_SPACE_BEFORE = frozenset(".,;:!?)]}»”’%")
_NO_SPACE_AFTER = frozenset("([{«“‘$#/")
_MAX_DEPTH = 120
_TEXT_TARGET_MAX = 80
VIEWPORT_MARGIN = 0.2  # share of the viewport height kept above and below it in viewport scope
VIEWPORT_BUDGET = 6500  # characters; a denser viewport is compacted further (see render_tree)
URL_LIMIT = 100


def is_interactive(node: Node) -> bool:
    """Whether the node is an element a user can act on (it must carry a ref)."""
    if node.ref is None:
        return False
    if node.role in INTERACTIVE_ROLES:
        return True
    if node.role == "generic" and node.name:
        return True  # <summary>, aria-labelled widgets, named contenteditables
    return node.attrs.get("cursor") == "pointer" and bool(node.name or node.text or node.children)


# -- parsing ----------------------------------------------------------------------------

_YAML_ESC = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.S)
_SIMPLE_ESC = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0", '"': '"', "\\": "\\", "/": "/",
               "e": "\x1b", "a": "\a", "v": "\v", " ": " ", "_": "\xa0", "N": "\x85"}  # fmt: skip


def _unescape_match(m: re.Match) -> str:
    s = m.group(1)
    if len(s) > 1:
        try:
            return chr(int(s[1:], 16))
        except ValueError:
            return s
    return _SIMPLE_ESC.get(s, s)


def _value(v: str) -> str:
    """Decode a YAML scalar as Playwright writes it (plain, "double" or 'single' quoted)."""
    if not v:
        return ""
    c = v[0]
    if c == '"' and len(v) >= 2 and v[-1] == '"':
        inner = v[1:-1]
        return _YAML_ESC.sub(_unescape_match, inner) if "\\" in inner else inner
    if c == "'" and len(v) >= 2 and v[-1] == "'":
        return v[1:-1].replace("''", "'")
    return v


def _json_name(s: str, start: int) -> tuple[str, int]:
    """Read the JSON string starting at s[start] == '"'; returns (name, index after it)."""
    i = start + 1
    n = len(s)
    escaped = False
    while i < n:
        j = s.find('"', i)
        if j < 0:
            return s[start + 1 :], n
        # count backslashes before the quote
        k = j - 1
        while k > start and s[k] == "\\":
            k -= 1
        if (j - 1 - k) % 2 == 0:
            raw = s[start + 1 : j]
            if escaped or "\\" in raw:
                try:
                    return json.loads(s[start : j + 1]), j + 1
                except ValueError:
                    return _YAML_ESC.sub(_unescape_match, raw), j + 1
            return raw, j + 1
        escaped = True
        i = j + 1
    return s[start + 1 :], n


def _split_key_value(s: str) -> tuple[str, str | None, bool]:
    """Split a line body (after "- ") into (key, value, has_colon)."""
    if s[:1] == "'":
        # single-quoted key: find the closing quote (not a doubled one)
        i = 1
        n = len(s)
        while True:
            j = s.find("'", i)
            if j < 0:
                return s[1:].replace("''", "'"), None, False
            if j + 1 < n and s[j + 1] == "'":
                i = j + 2
                continue
            key = s[1:j].replace("''", "'")
            rest = s[j + 1 :]
            if rest.startswith(":"):
                v = rest[1:].strip()
                return key, (v if v else None), True
            return key, None, False
    # unquoted key; the name inside is JSON and may contain ": " only when the key is quoted,
    # but be safe: skip over a quoted name first.
    q = s.find('"')
    sep = s.find(": ")
    if 0 <= q < sep:
        _, after = _json_name(s, q)
        sep = s.find(": ", after)
    if sep >= 0:
        return s[:sep], s[sep + 2 :].strip(), True
    if s.endswith(":"):
        return s[:-1], None, True
    return s, None, False


def _parse_key(key: str, node: Node) -> None:
    sp = key.find(" ")
    if sp < 0:
        node.role = key or "generic"
        return
    node.role = key[:sp] or "generic"
    i = sp + 1
    if key[i] == '"':
        node.name, i = _json_name(key, i)
    elif key[i] == "/":  # a regex name (non-AI modes)
        j = key.find(" [", i)
        j = len(key) if j < 0 else j
        node.name = key[i:j]
        i = j
    rest = key[i:].strip()
    if not rest or rest[0] != "[":
        return
    attrs = node.attrs
    for item in (rest[1:-1] if rest[-1] == "]" else rest[1:]).split("] ["):
        eq = item.find("=")
        if eq < 0:
            if item:
                attrs[item] = True
            continue
        k = item[:eq]
        if k == "ref":
            node.ref = item[4:]
        elif k == "box":
            parts = item[4:].split(",")
            if len(parts) == 4:
                try:
                    node.box = (float(parts[0]), float(parts[1]), float(parts[2]), float(parts[3]))
                except ValueError:
                    pass
        else:
            attrs[k] = item[eq + 1 :]


def parse_snapshot(text: str, *, geometry: Geometry | None = None) -> list[Node]:
    """Parse an AI snapshot into a forest of :class:`Node`. Never raises on odd input.

    Boxes get the enclosing iframes' origins added; with ``geometry`` the page scroll
    is added too, so boxes are page coordinates (see :class:`Snapshot`).
    """
    roots: Snapshot = Snapshot()
    if not isinstance(text, str) or not text:
        roots.scroll = (geometry.scroll_x, geometry.scroll_y) if geometry else None
        return roots
    # stack of (indent, node); a virtual root at indent -1
    virtual = Node(role="fragment")
    stack: list[tuple[int, Node]] = [(-1, virtual)]
    for line in text.split("\n"):
        body = line.lstrip(" ")
        if body[:2] == "- ":
            indent = len(line) - len(body)
            body = body[2:]
        elif not body.strip() or body == "-":
            continue
        else:
            # a stray continuation line: append it to the last node's text
            last = stack[-1][1]
            if last is not virtual:
                last.text = (last.text + " " + body.strip()).strip()
            continue
        while stack[-1][0] >= indent and len(stack) > 1:
            stack.pop()
        if len(stack) > _MAX_DEPTH:
            del stack[_MAX_DEPTH:]  # too deep: attach at the depth limit (keeps the tree walk bounded)
        parent = stack[-1][1]
        if body[:1] == "/":
            # a property of the parent: "/url: x", "/placeholder: y"
            colon = body.find(":")
            if colon > 1 and parent is not virtual:
                parent.attrs[body[1:colon]] = _value(body[colon + 1 :].strip())
            continue
        key, value, _ = _split_key_value(body)
        if key == "text":
            node = Node(role="text", text=_value(value) if value is not None else "")
            if node.text:
                parent.children.append(node)
            continue
        node = Node(role="generic")
        try:
            _parse_key(key, node)
        except Exception:  # pragma: no cover - defensive
            node.role = key.split(" ", 1)[0] or "generic"
        if value is not None:
            node.text = _value(value)
        parent.children.append(node)
        stack.append((indent, node))
    roots.extend(virtual.children)
    _place(roots, 0.0, 0.0, None)  # main-frame refs may carry an "fN" prefix too (after navigations)
    if geometry is not None:
        if geometry.scroll_x or geometry.scroll_y:
            _shift(roots, geometry.scroll_x, geometry.scroll_y)
        roots.scroll = (geometry.scroll_x, geometry.scroll_y)
    return roots


def _frame_of(ref: str | None) -> str | None:
    if ref and ref[0] == "f":
        e = ref.find("e")
        if e > 1:
            return ref[:e]
    return None


def _place(nodes: list[Node], ox: float, oy: float, frame: str | None) -> None:
    """Apply iframe origins to boxes and set ``frame`` (iteratively, any depth)."""
    work: list[tuple[list[Node], float, float, str | None]] = [(nodes, ox, oy, frame)]
    while work:
        items, dx, dy, fr = work.pop()
        for n in items:
            b = n.box
            if b is not None and (dx or dy):
                n.box = b = (b[0] + dx, b[1] + dy, b[2], b[3])
            n.frame = fr
            if not n.children:
                continue
            if n.role == "iframe":
                inner = _first_frame_prefix(n.children)
                if b is not None:
                    work.append((n.children, b[0], b[1], inner))
                else:
                    work.append((n.children, dx, dy, inner))
            else:
                work.append((n.children, dx, dy, fr))


def _first_frame_prefix(nodes: list[Node]) -> str | None:
    todo = list(reversed(nodes))
    while todo:
        n = todo.pop()
        fr = _frame_of(n.ref)
        if fr is not None:
            return fr
        if n.role != "iframe":
            todo.extend(reversed(n.children))
    return None


def _shift(nodes: list[Node], dx: float, dy: float) -> None:
    todo = list(nodes)
    while todo:
        n = todo.pop()
        b = n.box
        if b is not None:
            n.box = (b[0] + dx, b[1] + dy, b[2], b[3])
        if n.children:
            todo.extend(n.children)


# -- rendering --------------------------------------------------------------------------


class _D:
    """A display node (the compacted tree)."""

    __slots__ = ("role", "name", "ref", "attrs", "text", "children", "src", "visible", "interactive", "label", "fold")

    def __init__(self, role: str, src: Node | None = None) -> None:
        self.role = role
        self.src = src
        self.name = ""
        self.ref: str | None = None
        self.attrs: dict = {}
        self.text = ""
        self.children: list[_D] = []
        self.visible = True
        self.interactive = False
        self.label = ""
        self.fold: str | None = None


def _join(parts: list[str]) -> str:
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
                and (prev[-1] == "." and (p[0].islower() or p[0] == "_") or p[0] == "(" and prev[-1].isalnum())
            )
        ):
            out.append(" ")
        out.append(p)
        prev = p
    return "".join(out).strip()


def _cut(s: str, limit: int) -> str:
    if len(s) <= limit:
        return s
    return s[: max(1, limit - 1)].rstrip() + "…"


def _quote(s: str) -> str:
    if '"' in s or "\\" in s:
        s = s.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + s + '"'


def _norm(s: str) -> str:
    return " ".join(s.split()).casefold()


class _Renderer:
    def __init__(self, geometry: Geometry | None, scope: str, text_limit: int, fold_after: int) -> None:
        self.geo = geometry
        self.filter = scope == "viewport" and geometry is not None and geometry.width > 0 and geometry.height > 0
        self.text_limit = max(8, int(text_limit))
        self.fold_after = max(1, int(fold_after))
        self.all: dict[str, ElementInfo] = {}
        self.hidden: list[ElementInfo] = []  # interactive elements outside the extended viewport
        self.forced: set[int] = set()
        self.show_urls = True
        self.act_fold = 4  # runs of actionable items fold after fold_after × act_fold
        self.fold_all = False  # fold runs of any role (last resort for a dense viewport)
        self.max_chars: int | None = None  # stop emitting past this size (very last resort)
        self.steps: list[str] = []  # extra compaction applied to fit the budget
        if geometry is not None:
            g = geometry
            margin = VIEWPORT_MARGIN * g.height
            self.view = (g.scroll_x, g.scroll_y, g.scroll_x + g.width, g.scroll_y + g.height)
            self.ext = (g.scroll_x, g.scroll_y - margin, g.scroll_x + g.width, g.scroll_y + g.height + margin)
        else:
            self.view = self.ext = None

    # geometry helpers
    @staticmethod
    def _hits(b: tuple, r: tuple | None) -> bool:
        if r is None:
            return True
        x, y, w, h = b
        return x <= r[2] and x + w >= r[0] and y <= r[3] and y + h >= r[1]

    @staticmethod
    def _clip(r: tuple, b: tuple) -> tuple | None:
        x0, y0 = max(r[0], b[0]), max(r[1], b[1])
        x1, y1 = min(r[2], b[0] + b[2]), min(r[3], b[1] + b[3])
        if x1 < x0 or y1 < y0:
            return None
        return (x0, y0, x1, y1)

    def _in_view(self, b: tuple | None) -> bool:
        if b is None or self.view is None:
            return True
        return self._hits(b, self.view)

    # context headings (the section the viewport is in)
    def find_context_headings(self, roots: list[Node]) -> None:
        if not self.filter:
            return
        top = self.ext[1]
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
        self.forced = {id(n) for n in chain.values()}

    # -- building the display tree --

    def run(self, nodes: list[Node]) -> list[_D]:
        self.all, self.hidden = {}, []
        self.find_context_headings(nodes)
        items: list = []
        for n in nodes:
            items.extend(self.build(n, True, self.ext, False))
        roots = self._blocks(items)
        return [d for d in roots if d.visible or not self.filter]

    def build(self, n: Node, pvis: bool, clip: tuple | None, phrasing: bool) -> list:
        """Display items for ``n``: strings (inline text runs) and :class:`_D` nodes."""
        role = n.role
        if role == "text":
            return [n.text] if n.text else []
        b = n.box
        if not self.filter:
            vis = True
        elif b is None or (b[2] == 0 and b[3] == 0):
            vis = pvis
        else:
            vis = self._hits(b, clip)
        if id(n) in self.forced:
            vis = True
        interactive = is_interactive(n)
        if role in _INLINE and not interactive:
            # inline content: its text joins the surrounding block whatever its own box says
            items: list = [n.text] if n.text else ([n.name] if n.name and not n.children else [])
            for c in n.children:
                items.extend(self.build(c, pvis, clip, True))
            return items
        inner_clip = clip
        if role == "iframe" and self.filter and b is not None and clip is not None:
            inner_clip = self._clip(clip, b)
            if inner_clip is None:
                inner_clip = (1, 1, 0, 0)  # empty: nothing inside is visible
        child_phrasing = role in _PHRASING or (phrasing and role in _WRAPPERS)
        items = []
        for c in n.children:
            items.extend(self.build(c, vis, inner_clip, child_phrasing))
        if interactive:
            if role not in INTERACTIVE_ROLES and any(isinstance(it, _D) and _blocky(it) for it in items):
                return [self._clickable_container(n, items, vis)]
            return [self._control(n, items, vis)]
        return self._container(n, items, vis, phrasing)

    def _clickable_container(self, n: Node, items: list, vis: bool) -> _D:
        """A clickable block (a card with a pointer cursor): keep its content as children."""
        d = _D(n.role, n)
        d.ref = n.ref
        d.interactive = True
        d.visible = vis
        kids = self._blocks(items if vis else [it for it in items if isinstance(it, _D) and it.visible])
        label = n.name or next((k.label for k in kids if k.label), "")
        d.name = n.name if n.name or n.role in REF_ROLES else _cut(label, _TEXT_TARGET_MAX)
        d.label = _cut(label, _TEXT_TARGET_MAX)
        d.children = kids
        info = ElementInfo(
            ref=n.ref or "", role=n.role, name=d.label, attrs=_public_attrs(n.attrs, None), text="",
            in_viewport=self._in_view(n.box), box=n.box,
        )  # fmt: skip
        self.all[info.ref] = info
        if not vis and self.filter:
            self.hidden.append(info)
        return d

    def _control(self, n: Node, items: list, vis: bool) -> _D:
        d = _D(n.role, n)
        d.ref = n.ref
        d.interactive = True
        d.visible = vis
        d.name = n.name
        d.attrs = n.attrs
        runs: list[str] = []
        kids: list[_D] = []
        options: list[_D] = []
        for it in items:
            if isinstance(it, str):
                runs.append(it)
            elif it.role == "option" and not it.ref:
                options.append(it)
            else:
                if it.label and (it.role in _INLINE_CONTROLS or not it.interactive):
                    runs.append(it.label)
                if it.visible and _actionable(it):
                    kids.append(it)  # a control nested in this one
        inner = _join(runs)
        if n.role in _VALUE_ROLES:
            d.text = n.text or ""
            if not d.name and inner and not d.text:
                d.text = inner
        else:
            if not d.name:
                d.name = n.text or inner
            elif n.text and _norm(n.text) != _norm(d.name):
                d.text = n.text
        if options:
            d.attrs = dict(n.attrs)
            d.attrs["_options"] = options
        d.children = kids
        d.label = d.name or d.text
        info = ElementInfo(
            ref=n.ref or "", role=n.role, name=d.name, attrs=_public_attrs(n.attrs, options), text=d.text,
            in_viewport=self._in_view(n.box), box=n.box,
        )  # fmt: skip
        self.all[info.ref] = info
        if not vis and self.filter:
            self.hidden.append(info)
        return d

    def _container(self, n: Node, items: list, vis: bool, phrasing: bool) -> list:
        role = n.role
        if n.ref and role in _LANDMARKS:
            # landmarks are targets for "scroll to the footer"
            self.all[n.ref] = ElementInfo(
                ref=n.ref, role=role, name=n.name, attrs={}, text="", in_viewport=self._in_view(n.box), box=n.box
            )
        elif n.ref and not n.children and role not in _INLINE:
            label = n.name or n.text
            if label and len(label) <= _TEXT_TARGET_MAX:
                # a short text element: a fallback target for instructions ("hover over Hover me")
                self.all[n.ref] = ElementInfo(
                    ref=n.ref, role=role, name=n.name, attrs=_public_attrs(n.attrs, None), text=n.text,
                    in_viewport=self._in_view(n.box), box=n.box,
                )  # fmt: skip
        if not vis:
            kids = [it for it in items if isinstance(it, _D) and it.visible]
            if not kids:
                return []
            items = kids
        d = _D(role, n)
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
            elif it.visible and not (it.interactive and it.role in _INLINE_CONTROLS):
                has_block = True
        if phrasing and not has_block and role in _WRAPPERS and not n.name and not n.text:
            return items  # an inline span inside a paragraph: let the paragraph merge it
        kids: list[_D] = []
        if not has_block:
            # inline content: one text, controls listed below
            parts: list[str] = [d.text] if d.text else []
            for it in items:
                if isinstance(it, str):
                    parts.append(it)
                else:
                    if it.label and (it.visible or it.role in _INLINE_CONTROLS):
                        parts.append(it.label)
                    if it.visible:
                        kids.append(it)
            if has_run:
                d.text = _join(parts)
                if len(kids) == 1 and not _has_word(_norm(d.text).replace(_norm(kids[0].label), "", 1)):
                    d.text = ""  # the text is just the control's label (plus separators like "|" or "»")
            if d.text and d.name and _norm(d.text) == _norm(d.name):
                d.text = ""
        else:
            kids = self._blocks(items)
        if kids and d.name:
            # drop children that only repeat this node's name (<th><p>Name</p></th>)
            nm = _norm(d.name)
            kids = [k for k in kids if k.interactive or k.children or k.ref or _norm(k.text or k.name) != nm]
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
            if role in _TAKE_CHILD_TEXT and not only.interactive and not only.ref and only.role in (
                "paragraph", "text", "generic", "strong", "emphasis", "code", "note"
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

    def _blocks(self, items: list) -> list[_D]:
        """Children list of a block container: runs become text lines, label echoes dropped."""
        out: list[_D] = []
        run: list[str] = []

        def flush() -> None:
            if run:
                t = _join(run)
                run.clear()
                if _has_word(t):
                    td = _D("text")
                    td.text = t
                    td.label = t
                    out.append(td)

        for it in items:
            if isinstance(it, str):
                run.append(it)
            elif not it.visible:
                if it.label and run and it.role in _INLINE_CONTROLS:
                    run.append(it.label)
            else:
                flush()
                out.append(it)
        flush()
        # drop text lines that merely repeat an adjacent control's name (form labels)
        if len(out) > 1:
            keep: list[_D] = []
            for i, d in enumerate(out):
                if d.role == "text" and not d.children:
                    t = _norm(d.text).rstrip(":*").strip()
                    prev = out[i - 1] if i > 0 else None
                    nxt = out[i + 1] if i + 1 < len(out) else None
                    if any(o is not None and o.interactive and t and _norm(o.name) == t for o in (prev, nxt)):
                        continue
                keep.append(d)
            out = keep
        return out

    # -- folding --

    def fold(self, kids: list[_D], parent: _D | None) -> list[_D]:
        if len(kids) <= self.fold_after + 2:
            return kids
        out: list[_D] = []
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
            if foldable and len(run) > limit + 2:
                if any(_actionable(k) for k in run):
                    limit = self.fold_after * self.act_fold
            if foldable and len(run) > limit + 2:
                out.extend(run[:limit])
                rest = run[limit:]
                f = _D("…")
                f.fold = self._fold_line(role, rest, parent)
                out.append(f)
            else:
                out.extend(run)
            i = j
        return out

    def _fold_line(self, role: str, rest: list[_D], parent: _D | None) -> str:
        s = f"… {len(rest)} more {role}"
        labels = [_cut(k.label, 40) for k in rest if k.label]
        if labels and any(_actionable(k) for k in rest):
            s += f': "{labels[0]}" … "{labels[-1]}"' if len(labels) > 1 else f': "{labels[0]}"'
            s += " (act on one by name with an instruction, or"
        else:
            s += " ("
        if parent is not None and parent.ref:
            s += f" browser_extract ref={parent.ref} reads them all)"
        else:
            s += ' browser_extract reads them; browser_observe scope="page" shows more structure)'
        return s.replace("( ", "(")

    # -- emission --

    def emit(self, roots: list[_D]) -> tuple[str, dict[str, ElementInfo]]:
        lines: list[str] = []
        shown: dict[str, ElementInfo] = {}
        limit = self.text_limit
        stack: list[tuple[_D, int]] = [(d, 0) for d in reversed(self.fold(roots, None))]
        size = 0
        cap = self.max_chars
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
            if d.fold is not None:
                line = pad + "- " + d.fold
                size += len(line) + 1
                lines.append(line)
                continue
            parts = [pad, "- ", d.role]
            if d.name:
                parts.append(" ")
                parts.append(_quote(_cut(d.name, limit)))
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
                if ph and isinstance(ph, str) and _norm(ph) != _norm(d.name):
                    parts.append(" [placeholder=" + _quote(_cut(ph, 60)) + "]")
                opts = a.get("_options")
            if d.ref:
                parts.append(f" [ref={d.ref}]")
                src = d.src
                if src is not None:
                    if d.interactive:
                        info = self.all.get(d.ref)
                    else:
                        info = ElementInfo(
                            ref=d.ref, role=d.role, name=d.name, attrs=_public_attrs(src.attrs, None),
                            text=d.text, in_viewport=self._in_view(src.box), box=src.box,
                        )  # fmt: skip
                    if info is not None:
                        shown[d.ref] = info
            if a:
                url = a.get("url")
                if url and isinstance(url, str) and d.role == "link" and url[0] != "#" and self.show_urls:
                    parts.append(" -> " + _cut(url.replace("\n", " "), URL_LIMIT))
            text = d.text
            if opts:
                sel = [o.name for o in opts if o.attrs.get("selected")]
                if not text and sel:
                    text = ", ".join(sel)
                names = [_quote(_cut(o.name, 40)) for o in opts]
                if len(names) <= 10:
                    optdesc = "[options: " + ", ".join(names) + "]"
                else:
                    optdesc = f"[{len(names)} options: " + ", ".join(names[:5]) + ", … " + names[-1] + "]"
                text = (_cut(text.replace("\n", " "), limit) + " " if text else "") + optdesc
                parts.append(": " + text)
            elif text:
                parts.append(": " + _cut(text.replace("\n", " "), limit))
            line = "".join(parts)
            size += len(line) + 1
            lines.append(line)
            if d.children:
                kids = self.fold(d.children, d)
                for k in reversed(kids):
                    stack.append((k, depth + 1))
        return "\n".join(lines), shown

    # -- the outside summary --

    def outside(self, roots: list[Node]) -> str | None:
        if not self.filter:
            return None
        g = self.geo
        top, bottom = self.ext[1], self.ext[3]
        above = below = other = 0
        counts: dict[str, int] = {}
        for e in self.hidden:
            b = e.box
            if b is not None and b[1] + b[3] < top:
                above += 1
            elif b is not None and b[1] > bottom:
                below += 1
            else:
                other += 1
            kind = "clickable" if e.role == "generic" else e.role
            counts[kind] = counts.get(kind, 0) + 1
        heads_below: list[str] = []
        n_heads_above = 0
        todo = list(reversed(roots))
        while todo:
            n = todo.pop()
            if n.role == "heading" and n.box is not None and (n.box[2] or n.box[3]):
                if n.box[1] > bottom:
                    heads_below.append(n.name or n.text or _flat_text(n))
                elif n.box[1] + n.box[3] < top and id(n) not in self.forced:
                    n_heads_above += 1
                continue
            todo.extend(reversed(n.children))
        page_h = g.page_height
        more_below = page_h and g.scroll_y + g.height < page_h - 1
        if not self.hidden and not heads_below and not n_heads_above and not more_below and g.scroll_y <= 0:
            return None
        y0, y1 = int(g.scroll_y), int(g.scroll_y + g.height)
        head = f"Outside the viewport (showing y {y0:,}–{y1:,}" + (f" of {int(page_h):,} px" if page_h else " px") + ")"
        bits: list[str] = []
        if self.hidden:
            where = []
            if above:
                where.append(f"{above} above")
            if below:
                where.append(f"{below} below")
            if other:
                where.append(f"{other} beside/hidden")
            kinds = ", ".join(
                f"{c} {_plural(r, c)}" for r, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:4]
            )
            bits.append(f"{len(self.hidden)} more elements ({', '.join(where)}: {kinds})")
        elif not heads_below and not n_heads_above:
            bits.append("more content " + ("below" if more_below else "above"))
        tail = ' — scroll, or browser_observe scope="page".'
        if not self.show_urls:
            tail = ' — scroll, or browser_observe scope="page" (link URLs omitted here).'
        s = head + ": " + "; ".join(bits)
        if heads_below:
            budget = 300 - len(s) - len(tail) - 30
            shown_h: list[str] = []
            used = 0
            for h in heads_below:
                q = _quote(_cut(h, 40))
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


def _has_word(s: str) -> bool:
    for ch in s:
        if ch.isalnum():
            return True
    return False


def _plural(role: str, count: int) -> str:
    if count == 1:
        return role
    if role.endswith("x") or role.endswith("ch"):
        return role + "es"
    return role + "s"


def _actionable(d: _D) -> bool:
    if d.interactive:
        return True
    todo = list(d.children)
    while todo:
        k = todo.pop()
        if k.interactive:
            return True
        todo.extend(k.children)
    return False


def _blocky(d: _D) -> bool:
    """A block of content (heading, paragraph, list …) rather than a label fragment."""
    return not d.interactive and (d.role not in ("text", "generic") or bool(d.children))


def _flat_text(n: Node) -> str:
    parts: list[str] = []
    todo = [n]
    while todo:
        k = todo.pop()
        if k is not n and k.name and not k.children:
            parts.append(k.name)
        elif k.text:
            parts.append(k.text)
        todo.extend(reversed(k.children))
    return _join(parts)


def _public_attrs(attrs: dict, options: list | None) -> dict:
    out = {k: v for k, v in attrs.items() if k not in ("cursor", "_options")}
    if options:
        out["options"] = [o.name for o in options]
        sel = [o.name for o in options if o.attrs.get("selected")]
        if sel:
            out["value"] = sel[0] if len(sel) == 1 else sel
    return out


def render_tree(
    nodes: list[Node],
    *,
    geometry: Geometry | None,
    scope: Literal["viewport", "page"] = "viewport",
    text_limit: int = 160,
    fold_after: int = 5,
    budget: int | None = VIEWPORT_BUDGET,
) -> TreeText:
    """Render parsed nodes as the compact observation text (see the module docstring).

    In viewport scope, when the text exceeds ``budget`` characters the rendering is
    compacted in steps until it fits: link URLs are left out, text is cut at 80
    characters, actionable runs fold after ``2 × fold_after``, only the viewport
    itself (no margin) is kept, runs of any role fold after ``fold_after``, and as a
    last resort the listing stops at the budget with a line saying how to see the
    rest. ``outside`` says when URLs were left out.
    """
    if geometry is not None and isinstance(nodes, Snapshot) and nodes.scroll is None:
        if geometry.scroll_x or geometry.scroll_y:
            _shift(nodes, geometry.scroll_x, geometry.scroll_y)
        nodes.scroll = (geometry.scroll_x, geometry.scroll_y)
    r = _Renderer(geometry, scope, text_limit, fold_after)
    roots = r.run(nodes)
    text, shown = r.emit(roots)
    if r.filter and budget and len(text) > budget:
        # A dense viewport: compact step by step until it fits (or nothing is left to try).
        for step in ("urls", "text", "fold", "strict", "fold_all", "cut"):
            if step == "urls":
                r.show_urls = False
            elif step == "text":
                r.text_limit = min(r.text_limit, 80)
            elif step == "fold":
                r.act_fold = 2
            elif step == "strict":
                r.ext = r.view  # no margin around the viewport
                roots = r.run(nodes)
            elif step == "fold_all":
                r.fold_all = True
            else:
                r.max_chars = budget - 200
            r.steps.append(step)
            text, shown = r.emit(roots)
            if len(text) <= budget:
                break
    return TreeText(text=text, elements=shown, all_elements=r.all, outside=r.outside(nodes))

