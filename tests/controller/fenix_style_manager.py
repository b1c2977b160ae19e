"""A manager written the way managers for OpenStack Fenix are, to test that they work unchanged.

Such a manager was called by an AODH event alarm (subscribed here with `format: aodh`, or with
Fenix's own format), and:
- does its work *inside* the POST handler (scales through the cloud, then PUTs its reply to
  `reply_url`) and answers the POST only when done, seconds later;
- keeps no record of what it was sent: every copy of a question is acted on again;
- answers 500 to a state it does not know (INSTANCE_ACTION_DONE, ADMIN_ACTION_DONE, ...);
- counts what it did, so a test can tell a scale-in done twice from one done once.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests
from flask import Flask, Response, request

from fenix.drivers.simulated import SimulatedDriver
from fenix.wsgi import serve_in_thread

QUESTIONS = {
    "MAINTENANCE",
    "SCALE_IN",
    "PREPARE_MAINTENANCE",
    "PLANNED_MAINTENANCE",
    "MAINTENANCE_COMPLETE",
}


@dataclass
class FenixStyleManager:
    project_id: str
    token: str | None
    cloud: SimulatedDriver
    work_seconds: float
    """How long the handler works on a question before it answers (scaled-down 10-30 s)."""
    scale_in: int = 0
    """Instances removed on SCALE_IN, created again on MAINTENANCE_COMPLETE."""
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    """Every POST, copies included: message_id, event_type, state, payload, answered status."""
    did: Counter[str] = field(default_factory=Counter)
    replies: list[tuple[str, int, str]] = field(default_factory=list)
    """(state sent, HTTP status, body) of every PUT to a reply_url."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _removed: list[str] = field(default_factory=list)
    _server: Any = None

    def start(self) -> FenixStyleManager:
        app = Flask(f"fenix-style-{self.project_id}")
        app.add_url_rule("/alarm", "alarm", self._on_post, methods=["POST"])
        self._server = serve_in_thread(app, threads=8, name=f"manager-{self.project_id}")
        self.url = f"{self._server.url}/alarm"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def subscribe(self, controller_url: str, fmt: str) -> None:
        subscribe_alarm(controller_url, self.project_id, self.url, self.token, fmt)

    def questions_seen(self) -> Counter[str]:
        """How many POSTs each question's message came in (1 each, for a manager that works)."""
        with self.lock:
            return Counter(r["message_id"] for r in self.received if r["state"] in QUESTIONS)

    # -- the handler -----------------------------------------------------------------------
    def _on_post(self) -> Response:
        message_id, event_type, payload = _parse(request.get_json(force=True))
        state = payload.get("state")
        entry = {"message_id": message_id, "event_type": event_type, "state": state}
        with self.lock:
            self.received.append({**entry, "payload": payload, "at": time.monotonic()})
        if state not in QUESTIONS:
            return Response("unknown state", status=500)
        # The Heat stack update, the floating IP switch-over: scaling takes twice as long.
        long_step = state in ("SCALE_IN", "MAINTENANCE_COMPLETE")
        time.sleep(self.work_seconds * (2 if long_step else 1))
        answer: dict[str, Any] = {"state": f"ACK_{state}"}
        if state == "SCALE_IN":
            self._scale_in()
        elif state == "MAINTENANCE_COMPLETE":
            self._scale_out()
        elif state in ("PREPARE_MAINTENANCE", "PLANNED_MAINTENANCE"):
            ids = self._instance_ids(payload["instance_ids"])
            answer["instance_actions"] = {instance_id: "MIGRATE" for instance_id in ids}
        reply = requests.put(
            payload["reply_url"],
            json=answer,
            headers={"X-Auth-Token": self.token or ""},
            timeout=10,
        )
        with self.lock:
            self.replies.append((answer["state"], reply.status_code, reply.text))
        return Response("{}", status=200, content_type="application/json")

    def _instance_ids(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        listed = requests.get(value, headers={"X-Auth-Token": self.token or ""}, timeout=10)
        return listed.json()["instance_ids"]

    def _scale_in(self) -> None:
        mine = sorted(i.instance_id for i in self.cloud.list_instances(project_id=self.project_id))
        victims = mine[-self.scale_in :] if self.scale_in else []
        for instance_id in victims:
            self.cloud.delete_instance(instance_id)
        with self.lock:
            self._removed.extend(victims)
            self.did["scale_in"] += 1
            self.did["deleted"] += len(victims)

    def _scale_out(self) -> None:
        with self.lock:
            removed, self._removed = self._removed, []
        for _ in removed:
            self.cloud.create_instance(self.project_id)
        with self.lock:
            self.did["scale_out"] += 1
            self.did["created"] += len(removed)


def subscribe_alarm(
    controller_url: str, project_id: str, callback_url: str, token: str | None, fmt: str
) -> None:
    """Subscribe as a Fenix-era manager's alarm would: to maintenance.scheduled."""
    response = requests.post(
        f"{controller_url}/v1/subscriptions",
        json={
            "event_types": ["maintenance.scheduled"],
            "project_id": project_id,
            "callback_url": callback_url,
            "format": fmt,
        },
        headers={"X-Auth-Token": token or ""},
        timeout=10,
    )
    assert response.status_code == 201, response.text


def _parse(body: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(message id, event type, payload) from an AODH alarm's POST or a Fenix body."""
    if "reason_data" in body:
        event = body["reason_data"]["event"]
        payload = {}
        for name, kind, value in event["traits"]:
            if kind == 1 and isinstance(value, str) and value[:1] in "[{":
                value = json.loads(value)
            payload[name] = value
        return event["message_id"], event["event_type"], payload
    return body["message_id"], body["event_type"], body["payload"]
