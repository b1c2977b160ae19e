"""Fuzz the API with schemathesis against the document the controller serves (/v1/openapi.json).

A live controller (real sockets, the engine running, a simulated cloud) is seeded with real
objects: a session waiting for its start, a session waiting for project-1's answer, a
subscription, instance and group constraints. Then every operation of the document gets
schema-valid requests (positive) and, where it has a body or a query, schema-breaking ones
(negative); path parameters are generated, and in a second round taken from the seeded objects,
so that the handlers behind the lookup run too. As the admin and as project-1's member, on
each database backend (`database_url`): PostgreSQL's columns have limits SQLite does not enforce.

Every answer must hold to the document: no 5xx, a documented status code, the documented content
type, and a body that matches the documented schema. The test reports what it sent and what
came back (shown after the run: the `report` fixture) and fails listing every failing case, each
with a curl line to reproduce it. Hypothesis runs derandomized, without its example database and
without shrinking, so a run sends the same requests every time; what files it still writes go to
a temporary directory, not into the repository (where the collection would be built with them).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi import checks as openapi_checks

from fenix.wsgi import serve_in_thread
from tests.controller.live import LiveController, wait_until

pytestmark = pytest.mark.slow

CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]
"""What every answer must hold to."""

EXAMPLES = 8
"""Per operation, generation mode and kind of path parameters: 334 requests a run."""

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    # Bodies with nested free objects are slow to generate on a busy 2-core machine.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@dataclass
class Tally:
    """What one operation got: status codes per round (generated ids, seeded ids)."""

    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(sum(counter.values()) for counter in self.statuses.values())


@dataclass
class Seeded:
    """Ids of real objects, for path parameters."""

    values: dict[str, str]

    def for_operation(self, operation: Any) -> dict[str, str] | None:
        names = [parameter.name for parameter in operation.path_parameters]
        if not names or any(name not in self.values for name in names):
            return None
        return {name: self.values[name] for name in names}


@pytest.fixture(autouse=True, scope="module")
def _hypothesis_files_elsewhere(tmp_path_factory) -> Iterator[None]:
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture
def silent_manager() -> Iterator[str]:
    """A callback URL that takes every notification and never answers the session."""

    def take(environ: dict, start_response: Any) -> list[bytes]:
        environ["wsgi.input"].read()
        start_response("204 No Content", [])
        return []

    server = serve_in_thread(take, name="silent-manager")
    yield f"{server.url}/notifications"
    server.stop()


def seed(live: LiveController, callback_url: str) -> Seeded:
    """Real objects for path parameters; project-1's session stays waiting for its answer."""
    member = requests.Session()
    member.headers["X-Auth-Token"] = live.token_for("project-1")
    subscription = member.post(
        f"{live.url}/v1/subscriptions",
        json={
            "event_types": ["maintenance.planned"],
            "project_id": "project-1",
            "callback_url": callback_url,
        },
        timeout=10,
    )
    assert subscription.status_code == 201, subscription.text
    live.create_session(hosts=["compute-1"], maintenance_at="2099-01-01 00:00:00")
    running = live.create_session(hosts=["compute-2", "compute-3"])
    wait_until(
        lambda: any(
            p["project_id"] == "project-1" and p["step"] == "MAINTENANCE" and p["reply"] is None
            for p in live.detail(running)["projects"]
        ),
        what="project-1 asked MAINTENANCE",
    )
    for path, body in (
        ("instance/project-1-vm-1", {"project_id": "project-1", "migration_type": "MIGRATE"}),
        ("instance_group/group-1", {"project_id": "project-1", "anti_affinity_group": True}),
    ):
        response = member.put(f"{live.url}/v1/{path}", json=body, timeout=10)
        assert response.status_code == 200, response.text
    return Seeded(
        {
            "session_id": running,
            "project_id": "project-1",
            "instance_id": "project-1-vm-1",
            "group_id": "group-1",
            "subscription_id": subscription.json()["subscription_id"],
        }
    )


def modes(operation: Any) -> list[GenerationMode]:
    """Negative cases where there is something to break: a body or a query parameter.

    Schemathesis does not break path parameters (that would be another path), so an operation
    with only path parameters gets schema-valid cases; test_errors.py sends the ids that the
    document excludes.
    """
    if len(operation.body) or len(operation.query):
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


def fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    path_parameters: dict[str, str] | None,
    http: requests.Session,
    statuses: Counter[int],
    failures: list[str],
) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
    ids = "seeded ids" if path_parameters else "generated ids"

    @FUZZ_SETTINGS
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(session=http, timeout=30)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as failure:
            # Recorded, not raised: Hypothesis would stop at the first, and shrink it.
            failures.append(f"[{mode.value}, {ids}] {failure.message.strip()}")

    run()


def fuzz(live: LiveController, token: str, seeded: Seeded) -> dict[str, Tally]:
    schema = schemathesis.openapi.from_url(f"{live.url}/v1/openapi.json", timeout=10)
    http = requests.Session()
    http.headers["X-Auth-Token"] = token
    operations = [result.ok() for result in schema.get_all_operations()]
    # Deletions last, so that the other operations still find the seeded objects.
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")
    tallies = {operation.label: Tally() for operation in operations}
    for operation in operations:
        tally = tallies[operation.label]
        rounds = {"generated ids": None}
        if (known := seeded.for_operation(operation)) is not None:
            rounds["seeded ids"] = known
        for name, path_parameters in rounds.items():
            statuses = tally.statuses.setdefault(name, Counter())
            for mode in modes(operation):
                fuzz_operation(operation, mode, path_parameters, http, statuses, tally.failures)
    return tallies


def summary(title: str, tallies: dict[str, Tally], seconds: float) -> tuple[list[str], list[str]]:
    """What was sent and what came back, in lines; the failures, each with its operation."""
    lines = [f"== fuzzing {title}: {len(tallies)} operations"]
    total: Counter[int] = Counter()
    failures = []
    for label, tally in tallies.items():
        rounds = "  ".join(
            f"{name}: " + " ".join(f"{code}x{n}" for code, n in sorted(counter.items()))
            for name, counter in tally.statuses.items()
        )
        verdict = f"{len(tally.failures)} FAILED" if tally.failures else "ok"
        lines.append(f"  {label:<60} {tally.sent:>3} sent  {rounds}  {verdict}")
        failures += [f"{label} {text}" for text in tally.failures]
        for counter in tally.statuses.values():
            total.update(counter)
    sent = sum(total.values())
    seen = ", ".join(f"{code}x{n}" for code, n in sorted(total.items()))
    lines.append(f"== {sent} requests in {seconds:.0f} s; status codes: {seen}")
    if failures:
        lines.append(f"== {len(failures)} failing cases")
    else:
        lines.append(
            f"== no 5xx; all {sent} answers had a documented status, content type and schema"
        )
    return lines, failures


@pytest.mark.timeout(600)
@pytest.mark.parametrize("caller", ["admin", "project-1"])
def test_fuzzed_requests_get_documented_answers_and_never_a_5xx(
    database_url, live_stack, silent_manager, caller, report
):
    live = live_stack.start(
        cloud={"hosts": 4, "projects": 2, "instances": 4},
        # project-1's session waits for its answer for as long as the fuzzing takes.
        reply_window=600.0,
    )
    seeded = seed(live, silent_manager)
    token = live.admin_token if caller == "admin" else live.token_for(caller)
    started = time.monotonic()

    tallies = fuzz(live, token, seeded)

    title = f"as {caller} on {database_url.partition(':')[0].partition('+')[0]}"
    lines, failures = summary(title, tallies, time.monotonic() - started)
    report(*lines)
    assert not failures, f"{len(failures)} fuzzed requests broke the document:\n\n" + "\n\n".join(
        failures
    )


HOSTILE_BODIES = {
    "NaN": (b'{"state": "MAINTENANCE", "metadata": {"x": NaN}}', 400),
    "Infinity": (b'{"state": "MAINTENANCE", "lead_time": Infinity}', 400),
    "a lone surrogate": (b'{"state": "MAINTENANCE", "callback_url": "http://a/\\ud800"}', 400),
    "a body over 1 MiB": (b'{"padding": "' + b"x" * (1024 * 1024) + b'"}', 413),
}
"""What Python's json would take but JSON and the databases do not, and a body over the cap."""


def _strict_json(text: str) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} in an answer")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("caller", ["admin", "project-1"])
def test_every_operation_with_a_body_refuses_hostile_bodies_and_the_log_stays_json(
    database_url, live_stack, silent_manager, caller, report
):
    live = live_stack.start(cloud={"hosts": 4, "projects": 2, "instances": 4}, reply_window=600.0)
    seeded = seed(live, silent_manager)
    token = live.admin_token if caller == "admin" else live.token_for(caller)
    schema = schemathesis.openapi.from_url(f"{live.url}/v1/openapi.json", timeout=10)
    http = requests.Session()
    http.headers.update({"X-Auth-Token": token, "Content-Type": "application/json"})
    wrong = []
    sent = 0
    for operation in (result.ok() for result in schema.get_all_operations()):
        if not len(operation.body):
            continue
        path = operation.path.format(**(seeded.for_operation(operation) or {}))
        documented = {int(code) for code in operation.definition.raw["responses"]}
        for name, (data, expected) in HOSTILE_BODIES.items():
            response = http.request(operation.method, live.url + path, data=data, timeout=30)
            sent += 1
            if response.status_code not in (expected, 401, 403, 404):
                wrong.append(f"{operation.label} with {name}: {response.status_code}")
            if response.status_code not in documented:
                wrong.append(f"{operation.label} with {name}: {response.status_code} undocumented")
            if not _strict_json(response.text).get("error"):
                wrong.append(f"{operation.label} with {name}: not a JSON error")
    logs = [
        live.http.get(f"{live.url}/v1/maintenance/{sid}/events", timeout=10).text
        for sid in live.http.get(f"{live.url}/v1/maintenance", timeout=10).json()["sessions"]
    ]
    for log in logs:
        _strict_json(log)  # every event stored is JSON, read back as JSON
    report(
        f"== hostile bodies as {caller}: {sent} sent to every operation with a body; "
        f"{len(wrong)} wrong answers; {len(logs)} event logs read back as strict JSON"
    )
    assert not wrong, "\n".join(wrong)
