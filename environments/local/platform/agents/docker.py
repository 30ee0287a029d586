"""The Docker agent: ``python -m environments.local.platform.agents.docker --replica docker-agent-a
--agent-id docker-local --engine-url unix://... --redis-url redis://... --api-urls http://a,http://b
--agent-key-file F --config F.json``.

Replicas sharing one agent id elect a leader with a Redis lock; only the leader connects to the
Control Plane and runs sessions. The agent key comes from the file or ``STREAMSPACE_AGENT_KEY``.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from environments.local.platform.agents import cli
from environments.local.platform.agents.config import AgentConfig, parse_urls, read_secret
from environments.local.platform.agents.docker_backend import DockerPlatform
from environments.local.platform.agents.leadership import lead_forever
from environments.local.platform.agents.redis_lock import RedisLeaderLock
from environments.local.platform.agents.runtime import AgentRuntime

log = logging.getLogger("streamspace.agent")


def main(argv: list[str] | None = None) -> int:
    parser = cli.common_parser("docker-agent", "StreamSpace Docker agent (local reference stack)")
    parser.add_argument("--engine-url", required=True, help="Docker API URL, e.g. unix:///run/podman/podman.sock")
    parser.add_argument("--redis-url", required=True, help="Redis URL for the leader lock")
    args = parser.parse_args(argv)
    cli.setup_logging(args.replica, args.log_level)
    config = AgentConfig.load(args.config)
    urls = parse_urls(args.api_urls)
    key = read_secret(args.agent_key_file, "STREAMSPACE_AGENT_KEY", "The agent API key")

    async def serve(stop: asyncio.Event) -> None:
        platform = DockerPlatform(args.engine_url, config, args.agent_id)
        lock = RedisLeaderLock(args.redis_url, args.agent_id, args.replica, config.docker_leader_lease,
                               config.retry_period, config.request_timeout)
        start = sum(map(ord, args.replica)) % len(urls)

        def make_runtime() -> AgentRuntime:
            return AgentRuntime(agent_id=args.agent_id, replica=args.replica, api_urls=urls, agent_key=key,
                                config=config, backend=platform, leadership=lock, start_index=start)

        log.info("docker agent %s (replica %s) campaigning for %s", args.agent_id, args.replica, lock.key)
        try:
            await lead_forever(lock, make_runtime, stop)
        finally:
            await lock.close()
            platform.close()
            log.info("stopped")

    return cli.run(serve)


if __name__ == "__main__":
    sys.exit(main())
