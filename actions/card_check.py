"""Check the user's card: ask the card agent for its state and explain it."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Mapping, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.agent_client import CardAgentError
from actions.card_access import AgentAnswer, AgentCall, run_step
from actions.card_states import can_be_upgraded, explain_card
from actions.card_texts import explain_error
from bot.site_config import load_site_config

__all__ = ["READ_STATE", "ActionCheckCard", "explain_state", "handle_state", "upgradable"]

READ_STATE = AgentCall("check_card", "GET", "/v1/card/state", label="utter_wait_reading_card")


def today() -> dt.date:
    return dt.date.today()


def upgradable(answer: Mapping[str, Any]) -> bool:
    """The card may be upgraded today (the site's dates decide the window)."""
    return can_be_upgraded(answer, load_site_config().dates, today())


def explain_state(dispatcher: CollectingDispatcher, state: Mapping[str, Any]) -> None:
    """Say what the card's state means and what to do next."""
    for said in explain_card(state, load_site_config().dates, today()):
        dispatcher.utter_message(response=said.response, **said.values)


def handle_state(
    dispatcher: CollectingDispatcher, tracker: Tracker, answer: AgentAnswer
) -> List[Dict[Text, Any]]:
    if isinstance(answer, CardAgentError):
        explain_error(dispatcher, answer)
        return [SlotSet("card_state", None)]
    explain_state(dispatcher, answer)
    return [SlotSet("card_state", answer.get("state"))]


class ActionCheckCard(Action):
    def name(self) -> Text:
        return "action_check_card"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        return await run_step(dispatcher, tracker, READ_STATE, handle_state, domain=domain)
