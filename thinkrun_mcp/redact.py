"""Secret values out of everything that leaves the process: one redaction, raw and encoded.

An agent task's secrets (``secrets=[{match, fields}]``) are typed into pages, so
pages show them back: in text, titles, URLs after a GET form or a redirect
(``demo%40acme.test``, ``a+b``), HTML (``&#64;``), JSON (``\\u0040``). A
:class:`Redactor` replaces each value — as written and in those encodings, in
any mix, letters in any case — by its placeholder (``<secret:email>``).

Where it runs (each is one choke point, not a call per field):

- every tool result, structured fields included, and every progress message:
  the calling owner's redactor (:meth:`Redactors.for_owner`);
- every request to a model (``Backend.complete``): the task owner's;
- every string written to SQLite and every log message: all owners' secrets
  (:attr:`Redactors.everything`, :func:`redact_logs`), so the raw bytes of the
  database, its WAL and the log never hold a value;
- the session's own records and observations (the first line, in the browser layer).

Each owner has its own redactor so that one owner's secret never shows up as a
placeholder in another owner's results (which would tell them it is a secret).
Values are held in memory only; a redactor keeps the newest ``MAX_VALUES``.
"""

from __future__ import annotations

import html.entities
import logging
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_VALUES", "Redactor", "Redactors", "encodings_of", "redact_logs"]

MAX_VALUES = 4096

log = logging.getLogger(__name__)

# HTML5 names of single characters (``&commat;``, ``&period;``, ``&amp;`` …), by character.
_ENTITY_NAMES: dict[str, list[str]] = {}
for _name, _char in html.entities.html5.items():
    if len(_char) == 1:
        _ENTITY_NAMES.setdefault(_char, []).append(_name if _name.endswith(";") else _name + ";")


def _char_forms(ch: str) -> list[str]:
    """Regex alternatives for one character of a secret: itself and its common encodings."""
    forms: set[str] = set()
    cases = {ch, ch.lower(), ch.upper()}
    for c in (c for c in cases if len(c) == 1):
        code = ord(c)
        forms.add(re.escape(c))
        utf8 = c.encode("utf-8")
        percent = "".join(f"%{b:02x}" for b in utf8)
        forms.add(re.escape(percent))  # URL / form encoding (hex matched in any case)
        forms.add(re.escape(percent.replace("%", "%25")))  # the same, encoded twice
        forms.add(f"&#0*{code};?")  # HTML numeric entities
        forms.add(f"&#x0*{code:x};?")
        forms.update(re.escape("&" + name) for name in _ENTITY_NAMES.get(c, ()))
        if code > 0xFFFF:  # JSON / JavaScript escapes
            hi, lo = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
            forms.add(re.escape(f"\\u{hi:04x}\\u{lo:04x}"))
        else:
            forms.add(re.escape(f"\\u{code:04x}"))
        if code < 0x100:
            forms.add(re.escape(f"\\x{code:02x}"))
        if c in "\"\\/'":
            forms.add(re.escape("\\" + c))
        if c == " ":
            forms.update(("\\+", "&nbsp;?", "\u00a0"))  # form encoding, non-breaking space
    return sorted(forms, key=len, reverse=True)


def encodings_of(value: str) -> str:
    """A regular expression (to compile with IGNORECASE) matching ``value`` raw or encoded, in any mix."""
    return "".join(f"(?:{'|'.join(_char_forms(ch))})" for ch in value)


class Redactor:
    """Secret values (4 characters or more) and the placeholders shown instead. Thread-safe.

    ``parent``: another redactor that learns every value added here (an owner's
    redactor feeds :attr:`Redactors.everything`).
    """

    def __init__(self, parent: Redactor | None = None):
        self._parent = parent
        self._labels: OrderedDict[str, str] = OrderedDict()  # value → placeholder
        self._compiled_now: tuple[re.Pattern[str], list[str]] | None = None  # the pattern, group i+1 = values[i]
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._labels)

    def add(self, redactions: Mapping[str, str]) -> None:
        """Show ``label`` instead of ``value`` from now on, for each ``value → label``."""
        fresh = {v: label for v, label in redactions.items() if isinstance(v, str) and v}
        if not fresh:
            return
        with self._lock:
            for value, label in fresh.items():
                self._labels.pop(value, None)
                self._labels[value] = label
            dropped = 0
            while len(self._labels) > MAX_VALUES:
                self._labels.popitem(last=False)
                dropped += 1
            self._compiled_now = None
        if dropped:  # outside the lock: logging redacts, and would take it again
            log.warning("more than %d secret values are held: the %d oldest are no longer hidden", MAX_VALUES, dropped)
        if self._parent is not None:
            self._parent.add(fresh)

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._labels.clear()
            self._compiled_now = None

    def _compiled(self) -> tuple[re.Pattern[str], list[str]] | None:
        with self._lock:
            if self._compiled_now is None and self._labels:
                values = sorted(self._labels, key=len, reverse=True)  # a value holding another is replaced whole
                pattern = re.compile("|".join(f"({encodings_of(v)})" for v in values), re.IGNORECASE)
                self._compiled_now = (pattern, values)
            return self._compiled_now

    def redact(self, text: str) -> str:
        """``text`` with every secret value, raw or encoded, replaced by its placeholder."""
        if not self._labels or not text or not isinstance(text, str):
            return text
        compiled = self._compiled()
        if compiled is None:
            return text
        pattern, values = compiled
        labels = self._labels

        def label(m: re.Match[str]) -> str:
            return labels.get(values[(m.lastindex or 1) - 1], "<secret>")

        return pattern.sub(label, text)

    def redact_data(self, data: Any) -> Any:
        """``data`` (JSON-like: dicts, lists, strings) with every string redacted, keys included, at any depth."""
        if not self._labels:
            return data
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, dict):
            return {self.redact_data(k): self.redact_data(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return type(data)(self.redact_data(v) for v in data)
        return data

    def holds(self, text: str | None) -> bool:
        """Whether ``text`` contains a secret value (raw or encoded)."""
        if not text or not self._labels:
            return False
        compiled = self._compiled()
        return compiled is not None and compiled[0].search(text) is not None


class Redactors:
    """The redactors of one process: one per owner, and one holding every owner's values."""

    def __init__(self) -> None:
        self.everything = Redactor()
        self._owners: dict[str, Redactor] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every owner's values (a test runtime shared by tests; a server keeps them while it runs)."""
        with self._lock:
            for redactor in self._owners.values():
                redactor.clear()
        self.everything.clear()

    def for_owner(self, owner_id: str) -> Redactor:
        with self._lock:
            redactor = self._owners.get(owner_id)
            if redactor is None:
                redactor = self._owners[owner_id] = Redactor(parent=self.everything)
            return redactor


_LOGGED: weakref.WeakSet[Redactor] = weakref.WeakSet()
_FACTORY_LOCK = threading.Lock()


def redact_logs(redactor: Redactor) -> None:
    """Make every log record's message (from any logger, to any handler) hide ``redactor``'s values."""
    with _FACTORY_LOCK:
        if not _LOGGED:
            base = logging.getLogRecordFactory()
            if not getattr(base, "_thinkrun_redacts", False):

                def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                    record = base(*args, **kwargs)
                    if any(_LOGGED):
                        record.__class__ = _RedactedRecord
                    return record

                factory._thinkrun_redacts = True  # type: ignore[attr-defined]
                logging.setLogRecordFactory(factory)
        _LOGGED.add(redactor)


class _RedactedRecord(logging.LogRecord):
    def getMessage(self) -> str:
        message = super().getMessage()
        for redactor in list(_LOGGED):
            message = redactor.redact(message)
        return message

    @property  # type: ignore[override]
    def exc_text(self) -> str | None:  # the formatted traceback, which formatters cache here
        return self.__dict__.get("_redacted_exc_text")

    @exc_text.setter
    def exc_text(self, text: str | None) -> None:
        for redactor in list(_LOGGED) if text else ():
            text = redactor.redact(text or "")
        self.__dict__["_redacted_exc_text"] = text
