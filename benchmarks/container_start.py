"""How long a container takes from create to running, on the kit's container engine.

    .venv/bin/python -m benchmarks.container_start [--runs 10]

- busybox: create + start until the engine reports ``running``;
- session: create + start until the published VNC port greets with ``RFB 003.008``.
Prints the median, min and max of each, plus how long the engine and the images took to be ready.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
import uuid

from environments.local import images, reaper
from environments.local.engine import Engine, cleanup_by_label, remove_from_podman_storage
from kitcore.processes import stop_like_ctrl_c


def rfb_greeting(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(12) == b"RFB 003.008\n":
                    return True
        except OSError:
            pass
        time.sleep(0.01)
    return False


def until_running(client, image: str, label: dict[str, str]) -> float:
    started = time.monotonic()
    container = client.containers.run(image, ["sleep", "30"], detach=True, labels=label)
    while True:
        container.reload()
        if container.status == "running":
            elapsed = time.monotonic() - started
            break
        if time.monotonic() - started > 30:
            raise RuntimeError(f"busybox container still {container.status} after 30 s")
        time.sleep(0.01)
    container.remove(force=True)
    return elapsed


def until_vnc_greets(client, image: str, label: dict[str, str]) -> float:
    started = time.monotonic()
    container = client.containers.run(image, detach=True, labels=label, ports={"5900/tcp": ("127.0.0.1", None)})
    container.reload()
    port = int(container.ports["5900/tcp"][0]["HostPort"])
    if not rfb_greeting(port, started + 30):
        container.remove(force=True)
        raise RuntimeError("the session container did not greet on its VNC port within 30 s")
    elapsed = time.monotonic() - started
    container.remove(force=True)
    return elapsed


def summary(name: str, samples: list[float]) -> str:
    return (f"{name:<28} median {statistics.median(samples):6.3f} s   min {min(samples):6.3f} s   "
            f"max {max(samples):6.3f} s   ({len(samples)} runs)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    stop_like_ctrl_c()
    with reaper.temp_dir("kit-bench-") as tmp:
        started = time.monotonic()
        engine = Engine(tmp).start()
        print(f"engine: {engine.kind} at {engine.url} ready in {time.monotonic() - started:.2f} s")
        client = engine.client(timeout=120)
        label = {"streamspace.kit/run": f"bench-{uuid.uuid4().hex[:8]}"}
        print(f"containers are labelled streamspace.kit/run={label['streamspace.kit/run']}", flush=True)
        # removed by a watcher if this process is killed; here, at the end
        guard = reaper.guard_labelled(engine.url, f"streamspace.kit/run={label['streamspace.kit/run']}",
                                      podman=engine.kind == "podman")
        try:
            started = time.monotonic()
            busybox = images.ensure_busybox_image(client)
            print(f"busybox image {busybox}: ready in {time.monotonic() - started:.2f} s, "
                  f"{client.images.get(busybox).attrs['Size'] / 1e6:.1f} MB")
            started = time.monotonic()
            session = images.ensure_session_image(client, progress=lambda text: print(f"  {text}"))
            print(f"session image {session}: ready in {time.monotonic() - started:.2f} s, "
                  f"{client.images.get(session).attrs['Size'] / 1e6:.0f} MB")
            print(summary("busybox create->running", [until_running(client, busybox, label)
                                                      for _ in range(args.runs)]))
            print(summary("session create->RFB greeting", [until_vnc_greets(client, session, label)
                                                           for _ in range(args.runs)]))
        finally:
            cleanup_by_label(client, f"streamspace.kit/run={label['streamspace.kit/run']}")
            client.close()
            engine.stop()
            if engine.kind == "podman":  # a create cut short by an interruption can finish after the listing
                remove_from_podman_storage(f"streamspace.kit/run={label['streamspace.kit/run']}", engine.env())
            reaper.release(guard)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
