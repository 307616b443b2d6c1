"""Which response explains which card-agent failure."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.agent_client import (
    AGENT_NOT_VERIFIED,
    AGENT_TIMEOUT,
    AGENT_UNREACHABLE,
    CardAgentError,
)

__all__ = ["AGENT_NOT_VERIFIED", "ERROR_RESPONSES", "explain_error"]

ERROR_RESPONSES = {
    AGENT_UNREACHABLE: "utter_card_agent_unreachable",
    AGENT_TIMEOUT: "utter_card_agent_unreachable",
    # What answers on the agent's address did not prove it is the card agent:
    # nothing was sent to it.
    AGENT_NOT_VERIFIED: "utter_card_agent_not_verified",
    "card_removed": "utter_card_removed",
    "pcsc_unavailable": "utter_card_no_reader_service",
    "no_card": "utter_card_no_card",
    "no_reader": "utter_card_no_reader",
}


def explain_error(dispatcher: CollectingDispatcher, error: CardAgentError) -> None:
    dispatcher.utter_message(response=ERROR_RESPONSES.get(error.code, "utter_card_agent_error"))
