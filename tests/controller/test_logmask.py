"""No log line shows a password: not the database URL `fenix serve` starts with, not a bus URL
in a library's traceback."""

from __future__ import annotations

import logging
import sys

import pytest

from fenix.logmask import MaskingFormatter, mask_passwords
from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud
from tests.controller.processes import ControllerProcess

PASSWORD = "s3cret-pw"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            f"postgresql+psycopg://fenix:{PASSWORD}@db:5432/fenix",
            "postgresql+psycopg://fenix:***@db:5432/fenix",
        ),
        (f"at rabbit://guest:{PASSWORD}@mq:5672/ and", "at rabbit://guest:***@mq:5672/ and"),
        ("http://127.0.0.1:12347/v1", "http://127.0.0.1:12347/v1"),
        ("sqlite:////tmp/fenix.db", "sqlite:////tmp/fenix.db"),
    ],
)
def test_url_passwords_are_masked_and_nothing_else_is(text, masked):
    assert mask_passwords(text) == masked


def test_the_formatter_masks_arguments_and_tracebacks():
    formatter = MaskingFormatter("%(message)s")
    try:
        raise ConnectionError(f"cannot reach rabbit://guest:{PASSWORD}@mq/")
    except ConnectionError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "bus %s down", (f"amqp://u:{PASSWORD}@h/",), None
        )
        record.exc_info = sys.exc_info()

    line = formatter.format(record)

    assert PASSWORD not in line
    assert "bus amqp://u:***@h/ down" in line
    assert "rabbit://guest:***@mq/" in line


def test_fenix_serve_does_not_log_the_database_password(tmp_path, postgres_url):
    sim, handle = start_sim_cloud(SimulatedCloudConfig(hosts=2, projects=1, instances=1))
    db_url = postgres_url.replace("://postgres@", f"://postgres:{PASSWORD}@")
    assert PASSWORD in db_url
    controller = ControllerProcess(
        tmp_path,
        handle.url,
        db_url=db_url,
        env={"FENIX_TOKENS": '{"t": {"role": "admin"}}'},
        admin_token="t",
    )
    try:
        controller.start()
    finally:
        controller.stop()
        handle.stop()
        sim.close()

    log = controller.log.read_text()
    assert "postgres:***@127.0.0.1" in log
    assert PASSWORD not in log
