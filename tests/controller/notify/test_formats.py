"""The two delivery shapes: Fenix's own, and an AODH event alarm's POST (the contract's)."""

from __future__ import annotations

import json

import pytest

from fenix.notify.formats import encode
from fenix.notify.notifier import envelope
from fenix.states import EventType

PAYLOAD = {
    "service": "fenix",
    "session_id": "s-1",
    "project_id": "project-1",
    "state": "PLANNED_MAINTENANCE",
    "instance_ids": ["vm-1"],
    "allowed_actions": ["MIGRATE"],
    "reply_url": "http://controller/v1/maintenance/s-1/project-1",
    "reply_at": "2030-01-01T00:00:20+00:00",
    "metadata": {"openstack": "upgrade"},
}


def test_fenix_format_carries_the_message_id_for_dedup():
    message = envelope(str(EventType.PLANNED), PAYLOAD)

    body = json.loads(encode(message, "fenix", "sub-1"))

    assert body == {
        "event_type": "maintenance.planned",
        "payload": PAYLOAD,
        "message_id": message["message_id"],
        "timestamp": message["timestamp"],
    }


def test_aodh_format_is_an_event_alarm_with_one_trait_per_payload_field():
    message = envelope(str(EventType.PLANNED), PAYLOAD)

    body = json.loads(encode(message, "aodh", "sub-1"))

    assert (body["alarm_id"], body["current"], body["reason_data"]["type"]) == (
        "sub-1",
        "alarm",
        "event",
    )
    event = body["reason_data"]["event"]
    assert (event["message_id"], event["event_type"]) == (
        message["message_id"],
        "maintenance.scheduled",  # what AODH alarms for Fenix are set on
    )
    traits = {name: (kind, value) for name, kind, value in event["traits"]}
    assert set(traits) == set(PAYLOAD)
    assert traits["state"] == (1, "PLANNED_MAINTENANCE")
    assert traits["reply_at"] == (4, PAYLOAD["reply_at"])
    assert traits["instance_ids"] == (1, '["vm-1"]')
    assert json.loads(traits["metadata"][1]) == {"openstack": "upgrade"}


@pytest.mark.parametrize(
    ("sent_as", "alarm_event_type"),
    [
        (EventType.PLANNED, "maintenance.scheduled"),
        (EventType.SCHEDULED, "maintenance.scheduled"),
        (EventType.HOST, "maintenance.host"),
        (EventType.SESSION, "maintenance.session"),
    ],
)
def test_aodh_format_names_the_planned_event_as_aodh_alarms_expect(sent_as, alarm_event_type):
    message = envelope(str(sent_as), PAYLOAD)

    body = json.loads(encode(message, "aodh", "sub-1"))

    assert body["reason_data"]["event"]["event_type"] == alarm_event_type
    assert f"event_type={alarm_event_type}>" in body["reason"]
