"""Element help: how an instruction becomes an element, with or without a model.

The browser service resolves ``browser_act(instruction=…)``, ranks elements for
``browser_observe(instruction=…)`` and extracts with a schema through a
:class:`ModelHelp` given to its constructor (the agent layer's LLM-backed
implementation, ``agent/assist.py``). Without one, or while no LLM backend has
a key, act and observe fall back to the name matcher here; extraction with an
instruction needs a model and says so.

Everything handed to a :class:`ModelHelp` is plain data, already redacted:
the page's URL, its element text, and its elements by ref.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ..errors import ThinkRunError
from ..models import ElementCandidate
from .instruction import Candidate, ParsedInstruction, Resolution, parse_instruction, rank_elements, resolve
from .observe import ElementInfo

__all__ = ["ModelHelp", "parse_act_instruction", "rank_by_name", "resolve_by_name", "unresolved"]

INSTRUCTION_HINT = 'e.g. "click Sign in", "type hello into Search", "press Enter"'


class ModelHelp(Protocol):
    """Model-backed element help, given to :class:`~thinkrun_mcp.browser.service.BrowserService`."""

    def available(self) -> bool:
        """Whether a model can be asked now (an LLM backend has a key)."""
        ...

    async def choose(
        self, *, url: str, instruction: str, method: str | None, page_text: str, elements: Mapping[str, ElementInfo]
    ) -> Resolution:
        """The element (ref), method and value an instruction means on this page."""
        ...

    async def rank(
        self, *, url: str, instruction: str, page_text: str, elements: Mapping[str, ElementInfo]
    ) -> list[ElementCandidate]:
        """The elements that fit an instruction, best first."""
        ...

    async def extract(self, *, url: str, instruction: str | None, schema: dict[str, Any] | None, content: str) -> Any:
        """Data read from the page content (Markdown), valid against ``schema`` when one is given."""
        ...


def parse_act_instruction(instruction: str, method: str | None, *, model_reads_it: bool) -> ParsedInstruction | None:
    """The instruction's verb, target and value; None when only a model can read it."""
    if not instruction.strip():
        raise ThinkRunError("invalid_input", "instruction is empty")
    try:
        return parse_instruction(instruction)
    except ValueError as exc:
        if method is not None:  # "the Email field" with method=fill: the instruction names the target
            return ParsedInstruction(method=method, target=instruction.strip(), value=None)
        if model_reads_it:  # "submit the form": the model decides
            return None
        raise ThinkRunError("invalid_input", str(exc), hint=INSTRUCTION_HINT) from exc


def rank_by_name(instruction: str, elements: list[ElementInfo], *, limit: int = 8) -> list[ElementCandidate]:
    """Elements whose names fit an instruction, by name matching (no model)."""
    try:
        parsed = parse_instruction(instruction)
        target, method, hint = parsed.target or instruction, parsed.method, parsed.role_hint
    except ValueError:
        target, method, hint = instruction, None, None
    ranked = rank_elements(target, elements, method=method, role_hint=hint)[:limit]
    return [ElementCandidate(ref=c.ref, role=c.role, name=c.name, score=c.score, method=method) for c in ranked]


def resolve_by_name(instruction: str, elements: list[ElementInfo], method: str | None) -> Resolution:
    """The no-model resolution, or a coded error listing the candidates."""
    try:
        result = resolve(instruction, elements, method=method)
    except ValueError as exc:
        raise ThinkRunError("invalid_input", str(exc), hint=INSTRUCTION_HINT) from exc
    if result.ref:
        return result
    raise unresolved(instruction, result.candidates, ambiguous=result.ambiguous)


def unresolved(instruction: str, candidates: list[Candidate], *, ambiguous: bool) -> ThinkRunError:
    """``ambiguous_instruction`` or ``element_not_found``, naming the closest elements."""
    cands = "; ".join(f'{c.role} "{c.name}" ref={c.ref}' for c in candidates[:5])
    listed = [{"ref": c.ref, "role": c.role, "name": c.name, "score": c.score} for c in candidates[:5]]
    if ambiguous and candidates:
        return ThinkRunError(
            "ambiguous_instruction",
            f"{instruction!r} matches several elements: {cands}",
            hint="pass the ref of the one you mean",
            details={"candidates": listed},
        )
    return ThinkRunError(
        "element_not_found",
        f"nothing on the page matches {instruction!r}" + (f"; closest: {cands}" if cands else ""),
        hint="observe the page and pass a ref, or rephrase with the element's visible name",
        details={"candidates": listed},
    )
