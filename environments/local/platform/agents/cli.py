"""Command-line plumbing shared by the agent programs: arguments, logging, signals."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable

from environments.local.procs import BackendError


def common_parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--replica", required=True, help="this replica's name (also its leader identity)")
    parser.add_argument("--agent-id", required=True, help="the agent id every replica shares")
    parser.add_argument("--api-urls", required=True, help="Control Plane URLs, comma separated")
    parser.add_argument("--agent-key-file", default=None,
                        help="file holding the agent API key (else STREAMSPACE_AGENT_KEY)")
    parser.add_argument("--config", default=None, help="JSON file with timings and labels")
    parser.add_argument("--log-level", default=os.environ.get("STREAMSPACE_AGENT_LOG", "INFO"))
    return parser


def setup_logging(replica: str, level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, level.upper(), logging.INFO),
                        format=f"%(asctime)s %(levelname)s [{replica}] %(message)s")
    for noisy in ("urllib3", "kubernetes", "docker", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(main: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run ``main(stop)``; SIGTERM/SIGINT set ``stop`` for a graceful shutdown."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await main(stop)

    try:
        asyncio.run(runner())
    except BackendError as error:
        logging.getLogger("streamspace.agent").error("%s", error)
        return 2
    return 0
