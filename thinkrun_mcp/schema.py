"""JSON Schema checks, in one place: compile a caller's schema, find the first problem with a value.

Used for task output schemas, extraction schemas and the planner's tool arguments.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator

from .errors import ThinkRunError

__all__ = ["compile_schema", "first_error"]


def compile_schema(schema: dict[str, Any], *, name: str = "schema") -> Validator:
    """A validator for ``schema`` (its own draft), or ``invalid_input`` naming ``name`` when it is malformed."""
    try:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
    except SchemaError as exc:
        raise ThinkRunError("invalid_input", f"{name} is not a valid JSON Schema: {exc.message}") from exc
    return cls(schema)


def first_error(validator: Validator, value: Any, *, root: str = "(root)") -> str | None:
    """``"<path>: <message>"`` for the most relevant problem of ``value``, or None when it is valid."""
    error = best_match(validator.iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or root
    return f"{where}: {error.message}"
