"""Sessions: create, read, list, hibernate, wake, terminate, and wait for a state."""

from __future__ import annotations

import time
from typing import Any

from robot.api import logger
from robotlibcore import keyword

from kitcore import Check, KitError, Wait, getter, to_seconds
from PlatformKit.client import Platform, Replica
from PlatformKit.context import PlatformContext, expect, sorted_values
from PlatformKit.selection import Selection, selecting

IGNORED_ON_CLEANUP = (202, 404, 409)
SESSION_FILTERS = ("user", "platform", "state")


def _tags(tags: Any) -> list[str]:
    if tags is None or tags == "":
        return []
    if isinstance(tags, str):
        return [t.strip() for t in tags.split(",") if t.strip()]
    return [str(t) for t in tags]


def _refuse_failed(name: str, state: str, current: str, seen: dict[str, Any]) -> None:
    """A session that turned ``failed`` while another state is awaited ends the wait at once."""
    if current == "failed" and state != "failed":
        message = (seen["session"].get("status") or {}).get("message", "no message")
        raise KitError(
            f"Session '{name}' failed instead of becoming {state}",
            cause=f"the platform says: {message}",
            fix="see the agent's log for the cause",
        )


class SessionKeywords:
    def __init__(self, ctx: PlatformContext) -> None:
        self.ctx = ctx

    # -- cleanup ---------------------------------------------------------------------------
    def _register_cleanup(self, platform: Platform, name: str, caller: str | None, first: Replica) -> None:
        def terminate() -> None:
            replicas = [first] + [r for r in platform.replicas if r != first]
            last_error: Exception | None = None
            for replica in replicas:
                try:
                    response = platform.call(
                        "DELETE", f"/api/v1/sessions/{name}", replica=replica, user=caller, timeout=5
                    )
                except KitError as error:
                    last_error = error
                    continue
                if response.status in IGNORED_ON_CLEANUP:
                    return
                last_error = KitError(f"terminate {name}", f"{replica.name} answered {response.status}")
            if last_error:
                raise last_error

        self.ctx.listener.register(f"session {name}", terminate, key=f"session:{id(platform)}:{name}")

    def _forget(self, platform: Platform, name: str) -> None:
        self.ctx.listener.forget(f"session:{id(platform)}:{name}")

    # -- create ----------------------------------------------------------------------------
    @keyword("Create Session From Template", tags=["sessions"])
    def create_session_from_template(
        self,
        template: str,
        user: str | None = None,
        memory: str | None = None,
        cpu: str | None = None,
        resources: dict[str, str] | None = None,
        persistent_home: bool = False,
        tags: Any = None,
        platform: str | None = None,
        replica: Any = None,
        expect_status: str | None = None,
        as_user: str | None = None,
        alias: str | None = None,
    ) -> Any:
        """Ask the platform for a session from ``template``; returns the session name.

        ``user`` is the session's owner (default: the acting user); ``memory``/``cpu`` or
        ``resources`` set its size; ``platform`` (``kubernetes``/``docker``) chooses the agent
        platform; ``replica`` the API replica to ask. A refusal fails with the platform's reason
        (403 quota, 404 template, 503 no agent). With ``expect_status`` (e.g. ``403``, or
        alternatives ``202, 503``) the answer is the expected outcome: the status is checked and
        the answer body returned (a session created that way is cleaned up all the same).

        Sessions created here are terminated at the end of the test (or suite, when created in
        a suite setup) unless a test terminated them already.

        Example:
        | ${name} = | Create Session From Template | firefox | memory=1Gi | cpu=500m | platform=docker |
        | Create Session From Template | firefox | expect_status=403 |
        | ${answer} = | Create Session From Template | firefox | replica=api-2 | expect_status=202, 503 |
        """
        conn = self.ctx.platform(alias)
        owner = user or as_user or conn.acting
        sizes = dict(resources or {})
        if memory:
            sizes["memory"] = str(memory)
        if cpu:
            sizes["cpu"] = str(cpu)
        body: dict[str, Any] = {
            "user": owner,
            "template": template,
            "resources": sizes,
            "persistentHome": bool(persistent_home),
            "tags": _tags(tags),
        }
        if platform:
            body["platform"] = platform
        target = conn.replica(replica)
        response = conn.call("POST", "/api/v1/sessions", replica=target, user=as_user, json_body=body)
        created = response.status in (200, 201, 202) and isinstance(response.body, dict)
        if created and response.body.get("name"):
            self._register_cleanup(conn, response.body["name"], response.user, target)
        what = f"Create a '{template}' session for '{owner}'"
        if expect_status is not None:
            return expect(response, (202,), what, expect_status)
        answer = expect(response, (200, 201, 202), what)
        name = answer.get("name") if isinstance(answer, dict) else None
        if not name:
            raise KitError(what, cause="the answer carries no session 'name'", fix="check the platform's contract")
        logger.info(f"Session {name} created on {response.replica.name} (state {answer.get('state')})")
        return name

    @keyword("Track Sessions For Cleanup", tags=["sessions", "cleanup"])
    def track_sessions_for_cleanup(self, names: Any, as_user: str | None = None, alias: str | None = None) -> None:
        """Terminate these sessions at the end of the test (or suite) like those from `Create Session From Template`.

        For sessions another library created (a load generator, a probe): they are then cleaned
        up the same way, unless a test terminates them first.

        Example:
        | ${names} = | List Session Names | user=${load_user} |
        | Track Sessions For Cleanup | ${names} |
        """
        conn = self.ctx.platform(alias)
        caller = as_user or conn.acting
        items = [names] if isinstance(names, str) else list(names)
        for name in items:
            self._forget(conn, str(name))
            self._register_cleanup(conn, str(name), caller, conn.replica(None))

    # -- read ------------------------------------------------------------------------------
    @keyword("Get Session", tags=["sessions"])
    def get_session(
        self,
        name: str,
        replica: Any = None,
        expect_status: str | None = None,
        as_user: str | None = None,
        alias: str | None = None,
    ) -> dict[str, Any]:
        """The session object (``name``, ``user``, ``template``, ``state``, ``platform``, ``status``...).

        The session's id is its ``name``. The agent that runs it is not part of it: the platform
        keeps that in its database (``sessions.agent_id``).

        With ``expect_status`` (e.g. ``403`` for someone else's session) the status is checked
        and the answer body returned.

        Example:
        | ${session} = | Get Session | ${name} | replica=api-3 |
        | Get Session | ${alice_session} | as_user=bob | expect_status=403 |
        """
        return self.ctx.read(f"/api/v1/sessions/{name}", f"Get session '{name}'", replica, as_user, alias,
                             expect_status=expect_status)

    @keyword("Get Session State", tags=["sessions", "assertion"])
    @getter
    @selecting()
    def get_session_state(self, name: str, *, check: Check, selection: Selection) -> str:
        """The session's ``state``; can assert.

        Example:
        | Get Session State | ${name} | == | running | timeout=30s |
        """

        def probe() -> str:
            return str(self.get_session(name, **selection.reach).get("state"))

        return check(probe, f"State of session {name}")

    def _listed(self, selection: Selection) -> list[dict[str, Any]]:
        """The sessions the platform lists for ``selection``."""
        return self.ctx.read_selected("/api/v1/sessions", "sessions", "List sessions", selection)

    @keyword("List Sessions", tags=["sessions"])
    @selecting(*SESSION_FILTERS)
    def list_sessions(self, selection: Selection) -> list[dict[str, Any]]:
        """The sessions the acting user may see, as the platform lists them with the query
        ``user``, ``platform`` and ``state``.

        The filters are the platform's: the answer is what it returns, so a platform that ignores a
        filter lists more (a test of the filter sees that). To know the state of given sessions
        whatever the filters do, use `Get Session States`.

        Example:
        | ${sessions} = | List Sessions | platform=docker | state=running |
        """
        return self._listed(selection)

    @keyword("List Session Names", tags=["sessions", "assertion"])
    @getter
    @selecting(*SESSION_FILTERS)
    def list_session_names(
        self, *, check: Check, selection: Selection, excluding_state: str | None = None
    ) -> list[str]:
        """The names of the sessions `List Sessions` gives (sorted); can assert, e.g. ``contains``.
        ``excluding_state`` leaves out the listed sessions that are in that state (read from each
        session itself, whatever the platform's filters do), e.g. ``terminated`` ones a platform keeps listing.

        Example:
        | List Session Names | contains | ${name} | platform=docker |
        | ${live} = | List Session Names | user=${user} | excluding_state=terminated |
        """

        def probe() -> list[str]:
            listed = self._listed(selection)
            if excluding_state is not None:
                listed = [s for s in listed if s.get("state") != excluding_state]
            return sorted_values(listed, "name")

        return check(probe, "Session names")

    @keyword("List Session Platforms", tags=["sessions", "assertion"])
    @getter
    @selecting(*SESSION_FILTERS)
    def list_session_platforms(self, *, check: Check, selection: Selection) -> list[str]:
        """The platforms (``kubernetes``, ``docker``) of the sessions `List Sessions` gives, each once, sorted;
        can assert. A platform filter that works gives only the platform asked for.

        Example:
        | ${platforms} = | List Session Platforms | platform=docker |
        | List Session Platforms | == | ${expected} | platform=kubernetes |
        """

        def probe() -> list[str]:
            return sorted({str(s.get("platform")) for s in self._listed(selection)})

        return check(probe, "Platforms of the listed sessions")

    @keyword("Get Session States", tags=["sessions"])
    def get_session_states(
        self,
        names: Any,
        replica: Any = None,
        as_user: str | None = None,
        alias: str | None = None,
    ) -> dict[str, str]:
        """The state of each named session (``absent`` when the list does not show it), from one list call.

        The states are read from each listed session itself, so a list filter the platform ignores
        changes nothing.

        Example:
        | ${states} = | Get Session States | ${names} |
        | Should Be Equal | ${states}[${name}] | running |
        """
        wanted = [names] if isinstance(names, str) else [str(n) for n in names]
        listed = self._listed(Selection.of(replica, as_user, alias))
        states = {str(s.get("name")): str(s.get("state")) for s in listed}
        return {name: states.get(name, "absent") for name in wanted}

    @keyword("Get Sessions Not In State", tags=["sessions"])
    def get_sessions_not_in_state(
        self,
        names: Any,
        state: str,
        replica: Any = None,
        as_user: str | None = None,
        alias: str | None = None,
    ) -> list[str]:
        """Of the named sessions, those not in ``state`` (``absent`` ones included), sorted, from one list call
        (`Get Session States`); empty when every one is in it.

        Example:
        | ${missing} = | Get Sessions Not In State | ${names} | running |
        | Should Be Empty | ${missing} |
        """
        states = self.get_session_states(names, replica=replica, as_user=as_user, alias=alias)
        return sorted(name for name, current in states.items() if current != state)

    @keyword("Get Error And Message Of Answer", tags=["sessions"])
    def get_error_and_message_of_answer(self, answer: Any) -> dict[str, str]:
        """The ``error`` and ``message`` of an answer body a call returned with ``expect_status=`` (the
        contract's JSON error), each empty when the answer has none.

        Example:
        | ${answer} = | Create Session From Template | ${template} | expect_status=503 |
        | ${refusal} = | Get Error And Message Of Answer | ${answer} |
        | Should Not Be Empty | ${refusal}[error] |
        """
        body = answer if isinstance(answer, dict) else {}
        return {"error": str(body.get("error") or ""), "message": str(body.get("message") or "")}

    @keyword("Get Session Count", tags=["sessions", "assertion"])
    @getter
    @selecting(*SESSION_FILTERS)
    def get_session_count(self, *, check: Check, selection: Selection) -> int:
        """How many sessions `List Sessions` gives with these filters; can assert.

        Example:
        | Get Session Count | == | 3 | user=alice | state=running | timeout=60s |
        """

        def probe() -> int:
            return len(self._listed(selection))

        return check(probe, "Session count")

    # -- commands --------------------------------------------------------------------------
    def _command(
        self, verb: str, method: str, path: str, name: str, replica: Any, expect_status: int | None,
        as_user: str | None, alias: str | None,
    ) -> Any:
        conn = self.ctx.platform(alias)
        response = conn.call(method, path, replica=replica, user=as_user)
        if response.status == 202 and verb == "Terminate":
            self._forget(conn, name)
        if expect_status is not None:
            return expect(response, (202,), f"{verb} session '{name}'", expect_status)
        body = expect(response, (202,), f"{verb} session '{name}'")
        command = body.get("commandId") if isinstance(body, dict) else None
        logger.info(f"{verb} {name}: command {command}")
        return command

    @keyword("Hibernate Session", tags=["sessions"])
    def hibernate_session(
        self, name: str, replica: Any = None, expect_status: str | None = None,
        as_user: str | None = None, alias: str | None = None,
    ) -> Any:
        """Ask the platform to hibernate a running session; returns the ``commandId``.

        Example:
        | Hibernate Session | ${name} |
        | Wait Until Session Is | ${name} | hibernated |
        """
        path = f"/api/v1/sessions/{name}/hibernate"
        return self._command("Hibernate", "PUT", path, name, replica, expect_status, as_user, alias)

    @keyword("Wake Session", tags=["sessions"])
    def wake_session(
        self, name: str, replica: Any = None, expect_status: str | None = None,
        as_user: str | None = None, alias: str | None = None,
    ) -> Any:
        """Ask the platform to wake a hibernated session; returns the ``commandId``.

        Example:
        | Wake Session | ${name} |
        """
        path = f"/api/v1/sessions/{name}/wake"
        return self._command("Wake", "PUT", path, name, replica, expect_status, as_user, alias)

    @keyword("Terminate Session", tags=["sessions"])
    def terminate_session(
        self, name: str, replica: Any = None, expect_status: str | None = None,
        as_user: str | None = None, alias: str | None = None,
    ) -> Any:
        """Ask the platform to terminate a session; returns the ``commandId``.

        Example:
        | Terminate Session | ${name} | replica=api-2 |
        | Terminate Session | ${name} | as_user=bob | expect_status=403 |
        """
        path = f"/api/v1/sessions/{name}"
        return self._command("Terminate", "DELETE", path, name, replica, expect_status, as_user, alias)

    @keyword("Terminate Sessions", tags=["sessions"])
    def terminate_sessions(
        self, names: Any, replica: Any = None, as_user: str | None = None, alias: str | None = None
    ) -> list[Any]:
        """Terminate every named session (one call each); returns the ``commandId`` list.

        Sessions already terminating or gone (409/404) are skipped; any other refusal fails.

        Example:
        | Terminate Sessions | ${names} |
        | Wait Until Sessions Are | ${names} | terminated |
        """
        conn = self.ctx.platform(alias)
        commands = []
        for name in [names] if isinstance(names, str) else list(names):
            response = conn.call("DELETE", f"/api/v1/sessions/{name}", replica=replica, user=as_user)
            if response.status in (404, 409):
                self._forget(conn, str(name))
                continue
            body = expect(response, (202,), f"Terminate session '{name}'")
            self._forget(conn, str(name))
            commands.append(body.get("commandId") if isinstance(body, dict) else None)
        return commands

    # -- waits -----------------------------------------------------------------------------
    @keyword("Wait Until Session Is", tags=["sessions", "wait"])
    def wait_until_session_is(
        self,
        name: str,
        state: str,
        timeout: str = "60s",
        poll: str = "0.5s",
        replica: Any = None,
        as_user: str | None = None,
        alias: str | None = None,
    ) -> float:
        """Wait until the session is in ``state``; returns the seconds it took.

        A session that turns ``failed`` (when another state is awaited) fails the wait at
        once with the platform's message. On timeout the error gives the last state seen,
        the tries and the time spent against the budget. Replicas that do not answer during
        the wait count as "not yet".

        Example:
        | ${seconds} = | Wait Until Session Is | ${name} | running | timeout=2 min |
        """
        seen: dict[str, Any] = {}

        def probe() -> str:
            session = self.get_session(name, replica=replica, as_user=as_user, alias=alias)
            seen["session"] = session
            return str(session.get("state"))

        def accept(current: str) -> bool:
            _refuse_failed(name, state, current, seen)
            return current == state

        wait = Wait(f"Session '{name}' did not become {state}", to_seconds(timeout), to_seconds(poll, 0.5))
        outcome = wait.until(probe, accept, describe=lambda s: f"state {s}")
        logger.info(f"Session {name} is {state} after {outcome.elapsed:.2f} s ({outcome.tries} tries)")
        return round(outcome.elapsed, 3)

    @keyword("Time Until Session Is", tags=["sessions", "wait", "figures"])
    def time_until_session_is(
        self,
        name: str,
        state: str,
        since: float | None = None,
        timeout: str = "60s",
        poll: str = "0.02s",
        replica: Any = None,
        as_user: str | None = None,
        alias: str | None = None,
    ) -> dict[str, float]:
        """Wait until the session is in ``state`` and time it exactly: returns ``seconds`` from ``since``
        (a monotonic stopwatch taken before the request; default: now) until the state was first seen,
        and ``resolution``, the interval in which the change happened (from the last look that still
        saw the old state being sent to the answer that showed the new one), plus ``tries``.

        It looks every ``poll`` (default 20 ms), so the resolution is a few tens of milliseconds, not
        the tick of a slow poll. A session that turns ``failed`` fails at once with the platform's
        message; on timeout the error gives the last state seen, the tries and the time spent.

        Example:
        | ${start} = | Start A Stopwatch |
        | Hibernate Session | ${name} |
        | ${timing} = | Time Until Session Is | ${name} | hibernated | since=${start} | timeout=20s |
        | Record Figure | hibernate_seconds | ${timing}[seconds] | s | budget=20s | resolution=${timing}[resolution] |
        """
        start = time.monotonic() if since is None else float(since)
        marks = {"sent": start, "last_old": start}
        seen: dict[str, Any] = {}

        def probe() -> str:
            marks["sent"] = time.monotonic()
            session = self.get_session(name, replica=replica, as_user=as_user, alias=alias)
            seen["session"] = session
            return str(session.get("state"))

        def accept(current: str) -> bool:
            _refuse_failed(name, state, current, seen)
            if current != state:
                marks["last_old"] = marks["sent"]
                return False
            return True

        wait = Wait(f"Session '{name}' did not become {state}", to_seconds(timeout), to_seconds(poll, 0.02))
        outcome = wait.until(probe, accept, describe=lambda s: f"state {s}")
        seen_at = time.monotonic()
        timing = {"seconds": round(seen_at - start, 4), "resolution": round(seen_at - marks["last_old"], 4),
                  "tries": outcome.tries}
        logger.info(f"Session {name} is {state} after {timing['seconds']:.3f} s, to within "
                    f"{timing['resolution']:.3f} s ({outcome.tries} looks)")
        return timing

    @keyword("Wait Until Sessions Are", tags=["sessions", "wait"])
    def wait_until_sessions_are(
        self,
        names: list[str],
        state: str,
        timeout: str = "120s",
        poll: str = "1s",
        replica: Any = None,
        as_user: str | None = None,
        alias: str | None = None,
    ) -> float:
        """Wait until every session in ``names`` is in ``state`` (one list call per poll); returns seconds.

        On timeout the error lists the sessions that are not there yet and their states.

        Example:
        | Wait Until Sessions Are | ${names} | running | timeout=3 min |
        """
        wanted = [str(n) for n in names]
        query_state = "terminated" if state == "terminated" else None

        def probe() -> dict[str, str]:
            found = self._listed(Selection.of(replica, as_user, alias, state=query_state))
            states = {str(s.get("name")): str(s.get("state")) for s in found}
            return {n: states.get(n, "absent") for n in wanted}

        def lagging(states: dict[str, str]) -> str:
            rest = {n: s for n, s in states.items() if s != state}
            shown = ", ".join(f"{n}={s}" for n, s in list(rest.items())[:10])
            return f"{len(rest)} of {len(wanted)} not {state}: {shown}"

        wait = Wait(f"Sessions did not all become {state}", to_seconds(timeout, 120), to_seconds(poll, 1))
        outcome = wait.until(probe, lambda states: all(s == state for s in states.values()), lagging)
        logger.info(f"{len(wanted)} sessions are {state} after {outcome.elapsed:.2f} s")
        return round(outcome.elapsed, 3)

    @keyword("Session Field Should Be", tags=["sessions", "assertion"])
    @getter(operator_required=True)
    @selecting()
    def session_field_should_be(self, name: str, field: str, *, check: Check, selection: Selection) -> Any:
        """Assert one field of the session object (dotted for nested: ``status.phase``).

        Example:
        | Session Field Should Be | ${name} | platform | == | docker |
        | Session Field Should Be | ${name} | status.phase | == | Running |
        """
        def read() -> Any:
            value: Any = self.get_session(name, **selection.reach)
            for part in field.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            return value

        return check(read, f"Session {name} {field}")
