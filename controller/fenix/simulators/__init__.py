"""Simulated clouds, each served over real HTTP, so that no real cloud runs in demos and tests.

Each stands in for the cloud one driver of ``fenix.drivers`` talks to, and counts every
instance's downtime, which makes it the judge of a session's result:

- ``cloud``: the simulated cloud (JSON over HTTP) of the ``simulated`` driver;
  ``python -m fenix.simulators.cloud`` or ``fenix sim-cloud`` serves one;
- ``openstack``: Keystone v3 and Nova for the ``openstack`` driver (openstacksdk);
  ``python -m fenix.simulators.openstack``;
- ``kubernetes``: an API server for the ``kubernetes`` driver (the official client);
  ``python -m fenix.simulators.kubernetes``.

They import nothing of the controller but ``fenix.wsgi`` (to serve), and no driver imports them:
only the driver factory starts a simulated cloud in-process when no ``sim_url`` is given.
"""
