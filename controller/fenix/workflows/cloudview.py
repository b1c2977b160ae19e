"""The cloud's hosts and where its instances are, read once per step, then kept by difference.

Choosing targets needs every host and what each holds. Listing the whole cloud for each host
emptied made a session over N hosts cost N listings of 10 N instances (and N listings of N
hosts): quadratic. The view is read with one listing of each when first needed in a step and
then kept: each listing of one host replaces what that host holds, each move that ends puts
its instance where it went, each host the session takes out of service or gives back is
marked so, and so is each state the session gives its hosts. What others do meanwhile
(another session's moves and hosts, managers scaling) shows up in the next step's listing, or
sooner as a refusal from the cloud, after which the caller forgets the view and looks again.
A host's room is counted from one moment's listings, used and reserved (moves in flight)
together, so an old view errs on the side of less room.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from fenix.drivers.base import CloudDriver, HostKind, InstanceInfo
from fenix.planner.cloud import Host

SessionPlaces = Mapping[str, tuple[str, int]]
"""The session's hosts: name -> (state, position)."""


class CloudView:
    def __init__(self, driver: CloudDriver) -> None:
        self.driver = driver
        self._where: dict[str, tuple[str, int]] | None = None
        self._on: dict[str, set[str]] = {}
        self._used: Counter[str] = Counter()
        self._places: dict[str, Host] | None = None
        """Every host as a target, with the session's state of it (None: outside it)."""
        self._reserved: dict[str, int] = {}

    @property
    def loaded(self) -> bool:
        return self._where is not None

    def forget(self) -> None:
        """Read the cloud again when next asked (a new step, or the cloud refused a move)."""
        self._where = None
        self._places = None

    def in_service(self, host: str, enabled: bool) -> None:
        """The session has just taken `host` out of service (False) or given it back."""
        if self._places is not None and host in self._places:
            self._places[host] = replace(self._places[host], enabled=enabled)

    def places(
        self, read_session: Callable[[], SessionPlaces]
    ) -> tuple[list[Host], dict[str, int]]:
        """Every host of the cloud as a target, listed once in this step and marked since, and
        the room moves in flight will take on each (another
        session's too, where the cloud says: the simulated one does). The session's states are
        read (`read_session`) once per step, then kept as the session changes them: a read of
        its every host for each host emptied was quadratic."""
        if self._places is None:
            ours = read_session()
            self._places, self._reserved = {}, {}
            for info in self.driver.list_hosts():
                state, position = ours.get(info.name, (None, 0))
                compute = info.kind == HostKind.COMPUTE
                self._places[info.name] = Host(
                    info.name, info.capacity, compute, info.enabled, state, position
                )
                self._reserved[info.name] = int(info.details.get("reserved") or 0)
        return list(self._places.values()), self._reserved

    def session_state(self, host: str, state: str) -> None:
        """The session has just given `host` this state."""
        if self._places is not None and host in self._places:
            self._places[host] = replace(self._places[host], state=state)

    def load(self, listing: Iterable[InstanceInfo] | None = None) -> None:
        """Take a listing of the whole cloud (made now if not given) as the view."""
        self._where, self._on, self._used = {}, {}, Counter()
        for info in self.driver.list_instances() if listing is None else listing:
            self._put(info.instance_id, info.host, info.size)

    def used(self) -> Mapping[str, int]:
        """Units in use on each host."""
        if self._where is None:
            self.load()
        return self._used

    def host_seen(self, host: str, listing: Iterable[InstanceInfo]) -> None:
        """A listing of one host, just made: it holds these and nothing else."""
        if self._where is None:
            return
        listing = list(listing)
        if self._on.get(host, set()) - {info.instance_id for info in listing}:
            self.forget()  # moved by other hands, to somewhere this look does not say
            return
        for info in listing:
            self._put(info.instance_id, host, info.size)

    def moved(self, instance_id: str, host: str | None, size: int | None = None) -> None:
        """The instance is on `host` now (None: gone from the cloud, or not known where)."""
        if self._where is None:
            return
        old = self._where.pop(instance_id, None)
        if old is not None:
            self._on[old[0]].discard(instance_id)
            self._used[old[0]] -= old[1]
        if host is not None:
            self._put(instance_id, host, size if size is not None else (old[1] if old else 1))

    def _put(self, instance_id: str, host: str, size: int) -> None:
        assert self._where is not None
        old = self._where.get(instance_id)
        if old is not None:
            self._on[old[0]].discard(instance_id)
            self._used[old[0]] -= old[1]
        self._where[instance_id] = (host, size)
        self._on.setdefault(host, set()).add(instance_id)
        self._used[host] += size
