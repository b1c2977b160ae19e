"""create_app: the Flask application over a Runtime. No module-level app, no config at import."""

from __future__ import annotations

from flask import Flask

from fenix.runtime import Runtime


def create_app(runtime: Runtime) -> Flask:
    from fenix.api import (
        auth,
        constraints,
        errors,
        fast_reads,
        limits,
        metrics,
        openapi,
        projects,
        sessions,
        subscriptions,
        ui,
    )

    app = Flask("fenix")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["fenix"] = runtime
    errors.init_app(app)
    limits.init_app(app, runtime.settings)
    auth.init_app(app, runtime.settings)
    for blueprint in (
        sessions.blueprint,
        projects.blueprint,
        constraints.blueprint,
        subscriptions.blueprint,
        openapi.blueprint,
        metrics.blueprint,
        ui.blueprint,
    ):
        app.register_blueprint(blueprint)
    fast_reads.init_app(app)
    auth.init_middleware(app, runtime.settings)  # outermost
    return app
