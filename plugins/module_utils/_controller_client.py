# Copyright: Fenix for Ansible developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""A small JSON-over-HTTP client for the Fenix controller (and the simulated cloud).

Modules run under AnsiballZ with only module_utils shipped, so this uses nothing but the
standard library and ansible's ``open_url``; it never imports ``fenix``. Error bodies of the
form ``{"error": {"code", "title", "message"}}`` become a ControllerError carrying the message,
so a module can fail with what the controller said instead of a bare HTTP status.
"""

from __future__ import annotations

import json
import time
from urllib.error import HTTPError, URLError
from urllib.parse import quote

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.urls import open_url

CONTROLLER_ARGSPEC = dict(
    url=dict(type="str", required=True, fallback=(env_fallback, ["FENIX_URL"])),
    token=dict(type="str", no_log=True, fallback=(env_fallback, ["FENIX_TOKEN"])),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="int", default=30),
)
"""The options of the ``fenix.maintenance.controller`` doc fragment, documented there once."""

TOKEN_HEADER = "X-Auth-Token"
EVENTS_PAGE = 1000
"""Events asked for at a time (the controller answers at most 5000)."""


class ControllerError(Exception):
    """A call that did not succeed; ``message`` says what the server (or the network) said."""

    def __init__(self, message, status=None, title=None, method=None, url=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.title = title
        self.method = method
        self.url = url

    @property
    def not_found(self):
        return self.status == 404

    def to_dict(self):
        return dict(status=self.status, title=self.title, method=self.method, url=self.url)


def path_quote(value):
    """One URL path segment: an id with a slash in it must not become two segments."""
    return quote(str(value), safe="")


class JsonClient:
    """JSON requests to one base URL; ``what`` names the server in error messages."""

    what = "server"

    def __init__(self, url, token=None, validate_certs=True, timeout=30):
        if not url:
            raise ControllerError(f"no URL given for the {self.what}")
        self.base_url = url.rstrip("/")
        self.token = token
        self.validate_certs = validate_certs
        self.timeout = timeout

    def url_for(self, path):
        return self.base_url + path

    def request(self, method, path, body=None, query=None, timeout=None, headers=None, decode=True):
        """The decoded JSON answer (None for an empty one); ControllerError otherwise.

        ``body`` is sent as JSON, or as it is when it is already bytes (a signed body). With
        ``decode=False`` the answer's bytes are returned as they are.
        """
        url = self._with_query(path, query)
        raw, _headers = self._open(method, url, body, timeout, headers)
        return self._decode(raw, method, url) if decode else raw

    def get_if_changed(self, path, etag, query=None):
        """``(answer, its ETag)``, or ``(None, etag)`` while the answer tagged ``etag`` is
        still the current one (the server answered 304 Not Modified to If-None-Match)."""
        url = self._with_query(path, query)
        try:
            raw, headers = self._open(
                "GET", url, None, None, {"If-None-Match": etag} if etag else {}
            )
        except ControllerError as exc:
            if exc.status == 304:
                return None, etag
            raise
        return self._decode(raw, "GET", url), headers.get("ETag")

    def _with_query(self, path, query):
        url = self.url_for(path)
        if query:
            url += "?" + "&".join(
                "{}={}".format(quote(str(k), safe=""), quote(str(v), safe=""))
                for k, v in query.items()
                if v is not None
            )
        return url

    def _open(self, method, url, body, timeout, headers):
        """The answer's bytes and headers; ControllerError for anything but a 2xx."""
        headers = dict(headers or {}, Accept="application/json")
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token:
            headers[TOKEN_HEADER] = self.token
        try:
            response = open_url(
                url,
                data=data,
                headers=headers,
                method=method,
                validate_certs=self.validate_certs,
                timeout=timeout or self.timeout,
                follow_redirects="safe",
            )
            return response.read(), response.headers
        except HTTPError as exc:
            if exc.code == 304:  # urllib takes every answer but a 2xx for an error
                raise ControllerError("not modified", status=304, method=method, url=url) from None
            raise self._http_error(exc, method, url) from None
        except URLError as exc:
            raise ControllerError(
                f"could not reach the {self.what} at {self.base_url}: {exc.reason}; "
                "check the URL and that it is running",
                method=method,
                url=url,
            ) from None
        except (OSError, ValueError) as exc:  # timeouts, resets, malformed URLs
            raise ControllerError(f"{method} {url} failed: {exc}", method=method, url=url) from None

    def _decode(self, raw, method, url):
        if not raw or not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ControllerError(
                f"{method} {url} answered something that is not JSON: {raw[:200]!r}",
                method=method,
                url=url,
            ) from None

    def _http_error(self, exc, method, url):
        try:
            raw = exc.read() or b""
        except (OSError, AttributeError):
            raw = b""
        message = None
        title = None
        try:
            error = json.loads(raw).get("error")
            if isinstance(error, dict):
                message = error.get("message")
                title = error.get("title")
        except (ValueError, AttributeError):
            pass
        if not message:
            text = raw.decode("utf-8", "replace").strip()[:300]
            message = "{} {} answered HTTP {}{}".format(
                method,
                url,
                exc.code,
                ": " + text if text else "",
            )
        return ControllerError(message, status=exc.code, title=title, method=method, url=url)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body=body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request("PUT", path, body=body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


class ControllerClient(JsonClient):
    """The controller's REST API (the wire contract of OpenStack Fenix, plus extensions)."""

    what = "Fenix controller"

    def list_session_ids(self):
        answer = self.get("/v1/maintenance") or {}
        # Fenix's code answered `sessions`, its documentation `session_id`: read either.
        ids = answer.get("sessions")
        if ids is None:
            ids = answer.get("session_id") or []
        return list(ids)

    def create_session(self, body):
        return self.post("/v1/maintenance", body)["session_id"]

    def can_plan(self):
        """Whether the controller plans sessions: its API document (none from OpenStack
        Fenix) names POST /v1/maintenance/plan."""
        try:
            document = self.get("/v1/openapi.json") or {}
        except ControllerError as exc:
            if exc.status in (404, 405):
                return False
            raise
        return "post" in (document.get("paths") or {}).get("/v1/maintenance/plan", {})

    def plan_session(self, body):
        """The plan of the session this body would create; nothing is created."""
        return self.post("/v1/maintenance/plan", body)

    def get_session(self, session_id):
        return self.get(f"/v1/maintenance/{path_quote(session_id)}")

    def get_session_detail(self, session_id):
        return self.get(f"/v1/maintenance/{path_quote(session_id)}/detail")

    def update_session(self, session_id, body):
        return self.put(f"/v1/maintenance/{path_quote(session_id)}", body)

    def delete_session(self, session_id):
        return self.delete(f"/v1/maintenance/{path_quote(session_id)}")

    def get_session_detail_if_changed(self, session_id, etag):
        """``(detail, its ETag)``, or ``(None, etag)`` while the detail tagged ``etag`` is
        current: the controller answers that 304 from a counter, without building it."""
        return self.get_if_changed(f"/v1/maintenance/{path_quote(session_id)}/detail", etag)

    def session_events(self, session_id, after=0):
        """Every event after ``after``, a page at a time (``more`` and ``next``; a controller
        older than paging answers them all at once, without ``more``)."""
        events = []
        while True:
            answer = self.get(
                f"/v1/maintenance/{path_quote(session_id)}/events",
                query={"after": after, "limit": EVENTS_PAGE},
            )
            answer = answer or {}
            events.extend(answer.get("events", []))
            if not answer.get("more"):
                return events
            after = answer["next"]

    def project_url(self, session_id, project_id):
        """Where a project's manager PUTs its reply (and GETs its affected instances)."""
        return self.url_for(f"/v1/maintenance/{path_quote(session_id)}/{path_quote(project_id)}")

    def get_instance_constraints(self, instance_id):
        return self.get(f"/v1/instance/{path_quote(instance_id)}")

    def get_group_constraints(self, group_id):
        return self.get(f"/v1/instance_group/{path_quote(group_id)}")


def controller_from_module(module):
    """A ControllerClient built from the module's controller options."""
    params = module.params
    return ControllerClient(
        params["url"],
        token=params.get("token"),
        validate_certs=params["validate_certs"],
        timeout=params["timeout"],
    )


def deadline_after(seconds):
    return time.monotonic() + seconds


def seconds_left(deadline):
    return max(0.0, deadline - time.monotonic())
