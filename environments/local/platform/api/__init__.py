"""One Control Plane API replica (docs/contract.md §1, §2 Control Plane side, §3, §6 proxy side, §7).

- :mod:`.app`       -- the aiohttp application, start-up (migrate, seed) and shutdown
- :mod:`.auth`      -- JWT HS256 (one shared secret) and the login/refresh routes
- :mod:`.users`, :mod:`.sessions`, :mod:`.templates`, :mod:`.agents` -- the REST routes
- :mod:`.hub`       -- the agent hub: local WebSockets, Redis keys and pub/sub, cross-replica relay
- :mod:`.commands`  -- durable agent commands in PostgreSQL and their delivery
- :mod:`.vnc`       -- the browser VNC proxy
"""
