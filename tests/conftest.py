"""Settings every test process and every controller it starts share."""

from __future__ import annotations

import os
import warnings

import pytest

from fenix.openstack_imports import EVENTLET_FORK_WARNING

# The tests' managers (sample VNFMs, webhook receivers) listen on loopback, where a controller
# never posts by default (fenix.notify.callbacks). Set here, at collection, so that Settings()
# in this process and the controllers started as subprocesses (they inherit os.environ) see it;
# a test that needs the default policy builds it without these networks.
os.environ.setdefault("FENIX_CALLBACK_ALLOW_NETWORKS", '["127.0.0.0/8", "::1/128"]')


@pytest.fixture(autouse=True)
def _ignore_eventlet_fork_warning():
    """Once a test in this process imported oslo.messaging (eventlet), every later fork warns,
    an ansible-runner launch in an e2e test too: the one warning that is not ours to act on."""
    warnings.filterwarnings("ignore", message=EVENTLET_FORK_WARNING, category=DeprecationWarning)
