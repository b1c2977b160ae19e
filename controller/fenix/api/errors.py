"""Every error the API gives is JSON: `{"error": {"code", "title", "message"}}`.

Managers written for OpenStack Fenix parse error bodies as JSON, and a person reading one should
learn what to change. So unknown URLs, wrong methods, bad bodies and a failing cloud all answer
in that one shape, and only a bug in the controller itself is a 500.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES

from fenix.drivers.base import DriverError

LOG = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer other than success, with a message that says what to do about it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def forbidden(message: str) -> ApiError:
    return ApiError(403, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


def bad_gateway(message: str) -> ApiError:
    return ApiError(502, message)


def error_response(code: int, message: str) -> Response:
    title = HTTP_STATUS_CODES.get(code, "Error")
    response = jsonify({"error": {"code": code, "title": title, "message": message}})
    response.status_code = code
    return response


def describe_validation_error(exc: ValidationError, model: type[BaseModel]) -> str:
    """One line per problem, each naming the field path: "hosts.1: Input should be ..."."""
    problems = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            message = "unknown field"
            if len(error["loc"]) == 1:
                message += f" (known fields: {', '.join(model.model_fields)})"
        else:
            message = error["msg"].removeprefix("Value error, ")
            if kind != "missing" and not kind.startswith("value_error"):
                message += f" (got {_short_json(error.get('input'))})"
        problems.append(f"{path}: {message}" if path else message)
    return "; ".join(problems)


def _short_json(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


MAX_ID_LENGTH = 255
"""The longest id in a URL: what the id columns hold."""


def init_app(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(DriverError, _driver_error)
    app.register_error_handler(HTTPException, _http_exception)
    app.url_value_preprocessor(_reject_impossible_ids)


def _reject_impossible_ids(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A 400 for an id in the URL that no column can hold.

    PostgreSQL cannot even compare text holding NUL, and refuses to store more than a column's
    length: both were 500s. No such id can exist, so nothing is lost by refusing it up front.
    """
    for name, value in (values or {}).items():
        if isinstance(value, str) and ("\x00" in value or len(value) > MAX_ID_LENGTH):
            raise bad_request(
                f"{name}: an id is 1 to {MAX_ID_LENGTH} characters, without NUL "
                f"(got {_short_json(value)})"
            )


def _api_error(exc: ApiError) -> Response:
    return error_response(exc.code, exc.message)


def _driver_error(exc: DriverError) -> Response:
    LOG.warning("cloud call failed during %s %s: %s", request.method, request.path, exc)
    return error_response(502, f"the cloud failed: {exc}; check the cloud and try again")


def _http_exception(exc: HTTPException) -> Response:
    code = exc.code or 500
    if isinstance(exc, MethodNotAllowed):
        allowed = ", ".join(sorted(exc.valid_methods or []))
        message = f"{request.method} is not allowed on {request.path}; allowed: {allowed}"
    elif isinstance(exc, NotFound) and request.url_rule is None:
        message = f"nothing at {request.path}; check the URL against the API reference"
    elif code >= 500:
        # Flask has logged the original exception; do not leak its text to the client.
        message = "internal error in the controller; its log has the details"
    else:
        message = exc.description or HTTP_STATUS_CODES.get(code, "error")
    response = error_response(code, message)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response
