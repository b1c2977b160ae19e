"""The sample VNFM against a real HTTP controller stand-in: it subscribes, answers every step of
the conversation in the wire contract's shapes, and misbehaves (NACK, silent, slow) on request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from flask import Flask, jsonify, request
from tests.controller.live import wait_until

from fenix.cli import vnfm_token
from fenix.vnfm import SampleVnfm, VnfmConfig, create_vnfm_app, run_vnfm
from fenix.vnfm.manager import VnfmError
from fenix.wsgi import ServerHandle, serve_in_thread

PROJECT = "project-1"
SESSION = "695030ee-1c4d-11e8-a9b0-0242ac110002"
TOKEN = "member-token"


class ControllerStandIn:
    """Just enough of the controller's API for a VNFM: subscriptions, instance ids, replies."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.server: ServerHandle | None = None
        self.reset()

    def reset(self) -> None:
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.subscribe_headers: list[dict[str, str]] = []
        self.deleted: list[str] = []
        self.instance_ids: list[str] = []
        self.instance_asks = 0
        self.instance_status = 200
        """What GET of the affected instances answers: 503 stands for a controller away."""
        self.replies: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def project_url(self, session_id: str = SESSION) -> str:
        return f"{self.url}/v1/maintenance/{session_id}/{PROJECT}"

    def wait_replies(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.replies) >= count, timeout)
            assert len(self.replies) >= count, f"got {len(self.replies)} replies, want {count}"
            return list(self.replies)

    def app(self) -> Flask:
        app = Flask("controller-stand-in")

        @app.post("/v1/subscriptions")
        def subscribe():
            subscription_id = str(uuid.uuid4())
            self.subscriptions[subscription_id] = request.get_json()
            self.subscribe_headers.append(dict(request.headers))
            return jsonify({"subscription_id": subscription_id, **request.get_json()}), 201

        @app.delete("/v1/subscriptions/<subscription_id>")
        def unsubscribe(subscription_id: str):
            if self.subscriptions.pop(subscription_id, None) is None:
                return jsonify({"error": {"code": 404}}), 404
            self.deleted.append(subscription_id)
            return jsonify({})

        @app.get("/v1/maintenance/<session_id>/<project_id>")
        def affected(session_id: str, project_id: str):
            self.instance_asks += 1
            if self.instance_status != 200:
                return jsonify({"error": {"code": self.instance_status}}), self.instance_status
            return jsonify({"instance_ids": self.instance_ids})

        @app.put("/v1/maintenance/<session_id>/<project_id>")
        def reply(session_id: str, project_id: str):
            with self._changed:
                self.replies.append(
                    {
                        "at": time.monotonic(),
                        "session_id": session_id,
                        "project_id": project_id,
                        "token": request.headers.get("X-Auth-Token"),
                        "body": request.get_json(),
                    }
                )
                self._changed.notify_all()
            return jsonify({})

        return app


class RecordingCloud:
    """Stands for the simulated cloud driver: records what the VNFM asks of it."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._created = 0

    def create_instance(self, project_id: str) -> SimpleNamespace:
        self._created += 1
        instance_id = f"{project_id}-vm-new-{self._created}"
        self.calls.append(("create_instance", project_id))
        return SimpleNamespace(instance_id=instance_id, project_id=project_id)

    def delete_instance(self, instance_id: str) -> None:
        self.calls.append(("delete_instance", instance_id))

    def live_migrate(self, instance_id: str, target_host: str | None = None) -> str:
        self.calls.append(("live_migrate", instance_id))
        return f"action-{instance_id}"

    def wait_action(self, action_id: str, timeout: float) -> SimpleNamespace:
        self.calls.append(("wait_action", action_id))
        return SimpleNamespace(action_id=action_id, status="DONE")


def _serve_stand_in() -> ControllerStandIn:
    stand_in = ControllerStandIn()
    stand_in.server = serve_in_thread(stand_in.app(), name="controller-stand-in")
    return stand_in


@pytest.fixture(scope="module")
def shared_controller() -> Iterator[ControllerStandIn]:
    stand_in = _serve_stand_in()
    yield stand_in
    assert stand_in.server is not None
    stand_in.server.stop()


@pytest.fixture
def controller(shared_controller: ControllerStandIn) -> ControllerStandIn:
    """The module's stand-in with a clean record (every VNFM is stopped after its test)."""
    shared_controller.reset()
    return shared_controller


@pytest.fixture
def own_controller() -> Iterator[ControllerStandIn]:
    """A stand-in of the test's own, for tests that stop it."""
    stand_in = _serve_stand_in()
    yield stand_in
    assert stand_in.server is not None
    stand_in.server.stop()


@pytest.fixture
def start_vnfm(controller: ControllerStandIn) -> Iterator[Callable[..., SampleVnfm]]:
    started: list[SampleVnfm] = []

    def start(**settings: Any) -> SampleVnfm:
        settings.setdefault("token", TOKEN)
        vnfm = SampleVnfm(VnfmConfig(controller_url=controller.url, project_id=PROJECT, **settings))
        started.append(vnfm.start())
        return vnfm

    yield start
    for vnfm in started:
        vnfm.stop()


def notify(
    vnfm: SampleVnfm,
    controller: ControllerStandIn,
    state: str,
    message_id: str | None = None,
    **payload: Any,
) -> str:
    """POST a maintenance.planned notification, fenix format, to the VNFM's callback URL."""
    message_id = message_id or str(uuid.uuid4())
    body = {
        "event_type": "maintenance.planned",
        "message_id": message_id,
        "timestamp": "2024-05-01T10:00:00+00:00",
        "payload": {
            "service": "fenix",
            "session_id": SESSION,
            "project_id": PROJECT,
            "state": state,
            "instance_ids": controller.project_url(),
            "allowed_actions": ["MIGRATE", "LIVE_MIGRATE", "OWN_ACTION"],
            "reply_url": controller.project_url(),
            "reply_at": "2024-05-01T10:00:20+00:00",
            "actions_at": "2024-05-01T10:05:00+00:00",
            "metadata": {"openstack": "upgrade"},
            **payload,
        },
    }
    response = post_signed(vnfm, controller, body)
    assert response.status_code == 200, response.text
    return message_id


def post_signed(
    vnfm: SampleVnfm, controller: ControllerStandIn, body: Any, secret: str | None = None
) -> requests.Response:
    """POST `body` to the VNFM as the controller does: signed with the subscription's secret."""
    if secret is None:
        secret = controller.subscriptions[vnfm.subscription_id]["secret"]
    data = json.dumps(body).encode()
    digest = hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
    return requests.post(
        vnfm.callback_url,
        data=data,
        headers={"Content-Type": "application/json", "X-Fenix-Signature": f"sha256={digest}"},
        timeout=5,
    )


def test_start_subscribes_for_its_project_and_stop_unsubscribes(controller, start_vnfm):
    vnfm = start_vnfm()

    assert vnfm.subscription_id in controller.subscriptions
    assert controller.subscriptions[vnfm.subscription_id] == {
        "event_types": ["maintenance.planned"],
        "project_id": PROJECT,
        "callback_url": vnfm.callback_url,
        "format": "fenix",
        "secret": vnfm.config.secret,
    }
    assert controller.subscribe_headers[0]["X-Auth-Token"] == TOKEN
    subscription_id = vnfm.subscription_id

    vnfm.stop()

    assert controller.deleted == [subscription_id]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{vnfm.url}/messages", timeout=2)


def test_stop_does_not_fail_when_the_controller_is_gone(own_controller):
    config = VnfmConfig(controller_url=own_controller.url, project_id=PROJECT)
    with SampleVnfm(config) as vnfm:
        own_controller.server.stop()
    assert vnfm.subscription_id is None


def test_start_fails_clearly_when_the_controller_is_unreachable(own_controller):
    url = own_controller.url
    own_controller.server.stop()
    vnfm = SampleVnfm(VnfmConfig(controller_url=url, project_id=PROJECT, http_timeout=2))
    with pytest.raises(VnfmError, match="cannot reach the controller"):
        vnfm.start()


@pytest.mark.slow
def test_a_reply_waits_out_a_controller_restart(own_controller, caplog):
    caplog.set_level(logging.WARNING, logger="urllib3.connectionpool")
    config = VnfmConfig(controller_url=own_controller.url, project_id=PROJECT, token=TOKEN)
    with SampleVnfm(config) as vnfm:
        port = own_controller.server.port
        own_controller.server.stop()  # the controller goes down...

        notify(vnfm, own_controller, "MAINTENANCE")
        wait_until(  # ...the reply finds nobody there, and is tried again...
            lambda: [r for r in caplog.records if "Retrying" in r.getMessage()],
            what="the reply tried and retried",
        )
        assert own_controller.replies == []
        own_controller.server = serve_in_thread(own_controller.app(), port=port)  # ...and back

        [reply] = own_controller.wait_replies(1)
    assert reply["body"] == {"state": "ACK_MAINTENANCE"}


def test_maintenance_is_acked_with_the_token(controller, start_vnfm):
    vnfm = start_vnfm()

    notify(vnfm, controller, "MAINTENANCE")

    [reply] = controller.wait_replies(1)
    assert reply["body"] == {"state": "ACK_MAINTENANCE"}
    assert (reply["session_id"], reply["project_id"], reply["token"]) == (SESSION, PROJECT, TOKEN)


def test_planned_maintenance_answers_an_action_for_each_instance_the_controller_lists(
    controller, start_vnfm
):
    controller.instance_ids = ["project-1-vm-1", "project-1-vm-2"]
    vnfm = start_vnfm()

    notify(vnfm, controller, "PLANNED_MAINTENANCE")

    [reply] = controller.wait_replies(1)
    assert reply["body"] == {
        "state": "ACK_PLANNED_MAINTENANCE",
        "instance_actions": {"project-1-vm-1": "LIVE_MIGRATE", "project-1-vm-2": "LIVE_MIGRATE"},
    }


def test_instance_ids_given_as_a_list_are_answered_directly(controller, start_vnfm):
    controller.instance_ids = ["not-asked-for"]
    vnfm = start_vnfm(instance_action="MIGRATE")

    notify(vnfm, controller, "PREPARE_MAINTENANCE", instance_ids=["project-1-vm-3"])

    [reply] = controller.wait_replies(1)
    assert reply["body"] == {
        "state": "ACK_PREPARE_MAINTENANCE",
        "instance_actions": {"project-1-vm-3": "MIGRATE"},
    }


def test_configured_steps_are_nacked(controller, start_vnfm):
    vnfm = start_vnfm(nack_states={"maintenance"})

    notify(vnfm, controller, "MAINTENANCE")
    notify(vnfm, controller, "PREPARE_MAINTENANCE", instance_ids=["project-1-vm-1"])

    first, second = controller.wait_replies(2)
    assert first["body"] == {"state": "NACK_MAINTENANCE"}
    assert second["body"]["state"] == "ACK_PREPARE_MAINTENANCE"


def test_silent_vnfm_never_replies(controller, start_vnfm):
    vnfm = start_vnfm(silent=True)

    notify(vnfm, controller, "MAINTENANCE")
    notify(vnfm, controller, "PLANNED_MAINTENANCE", instance_ids=["project-1-vm-1"])
    time.sleep(0.5)

    assert controller.replies == []
    assert [m["direction"] for m in vnfm.messages] == ["received", "received"]


def test_reply_delay_holds_the_reply_back(controller, start_vnfm):
    delay = 0.3
    vnfm = start_vnfm(reply_delay=delay)

    posted_at = time.monotonic()
    notify(vnfm, controller, "MAINTENANCE")

    [reply] = controller.wait_replies(1)
    assert reply["at"] - posted_at >= delay
    assert reply["body"] == {"state": "ACK_MAINTENANCE"}


def test_notices_are_recorded_but_not_answered(controller, start_vnfm):
    vnfm = start_vnfm()

    for notice in ("IN_MAINTENANCE", "ADMIN_ACTION_DONE", "MAINTENANCE_DONE", "NO_SUCH_STEP"):
        notify(vnfm, controller, notice)
    notify(vnfm, controller, "INSTANCE_ACTION_DONE", instance_ids="project-1-vm-1")
    notify(vnfm, controller, "MAINTENANCE")  # handled in order, so its reply comes last

    [reply] = controller.wait_replies(1)
    assert reply["body"] == {"state": "ACK_MAINTENANCE"}
    assert len(controller.replies) == 1
    assert [m["state"] for m in vnfm.messages if m["direction"] == "received"] == [
        "IN_MAINTENANCE",
        "ADMIN_ACTION_DONE",
        "MAINTENANCE_DONE",
        "NO_SUCH_STEP",
        "INSTANCE_ACTION_DONE",
        "MAINTENANCE",
    ]


def test_scale_in_deletes_instances_and_maintenance_complete_recreates_them(controller, start_vnfm):
    controller.instance_ids = ["project-1-vm-1", "project-1-vm-2", "project-1-vm-3"]
    cloud = RecordingCloud()
    vnfm = start_vnfm(cloud=cloud, scale_in=2)

    notify(vnfm, controller, "SCALE_IN")
    [scale_in] = controller.wait_replies(1)

    assert scale_in["body"] == {"state": "ACK_SCALE_IN"}
    assert cloud.calls == [
        ("delete_instance", "project-1-vm-2"),
        ("delete_instance", "project-1-vm-3"),
    ]

    notify(vnfm, controller, "MAINTENANCE_COMPLETE")
    _, complete = controller.wait_replies(2)

    assert complete["body"] == {"state": "ACK_MAINTENANCE_COMPLETE"}
    assert cloud.calls[2:] == [("create_instance", PROJECT), ("create_instance", PROJECT)]


def test_scale_in_picks_from_the_clouds_list_when_the_cloud_can_list(controller, start_vnfm):
    class ListingCloud(RecordingCloud):
        def list_instances(self, host=None, project_id=None):
            self.calls.append(("list_instances", project_id))
            return [SimpleNamespace(instance_id=f"{project_id}-vm-{k}") for k in (1, 2)]

    cloud = ListingCloud()
    vnfm = start_vnfm(cloud=cloud)

    notify(vnfm, controller, "SCALE_IN", instance_ids=None)
    controller.wait_replies(1)

    assert cloud.calls == [("list_instances", PROJECT), ("delete_instance", "project-1-vm-2")]


def test_without_a_cloud_scale_in_and_complete_are_acked_anyway(controller, start_vnfm):
    vnfm = start_vnfm()

    notify(vnfm, controller, "SCALE_IN")
    notify(vnfm, controller, "MAINTENANCE_COMPLETE")

    states = [r["body"]["state"] for r in controller.wait_replies(2)]
    assert states == ["ACK_SCALE_IN", "ACK_MAINTENANCE_COMPLETE"]


def test_own_action_moves_the_instances_before_acking(controller, start_vnfm):
    controller.instance_ids = ["project-1-vm-1", "project-1-vm-2"]
    cloud = RecordingCloud()
    vnfm = start_vnfm(cloud=cloud, instance_action="OWN_ACTION")

    notify(vnfm, controller, "PLANNED_MAINTENANCE")

    [reply] = controller.wait_replies(1)
    assert reply["body"]["instance_actions"] == {
        "project-1-vm-1": "OWN_ACTION",
        "project-1-vm-2": "OWN_ACTION",
    }
    assert cloud.calls == [
        ("live_migrate", "project-1-vm-1"),
        ("live_migrate", "project-1-vm-2"),
        ("wait_action", "action-project-1-vm-1"),
        ("wait_action", "action-project-1-vm-2"),
    ]


def test_duplicate_message_id_is_handled_once(controller, start_vnfm):
    vnfm = start_vnfm()

    message_id = notify(vnfm, controller, "MAINTENANCE")
    notify(vnfm, controller, "MAINTENANCE", message_id=message_id)
    notify(vnfm, controller, "PREPARE_MAINTENANCE", instance_ids=[])  # a marker after the two

    first, marker = controller.wait_replies(2)
    assert first["body"] == {"state": "ACK_MAINTENANCE"}
    assert marker["body"]["state"] == "ACK_PREPARE_MAINTENANCE"
    assert len(controller.replies) == 2
    assert [m["state"] for m in vnfm.messages if m["direction"] == "received"] == [
        "MAINTENANCE",
        "PREPARE_MAINTENANCE",
    ]


def test_messages_are_recorded_with_their_direction_and_served(controller, start_vnfm):
    vnfm = start_vnfm()

    notify(vnfm, controller, "MAINTENANCE")
    controller.wait_replies(1)
    # The reply is recorded right after the controller answered it; give that a moment.
    deadline = time.monotonic() + 2
    while len(vnfm.messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)

    received, sent = vnfm.messages
    assert received["direction"] == "received"
    assert received["state"] == "MAINTENANCE"
    assert received["body"]["session_id"] == SESSION
    assert sent["direction"] == "sent"
    assert sent["state"] == "ACK_MAINTENANCE"
    assert sent["body"] == {"state": "ACK_MAINTENANCE"}
    assert sent["http_status"] == 200
    assert received["at"] <= sent["at"]
    served = requests.get(f"{vnfm.url}/messages", timeout=5).json()
    assert served == {"project_id": PROJECT, "messages": [received, sent]}


def test_aodh_event_alarm_deliveries_are_understood(controller, start_vnfm):
    vnfm = start_vnfm(subscribe_format="aodh", instance_action="EVICTION")
    assert controller.subscriptions[vnfm.subscription_id]["format"] == "aodh"
    traits = [
        ["service", 1, "fenix"],
        ["session_id", 1, SESSION],
        ["project_id", 1, PROJECT],
        ["state", 1, "PLANNED_MAINTENANCE"],
        ["instance_ids", 1, '["project-1-vm-9"]'],
        ["reply_url", 1, controller.project_url()],
        ["reply_at", 4, "2024-05-01T10:00:20"],
    ]
    alarm = {
        "alarm_name": "maintenance",
        "alarm_id": str(uuid.uuid4()),
        "severity": "moderate",
        "previous": "insufficient data",
        "current": "alarm",
        "reason": "Event hits threshold",
        "reason_data": {
            "type": "event",
            "event": {
                "message_id": str(uuid.uuid4()),
                "event_type": "maintenance.scheduled",
                "generated": "2024-05-01T10:00:00",
                "traits": traits,
            },
        },
    }

    assert post_signed(vnfm, controller, alarm).status_code == 200

    [reply] = controller.wait_replies(1)
    assert reply["body"] == {
        "state": "ACK_PLANNED_MAINTENANCE",
        "instance_actions": {"project-1-vm-9": "EVICTION"},
    }


def test_a_body_that_is_no_notification_is_refused(controller, start_vnfm):
    vnfm = start_vnfm()

    response = post_signed(vnfm, controller, {"hello": "world"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == 400
    assert vnfm.messages == []


def test_run_vnfm_serves_until_told_to_stop(controller):
    stop = threading.Event()
    config = VnfmConfig(controller_url=controller.url, project_id=PROJECT)
    runner = threading.Thread(target=run_vnfm, args=(config, stop))
    runner.start()
    deadline = time.monotonic() + 5
    while not controller.subscriptions and time.monotonic() < deadline:
        time.sleep(0.01)
    [subscription_id] = controller.subscriptions

    stop.set()
    runner.join(5)

    assert not runner.is_alive()
    assert controller.deleted == [subscription_id]


def test_create_vnfm_app_is_a_plain_wsgi_app(controller):
    vnfm = SampleVnfm(VnfmConfig(controller_url=controller.url, project_id=PROJECT))
    client = create_vnfm_app(vnfm).test_client()

    assert client.get("/messages").get_json() == {"project_id": PROJECT, "messages": []}


@pytest.mark.parametrize(
    "settings",
    [{"instance_action": "REBOOT"}, {"subscribe_format": "xml"}, {"reply_delay": -1}],
)
def test_config_refuses_bad_settings(settings):
    with pytest.raises(ValueError):
        VnfmConfig(controller_url="http://x", project_id=PROJECT, **settings)


# -- hostile posts: the callback URL is reachable by anyone --------------------------------------
def test_it_subscribes_with_a_secret_of_its_own(controller, start_vnfm):
    first, second = start_vnfm(), start_vnfm()

    secrets = [controller.subscriptions[v.subscription_id]["secret"] for v in (first, second)]

    assert all(len(secret) >= 32 for secret in secrets)
    assert secrets[0] != secrets[1]


@pytest.mark.parametrize("secret", [None, "not-the-secret"], ids=["unsigned", "wrong secret"])
def test_a_post_not_signed_with_its_secret_is_refused_and_not_acted_on(
    controller, start_vnfm, secret
):
    vnfm = start_vnfm()
    body = {
        "event_type": "maintenance.planned",
        "payload": {"state": "MAINTENANCE", "project_id": PROJECT, "reply_url": "/x"},
    }

    if secret is None:
        response = requests.post(vnfm.callback_url, json=body, timeout=5)
    else:
        response = post_signed(vnfm, controller, body, secret=secret)

    assert response.status_code == 401
    assert "X-Fenix-Signature" in response.json()["error"]["message"]
    time.sleep(0.2)
    assert vnfm.messages == []
    assert controller.replies == []


def test_a_notification_for_another_project_is_refused(controller, start_vnfm):
    vnfm = start_vnfm()
    body = {"event_type": "maintenance.planned", "payload": {"state": "X", "project_id": "p-2"}}

    response = post_signed(vnfm, controller, body)

    assert response.status_code == 400
    assert vnfm.messages == []


@pytest.fixture
def trap() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Another server, recording every request it gets (and the token it would steal)."""
    seen: list[dict[str, Any]] = []
    app = Flask("trap")

    @app.route("/<path:anything>", methods=["GET", "PUT", "POST"])
    def take(anything: str):
        seen.append({"path": anything, "token": request.headers.get("X-Auth-Token")})
        return jsonify({"instance_ids": ["project-1-vm-1"]})

    server = serve_in_thread(app, name="trap")
    yield server.url, seen
    server.stop()


@pytest.mark.parametrize("field", ["reply_url", "instance_ids"])
def test_urls_outside_the_controller_are_not_followed_with_the_token(
    controller, start_vnfm, trap, field, caplog
):
    trap_url, seen = trap
    vnfm = start_vnfm()

    with caplog.at_level(logging.ERROR, logger="fenix.vnfm"):
        notify(vnfm, controller, "PLANNED_MAINTENANCE", **{field: f"{trap_url}/steal"})
        time.sleep(0.5)

    assert seen == []
    assert "is not under the controller's URL" in caplog.text


def test_the_token_comes_from_a_file_or_the_environment_and_argv_is_warned_of(
    tmp_path, monkeypatch, caplog
):
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    monkeypatch.setenv("FENIX_TOKEN", "from-env")

    assert vnfm_token("from-argv", str(token_file)) == "from-file"
    assert vnfm_token("from-argv", None) == "from-env"
    monkeypatch.delenv("FENIX_TOKEN")
    with caplog.at_level(logging.WARNING, logger="fenix.vnfm"):
        assert vnfm_token("from-argv", None) == "from-argv"
    assert "FENIX_TOKEN" in caplog.text


@pytest.mark.slow
def test_a_controller_away_gets_no_nack_but_no_answer(own_controller, caplog):
    """A manager that cannot read its instances because the controller is away (restarting,
    503 from its balancer) does not NACK, which would fail the session: it retries, then
    leaves the step unanswered so that the controller's default applies."""
    caplog.set_level(logging.ERROR, logger="fenix.vnfm")
    own_controller.instance_status = 503
    config = VnfmConfig(controller_url=own_controller.url, project_id=PROJECT, token=TOKEN)
    with SampleVnfm(config) as vnfm:
        notify(vnfm, own_controller, "PREPARE_MAINTENANCE")
        wait_until(lambda: "not answering" in caplog.text, timeout=60, what="the step given up")
        # The step is over for the manager: whatever it was going to send, it has sent.
        assert own_controller.instance_asks > 1, "the instance list was not asked again"
        assert own_controller.replies == []
        assert "PREPARE_MAINTENANCE" in caplog.text and "503" in caplog.text
