"""The ``kind`` environment: StreamSpace in HA on a kind cluster (Helm), reached from the test machine.

The cluster is brought up outside the kit (README.md in this folder, or CI); the EnvironmentKit
``kind`` driver attaches to it through the Kubernetes API:

- :mod:`environments.kind.settings` -- what the driver needs to know (variables.yaml);
- :mod:`environments.kind.cluster`  -- topology from the API (pods, Lease, Services, Secrets) and
  faults through the API (delete pod, scale, NetworkPolicies);
- :mod:`environments.kind.forward`  -- stable local ports per component, relayed through port-forwards;
- :mod:`environments.kind.netpol`   -- the NetworkPolicies that cut two components apart.
"""
