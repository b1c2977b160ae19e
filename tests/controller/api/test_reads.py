"""The event log in pages (since, limit, more, next) and the detail in parts and pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event

from fenix.api.reads import DETAIL_PARTS, EVENTS_DEFAULT_LIMIT

from .helpers import error_message

SUMMARY = [
    "session_id",
    "state",
    "workflow",
    "maintenance_at",
    "created_at",
    "updated_at",
    "percent_done",
    "error",
    "metadata",
    "download",
    "max_hosts_per_zone",
]


@pytest.fixture
def session_id(create_session) -> str:
    return create_session(hosts=["compute-1", "compute-2", "compute-3"])


@pytest.fixture
def add_events(runtime, session_id):
    def add(count: int) -> None:
        with runtime.db.transaction() as repo:
            for n in range(count):
                repo.add_event(session_id, "test.event", subject=str(n))

    return add


@pytest.fixture
def with_instances(runtime, session_id) -> list[str]:
    ids = [f"vm-{n}" for n in range(5)]
    with runtime.db.transaction() as repo:
        session = repo.get_session(session_id)
        for position, instance_id in enumerate(reversed(ids)):
            repo.add_instance(
                session,
                instance_id=instance_id,
                name=instance_id,
                project_id="project-1",
                host=f"compute-{1 + position % 3}",
                details={"breaches": [{"instance_id": instance_id}]} if position == 0 else {},
            )
    return ids


@pytest.fixture
def statements(runtime) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", note)
    yield seen
    event.remove(runtime.db.engine, "before_cursor_execute", note)


def _events(client, session_id: str, query: str = ""):
    return client.get(f"/v1/maintenance/{session_id}/events{query}")


# -- events ----------------------------------------------------------------------------------
def test_events_come_in_pages_that_say_where_to_go_on(client, session_id, add_events):
    add_events(7 - len(_events(client, session_id).get_json()["events"]))
    every = _events(client, session_id, "?limit=5000").get_json()
    assert len(every["events"]) == 7 and every["more"] is False

    pages, since = [], 0
    while True:
        page = _events(client, session_id, f"?since={since}&limit=3").get_json()
        pages.append([e["id"] for e in page["events"]])
        since = page["next"]
        if not page["more"]:
            break

    ids = [e["id"] for e in every["events"]]
    assert pages == [ids[0:3], ids[3:6], ids[6:7]]
    assert since == ids[-1]
    nothing_new = _events(client, session_id, f"?since={since}").get_json()
    assert nothing_new == {"events": [], "more": False, "next": since}


def test_a_page_ending_exactly_at_the_last_event_says_no_more(client, session_id, add_events):
    add_events(3 - len(_events(client, session_id).get_json()["events"]))
    page = _events(client, session_id, "?limit=3").get_json()

    assert len(page["events"]) == 3
    assert page["more"] is False


def test_events_without_a_limit_come_by_the_default_page(client, session_id, add_events):
    add_events(EVENTS_DEFAULT_LIMIT + 1 - len(_events(client, session_id).get_json()["events"]))

    page = _events(client, session_id).get_json()

    assert len(page["events"]) == EVENTS_DEFAULT_LIMIT
    assert page["more"] is True
    rest = _events(client, session_id, f"?after={page['next']}").get_json()
    assert len(rest["events"]) == 1 and rest["more"] is False


def test_after_is_the_older_name_of_since(client, session_id, add_events):
    add_events(3)
    first = _events(client, session_id).get_json()["events"][0]["id"]

    assert (
        _events(client, session_id, f"?after={first}").get_json()
        == _events(client, session_id, f"?since={first}").get_json()
    )


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("?limit=0", "limit"),
        ("?limit=5001", "limit"),
        ("?limit=many", "limit"),
        ("?since=-1", "since"),
        ("?since=last", "since"),
        (f"?since={2**31}", "since"),
        ("?since=1&after=1", "since and after"),
    ],
)
def test_bad_event_paging_is_400(client, session_id, query, named):
    response = _events(client, session_id, query)

    assert response.status_code == 400
    assert error_message(response).startswith(named)


# -- the detail in parts and pages -------------------------------------------------------------
def test_the_detail_without_parameters_is_the_whole_of_it(client, session_id, with_instances):
    detail = client.get(f"/v1/maintenance/{session_id}/detail").get_json()

    assert list(detail) == [*SUMMARY, *DETAIL_PARTS]
    assert [h["name"] for h in detail["hosts"]] == ["compute-1", "compute-2", "compute-3"]
    assert [i["instance_id"] for i in detail["instances"]] == with_instances
    assert detail["constraint_breaches"] == [{"instance_id": "vm-4"}]


def test_parts_answers_only_those_parts(client, session_id, with_instances):
    whole = client.get(f"/v1/maintenance/{session_id}/detail").get_json()

    part = client.get(f"/v1/maintenance/{session_id}/detail?parts=instances, hosts").get_json()

    assert list(part) == [*SUMMARY, "hosts", "instances"]
    assert part == {key: whole[key] for key in part}


def test_a_part_costs_only_its_own_rows(client, session_id, with_instances, statements):
    response = client.get(f"/v1/maintenance/{session_id}/detail?parts=projects")

    assert response.status_code == 200
    assert not any(
        table in s
        for s in statements
        for table in ("session_hosts", "session_instances", "action_runs", "outbox")
    )


def test_hosts_and_instances_come_in_pages_with_their_totals(client, session_id, with_instances):
    url = f"/v1/maintenance/{session_id}/detail"

    hosts = client.get(f"{url}?parts=hosts&host_offset=1&host_limit=1").get_json()
    instances = client.get(f"{url}?instance_offset=3").get_json()
    none = client.get(f"{url}?parts=hosts&host_limit=0").get_json()

    assert [h["name"] for h in hosts["hosts"]] == ["compute-2"]
    assert hosts["hosts_total"] == 3
    assert "instances" not in hosts
    assert [i["instance_id"] for i in instances["instances"]] == with_instances[3:]
    assert instances["instances_total"] == 5
    assert "hosts_total" not in instances
    # The breaches are the session's, not the page's.
    assert instances["constraint_breaches"] == [{"instance_id": "vm-4"}]
    assert none["hosts"] == [] and none["hosts_total"] == 3


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("?parts=hosts,nodes", "parts: 'nodes'"),
        ("?parts=", "parts: no part named"),
        ("?parts=projects&host_limit=2", "host_offset and host_limit"),
        ("?host_offset=-1", "host_offset"),
        ("?host_limit=5001", "host_limit"),
        ("?instance_limit=ten", "instance_limit"),
    ],
)
def test_bad_parts_or_pages_are_400(client, session_id, query, named):
    response = client.get(f"/v1/maintenance/{session_id}/detail{query}")

    assert response.status_code == 400
    message = error_message(response)
    assert message.startswith(named)
    if named.startswith("parts"):
        assert ", ".join(DETAIL_PARTS) in message
