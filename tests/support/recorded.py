"""Recorded conversations for the triage report's tests and benchmark: the events Rasa
stores for each kind of turn (an FAQ answer, "Menade du ...?" and what the person did
next, a decline, a handoff, feedback), saved through Rasa's own SQL tracker store or
written as its ``events`` rows in bulk, on chosen days, so the report's counts are known."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Tuple

from rasa.shared.core.events import ActionExecuted, BotUttered, Event, UserUttered


@dataclass
class Clock:
    now: float

    def tick(self) -> float:
        self.now += 1.5
        return self.now


def user(clock: Clock, text: str, intent: str, confidence: float = 0.95) -> UserUttered:
    return UserUttered(text, intent={"name": intent, "confidence": confidence},
                       parse_data={"text": text,
                                   "intent": {"name": intent, "confidence": confidence},
                                   "intent_ranking": [{"name": intent,
                                                       "confidence": confidence}],
                                   "entities": []},
                       timestamp=clock.tick())


def action(clock: Clock, name: str) -> ActionExecuted:
    return ActionExecuted(name, timestamp=clock.tick())


def bot(clock: Clock, text: str, buttons: List[Dict[str, str]] | None = None) -> BotUttered:
    data = {"buttons": buttons} if buttons else {}
    return BotUttered(text, data=data, timestamp=clock.tick())


def reply(clock: Clock, response: str, text: str = "Svar.") -> List[Event]:
    return [action(clock, response), bot(clock, text), action(clock, "action_listen")]


def start(clock: Clock) -> List[Event]:
    return [action(clock, "action_session_start"), action(clock, "action_listen"),
            user(clock, "/greet", "greet", 1.0), *reply(clock, "utter_greet", "Hej!")]


def faq(clock: Clock, text: str, intent: str) -> List[Event]:
    return [user(clock, text, intent), *reply(clock, f"utter_{intent}")]


def feedback(clock: Clock, helpful: bool) -> List[Event]:
    intent = "feedback_helpful" if helpful else "feedback_not_helpful"
    response = "utter_feedback_thanks" if helpful else "utter_feedback_sorry"
    return [user(clock, f"/{intent}", intent, 1.0), *reply(clock, response)]


def asked(clock: Clock, text: str, suggestions: List[str]) -> List[Event]:
    buttons = [{"title": s, "payload": f"/{s}"} for s in suggestions]
    buttons.append({"title": "Inget av detta", "payload": "/deny"})
    return [user(clock, text, "nlu_fallback", 0.3), action(clock, "action_clarify"),
            bot(clock, "Menade du …?", buttons), action(clock, "action_listen")]


def picked(clock: Clock, intent: str) -> List[Event]:
    return [user(clock, f"/{intent}", intent, 1.0), *reply(clock, f"utter_{intent}")]


def none_of_these(clock: Clock) -> List[Event]:
    return [user(clock, "/deny", "deny", 1.0), *reply(clock, "utter_cannot_answer")]


def cannot(clock: Clock, text: str) -> List[Event]:
    return [user(clock, text, "nlu_fallback", 0.2), action(clock, "action_clarify"),
            bot(clock, "Det kan jag tyvärr inte svara på."), action(clock, "action_listen")]


def declined(clock: Clock, text: str) -> List[Event]:
    return [user(clock, text, "out_of_scope"), *reply(clock, "utter_out_of_scope")]


def handoff(clock: Clock, text: str) -> List[Event]:
    return [user(clock, text, "human_handoff"), *reply(clock, "utter_human_handoff")]


def at(day: dt.date, hour: int = 10) -> Clock:
    return Clock(dt.datetime.combine(day, dt.time(hour)).timestamp())


#: The recorded set of the report's tests: two days, known counts (RECORDED_COUNTS).
DAY_1, DAY_2 = dt.date(2026, 11, 2), dt.date(2026, 11, 3)


def recorded_set() -> Dict[str, List[Event]]:
    conversations: Dict[str, List[Event]] = {}
    c = at(DAY_1)
    conversations["rec-1"] = [*start(c), *faq(c, "Vad kostar en ny PUK-kod?", "faq_puk_kostnad"),
                              *feedback(c, True)]
    c = at(DAY_1, 11)
    conversations["rec-2"] = [*start(c), *asked(c, "kortet strular med certet",
                                                ["faq_hjalp_nedladdning", "faq_vad_behovs"]),
                              *picked(c, "faq_hjalp_nedladdning")]
    c = at(DAY_1, 12)
    conversations["rec-3"] = [*start(c), *declined(c, "Vad blir det för lunch i dag?"),
                              *faq(c, "Hur beställer jag en PUK-kod?", "faq_bestall_puk")]
    c = at(DAY_2)
    conversations["rec-4"] = [*start(c), *asked(c, "certet strular igen",
                                                ["faq_hjalp_nedladdning"]),
                              *none_of_these(c)]
    c = at(DAY_2, 11)
    conversations["rec-5"] = [*start(c), *handoff(c, "Jag vill prata med en människa"),
                              *faq(c, "Vad kostar en ny PUK-kod?", "faq_puk_kostnad"),
                              *feedback(c, False)]
    c = at(DAY_2, 12)
    conversations["rec-6"] = [*start(c), *asked(c, "hur gör jag med det där",
                                                ["faq_vad_ska_jag_gora"]),
                              *faq(c, "Vad ska jag göra för att uppgradera?",
                                   "faq_vad_ska_jag_gora"),
                              *cannot(c, "blä blä")]
    return conversations


#: What the report must show for recorded_set() over DAY_1..DAY_2.
RECORDED_COUNTS = {
    "conversations": 6,
    "questions": 10,
    "answered": 4,  # rec-1, rec-3 (PUK order), rec-5 (PUK cost), rec-6 (the rewrite)
    "asked": 2,  # rec-2 (picked a suggestion), rec-6 (wrote again)
    "cannot": 2,  # rec-4 ("Inget av detta"), rec-6 ("blä blä")
    "declined": 1,
    "handoff": 1,
}
RECORDED_PICKS = {"faq_hjalp_nedladdning": 1, "deny": 1, "rewrote": 1}
RECORDED_FEEDBACK = {"utter_faq_puk_kostnad": {"helpful": 1, "not_helpful": 1}}


def event_rows(sender_id: str, events: List[Event]) -> Iterator[Tuple[Any, ...]]:
    """``events`` as the rows Rasa's SQL store writes: (sender_id, type_name, timestamp,
    intent_name, action_name, data)."""
    for event in events:
        data = event.as_dict()
        intent = (data.get("parse_data") or {}).get("intent", {}).get("name")
        yield (sender_id, event.type_name, event.timestamp, intent, data.get("name"),
               json.dumps(data))


def save_with_rasa(db_path: str, conversations: Dict[str, List[Event]]) -> None:
    """Store ``conversations`` through Rasa's own SQL tracker store (SQLite file)."""
    import asyncio

    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from tests.support.local_stack import REPO

    domain = Domain.load(str(REPO / "domain.yml"))
    store = SQLTrackerStore(domain, dialect="sqlite", db=db_path)

    async def save_all() -> None:
        for sender_id, events in conversations.items():
            await store.save(DialogueStateTracker.from_events(sender_id, events, domain.slots))

    asyncio.run(save_all())
    store.engine.dispose()
