"""max_hosts_per_zone on session create: validated before anything is written, stored, shown."""

from __future__ import annotations

import pytest

from .helpers import error_message


@pytest.mark.parametrize("value", [0, -1, "2", 1.5, True, 2**31, [1], {"zone-1": 1}])
def test_a_bad_max_hosts_per_zone_is_a_400_naming_the_field_and_writes_nothing(
    client, count_rows, value
):
    before = count_rows()

    response = client.post(
        "/v1/maintenance",
        json={"state": "MAINTENANCE", "hosts": ["compute-1"], "max_hosts_per_zone": value},
    )

    assert response.status_code == 400
    assert error_message(response).startswith("max_hosts_per_zone:")
    assert count_rows() == before


@pytest.mark.parametrize("workflow", ["default", "vnf"])
def test_both_workflows_take_the_limit_and_the_detail_shows_it(client, create_session, workflow):
    session_id = create_session(workflow=workflow, max_hosts_per_zone=2)

    detail = client.get(f"/v1/maintenance/{session_id}/detail").get_json()

    assert detail["max_hosts_per_zone"] == 2


def test_null_or_absent_is_no_limit(client, create_session):
    for host, body in (("compute-1", {"max_hosts_per_zone": None}), ("compute-2", {})):
        session_id = create_session(hosts=[host], **body)
        detail = client.get(f"/v1/maintenance/{session_id}/detail").get_json()
        assert detail["max_hosts_per_zone"] is None
