"""The platform under test, given as programs: which program plays each part and how it is wired.

The local stack starts the backends itself (Redis, PostgreSQL, the Kubernetes API stand-in, the
container engine) and then the platform under test from a *platform file* (YAML): for each part
(``api``, ``kubernetes-agent``, ``docker-agent``) the command line and environment of its program,
written with placeholders the stack fills in for every replica — its own loopback address and port,
its links to Redis, PostgreSQL, the Kubernetes API and the API replicas, its pod name, the shared
secrets. The kit's own reference platform is one such file (``reference.yaml``, the default); the
real StreamSpace v2 is another (``streamspace.yaml``), which runs the programs the user built, from
the folder given as ``--programs`` (``programs`` in the file).

Placeholders (``{name}``; unknown ones are refused when the file is loaded):

=====================  ===============================================================
``name``               the replica's slot name (``api-1``, ``k8s-agent-a``...)
``index`` ``letter``   its number (1, 2...) and letter (a, b...)
``pod``                its pod name (the file's ``pod`` template; default: the slot name)
``host`` ``port``      its own loopback address and free port; ``url`` = http://host:port
``redis_host/port``    its link to Redis; ``redis`` = host:port
``db_host/port``       its link to PostgreSQL; ``db_name``, ``db_user``; ``dsn`` (libpq)
``kube_url``           its link to the Kubernetes API; ``kubeconfig``: a file naming it
``api_urls``           its links to every API replica, comma separated (http://...)
``api_service``        host:port of its link to an API *service* that spreads connections
                       over the API replicas that answer, as a Kubernetes Service does
``engine_url``         the container engine (unix://... or tcp://...)
``namespace``          the Kubernetes namespace; ``agent_id`` this part's agent id
``state``              the run's private folder; ``config`` the kit's JSON configuration
``jwt_secret_file``    files holding the JWT secret and the agent key (mode 0600)
``agent_key_file``
``python`` ``repo``    this Python and the kit's root; ``programs`` the programs folder
``session_platform``   ``kubernetes`` when the stack has Kubernetes agents, else ``docker``
``run_id``             the run's id (8 hex), e.g. to name what the platform makes per run
``secret.jwt``         secret values, for ``env`` only (never on a command line, never
``secret.agent_key``   logged): the JWT secret, the agent (bootstrap) key, the admin
``secret.admin``       password, and the key the seed obtained for this agent
``secret.agent_api_key``
=====================  ===============================================================
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from environments.local.procs import BackendError

HERE = Path(__file__).resolve().parent
PARTS = ("api", "kubernetes-agent", "docker-agent")
PLACEHOLDERS = frozenset({
    "name", "index", "letter", "pod", "host", "port", "url", "redis_host", "redis_port", "redis",
    "db_host", "db_port", "db_name", "db_user", "dsn", "kube_url", "kubeconfig", "api_urls", "api_service",
    "engine_url", "namespace", "agent_id", "state", "config", "jwt_secret_file", "agent_key_file", "python",
    "repo", "programs", "session_platform", "run_id",
    "secret.jwt", "secret.agent_key", "secret.admin", "secret.agent_api_key",
})
SECRET_PREFIX = "secret."  # noqa: S105 - the prefix of secret placeholders, not a secret
_FIELD = re.compile(r"\{([a-z_.]+)\}")


@dataclass(frozen=True)
class PartSpec:
    """How one part of the platform (every replica of it) is started."""

    part: str
    command: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    pod: str = "{name}"
    hostname: bool = False  # run each replica in its own UTS namespace, hostname = its pod name
    health: str | None = None  # an HTTP path that answers 200 once the replica is ready

    def placeholders(self) -> set[str]:
        """Every value this part's command, environment and pod name use."""
        return {key for text in (*self.command, *self.env.values(), self.pod) for key in _FIELD.findall(text)}

    def render(self, template: str, values: dict[str, str]) -> str:
        return render(template, values, secrets=False)

    def argv(self, values: dict[str, str]) -> list[str]:
        return [render(arg, values, secrets=False) for arg in self.command]

    def environment(self, values: dict[str, str]) -> dict[str, str]:
        return {key: render(value, values, secrets=True) for key, value in self.env.items()}


@dataclass(frozen=True)
class PlatformSpec:
    """A platform file, loaded and checked."""

    name: str
    path: Path
    description: str
    parts: dict[str, PartSpec]
    programs: Path | None
    seed: str
    timings: dict[str, Any]
    leader: dict[str, str]
    templates: dict[str, str]
    programs_variable: str = ""
    # what the platform itself makes in the container engine, without the kit's run label: its
    # session network for this run, the label naming a container's session, the name of a session's
    # volumes ({"network": "streamspace-{run_id}", "sessionLabel": "session-id",
    # "sessionVolumePrefix": "streamspace-{session}"})
    engine_objects: dict[str, str] = field(default_factory=dict)

    def part(self, name: str) -> PartSpec:
        return self.parts[name]


def render(template: str, values: dict[str, str], secrets: bool) -> str:
    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key.startswith(SECRET_PREFIX) and not secrets:
            raise BackendError("A platform file puts a secret on a command line", f"{{{key}}} in '{template}'",
                               "pass secrets in the part's env, never in its command")
        if key not in values:
            raise BackendError("A platform file names a value the stack does not have", f"{{{key}}}",
                               f"use one of: {', '.join(sorted(PLACEHOLDERS))}")
        return str(values[key])

    return _FIELD.sub(replace, template)


def platform_path(name_or_path: str) -> Path:
    """``reference``, ``streamspace`` (shipped files) or the path of a platform file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        return candidate.resolve()
    return HERE / f"{name_or_path}.yaml"


def shipped() -> list[str]:
    return sorted(path.stem for path in HERE.glob("*.yaml"))


def load_platform(name_or_path: str = "reference", programs: str | Path | None = None) -> PlatformSpec:
    """Load and check a platform file; ``programs`` overrides the file's programs folder."""
    path = platform_path(name_or_path or "reference")
    if not path.is_file():
        raise BackendError(f"No platform file '{name_or_path}'", f"{path} does not exist",
                           f"name a shipped platform ({', '.join(shipped())}) or the path of a platform file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise BackendError(f"The platform file {path.name} is not valid YAML", str(error).splitlines()[0],
                           "fix the file (see environments/local/platforms/reference.yaml)") from None
    parts = {}
    for part, spec in (data.get("parts") or {}).items():
        if part not in PARTS:
            raise BackendError(f"The platform file {path.name} has an unknown part '{part}'",
                               f"parts are {', '.join(PARTS)}", "rename or remove it")
        parts[part] = _part(path, part, spec or {})
    missing = [part for part in PARTS if part not in parts]
    if "api" in missing:
        raise BackendError(f"The platform file {path.name} has no 'api' part", "every platform has an API",
                           "add parts.api with its command")
    variable = str(data.get("programsVariable") or "")
    folder = programs or (os.environ.get(variable) if variable else None) or data.get("programs") or None
    spec = PlatformSpec(
        name=str(data.get("name") or path.stem), path=path, description=str(data.get("description") or ""),
        parts=parts, programs=Path(str(folder)).expanduser().resolve() if folder else None,
        seed=str(data.get("seed") or "reference"), timings=dict(data.get("timings") or {}),
        leader={str(k): str(v) for k, v in (data.get("leader") or {}).items()},
        templates={str(k): str(v) for k, v in (data.get("templates") or {}).items()},
        programs_variable=variable,
        engine_objects={str(k): str(v) for k, v in (data.get("engineObjects") or {}).items()},
    )
    _check_programs(spec, bool(data.get("needsPrograms")))
    return spec


def _part(path: Path, part: str, spec: dict[str, Any]) -> PartSpec:
    command = spec.get("command")
    if not command or not isinstance(command, list):
        raise BackendError(f"The platform file {path.name}: part '{part}' has no command",
                           "'command' must be a list: the program and its arguments",
                           "add e.g. command: ['{programs}/streamspace-api']")
    result = PartSpec(part=part, command=tuple(str(arg) for arg in command),
                      env={str(k): str(v) for k, v in (spec.get("env") or {}).items()},
                      pod=str(spec.get("pod") or "{name}"), hostname=bool(spec.get("hostname")),
                      health=spec.get("health"))
    for text in (*result.command, *result.env.values(), result.pod):
        for key in _FIELD.findall(text):
            if key not in PLACEHOLDERS:
                raise BackendError(f"The platform file {path.name}: part '{part}' names an unknown value {{{key}}}",
                                   f"known values: {', '.join(sorted(PLACEHOLDERS))}", "correct the placeholder")
    for arg in result.command:
        if SECRET_PREFIX in arg and any(k.startswith(SECRET_PREFIX) for k in _FIELD.findall(arg)):
            raise BackendError(f"The platform file {path.name}: part '{part}' puts a secret on its command line",
                               arg, "pass secrets in the part's env (command lines are visible to every user)")
    return result


def _check_programs(spec: PlatformSpec, needs_programs: bool) -> None:
    uses = any("{programs}" in arg for part in spec.parts.values() for arg in part.command)
    if not (uses or needs_programs):
        return
    if spec.programs is None:
        raise BackendError(f"The {spec.name} platform runs programs you built, and no folder was given",
                           "the platform file's programs are '{programs}/...'",
                           "pass --programs DIR (./kit stack), set LOCAL_PLATFORM_PROGRAMS "
                           "(robot -v LOCAL_PLATFORM_PROGRAMS:DIR) or the environment variable "
                           f"{spec.programs_variable or 'named by programsVariable in the platform file'}")
    for part in spec.parts.values():
        program = render(part.command[0], {"programs": str(spec.programs), "python": "python", "repo": "."},
                         secrets=False) if "{programs}" in part.command[0] else None
        if program and not os.access(program, os.X_OK):
            raise BackendError(f"The {spec.name} platform's {part.part} program is missing",
                               f"{program} is not an executable file",
                               f"build it from the product's sources and put it in {spec.programs} "
                               f"(the platform file {spec.path.name} lists the programs it needs)")
