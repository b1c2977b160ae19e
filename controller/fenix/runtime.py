"""Everything one controller process runs: database, cloud driver, engine, delivery worker.

Built from Settings and handed to create_app, so the API, the engine and the tests share one
explicit object instead of module-level globals.
"""

from __future__ import annotations

import logging
import threading

from fenix.actions.launcher import ActionLauncher
from fenix.config import Settings
from fenix.db.database import Database
from fenix.drivers.base import CloudDriver

LOG = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, driver: CloudDriver | None = None) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.db.upgrade()
        self._owned_sim = None
        self.driver = driver or self._make_driver()
        self.engine = None
        self.delivery = None
        self.actions = ActionLauncher(self)
        self._wakeup = threading.Condition()

    def _make_driver(self) -> CloudDriver:
        from fenix.drivers.simulated import SimulatedCloudConfig, SimulatedDriver, start_sim_cloud

        settings = self.settings
        url = settings.sim_url
        if url is None:
            config = SimulatedCloudConfig(
                hosts=settings.sim_hosts,
                projects=settings.sim_projects,
                instances=settings.sim_instances,
                controllers=settings.sim_controllers,
                migrate_seconds=settings.sim_migrate_seconds,
                live_migrate_seconds=settings.sim_live_migrate_seconds,
                maintain_seconds=settings.sim_maintain_seconds,
            )
            _cloud, self._owned_sim = start_sim_cloud(config)
            url = self._owned_sim.url
            LOG.info("simulated cloud started in-process at %s", url)
        return SimulatedDriver(url)

    def start(self) -> None:
        """Start the delivery worker, and the engine unless settings say not to."""
        from fenix.engine.supervisor import Engine
        from fenix.notify.delivery import DeliveryWorker

        self.delivery = DeliveryWorker(self.db, self.settings)
        self.delivery.start()
        if self.settings.run_engine:
            self.engine = Engine(self)
            self.engine.start()

    def wake(self, session_id: str | None = None) -> None:
        """Something changed in the database (a reply, a PUT): let waiting workers look now."""
        with self._wakeup:
            self._wakeup.notify_all()
        if self.delivery is not None:
            self.delivery.wake()
        if self.engine is not None:
            self.engine.wake()

    def wait_for_change(self, timeout: float) -> None:
        with self._wakeup:
            self._wakeup.wait(timeout)

    def stop(self) -> None:
        if self.engine is not None:
            self.engine.stop()
        if self.delivery is not None:
            self.delivery.stop()
        self.driver.close()
        if self._owned_sim is not None:
            self._owned_sim.stop()
        self.db.dispose()
