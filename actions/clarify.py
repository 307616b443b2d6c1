"""The fallback ladder: "Menade du ...?" first, an honest "no" second.

When NLU is unsure (FallbackClassifier -> ``nlu_fallback``) the bot must not
guess. This action offers the two or three likeliest questions as buttons.
If the user misses again straight after, or nothing is likely enough, it says
it cannot answer and gives the Servicecenter contact instead.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.responses import response_text
from bot.faq_catalog import faq_catalog

MAX_SUGGESTIONS = 3
MIN_SUGGESTION_CONFIDENCE = 0.08

# Intents that are not FAQ questions but are worth suggesting: the response (domain.yml)
# whose text is the button's title.
OTHER_SUGGESTIONS = {
    "check_card": "utter_suggest_check_card",
    "start_upgrade": "utter_suggest_start_upgrade",
    "order_puk": "utter_suggest_order_puk",
    "human_handoff": "utter_suggest_human_handoff",
}
NONE_OF_THESE = "utter_suggest_none"
# If the best guess is that the question lies outside the FAQ, no suggestion helps.
OUTSIDE_THE_FAQ = "out_of_scope"


def suggestion_titles(responses: Mapping[str, Any]) -> Dict[str, str]:
    """intent -> its button title: the FAQ's question titles and the domain's words for the
    card requests (``responses``: the domain's responses)."""
    titles = {intent: entry.title for intent, entry in faq_catalog().items()}
    for intent, response in OTHER_SUGGESTIONS.items():
        if response_text(responses, response):
            titles[intent] = response_text(responses, response)
    return titles


def likely_questions(
    intent_ranking: Iterable[Dict[str, Any]], responses: Mapping[str, Any]
) -> List[Dict[str, Any]]:
    """The likeliest answerable intents, best first, as button dicts."""
    ranking = [r for r in intent_ranking if r.get("name") != "nlu_fallback"]
    if not ranking or ranking[0].get("name") == OUTSIDE_THE_FAQ:
        return []
    titles = suggestion_titles(responses)
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
        responses = domain.get("responses") or {}
        buttons = likely_questions(tracker.latest_message.get("intent_ranking") or [], responses)
        if not buttons:
            dispatcher.utter_message(response="utter_cannot_answer")
            return []
        buttons.append({"title": response_text(responses, NONE_OF_THESE), "payload": "/deny"})
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
        return []
