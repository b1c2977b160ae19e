"""An in-memory cloud whose moves take real time and whose every outage is counted.

It lets a maintenance session run end to end with no real cloud, and it is the judge of the
result: for every instance it ever knew it records when the instance was not serving, so a test
or a demo can show that a workflow kept the application up (or prove that it did not).

Names are fixed so that outside tools can script against it: hosts ``compute-1`` ...
``compute-N`` and ``controller-1`` ... ``controller-M``, projects ``project-1`` ...
``project-P``, instances ``<project>-vm-<k>`` whose id is their name; with zones, compute
hosts are dealt round robin into ``zone-1`` ... ``zone-Z``.

Placement at start: instance number ``j`` (counting project by project) goes to compute host
``j mod N``, round-robin, so no compute host is empty. If there are fewer instances than compute
hosts, the last hosts simply start empty (nothing is invented to fill them). Every compute host
gets the same capacity: the smallest ``c`` (at least 1) that holds the fullest host and with
``c * (N - 1) >= total instances``, so any one host can be emptied onto the others. With a
single compute host there is no "elsewhere"; it gets just enough capacity for its instances.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field

MOVE_KINDS = ("migrate", "live_migrate", "evict")
FAULT_KINDS = ("migrate", "live_migrate", "evict", "maintain", "create")

RUNNING = "RUNNING"
DONE = "DONE"
FAILED = "FAILED"


class SimCloudError(Exception):
    """A refused call; ``status`` and ``title`` say how the HTTP layer reports it."""

    status: int = 400
    title: str = "BadRequest"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(SimCloudError):
    pass


class NotFound(SimCloudError):
    status = 404
    title = "NotFound"


class HostNotFound(NotFound):
    title = "HostNotFound"


class InstanceNotFound(NotFound):
    title = "InstanceNotFound"


class ActionNotFound(NotFound):
    title = "ActionNotFound"


class ProjectNotFound(NotFound):
    title = "ProjectNotFound"


class Conflict(SimCloudError):
    status = 409
    title = "Conflict"


class NoValidHost(Conflict):
    title = "NoValidHost"


class InjectedFault(Conflict):
    title = "OperationFailed"


@dataclass
class SimulatedCloudConfig:
    """The shape of the simulated cloud and how long its operations take (seconds)."""

    hosts: int = 4
    projects: int = 2
    instances: int = 4
    """Instances per project."""
    controllers: int = 0
    zones: int = 0
    """Availability zones ``zone-1`` ... ``zone-Z`` the compute hosts are dealt into, round
    robin (compute-1 in zone-1, compute-2 in zone-2, ...); 0: no zones."""
    migrate_seconds: float = 1.0
    live_migrate_seconds: float = 0.5
    evict_seconds: float = 0.2
    maintain_seconds: float = 1.0
    seed: int = 0
    fail_rate: float = 0.0
    """Chance that any move (migrate, live migrate, evict) fails."""

    def __post_init__(self) -> None:
        for name in ("hosts", "projects", "instances", "controllers", "zones"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("migrate_seconds", "live_migrate_seconds", "evict_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.maintain_seconds < 0:
            raise ValueError("maintain_seconds must not be negative")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        if self.hosts == 0 and self.projects * self.instances > 0:
            raise ValueError("instances need at least one compute host")

    def move_seconds(self, kind: str) -> float:
        return {
            "migrate": self.migrate_seconds,
            "live_migrate": self.live_migrate_seconds,
            "evict": self.evict_seconds,
        }[kind]


def host_capacity(hosts: int, total_instances: int) -> int:
    """The uniform capacity that holds the round-robin placement with room to empty one host."""
    if hosts <= 0:
        return 1
    fullest = math.ceil(total_instances / hosts)
    spread = math.ceil(total_instances / (hosts - 1)) if hosts > 1 else fullest
    return max(1, fullest, spread)


def natural_key(name: str) -> tuple:
    """Sort ``compute-10`` after ``compute-9``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


@dataclass
class _Host:
    name: str
    kind: str
    capacity: int
    zone: str | None = None
    enabled: bool = True
    disabled_reason: str | None = None
    maintenance: list[dict] = field(default_factory=list)
    in_maintenance: int = 0


@dataclass
class _Instance:
    instance_id: str
    project_id: str
    host: str | None
    created_at: float
    size: int = 1
    fate: str = "active"
    task: str | None = None
    action_id: str | None = None
    ended_at: float | None = None
    outages: set[str] = field(default_factory=set)
    downtime: list[list] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    moves: list[dict] = field(default_factory=list)


@dataclass
class _Action:
    action_id: str
    kind: str
    instance_id: str
    source: str
    target: str | None
    size: int
    started_at: float
    status: str = RUNNING
    error: str | None = None
    ended_at: float | None = None
    fault: str | None = None
    refused: bool = False
    """Failed at once: the target could not take the instance."""
    record: dict = field(default_factory=dict)
    timer: threading.Timer | None = None


@dataclass
class _Fault:
    kind: str
    instance_id: str | None
    host: str | None
    remaining: int
    message: str


class SimulatedCloud:
    """The model: hosts, instances, moves in flight and the downtime ledger, behind one lock."""

    def __init__(self, config: SimulatedCloudConfig | None = None) -> None:
        self.config = config or SimulatedCloudConfig()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._rng = random.Random(self.config.seed)
        self._hosts: dict[str, _Host] = {}
        self._instances: dict[str, _Instance] = {}
        self._actions: dict[str, _Action] = {}
        self._on_host: dict[str, dict[str, _Instance]] = {}
        """Active instances by host: listing a host, or what is used on it, costs its own
        instances, not the whole cloud's (1,000 hosts have 10,000 instances)."""
        self._running: dict[str, _Action] = {}
        """Moves in flight: the room they reserve, without a look at every move ever made."""
        self._faults: list[_Fault] = []
        self._closed = False
        self.projects = [f"project-{p}" for p in range(1, self.config.projects + 1)]
        self._build()

    # -- construction -----------------------------------------------------------------------

    def _build(self) -> None:
        cfg = self.config
        total = cfg.projects * cfg.instances
        capacity = host_capacity(cfg.hosts, total)
        computes = [f"compute-{i}" for i in range(1, cfg.hosts + 1)]
        for position, name in enumerate(computes):
            zone = f"zone-{position % cfg.zones + 1}" if cfg.zones else None
            self._hosts[name] = _Host(name, "compute", capacity, zone)
            self._on_host[name] = {}
        for i in range(1, cfg.controllers + 1):
            name = f"controller-{i}"
            self._hosts[name] = _Host(name, "controller", 0)
            self._on_host[name] = {}
        now = time.time()
        j = 0
        for project in self.projects:
            for k in range(1, cfg.instances + 1):
                host = computes[j % len(computes)]
                name = f"{project}-vm-{k}"
                self._instances[name] = _Instance(name, project, host, now, hosts=[host])
                self._on_host[host][name] = self._instances[name]
                j += 1

    # -- helpers (lock held) ----------------------------------------------------------------

    def _host(self, name: str) -> _Host:
        host = self._hosts.get(name)
        if host is None:
            raise HostNotFound(f"Compute host {name} could not be found.")
        return host

    def _instance(self, instance_id: str) -> _Instance:
        inst = self._instances.get(instance_id)
        if inst is None or inst.fate != "active":
            raise InstanceNotFound(f"Instance {instance_id} could not be found.")
        return inst

    def _move_to(self, inst: _Instance, host: str | None) -> None:
        """Put the instance on `host` (None: it is gone), in the index by host too."""
        if inst.host is not None:
            self._on_host[inst.host].pop(inst.instance_id, None)
        inst.host = host
        if host is not None:
            self._on_host[host][inst.instance_id] = inst

    def _used(self, host: str) -> int:
        return sum(i.size for i in self._on_host[host].values())

    def _reserved(self, host: str) -> int:
        return sum(a.size for a in self._running.values() if a.target == host)

    def _free(self, host: str) -> int:
        return self._hosts[host].capacity - self._used(host) - self._reserved(host)

    def _pick_host(self, size: int, exclude: str | None = None) -> str | None:
        candidates = [
            h.name
            for h in self._hosts.values()
            if h.kind == "compute"
            and h.enabled
            and h.name != exclude
            and self._free(h.name) >= size
        ]
        if not candidates:
            return None
        return min(candidates, key=lambda n: (-self._free(n), natural_key(n)))

    def _take_fault(self, kind: str, instance_id: str | None, host: str | None) -> str | None:
        for fault in self._faults:
            if fault.kind != kind or fault.remaining <= 0:
                continue
            if fault.instance_id is not None and fault.instance_id != instance_id:
                continue
            if fault.host is not None and fault.host != host:
                continue
            fault.remaining -= 1
            self._faults = [f for f in self._faults if f.remaining > 0]
            return fault.message
        return None

    @staticmethod
    def _begin_outage(inst: _Instance, token: str, now: float) -> None:
        if not inst.outages:
            inst.downtime.append([now, None])
        inst.outages.add(token)

    @staticmethod
    def _end_outage(inst: _Instance, token: str, now: float) -> None:
        if token not in inst.outages:
            return
        inst.outages.discard(token)
        if not inst.outages and inst.downtime and inst.downtime[-1][1] is None:
            inst.downtime[-1][1] = now

    @staticmethod
    def _close_outages(inst: _Instance, now: float) -> None:
        inst.outages.clear()
        if inst.downtime and inst.downtime[-1][1] is None:
            inst.downtime[-1][1] = now

    def _host_view(self, host: _Host) -> dict:
        used = self._used(host.name)
        reserved = self._reserved(host.name)
        return {
            "name": host.name,
            "kind": host.kind,
            "zone": host.zone,
            "enabled": host.enabled,
            "disabled_reason": host.disabled_reason,
            "capacity": host.capacity,
            "used": used,
            "reserved": reserved,
            "free": host.capacity - used - reserved,
            "maintained": sum(1 for m in host.maintenance if m["ok"]),
            "in_maintenance": host.in_maintenance > 0,
        }

    @staticmethod
    def _instance_view(inst: _Instance) -> dict:
        return {
            "instance_id": inst.instance_id,
            "name": inst.instance_id,
            "project_id": inst.project_id,
            "host": inst.host,
            "size": inst.size,
            "state": "MIGRATING" if inst.task else "ACTIVE",
            "task": inst.task,
            "action_id": inst.action_id,
            "serving": not inst.outages,
        }

    @staticmethod
    def _action_view(action: _Action) -> dict:
        if action.status == DONE:
            host = action.target
        elif action.status == FAILED:
            host = action.source
        else:
            host = None
        return {
            "action_id": action.action_id,
            "kind": action.kind,
            "status": action.status,
            "instance_id": action.instance_id,
            "host": host,
            "source": action.source,
            "target": action.target,
            "error": action.error,
            "refused": action.refused,
            "started_at": action.started_at,
            "ended_at": action.ended_at,
        }

    # -- hosts ------------------------------------------------------------------------------

    def list_hosts(self) -> list[dict]:
        with self._lock:
            kinds = {"compute": 0, "controller": 1}
            hosts = sorted(self._hosts.values(), key=lambda h: (kinds[h.kind], natural_key(h.name)))
            return [self._host_view(h) for h in hosts]

    def get_host(self, name: str) -> dict:
        with self._lock:
            return self._host_view(self._host(name))

    def disable_host(self, name: str, reason: str = "") -> dict:
        with self._lock:
            host = self._host(name)
            host.enabled = False
            host.disabled_reason = reason or None
            return self._host_view(host)

    def enable_host(self, name: str) -> dict:
        with self._lock:
            host = self._host(name)
            host.enabled = True
            host.disabled_reason = None
            return self._host_view(host)

    def maintain_host(self, name: str) -> dict:
        """Reboot the host (synchronously): whatever is still on it is down meanwhile."""
        with self._lock:
            host = self._host(name)
            now = time.time()
            message = self._take_fault("maintain", None, name)
            if message is not None:
                host.maintenance.append(
                    {"start": now, "end": now, "ok": False, "error": message, "instances": []}
                )
                raise InjectedFault(message)
            token = f"maintain:{uuid.uuid4()}"
            hit = list(self._on_host[name].values())
            for inst in hit:
                self._begin_outage(inst, token, now)
            record = {
                "start": now,
                "end": None,
                "ok": True,
                "error": None,
                "instances": [i.instance_id for i in hit],
            }
            host.maintenance.append(record)
            host.in_maintenance += 1
        time.sleep(self.config.maintain_seconds)
        with self._lock:
            now = time.time()
            for inst in hit:
                self._end_outage(inst, token, now)
            record["end"] = now
            host.in_maintenance -= 1
            self._changed.notify_all()
            return dict(record)

    # -- instances --------------------------------------------------------------------------

    def list_instances(self, host: str | None = None, project_id: str | None = None) -> list[dict]:
        with self._lock:
            if host is not None:
                self._host(host)
            pool = self._instances if host is None else self._on_host[host]
            found = [
                i
                for i in pool.values()
                if i.fate == "active" and (project_id is None or i.project_id == project_id)
            ]
            found.sort(key=lambda i: natural_key(i.instance_id))
            return [self._instance_view(i) for i in found]

    def get_instance(self, instance_id: str) -> dict:
        with self._lock:
            return self._instance_view(self._instance(instance_id))

    def create_instance(
        self, project_id: str, name: str | None = None, host: str | None = None
    ) -> dict:
        """Scale out: a new instance on ``host`` or on the enabled host with most room."""
        with self._lock:
            if project_id not in self.projects:
                raise ProjectNotFound(f"Project {project_id} could not be found.")
            if name is None:
                k = 1
                while f"{project_id}-vm-{k}" in self._instances:
                    k += 1
                name = f"{project_id}-vm-{k}"
            elif name in self._instances:
                raise Conflict(f"Instance {name} already exists (instance names are never reused).")
            size = 1
            if host is not None:
                target = self._host(host)
                if target.kind != "compute":
                    raise NoValidHost(f"No valid host was found. {host} is not a compute host.")
                if not target.enabled:
                    raise NoValidHost(
                        f"No valid host was found. Compute service of {host} is disabled."
                    )
                if self._free(host) < size:
                    raise NoValidHost(
                        f"No valid host was found. Host {host} has not enough free capacity "
                        f"(free {self._free(host)}, needed {size})."
                    )
            else:
                host = self._pick_host(size)
                if host is None:
                    raise NoValidHost(
                        "No valid host was found. There are not enough hosts available."
                    )
            message = self._take_fault("create", name, host)
            if message is not None:
                raise InjectedFault(message)
            inst = _Instance(name, project_id, None, time.time(), size=size, hosts=[host])
            self._instances[name] = inst
            self._move_to(inst, host)
            self._changed.notify_all()
            return self._instance_view(inst)

    def delete_instance(self, instance_id: str) -> None:
        """Scale in: the instance's manager deleted it; that is not downtime."""
        with self._lock:
            inst = self._instance(instance_id)
            if inst.task:
                raise Conflict(
                    f"Cannot 'delete' instance {instance_id} while it is in task_state {inst.task}."
                )
            now = time.time()
            self._close_outages(inst, now)
            inst.fate = "deleted"
            inst.ended_at = now
            self._move_to(inst, None)
            self._changed.notify_all()

    # -- moves ------------------------------------------------------------------------------

    def migrate(self, instance_id: str, target_host: str | None = None, live: bool = False) -> str:
        return self._start_move("live_migrate" if live else "migrate", instance_id, target_host)

    def live_migrate(self, instance_id: str, target_host: str | None = None) -> str:
        return self._start_move("live_migrate", instance_id, target_host)

    def evict(self, instance_id: str) -> str:
        return self._start_move("evict", instance_id, None)

    def _target_error(self, source: str, target: str | None, size: int, inst_id: str) -> str | None:
        if target is None:
            return None
        host = self._hosts.get(target)
        if host is None:
            return f"No valid host was found. Compute host {target} could not be found."
        if target == source:
            return f"Unable to migrate instance ({inst_id}) to current host ({source})."
        if host.kind != "compute":
            return f"No valid host was found. {target} is not a compute host."
        if not host.enabled:
            reason = f" (disabled: {host.disabled_reason})" if host.disabled_reason else ""
            return f"Compute service of {target} is unavailable at this time{reason}."
        free = self._free(target)
        if free < size:
            return (
                f"No valid host was found. Host {target} has not enough free capacity "
                f"(free {free}, needed {size})."
            )
        return None

    def _start_move(self, kind: str, instance_id: str, target_host: str | None) -> str:
        with self._lock:
            if self._closed:
                raise Conflict("The simulated cloud is shut down.")
            inst = self._instance(instance_id)
            if inst.task:
                raise Conflict(
                    f"Cannot '{kind}' instance {instance_id} while it is in task_state {inst.task}."
                )
            now = time.time()
            source = inst.host
            assert source is not None
            target: str | None = None
            error: str | None = None
            if kind != "evict":
                error = self._target_error(source, target_host, inst.size, instance_id)
                if error is None:
                    target = target_host or self._pick_host(inst.size, exclude=source)
                    if target is None:
                        error = "No valid host was found. There are not enough hosts available."
            action = _Action(
                action_id=str(uuid.uuid4()),
                kind=kind,
                instance_id=instance_id,
                source=source,
                target=target,
                size=inst.size,
                started_at=now,
            )
            action.record = {
                "action_id": action.action_id,
                "kind": kind,
                "from": source,
                "to": target if kind != "evict" else None,
                "start": now,
                "end": None,
                "status": RUNNING,
                "error": None,
            }
            inst.moves.append(action.record)
            self._actions[action.action_id] = action
            self._running[action.action_id] = action
            if error is not None:
                action.target = None
                action.refused = True
                self._end_action(action, FAILED, error, now)
                return action.action_id
            action.fault = self._take_fault(kind, instance_id, source)
            rate = self.config.fail_rate
            if action.fault is None and rate > 0 and self._rng.random() < rate:
                action.fault = (
                    f"Simulated random failure of {kind} of instance {instance_id} "
                    f"(fail_rate {rate})."
                )
            inst.task = kind
            inst.action_id = action.action_id
            if kind != "live_migrate":
                self._begin_outage(inst, f"move:{action.action_id}", now)
            timer = threading.Timer(
                self.config.move_seconds(kind), self._finish_move, args=(action.action_id,)
            )
            timer.daemon = True
            action.timer = timer
            timer.start()
            return action.action_id

    def _end_action(self, action: _Action, status: str, error: str | None, now: float) -> None:
        action.status = status
        self._running.pop(action.action_id, None)
        action.error = error
        action.ended_at = now
        action.timer = None
        action.record.update(status=status, error=error, end=now)
        if status == FAILED:
            action.record["to"] = None
        self._changed.notify_all()

    def _finish_move(self, action_id: str) -> None:
        with self._lock:
            action = self._actions[action_id]
            if action.status != RUNNING or self._closed:
                return
            inst = self._instances[action.instance_id]
            now = time.time()
            inst.task = None
            inst.action_id = None
            self._end_outage(inst, f"move:{action_id}", now)
            if action.fault is not None:
                self._end_action(action, FAILED, action.fault, now)
                return
            if action.kind == "evict":
                self._close_outages(inst, now)
                inst.fate = "evicted"
                inst.ended_at = now
                self._move_to(inst, None)
            else:
                self._move_to(inst, action.target)
                inst.hosts.append(action.target)  # type: ignore[arg-type]
            self._end_action(action, DONE, None, now)

    def get_action(self, action_id: str) -> dict:
        with self._lock:
            action = self._actions.get(action_id)
            if action is None:
                raise ActionNotFound(f"Action {action_id} could not be found.")
            return self._action_view(action)

    def wait_action(self, action_id: str, timeout: float) -> dict:
        """The action once it ended, or as it is when ``timeout`` seconds have passed."""
        with self._changed:
            action = self._actions.get(action_id)
            if action is None:
                raise ActionNotFound(f"Action {action_id} could not be found.")
            self._changed.wait_for(lambda: action.status != RUNNING, max(0.0, timeout))
            return self._action_view(action)

    # -- faults and the ledger --------------------------------------------------------------

    def inject_fault(
        self,
        kind: str,
        instance_id: str | None = None,
        count: int = 1,
        message: str | None = None,
        host: str | None = None,
    ) -> dict:
        """Make the next ``count`` matching operations fail with ``message``.

        ``instance_id`` narrows a move (or names the instance a create would make); ``host``
        narrows by the move's source host, the maintained host or the host a create picked.
        """
        if kind not in FAULT_KINDS:
            raise BadRequest(f"Unknown fault kind {kind!r}; expected one of {list(FAULT_KINDS)}.")
        if count < 1:
            raise BadRequest("count must be at least 1.")
        message = message or f"Simulated fault injected into {kind}."
        with self._lock:
            if host is not None:
                self._host(host)
            self._faults.append(_Fault(kind, instance_id, host, count, message))
            return {
                "kind": kind,
                "instance_id": instance_id,
                "host": host,
                "count": count,
                "message": message,
            }

    def report(self) -> dict:
        """Every instance ever known with its outages and moves, and every host's maintenance."""
        with self._lock:
            now = time.time()
            instances = {}
            for inst in sorted(self._instances.values(), key=lambda i: natural_key(i.instance_id)):
                intervals = [[s, e] for s, e in inst.downtime]
                downtime = sum((e if e is not None else now) - s for s, e in intervals)
                instances[inst.instance_id] = {
                    "instance_id": inst.instance_id,
                    "project_id": inst.project_id,
                    "fate": inst.fate,
                    "evicted": inst.fate == "evicted",
                    "host": inst.host,
                    "hosts": list(inst.hosts),
                    "serving": inst.fate == "active" and not inst.outages,
                    "created_at": inst.created_at,
                    "ended_at": inst.ended_at,
                    "downtime_intervals": intervals,
                    "downtime_seconds": downtime,
                    "moves": [dict(m) for m in inst.moves],
                }
            hosts = {}
            for view in self.list_hosts():
                host = self._hosts[view["name"]]
                view["instances"] = sorted(self._on_host[host.name], key=natural_key)
                view["maintenance"] = [dict(m) for m in host.maintenance]
                hosts[host.name] = view
            return {"instances": instances, "hosts": hosts}

    def close(self) -> None:
        """Cancel the moves in flight (their actions stay RUNNING)."""
        with self._lock:
            self._closed = True
            timers = [a.timer for a in self._actions.values() if a.timer is not None]
        for timer in timers:
            timer.cancel()
