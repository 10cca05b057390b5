"""What the model is sent at each step: the conversation of a task, condensed as it goes on.

The request stays small and its beginning stays the same from step to step (providers cache a repeated
prefix):

- The first user message holds the task. It also holds the first observation until a tool result shows
  the page; from then on it names the task only.
- The newest tool turn is sent in full, and so is the newest result that shows the page (after an
  extract the model still needs the refs of the last observation). Older results shrink to their
  one-line outcome; an extract keeps the start of its data (:data:`EXTRACT_KEEP` characters).
- When more than :data:`FOLD_AT` steps are in the conversation, all but the newest :data:`KEEP_STEPS`
  are folded into a running summary in the first message: one line per step, the model's notes (the
  ``note`` tool) in full, and the data of a folded extract only when no note was saved after it
  (up to :data:`SUMMARY_DATA_MAX` characters in all).
  Folding happens in batches, so the prefix changes once per batch, not at every step.
- Page content is fenced (:func:`~thinkrun_mcp.agent.prompts.fence`): it is data, never instructions.

:meth:`Conversation.context` marks the last turn that the next request will repeat unchanged
(``Turn.cache_point``); a backend whose provider caches explicitly puts its marker there.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from .backends import ToolResult, Turn
from .prompts import fence, neutral

__all__ = ["EXTRACT_KEEP", "FOLD_AT", "KEEP_STEPS", "NOTES_MAX", "SUMMARY_DATA_MAX", "Conversation"]

EXTRACT_KEEP = 1_500  # chars of an older extract result kept in the context
FOLD_AT = 6  # steps in the conversation that make a fold
KEEP_STEPS = 2  # steps a fold leaves in the conversation
NOTES_MAX = 8_000  # chars of notes a task may keep
SUMMARY_DATA_MAX = 6_000  # chars of extracted data the running summary keeps for a model that takes no notes
ARG_CHARS = 80  # chars of one argument shown in the running summary


class Conversation:
    """The turns of one task and what each tool result shrinks to once it is old."""

    def __init__(self, task: str, first_page: str, *, tag: str):
        self.task = task
        self.tag = tag
        self.turns: list[Turn] = []  # after the first message, which :meth:`context` writes
        self._first_page = f"The browser now shows:\n{fence(first_page, tag)}"
        self.notes_chars = 0
        self._outcomes: dict[str, str] = {}  # call id → one-line outcome
        self._kept: dict[str, str] = {}  # call id → the data kept once the result is old (fenced)
        self._page_calls: set[str] = set()  # calls whose result shows the page (an observation)
        self._folded = 0  # self.turns[:_folded] are folded into the summary
        self._steps_folded = 0
        self._summary: list[str] = []
        self._summary_data = 0  # chars of extracted data in the summary
        self._notes: list[str] = []  # the notes of folded steps
        self._note_steps: list[int] = []  # steps that saved a note

    # -- growing ---------------------------------------------------------------------------

    def reply(self, turn: Turn) -> int:
        """Add the model's turn; returns the step number it starts."""
        self.turns.append(turn)
        step = sum(1 for t in self.turns if t.role == "assistant")
        if any(c.name == "note" for c in turn.tool_calls):
            self._note_steps.append(step)
        return step

    def results(self, results: list[ToolResult]) -> None:
        self.turns.append(Turn(role="tool", results=results))

    def nudge(self, text: str) -> None:
        self.turns.append(Turn(role="user", text=text))

    def outcome(self, call_id: str, line: str, *, kept: str | None = None, shows_page: bool = False) -> None:
        """What the result of ``call_id`` shrinks to: ``line``, and ``kept`` data (fenced here)."""
        self._outcomes[call_id] = neutral(line)
        if kept:
            self._kept[call_id] = fence(kept, self.tag)
        if shows_page:
            self._page_calls.add(call_id)

    def note(self, text: str) -> str | None:
        """Count a note against :data:`NOTES_MAX`; the reason it cannot be kept, or None."""
        if self.notes_chars + len(text) > NOTES_MAX:
            return f"notes are full ({self.notes_chars:,} of {NOTES_MAX:,} characters); save less, or finish with what you have"
        self.notes_chars += len(text)
        return None

    # -- what is sent ----------------------------------------------------------------------

    def context(self) -> list[Turn]:
        """The conversation as sent this step, its stable prefix marked with ``cache_point``."""
        self._fold()
        last_page = self._last_page()
        last_tool = max((i for i, t in enumerate(self.turns) if t.role == "tool"), default=-1)
        out = [Turn(role="user", text=self._first_message(shows_page=last_page is not None))]
        changing = 0 if last_page is None else None  # the first message changes once a page result exists
        for i in range(self._folded, len(self.turns)):
            turn = self.turns[i]
            if turn.role == "tool":
                full = i == last_tool or any(r.call_id == last_page for r in turn.results)
                if full and changing is None:
                    changing = len(out)  # shrinks in a later request
                if i != last_tool:
                    turn = Turn(role="tool", results=[r if r.call_id == last_page else self._shrunk(r) for r in turn.results])
            out.append(turn)
        stable = (changing if changing is not None else len(out)) - 1
        if stable >= 0 and not self._folds_next():
            out[stable] = dataclasses.replace(out[stable], cache_point=True)
        return out

    def _first_message(self, *, shows_page: bool) -> str:
        parts = [self.task]
        if self._summary:
            parts.append("Earlier steps (condensed):\n" + "\n".join(self._summary))
        if self._notes:
            parts.append("Your notes:\n" + "\n".join(f"- {n}" for n in self._notes))
        parts.append("(The first observation is omitted; see the latest tool result.)" if shows_page else self._first_page)
        return "\n\n".join(parts)

    def _shrunk(self, r: ToolResult) -> ToolResult:
        line = self._outcomes.get(r.call_id, r.content)
        kept = self._kept.get(r.call_id)
        return ToolResult(call_id=r.call_id, name=r.name, content=f"{line}\n{kept}" if kept else line, is_error=r.is_error)

    def _last_page(self) -> str | None:
        """The call id of the newest result that shows the page."""
        for turn in reversed(self.turns):
            for r in reversed(turn.results):
                if r.call_id in self._page_calls:
                    return r.call_id
        return None

    # -- folding ---------------------------------------------------------------------------

    def _starts(self) -> list[int]:
        """Indexes of the assistant turns not folded yet (each starts a step)."""
        return [i for i in range(self._folded, len(self.turns)) if self.turns[i].role == "assistant"]

    def _folds_next(self) -> bool:
        """Whether the next request folds (then its prefix differs from this one after the system prompt)."""
        return len(self._starts()) + 1 > FOLD_AT

    def _fold(self) -> None:
        starts = self._starts()
        if len(starts) <= FOLD_AT:
            return
        boundary = starts[-KEEP_STEPS]
        last_page = self._last_page()
        for start in reversed(starts):  # the newest page result stays: its refs are the ones to use
            if start < boundary and any(r.call_id == last_page for t in self.turns[start:boundary] for r in t.results):
                boundary = start
                break
        if boundary <= self._folded:
            return
        for start, end in zip(starts, [*starts[1:], len(self.turns)], strict=True):
            if start >= boundary:
                break
            self._steps_folded += 1
            self._summary.append(self._line(self._steps_folded, self.turns[start], self.turns[start + 1 : end]))
        self._folded = boundary

    def _line(self, step: int, reply: Turn, after: list[Turn]) -> str:
        """One step of the running summary: each call, its arguments and its outcome."""
        noted_later = any(s > step for s in self._note_steps)
        parts = []
        for call in reply.tool_calls:
            if call.name == "note":
                self._notes.append(neutral(str(call.args.get("text", ""))))
                parts.append("note (in your notes)")
                continue
            outcome = self._outcomes.get(call.id) or next(
                (r.content for t in after for r in t.results if r.call_id == call.id), "not run"
            )
            kept = None if noted_later else self._kept.get(call.id)
            if kept and self._summary_data + len(kept) > SUMMARY_DATA_MAX:
                kept, outcome = None, f"{outcome} (its data is no longer in the context; take notes of what you need)"
            self._summary_data += len(kept or "")
            parts.append(f"{call.name}({_args(call.args)}) → {outcome}" + (f"\n{kept}" if kept else ""))
        return f"{step}. " + ("; ".join(parts) or f"no tool call{': ' + neutral(reply.text[:200]) if reply.text else ''}")


def _args(args: dict[str, Any]) -> str:
    shown = []
    for key, value in args.items():
        text = json.dumps(value, ensure_ascii=False)
        shown.append(f"{key}={text[:ARG_CHARS] + '…' if len(text) > ARG_CHARS else text}")
    return neutral(", ".join(shown))
