"""Port-forwarding rules that Podman's network backend (Netavark) left in the kernel.

When a Podman engine dies with containers running (killed, or its machine's run interrupted), the
rules that forward a published host port to a container (``-d 127.0.0.1/32 --dport P -j DNAT
--to-destination 10.209.0.11:5900``) can stay behind after the container is gone. The port then looks
free (nothing listens on it), but every connection to it is sent to a dead address: "No route to
host", or a VNC server that never greets. Packages removed or not, the kernel keeps them until reboot.

Likewise Podman's DNS server for container names (``aardvark-dns``), which Netavark starts and stops
as containers come and go, can outlive every container when they went without their network being
torn down; it then keeps answering names with dead addresses. One that the kit's engine started
(it carries the kit's mark) is stale when Podman has no container left (:func:`stale_dns_servers`).

``python -m environments.local.netrules`` lists such rules into the kit's container subnets whose
container no longer exists; ``--remove`` deletes them. The leak audit reports them; the kit removes
them itself when it starts a Podman engine and when the watcher of a killed run has removed its
containers (:func:`remove_stale`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psutil

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


def remove_stale_rules() -> tuple[list[str], list[str]]:
    """Remove the stale rules; returns what was removed and what could not be (with the reason)."""
    rules = stale_rules()
    errors = remove(rules) if rules else []
    removed = [describe(rule) for rule in rules
               if not any(error.startswith(f"{rule['chain']} {rule['spec']}:") for error in errors)]
    return removed, errors


def _podman_has_containers() -> bool | None:
    """Whether Podman has any container (None when it cannot be asked)."""
    if not shutil.which("podman"):
        return False
    try:
        done = subprocess.run(["podman", "ps", "-a", "-q"], capture_output=True, text=True, timeout=TIMEOUT,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return bool(done.stdout.split()) if done.returncode == 0 else None


def _kit_dns_servers() -> list[psutil.Process]:
    from environments.local.procs import OWNER_MARK

    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            argv = proc.info["cmdline"] or []
            if argv and Path(argv[0]).name == "aardvark-dns" and OWNER_MARK in proc.environ():
                found.append(proc)
    return found


def stale_dns_servers() -> list[psutil.Process]:
    """The kit's ``aardvark-dns`` servers, when Podman has no container left for them to serve."""
    servers = _kit_dns_servers()
    if not servers or _podman_has_containers() is not False:
        return []
    return servers


def remove_stale_dns() -> tuple[list[str], list[str]]:
    """Stop the stale DNS servers and drop the name records they served; returns what went and what did not."""
    removed, errors = [], []
    for proc in stale_dns_servers():
        with contextlib.suppress(psutil.Error):
            argv = proc.cmdline()
            config = Path(argv[argv.index("--config") + 1]) if "--config" in argv[:-1] else None
            proc.terminate()
            try:
                proc.wait(3)
            except psutil.TimeoutExpired:
                proc.kill()
                proc.wait(3)
            removed.append(f"Podman's DNS server aardvark-dns (pid {proc.pid}), stale: no container is left")
            for record in (config.iterdir() if config and config.is_dir() else []):
                if record.is_file():
                    record.unlink(missing_ok=True)
        if proc.is_running():
            errors.append(f"aardvark-dns (pid {proc.pid}) did not stop")
    return removed, errors


def remove_stale() -> tuple[list[str], list[str]]:
    """Remove the stale rules and the stale DNS servers; returns what was removed and what could not be."""
    removed, errors = remove_stale_rules()
    dns_removed, dns_errors = remove_stale_dns()
    return removed + dns_removed, errors + dns_errors


def describe(rule: dict[str, str]) -> str:
    return f"port-forwarding rule to a container that is gone ({rule['chain']}: {rule['spec']})"


def describe_dns(proc: psutil.Process) -> str:
    return f"Podman's DNS server aardvark-dns (pid {proc.pid}) serving names of containers that are all gone"


def main(argv: list[str]) -> int:
    if "--remove" in argv:
        removed, errors = remove_stale()
        for error in errors:
            print(f"could not remove {error}", file=sys.stderr)
        print(f"removed {len(removed)} stale port-forwarding rule(s) and DNS server(s)")
        return 1 if errors else 0
    stale = [describe(rule) for rule in stale_rules()] + [describe_dns(proc) for proc in stale_dns_servers()]
    for line in stale:
        print(line)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
