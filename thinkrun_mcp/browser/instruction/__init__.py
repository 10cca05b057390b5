"""Resolve plain-language instructions ("type hello into Search") without any LLM.

Two steps, one module each:

1. :mod:`.grammar` — :func:`parse_instruction` splits the sentence into a method (the
   verbs of :data:`~.grammar.VERBS`, each naming a method of
   :data:`~thinkrun_mcp.browser.actions.ACT_METHODS`), a target description and a value.
2. :mod:`.match` — :func:`rank_elements` scores the observation's elements against the
   target and :func:`resolve` accepts a clear winner only.
"""

from .grammar import SUPPORTED_VERBS, ParsedInstruction, normalize_key, parse_instruction
from .match import Candidate, Resolution, rank_elements, resolve

__all__ = [
    "SUPPORTED_VERBS",
    "Candidate",
    "ParsedInstruction",
    "Resolution",
    "normalize_key",
    "parse_instruction",
    "rank_elements",
    "resolve",
]
