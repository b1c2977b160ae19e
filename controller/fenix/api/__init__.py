"""The REST API, compatible with OpenStack Fenix: one blueprint per resource.

Handlers reach the Runtime through `runtime()` (it lives on the app, never in a module global)
and read bodies through `json_body()`, so every endpoint rejects bad input the same way.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flask import current_app, request
from pydantic import BaseModel, ValidationError

from fenix.api.errors import bad_request, describe_validation_error

if TYPE_CHECKING:
    from fenix.runtime import Runtime

Model = TypeVar("Model", bound=BaseModel)

_JSON_TYPE_NAMES = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def runtime() -> Runtime:
    """The Runtime this app serves (database, cloud driver, wake-up of the engine)."""
    return cast("Runtime", current_app.extensions["fenix"])


def raw_json_object() -> dict[str, Any]:
    """The request body as a JSON object, whatever its Content-Type.

    Fenix read the body without looking at the header, and so do the managers built for it
    (some send none), so the header is not required here either.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise bad_request("the request has no body; send a JSON object")
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise bad_request("the body is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise bad_request(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        kind = _JSON_TYPE_NAMES.get(type(body), type(body).__name__)
        raise bad_request(f"the body must be a JSON object, not {kind}")
    _no_lone_surrogates(body)
    return body


def _no_constant(name: str) -> Any:
    # Python's json takes NaN and Infinity, which JSON does not have: stored, they made the
    # event log unreadable as JSON (SQLite) or failed the insert (PostgreSQL).
    raise ValueError(f"{name} is not a JSON number (RFC 8259); send a number or null")


def _no_lone_surrogates(body: dict[str, Any]) -> None:
    """A 400 for an escaped lone surrogate (\\ud800): text no UTF-8 column can hold."""
    try:
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end].encode("unicode_escape").decode()
        raise bad_request(
            f"the body is not valid JSON text: it holds a lone surrogate ({bad}); "
            "escape characters outside the BMP as a surrogate pair"
        ) from None


def json_body(model: type[Model]) -> Model:
    """The request body validated by `model`; a 400 that names each bad field otherwise."""
    return validate(model, raw_json_object())


def validate(model: type[Model], data: dict[str, Any]) -> Model:
    # Validation errors become 400s here, at the edge, and not in a global handler: a
    # ValidationError raised anywhere else is a bug and must stay a 500.
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise bad_request(describe_validation_error(exc, model)) from None
