"""One Nova service process of fenix.testing.nova, run by the Nova venv's Python, not ours.

It is imported by nothing in fenix: the launcher runs it as a script (``python nova_service.py
compute --config-file ...``) or names it to gunicorn (``nova_service:nova_api()``), with this
directory on PYTHONPATH. It imports only Nova, placement and their test helpers.

What a real deployment would have and this machine has not -- Glance and Neutron -- are Nova's
own functional-test fixtures (fixed image ids, a fake Neutron), applied in every service right
after Nova has parsed its configuration, as Nova's functional tests do in their own process.
Keystone is placement's NoAuthMiddleware in the place of authtoken (see api-paste.ini): a token
``user:project`` is that user in that project, user ``admin`` is an admin.
"""

import os
import sys

os.environ.setdefault("OS_NOVA_DISABLE_EVENTLET_PATCHING", "true")

_harness = None


def _apply_fixtures():
    """Nova's GlanceFixture and NeutronFixture, held for the process's life."""
    global _harness
    if _harness is not None:
        return
    import fixtures
    from nova import conf
    from nova.tests.fixtures import glance, neutron

    class Harness(fixtures.Fixture):
        """The three things the fixtures ask of a test case."""

        def stub_out(self, old, new):
            self.useFixture(fixtures.MonkeyPatch(old, new))

        def flags(self, **overrides):
            group = overrides.pop("group", None)
            for name, value in overrides.items():
                conf.CONF.set_override(name, value, group)

    _harness = Harness()
    _harness.setUp()
    _harness.useFixture(glance.GlanceFixture(_harness))
    _harness.useFixture(neutron.NeutronFixture(_harness))


def _fixtures_after_parse_args():
    """Apply the fixtures once nova.config.parse_args has read the configuration."""
    from nova import config

    parse_args = config.parse_args

    def parse_args_then_fixtures(*args, **kwargs):
        result = parse_args(*args, **kwargs)
        _apply_fixtures()
        return result

    config.parse_args = parse_args_then_fixtures


def nova_api():
    """The compute API's WSGI application (for gunicorn)."""
    from nova import monkey_patch

    monkey_patch.patch(backend="threading")  # before anything else of nova, as its own entry
    _fixtures_after_parse_args()
    sys.argv = ["nova-api"]  # nova's WSGI set-up parses sys.argv: not gunicorn's
    from nova.wsgi import osapi_compute

    return osapi_compute.application


def placement_api():
    """Placement's WSGI application (for gunicorn)."""
    sys.argv = ["placement-api"]
    from placement.wsgi import api

    return api.application


def noauth_filter(global_conf, **local_conf):
    """api-paste.ini's stand-in for Keystone's authtoken."""
    from placement.auth import NoAuthMiddleware

    return NoAuthMiddleware


def main():
    service, args = sys.argv[1], sys.argv[2:]
    if service not in ("compute", "conductor", "scheduler"):
        sys.exit(f"nova_service.py: unknown service {service!r} (compute, conductor, scheduler)")
    module = __import__(f"nova.cmd.{service}", fromlist=["main"])  # it patches first
    if service == "compute" and os.environ.get("FENIX_NOVA_FAKE_VCPUS"):
        from nova.virt import fake

        fake.FakeDriver.vcpus = int(os.environ["FENIX_NOVA_FAKE_VCPUS"])  # it has 1000
    _fixtures_after_parse_args()
    sys.argv = [f"nova-{service}", *args]
    module.main()


if __name__ == "__main__":
    main()
