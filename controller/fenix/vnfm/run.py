"""Run a sample VNFM in the foreground, for `fenix vnfm` and anyone trying the controller."""

from __future__ import annotations

import logging
import signal
import threading

from fenix.vnfm.config import VnfmConfig
from fenix.vnfm.manager import SampleVnfm

logger = logging.getLogger("fenix.vnfm")


def run_vnfm(config: VnfmConfig, stop_event: threading.Event | None = None) -> None:
    """Start a VNFM, log its URL and block until Ctrl-C, SIGTERM or stop_event; then stop it."""
    if not logging.getLogger().hasHandlers():
        # Run from a bare script: without this the user would see nothing of the conversation.
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    stop = stop_event or threading.Event()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if in_main_thread else None
    try:
        with SampleVnfm(config) as vnfm:
            logger.info(
                "sample VNFM of project %s listening at %s (messages at %s/messages); "
                "Ctrl-C to stop",
                config.project_id,
                vnfm.callback_url,
                vnfm.url,
            )
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                logger.info("interrupted; unsubscribing")
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
