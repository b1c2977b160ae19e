"""The state of a small OpenStack (one Keystone user, Nova's hosts and servers) and Nova's rules.

Nova's rules are the part a driver must get right, so they are kept: a move is refused with
nova's own message (a server that is not ACTIVE, a named host that is disabled, no host with
room, block migration on shared storage), a move takes time in the background with the states
nova shows meanwhile (MIGRATING; RESIZE then VERIFY_RESIZE until confirmed), the scheduler only
picks enabled hosts with free vCPUs that keep anti-affinity groups apart, and a move that breaks
either puts the server in ERROR with a fault or rolls it back with a migration record in error
and the reason in the instance action's events, as nova does. Views (what each microversion
shows) live in views.py and HTTP in app.py, so this module is plain Python; ledger.py measures
what the moves cost the servers (downtime), for demos.

It is over 300 lines because the moves and the scheduler are one state machine.
"""

from __future__ import annotations

import heapq
import itertools
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from .ledger import ServerLedger
from .resources import (
    Aggregate,
    Flavor,
    Hypervisor,
    InstanceAction,
    Migration,
    Server,
    ServerGroup,
    Service,
    now_iso,
)

COMPUTE = "nova-compute"
DEFAULT_ZONE = "nova"
"""Nova's default_availability_zone: the zone of a compute host in no zone's aggregate."""
CONTROLLER_BINARIES = ("nova-scheduler", "nova-conductor")
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


class ApiError(Exception):
    """A refused call: ``status`` is the HTTP status Nova (or Keystone) answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class SimulatorConfig:
    max_microversion: str = "2.96"
    """Highest compute microversion announced; the SDK negotiates down from it."""
    live_migrate_seconds: float = 0.1
    migrate_seconds: float = 0.1
    confirm_seconds: float = 0.02
    delete_seconds: float = 0.02
    shared_storage: bool = False
    """Instance disks on shared storage (no block migration needed) or local disks."""
    username: str = "admin"
    password: str = "secret"  # noqa: S105 - the simulator's only credential
    project_name: str = "admin"
    domain: str = "Default"
    region: str = "RegionOne"


class _Timer:
    """Runs callbacks after a delay, in order, on one thread (the moves' background work)."""

    def __init__(self) -> None:
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="openstack-sim-timer", daemon=True)
        self._thread.start()

    def later(self, delay: float, callback: Callable[[], None]) -> None:
        with self._cond:
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._order), callback))
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (
                    not self._queue or self._queue[0][0] > time.monotonic()
                ):
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cond.wait(timeout)
                if self._closed:
                    return
                _due, _order, callback = heapq.heappop(self._queue)
            callback()


class SimulatedOpenStack:
    """Keystone's one user and Nova's hosts, servers, migrations; thread-safe."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.user_id = uuid.uuid4().hex
        self.project_id = uuid.uuid4().hex
        self._lock = threading.RLock()
        self._tokens: dict[str, str] = {}
        self._numbers = itertools.count(1)
        self.services: list[Service] = []
        self.hypervisors: dict[str, Hypervisor] = {}
        self.flavors: dict[str, Flavor] = {}
        self.servers: dict[str, Server] = {}
        self.groups: dict[str, ServerGroup] = {}
        self.aggregates: list[Aggregate] = []
        self.migrations: list[Migration] = []
        self.actions: list[InstanceAction] = []
        self._faults: dict[str, tuple[str, bool]] = {}
        self.ledger = ServerLedger()
        """When each server's guest was down (see ledger.py); read it with report()."""
        self._timer = _Timer()

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def close(self) -> None:
        self._timer.close()

    # -- setting the scene (tests, demos) ---------------------------------------------------

    def add_compute_host(self, name: str, vcpus: int = 8, zone: str = DEFAULT_ZONE) -> None:
        """A compute host; in another zone than nova's default, through an aggregate of that
        availability zone (named after it), as an operator puts a host in a zone."""
        with self._lock:
            self.services.append(Service(name, COMPUTE, DEFAULT_ZONE, number=next(self._numbers)))
            self.hypervisors[name] = Hypervisor(name, vcpus, number=next(self._numbers))
            if zone != DEFAULT_ZONE:
                self.add_aggregate(zone, [name], availability_zone=zone)

    def add_aggregate(
        self,
        name: str,
        hosts: list[str],
        availability_zone: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Hosts into an aggregate (made if new); with an availability zone, their
        nova-compute services show it as their zone, as nova's os-services does."""
        with self._lock:
            aggregate = next((a for a in self.aggregates if a.name == name), None)
            if aggregate is None:
                aggregate = Aggregate(name, next(self._numbers), availability_zone)
                self.aggregates.append(aggregate)
            aggregate.metadata.update(metadata or {})
            for host in hosts:
                service = self._compute_service(host)
                if host not in aggregate.hosts:
                    aggregate.hosts.append(host)
                if aggregate.availability_zone is not None:
                    service.zone = aggregate.availability_zone

    def add_controller_host(self, name: str) -> None:
        with self._lock:
            for binary in CONTROLLER_BINARIES:
                self.services.append(Service(name, binary, "internal", number=next(self._numbers)))

    def add_flavor(self, name: str, vcpus: int = 1, ram: int = 512, disk: int = 1) -> Flavor:
        with self._lock:
            flavor = Flavor(str(next(self._numbers)), name, vcpus, ram, disk)
            self.flavors[flavor.id] = flavor
            return flavor

    def add_server_group(self, name: str, policy: str, project_id: str) -> str:
        with self._lock:
            group = ServerGroup(str(uuid.uuid4()), name, policy, project_id, self.user_id)
            self.groups[group.id] = group
            return group.id

    def add_server(
        self,
        name: str,
        project_id: str,
        host: str,
        flavor: Flavor,
        group_id: str | None = None,
    ) -> str:
        """An ACTIVE server already on ``host`` (placed by hand: no scheduler check)."""
        with self._lock:
            zone = self._compute_service(host).zone
            server = Server(
                str(uuid.uuid4()),
                name,
                project_id,
                self.user_id,
                flavor,
                host,
                zone,
                number=next(self._numbers),
                group_id=group_id,
            )
            self.servers[server.id] = server
            self.ledger.added(server.id, name, project_id, host)
            if group_id is not None:
                self.groups[group_id].members.append(server.id)
            return server.id

    def fail_next_migration(self, server_id: str, message: str, *, rollback: bool = False) -> None:
        """Make the next move of the server fail while it runs, with nova fault ``message``.

        Without ``rollback`` the server ends in ERROR with the fault (what a failed resize on
        the destination does); with it the server is ACTIVE again on its source and only the
        migration record (error) and the instance action's event details tell (a live
        migration that nova rolled back).
        """
        with self._lock:
            self._faults[server_id] = (message, rollback)

    # -- Keystone ------------------------------------------------------------------------

    def authenticate(self, username: str | None, password: str | None) -> str:
        if username != self.config.username or password != self.config.password:
            raise ApiError(401, "The request you have made requires authentication.")
        token = "gAAAA" + secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = self.project_id
        return token

    def project_of(self, token: str | None) -> str:
        with self._lock:
            project = self._tokens.get(token or "")
        if project is None:
            raise ApiError(401, "The request you have made requires authentication.")
        return project

    # -- os-services -----------------------------------------------------------------------

    def _compute_service(self, host: str) -> Service:
        for service in self.services:
            if service.host == host and service.binary == COMPUTE:
                return service
        raise ApiError(400, f"Compute host {host} could not be found.")

    def find_services(self, binary: str | None = None, host: str | None = None) -> list[Service]:
        with self._lock:
            return [
                s
                for s in self.services
                if (binary is None or s.binary == binary) and (host is None or s.host == host)
            ]

    def service_by_id(self, service_id: str) -> Service:
        for service in self.services:
            if service.uuid == service_id:
                return service
        raise ApiError(404, f"Service {service_id} could not be found.")

    def set_service_status(
        self, service: Service, status: str | None, reason: str | None, forced_down: bool | None
    ) -> Service:
        with self._lock:
            if status == "enabled" and reason:
                raise ApiError(
                    400, "Specifying 'disabled_reason' with status 'enabled' is invalid."
                )
            if status is not None:
                service.status = status
                service.disabled_reason = reason if status == "disabled" else None
            if forced_down is not None:
                service.forced_down = forced_down
            service.updated_at = now_iso()
            return service

    # -- the scheduler -------------------------------------------------------------------

    def used_vcpus(self, host: str) -> int:
        with self._lock:
            return sum(
                s.flavor.vcpus
                for s in self.servers.values()
                if host in (s.host, s.moving_to, s.holding)
            )

    def _usable(self, host: str) -> bool:
        service = self._compute_service(host)
        return service.status == "enabled" and service.up and not service.forced_down

    def _fits(self, server: Server, host: str) -> bool:
        room = self.hypervisors[host].vcpus - self.used_vcpus(host)
        if room < server.flavor.vcpus:
            return False
        group = self.groups.get(server.group_id or "")
        if group is not None and group.policy == "anti-affinity":
            others = (self.servers[m] for m in group.members if m != server.id)
            return all(host not in (o.host, o.moving_to) for o in others)
        return True

    def _schedule(self, server: Server, requested: str | None) -> str:
        candidates = [requested] if requested else sorted(self.hypervisors)
        fitting = [
            h for h in candidates if h != server.host and self._usable(h) and self._fits(server, h)
        ]
        if not fitting:
            raise ApiError(400, NO_VALID_HOST)
        # Nova's default weighers spread: the host with the most free vCPUs first.
        return max(fitting, key=lambda h: (self.hypervisors[h].vcpus - self.used_vcpus(h), h))

    # -- moves -----------------------------------------------------------------------------

    def get_server(self, server_id: str) -> Server:
        server = self.servers.get(server_id)
        if server is None:
            raise ApiError(404, f"Instance {server_id} could not be found.")
        return server

    def _check_state(self, server: Server, action: str, vm_states: tuple[str, ...]) -> None:
        if server.task_state is not None:
            attr, state = "task_state", server.task_state
        elif server.vm_state not in vm_states:
            attr, state = "vm_state", server.vm_state
        else:
            return
        raise ApiError(409, f"Cannot '{action}' instance {server.id} while it is in {attr} {state}")

    def live_migrate(
        self, server_id: str, host: str | None, block_migration: bool | None, force: bool
    ) -> None:
        """``block_migration`` None is "auto". Pre-checks answer at once, as nova < 2.34 does."""
        with self._lock:
            server = self.get_server(server_id)
            self._check_state(server, "os-migrateLive", ("active", "paused"))
            if host is not None:
                self._compute_service(host)
                if host == server.host:
                    raise ApiError(
                        400,
                        f"Unable to migrate instance ({server.id}) to current host ({host}).",
                    )
                if not self._usable(host):
                    raise ApiError(400, f"Compute service of {host} is unavailable at this time.")
            if block_migration is False and not self.config.shared_storage:
                raise ApiError(
                    400,
                    f"{host or server.host} is not on shared storage: Shared storage "
                    "live-migration requires either shared storage or boot-from-volume with "
                    "no local disks.",
                )
            if block_migration is True and self.config.shared_storage:
                raise ApiError(
                    400,
                    f"{host or server.host} is not on local storage: Block migration can not "
                    "be used with shared storage.",
                )
            dest = host if host is not None and force else self._schedule(server, host)
            action = self._start_move(server, dest, "live-migration", "live-migration", "running")
            server.task_state = "migrating"
        self._timer.later(
            self.config.live_migrate_seconds,
            lambda: self._finish_move(server_id, action, "compute_live_migration", live=True),
        )

    def migrate(self, server_id: str, host: str | None) -> None:
        """Cold migration; the scheduler's verdict comes back at once, as nova's does."""
        with self._lock:
            server = self.get_server(server_id)
            self._check_state(server, "migrate", ("active", "stopped"))
            if host is not None:
                self._compute_service(host)
                if host == server.host:
                    raise ApiError(400, "Cannot migrate to the host where the server exists.")
            dest = self._schedule(server, host)
            action = self._start_move(server, dest, "migration", "migrate", "migrating")
            server.task_state = "resize_migrating"
        self._timer.later(
            self.config.migrate_seconds,
            lambda: self._finish_move(server_id, action, "compute_finish_resize", live=False),
        )

    def _start_move(
        self, server: Server, dest: str, migration_type: str, action_name: str, status: str
    ) -> InstanceAction:
        assert server.host is not None
        self.ledger.move_started(
            server.id, server.host, dest, live=migration_type == "live-migration"
        )
        server.moving_to = dest
        server.updated = now_iso()
        self.migrations.append(
            Migration(
                next(self._numbers),
                server.id,
                server.host,
                dest,
                migration_type,
                status,
                server.project_id,
                server.user_id,
                int(server.flavor.id),
            )
        )
        action = self._record_action(server, action_name)
        conductor = "conductor_live_migrate_instance" if action_name != "migrate" else None
        self._event(action, conductor or "conductor_migrate_server", "Success")
        return action

    def _finish_move(self, server_id: str, action: InstanceAction, event: str, live: bool) -> None:
        with self._lock:
            server = self.servers.get(server_id)
            migration = self._latest_migration(server_id)
            if server is None or migration is None or server.moving_to is None:
                return  # deleted meanwhile
            fault = self._faults.pop(server_id, None)
            server.updated = migration.updated_at = now_iso()
            if fault is not None:
                message, rollback = fault
                server.moving_to = None
                server.task_state = None
                migration.status = "error"
                action.message = "Error"
                self._event(action, event, "Error", message)
                if not rollback:
                    server.vm_state = "error"
                    server.fault = {
                        "code": 500,
                        "created": now_iso().split(".")[0] + "Z",
                        "message": message,
                        "details": f"Traceback (most recent call last):\n  nova: {message}",
                    }
                self.ledger.move_failed(server_id, message, down=not rollback)
                return
            self._event(action, event, "Success")
            server.holding = None if live else server.host
            server.host, server.moving_to = server.moving_to, None
            self.ledger.move_done(server_id, server.host)
            server.task_state = None
            if live:
                migration.status = "completed"
            else:
                migration.status = "finished"
                server.vm_state = "resized" if server.vm_state == "active" else server.vm_state
                server.fault = None

    def confirm_resize(self, server_id: str) -> None:
        with self._lock:
            server = self.get_server(server_id)
            migration = self._latest_migration(server_id)
            if server.vm_state != "resized" or migration is None or migration.status != "finished":
                raise ApiError(400, "Instance has not been resized.")
            migration.status = "confirming"
            action = self._record_action(server, "confirmResize")

        def confirmed() -> None:
            with self._lock:
                if server_id not in self.servers:
                    return
                server.vm_state = "active"
                server.holding = None
                server.updated = migration.updated_at = now_iso()
                migration.status = "confirmed"
                self._event(action, "compute_confirm_resize", "Success")

        self._timer.later(self.config.confirm_seconds, confirmed)

    def delete_server(self, server_id: str) -> None:
        with self._lock:
            server = self.get_server(server_id)
            server.task_state = "deleting"
            self._record_action(server, "delete")

        def deleted() -> None:
            with self._lock:
                gone = self.servers.pop(server_id, None)
                if gone is not None:
                    self.ledger.deleted(server_id)
                if gone is not None and gone.group_id in self.groups:
                    self.groups[gone.group_id].members.remove(server_id)

        self._timer.later(self.config.delete_seconds, deleted)

    def report(self) -> dict:
        """Every server ever known, with its hosts, moves, fate and measured downtime."""
        with self._lock:
            return self.ledger.report()

    # -- records -------------------------------------------------------------------------

    def _latest_migration(self, server_id: str) -> Migration | None:
        mine = [m for m in self.migrations if m.instance_uuid == server_id]
        return mine[-1] if mine else None

    def _record_action(self, server: Server, name: str) -> InstanceAction:
        action = InstanceAction(
            f"req-{uuid.uuid4()}", server.id, name, server.project_id, server.user_id
        )
        self.actions.append(action)
        return action

    @staticmethod
    def _event(action: InstanceAction, name: str, result: str, details: str | None = None) -> None:
        stamp = now_iso()
        action.updated_at = stamp
        action.events.append(
            {
                "event": name,
                "start_time": stamp,
                "finish_time": stamp,
                "result": result,
                "traceback": None if details is None else f"nova.exception: {details}",
                "details": details,
            }
        )
