"""Which response explains which card-agent failure."""

from __future__ import annotations

import datetime as dt

from rasa_sdk.executor import CollectingDispatcher

from actions.agent_client import (
    AGENT_NOT_VERIFIED,
    AGENT_TIMEOUT,
    AGENT_UNREACHABLE,
    CardAgentError,
)
from bot.site_config import load_site_config

__all__ = ["AGENT_NOT_VERIFIED", "ERROR_RESPONSES", "explain_error", "offer_upgrade_yourself"]

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
# The chat cannot reach the card at all: the FAQ's own route is worth naming.
CARD_OUT_OF_REACH = {AGENT_UNREACHABLE, AGENT_TIMEOUT, AGENT_NOT_VERIFIED}
UPGRADE_YOURSELF = "utter_upgrade_yourself"


def offer_upgrade_yourself(dispatcher: CollectingDispatcher) -> None:
    """The upgrade instruction, only while an upgrade can still be done (site.yml)."""
    if load_site_config().dates.upgrade_open(dt.date.today()):
        dispatcher.utter_message(response=UPGRADE_YOURSELF)


def explain_error(dispatcher: CollectingDispatcher, error: CardAgentError) -> None:
    dispatcher.utter_message(response=ERROR_RESPONSES.get(error.code, "utter_card_agent_error"))
    if error.code in CARD_OUT_OF_REACH:
        offer_upgrade_yourself(dispatcher)
