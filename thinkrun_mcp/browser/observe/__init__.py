"""Turn Playwright's AI snapshot into a compact observation a model can act on.

The pipeline, one module a step:

- :mod:`.snapshot` parses ``page.aria_snapshot(mode="ai", boxes=True)`` into a tree of
  :class:`Node` with boxes in page coordinates (:class:`Geometry`, :data:`GEOMETRY_JS`);
- :mod:`.compact` decides what is shown: what is in or near the viewport, which
  wrappers are dropped and which runs merged, which siblings fold, and which
  elements carry refs (:class:`ElementInfo`);
- :mod:`.emit` writes one line per kept node and returns a :class:`TreeText`
  (:func:`render_tree` runs the whole pipeline and fits a dense viewport to its budget);
- :mod:`.outside` adds the one-line summary of what lies outside the viewport.

:func:`paginate` (from :mod:`thinkrun_mcp.text`) cuts page-scope observations into parts.
"""

from ...text import paginate
from .compact import INTERACTIVE_ROLES, REF_ROLES, VIEWPORT_MARGIN, ElementInfo, is_interactive
from .emit import URL_LIMIT, VIEWPORT_BUDGET, TreeText, render_tree
from .snapshot import GEOMETRY_JS, Geometry, Node, Snapshot, parse_snapshot

__all__ = [
    "GEOMETRY_JS",
    "INTERACTIVE_ROLES",
    "REF_ROLES",
    "URL_LIMIT",
    "VIEWPORT_BUDGET",
    "VIEWPORT_MARGIN",
    "ElementInfo",
    "Geometry",
    "Node",
    "Snapshot",
    "TreeText",
    "is_interactive",
    "paginate",
    "parse_snapshot",
    "render_tree",
]
