"""Copy a database (its schema, and its rows if asked) into another with PostgreSQL's own pg_dump and
pg_restore: the source is only read (one consistent snapshot), the target gets every table, index,
constraint, sequence, function and trigger the source has."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg.conninfo import make_conninfo

from kitcore import KitError
from kitcore.credentials import mask

CLIENT_FIX = "install PostgreSQL's client programs (the postgresql-client package), as new as the server"


@dataclass
class Endpoint:
    """Where a database is and how to log in: libpq parameters (no password) and the password."""

    params: dict[str, Any]
    password: str | None

    @property
    def where(self) -> str:
        return f"{self.params.get('host', 'localhost')}:{self.params.get('port', 5432)}/{self.params.get('dbname', '')}"

    def conninfo(self) -> str:
        return make_conninfo(**{k: v for k, v in self.params.items()
                                if v is not None and k not in ("options", "password")})

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env


def client_program(name: str) -> str:
    """The newest ``name`` (pg_dump, pg_restore) on this machine: PostgreSQL's versioned folders first."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major)
    if found:
        return found[-1]
    program = shutil.which(name)
    if program:
        return program
    raise KitError(f"Cannot copy a database: {name} is not installed", fix=CLIENT_FIX)


def _major(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def copy_database(source: Endpoint, target: Endpoint, rows: bool = True, timeout: float = 300.0) -> float:
    """Dump ``source`` and restore it into the (empty) ``target`` in one transaction; returns seconds.

    Owners and privileges are left out (the target belongs to whoever restores it)."""
    start = time.perf_counter()
    dump = [client_program("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
            f"--dbname={source.conninfo()}"]
    if not rows:
        dump.append("--schema-only")
    dumped = _run(dump, source, None, timeout, f"Reading the database at {source.where} with pg_dump")
    restore = [client_program("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
               "--single-transaction", f"--dbname={target.conninfo()}"]
    _run(restore, target, dumped, timeout, f"Writing the copy of {source.where} into {target.where} with pg_restore")
    return round(time.perf_counter() - start, 3)


def _run(argv: list[str], endpoint: Endpoint, stdin: bytes | None, timeout: float, what: str) -> bytes:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, env=endpoint.env(), timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        raise KitError(f"{what} took longer than {timeout:g} s", "the program was stopped",
                       "check that the server answers; a big database needs a longer timeout") from None
    except OSError as error:
        raise KitError(f"{what} failed", f"{argv[0]} could not start: {error.strerror}", CLIENT_FIX) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
        detail = mask(" | ".join(lines[-4:]) or f"exit status {done.returncode}", endpoint.password)
        fix = CLIENT_FIX if "version mismatch" in detail else "see the error: the source must be readable and " \
                                                               "the target an empty database"
        raise KitError(f"{what} failed", detail, fix)
    return done.stdout
