"""FenixClient: the admin API over HTTP, with the contract's errors turned into exceptions.

Every call either returns the decoded JSON answer or raises one of two exceptions, so a caller
can tell "the controller said no" (ControllerError, with the controller's own message) from
"there was no controller to ask" (Unreachable).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

TOKEN_HEADER = "X-Auth-Token"
DEFAULT_URL = "http://127.0.0.1:12347"
EVENTS_PAGE = 1000
"""Events asked for at a time (the controller answers at most 5000)."""


class ControllerError(Exception):
    """The controller answered with an error; `message` is its explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class Unreachable(Exception):
    """No answer from the controller (refused, timed out, not HTTP)."""


class FenixClient:
    def __init__(self, url: str = DEFAULT_URL, token: str | None = None, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._http = requests.Session()
        self._http.headers["Accept"] = "application/json"
        if token:
            self._http.headers[TOKEN_HEADER] = token

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FenixClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- sessions ----------------------------------------------------------------------------
    def create_session(self, body: dict[str, Any]) -> str:
        return self._call("POST", "/v1/maintenance", body)["session_id"]

    def plan_session(self, body: dict[str, Any]) -> dict[str, Any]:
        """The plan of the session this body would create; nothing is created."""
        return self._call("POST", "/v1/maintenance/plan", body)

    def session_ids(self) -> list[str]:
        return list(self._call("GET", "/v1/maintenance")["sessions"])

    def session(self, session_id: str) -> dict[str, Any]:
        return self._call("GET", _session_path(session_id))

    def detail(self, session_id: str) -> dict[str, Any]:
        return self._call("GET", _session_path(session_id) + "/detail")

    def detail_if_changed(
        self, session_id: str, etag: str | None
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The detail and its ETag, or (None, etag) while the one tagged `etag` is current."""
        return self._call_if_changed(_session_path(session_id) + "/detail", etag)

    def events_page(
        self, session_id: str, since: int, etag: str | None = None, limit: int = EVENTS_PAGE
    ) -> tuple[dict[str, Any] | None, str | None]:
        """One page of events after `since` (`events`, `more`, `next`) and its ETag, or
        (None, etag) while the page tagged `etag` is current."""
        path = _session_path(session_id) + f"/events?since={since}&limit={limit}"
        return self._call_if_changed(path, etag)

    def events(self, session_id: str, after: int = 0) -> list[dict[str, Any]]:
        """Every event after `after`, page after page."""
        events: list[dict[str, Any]] = []
        while True:
            page, _ = self.events_page(session_id, after)
            assert page is not None  # asked without a tag
            events += page["events"]
            # A controller older than paging answers everything, without `more`.
            if not page.get("more"):
                return events
            after = page["next"]

    def update_session(self, session_id: str, **fields: Any) -> dict[str, Any]:
        return self._call("PUT", _session_path(session_id), fields)

    def delete_session(self, session_id: str) -> dict[str, Any]:
        return self._call("DELETE", _session_path(session_id))

    # -- the wire ------------------------------------------------------------------------------
    def _call_if_changed(self, path: str, etag: str | None) -> tuple[Any, str | None]:
        """A GET sent with If-None-Match: (None, etag) on 304, else (answer, its ETag)."""
        headers = {"If-None-Match": etag} if etag else {}
        response = self._request("GET", path, headers=headers)
        if response.status_code == 304:
            return None, etag
        return self._answer(response, "GET", path), response.headers.get("ETag")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._answer(self._request(method, path, body), method, path)

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        try:
            return self._http.request(
                method,
                self.url + path,
                json=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise Unreachable(f"cannot reach the controller at {self.url}: {exc}") from None

    def _answer(self, response: requests.Response, method: str, path: str) -> Any:
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 400:
            raise ControllerError(response.status_code, _error_message(response, answer))
        if answer is None:
            raise Unreachable(
                f"{self.url} answered {method} {path} with something that is not JSON "
                f"(HTTP {response.status_code}); is it a Fenix controller?"
            )
        return answer


def _session_path(session_id: str) -> str:
    return "/v1/maintenance/" + quote(session_id, safe="")


def _error_message(response: requests.Response, answer: Any) -> str:
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        return str(answer["error"].get("message") or answer["error"])
    text = response.text.strip()
    return text[:300] if text else response.reason or f"HTTP {response.status_code}"
