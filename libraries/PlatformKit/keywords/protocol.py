"""The agent protocol's messages as the contract shapes them, checked where a scenario sees them."""

from __future__ import annotations

from typing import Any

from robot.api import logger
from robotlibcore import keyword

from PlatformKit.context import PlatformContext
from PlatformKit.protocol import (
    as_message,
    command_trail_problems,
    envelope_problems,
    failure_trail_problems,
    hub_message_problems,
)


def _fail(what: str, problems: list[str], shown: Any) -> None:
    if problems:
        raise AssertionError(f"{what} breaks the contract's message shape: " + "; ".join(problems)
                             + f". It was: {str(shown)[:400]}")


class ProtocolKeywords:
    def __init__(self, ctx: PlatformContext) -> None:
        self.ctx = ctx

    @keyword("Message Should Follow The Contract", tags=["protocol", "assertion"])
    def message_should_follow_the_contract(self, message: Any, type: str | None = None) -> dict[str, Any]:
        """The message (a dictionary or JSON text) is an envelope ``{"type", "timestamp", "payload"}``
        whose payload has every field its type requires (``command``, ``heartbeat``, ``ack``,
        ``complete``, ``failed``, ``status``); a command also has a ``cmd-<8 hex>`` id, a known action
        and that action's payload fields. Fails naming every missing or wrong field; returns it.

        Example:
        | Message Should Follow The Contract | ${frame} | type=complete |
        """
        parsed = as_message(message)
        _fail(f"The {type or 'agent protocol'} message", envelope_problems(parsed, type), message)
        logger.info(f"The {parsed.get('type')} message follows the contract")
        return parsed

    @keyword("Hub Message Should Follow The Contract", tags=["protocol", "assertion"])
    def hub_message_should_follow_the_contract(self, message: Any) -> dict[str, Any]:
        """A command one API replica forwards to another over Redis: ``{"agentId", "message"}`` with the
        ``command`` envelope as JSON text, itself following the contract. Accepts the message as
        RedisKit returns it (its ``data``) or as text. Fails naming every problem; returns the envelope.

        Example:
        | ${received} = | Wait Until Message Received | pod:api-1:commands | agentId=k8s-local |
        | Hub Message Should Follow The Contract | ${received} |
        """
        data = message.get("data", message) if isinstance(message, dict) and "data" in message else message
        _fail("The command forwarded over Redis", hub_message_problems(data), data)
        return as_message(as_message(data)["message"])

    @keyword("Get Command Actions", tags=["protocol"])
    def get_command_actions(self, records: list[dict[str, Any]]) -> list[str]:
        """The ``action`` of each command record (rows of ``agent_commands``), in the records' order.

        Example:
        | ${records} = | Get Command Records Of Session | ${session} | database=platform-db |
        | ${actions} = | Get Command Actions | ${records} |
        | List Should Contain Value | ${actions} | hibernate_session |
        """
        return [record.get("action") for record in records]

    @keyword("Command Record Should Show The Agent's Answers", tags=["protocol", "assertion"])
    def command_record_should_show_the_agents_answers(self, record: dict[str, Any]) -> None:
        """A command's record (a row of ``agent_commands``: ``status``, ``sent_at``,
        ``acknowledged_at``, ``completed_at``, ``error_message``) shows the agent's ``ack`` and
        ``complete`` arrived, in order (or its ``failed`` with a reason).

        Example:
        | ${records} = | Get Command Records Of Session | ${name} | database=platform-db |
        | Command Record Should Show The Agent's Answers | ${records}[0] |
        """
        problems = command_trail_problems(record)
        if problems:
            raise AssertionError(f"Command {record.get('command_id')} ({record.get('action')} of "
                                 f"{record.get('session_id')}) does not show the agent's answers: "
                                 + "; ".join(problems))

    @keyword("Command Record Should Show A Failure", tags=["protocol", "assertion"])
    def command_record_should_show_a_failure(self, records: list[dict[str, Any]], action: str) -> None:
        """Of a session's command records (rows of ``agent_commands``), the last ``action`` command reached
        the agent (``acknowledged_at``) and ``failed`` with the agent's reason (``error_message``).

        Example:
        | ${records} = | Get Command Records Of Session | ${name} | database=platform-db |
        | Command Record Should Show A Failure | ${records} | hibernate_session |
        """
        problems = failure_trail_problems(list(records), action)
        if problems:
            raise AssertionError("The agent's failed answer does not show in the platform's records: "
                                 + "; ".join(problems))
        row = [r for r in records if r.get("action") == action][-1]
        logger.info(f"{action} failed with the agent's reason: {row.get('error_message')}")
