"""Run one Control Plane API replica (one process; kill it and start it again alone).

Usage::

    python -m environments.local.platform.api --name api-1 --host 127.0.1.1 --port 8001 \\
        --redis-url redis://127.0.2.1:6379/0 \\
        --database-dsn 'host=127.0.0.1 port=5432 user=postgres dbname=streamspace' \\
        --jwt-secret-file run/jwt.secret --agent-key-file run/agent.key --config run/api.json

Options:

``--name NAME``            the replica's name ("pod name" in Redis and in ``connectedPod``); required
``--host ADDR``            address to listen on (default 127.0.0.1)
``--port PORT``            port to listen on (default 8000)
``--redis-url URL``        Redis of the agent hub (hub data goes to DB 1 whatever the URL's DB);
                           omit it, or let Redis be down, for single-replica mode
``--database-dsn DSN``     PostgreSQL (libpq DSN or URL, no password on the command line: use
                           ``STREAMSPACE_DATABASE_DSN`` or a .pgpass when one is needed); the database
                           is created if missing, migrated and seeded at start
``--jwt-secret-file F``    file holding the JWT HS256 secret (or env ``STREAMSPACE_JWT_SECRET``)
``--agent-key-file F``     file holding the agents' bootstrap key, 64 hex (or env ``STREAMSPACE_AGENT_KEY``)
``--config F``             JSON configuration: timings, seed users and passwords, session image
                           (see :mod:`environments.local.platform.common.config`)
``--log-level LEVEL``      DEBUG, INFO (default), WARNING
``--access-log``           log every HTTP request

Secrets are read from files or the environment, never from the command line, and never logged.
Ready when ``GET /health`` answers ``200 {"status": "healthy", "service": "streamspace-api", "pod": NAME}``;
it then also sends ``READY=1`` to ``NOTIFY_SOCKET`` when that is set (the systemd convention).
SIGTERM/SIGINT stop it gracefully (its agents are marked offline and their Redis keys removed);
SIGKILL is survived by the others: agents reconnect elsewhere and pending commands are delivered there.
Exit codes: 0 stopped, 2 bad options or configuration, 3 database could not be migrated or seeded.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time

import psycopg
from aiohttp import web

from environments.local.platform import db
from environments.local.platform.api.app import create_app
from environments.local.platform.common.config import ConfigError, load_config, read_secret
from environments.local.procs import notify_ready

log = logging.getLogger("streamspace.api")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m environments.local.platform.api",
                                     description="One Control Plane API replica of the reference stack.")
    parser.add_argument("--name", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--database-dsn", default=None)
    parser.add_argument("--jwt-secret-file", default=None)
    parser.add_argument("--agent-key-file", default=None)
    parser.add_argument("--config", default=None)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--access-log", action="store_true")
    return parser.parse_args(argv)


def prepare_database(dsn: str, config: object, budget: float = 30.0) -> None:
    """Create, migrate and seed; waits up to ``budget`` seconds for PostgreSQL to accept connections."""
    start = time.monotonic()
    while True:
        try:
            db.ensure_database(dsn)
            break
        except psycopg.OperationalError as error:
            if time.monotonic() - start > budget:
                raise db.MigrationError(f"PostgreSQL does not accept connections after {budget:g} s ({error}); "
                                        "start it or fix --database-dsn") from None
            time.sleep(0.5)
    version = db.migrate(dsn)
    db.seed(dsn, config)  # type: ignore[arg-type]
    log.info("database at migration %s, seeded", version)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format=f"%(asctime)s {args.name} %(name)s %(levelname)s %(message)s")
    started = time.monotonic()
    try:
        config = load_config(args.config)
        jwt_secret = read_secret(args.jwt_secret_file, "STREAMSPACE_JWT_SECRET", "the JWT secret")
        agent_key = read_secret(args.agent_key_file, "STREAMSPACE_AGENT_KEY", "the agent bootstrap key")
        dsn = args.database_dsn or os.environ.get("STREAMSPACE_DATABASE_DSN", "")
        if not dsn:
            raise ConfigError("the database is missing: pass --database-dsn or set STREAMSPACE_DATABASE_DSN")
        if not re.fullmatch(r"[0-9a-fA-F]{64}", agent_key):
            raise ConfigError("the agent bootstrap key must be 64 hex characters; write such a key in the file")
    except ConfigError as error:
        log.error("cannot start: %s", error)
        return 2
    try:
        prepare_database(dsn, config)
    except (db.MigrationError, psycopg.Error) as error:
        log.error("cannot start: database: %s", error)
        return 3
    app = create_app(args.name, config, dsn, args.redis_url, jwt_secret, agent_key)
    log.info("listening on http://%s:%s (prepared in %.2f s)", args.host, args.port, time.monotonic() - started)
    # aiohttp calls ``print`` once it listens: then the replica says it is ready (NOTIFY_SOCKET, when given)
    web.run_app(app, host=args.host, port=args.port, print=lambda _banner: notify_ready(), shutdown_timeout=2.0,
                access_log=logging.getLogger("aiohttp.access") if args.access_log else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
