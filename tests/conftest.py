"""Settings every test process and every controller it starts share."""

from __future__ import annotations

import os

# The tests' managers (sample VNFMs, webhook receivers) listen on loopback, where a controller
# never posts by default (fenix.notify.callbacks). Set here, at collection, so that Settings()
# in this process and the controllers started as subprocesses (they inherit os.environ) see it;
# a test that needs the default policy builds it without these networks.
os.environ.setdefault("FENIX_CALLBACK_ALLOW_NETWORKS", '["127.0.0.0/8", "::1/128"]')
