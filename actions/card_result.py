"""Continue a card step with the agent's answer that the widget relayed.

The widget sends ``/cardagent_result`` with ``{"cardagent_result": {request_id,
purpose, status, body}}`` in the message metadata (see actions/card_access.py).
Only an answer to a request this conversation issued and has not had answered
is used (its one-time request_id); the purpose stored with that id names the
handler that the action would have called directly. Anything else - a forged,
replayed or late answer - is ignored without a word: no card answer, no link.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import card_check, card_puk, card_upgrade
from actions.card_access import Handler, relayed_answer

HANDLERS: Dict[str, Handler] = {
    "check_card": card_check.handle_state,
    "upgrade_precheck": card_upgrade.handle_precheck,
    "start_upgrade": card_upgrade.handle_start,
    "job_status": card_upgrade.handle_job_status,
    "job_check_back": card_upgrade.handle_job_check_back,
    "puk_precheck": card_puk.handle_precheck,
    "order_puk": card_puk.handle_order,
    "puk_order_status": card_puk.handle_order_status,
}


class ActionCardAgentResult(Action):
    def name(self) -> Text:
        return "action_card_agent_result"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        relayed = relayed_answer(tracker)
        if relayed is None:
            return []  # not an answer to a request of ours: ignored
        purpose, answer, events = relayed
        if purpose not in HANDLERS:
            return events
        return events + HANDLERS[purpose](dispatcher, tracker, answer)
