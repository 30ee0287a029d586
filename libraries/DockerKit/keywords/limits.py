"""Resource limits: declared (Get Container Limits), measured (Get Container Stats) and enforced."""

from __future__ import annotations

import math
import time
from typing import Any

from robot.api import logger
from robot.api.deco import keyword

from DockerKit.context import DockerContext, EngineHandle
from kitcore import Check, KitError, getter, to_seconds
from kitcore.units import converted, format_bytes, format_cpu, parse_bytes, parse_cpu

BURN_PREFIX = "/tmp/.kit-burn-"
CPU_WINDOWS = 3  # measuring windows a CPU-limit check takes at most while the machine is too busy to tell


class LimitKeywords:
    def __init__(self, ctx: DockerContext) -> None:
        self.ctx = ctx

    # -- helpers ------------------------------------------------------------------------------------
    def _limits(self, handle: EngineHandle, container: str) -> dict[str, Any]:
        host = self.ctx.container(handle, container).attrs.get("HostConfig", {})
        nano = int(host.get("NanoCpus") or 0)
        quota, period = int(host.get("CpuQuota") or 0), int(host.get("CpuPeriod") or 0)
        cores = nano / 1e9 if nano else (quota / period if quota > 0 and period > 0 else 0.0)
        memory = int(host.get("Memory") or 0)
        return {"cpu": format_cpu(round(cores, 3)) if cores else "none",
                "memory": format_bytes(memory) if memory else "none",
                "cpu_cores": cores, "memory_bytes": memory}

    def _running(self, handle: EngineHandle, container: str, what: str) -> Any:
        target = self.ctx.container(handle, container)
        if target.status != "running":
            raise KitError(f"{what} needs a running container", f"'{container}' is {target.status}",
                           "start it first; the engine reports nothing for a stopped container")
        return target

    def _limited(self, handle: EngineHandle, container: str, resource: str, example: str,
                 what: str) -> tuple[float, Any]:
        """The container's limit of ``resource`` (``memory`` in bytes, ``cpu`` in cores) and the running container,
        for a keyword (``what``) that enforces it; a container without that limit, or not running, fails."""
        limit = self._limits(handle, container)["memory_bytes" if resource == "memory" else "cpu_cores"]
        if not limit:
            raise KitError(f"Container '{container}' has no {resource.replace('cpu', 'CPU')} limit to enforce",
                           f"it was run without {resource}=", f"run it with {resource}={example} (for example)")
        return limit, self._running(handle, container, what)

    def _cpu_sample(self, handle: EngineHandle, target: Any) -> tuple[int, float, dict[str, Any]]:
        with self.ctx.call(handle, f"Reading the stats of container '{target.name}'", "container", target.name):
            options = {"one_shot": True} if handle.kind == "docker" else {}
            stats = target.stats(stream=False, **options)
        if not stats or "cpu_stats" not in stats:
            raise KitError(f"The engine gave no stats for container '{target.name}'", "the answer was empty",
                           "stats exist only while a container runs")
        return int(stats["cpu_stats"]["cpu_usage"]["total_usage"]), time.monotonic(), stats

    def _cpu_cores_used(self, handle: EngineHandle, target: Any, interval: float) -> tuple[float, dict[str, Any]]:
        used1, t1, _ = self._cpu_sample(handle, target)
        time.sleep(interval)  # the measuring window itself, not a wait for a condition
        used2, t2, stats = self._cpu_sample(handle, target)
        return max(0.0, (used2 - used1) / 1e9 / max(t2 - t1, 1e-6)), stats

    def _throttled(self, handle: EngineHandle, target: Any) -> int:
        """How many CFS periods the container's cgroup was throttled in (cgroup v1 or v2), -1 if unknown."""
        script = "cat " + " ".join(f"/sys/fs/cgroup/{d}cpu.stat" for d in ("cpu/", "cpu,cpuacct/", "")) + " 2>/dev/null"
        with self.ctx.call(handle, f"Reading the CPU throttling of container '{target.name}'", "container",
                           target.name):
            output = target.exec_run(["sh", "-c", script]).output.decode("utf-8", errors="replace")
        for line in output.splitlines():
            name, _, value = line.partition(" ")
            if name == "nr_throttled" and value.strip().isdigit():
                return int(value)
        return -1

    # -- keywords -----------------------------------------------------------------------------------
    @keyword("Convert Memory To Bytes", tags=["limits"])
    def convert_memory_to_bytes(self, memory: str) -> int:
        """A memory size as people write it (``512Mi``, ``1Gi``, ``1G``, ``1048576``) in bytes, to compare with
        the ``memory_bytes`` of `Get Container Limits`.

        Example:
        | ${bytes} = | Convert Memory To Bytes | 512Mi |
        """
        return converted(memory, parse_bytes, "bytes")

    @keyword("Convert CPU To Cores", tags=["limits"])
    def convert_cpu_to_cores(self, cpu: str) -> float:
        """A CPU amount as people write it (``500m``, ``0.5``, ``2``) in cores, to compare with the
        ``cpu_cores`` of `Get Container Limits`.

        Example:
        | ${cores} = | Convert CPU To Cores | 500m |
        """
        return converted(cpu, parse_cpu, "cores")

    @keyword("Get Container Limits", tags=["containers", "limits", "getter"])
    @getter
    def get_container_limits(self, container: str, *, check: Check, alias: str | None = None) -> dict[str, Any]:
        """The declared limits in human units: ``cpu`` (cores, ``0.5``) and ``memory`` (``64Mi``); ``none`` if unset.

        The dictionary also holds ``cpu_cores`` (float) and ``memory_bytes`` (int).

        Example:
        | ${limits} = | Get Container Limits | ${name} |
        | Should Be Equal | ${limits}[memory] | 64Mi |
        | Get Container Limits | ${name} | validate | value['cpu'] == '0.5' |
        """
        handle = self.ctx.handle(alias)
        return check(lambda: self._limits(handle, container), f"Limits of container '{container}'")

    @keyword("Get Container Stats", tags=["containers", "limits", "getter"])
    def get_container_stats(self, container: str, interval: str | float = "1s",
                            alias: str | None = None) -> dict[str, Any]:
        """CPU and memory use of a running container, measured over ``interval``.

        Returns ``cpu_percent`` (100 = one core busy), ``cpu_cores``, ``memory_used`` and
        ``memory_limit`` (human units, e.g. ``12.5Mi``), ``memory_used_bytes`` and ``memory_limit_bytes``.
        Fails for a container that is not running (the engine has no stats for it).

        Example:
        | ${stats} = | Get Container Stats | ${name} |
        | Should Be True | ${stats}[cpu_percent] < 60 |
        """
        handle = self.ctx.handle(alias)
        target = self._running(handle, container, "Get Container Stats")
        cores, stats = self._cpu_cores_used(handle, target, to_seconds(interval, 1.0))
        memory = stats.get("memory_stats") or {}
        used, limit = int(memory.get("usage") or 0), int(memory.get("limit") or 0)
        result = {"cpu_percent": round(cores * 100, 1), "cpu_cores": round(cores, 3),
                  "memory_used": format_bytes(used), "memory_limit": format_bytes(limit),
                  "memory_used_bytes": used, "memory_limit_bytes": limit}
        logger.info(f"Stats of {container}: {result}")
        return result

    @keyword("Container Memory Limit Should Be Enforced", tags=["containers", "limits", "assertion"])
    def container_memory_limit_should_be_enforced(self, container: str, hog_size: str | None = None,
                                                  timeout: str | float = "30s", alias: str | None = None) -> int:
        """Run a memory hog in the running container; pass only if the engine kills it.

        The hog (``dd`` with a buffer of ``hog_size``, default twice the limit; busybox or
        coreutils) must end with exit code 137 (SIGKILL from the OOM killer). ``State.OOMKilled``
        is not used: Podman leaves it false. Returns the hog's exit code.

        Example:
        | Run Container | ${BUSYBOX} | sleep 300 | memory=64Mi | name=hog |
        | Container Memory Limit Should Be Enforced | hog |
        """
        handle = self.ctx.handle(alias)
        found, target = self._limited(handle, container, "memory", "64Mi", "Container Memory Limit Should Be Enforced")
        limit = int(found)
        size_mib = max(1, math.ceil((converted(hog_size, parse_bytes, "bytes") if hog_size else 2 * limit) / 1024**2))
        argv = ["dd", "if=/dev/zero", "of=/dev/null", f"bs={size_mib}M", "count=1"]
        api = handle.client.api
        saved, api.timeout = api.timeout, max(1, int(to_seconds(timeout, 30.0)))
        try:
            with self.ctx.call(handle, f"Running a memory hog in container '{container}'", "container", container):
                exec_id = api.exec_create(target.id, argv)["Id"]
                output = api.exec_start(exec_id)
                rc = int(api.exec_inspect(exec_id).get("ExitCode") or 0)
        finally:
            api.timeout = saved
        text = output.decode("utf-8", errors="replace") if isinstance(output, bytes) else str(output)
        logger.info(f"memory hog of {size_mib} MiB against a limit of {format_bytes(limit)}: exit code {rc}")
        if rc == 137:
            return rc
        if rc == 0:
            raise AssertionError(f"Memory limit of container '{container}' is NOT enforced: a {size_mib} MiB "
                                 f"allocation succeeded against a limit of {format_bytes(limit)}")
        raise AssertionError(f"Memory hog in container '{container}' ended with exit code {rc}, not 137 "
                             f"(killed); output: {text[-300:]}")

    @keyword("Container CPU Limit Should Be Enforced", tags=["containers", "limits", "assertion"])
    def container_cpu_limit_should_be_enforced(self, container: str, tolerance: float = 0.2,
                                               duration: str | float = "3s", alias: str | None = None) -> float:
        """Burn CPU in the running container and check the measured use stays at the quota ± ``tolerance``.

        Starts one busy loop more than the quota needs, measures the cores used over ``duration``
        and stops the loops. ``tolerance`` is relative (0.2 = ±20 %). Returns the cores measured.
        Passes when the use is at the quota ± tolerance, or under it while the kernel throttled
        the container (the quota at work on a busy machine). A use over the quota fails at once; a
        use far under it without throttling proves nothing (other programs had the cores): it is
        measured again, up to three windows, then fails as inconclusive.

        Example:
        | Run Container | ${BUSYBOX} | sleep 300 | cpu=0.5 | name=burner |
        | ${cores} = | Container CPU Limit Should Be Enforced | burner | tolerance=0.25 |
        """
        handle = self.ctx.handle(alias)
        found, target = self._limited(handle, container, "cpu", "0.5", "Container CPU Limit Should Be Enforced")
        quota = float(found)
        burners = math.ceil(quota) + 1
        api = handle.client.api
        low, high = quota * (1 - float(tolerance)), quota * (1 + float(tolerance))
        window = to_seconds(duration, 3.0)
        try:
            with self.ctx.call(handle, f"Starting CPU burners in container '{container}'", "container", container):
                for index in range(burners):
                    script = f"mkdir -p /tmp; echo $$ > {BURN_PREFIX}{index}; while :; do :; done"
                    exec_id = api.exec_create(target.id, ["sh", "-c", script])["Id"]
                    api.exec_start(exec_id, detach=True)
            time.sleep(0.3)  # let the loops reach full speed before the window starts
            for window_number in range(1, CPU_WINDOWS + 1):
                throttled_before = self._throttled(handle, target)
                cores, _ = self._cpu_cores_used(handle, target, window)
                throttled_after = self._throttled(handle, target)
                throttled = throttled_after - throttled_before if min(throttled_before, throttled_after) >= 0 else 0
                logger.info(f"window {window_number}: {burners} busy loops used {cores:.3f} cores against a quota "
                            f"of {quota:g} (accepted {low:.3f}..{high:.3f}); throttled in {throttled} CFS periods")
                if cores >= low or throttled > 0:  # over the quota (fails below), at it, or held under it
                    break
        finally:
            stop = f"for f in {BURN_PREFIX}*; do kill -9 $(cat $f) 2>/dev/null; rm -f $f; done"
            with self.ctx.call(handle, f"Stopping CPU burners in container '{container}'", "container", container):
                api.exec_start(api.exec_create(target.id, ["sh", "-c", stop])["Id"])
        if cores > high:
            raise AssertionError(f"CPU limit of container '{container}' is NOT enforced: {burners} busy loops used "
                                 f"{cores:.2f} cores, above the quota of {quota:g} (+{tolerance:.0%})")
        if cores < low and throttled <= 0:
            raise AssertionError(f"CPU use in container '{container}' was only {cores:.2f} cores with {burners} busy "
                                 f"loops, under the quota of {quota:g} (-{tolerance:.0%}), in each of {CPU_WINDOWS} "
                                 f"windows of {window:g} s: the machine is too busy to tell; run it on a quieter "
                                 "machine, or raise tolerance=")
        return round(cores, 3)
