"""A manager that behaves as OpenStack Tacker's Fenix plug-in did (tacker/plugins/fenix.py with
its alarm receiver, the last release that had them), to test that it works against us unchanged.

What it does, as Tacker did:
- sets an instance constraint on each of its instances when it starts (`migration_type`
  MIGRATE: the VNFD's default), through PUT /v1/instance;
- is called by an AODH event alarm (`format: aodh`); it checks the notice first and answers
  400 to a state outside the six Fenix sent to managers, or to a PREPARE_MAINTENANCE or
  PLANNED_MAINTENANCE whose `instance_ids` or `allowed_actions` is not a list (it then
  never replies to it);
- answers the POST at once and replies on a thread of its own: `{"session_id", "state":
  "ACK_<state>"}` to every notice it handled, INSTANCE_ACTION_DONE included, with
  `instance_action` (its constraint's migration_type) for PREPARE_MAINTENANCE and
  PLANNED_MAINTENANCE and `instance_ids` for MAINTENANCE and MAINTENANCE_COMPLETE;
- retries a reply that is not answered 200, five times, a pause apart;
- and, as seen in the field, sends each reply twice, a few milliseconds apart.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from flask import Flask, Response, request

from fenix.drivers.simulated import SimulatedDriver
from fenix.wsgi import serve_in_thread
from tests.controller.fenix_style_manager import _parse, subscribe_alarm

KNOWN_STATES = frozenset(
    {
        "MAINTENANCE",
        "SCALE_IN",
        "PREPARE_MAINTENANCE",
        "PLANNED_MAINTENANCE",
        "INSTANCE_ACTION_DONE",
        "MAINTENANCE_COMPLETE",
    }
)
"""Tacker's constants.RES_EVT_MAINTENANCE: any other state fails its validation (400)."""
REQUIRED_KEYS = ("instance_ids", "session_id", "state", "reply_url")
LISTS_REQUIRED = {"PREPARE_MAINTENANCE", "PLANNED_MAINTENANCE"}
RETRIES = 5


@dataclass
class TackerStyleManager:
    project_id: str
    token: str | None
    cloud: SimulatedDriver
    retry_wait: float = 0.2
    """Tacker waited 5 s between tries; scaled down."""
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    """Every POST: its state and the status the manager answered."""
    calls: list[tuple[str, int]] = field(default_factory=list)
    """(state sent, HTTP status) of every PUT to a reply_url, copies and retries included."""
    sent: list[str] = field(default_factory=list)
    """Each reply once, however many times it was PUT."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)
    _server: Any = None

    def start(self, controller_url: str) -> TackerStyleManager:
        app = Flask(f"tacker-style-{self.project_id}")
        app.add_url_rule("/alarm", "alarm", self._on_post, methods=["POST"])
        self._server = serve_in_thread(app, threads=8, name=f"tacker-{self.project_id}")
        self.url = f"{self._server.url}/alarm"
        self._set_constraints(controller_url)
        self._subscribe(controller_url)
        return self

    def stop(self) -> None:
        for thread in list(self._threads):
            thread.join(30)
        if self._server is not None:
            self._server.stop()

    def idle(self) -> bool:
        """No reply still being sent."""
        return not any(thread.is_alive() for thread in self._threads)

    # -- set-up, as Tacker does when the VNF is created --------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token or "", "Content-Type": "application/json"}

    def _set_constraints(self, controller_url: str) -> None:
        for instance in self.cloud.list_instances(project_id=self.project_id):
            response = requests.put(
                f"{controller_url}/v1/instance/{instance.instance_id}",
                json={
                    "instance_id": instance.instance_id,
                    "project_id": self.project_id,
                    "migration_type": "MIGRATE",
                    "max_interruption_time": 120,
                    "lead_time": 0,
                    "resource_mitigation": True,
                },
                headers=self._headers(),
                timeout=10,
            )
            assert response.status_code == 200, response.text

    def _subscribe(self, controller_url: str) -> None:
        subscribe_alarm(controller_url, self.project_id, self.url, self.token, "aodh")

    # -- the alarm receiver ----------------------------------------------------------------
    def _on_post(self) -> Response:
        _message_id, _event_type, payload = _parse(request.get_json(force=True))
        state = payload.get("state")
        status = 200 if self._valid(payload) else 400
        with self.lock:
            self.received.append({"state": state, "status": status, "payload": payload})
        if status == 200:
            thread = threading.Thread(target=self._reply, args=(payload,), daemon=True)
            self._threads.append(thread)
            thread.start()
        return Response("{}", status=status, content_type="application/json")

    @staticmethod
    def _valid(payload: dict[str, Any]) -> bool:
        if not set(REQUIRED_KEYS) <= set(payload) or payload["state"] not in KNOWN_STATES:
            return False
        if payload["state"] in LISTS_REQUIRED:
            return all(
                isinstance(payload.get(k), list) for k in ("allowed_actions", "instance_ids")
            )
        return True

    def _reply(self, payload: dict[str, Any]) -> None:
        state = payload["state"]
        data: dict[str, Any] = {"session_id": payload["session_id"], "state": f"ACK_{state}"}
        mine = sorted(i.instance_id for i in self.cloud.list_instances(project_id=self.project_id))
        if state in ("MAINTENANCE", "MAINTENANCE_COMPLETE", "SCALE_IN"):
            data["instance_ids"] = mine
        elif state in LISTS_REQUIRED:
            data["instance_action"] = "MIGRATE"
        with self.lock:
            self.sent.append(data["state"])
        twin = threading.Thread(target=self._put_with_retries, args=(payload["reply_url"], data))
        twin.start()
        time.sleep(0.005)
        self._put_with_retries(payload["reply_url"], data)
        twin.join()

    def _put_with_retries(self, url: str, data: dict[str, Any]) -> None:
        for _attempt in range(RETRIES):
            response = requests.put(url, json=data, headers=self._headers(), timeout=30)
            with self.lock:
                self.calls.append((data["state"], response.status_code))
            if response.status_code == 200:
                return
            time.sleep(self.retry_wait)
