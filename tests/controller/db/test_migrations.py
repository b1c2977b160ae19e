"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fenix.db.database import Database
from fenix.db.models import Base


def test_models_and_migrations_agree(database_url):
    db = Database(database_url)
    db.upgrade()
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    db.dispose()
    assert diff == [], "a model changed without a migration: run alembic revision --autogenerate"
