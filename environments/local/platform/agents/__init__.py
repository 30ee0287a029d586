"""Platform agents of the local reference stack (docs/contract.md §2, §4, §5, §6, agent side).

- ``runtime``: the common agent runtime — register, WebSocket to a Control Plane replica,
  heartbeat, reconnect with backoff across the API URLs, command dispatch with
  ack/complete/failed, status messages, VNC tunnels.
- ``kubernetes``: the Kubernetes agent (Lease leader election; Deployments, Services, PVCs).
- ``kubelet``: the kubelet stand-in that really runs session pods as host processes.
- ``docker``: the Docker agent (real containers; Redis leader lock).

Nothing here imports the keyword libraries: the agents are part of the system under test.
"""
