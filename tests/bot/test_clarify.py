"""Unit tests of the fallback ladder action (rasa-sdk, no server)."""

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.clarify import ActionClarify, likely_questions, missed_previous_turn
from tests.bot.responses import domain

RESPONSES = domain().responses


def tracker(ranking, events=None) -> Tracker:
    latest = {"text": "x", "intent": ranking[0], "intent_ranking": ranking}
    events = events or [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "x", "parse_data": latest},
    ]
    return Tracker("u", {}, latest, events, False, None, {}, "action_listen")


def run(t: Tracker):
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionClarify().run(dispatcher, t, {"responses": RESPONSES}))
    return dispatcher.messages


RANKING = [
    {"name": "nlu_fallback", "confidence": 0.5},
    {"name": "faq_tappat_koder", "confidence": 0.41},
    {"name": "faq_puk_kostnad", "confidence": 0.38},
    {"name": "order_puk", "confidence": 0.12},
    {"name": "faq_foretagskort", "confidence": 0.05},
    {"name": "greet", "confidence": 0.04},
]


def test_offers_the_likeliest_questions_best_first():
    buttons = likely_questions(RANKING, RESPONSES)
    payloads = [b["payload"] for b in buttons]
    assert payloads == ["/faq_tappat_koder", "/faq_puk_kostnad", "/order_puk"]
    assert buttons[0]["title"] == "Jag har inte kvar mina koder"


def test_action_asks_menade_du_with_a_none_of_these_button():
    [message] = run(tracker(RANKING))
    assert message["response"] == "utter_clarify"
    assert message["buttons"][-1] == {"title": "Inget av detta", "payload": "/deny"}
    assert len(message["buttons"]) == 4


def test_nothing_likely_enough_gives_the_honest_no():
    ranking = [{"name": "nlu_fallback", "confidence": 0.5},
               {"name": "faq_foretagskort", "confidence": 0.05}]
    [message] = run(tracker(ranking))
    assert message["response"] == "utter_cannot_answer"


def test_chitchat_guesses_are_not_offered():
    ranking = [{"name": "nlu_fallback", "confidence": 0.5},
               {"name": "goodbye", "confidence": 0.3},
               {"name": "check_card", "confidence": 0.2}]
    assert [b["payload"] for b in likely_questions(ranking, RESPONSES)] == ["/check_card"]


def test_best_guess_out_of_scope_gives_the_honest_no():
    ranking = [{"name": "nlu_fallback", "confidence": 0.5},
               {"name": "out_of_scope", "confidence": 0.45},
               {"name": "faq_puk_kostnad", "confidence": 0.3}]
    assert likely_questions(ranking, RESPONSES) == []


def test_second_miss_in_a_row_gives_the_honest_no():
    parse = {"intent": RANKING[0], "intent_ranking": RANKING}
    events = [
        {"event": "user", "text": "a", "parse_data": parse},
        {"event": "action", "name": "action_clarify"},
        {"event": "bot", "text": "Menade du"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "b", "parse_data": parse},
    ]
    assert missed_previous_turn(events)
    [message] = run(tracker(RANKING, events))
    assert message["response"] == "utter_cannot_answer"


def test_a_miss_after_a_normal_answer_starts_the_ladder_again():
    events = [
        {"event": "user", "text": "a"},
        {"event": "action", "name": "utter_faq_puk_kostnad"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "b"},
    ]
    assert not missed_previous_turn(events)


def test_the_card_request_titles_are_the_domains_words():
    buttons = likely_questions(RANKING, RESPONSES)
    assert buttons[-1]["title"] == RESPONSES["utter_suggest_order_puk"][0]["text"]
    [message] = run(tracker(RANKING))
    assert message["buttons"][-1]["title"] == RESPONSES["utter_suggest_none"][0]["text"]
