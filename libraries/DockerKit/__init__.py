"""DockerKit: container engine keywords for the StreamSpace acceptance kit (docker SDK).

Works with Docker and with Podman's Docker-compatible service.

= Connections =
`Connect To Container Engine` opens a connection (``alias=`` names it; without ``url`` it uses
``DOCKER_HOST``, then ``/var/run/docker.sock``, then ``/run/podman/podman.sock``). The last one
opened or switched to with `Switch Container Engine Connection` is used unless a keyword gets
``alias=``. Every call to the engine has a timeout (``timeout=``, default 30 s).

= Assertions =
| Get Container State | ${name} | == | running | timeout=10s |
| Get Container Logs | ${name} | contains | keyboard display ready | timeout=10s |

= Cleanup =
Every container, network and volume the library creates carries the label
``streamspace.kit/test=<id>`` and is removed at the end of the test (or of the suite, when
created in a suite setup), even when the test fails. A network partition made with
`Disconnect Container From Network` and a pause are undone too.

= Safety =
Destructive keywords (stop, restart, kill, pause, remove, disconnect) act only on objects that
carry an allow-listed label: import argument ``test_labels`` (default
``streamspace.kit/test,app=streamspace,streamspace.kit/run``; ``key`` or ``key=value`` globs,
comma separated) plus the environment variable ``KIT_TEST_LABELS``.

= Limits =
``cpu=`` (cores) and ``memory=`` (``64Mi``) of `Run Container` are checked for real:
`Container Memory Limit Should Be Enforced` runs a memory hog and expects it killed (exit code
137); `Container CPU Limit Should Be Enforced` burns CPU and measures the use against the quota.

= Images =
Nothing is pulled: images are built locally (`Build Image`). Volume files are written and read
by a helper container of the kit's busybox image (or ``helper_image=``).
"""

from __future__ import annotations

from DockerKit.context import DEFAULT_TEST_LABELS, DockerContext
from DockerKit.keywords.connection import ConnectionKeywords
from DockerKit.keywords.containers import ContainerKeywords
from DockerKit.keywords.events import EventKeywords
from DockerKit.keywords.images import ImageKeywords
from DockerKit.keywords.limits import LimitKeywords
from DockerKit.keywords.networks import NetworkKeywords
from DockerKit.keywords.volumes import VolumeKeywords
from kitcore.library import KitLibrary

__version__ = "0.1.0"


class DockerKit(KitLibrary):
    def __init__(self, test_labels: str = DEFAULT_TEST_LABELS, timeout: str = "30s",
                 helper_image: str | None = None) -> None:
        """``test_labels``: labels (``key`` or ``key=value`` globs) that destructive keywords may act on;
        ``timeout``: default timeout of every engine call; ``helper_image``: a local image with ``sh``
        and ``cat`` for volume files (default: the kit's busybox image, built on first use).
        """
        self.assemble(DockerContext(test_labels, timeout, helper_image),
                      [ConnectionKeywords, ContainerKeywords, LimitKeywords, NetworkKeywords, VolumeKeywords,
                       ImageKeywords, EventKeywords])


__all__ = ["DockerKit"]
