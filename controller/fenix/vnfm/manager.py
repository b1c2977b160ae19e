"""The sample VNFM: one project's manager answering the maintenance conversation.

Modelled on OPNFV Doctor's sample VNFM for Fenix, so the demo and users can watch a whole
session with a manager in the loop, and tests can put a slow, silent or NACKing manager against
the engine. Notifications are taken in at once and handled one at a time, in order, on a worker
thread: the controller never waits on the manager, and the manager's answers come out in the
order the steps were asked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from fenix.vnfm.app import create_vnfm_app
from fenix.vnfm.config import VnfmConfig
from fenix.wsgi import ServerHandle, serve_in_thread

logger = logging.getLogger("fenix.vnfm")

PLANNED_EVENT_TYPES = frozenset({"maintenance.planned", "maintenance.scheduled"})
"""Fenix's code sent maintenance.scheduled, its documentation said maintenance.planned."""

NOTICE_STATES = frozenset(
    {
        "IN_MAINTENANCE",
        "INSTANCE_ACTION_DONE",
        "ADMIN_ACTION_DONE",
        "MAINTENANCE_DONE",
        "MAINTENANCE_FAILED",
    }
)
"""Steps that only inform the manager: recorded, never answered."""


class ControllerUnreachable(RuntimeError):
    """The controller could not be asked (down, restarting, answering 5xx) even after the
    retries: no ground for a NACK, which would fail the whole session. The step goes
    unanswered and the controller applies its default when the reply window closes."""


class VnfmError(RuntimeError):
    """The VNFM could not do what a step or its own start needs; the message says why."""


@dataclass(frozen=True)
class _Notification:
    event_type: str
    payload: dict[str, Any]
    message_id: str | None


_STOP = object()

CONTROLLER_RETRY = Retry(
    total=10,
    backoff_factor=0.5,
    backoff_max=5,
    status_forcelist=(502, 503, 504),
    allowed_methods=frozenset({"GET", "PUT", "DELETE"}),
    raise_on_status=False,
)
"""Calls to the controller ride out its restart (connection refused, 502/503/504 from a
balancer in front of it): about 37 s of backoff (0, 1, 2, 4, then 5 s apart) before giving up,
since a controller restarting on a loaded machine took more than 15 s. A reply is a PUT: sent
twice, the controller records the second as a repeat (409), so retrying it is safe."""


class SampleVnfm:
    """A project's VNF manager: subscribes on start, answers each step, unsubscribes on stop."""

    def __init__(self, config: VnfmConfig) -> None:
        self.config = config
        self._http = requests.Session()
        """Subscribing and unsubscribing: at once, so a wrong URL is said without delay."""
        self._talk = requests.Session()
        """The conversation (instance lists, replies): retried while the controller restarts."""
        for adapter_prefix in ("http://", "https://"):
            self._talk.mount(adapter_prefix, HTTPAdapter(max_retries=CONTROLLER_RETRY))
        if config.token:
            self._http.headers["X-Auth-Token"] = config.token
            self._talk.headers["X-Auth-Token"] = config.token
        self._server: ServerHandle | None = None
        self._worker: threading.Thread | None = None
        self._inbox: queue.Queue[object] = queue.Queue()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self._seen_message_ids: set[str] = set()
        self._subscription_id: str | None = None
        self._removed: list[str] = []
        """Instances it scaled in, to re-create on MAINTENANCE_COMPLETE."""
        self._created: list[str] = []
        self._steps = {
            "MAINTENANCE": self._on_maintenance,
            "SCALE_IN": self._on_scale_in,
            "PREPARE_MAINTENANCE": self._on_instance_step,
            "PLANNED_MAINTENANCE": self._on_instance_step,
            "MAINTENANCE_COMPLETE": self._on_maintenance_complete,
        }

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> SampleVnfm:
        """Serve the callback endpoint, start the worker, then subscribe on the controller."""
        if self._server is not None or self._stopping.is_set():
            raise VnfmError("this VNFM was already started; create another one")
        self._server = serve_in_thread(
            create_vnfm_app(self),
            host=self.config.listen_host,
            port=self.config.listen_port,
            threads=4,
            name=f"vnfm-{self.config.project_id}",
        )
        self._worker = threading.Thread(
            target=self._work, name=f"vnfm-{self.config.project_id}-worker", daemon=True
        )
        self._worker.start()
        try:
            self._subscribe()
        except BaseException:
            self._stop_local()
            raise
        logger.info(
            "project %s: VNFM at %s, subscribed as %s",
            self.config.project_id,
            self.callback_url,
            self._subscription_id,
        )
        return self

    def stop(self) -> None:
        """Unsubscribe (a controller that is gone is fine), then stop the worker and server."""
        if self._subscription_id is not None:
            url = f"{self.config.controller_url}/v1/subscriptions/{self._subscription_id}"
            try:
                response = self._http.delete(url, timeout=self.config.http_timeout)
                logger.info(
                    "project %s: unsubscribed %s (HTTP %s)",
                    self.config.project_id,
                    self._subscription_id,
                    response.status_code,
                )
            except requests.RequestException as exc:
                logger.info(
                    "project %s: could not unsubscribe (%s); the controller may be gone",
                    self.config.project_id,
                    exc,
                )
            self._subscription_id = None
        self._stop_local()

    def __enter__(self) -> SampleVnfm:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _stop_local(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._worker is not None:
            self._inbox.put(_STOP)
            self._worker.join(self.config.http_timeout + 5)
            self._worker = None
        if self._server is not None:
            self._server.stop()
        self._http.close()
        self._talk.close()

    # -- what it shows -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of its HTTP service (as reachable by the controller)."""
        if self._server is None:
            raise VnfmError("the VNFM is not started")
        host = self.config.callback_host or self.config.listen_host
        if host in ("0.0.0.0", "::", ""):
            host = socket.getfqdn()  # a wildcard address is no place to call back to
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._server.port}"

    @property
    def callback_url(self) -> str:
        """Where the controller posts its notifications."""
        return f"{self.url}/maintenance"

    @property
    def subscription_id(self) -> str | None:
        return self._subscription_id

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every message received and sent, oldest first (a copy)."""
        with self._lock:
            return list(self._messages)

    # -- receiving ---------------------------------------------------------------------------

    def signed_by_controller(self, body: bytes, header: str | None) -> bool:
        """True when `header` is the HMAC-SHA256 of `body` with its subscription's secret."""
        if not header or not self.config.secret:
            return False
        expected = hmac.new(self.config.secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(f"sha256={expected}", header)

    def receive(self, body: Any) -> bool:
        """Take in one delivery (fenix or aodh format); False when it is a duplicate.

        Raises ValueError when the body is not a notification.
        """
        notification = parse_delivery(body)
        project = notification.payload.get("project_id")
        if project is not None and project != self.config.project_id:
            raise ValueError(f"a notification for project {project}, not {self.config.project_id}")
        with self._lock:
            if notification.message_id is not None:
                if notification.message_id in self._seen_message_ids:
                    duplicate = True
                else:
                    self._seen_message_ids.add(notification.message_id)
                    duplicate = False
            else:
                duplicate = False
            if not duplicate:
                self._record("received", notification.payload.get("state"), notification.payload)
        if duplicate:
            logger.info(
                "project %s: dropped duplicate message %s",
                self.config.project_id,
                notification.message_id,
            )
            return False
        self._inbox.put(notification)
        return True

    def _record(
        self, direction: str, state: Any, body: Any, http_status: int | None = None
    ) -> None:
        entry: dict[str, Any] = {
            "at": datetime.now(UTC).isoformat(),
            "direction": direction,
            "state": state,
            "body": body,
        }
        if direction == "sent":
            entry["http_status"] = http_status
        self._messages.append(entry)

    def _work(self) -> None:
        while True:
            item = self._inbox.get()
            if item is _STOP:
                return
            assert isinstance(item, _Notification)
            try:
                self._handle(item)
            except Exception:
                # Keep answering later steps; the traceback says what went wrong with this one.
                logger.exception(
                    "project %s: failed handling %s", self.config.project_id, item.payload
                )

    # -- the conversation --------------------------------------------------------------------

    def _handle(self, notification: _Notification) -> None:
        project = self.config.project_id
        payload = notification.payload
        state = str(payload.get("state"))
        session = payload.get("session_id")
        if notification.event_type not in PLANNED_EVENT_TYPES:
            logger.info("project %s: ignored event %s", project, notification.event_type)
            return
        step = self._steps.get(state)
        if step is None:
            if state in NOTICE_STATES:
                logger.info("project %s: session %s says %s", project, session, state)
            else:
                logger.warning("project %s: unknown step %s ignored", project, state)
            return
        if self.config.silent:
            logger.info("project %s: %s received; silent, not answering", project, state)
            return
        if state in self.config.nack_states:
            logger.info("project %s: %s received; NACK as configured", project, state)
            self._reply(payload, {"state": f"NACK_{state}"})
            return
        try:
            reply = step(payload)
        except ControllerUnreachable as exc:
            logger.error(
                "project %s: %s: %s; not answering (the controller's default applies)",
                project,
                state,
                exc,
            )
            return
        except VnfmError as exc:
            logger.error("project %s: %s: %s; answering NACK_%s", project, state, exc, state)
            reply = {"state": f"NACK_{state}"}
        self._reply(payload, reply)

    def _on_maintenance(self, payload: dict[str, Any]) -> dict[str, Any]:
        logger.info(
            "project %s: maintenance of session %s announced, starting at %s",
            self.config.project_id,
            payload.get("session_id"),
            payload.get("actions_at"),
        )
        return {"state": "ACK_MAINTENANCE"}

    def _on_scale_in(self, payload: dict[str, Any]) -> dict[str, Any]:
        project = self.config.project_id
        cloud = self.config.cloud
        if cloud is None:
            logger.info("project %s: SCALE_IN asked but no cloud to scale with; ACK", project)
            return {"state": "ACK_SCALE_IN"}
        candidates = [i for i in self._own_instances(payload) if i not in self._removed]
        victims = sorted(candidates)[-self.config.scale_in :] if self.config.scale_in else []
        for instance_id in victims:
            self._cloud_call("delete_instance", cloud.delete_instance, instance_id)
            self._removed.append(instance_id)
        logger.info("project %s: scaled in, removed %s", project, victims or "nothing")
        return {"state": "ACK_SCALE_IN"}

    def _on_instance_step(self, payload: dict[str, Any]) -> dict[str, Any]:
        project = self.config.project_id
        state = payload["state"]
        action = self.config.instance_action
        instance_ids = self._affected_instances(payload)
        allowed = payload.get("allowed_actions")
        if allowed and action not in allowed:
            logger.warning(
                "project %s: %s not in allowed_actions %s; answering it anyway",
                project,
                action,
                allowed,
            )
        if action == "OWN_ACTION" and instance_ids:
            self._move_own(instance_ids)
        logger.info("project %s: %s for %s: %s", project, state, instance_ids, action)
        return {
            "state": f"ACK_{state}",
            "instance_actions": {instance_id: action for instance_id in instance_ids},
        }

    def _on_maintenance_complete(self, payload: dict[str, Any]) -> dict[str, Any]:
        project = self.config.project_id
        cloud = self.config.cloud
        if not self._removed:
            logger.info("project %s: maintenance complete, nothing to scale back", project)
            return {"state": "ACK_MAINTENANCE_COMPLETE"}
        assert cloud is not None  # only a cloud could have removed instances
        created = []
        while self._removed:
            instance = self._cloud_call("create_instance", cloud.create_instance, project)
            self._removed.pop()
            created.append(_instance_id_of(instance))
        self._created.extend(created)
        logger.info("project %s: maintenance complete, scaled back up: %s", project, created)
        return {"state": "ACK_MAINTENANCE_COMPLETE"}

    # -- helpers -----------------------------------------------------------------------------

    def _move_own(self, instance_ids: list[str]) -> None:
        project = self.config.project_id
        cloud = self.config.cloud
        if cloud is None:
            logger.info(
                "project %s: OWN_ACTION but no cloud to move %s with", project, instance_ids
            )
            return
        started = {
            instance_id: self._cloud_call("live_migrate", cloud.live_migrate, instance_id)
            for instance_id in instance_ids
        }
        for instance_id, action_id in started.items():
            result = self._cloud_call(
                "wait_action", cloud.wait_action, action_id, self.config.action_timeout
            )
            status = str(getattr(result, "status", result))
            if status != "DONE":
                logger.warning("project %s: own move of %s ended %s", project, instance_id, status)
            else:
                logger.info("project %s: moved %s itself", project, instance_id)

    def _affected_instances(self, payload: dict[str, Any]) -> list[str]:
        """payload["instance_ids"]: a URL on the controller, or (vnf workflow) a list of ids."""
        value = payload.get("instance_ids")
        if value is None:
            return []
        if isinstance(value, list):
            return [str(v) for v in value]
        url = self._controller_url_of(value)
        try:
            response = self._talk.get(url, timeout=self.config.http_timeout)
        except requests.RequestException as exc:
            raise ControllerUnreachable(
                f"cannot get the affected instances from {url}: {exc}"
            ) from exc
        if response.status_code >= 500:
            raise ControllerUnreachable(
                f"GET {url} answered HTTP {response.status_code} after retries"
            )
        if response.status_code != 200:
            raise VnfmError(
                f"GET {url} answered HTTP {response.status_code}: {response.text[:200]}"
            )
        try:
            ids = response.json()["instance_ids"]
        except (ValueError, KeyError, TypeError) as exc:
            raise VnfmError(f"GET {url} gave no instance_ids list: {response.text[:200]}") from exc
        return [str(v) for v in ids]

    def _controller_url_of(self, value: Any) -> str:
        """`value` resolved against the controller's URL; VnfmError when it leads elsewhere.

        The token goes with every call: a URL in a notification must not send it to another
        server, even in a signed one.
        """
        url = urljoin(f"{self.config.controller_url}/", str(value))
        base, target = urlsplit(f"{self.config.controller_url}/"), urlsplit(url)
        same_server = (base.scheme, base.netloc.lower()) == (target.scheme, target.netloc.lower())
        if not same_server or not target.path.startswith(base.path):
            raise VnfmError(f"{url} is not under the controller's URL {self.config.controller_url}")
        return url

    def _own_instances(self, payload: dict[str, Any]) -> list[str]:
        """Its instances: from the cloud when it can list them, else as the controller says."""
        cloud = self.config.cloud
        list_instances = getattr(cloud, "list_instances", None)
        if callable(list_instances):
            found = self._cloud_call(
                "list_instances", list_instances, project_id=self.config.project_id
            )
            return [_instance_id_of(instance) for instance in found]
        if payload.get("instance_ids") is not None:
            return self._affected_instances(payload)
        return list(self._created)

    def _cloud_call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            logger.warning(
                "project %s: cloud %s failed", self.config.project_id, what, exc_info=True
            )
            raise VnfmError(f"cloud {what}{args} failed: {exc}") from exc

    def _reply(self, payload: dict[str, Any], reply: dict[str, Any]) -> None:
        project = self.config.project_id
        reply_url = payload.get("reply_url")
        if not reply_url:
            logger.error("project %s: %s has no reply_url; cannot answer", project, payload)
            return
        if self.config.reply_delay and self._stopping.wait(self.config.reply_delay):
            return  # stopped while waiting: the controller will treat it as no answer
        try:
            url = self._controller_url_of(reply_url)
        except VnfmError as exc:
            logger.error("project %s: not answering %s: %s", project, reply["state"], exc)
            return
        status: int | None = None
        try:
            response = self._talk.put(url, json=reply, timeout=self.config.http_timeout)
            status = response.status_code
        except requests.RequestException as exc:
            logger.error("project %s: could not send %s: %s", project, reply["state"], exc)
        with self._lock:
            self._record("sent", reply["state"], reply, status)
        if status is not None:
            log = logger.info if status < 400 else logger.warning
            log("project %s: sent %s (HTTP %s)", project, reply["state"], status)

    def _subscribe(self) -> None:
        url = f"{self.config.controller_url}/v1/subscriptions"
        body = {
            "event_types": ["maintenance.planned"],
            "project_id": self.config.project_id,
            "callback_url": self.callback_url,
            "format": self.config.subscribe_format,
            "secret": self.config.secret,
        }
        try:
            response = self._http.post(url, json=body, timeout=self.config.http_timeout)
        except requests.RequestException as exc:
            raise VnfmError(
                f"cannot reach the controller at {self.config.controller_url} ({exc}); "
                "is `fenix serve` running there?"
            ) from exc
        if response.status_code not in (200, 201):
            raise VnfmError(
                f"subscribing at {url} answered HTTP {response.status_code}: "
                f"{response.text[:300]} (check controller_url, project_id and token)"
            )
        try:
            self._subscription_id = str(response.json()["subscription_id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise VnfmError(f"subscribing at {url} gave no subscription_id") from exc


def parse_delivery(body: Any) -> _Notification:
    """A notification as delivered: fenix format, oslo envelope, or an AODH event alarm."""
    if not isinstance(body, dict):
        raise ValueError("a notification is a JSON object")
    if isinstance(body.get("reason_data"), dict):
        event = body["reason_data"].get("event")
        if not isinstance(event, dict):
            raise ValueError("an AODH event alarm needs reason_data.event")
        payload = {str(t[0]): _trait_value(t[2]) for t in event.get("traits", []) if len(t) == 3}
        event_type, message_id = event.get("event_type"), event.get("message_id")
    else:
        event_type, payload = body.get("event_type"), body.get("payload")
        message_id = body.get("message_id")
    if not isinstance(event_type, str) or not isinstance(payload, dict):
        raise ValueError("a notification needs an event_type and a payload object")
    return _Notification(event_type, payload, None if message_id is None else str(message_id))


def _trait_value(value: Any) -> Any:
    """AODH traits carry lists and objects as JSON strings."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _instance_id_of(instance: Any) -> str:
    """The id of what a cloud returned for an instance: an id, a dict or an info object."""
    if isinstance(instance, str):
        return instance
    if isinstance(instance, dict):
        return str(instance.get("instance_id") or instance["id"])
    return str(getattr(instance, "instance_id", None) or instance.id)
