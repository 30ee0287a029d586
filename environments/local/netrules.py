"""Port-forwarding rules that Podman's network backend (Netavark) left in the kernel.

When a Podman engine dies with containers running (killed, or its machine's run interrupted), the
rules that forward a published host port to a container (``-d 127.0.0.1/32 --dport P -j DNAT
--to-destination 10.209.0.11:5900``) can stay behind after the container is gone. The port then looks
free (nothing listens on it), but every connection to it is sent to a dead address: "No route to
host", or a VNC server that never greets. Packages removed or not, the kernel keeps them until reboot.

``python -m environments.local.netrules`` lists such rules into the kit's container subnets whose
container no longer exists; ``--remove`` deletes them. The leak audit reports them; the kit removes
them itself when it starts a Podman engine and when the watcher of a killed run has removed its
containers (:func:`remove_stale`).
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
import sys

# the subnets of the kit's Podman networks (environments/local/engine.py)
KIT_NETWORKS = (ipaddress.ip_network("10.208.0.0/24"), ipaddress.ip_network("10.209.0.0/16"))
RULE = re.compile(r"^-A (?P<chain>(?:NETAVARK|CNI)-\S+) (?P<spec>.*-j DNAT --to-destination "
                  r"(?P<ip>\d+\.\d+\.\d+\.\d+):\d+)\s*$")
TIMEOUT = 15


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else ""


def dnat_rules(listing: str | None = None) -> list[dict[str, str]]:
    """The DNAT rules into the kit's subnets: ``{"chain", "spec", "ip"}`` each."""
    if listing is None:
        listing = _run(["iptables", "-w", "5", "-t", "nat", "-S"]) if shutil.which("iptables") else ""
    rules = []
    for line in listing.splitlines():
        match = RULE.match(line.strip())
        if match and any(ipaddress.ip_address(match["ip"]) in net for net in KIT_NETWORKS):
            rules.append({"chain": match["chain"], "spec": match["spec"], "ip": match["ip"]})
    return rules


def live_addresses() -> set[str] | None:
    """The addresses of every container Podman knows (None when Podman cannot be asked)."""
    if not shutil.which("podman"):
        return set()
    ids = _run(["podman", "ps", "-a", "-q"]).split()
    if not ids:
        return set()
    text = _run(["podman", "inspect", *ids])
    if not text:
        return None
    addresses = set()
    for container in json.loads(text):
        networks = ((container.get("NetworkSettings") or {}).get("Networks") or {}).values()
        addresses |= {str(n.get("IPAddress")) for n in networks if n.get("IPAddress")}
    return addresses


def stale_rules() -> list[dict[str, str]]:
    """Rules into the kit's subnets whose container address no container has any more."""
    rules = dnat_rules()  # first the rules, then the containers: a rule's container exists by then
    if not rules:
        return []
    live = live_addresses()
    if live is None:
        return []
    return [rule for rule in rules if rule["ip"] not in live]


def remove(rules: list[dict[str, str]]) -> list[str]:
    """Delete ``rules``; returns the errors (empty when all went)."""
    errors = []
    for rule in rules:
        argv = ["iptables", "-w", "5", "-t", "nat", "-D", rule["chain"], *rule["spec"].split()]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            errors.append(f"{rule['chain']} {rule['spec']}: {error}")
            continue
        if done.returncode != 0:
            errors.append(f"{rule['chain']} {rule['spec']}: {done.stderr.strip()}")
    return errors


def remove_stale() -> tuple[list[str], list[str]]:
    """Remove the stale rules; returns what was removed and what could not be (with the reason)."""
    rules = stale_rules()
    errors = remove(rules) if rules else []
    removed = [describe(rule) for rule in rules
               if not any(error.startswith(f"{rule['chain']} {rule['spec']}:") for error in errors)]
    return removed, errors


def describe(rule: dict[str, str]) -> str:
    return f"port-forwarding rule to a container that is gone ({rule['chain']}: {rule['spec']})"


def main(argv: list[str]) -> int:
    rules = stale_rules()
    if "--remove" in argv:
        errors = remove(rules)
        for error in errors:
            print(f"could not remove {error}", file=sys.stderr)
        print(f"removed {len(rules) - len(errors)} stale port-forwarding rule(s)")
        return 1 if errors else 0
    for rule in rules:
        print(describe(rule))
    return 1 if rules else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
