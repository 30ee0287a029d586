"""Faults on components: crash, restart, lose Redis, partition -- each undone automatically."""

from __future__ import annotations

import contextlib
import os
import random
import threading

from robot.api import logger
from robot.api.deco import keyword

from ChaosKit.core import ChaosCore, ensure_started
from ChaosKit.timeline import ChaosEvent
from EnvironmentKit import EnvironmentDriver
from EnvironmentKit.keywords.lifecycle import robot_variable
from kitcore import KitError, to_seconds


class FaultKeywords:
    def __init__(self, core: ChaosCore) -> None:
        self.core = core
        self._timers: list[threading.Timer] = []

    # -- helpers ----------------------------------------------------------------------
    def _crash(self, action: str, name: str, details: str = "") -> str:
        driver = self.core.driver()
        topology = driver.topology()
        topology.require_component(name)
        self.core.check(driver, action, name)
        driver.kill(name)
        self.core.record(action, name, lambda: ensure_started(driver, name), f"start {name} again", details)
        return name

    def _api_name(self, driver: EnvironmentDriver, replica: str | int) -> str:
        return str(driver.topology().api_replica(replica)["name"])

    # -- API replicas -----------------------------------------------------------------
    @keyword("Kill API Replica")
    def kill_api_replica(self, replica: str = "1") -> str:
        """Crash (SIGKILL) one API replica, by name (``api-2``) or 1-based index; returns its name.

        It is started again at the end of the test (or by ``Heal Everything``).

        Example:
        | ${killed} = | Kill API Replica | 2 |
        """
        return self._crash("kill API replica", self._api_name(self.core.driver(), replica))

    @keyword("Kill Random API Replica")
    def kill_random_api_replica(self, seed: int | None = None) -> str:
        """Crash one running API replica chosen at random; returns its name.

        The choice is seeded by ``seed``, else ``${CHAOS_SEED}`` / ``$CHAOS_SEED``, else a fresh
        seed -- which is logged, so a run can be replayed with the same choice.

        Example:
        | ${killed} = | Kill Random API Replica | seed=42 |
        """
        chosen_seed = seed
        if chosen_seed is None:
            configured = robot_variable("CHAOS_SEED") or os.environ.get("CHAOS_SEED")
            chosen_seed = int(configured) if configured not in (None, "") else random.SystemRandom().randrange(10**6)
        driver = self.core.driver()
        running = [r["name"] for r in driver.topology().api_replicas if r.get("running", True)]
        if not running:
            raise KitError("No API replica is running to kill", fix="start the replicas (Heal Everything) first")
        name = random.Random(int(chosen_seed)).choice(sorted(running))
        logger.info(f"Chose {name} among {', '.join(sorted(running))} with seed {chosen_seed}")
        return self._crash("kill random API replica", name, f"seed {chosen_seed} among {', '.join(sorted(running))}")

    @keyword("Stop API Replica")
    def stop_api_replica(self, replica: str = "1") -> str:
        """Stop one API replica gracefully (SIGTERM); it is started again at the end of the test.

        Example:
        | Stop API Replica | api-1 |
        """
        driver = self.core.driver()
        name = self._api_name(driver, replica)
        self.core.check(driver, "stop", name)
        driver.stop_component(name)
        self.core.record("stop API replica", name, lambda: ensure_started(driver, name), f"start {name} again")
        return name

    @keyword("Restart API Replica")
    def restart_api_replica(self, replica: str = "1") -> str:
        """Stop and start one API replica (its address and port stay the same).

        Example:
        | Restart API Replica | 1 |
        """
        driver = self.core.driver()
        name = self._api_name(driver, replica)
        self.core.check(driver, "restart", name)
        driver.restart_component(name)
        event = self.core.record("restart API replica", name, None, "")
        self.core.timeline.mark_undone(event)
        return name

    # -- agents -------------------------------------------------------------------------
    @keyword("Kill Agent Leader")
    def kill_agent_leader(self, platform: str = "kubernetes") -> str:
        """Crash the replica leading the ``kubernetes`` or ``docker`` agent; returns its name.

        Example:
        | ${old} = | Kill Agent Leader | kubernetes |
        | Get Agent Leader | kubernetes | != | ${old} | timeout=30s |
        """
        leader = self.core.driver().agent_leader(platform)
        if leader is None:
            raise KitError(f"The {platform} agent has no leader to kill",
                           cause="no running replica holds the leadership now",
                           fix="wait for a leader first: Get Agent Leader  " + platform + "  !=  None  timeout=30s")
        return self._crash(f"kill {platform} agent leader", leader)

    @keyword("Kill Docker Agent")
    def kill_docker_agent(self, replica: str | None = None) -> str:
        """Crash a Docker agent replica (by name; the leader when none is given); returns its name.

        Example:
        | Kill Docker Agent |
        | Kill Docker Agent | docker-agent-b |
        """
        if replica is None:
            return self.kill_agent_leader("docker")
        names = self.core.driver().topology().agent_replicas("docker")
        if replica not in [r["name"] for r in names]:
            raise KitError(f"No Docker agent replica '{replica}'",
                           cause=f"known: {', '.join(r['name'] for r in names)}", fix="give one of those names")
        return self._crash("kill docker agent", replica)

    @keyword("Kill Component")
    def kill_component(self, name: str) -> str:
        """Crash any component of the topology by name (``k8s-agent-b``, ``postgres``...).

        Example:
        | Kill Component | k8s-agent-b |
        """
        return self._crash("kill component", name)

    # -- Redis ----------------------------------------------------------------------------
    @keyword("Lose Redis")
    def lose_redis(self, duration: str | None = None, graceful: bool = False) -> None:
        """Take Redis away -- crashed, or stopped when ``graceful`` -- until ``Restore Redis``
        or, with ``duration``, for that long (it comes back by itself in the background).

        Example:
        | Lose Redis | duration=5s |
        | Lose Redis |
        | Restore Redis |
        """
        details = f"for {to_seconds(duration):g} s" if duration else "until restored"
        event = self._lose_backend("redis", "Redis", graceful, details)
        if duration:
            timer = threading.Timer(to_seconds(duration), self._restore_quietly, args=(event,))
            timer.daemon = True
            timer.start()
            self._timers.append(timer)

    def _restore_quietly(self, event: ChaosEvent) -> None:
        # a failure leaves the event pending: the undo at the end of the test retries and reports
        with contextlib.suppress(Exception):
            self.core.timeline.run_undo(event)

    @keyword("Restore Redis")
    def restore_redis(self) -> None:
        """Bring Redis back after ``Lose Redis`` (does nothing when it is back already).

        Example:
        | Restore Redis |
        """
        self._restore_backend("redis", "Redis")

    # -- the platform's database ------------------------------------------------------------
    @keyword("Lose The Database")
    def lose_the_database(self, graceful: bool = True) -> None:
        """Take the platform's PostgreSQL server away -- stopped (``graceful``, the default: it
        closes every connection) or crashed -- until ``Restore The Database`` (or the end of the test).

        Example:
        | Lose The Database |
        | Restore The Database |
        """
        self._lose_backend("postgres", "PostgreSQL", graceful, "stopped" if graceful else "crashed")

    @keyword("Restore The Database")
    def restore_the_database(self) -> None:
        """Start the platform's PostgreSQL server again after ``Lose The Database`` (does nothing
        when it runs already).

        Example:
        | Restore The Database |
        """
        self._restore_backend("postgres", "PostgreSQL")

    def _lose_backend(self, component: str, label: str, graceful: bool, details: str) -> ChaosEvent:
        """Stop (``graceful``) or crash a backend of the environment; recorded with its undo (start it again)."""
        driver = self.core.driver()
        driver.topology().require_component(component)
        self.core.check(driver, "lose", component)
        if graceful:
            driver.stop_component(component)
        else:
            driver.kill(component)
        return self.core.record(f"lose {label}", component, lambda: ensure_started(driver, component),
                                f"start {label} again", details)

    def _restore_backend(self, component: str, label: str) -> None:
        pending = self.core.timeline.pending(target=component)
        errors = self.core.undo_all(pending)
        if errors:
            raise KitError(f"{label} could not be restored", cause="; ".join(errors),
                           fix=f"read the environment's component logs ({component})")
        if not pending:
            logger.info(f"{label} was not lost (or is back already)")

    # -- network ----------------------------------------------------------------------
    @keyword("Partition")
    def partition(self, a: str, b: str) -> None:
        """Cut the network between components ``a`` and ``b`` both ways (open connections stall,
        new ones hang). Healed at the end of the test, or by ``Heal All Partitions``; the
        environment heals every cut at once. Names are components of the topology (the local
        environment also takes groups such as ``api``).

        Example:
        | Partition | api-1 | redis |
        """
        driver = self.core.driver()
        for name in (a, b):  # the environment checks the names (groups like ``api`` may be allowed)
            self.core.check(driver, "partition", name)
        driver.partition(a, b)
        self.core.record("partition", f"{a} <-> {b}", driver.heal, "heal the partition")

    @keyword("Heal All Partitions")
    def heal_all_partitions(self) -> None:
        """Restore every cut link.

        Example:
        | Heal All Partitions |
        """
        self.core.driver().heal()
        for event in self.core.timeline.pending(action="partition"):
            self.core.timeline.mark_undone(event)
            self.core.listener.forget(event.key)

    @keyword("Heal Everything")
    def heal_everything(self) -> None:
        """Undo every chaos action still in force (newest first): start what was killed, bring
        Redis back, heal partitions. Fails at the end if any undo failed, after trying them all.

        Example:
        | Heal Everything |
        """
        errors = self.core.undo_all(self.core.timeline.pending())
        if errors:
            raise KitError("Some chaos could not be undone", cause="; ".join(errors),
                           fix="read the environment's component logs; Get Topology shows what runs")
