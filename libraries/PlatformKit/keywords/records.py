"""The platform's own records in its database, where the API does not show them: the commands it sent to
its agents (``agent_commands``), its agents' heartbeats (``agents``) and which agent runs a session
(``sessions``). The SQL lives here, so that no suite or resource writes any; it runs through the
connection DatabaseKit opened to the platform's database (``database=``, its alias: see
``PlatformKit.database``)."""

from __future__ import annotations

from typing import Any

from robot.api import logger
from robot.api.deco import keyword

from kitcore import Check, KitError, Wait, getter, to_seconds
from kitcore.logging import log_table
from PlatformKit.database import SharedDatabase

COMMAND_RECORDS = (
    "SELECT command_id, session_id, action, status, sent_at, acknowledged_at, completed_at, error_message "
    "FROM agent_commands WHERE session_id = %s ORDER BY created_at"
)
COMMAND_RECORD = (
    "SELECT c.status, coalesce(c.error_message, '') AS error, c.session_id, "
    "to_char(c.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS sent_at, "
    "(SELECT s.state FROM sessions s WHERE s.id = c.session_id) AS session_state "
    "FROM agent_commands c WHERE c.command_id = %s"
)
COMMAND_STATUS = "SELECT status FROM agent_commands WHERE command_id = %s"
COMMANDS_CARRIED_OUT_TWICE = (
    "SELECT session_id, action FROM agent_commands WHERE session_id = ANY(%s) AND status = 'completed' "
    "GROUP BY session_id, action HAVING count(*) > 1"
)
AGENT_OF_SESSION = "SELECT agent_id FROM sessions WHERE id = %s"
HEARTBEAT_AGE = "SELECT extract(epoch FROM now() - last_heartbeat) FROM agents WHERE agent_id = %s"
ENDED = ("completed", "failed")


def as_seconds(value: Any, missing: str) -> float:
    """A number PostgreSQL gave (``numeric`` arrives as ``Decimal``) as float seconds; None fails, saying
    ``missing``."""
    if value is None:
        raise KitError(missing, fix="wait for it (timeout=) or check why it was never written")
    return float(value)


class PlatformRecordKeywords:
    def __init__(self, database: SharedDatabase) -> None:
        self.database = database

    # -- helpers ------------------------------------------------------------------------------
    def _select(self, statement: str, parameters: list[Any], what: str, database: str | None,
                log: bool = True) -> list[dict[str, Any]]:
        result = self.database.run(self.database.handle(database), statement, parameters, what=what)
        if log:
            log_table(what, result.columns, result.rows)
        return [dict(zip(result.columns, row, strict=False)) for row in result.rows]

    def _one(self, statement: str, parameters: list[Any], what: str, missing: KitError,
             database: str | None) -> Any:
        rows = self._select(statement, parameters, what, database, log=False)
        if not rows:
            raise missing
        return next(iter(rows[0].values()))

    @staticmethod
    def _no_command(command_id: str) -> KitError:
        return KitError(f"The Control Plane has no record of command {command_id}",
                        cause=f"agent_commands has no row with command_id '{command_id}'",
                        fix="check the command id (the one Hibernate Session, Wake Session... returned)")

    # -- keywords -----------------------------------------------------------------------------
    @keyword("Get Command Records Of Session", tags=["platform records", "getter"])
    def get_command_records_of_session(self, session: str, database: str | None = None) -> list[dict[str, Any]]:
        """Every command the platform sent for ``session``, oldest first, as its database records it
        (``agent_commands``): ``command_id``, ``session_id``, ``action``, ``status``, ``sent_at``,
        ``acknowledged_at``, ``completed_at`` and ``error_message``. Logged as a table.

        Example:
        | ${records} = | Get Command Records Of Session | ${session} | database=platform-db |
        | Command Record Should Show A Failure | ${records} | hibernate_session |
        """
        return self._select(COMMAND_RECORDS, [session], f"Commands recorded for session {session}", database)

    @keyword("Get Command Record", tags=["platform records", "getter"])
    def get_command_record(self, command_id: str, database: str | None = None) -> dict[str, Any]:
        """The platform's record of one command: ``status``, ``error`` (the agent's reason, empty when none),
        ``session_id``, ``sent_at`` (when it was sent, UTC ISO 8601; None until it is) and ``session_state``
        (the state of its session now). Fails when the platform has no record of the command.

        Example:
        | ${row} = | Get Command Record | ${id} | database=platform-db |
        | Should Be Equal | ${row}[error] | not leader |
        """
        rows = self._select(COMMAND_RECORD, [command_id], f"Record of command {command_id}", database)
        if not rows:
            raise self._no_command(command_id)
        return rows[0]

    @keyword("Get Command Status", tags=["platform records", "getter", "assertion"])
    @getter
    def get_command_status(self, command_id: str, *, check: Check, database: str | None = None) -> str:
        """The status of a command the platform sent to an agent (``pending``, ``sent``, ``acknowledged``,
        ``completed``, ``failed``); can assert.

        Example:
        | Get Command Status | ${id} | != | pending | timeout=10s | poll=0.05s | database=platform-db |
        """

        def status() -> str:
            return str(self._one(COMMAND_STATUS, [command_id], f"Status of command {command_id}",
                                 self._no_command(command_id), database))

        return check(status, f"Status of command {command_id}")

    @keyword("Wait Until Command Has Ended", tags=["platform records", "wait"])
    def wait_until_command_has_ended(self, command_id: str, timeout: str | float = "10s",
                                     poll: str | float = "0.2s", database: str | None = None) -> str:
        """Wait until the command has ended: ``completed`` (the agent carried it out) or ``failed`` (the agent
        refused it or could not carry it out); returns that status. On time out it says the status it last saw.

        Example:
        | ${status} = | Wait Until Command Has Ended | ${id} | timeout=10s | database=platform-db |
        """

        def status() -> str:
            return str(self._one(COMMAND_STATUS, [command_id], f"Status of command {command_id}",
                                 self._no_command(command_id), database))

        wait = Wait(f"Command {command_id} to end ({' or '.join(ENDED)})", to_seconds(timeout), to_seconds(poll, 0.2))
        outcome = wait.until(status, lambda value: value in ENDED, lambda value: f"status {value}")
        logger.info(f"Command {command_id} ended {outcome.value} after {outcome.elapsed:.2f} s")
        return outcome.value

    @keyword("Get Commands Carried Out Twice", tags=["platform records", "getter"])
    def get_commands_carried_out_twice(self, sessions: list[str], database: str | None = None) -> list[dict[str, Any]]:
        """The commands of ``sessions`` that the platform recorded as ``completed`` more than once (the same
        action for the same session): ``session_id`` and ``action`` each; empty when none was. Logged as a table.

        Example:
        | ${twice} = | Get Commands Carried Out Twice | ${sessions} | database=platform-db |
        | Should Be Empty | ${twice} |
        """
        names = [sessions] if isinstance(sessions, str) else [str(s) for s in sessions]
        return self._select(COMMANDS_CARRIED_OUT_TWICE, [names], "Commands completed more than once", database)

    @keyword("Get Agent Of Session", tags=["platform records", "getter", "assertion"])
    @getter
    def get_agent_of_session(self, session: str, *, check: Check, database: str | None = None) -> Any:
        """The agent the platform gave ``session`` (``sessions.agent_id``); can assert. Fails when the
        platform has no record of the session.

        Example:
        | Get Agent Of Session | ${name} | == | docker-local | database=platform-db |
        """
        missing = KitError(f"The Control Plane has no record of session {session}",
                           cause=f"sessions has no row with id '{session}'",
                           fix="check the session's name (the one Create Session From Template returned)")
        return check(lambda: self._one(AGENT_OF_SESSION, [session], f"Agent of session {session}", missing, database),
                     f"Agent of session {session}")

    @keyword("Get Agent Heartbeat Age In Seconds", tags=["platform records", "getter", "assertion"])
    @getter
    def get_agent_heartbeat_age_in_seconds(self, agent: str, *, check: Check, database: str | None = None) -> float:
        """How many seconds ago the platform recorded the agent's last heartbeat (``agents.last_heartbeat``,
        on the database's clock); can assert. Fails when the platform has no record of the agent or of any
        heartbeat of it.

        Example:
        | Get Agent Heartbeat Age In Seconds | k8s-local | <= | ${window} | timeout=20s | database=platform-db |
        """
        missing = KitError(f"The Control Plane has no record of agent {agent}",
                           cause=f"agents has no row with agent_id '{agent}'",
                           fix="check the agent id (Get Agent ID) and that the agent registered")

        def age() -> float:
            seconds = self._one(HEARTBEAT_AGE, [agent], f"Heartbeat age of agent {agent}", missing, database)
            return as_seconds(seconds, f"The Control Plane recorded no heartbeat of agent {agent}")

        return check(age, f"Seconds since the last heartbeat of agent {agent}")
