"""Leases (coordination.k8s.io/v1): who holds them, and how fast a new holder takes over."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from robot.api import logger
from robot.libraries.DateTime import convert_date
from robotlibcore import keyword

from kitcore import Check, KitError, WaitTimeout, getter, to_seconds
from KubeKit.connection import KubeConnection, KubeError
from KubeKit.context import KubeContext, dig, read_field, watch_named
from KubeKit.keywords.objects import resource_for
from KubeKit.watching import ListWatch, State, holder_of


def pod_of_holder(holder: str) -> str:
    """The pod name in a Lease's ``holderIdentity``: client-go writes ``<pod>_<random suffix>``, a pod name
    has no ``_``."""
    return str(holder or "").split("_")[0]


def claims_of_other_pods(claims: dict[str, int], pod: str) -> dict[str, int]:
    """The claims (``{holder: count}``, see `Get Lease Claims`) made by any pod but ``pod``."""
    return {holder: count for holder, count in claims.items() if pod_of_holder(holder) != pod}


def _epoch(since: Any) -> float:
    """A moment as epoch seconds: a number, or a date Robot understands (``Get Time  epoch``, ISO...)."""
    if isinstance(since, (int, float)):
        return float(since)
    try:
        return float(since)
    except ValueError:
        return float(convert_date(str(since), result_format="epoch"))


class LeaseKeywords:
    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx

    def _watch(self, conn: KubeConnection, name: str, namespace: str) -> ListWatch:
        return watch_named(conn, conn.coordination.list_namespaced_lease, namespace, name)

    def _read(self, conn: KubeConnection, name: str, namespace: str) -> dict[str, Any]:
        lease = conn.call(f"Read lease '{name}' in {namespace}", conn.coordination.read_namespaced_lease,
                          name, namespace)
        return conn.api.sanitize_for_serialization(lease)

    @keyword("Get Lease Holder", tags=["leases", "assertion"])
    @getter
    def get_lease_holder(self, name: str, namespace: str, *, check: Check, alias: str | None = None) -> str:
        """The lease's ``holderIdentity`` (empty when nobody holds it); can assert.

        Example:
        | ${leader} = | Get Lease Holder | streamspace-agent-k8s-local | streamspace |
        | Get Lease Holder | ${lease} | ${ns} | != | ${old_leader} | timeout=30s |
        """
        conn = self.ctx.conn(alias)
        return check(read_field(lambda: self._read(conn, name, namespace), "spec.holderIdentity", str, ""),
                     f"Holder of lease {name}")

    @keyword("Get Lease Holder Pod", tags=["leases", "assertion"])
    @getter
    def get_lease_holder_pod(self, name: str, namespace: str, *, check: Check, alias: str | None = None) -> str:
        """The pod that holds the lease: its ``holderIdentity`` without the ``_<suffix>`` client-go adds
        (empty when nobody holds it); can assert, retrying until ``timeout``.

        Example:
        | ${pod} = | Get Pod Name Of | k8s-agent-b |
        | Get Lease Holder Pod | streamspace-agent-k8s-local | streamspace | == | ${pod} | timeout=30s |
        """
        conn = self.ctx.conn(alias)
        return check(read_field(lambda: self._read(conn, name, namespace), "spec.holderIdentity", pod_of_holder, ""),
                     f"Pod holding lease {name}")

    @keyword("Get Pod Of Lease Holder", tags=["leases"])
    def get_pod_of_lease_holder(self, holder: str) -> str:
        """The pod name in a lease holder's identity (client-go writes ``<pod>_<suffix>``), e.g. to find the
        environment's replica with EnvironmentKit's ``Get Replica Of Pod``.

        Example:
        | ${holder} = | Get Lease Holder | ${lease} | ${ns} |
        | ${pod} = | Get Pod Of Lease Holder | ${holder} |
        """
        return pod_of_holder(holder)

    @keyword("Get Lease Claims Of Other Pods", tags=["leases", "failover"])
    def get_lease_claims_of_other_pods(self, claims: dict[str, int], pod: str) -> dict[str, int]:
        """Of the claims `Get Lease Claims` counted (``{holder: claims}``), those of any pod but ``pod``:
        empty when only ``pod`` claimed the lease.

        Example:
        | ${claims} = | Get Lease Claims | ${lease} | ${ns} | during=15s |
        | ${others} = | Get Lease Claims Of Other Pods | ${claims} | ${leader_pod} |
        | Should Be Empty | ${others} |
        """
        return claims_of_other_pods(dict(claims), pod)

    @keyword("Get Lease Acquire Time", tags=["leases"])
    def get_lease_acquire_time(self, name: str, namespace: str, alias: str | None = None) -> str:
        """When the lease's holder acquired it (``spec.acquireTime``, ISO 8601 as the API server wrote it);
        empty when the lease does not say.

        Example:
        | ${acquired} = | Get Lease Acquire Time | ${lease} | ${ns} |
        """
        conn = self.ctx.conn(alias)
        resource = resource_for(conn, "Lease")
        found = conn.call(f"Read Lease '{name}' in {namespace}", resource.get, name=name, namespace=namespace)
        return str(dig(found.to_dict(), "spec.acquireTime") or "")

    @keyword("Get Lease Transitions", tags=["leases", "assertion"])
    @getter
    def get_lease_transitions(self, name: str, namespace: str, *, check: Check, alias: str | None = None) -> int:
        """How many times the lease changed hands (``spec.leaseTransitions``, 0 when absent); can assert.

        Example:
        | Get Lease Transitions | ${lease} | ${ns} | == | ${before + 1} |
        """
        conn = self.ctx.conn(alias)
        return check(read_field(lambda: self._read(conn, name, namespace), "spec.leaseTransitions", int, 0),
                     f"Transitions of lease {name}")

    @keyword("Get Lease Claims", tags=["leases", "failover"])
    def get_lease_claims(self, name: str, namespace: str, during: str = "5s", poll: str = "0.2s",
                         alias: str | None = None) -> dict[str, int]:
        """Follow the lease for ``during`` and count, per holder, the writes that claimed it; returns
        ``{holder: claims}``.

        Every replica that believes it leads acquires or renews the lease in its own name (client-go
        renews every retry period, and a leader must renew within the lease duration), so a watch over
        one lease duration sees every replica that acts as leader: exactly one holder is one leader;
        two holders are two replicas that each took the lead (split brain, or a leader that did not
        step down). A write is one claim when it changes the holder or its ``renewTime``/``acquireTime``;
        the state seen when the watch starts counts as the first. Follows a watch (polls every ``poll``
        where the API cannot watch, and may then miss claims between two looks).

        Example:
        | ${claims} = | Get Lease Claims | ${lease} | ${ns} | during=3s |
        | Length Should Be | ${claims} | 1 |
        """
        conn = self.ctx.conn(alias)
        watcher = self._watch(conn, name, namespace)
        claims: dict[str, int] = {}
        seen: set[tuple[str, Any, Any]] = set()

        def record(state: State) -> None:
            spec = (state.get(name) or {}).get("spec") or {}
            holder = str(spec.get("holderIdentity") or "")
            claim = (holder, spec.get("renewTime"), spec.get("acquireTime"))
            if holder and claim not in seen:
                seen.add(claim)
                claims[holder] = claims.get(holder, 0) + 1

        window = to_seconds(during)
        with contextlib.suppress(WaitTimeout):  # the window is over: that is how this keyword ends
            watcher.until(f"Lease '{name}' in {namespace} followed for {window:g} s", record,
                          lambda _state: f"claims so far: {claims}", window, to_seconds(poll, 0.2))
        logger.info(f"Lease {name} in {namespace} over {window:g} s: "
                    + (", ".join(f"'{h}' {n} claim(s)" for h, n in sorted(claims.items())) or "no claim"))
        return claims

    @keyword("Wait Until Lease Has A Holder", tags=["leases", "wait"])
    def wait_until_lease_has_a_holder(self, name: str, namespace: str, timeout: str = "60s", poll: str = "0.5s",
                                      alias: str | None = None) -> str:
        """Wait until the lease exists and names a holder; returns the holder.

        Example:
        | ${leader} = | Wait Until Lease Has A Holder | ${lease} | ${ns} | timeout=30s |
        """
        conn = self.ctx.conn(alias)
        return self._watch(conn, name, namespace).until(
            f"Lease '{name}' in {namespace} to have a holder",
            lambda state: holder_of(state, name) or None,
            lambda state: "no such lease" if name not in state else "no holder",
            to_seconds(timeout), to_seconds(poll, 0.5))

    @keyword("Wait Until Lease Holder Changes", tags=["leases", "wait", "failover"])
    def wait_until_lease_holder_changes(
        self,
        name: str,
        namespace: str,
        from_holder: str | None = None,
        since: Any = None,
        timeout: str = "60s",
        stable_for: str = "0s",
        poll: str = "0.5s",
        alias: str | None = None,
    ) -> list[Any]:
        """Wait until someone other than ``from_holder`` holds the lease; returns the new holder and the
        failover time in seconds.

        ``from_holder`` defaults to the holder when the wait starts (give it when the old leader may
        already be gone by then). The failover time counts from ``since`` (epoch seconds or a date,
        e.g. from ``Get Time  epoch`` just before the leader was killed) or else from the start of
        the wait, to the moment the change was seen. With ``stable_for``, the new holder must then
        keep the lease for that long: the keyword fails if it flaps to another holder meanwhile.
        Follows a watch on the lease (polls where the API cannot watch).

        Example:
        | ${killed_at} = | Get Time | epoch |
        | Kill The Agent Leader |
        | ${leader} | ${seconds} = | Wait Until Lease Holder Changes | ${lease} | ${ns} | from_holder=${old} |
        | ... | since=${killed_at} | timeout=30s | stable_for=5s |
        | Should Be True | ${seconds} < ${LEADER_ELECTION_BUDGET} |
        """
        conn = self.ctx.conn(alias)
        started = time.time()
        origin = _epoch(since) if since not in (None, "") else started
        watcher = self._watch(conn, name, namespace)
        if from_holder is None:
            try:
                from_holder = str(dig(self._read(conn, name, namespace), "spec.holderIdentity") or "")
            except KubeError as error:
                if error.status != 404:
                    raise
                from_holder = ""
        old = from_holder
        seen: dict[str, float] = {}

        def changed(state: State) -> str | None:
            holder = holder_of(state, name)
            if holder and holder != old:
                seen["at"] = time.time()
                return holder
            return None

        def describe(state: State) -> str:
            if name not in state:
                return "no such lease"
            return f"holder still '{holder_of(state, name)}'" if holder_of(state, name) else "no holder"

        new = watcher.until(f"Lease '{name}' in {namespace} to change holder from '{old}'", changed, describe,
                            to_seconds(timeout), to_seconds(poll, 0.5))
        failover = seen["at"] - origin
        window = to_seconds(stable_for, 0.0)
        if window > 0:
            self._hold_still(watcher, name, namespace, old, new, window, to_seconds(poll, 0.5))
        logger.info(f"Lease {name}: '{old}' -> '{new}' after {failover:.3f} s"
                    + (f", stable for {window:g} s" if window > 0 else ""))
        return [new, round(failover, 3)]

    @staticmethod
    def _hold_still(watcher: ListWatch, name: str, namespace: str, old: str, new: str, window: float,
                    poll: float) -> None:
        start = time.monotonic()

        def flapped(state: State) -> str | None:
            holder = holder_of(state, name)
            return None if holder == new else (holder or "(nobody)")

        try:
            other = watcher.until(f"Lease '{name}' to keep holder '{new}'", flapped, lambda _s: f"still '{new}'",
                                  window, poll)
        except WaitTimeout:
            return  # nobody else took it during the window: stable
        raise KitError(
            f"Lease '{name}' in {namespace} flapped between holders",
            cause=f"'{old}' -> '{new}' -> '{other}' within {time.monotonic() - start:.2f} s of the change "
            f"(stable_for={window:g} s)",
            fix="two candidates are fighting for the lease: check their lease duration, renew deadline and clocks",
        )
