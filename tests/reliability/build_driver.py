"""A slow build of a throwaway image, for the interruption tests: ``python -m tests.reliability.build_driver TAG``.

Starts a container engine of its own (as a run does), builds the busybox image if missing, then an
image ``TAG`` whose one ``RUN`` step takes a minute (no network: it needs none), and prints
``BUILDING`` when that build starts.
"""

from __future__ import annotations

import sys
from pathlib import Path

from environments.local import images, reaper
from environments.local.engine import Engine
from kitcore.processes import stop_like_ctrl_c

SLOW_DOCKERFILE = """\
FROM {base}
RUN ["/bin/sh", "-c", "sleep 60 && echo {marker}"]
LABEL {label}=interrupted-build
"""


def step_marker(tag: str) -> str:
    """What the slow ``RUN`` step of the build of ``tag`` has in its command line (it makes each build
    unique: no build cache answers it)."""
    return f"interrupted-build-step-{tag.rsplit(':', 1)[-1]}"


def main(tag: str) -> int:
    stop_like_ctrl_c()
    with reaper.temp_dir("kit-build-") as tmp, Engine(tmp / "engine") as engine:
        client = engine.client(timeout=120)
        base = images.ensure_busybox_image(client)

        def fill(context: Path) -> None:
            (context / "Dockerfile").write_text(SLOW_DOCKERFILE.format(base=base, label=images.IMAGE_LABEL,
                                                                    marker=step_marker(tag)))
            print("BUILDING", engine.url, flush=True)

        images.ensure_image(client, tag, fill, image="interrupted", network="none")
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
