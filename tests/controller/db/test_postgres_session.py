"""A whole session with PostgreSQL as the controller's database."""

from __future__ import annotations


def test_session_runs_to_the_end_on_postgresql(postgres_url, live_stack):
    # postgres_url first: it is torn down last, after the controller stopped using it.
    live = live_stack.start(
        cloud={"hosts": 3, "projects": 2, "instances": 2}, database_url=postgres_url
    )
    live.add_manager("project-1")
    session_id = live.create_session()

    detail = live.wait_for(session_id)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    assert all(h["state"] == "MAINTENANCE_COMPLETE" for h in detail["hosts"])
