"""KubeKit: a Kubernetes cluster (or the kit's Kubernetes API stand-in) as Robot Framework keywords.

= Connections =
`Connect To Kubernetes` opens a connection from a kubeconfig ``context``, from inside the cluster
(``in_cluster=True``), or from an ``api_url`` (the local stack's Kubernetes API stand-in). ``alias=``
names it; the last opened is the current one (`Switch Kubernetes Connection`,
`Close All Kubernetes Connections`). Every keyword takes ``alias=``. Every request has a timeout
(``timeout=`` of `Connect To Kubernetes`, else the library's).

= Safety latch =
Destructive keywords (`Delete Namespace`, `Delete Pod`, `Delete Manifest Objects`,
`Delete Custom Object`, `Scale Deployment` to 0, and `Create Test Namespace`, whose cleanup
deletes) act only on allow-listed namespaces and contexts: glob patterns from the import
arguments ``test_namespaces`` (default ``kit-*,streamspace*``) and ``test_contexts`` (default
``stand-in,kind-*,k3d-*,minikube,docker-desktop,kit-*``), plus the environment variables
``KIT_TEST_NAMESPACES`` and ``KIT_TEST_CONTEXTS`` (comma separated). A refusal says how to allow
the target. A connection made with ``api_url`` has the context ``stand-in`` when the API is the
kit's stand-in, else its URL; ``in_cluster=True`` has the context ``in-cluster``.

= Assertions =
| Get Pod Phase | ${pod} | ${ns} | == | Running | timeout=60s |

= Waits =
Waits (`Wait Until Pods Are Ready`, `Wait Until Lease Holder Changes`...) follow a watch on the
objects where the API allows it and poll otherwise; all take ``timeout=`` (and ``poll=``) and, on
failure, say what they last saw, how many tries and the time spent against the budget.

= Cleanup =
Namespaces made with `Create Test Namespace`, objects created by `Apply Manifest` and
`Create Custom Object`, and port-forwards are removed at the end of the test (or of the suite when
made in a suite setup), even when the test fails.

= The Kubernetes API stand-in =
The local stack serves a stand-in for the Kubernetes API (no kube-apiserver can run there). It has
no kubelet: `Get Logs Of Pod` and `Exec In Pod` fail on it, saying so. `Port Forward To Pod` works on
it for pods whose IP is a loopback address (the local stack's pods, which its kubelet stand-in runs
as host processes); it refuses any other pod at once, as the stand-in forwards to loopback only.
"""

from __future__ import annotations

from kitcore import CleanupListener
from kitcore.library import KitLibrary
from KubeKit.context import KubeContext
from KubeKit.guard import DEFAULT_CONTEXTS, DEFAULT_NAMESPACES, KubeGuard
from KubeKit.keywords import (
    ConnectionKeywords,
    DeploymentKeywords,
    EventKeywords,
    LeaseKeywords,
    NamespaceKeywords,
    NetworkKeywords,
    ObjectKeywords,
    PodKeywords,
)

__version__ = "0.1.0"


class KubeKit(KitLibrary):
    def __init__(self, test_namespaces: str = DEFAULT_NAMESPACES, test_contexts: str = DEFAULT_CONTEXTS,
                 timeout: str = "10s") -> None:
        """``test_namespaces`` / ``test_contexts``: the allow-lists of the safety latch (glob patterns,
        comma separated); ``timeout``: the default request timeout of new connections."""
        self.cleanup = CleanupListener("KubeKit")
        self.ctx = KubeContext(self.cleanup, KubeGuard(test_namespaces, test_contexts), timeout)
        self.offer([
            ConnectionKeywords(self.ctx),
            NamespaceKeywords(self.ctx),
            ObjectKeywords(self.ctx),
            PodKeywords(self.ctx),
            DeploymentKeywords(self.ctx),
            LeaseKeywords(self.ctx),
            EventKeywords(self.ctx),
            NetworkKeywords(self.ctx),
        ], self.cleanup)
