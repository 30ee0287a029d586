"""The reference stack: a small, faithful implementation of the platform contract.

- :mod:`.api`         -- one Control Plane API replica per process (REST, agent hub, VNC proxy)
- :mod:`.db`          -- the migrator (golang-migrate compatible) and the seed
- ``migrations/``     -- numbered ``NNN_<name>.up.sql`` / ``.down.sql`` files
- :mod:`.agents`      -- the Kubernetes and Docker agents (and the kubelet stand-in)
- :mod:`.common`      -- tiny pieces the agents share: the message envelope and the configuration

Nothing here imports the keyword libraries: the stack is the system under test.
"""
