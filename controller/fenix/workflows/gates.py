"""Checking a session's health gates from a workflow: retry a failing gate, pause past timeout.

`GateKeeper.look` checks once (at most every `interval` seconds; a result in between is the
last one) and records each change of outcome as a `gate.failed` / `gate.passed` event. A gate
that has failed for longer than the session's gate timeout pauses the session through
fenix.engine.pause.request_pause, by `gate:<name>` with the gate's reason: it does not fail the
session and does not let it move on; the admin resumes it, and the gate is checked again.
"""

from __future__ import annotations

import contextlib
import time

from fenix.engine.context import SessionContext
from fenix.engine.pause import PauseRefused, request_pause
from fenix.gates.prometheus import GateError, PrometheusGate, ask
from fenix.notify.callbacks import CallbackPolicy

QUERY_TIMEOUT = 10.0
"""Seconds one Prometheus query may take; a gate that does not answer fails this check."""


class GateKeeper:
    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx
        self._loaded = False
        self.prometheus: list[PrometheusGate] = []
        self.playbooks = False
        self.timeout = 600.0
        self.interval = 10.0
        self._failing_since: dict[str, float] = {}
        self._last: dict[str, tuple[float, str | None]] = {}

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        with self.ctx.db.transaction() as repo:
            session = repo.get_session(self.ctx.session_id, with_deleted=True)
            stored = dict(session.gates or {})
            self.playbooks = any(a.type == "gate" for a in session.actions)
        self.prometheus = [PrometheusGate.from_stored(g) for g in stored.get("prometheus", [])]
        self.timeout = float(stored.get("timeout", self.timeout))
        self.interval = float(stored.get("interval", self.interval))

    def any(self, stage: str) -> bool:
        self._load()
        return self.playbooks or any(stage in g.stages for g in self.prometheus)

    def _check(self, stage: str, hosts: list[str]) -> tuple[str, str] | None:
        """(gate name, reason) of the first gate that fails now, or None."""
        policy = CallbackPolicy(self.ctx.settings.gate_allow_networks)
        for gate in self.prometheus:
            if stage not in gate.stages:
                continue
            try:
                reason = ask(gate, policy, QUERY_TIMEOUT)
            except GateError as exc:
                reason = str(exc)
            if reason is not None:
                return gate.name, reason
        if self.playbooks and hosts:
            reason = self.ctx.runtime.actions.run_gates(self.ctx, stage, hosts)
            if reason is not None:
                return "playbook", reason
        return None

    def look(self, stage: str, hosts: list[str]) -> str | None:
        """None when the stage's gates pass for these hosts, else why not. A gate failing past
        the timeout pauses the session (once; its failure clock starts again)."""
        if not self.any(stage):
            return None
        key = f"{stage}:{','.join(hosts)}"
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last[0] < self.interval:
            return last[1]
        failed = self._check(stage, hosts)
        reason = None if failed is None else failed[1]
        was = last[1] if last is not None else None
        self._last[key] = (now, reason)
        data = {"stage": stage, "hosts": hosts, "reason": reason}
        if failed is None:
            self._failing_since.pop(key, None)
            if was is not None:
                self._event("gate.passed", data)
            return None
        since = self._failing_since.setdefault(key, now)
        if reason != was:
            self._event("gate.failed", {**data, "gate": failed[0]})
        if now - since >= self.timeout:
            self._failing_since.pop(key, None)
            self._pause(failed[0], f"{stage} {', '.join(hosts) or 'a host'}: {reason}")
        return reason

    def wait(self, stage: str, hosts: list[str]) -> bool:
        """Block until the gates pass (True) or a failing gate paused the session (False)."""
        while True:
            reason = self.look(stage, hosts)
            if reason is None:
                return True
            if self._paused():
                return False
            self.ctx.pause(self.interval)

    def _paused(self) -> bool:
        with self.ctx.db.transaction() as repo:
            session = repo.get_session(self.ctx.session_id, with_deleted=True)
            return session.paused_at is not None or session.stop_requested

    def _event(self, kind: str, data: dict) -> None:
        with self.ctx.db.transaction() as repo:
            repo.add_event(self.ctx.session_id, kind, data.get("gate"), None, None, data)

    def _pause(self, gate: str, reason: str) -> None:
        with self.ctx.db.transaction() as repo:
            session = repo.lock_session(self.ctx.session_id)
            self.ctx.check_owner(session)
            with contextlib.suppress(PauseRefused):  # ended meanwhile: nothing to hold
                request_pause(
                    repo,
                    session,
                    f"health gate failing for over {self.timeout:g} s: {reason}",
                    f"gate:{gate}",
                )
