"""Everything one controller process runs: database, cloud driver, engine, delivery worker.

Built from Settings and handed to create_app, so the API, the engine and the tests share one
explicit object instead of module-level globals.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from fenix.actions.launcher import ActionLauncher
from fenix.config import Settings
from fenix.db.database import Database
from fenix.drivers.base import CloudDriver
from fenix.engine.wake import WakeListener, WakeSender
from fenix.metrics import Metrics

if TYPE_CHECKING:
    from fenix.notify.bus import BusSender

LOG = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, driver: CloudDriver | None = None) -> None:
        self.settings = settings
        self.db = Database(settings.database_url, settings.secret_key)
        self.db.upgrade()
        if settings.secret_key is None:
            LOG.info("no FENIX_SECRET_KEY: subscription secrets are stored unencrypted")
        self.metrics = Metrics(self.db)
        self.driver = driver or self._make_driver()
        self.engine = None
        self.delivery = None
        self.bus: BusSender | None = None
        self.actions = ActionLauncher(self)
        self._wakeup = threading.Condition()
        self._wake_sender: WakeSender | None = None
        self._wake_listener: WakeListener | None = None
        if settings.engine_wake_socket and not settings.run_engine:
            self._wake_sender = WakeSender(settings.engine_wake_socket)

    def _make_driver(self) -> CloudDriver:
        from fenix.drivers.factory import make_driver

        return make_driver(self.settings)

    def _make_bus(self) -> BusSender | None:
        """The oslo.messaging sender when a transport is configured; its subscription in step."""
        from fenix.notify.bus import BusSender, sync_bus_subscription

        with self.db.transaction() as repo:
            sync_bus_subscription(repo, self.settings)
        if not self.settings.transport_url:
            return None
        bus = BusSender(self.settings)
        LOG.info("notifications go to the message bus at %s, topics %s", bus.url, bus.topics)
        return bus

    def start(self) -> None:
        """Start the delivery worker and the engine, each unless settings say not to."""
        from fenix.engine.supervisor import Engine
        from fenix.notify.delivery import DeliveryWorker

        if self.settings.run_delivery:
            self.bus = self._make_bus()
            self.delivery = DeliveryWorker(self.db, self.settings, self.bus)
            self.delivery.start()
        if self.settings.run_engine:
            self.engine = Engine(self)
            self.engine.start()
            if self.settings.engine_wake_socket:
                self._wake_listener = WakeListener(
                    self.settings.engine_wake_socket, self._wake_here
                ).start()

    def wake(self, session_id: str | None = None) -> None:
        """Something changed in the database (a reply, a PUT): let waiting workers look now,
        in this process and in the engine's when it runs apart."""
        if self._wake_sender is not None:
            self._wake_sender.send()
        self._wake_here()

    def _wake_here(self) -> None:
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
        if self._wake_listener is not None:
            self._wake_listener.close()
        if self._wake_sender is not None:
            self._wake_sender.close()
        if self.engine is not None:
            self.engine.stop()
        if self.delivery is not None:
            self.delivery.stop()
        if self.bus is not None:
            self.bus.close()
        self.driver.close()
        self.db.dispose()
