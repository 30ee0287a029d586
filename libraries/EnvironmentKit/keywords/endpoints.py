"""Where things are: API replicas, backends, credentials and agent leaders."""

from __future__ import annotations

import time
from typing import Any

from robot.api import logger
from robot.api.deco import keyword
from robot.api.types import Secret

from EnvironmentKit.defects import KnownDefectsListener
from EnvironmentKit.keywords.lifecycle import current_topology
from EnvironmentKit.topology import differing_timings, in_turn, with_database
from kitcore import AssertionOperator, Check, KitError, Wait, get_and_assert, getter, to_seconds


class EndpointKeywords:
    def __init__(self, defects: KnownDefectsListener | None = None) -> None:
        self.defects = defects or KnownDefectsListener()

    @keyword("Get Topology")
    def get_topology(self) -> dict[str, Any]:
        """The environment's topology, fresh, with every credential shown as ``***``.

        Example:
        | ${topology} = | Get Topology |
        | Log | ${topology}[runId] |
        """
        return current_topology().public()

    @keyword("Get Environment Name")
    def get_environment_name(self) -> str:
        """``local``, ``kind`` or ``compose``.

        Example:
        | ${name} = | Get Environment Name |
        """
        return current_topology().environment

    @keyword("Get API URLs")
    def get_api_urls(self, running_only: bool = False) -> list[str]:
        """The base URLs of every API replica (or only of the running ones).

        Example:
        | @{urls} = | Get API URLs |
        """
        return current_topology().api_urls(running_only)

    @keyword("Get API URL")
    def get_api_url(self, replica: str = "1") -> str:
        """The base URL of one API replica, by name (``api-2``) or 1-based index (``2``).

        Example:
        | ${url} = | Get API URL | api-2 |
        """
        return str(current_topology().api_replica(replica)["url"])

    @keyword("Get API Replica Names")
    def get_api_replica_names(self) -> list[str]:
        """The names of the API replicas (``api-1`` ...).

        Example:
        | @{names} = | Get API Replica Names |
        """
        return current_topology().api_names()

    @keyword("Get Redis URL")
    def get_redis_url(self, db: int | None = None) -> str:
        """The Redis URL the platform uses; with ``db``, the URL of that database on the same server (e.g.
        the one the platform's agent hub keeps its keys in).

        Example:
        | ${url} = | Get Redis URL |
        | ${hub} = | Get Redis URL | db=1 |
        """
        url = str(current_topology().section("redis", "Redis")["url"])
        return url if db is None else with_database(url, db)

    @keyword("Get Database DSN")
    def get_database_dsn(self) -> str:
        """The PostgreSQL DSN (libpq key=value form) the platform uses.

        Example:
        | ${dsn} = | Get Database DSN |
        """
        return str(current_topology().section("postgres", "PostgreSQL")["dsn"])

    @keyword("Get Kubernetes API URL")
    def get_kubernetes_api_url(self) -> str:
        """The Kubernetes API URL (on ``local`` it is the kit's stand-in).

        Example:
        | ${url} = | Get Kubernetes API URL |
        """
        return str(current_topology().section("kubernetes", "Kubernetes API")["url"])

    @keyword("Get Kubernetes Namespace")
    def get_kubernetes_namespace(self) -> str:
        """The namespace the Kubernetes agent works in.

        Example:
        | ${ns} = | Get Kubernetes Namespace |
        """
        return str(current_topology().section("kubernetes", "Kubernetes API").get("namespace", "streamspace"))

    @keyword("Get Container Engine URL")
    def get_container_engine_url(self) -> str:
        """The Docker API URL of the container engine (``unix://...``).

        Example:
        | ${url} = | Get Container Engine URL |
        """
        return str(current_topology().section("engine", "container engine")["url"])

    @keyword("Get Credentials")
    def get_credentials(self, who: str = "admin") -> Any:
        """Credentials as Robot Framework ``Secret`` values, never logged.

        ``who`` is ``admin`` or a user name (returns ``{username, password}`` with the password
        a ``Secret``), a service with a password such as ``vnc`` (returns ``{password}``), or
        ``agentKey`` / ``jwtSecret`` (returns a ``Secret``).

        Example:
        | ${admin} = | Get Credentials | admin |
        | Log In As | ${admin}[username] | ${admin}[password] |
        """
        credentials = current_topology().credentials
        if who in ("agentKey", "jwtSecret"):
            if who not in credentials:
                raise KitError(f"The environment has no {who}", fix="check the environment's topology")
            return Secret(str(credentials[who]))
        service = credentials.get(who)
        if who not in ("admin", "users") and isinstance(service, dict) and "password" in service:
            return {**{k: str(v) for k, v in service.items() if k != "password"},
                    "password": Secret(str(service["password"]))}
        candidates = []
        admin = credentials.get("admin")
        if isinstance(admin, dict):
            candidates.append(("admin", admin))
        candidates += [(str(u.get("username")), u) for u in credentials.get("users", []) if isinstance(u, dict)]
        for label, entry in candidates:
            if who in (label, entry.get("username")):
                return {"username": str(entry.get("username")), "password": Secret(str(entry.get("password", "")))}
        known = ", ".join(["agentKey", "jwtSecret", *[str(e.get("username")) for _, e in candidates]])
        raise KitError(f"No credentials for '{who}'", cause=f"known: {known}", fix="give one of those names")

    @keyword("Get Agent Leader")
    @getter(poll="0.2s")
    def get_agent_leader(self, platform: str = "kubernetes", *, check: Check) -> str | None:
        """The name of the replica leading the ``kubernetes`` or ``docker`` agent (``None`` if none).

        It can assert, retrying until ``timeout`` -- a failover wait in one line.

        Example:
        | ${old} = | Get Agent Leader | kubernetes |
        | Get Agent Leader | kubernetes | != | ${old} | timeout=30s |
        """
        return check(lambda: current_topology().agent_leader(platform), f"{platform} agent leader")

    @keyword("Wait Until Agent Leader Changes")
    def wait_until_agent_leader_changes(self, platform: str = "kubernetes", previous: str | None = None,
                                        timeout: str = "30s", poll: str = "0.2s") -> str:
        """Wait until a replica other than ``previous`` leads the platform's agent; returns its name.

        Leaderless moments (no replica holds the lease yet) do not count as a change. The time
        it took is logged -- the failover time.

        Example:
        | ${old} = | Kill Agent Leader | kubernetes |
        | ${new} = | Wait Until Agent Leader Changes | kubernetes | ${old} | timeout=30s |
        """
        outcome = Wait(f"a new {platform} agent leader (other than {previous})", to_seconds(timeout),
                       to_seconds(poll)).until(lambda: current_topology().agent_leader(platform),
                                               accept=lambda leader: leader is not None and leader != previous,
                                               describe=lambda leader: f"leader {leader}")
        logger.info(f"{platform} agent leader is now {outcome.value} (after {outcome.elapsed:.2f} s, "
                    f"{outcome.tries} tries)")
        return str(outcome.value)

    @keyword("Get Agent Replicas")
    def get_agent_replicas(self, platform: str = "kubernetes") -> list[str]:
        """The names of a platform agent's replicas.

        Example:
        | @{replicas} = | Get Agent Replicas | docker |
        """
        return [str(r["name"]) for r in current_topology().agent_replicas(platform)]

    @keyword("Get Control Plane Connections")
    def get_control_plane_connections(self, platform: str = "kubernetes") -> dict[str, int]:
        """How many connections each replica of ``platform``'s agent has open to the Control Plane's API
        replicas right now, by replica name: who really talks to the Control Plane, whatever the
        replicas say of themselves. Only a replica that leads should hold one.

        Read from the environment's network (the local stack relays every connection between two
        components); an environment that cannot see its connections fails, saying so.

        Example:
        | ${open} = | Get Control Plane Connections | kubernetes |
        | Should Be Equal As Integers | ${open}[k8s-agent-b] | 0 |
        """
        topology = current_topology()
        if "connections" not in topology.data:
            raise KitError(f"The {topology.environment} environment does not show its components' connections",
                           fix="run this check on the local stack (the default environment)")
        replicas = [str(r["name"]) for r in topology.agent_replicas(platform)]
        api = set(topology.api_names())
        counts = {name: 0 for name in replicas}
        for edge in topology.data["connections"]:
            if edge["client"] in counts and edge["server"] in api:
                counts[edge["client"]] += int(edge["open"])
        return counts

    @keyword("Only The Leader Should Hold Control Plane Connections")
    def only_the_leader_should_hold_control_plane_connections(self, leader: str, platform: str = "kubernetes",
                                                             during: str | float = "3s",
                                                             interval: str | float = "0.1s") -> None:
        """For ``during``, every ``interval``, no replica of ``platform``'s agent but ``leader`` holds a
        connection to the Control Plane, and ``leader`` holds one at the end: replicas that each believe
        they lead each connect, and that fails naming them and how often each was seen connected.

        An environment that does not show its components' connections (kind) logs a warning that
        this part of the check could not be made, and returns.

        Example:
        | Only The Leader Should Hold Control Plane Connections | k8s-agent-b | kubernetes | during=3s |
        """
        if "connections" not in current_topology().data:
            logger.warn("This environment does not show which replica holds a connection to the Control Plane: "
                        "that part of the one-leader check was not made")
            return
        seen: dict[str, int] = {}
        samples = 0
        deadline = time.monotonic() + to_seconds(during)
        step = to_seconds(interval)
        counts: dict[str, int] = {}
        while True:
            counts = self.get_control_plane_connections(platform)
            samples += 1
            for name, open_now in counts.items():
                if open_now and name != leader:
                    seen[name] = seen.get(name, 0) + 1
            if time.monotonic() >= deadline:
                break
            time.sleep(step)  # a sample interval of the watch, bounded by ``during``
        if seen:
            others = ", ".join(f"{name} (connected in {n} of {samples} looks)" for name, n in sorted(seen.items()))
            raise AssertionError(f"more than one replica leads: besides the leader {leader}, {others} held a "
                                 f"connection to the Control Plane within {to_seconds(during):g} s")
        if not counts.get(leader):
            raise AssertionError(f"the leader {leader} holds no connection to the Control Plane "
                                 f"(connections now: {counts})")

    @keyword("Get Agent Platforms In Turn")
    def get_agent_platforms_in_turn(self, count: int, *order: str) -> list[str]:
        """``count`` platforms taken in turn from ``order`` (``kubernetes  docker``), leaving out those the
        environment runs no agent for: e.g. sessions of mixed platforms. Empty when it runs none of them.

        Example:
        | ${platforms} = | Get Agent Platforms In Turn | 3 | kubernetes | docker |
        """
        return in_turn(order, current_topology().agent_platforms(), count)

    @keyword("Get Agent Platforms")
    def get_agent_platforms(self) -> list[str]:
        """The platforms (``kubernetes``, ``docker``) whose agent runs in the environment.

        An environment without a Docker agent or engine (kind) gives ``['kubernetes']``.

        Example:
        | ${platforms} = | Get Agent Platforms |
        | Skip If | 'docker' not in $platforms | no Docker agent here |
        """
        return current_topology().agent_platforms()

    @keyword("Get Pod Name Of")
    def get_pod_name_of(self, replica: str) -> str:
        """The pod name the platform itself uses for ``replica`` (``api-2``, ``k8s-agent-a``...).

        The platform stores pod names (the Lease holder, the agent hub's ``agent:<id>:pod``, the
        channel ``pod:<pod>:commands``); the environment's replicas have the kit's names. This
        keyword and `Get Replica Of Pod` translate between the two.

        Example:
        | ${pod} = | Get Pod Name Of | api-2 |
        | Subscribe To Channels | pod:${pod}:commands |
        """
        return current_topology().pod_of(replica)

    @keyword("Get Replica Of Pod")
    def get_replica_of_pod(self, pod: str) -> str:
        """The environment's replica (``api-2``, ``k8s-agent-b``...) that the platform calls ``pod``.

        Fails, naming every replica and its pod, when no replica has that pod name.

        Example:
        | ${pod} = | Get Value Of Key | agent:k8s-local:pod | alias=hub |
        | ${holder} = | Get Replica Of Pod | ${pod} |
        """
        return current_topology().replica_of_pod(pod)

    @keyword("Get VNC Servers")
    def get_vnc_servers(self) -> dict[str, str]:
        """The environment's plain VNC servers (not sessions'), as ``{name: "host:port"}``; empty when it has
        none (kind).

        Example:
        | ${servers} = | Get VNC Servers |
        | Connect To VNC | ${servers}[vnc-none] |
        """
        return current_topology().vnc_servers()

    @keyword("Get Process Ids Of API Replicas")
    def get_process_ids_of_api_replicas(self) -> list[Any]:
        """The process ids of the API replicas that run (those the topology gives one), e.g. to sample their
        CPU and memory.

        Example:
        | ${pids} = | Get Process Ids Of API Replicas |
        | Start Resource Sampling | pids=${pids} | name=api |
        """
        return current_topology().running_pids("api")

    @keyword("Get Process Ids Of Agent Replicas")
    def get_process_ids_of_agent_replicas(self) -> list[Any]:
        """The process ids of every agent replica that runs, of every platform (those the topology gives one).

        Example:
        | ${pids} = | Get Process Ids Of Agent Replicas |
        """
        return current_topology().running_pids("agents")

    @keyword("Get Known Defects")
    def get_known_defects(self) -> list[dict[str, str]]:
        """The known defects of the product under test (``${KNOWN_DEFECTS}``), empty when none are named.

        Each is ``{id, defect, source, match}``; a failed test whose message matches ``match`` gets
        the defect appended to its message and the tag ``defect:<id>``.

        Example:
        | ${defects} = | Get Known Defects |
        """
        catalogue = self.defects.catalogue()
        if catalogue is None:
            return []
        return [{"id": d.id, "defect": d.defect, "source": d.source, "match": d.match.pattern}
                for d in catalogue.defects]

    @keyword("Get Agent ID")
    def get_agent_id(self, platform: str = "kubernetes") -> str:
        """The agent id shared by a platform agent's replicas.

        Example:
        | ${id} = | Get Agent ID | kubernetes |
        """
        return str(current_topology().agent(platform).get("agentId", ""))

    @keyword("Get Component Names")
    def get_component_names(self) -> list[str]:
        """Every component the environment can act on (replicas and backends).

        Example:
        | @{names} = | Get Component Names |
        """
        return current_topology().component_names()

    @keyword("Component Should Be Running")
    def component_should_be_running(self, name: str, timeout: str | None = None) -> None:
        """Fail unless the topology says ``name`` runs (retrying until ``timeout``).

        Example:
        | Component Should Be Running | api-1 | timeout=10s |
        """
        get_and_assert(lambda: current_topology().is_running(name), AssertionOperator["=="], True,
                       f"component {name} running", timeout)

    @keyword("Get Environment Timings")
    def get_environment_timings(self) -> dict[str, Any]:
        """Heartbeat, lease and backoff timings the environment runs with (seconds).

        Example:
        | ${timings} = | Get Environment Timings |
        """
        return dict(current_topology().data.get("timings", {}))

    @keyword("Get Timings Differing From The Environment")
    def get_timings_differing_from_the_environment(self, stated: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The timings of ``stated`` (e.g. those the budgets were derived from) that the running environment
        runs with another value, as ``{name: {stated, running}}``; empty when it runs with every one of them
        (a timing the environment does not report counts as the stated one).

        Example:
        | ${differing} = | Get Timings Differing From The Environment | ${BUDGET_TIMINGS} |
        | Should Be Empty | ${differing} |
        """
        return differing_timings(stated, self.get_environment_timings())

    @keyword("Get Environment Timing")
    def get_environment_timing(self, name: str, default: float | None = None) -> float:
        """One of the environment's timings in seconds (``leaseDuration``, ``heartbeatInterval``...); the last
        step of a list (a backoff); ``default`` when the environment does not state it (else it fails).

        Example:
        | ${lease} = | Get Environment Timing | leaseDuration | default=15 |
        """
        value = self.get_environment_timings().get(name)
        if isinstance(value, list):
            value = value[-1] if value else None
        if value in (None, ""):
            if default is None:
                raise KitError(f"The environment does not state the timing '{name}'",
                               fix="give it in the environment's timings (its variable file or platform file)")
            return float(default)
        return float(value)
