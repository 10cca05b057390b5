"""Reading Playwright's AI snapshot: the text format, the node tree, and page coordinates.

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

Coordinates
-----------
Measured on Chromium: boxes are ``getBoundingClientRect()`` values, i.e.
**viewport** coordinates of the node's own frame, rounded. Scrolling the page by
5000 px shifts every main-frame box by −5000; ``position:fixed`` elements keep
their viewport box. Inside an iframe, boxes are relative to that frame's viewport
(they move with the frame's own scroll) and the iframe's border is not included
(the iframe's box is its border box). :func:`parse_snapshot` converts boxes to
**page** coordinates: frame children get the iframe's origin added (the border
width, usually 0–2 px, is ignored) and, given the geometry, the page scroll is
added. Nodes parsed without geometry (viewport-relative boxes) are converted by
:func:`add_page_scroll` when the geometry is known (``render_tree`` does it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

__all__ = ["GEOMETRY_JS", "Geometry", "Node", "Snapshot", "add_page_scroll", "parse_snapshot"]

_MAX_DEPTH = 120


@dataclass(slots=True)
class Node:
    """One node of the snapshot: role, accessible name, ref, attributes, inline text, box and children.

    ``box`` is ``(x, y, width, height)`` (page coordinates once converted, see
    :class:`Snapshot`); ``frame`` is the ref prefix of the iframe holding the node ("f1").
    """

    role: str
    name: str = ""
    ref: str | None = None
    attrs: dict[str, str | bool] = field(default_factory=dict)
    text: str = ""
    box: tuple[float, float, float, float] | None = None
    children: list[Node] = field(default_factory=list)
    frame: str | None = None


class Snapshot(list):
    """The roots returned by :func:`parse_snapshot` (a plain ``list`` of :class:`Node`).

    ``scroll`` is the page scroll already added to the boxes, or ``None`` when the
    snapshot was parsed without geometry (boxes still viewport-relative; frame offsets
    are always applied). :func:`add_page_scroll` completes the conversion.
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
    def from_js(cls, d: dict) -> Geometry:
        """Build from the dict :data:`GEOMETRY_JS` returns (missing keys get defaults)."""

        def num(key: str, default: float) -> float:
            v = d.get(key, default) if isinstance(d, dict) else default
            return float(v) if isinstance(v, int | float) else default

        return cls(
            scroll_x=num("scrollX", 0),
            scroll_y=num("scrollY", 0),
            width=num("innerWidth", 1280),
            height=num("innerHeight", 720),
            page_width=num("scrollWidth", 0),
            page_height=num("scrollHeight", 0),
        )


# Evaluated in the page; its result is what Geometry.from_js reads.
GEOMETRY_JS = """() => {
  const d = document.documentElement, b = document.body;
  return {
    scrollX: window.scrollX, scrollY: window.scrollY,
    innerWidth: window.innerWidth, innerHeight: window.innerHeight,
    scrollWidth: Math.max(d ? d.scrollWidth : 0, b ? b.scrollWidth : 0),
    scrollHeight: Math.max(d ? d.scrollHeight : 0, b ? b.scrollHeight : 0),
  };
}"""


# -- parsing ----------------------------------------------------------------------------

_YAML_ESC = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.S)
_SIMPLE_ESC = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "b": "\b",
    "f": "\f",
    "0": "\0",
    '"': '"',
    "\\": "\\",
    "/": "/",
    "e": "\x1b",
    "a": "\a",
    "v": "\v",
    " ": " ",
    "_": "\xa0",
    "N": "\x85",
}


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
        add_page_scroll(roots, geometry)
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


def add_page_scroll(nodes: list[Node], geometry: Geometry) -> None:
    """Add the page scroll to the boxes of a :class:`Snapshot` parsed without geometry (once).

    Snapshots whose boxes are already page coordinates, and plain lists, are left alone.
    """
    if isinstance(nodes, Snapshot) and nodes.scroll is None:
        if geometry.scroll_x or geometry.scroll_y:
            _shift(nodes, geometry.scroll_x, geometry.scroll_y)
        nodes.scroll = (geometry.scroll_x, geometry.scroll_y)
