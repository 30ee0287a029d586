"""``python -m environments.local.kubeapi --host 127.0.0.1 --port P``: serve the stand-in until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from environments.local.kubeapi.server import GIT_VERSION, serve
from environments.local.procs import notify_ready


async def _main(host: str, port: int, access_log: bool) -> None:
    stop = asyncio.Event()
    ready = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(serve(host, port, ready, stop, access_log))
    ready_wait = asyncio.create_task(ready.wait())
    await asyncio.wait({task, ready_wait}, return_when=asyncio.FIRST_COMPLETED)
    if ready.is_set():
        print(f"Kubernetes API stand-in {GIT_VERSION} serving on http://{host}:{port}", flush=True)
        notify_ready()  # to whoever started it and asked (NOTIFY_SOCKET)
    ready_wait.cancel()
    await task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m environments.local.kubeapi",
                                     description="A Kubernetes API stand-in for the kit's local stack.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--access-log", action="store_true", help="log every request (method, path, status)")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        asyncio.run(_main(args.host, args.port, args.access_log))
    except OSError as error:
        print(f"Kubernetes API stand-in cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
