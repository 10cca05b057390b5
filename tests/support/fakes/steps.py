"""Builders for scripted model turns that act on what the planner showed the model.

Shared by the agent tests and the agent benchmark.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .scripted import Reply, ToolCall

__all__ = ["act", "done", "list_pages", "noted_rows", "ref_of", "rows_of_tables", "sign_in"]


def ref_of(req: Any, role: str, name: str) -> str:
    """The ref of an element in the newest observation the fake model was shown."""
    pattern = re.compile(rf'- {role} "{re.escape(name)}"[^\n]*?\[ref=([a-z0-9]+)\]')
    for _, text in reversed(req.messages()):
        m = pattern.search(text)
        if m:
            return m.group(1)
    raise AssertionError(f'{role} "{name}" is in no observation the model was shown:\n{req.latest_text()[:2500]}')


def act(role: str, name: str, method: str, value: str | None = None):
    """A turn calling act on the element with this role and name."""

    def step(req: Any) -> Reply:
        args = {"ref": ref_of(req, role, name), "method": method}
        if value is not None:
            args["value"] = value
        return Reply(tool_calls=[ToolCall("act", args)])

    return step


def done(output: Any) -> Reply:
    return Reply(tool_calls=[ToolCall("done", {"output": output if isinstance(output, str) else json.dumps(output)})])


def sign_in() -> list[Any]:
    """Fill the fixture site's login form with secret placeholders and submit it."""
    return [
        act("textbox", "Email", "fill", "<secret:email>"),
        act("textbox", "Password", "fill", "<secret:password>"),
        act("button", "Sign in", "click"),
    ]


def rows_of_tables(text: str) -> list[tuple[str, str]]:
    """(name, price) rows of the Markdown tables browser_extract made of the products pages."""
    return [(m[0], m[1]) for m in re.findall(r"^\| ([^|\n]+?) \| (\$[0-9.]+) \|$", text, re.M)]


def noted_rows(text: str) -> list[tuple[str, str]]:
    """(name, price) pairs of the notes :func:`list_pages` takes ("Blue Widget: $5.00; …")."""
    return re.findall(r"([A-Z][a-z]+ [A-Z][a-z]+): (\$[0-9]+\.[0-9]{2})", text)


def list_pages(pages: int) -> list[Any]:
    """From the products page: read the table of ``pages`` pages and answer with every row, as the planner's
    prompt asks a model to: the rows of each page go into a note in the turn that goes on to the next page,
    and the answer is made of the notes and the last page (older results are condensed by then)."""

    def note_and_next(req: Any) -> Reply:
        rows = rows_of_tables(req.latest_text())
        note = ToolCall("note", {"text": "; ".join(f"{n}: {p}" for n, p in rows)})
        return Reply(tool_calls=[note, *act("link", "Next", "click")(req).tool_calls])

    def answer(req: Any) -> Reply:
        rows = dict.fromkeys([*noted_rows(req.all_text()), *rows_of_tables(req.latest_text())])
        return done([{"name": n, "price": p} for n, p in rows])

    read = Reply(tool_calls=[ToolCall("extract", {"format": "table"})])
    return [read, *[item for _ in range(pages - 1) for item in (note_and_next, read)], answer]
