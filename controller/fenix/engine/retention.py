"""Retention: what a finished session leaves behind is pruned after `retention_days`.

Events, delivered or dead notifications and the runners' artifacts (private data dirs with
their logs) of a session that ended long ago would otherwise be kept forever and grow the
database and the disk without bound. The session itself stays (its summary, hosts, plug-in runs
and their outcome), marked `pruned_at`. Notifications still pending are left to be delivered.
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from fenix.timeutil import utcnow

LOG = logging.getLogger(__name__)


def prune_finished_sessions(runtime, now: datetime | None = None) -> list[str]:
    """Prune every finished session older than the retention; returns their ids."""
    days = runtime.settings.retention_days
    if days <= 0:
        return []
    now = now or utcnow()
    with runtime.db.transaction() as repo:
        due = repo.prunable_session_ids(now - timedelta(days=days))
    for session_id in due:
        # Files first: once the records say pruned, nothing of the session is left on disk.
        shutil.rmtree(Path(runtime.settings.artifacts_dir) / session_id, ignore_errors=True)
        with runtime.db.transaction() as repo:
            events, outbox = repo.prune_session_records(session_id, now)
        LOG.info(
            "session %s ended over %s days ago: pruned %d events, %d notifications and its "
            "runner artifacts",
            session_id,
            days,
            events,
            outbox,
        )
    return due
