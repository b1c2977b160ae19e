"""The API tests' real app (a fresh database, the engine off, a simulated cloud), reused."""

from tests.controller.api.conftest import (  # noqa: F401 (fixtures)
    app,
    client,
    client_as,
    create_session,
    runtime,
    sim_url,
)
