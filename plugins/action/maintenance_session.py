# Copyright: Fenix for Ansible developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""maintenance_session with its progress in the play's output while it waits.

A module prints nothing until it returns, so an hour-long session would be one silent task.
With wait and display_progress, this plug-in lets the module start (or find) the session
without waiting, then follows it through short maintenance_info calls on the task's host,
printing a line per step as it happens (Display reaches the main process, and so ansible-runner
and AWX, from the worker), and ends as the module would: failed with the session's error on
MAINTENANCE_FAILED, failed with how to follow it again on a timeout.
"""

from __future__ import annotations

import time

from ansible.module_utils.common.validation import check_type_bool, check_type_float, check_type_int
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.fenix.maintenance.plugins.module_utils._contract import (
    MAINTENANCE_FAILED,
    is_final,
)
from ansible_collections.fenix.maintenance.plugins.module_utils._progress import (
    deleted_message,
    describe_changes,
    describe_event,
    failed_message,
    progress_entry,
    unfinished_message,
)

display = Display()

MODULE = "fenix.maintenance.maintenance_session"
INFO_MODULE = "fenix.maintenance.maintenance_info"
CONTROLLER_OPTIONS = ("url", "token", "validate_certs", "timeout")


class SessionGone(Exception):
    """The followed session was deleted on the controller."""


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if not self._follows_here(args):
            result.update(self._execute_module(MODULE, module_args=args, task_vars=task_vars))
            return result
        # The module validates every option, then starts or finds the session without waiting.
        started = self._execute_module(
            MODULE, module_args=dict(args, wait=False), task_vars=task_vars
        )
        result.update(started)
        if started.get("failed") or "session_id" not in started:
            return result
        module_args = (result.get("invocation") or {}).get("module_args")
        if module_args:
            module_args["wait"] = True
        wait_timeout = check_type_int(args.get("wait_timeout", 3600))
        interval = check_type_float(args.get("poll_interval", 2.0))
        follower = _Follower(self, args, started["session_id"], task_vars)
        try:
            detail = follower.follow(wait_timeout, interval)
        except SessionGone:
            result.update(failed=True, msg=deleted_message(started["session_id"]))
            result["progress"] = follower.progress
            return result
        except _ModuleFailed as exc:
            result.update(exc.result, failed=True, progress=follower.progress)
            return result
        result.update(session=detail, progress=follower.progress)
        if detail["state"] == MAINTENANCE_FAILED:
            result.update(failed=True, msg=failed_message(started["session_id"], detail))
        elif not is_final(detail["state"]):
            message = unfinished_message(started["session_id"], detail, wait_timeout)
            result.update(failed=True, msg=message)
        return result

    def _follows_here(self, args):
        """Whether this plug-in follows the session (else the module does it all, silently)."""
        try:
            wait = check_type_bool(args.get("wait", False))
            show = check_type_bool(args.get("display_progress", True))
        except TypeError:
            return False  # the module says what is wrong with the value
        state = args.get("state", "present")
        return wait and show and state == "present" and not self._task.check_mode


class _ModuleFailed(Exception):
    def __init__(self, result):
        super().__init__(result.get("msg"))
        self.result = result


class _Follower:
    """Reads the session and its new events until it ends, printing each step."""

    def __init__(self, action, args, session_id, task_vars):
        self.action = action
        self.session_id = session_id
        self.task_vars = task_vars
        self.controller = {k: args[k] for k in CONTROLLER_OPTIONS if k in args}
        self.host = task_vars.get("inventory_hostname", "localhost") if task_vars else "localhost"
        self.progress = []
        self.last_event = 0
        self.use_events = True
        self.last_detail = None

    def follow(self, wait_timeout, interval):
        deadline = time.monotonic() + wait_timeout
        while True:
            detail = self.poll()
            left = deadline - time.monotonic()
            if is_final(detail["state"]) or left <= 0:
                return detail
            time.sleep(min(interval, left))

    def poll(self):
        if self.use_events:
            answer = self._read(events=True, events_after=self.last_event)
            if answer.get("events_unsupported"):
                self.use_events = False
                self.progress = []
            else:
                for event in answer.get("events") or []:
                    self._tell_event(event)
                self.last_detail = answer["session"]
                return answer["session"]
        answer = self._read()
        detail = answer["session"]
        self._tell_changes(detail)
        return detail

    def _read(self, **extra):
        answer = self.action._execute_module(
            INFO_MODULE,
            module_args=dict(self.controller, session_id=self.session_id, **extra),
            task_vars=self.task_vars,
        )
        if answer.get("failed"):
            if answer.get("events_unsupported") and answer.get("session"):
                return answer
            if self.session_id not in (answer.get("session_ids") or [self.session_id]):
                raise SessionGone()
            raise _ModuleFailed(answer)
        return answer

    def _tell_event(self, event):
        self.last_event = max(self.last_event, event.get("id") or 0)
        entry = progress_entry(event)
        if entry:
            self.progress.append(entry)
        line = describe_event(event)
        if line:
            self._say(line)

    def _tell_changes(self, detail):
        if detail.get("state") != (self.last_detail or {}).get("state"):
            previous = self.progress[-1]["state"] if self.progress else None
            at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
            self.progress.append(dict(state=detail["state"], previous=previous, at=at))
        for line in describe_changes(self.last_detail, detail):
            self._say(line)
        self.last_detail = detail

    def _say(self, line):
        display.display(f"[{self.host}] {line}")
