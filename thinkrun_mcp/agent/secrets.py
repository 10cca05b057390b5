"""Task secrets: the model sees placeholders, pages get the values, records get neither.

``secrets=[{"match": "*.example.com", "fields": {"email": "…", "password": "…"}}]``
becomes placeholders ``<secret:email>`` and ``<secret:password>``. When the
model fills a field with a placeholder, the value is substituted — only if the
page's host matches the rule's ``match``. The values are registered with the
session for redaction, so observations, extracted text, console and network
records, action details, task output and errors show ``<secret:name>``
instead. Values are held in memory only, never written.

Values shorter than 4 characters are refused: they cannot be redacted reliably.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import ThinkRunError
from ..models import SecretSpec, check_secret_specs
from ..urls import host_matches, normalize_pattern

__all__ = ["PLACEHOLDER", "Secrets"]

PLACEHOLDER = re.compile(r"<secret:([A-Za-z0-9_.-]{1,64})>")


@dataclass(frozen=True, slots=True)
class _Rule:
    match: str
    fields: dict[str, str]


class Secrets:
    """The secrets of one task."""

    def __init__(self, rules: list[_Rule]):
        self._rules = rules

    @classmethod
    def parse(cls, specs: Sequence[SecretSpec] | None) -> Secrets:
        """The rules of ``[{match, fields}]``, or ``invalid_input`` naming the first bad one (never echoing a value)."""
        check_secret_specs(specs)
        return cls([_Rule(normalize_pattern(spec.match), dict(spec.fields)) for spec in specs or []])

    def __bool__(self) -> bool:
        return bool(self._rules)

    def redactions(self) -> dict[str, str]:
        """value → the placeholder shown instead, for every secret value."""
        out: dict[str, str] = {}
        for rule in self._rules:
            for name, value in rule.fields.items():
                out[value] = f"<secret:{name}>"
        return out

    def describe(self) -> str:
        """The prompt's list of placeholders and where they work (no values)."""
        lines = []
        for rule in self._rules:
            names = ", ".join(f"<secret:{n}>" for n in rule.fields)
            lines.append(f"- {names} — only on pages whose host matches {rule.match}")
        return "\n".join(lines)

    def substitute(self, text: str, url: str) -> str:
        """Replace placeholders with values for the page at ``url``; refuse on a host the secret is not for."""
        if "<secret:" not in text:
            return text
        host = (urlsplit(url).hostname or "").lower()

        def swap(m: re.Match[str]) -> str:
            name = m.group(1)
            known = False
            for rule in self._rules:
                if name in rule.fields:
                    known = True
                    if host and host_matches(host, rule.match):
                        return rule.fields[name]
            if not known:
                raise ThinkRunError(
                    "invalid_input", f"there is no secret named {name!r}", hint=f"available: {self.names() or 'none'}"
                )
            raise ThinkRunError(
                "invalid_input",
                f"secret {name!r} may not be used on {host or url[:80]!r}",
                hint="it is only for the pages its rule's match names",
            )

        return PLACEHOLDER.sub(swap, text)

    def names(self) -> str:
        return ", ".join(sorted({f"<secret:{n}>" for r in self._rules for n in r.fields}))

    def public(self) -> list[dict[str, Any]]:
        """What may be stored: patterns and field names, no values."""
        return [{"match": r.match, "fields": sorted(r.fields)} for r in self._rules]
