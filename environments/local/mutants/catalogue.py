"""The mutants: defects that HA platforms have shipped, each as a small change to the reference platform.

Every :class:`Patch` replaces one exact piece of a platform file (it must occur exactly once, so a
change to the platform that moves the code makes the mutant fail loudly instead of silently doing
nothing). Every mutant names the scenario tests that should catch it and a pattern its failure
message must match: a mutant counts as killed only when one of its own tests fails *saying what
broke*, not when something unrelated fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PLATFORM = "environments/local/platform"


@dataclass(frozen=True)
class Patch:
    """Replace ``old`` (exactly one occurrence) by ``new`` in ``file`` (relative to the kit's root)."""

    file: str
    old: str
    new: str


@dataclass(frozen=True)
class TestRef:
    """One scenario test: its suite file (under ``suites/``) and its name."""

    __test__ = False  # not a test case for pytest

    suite: str
    name: str

    def __str__(self) -> str:
        return f"{self.suite.removesuffix('.robot')} :: {self.name}"


@dataclass(frozen=True)
class Mutant:
    """One defect: what it breaks, how it is switched on, and which tests must catch it."""

    name: str
    defect: str  # the broken promise, in a tester's words
    patches: tuple[Patch, ...]
    tests: tuple[TestRef, ...]
    message: str  # a regular expression (case-insensitive) the killing failure message must match
    fast: bool = False  # in the subset CI runs (each of its tests takes seconds)
    # Robot variables for its run; ``{copy}`` stands for the root of the mutated copy
    variables: dict[str, str] = field(default_factory=dict)


_HEALTHY = '    return web.json_response({"status": "healthy", "service": "streamspace-api", "pod": state.name,'


def _in(module: str) -> str:
    return f"{PLATFORM}/{module}"


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        name="split-brain",
        defect="every Kubernetes agent replica believes it leads and connects to the Control Plane",
        patches=(
            Patch(_in("agents/lease.py"), "if await self._attempt() == LEADER:",
                  "if await self._attempt() in (LEADER, FOLLOWER):"),
            Patch(_in("agents/lease.py"), "            if result == LEADER:\n                continue",
                  "            if result in (LEADER, FOLLOWER, LOST):\n                continue"),
            Patch(_in("agents/lease.py"), 'return spec.get("holderIdentity") == self.identity and fresh',
                  "return True"),
        ),
        tests=(TestRef("02_kubernetes_leader_election.robot", "Exactly One Replica Leads And Holds The Lease"),),
        message=r"leader|lease|connected",
        fast=True,
    ),
    Mutant(
        name="slow-failover",
        defect="followers wait twenty lease durations before they take an expired Lease",
        patches=(
            Patch(_in("agents/lease.py"),
                  'held_for = float(spec.get("leaseDurationSeconds") or self.lease_duration)',
                  'held_for = 20 * float(spec.get("leaseDurationSeconds") or self.lease_duration)'),
        ),
        tests=(TestRef("02_kubernetes_leader_election.robot",
                       "A New Leader Is Elected Within The Budget When The Leader Dies"),),
        message=r"leader",
    ),
    Mutant(
        name="lost-cross-replica-commands",
        defect="a command sent through a replica that does not hold the agent is never delivered",
        patches=(
            Patch(_in("api/commands.py"),
                  "    async def on_remote_command(self, agent_id: str, _message: str) -> None:\n"
                  "        if agent_id in self.hub.local:\n            await self.deliver(agent_id)",
                  "    async def on_remote_command(self, agent_id: str, _message: str) -> None:\n        return"),
            Patch(_in("api/commands.py"),
                  "    async def _poll(self) -> None:\n        for agent_id in list(self.hub.local):\n"
                  "            await self.deliver(agent_id)",
                  "    async def _poll(self) -> None:\n        return"),
        ),
        tests=(TestRef("01_multi_replica_api.robot", "A Command Sent Through Another Replica Crosses Over Redis"),),
        message=r"did not become running|pending",
    ),
    Mutant(
        name="duplicated-commands",
        defect="a hibernation request is queued twice, so the agent carries it out twice",
        patches=(
            Patch(_in("api/sessions.py"),
                  "            command_id = await state.commands.create(conn, row[\"agent_id\"], row[\"id\"], action,\n"
                  "                                                     {\"sessionId\": row[\"id\"], "
                  "\"namespace\": row[\"namespace\"]})",
                  "            command_id = await state.commands.create(conn, row[\"agent_id\"], row[\"id\"], action,\n"
                  "                                                     {\"sessionId\": row[\"id\"], "
                  "\"namespace\": row[\"namespace\"]})\n"
                  "            await state.commands.create(conn, row[\"agent_id\"], row[\"id\"], action,\n"
                  "                                        {\"sessionId\": row[\"id\"], "
                  "\"namespace\": row[\"namespace\"]})"),
        ),
        tests=(TestRef("02_kubernetes_leader_election.robot",
                       "No Command Is Lost Or Carried Out Twice Across A Failover"),),
        message=r"twice|duplicat|more than once",
    ),
    Mutant(
        name="stuck-hibernating",
        defect="a hibernated session stays 'hibernating' for ever: the agent's answer is not applied",
        patches=(
            Patch(_in("api/commands.py"), '"hibernate_session": ("hibernating",)', '"hibernate_session": ("running",)'),
        ),
        tests=(TestRef("03_docker_session_lifecycle.robot", "Hibernation Stops The Container And Keeps The Home"),),
        message=r"hibernat",
        fast=True,
    ),
    Mutant(
        name="stale-reads",
        defect="each API replica caches a session the first time it reads it and never reads it again",
        patches=(
            Patch(_in("api/sessions.py"),
                  "async def get_session(request: web.Request) -> web.Response:\n    who = identify(request)\n"
                  "    return web.json_response(session_json(await _load(request, who)))",
                  "_SEEN: dict[str, dict[str, Any]] = {}\n\n\n"
                  "async def get_session(request: web.Request) -> web.Response:\n    who = identify(request)\n"
                  "    name = request.match_info[\"id\"]\n"
                  "    if name not in _SEEN:\n        _SEEN[name] = await _load(request, who)\n"
                  "    return web.json_response(session_json(_SEEN[name]))"),
        ),
        tests=(TestRef("01_multi_replica_api.robot", "Sessions Created Through Different Replicas All Run"),),
        message=r"did not become running|pending|stale",
    ),
    Mutant(
        name="lost-logins",
        defect="each API replica signs tokens with its own key: a login on one replica is refused by another",
        patches=(
            Patch(_in("api/__main__.py"),
                  'jwt_secret = read_secret(args.jwt_secret_file, "STREAMSPACE_JWT_SECRET", "the JWT secret")',
                  'jwt_secret = read_secret(args.jwt_secret_file, "STREAMSPACE_JWT_SECRET", "the JWT secret") '
                  "+ args.name"),
        ),
        tests=(TestRef("01_multi_replica_api.robot", "A Token Works On Every Replica"),),
        message=r"401|token",
        fast=True,
    ),
    Mutant(
        name="wrong-frame-type",
        defect="the VNC proxy sends the desktop's bytes to the browser as base64 text frames, not binary",
        patches=(
            Patch(_in("api/hub.py"), "await stream.ws.send_bytes(data)",
                  "await stream.ws.send_str(base64.b64encode(data).decode())"),
        ),
        tests=(TestRef("04_vnc_end_to_end.robot", "The Tunnel Reaches A Kubernetes Session's Desktop"),),
        message=r"text frame|binary",
        fast=True,
    ),
    Mutant(
        name="broken-cross-replica-relay",
        defect="desktop bytes relayed from another API replica over Redis are dropped before the browser",
        patches=(
            Patch(_in("api/hub.py"),
                  "                stream = self.browsers.get(stream_id)\n                if stream is not None:\n"
                  "                    await self._to_browser(stream, message)\n                continue",
                  "                stream = self.browsers.get(stream_id)\n"
                  "                if stream is not None and message[\"type\"] != \"vnc_data\":\n"
                  "                    await self._to_browser(stream, message)\n                continue"),
        ),
        tests=(TestRef("04_vnc_end_to_end.robot", "Any Replica Proxies The Stream To The Agent"),),
        message=r"rfb|stalled|stream",
    ),
    Mutant(
        name="hub-keys-not-rebuilt",
        defect="after a Redis restart the hub's agent keys are never re-created (only set at connect)",
        patches=(
            Patch(_in("api/hub.py"),
                  "                for agent_id in list(self.local):  # [repair] re-create the keys at once\n"
                  "                    await self.set_keys(agent_id)\n",
                  ""),
            Patch(_in("api/commands.py"), "        self.hub.refresh_keys(agent_id)\n", ""),
        ),
        tests=(TestRef("01_multi_replica_api.robot", "The Agent Hub Recovers When Redis Comes Back"),),
        message=r"agent:.*:pod|hub",
    ),
    Mutant(
        name="missing-column",
        defect="the v2 migration forgets the column sessions.vnc_ready",
        patches=(
            Patch(_in("migrations/002_v2_agents.up.sql"),
                  "    ADD COLUMN platform_metadata JSONB NOT NULL DEFAULT '{}'::jsonb,\n"
                  "    ADD COLUMN vnc_ready         BOOLEAN NOT NULL DEFAULT FALSE;",
                  "    ADD COLUMN platform_metadata JSONB NOT NULL DEFAULT '{}'::jsonb;"),
        ),
        tests=(TestRef("09_database_migrations.robot", "The Migrated Schema Is The Contract's Whole Schema"),),
        message=r"vnc_ready",
        fast=True,
        variables={"MIGRATIONS_DIR": "{copy}/" + _in("migrations")},
    ),
    Mutant(
        name="leaked-volume",
        defect="terminating a Docker session removes its container but leaks its home volume",
        patches=(
            Patch(_in("agents/docker_backend.py"),
                  "removed_volume = await self._call(self._remove_volume, session_id)", "removed_volume = False"),
        ),
        tests=(TestRef("03_docker_session_lifecycle.robot", "Termination Removes The Container And The Volume"),),
        message=r"volume",
        fast=True,
    ),
    Mutant(
        name="ownership-not-enforced",
        defect="any user can read, hibernate or terminate another user's session",
        patches=(
            Patch(_in("api/sessions.py"),
                  "def _check_owner(who: Identity, session: dict[str, Any]) -> None:\n"
                  "    if not who.sees_all and session[\"user_id\"] != who.user_id:",
                  "def _check_owner(who: Identity, session: dict[str, Any]) -> None:\n    if False:"),
        ),
        tests=(TestRef("06_multi_user.robot", "No User Can Touch Another User's Session"),),
        message=r"403|another user",
        fast=True,
    ),
    Mutant(
        name="quota-off-by-one",
        defect="a user with a full quota can still start one more session",
        patches=(
            Patch(_in("api/sessions.py"), 'quota["used"] >= quota["max_sessions"]',
                  'quota["used"] > quota["max_sessions"]'),
        ),
        tests=(TestRef("06_multi_user.robot", "A Full Quota Refuses One More Session"),),
        message=r"quota|403",
        fast=True,
    ),
    Mutant(
        name="vnc-owner-not-checked",
        defect="the VNC proxy streams a session's desktop to any logged-in user",
        patches=(
            Patch(_in("api/vnc.py"), 'if not who.sees_all and session["user_id"] != who.user_id:', "if False:"),
        ),
        tests=(TestRef("04_vnc_end_to_end.robot", "VNC Needs A Token And The Owner"),),
        message=r"403",
    ),
    Mutant(
        name="agent-pinned-to-one-replica",
        defect="an agent whose API replica died keeps reconnecting to that replica instead of another",
        patches=(
            Patch(_in("agents/runtime.py"), "                    self.url_index += 1\n", ""),
        ),
        tests=(TestRef("01_multi_replica_api.robot", "A Session Is Managed Through The Surviving Replicas"),),
        message=r"did not become|offline|not connected",
    ),
    Mutant(
        name="failover-loses-sessions",
        defect="a new Kubernetes agent leader reports the sessions it did not start itself as failed",
        patches=(
            Patch(_in("agents/k8s_backend.py"),
                  'statuses.append({"sessionId": session_id, "state": "running", "vncReady": ready,',
                  'statuses.append({"sessionId": session_id, "state": "failed", "vncReady": ready,'),
        ),
        # the first checks the sessions as soon as the Lease moves, which may be before the new leader
        # reports; the chaos test watches them until the platform has recovered
        tests=(TestRef("02_kubernetes_leader_election.robot", "Leader Failover Keeps Every Session"),
               TestRef("05_ha_under_chaos.robot", "Mixed Sessions Survive The Kubernetes Leader Dying")),
        message=r"failed|not running",
    ),
    Mutant(
        name="health-tied-to-redis",
        defect="every API replica reports itself unhealthy while Redis is away, though it still serves",
        patches=(
            Patch(_in("api/app.py"), _HEALTHY,
                  '    if not state.hub.redis_ok:\n'
                  '        return web.json_response({"error": "Redis unavailable"}, status=503)\n' + _HEALTHY),
        ),
        tests=(TestRef("05_ha_under_chaos.robot", "Mixed Sessions Survive Losing Redis"),),
        message=r"stopped answering although the fault did not touch it|no API replica answered",
    ),
    Mutant(
        name="database-hangs-requests",
        defect="a request waits as long as the database link stalls instead of failing with a clear error",
        patches=(
            Patch(_in("db.py"), "done, _ = await asyncio.wait({task}, timeout=self.query_timeout)",
                  "done, _ = await asyncio.wait({task}, timeout=None)"),
        ),
        tests=(TestRef("05_ha_under_chaos.robot",
                       "One API Replica Cut Off From The Database Refuses Clearly And Recovers"),),
        message=r"clear error",
    ),
    Mutant(
        name="agent-stuck-without-database",
        defect="an API replica that lost its database keeps its agent, which the others then see as offline",
        patches=(
            Patch(_in("api/commands.py"),
                  'self.hub.close_later(conn.ws, 4003, "database unavailable on this replica")', "pass"),
        ),
        tests=(TestRef("05_ha_under_chaos.robot",
                       "One API Replica Cut Off From The Database Refuses Clearly And Recovers"),),
        message=r"online|offline",
    ),
    Mutant(
        name="deposed-leader-fails-commands",
        defect="a leader that loses the Lease fails the commands it was running with another error than 'not leader'",
        patches=(
            Patch(_in("agents/runtime.py"), 'answer = ("failed", {"commandId": command_id, "error": "not leader"})',
                  'answer = ("failed", {"commandId": command_id, "error": "leadership lost"})'),
        ),
        tests=(TestRef("02_kubernetes_leader_election.robot", "A Deposed Leader Refuses Commands Gracefully"),),
        message=r"instead of being refused with 'not leader'",
    ),
    Mutant(
        name="deposed-leader-loses-commands",
        defect="a deposed leader drops the command it was running and the Control Plane never sends it again",
        patches=(
            Patch(_in("agents/leadership.py"), "                await runtime.refuse_unfinished()",
                  "                pass"),
            Patch(_in("api/commands.py"), 'statuses = ["pending", "sent", "ack"] if reconnect else ["pending"]',
                  'statuses = ["pending"]'),
            Patch(_in("api/commands.py"),
                  "OR (c.status = 'sent' AND c.sent_at < now() - make_interval(secs => %(again)s))", "OR FALSE"),
        ),
        tests=(TestRef("02_kubernetes_leader_election.robot", "A Deposed Leader Refuses Commands Gracefully"),),
        message=r"neither refused nor carried out",
    ),
)


def by_name(names: list[str] | tuple[str, ...]) -> list[Mutant]:
    """The mutants named, in the catalogue's order; an unknown name fails naming the known ones."""
    known = {mutant.name: mutant for mutant in MUTANTS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise KeyError(f"no mutant named {', '.join(unknown)}; the mutants are: {', '.join(known)}")
    return [mutant for mutant in MUTANTS if mutant.name in names]
