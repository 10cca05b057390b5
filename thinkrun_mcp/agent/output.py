"""Task output: text, JSON validated against a JSON Schema, or CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ..schema import compile_schema, first_error

__all__ = ["OutputInvalid", "finalize"]


class OutputInvalid(Exception):
    """The model's output does not fit; the message is fed back to the model."""


def finalize(output_type: str, schema: dict[str, Any] | None, raw: Any) -> Any:
    """The task output in its final form, or :class:`OutputInvalid` saying what is wrong."""
    if output_type == "structured_json":
        data = raw
        if isinstance(raw, str):
            text = raw.strip()
            if text.startswith("```"):
                text = text.strip("`")
                text = text[text.find("\n") + 1 :] if "\n" in text else text
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise OutputInvalid(f"output is not valid JSON: {exc.msg} at position {exc.pos}") from exc
        problem = first_error(compile_schema(schema or {}, name="outputSchema"), data)
        if problem is not None:
            raise OutputInvalid(f"output does not match outputSchema at {problem}")
        return data
    if output_type == "structured_csv":
        if not isinstance(raw, str):
            raise OutputInvalid("structured_csv output must be CSV text: a header row, then one row per record")
        rows = [r for r in csv.reader(io.StringIO(raw.strip())) if any(cell.strip() for cell in r)]
        if len(rows) < 2:
            raise OutputInvalid("CSV output needs a header row and at least one data row")
        width = len(rows[0])
        bad = [i + 1 for i, r in enumerate(rows) if len(r) != width]
        if bad:
            raise OutputInvalid(f"CSV rows {bad[:5]} do not have {width} columns like the header")
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([[c.strip() for c in r] for r in rows])
        return out.getvalue()
    if isinstance(raw, str):
        return raw
    return json.dumps(raw, ensure_ascii=False)
