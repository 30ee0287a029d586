"""The Kubernetes agent: ``python -m environments.local.platform.agents.kubernetes --replica k8s-agent-a
--agent-id k8s-local --namespace streamspace --kube-url http://... --api-urls http://a,http://b
--agent-key-file F --config F.json``.

All replicas share one agent id and elect a leader on the Lease ``streamspace-agent-<agentId>``;
only the leader connects to the Control Plane, runs commands and, on becoming leader, re-reports
the sessions that exist. The agent key comes from the file or ``STREAMSPACE_AGENT_KEY``.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from environments.local.platform.agents import cli
from environments.local.platform.agents.config import AgentConfig, parse_urls, read_secret
from environments.local.platform.agents.k8s_backend import KubernetesPlatform
from environments.local.platform.agents.kube import Kube
from environments.local.platform.agents.leadership import lead_forever
from environments.local.platform.agents.lease import LeaseElector
from environments.local.platform.agents.runtime import AgentRuntime

log = logging.getLogger("streamspace.agent")


def main(argv: list[str] | None = None) -> int:
    parser = cli.common_parser("k8s-agent", "StreamSpace Kubernetes agent (local reference stack)")
    parser.add_argument("--namespace", default="streamspace", help="the agent namespace (Lease and sessions)")
    parser.add_argument("--kube-url", required=True, help="Kubernetes API URL")
    args = parser.parse_args(argv)
    cli.setup_logging(args.replica, args.log_level)
    config = AgentConfig.load(args.config)
    urls = parse_urls(args.api_urls)
    key = read_secret(args.agent_key_file, "STREAMSPACE_AGENT_KEY", "The agent API key")

    async def serve(stop: asyncio.Event) -> None:
        kube = Kube(args.kube_url, timeout=config.request_timeout)
        platform = KubernetesPlatform(kube, args.namespace, config)
        elector = LeaseElector(kube, args.namespace, args.agent_id, args.replica, config.lease_duration,
                               config.renew_deadline, config.retry_period, config.request_timeout)
        start = sum(map(ord, args.replica)) % len(urls)

        def make_runtime() -> AgentRuntime:
            return AgentRuntime(agent_id=args.agent_id, replica=args.replica, api_urls=urls, agent_key=key,
                                config=config, backend=platform, leadership=elector, start_index=start)

        try:
            await asyncio.wait_for(asyncio.to_thread(kube.ensure_namespace, args.namespace),
                                   config.request_timeout * 2 + 1)
        except Exception as error:  # noqa: BLE001 - the elector retries; say why the start is slow
            log.warning("namespace %s not ensured yet (%s); campaigning anyway", args.namespace, error)
        log.info("kubernetes agent %s (replica %s) campaigning for lease %s/%s", args.agent_id, args.replica,
                 args.namespace, elector.name)
        try:
            await lead_forever(elector, make_runtime, stop)
        finally:
            kube.close()
            log.info("stopped")

    return cli.run(serve)


if __name__ == "__main__":
    sys.exit(main())
