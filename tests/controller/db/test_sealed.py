"""Subscription secrets are encrypted at rest when a key is configured, and read back plain."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from fenix.db.database import Database
from fenix.db.sealed import SecretKeyError

SECRET = "hmac-key-of-the-manager"


def _subscribe(db: Database, secret: str | None = SECRET) -> str:
    with db.transaction() as repo:
        return repo.add_subscription(
            project_id="project-1",
            event_types=["maintenance.planned"],
            callback_url="http://m.example/",
            secret=secret,
        ).id


def _stored(db: Database, subscription_id: str) -> str | None:
    with db.engine.connect() as connection:
        return connection.execute(
            text("SELECT secret FROM subscriptions WHERE id = :id"), {"id": subscription_id}
        ).scalar_one()


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


def test_with_a_key_the_secret_is_stored_encrypted_and_read_back_plain(database_url, key):
    db = Database(database_url, key)
    db.upgrade()
    subscription_id = _subscribe(db)

    stored = _stored(db, subscription_id)
    with db.transaction() as repo:
        read = [s.secret for s in repo.list_subscriptions("project-1")]

    assert stored.startswith("fernet:")
    assert SECRET not in stored
    assert read == [SECRET]
    db.dispose()


def test_without_a_key_secrets_are_stored_as_given_and_read_later_with_one(database_url, key):
    plain = Database(database_url)
    plain.upgrade()
    subscription_id = _subscribe(plain)
    assert _stored(plain, subscription_id) == SECRET
    plain.dispose()

    keyed = Database(database_url, key)
    with keyed.transaction() as repo:
        assert repo.get_subscription(subscription_id).secret == SECRET
    keyed.dispose()


def test_sealed_secrets_need_the_key_they_were_sealed_with(database_url, key):
    db = Database(database_url, key)
    db.upgrade()
    subscription_id = _subscribe(db)
    db.dispose()

    for other, words in (
        (None, "set FENIX_SECRET_KEY"),
        (Fernet.generate_key().decode(), "not the key"),
    ):
        reader = Database(database_url, other)
        with pytest.raises(SecretKeyError, match=words), reader.transaction() as repo:
            repo.get_subscription(subscription_id)
        reader.dispose()


def test_a_key_that_is_not_a_fernet_key_is_refused_with_how_to_make_one(database_url):
    with pytest.raises(SecretKeyError, match="Fernet.generate_key"):
        Database(database_url, "not-a-key")


def test_a_manager_verifying_signatures_gets_every_step_from_a_controller_with_a_key(
    live_stack, key
):
    live = live_stack.start(cloud={"hosts": 2, "projects": 1, "instances": 2}, secret_key=key)
    manager = live.add_manager("project-1", instance_action="MIGRATE")
    with live.runtime.db.engine.connect() as connection:
        stored = connection.execute(text("SELECT secret FROM subscriptions")).scalars().all()
    assert stored and all(s.startswith("fernet:") for s in stored)

    detail = live.wait_for(live.create_session())

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    answered = {m["state"] for m in manager.messages if m["direction"] == "sent"}
    assert {"ACK_MAINTENANCE", "ACK_PLANNED_MAINTENANCE"} <= answered
