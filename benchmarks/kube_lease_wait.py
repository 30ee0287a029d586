"""How long after a real lease holder change `Wait Until Lease Holder Changes` returns.

Starts the Kubernetes API stand-in, makes a Lease, then per sample: the keyword waits (in a thread)
while a second client — a candidate, through the official ``kubernetes`` client — takes the lease
with a replace. Prints the median and p95 of (keyword returned) - (replace sent), an upper bound,
and of (keyword returned) - (replace acknowledged), a lower bound (it can be negative: the watch
event may reach the keyword before the HTTP answer reaches the candidate).

    .venv/bin/python benchmarks/kube_lease_wait.py [--samples 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for entry in (str(ROOT), str(ROOT / "libraries")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from kubernetes import client  # noqa: E402

from environments.local.kubeapi import KubeApiStandIn  # noqa: E402
from KubeKit import KubeKit  # noqa: E402

NAMESPACE, LEASE = "kit-bench", "agent"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, KubeApiStandIn(Path(workdir)) as standin, \
            client.ApiClient(client.Configuration(host=standin.url)) as api:
        core, leases = client.CoreV1Api(api), client.CoordinationV1Api(api)
        core.create_namespace({"metadata": {"name": NAMESPACE}}, _request_timeout=5)
        leases.create_namespaced_lease(NAMESPACE, {"metadata": {"name": LEASE}, "spec": {"holderIdentity": "c-0"}},
                                       _request_timeout=5)
        kit = KubeKit()
        kit.connect_to_kubernetes(api_url=standin.url, timeout="5s")
        after_sent, after_acked = [], []
        for sample in range(1, args.samples + 1):
            old, new = f"c-{sample - 1}", f"c-{sample}"
            returned: dict[str, float] = {}

            def wait(old: str = old, returned: dict[str, float] = returned) -> None:
                kit.wait_until_lease_holder_changes(LEASE, NAMESPACE, from_holder=old, timeout="10s")
                returned["at"] = time.time()

            waiter = threading.Thread(target=wait)
            waiter.start()
            time.sleep(0.3)  # pacing: let the keyword reach its watch before the change
            lease = leases.read_namespaced_lease(LEASE, NAMESPACE, _request_timeout=5)
            lease.spec.holder_identity = new
            sent = time.time()
            leases.replace_namespaced_lease(LEASE, NAMESPACE, lease, _request_timeout=5)
            acked = time.time()
            waiter.join(15)
            if "at" not in returned:
                print(f"sample {sample}: the keyword did not return", file=sys.stderr)
                return 1
            after_sent.append((returned["at"] - sent) * 1000)
            after_acked.append((returned["at"] - acked) * 1000)
        kit.close_all_kubernetes_connections()
    print(f"Wait Until Lease Holder Changes on the Kubernetes API stand-in, {args.samples} samples")
    print(f"  returned after the replace was sent:         median {statistics.median(after_sent):7.1f} ms"
          f"   p95 {p95(after_sent):7.1f} ms")
    print(f"  returned after the replace was acknowledged: median {statistics.median(after_acked):7.1f} ms"
          f"   p95 {p95(after_acked):7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
