"""The fallback ladder: "Menade du ...?" first, an honest "no" second.

When NLU is unsure (FallbackClassifier -> ``nlu_fallback``) the bot must not
guess. This action offers the two or three likeliest questions as buttons.
If the user misses again straight after, or nothing is likely enough, it says
it cannot answer and gives the Servicecenter contact instead.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.faq_catalog import faq_catalog

MAX_SUGGESTIONS = 3
MIN_SUGGESTION_CONFIDENCE = 0.08

# Intents that are not FAQ questions but are worth suggesting, with titles.
OTHER_SUGGESTIONS = {
    "check_card": "Kontrollera mitt kort",
    "start_upgrade": "Uppgradera mitt kort",
    "order_puk": "Beställa en ny PUK-kod",
    "human_handoff": "Kontakta Servicecenter",
}
# If the best guess is that the question lies outside the FAQ, no suggestion helps.
OUTSIDE_THE_FAQ = "out_of_scope"


def suggestion_titles() -> Dict[str, str]:
    titles = {intent: entry.title for intent, entry in faq_catalog().items()}
    titles.update(OTHER_SUGGESTIONS)
    return titles


def likely_questions(intent_ranking: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The likeliest answerable intents, best first, as button dicts."""
    ranking = [r for r in intent_ranking if r.get("name") != "nlu_fallback"]
    if not ranking or ranking[0].get("name") == OUTSIDE_THE_FAQ:
        return []
    titles = suggestion_titles()
    buttons = []
    for item in ranking:
        name = item.get("name")
        if name in titles and (item.get("confidence") or 0.0) >= MIN_SUGGESTION_CONFIDENCE:
            buttons.append({"title": titles[name], "payload": f"/{name}"})
        if len(buttons) == MAX_SUGGESTIONS:
            break
    return buttons


def missed_previous_turn(events: List[Dict[str, Any]]) -> bool:
    """Did the bot already ask "Menade du ...?" in answer to the previous message?"""
    seen_latest_user = False
    for event in reversed(events):
        if event.get("event") == "user":
            if seen_latest_user:
                return False
            seen_latest_user = True
        elif seen_latest_user and event.get("event") == "action":
            name = event.get("name")
            if name != "action_listen":
                return name == ActionClarify.NAME
    return False


class ActionClarify(Action):
    NAME = "action_clarify"

    def name(self) -> Text:
        return self.NAME

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[Dict[Text, Any]]:
        if missed_previous_turn(tracker.events):
            dispatcher.utter_message(response="utter_cannot_answer")
            return []
        buttons = likely_questions(tracker.latest_message.get("intent_ranking") or [])
        if not buttons:
            dispatcher.utter_message(response="utter_cannot_answer")
            return []
        buttons.append({"title": "Inget av detta", "payload": "/deny"})
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
        return []
