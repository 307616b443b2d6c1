"""The single-machine conversation store: Rasa's SQL store, SQLite in WAL mode."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    FollowupAction,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.events import deserialise_events as rasa_deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import WalSQLTrackerStore, deserialise_events


def test_conversations_are_kept_in_a_sqlite_file_in_wal_mode(tmp_path):
    db = tmp_path / "tracker.db"
    store = WalSQLTrackerStore(domain=Domain.empty(), dialect="sqlite", db=str(db))
    tracker = DialogueStateTracker("someone", slots=[])
    tracker.update(UserUttered("hej", {"name": "greet", "confidence": 1.0}))
    asyncio.run(store.save(tracker))

    again = WalSQLTrackerStore(domain=Domain.empty(), dialect="sqlite", db=str(db))
    kept = asyncio.run(again.retrieve("someone"))
    assert kept is not None and kept.latest_message.text == "hej"
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _stored_conversation() -> list[dict]:
    tracker = DialogueStateTracker("someone", slots=[])
    for event in (
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered("kolla mitt kort", {"name": "check_card", "confidence": 0.9}),
        ActionExecuted("action_check_card"),
        SlotSet("card_state", {"upgraded": False}),
        BotUttered("Ditt kort är inte uppgraderat.", {"buttons": None}),
        ActiveLoop("puk_order_form"),
        ActiveLoop(None),
        FollowupAction("action_listen"),
    ):
        tracker.update(event)
    return [event.as_dict() for event in tracker.events]


def test_events_read_back_are_the_ones_rasa_itself_reads():
    stored = _stored_conversation()
    assert deserialise_events(stored) == rasa_deserialise_events(stored)
    assert [type(e) for e in deserialise_events(stored)] == [
        type(e) for e in rasa_deserialise_events(stored)]


def test_an_unknown_stored_event_is_an_error_as_in_rasa_and_a_legacy_topic_is_skipped():
    with pytest.raises(ValueError):
        deserialise_events([{"event": "no_such_event"}])
    assert deserialise_events([{"event": "topic", "topic": "x"}, {"text": "no type"}]) == []


def test_a_conversation_read_back_is_the_tracker_rasa_would_build(tmp_path):
    domain = Domain.from_dict({"slots": {"card_state": {
        "type": "any", "mappings": [{"type": "custom"}]}}})
    store = WalSQLTrackerStore(domain=domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    stored = _stored_conversation()
    asyncio.run(store.save(DialogueStateTracker.from_dict("someone", stored, domain.slots)))

    kept = asyncio.run(store.retrieve("someone"))
    expected = DialogueStateTracker.from_dict("someone", stored, domain.slots)
    assert kept.current_state() == expected.current_state()
    assert kept.get_slot("card_state") == {"upgraded": False}


def _stored_rows(db) -> int:
    return sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0]


def test_turns_saved_on_a_conversation_read_back_store_each_event_once(tmp_path):
    db = tmp_path / "t.db"
    store = WalSQLTrackerStore(domain=Domain.empty(), dialect="sqlite", db=str(db))
    asyncio.run(store.save(DialogueStateTracker.from_dict("someone", _stored_conversation(), [])))
    first = _stored_rows(db)

    for turn in range(3):
        tracker = asyncio.run(store.retrieve("someone"))
        tracker.update(UserUttered(f"fråga {turn}", {"name": "greet", "confidence": 1.0}))
        asyncio.run(store.save(tracker))
        tracker.update(ActionExecuted("utter_greet"))
        asyncio.run(store.save(tracker))  # a second save in the same turn
        asyncio.run(store.save(tracker))  # and one with nothing new

    assert _stored_rows(db) == first + 6
    again = WalSQLTrackerStore(domain=Domain.empty(), dialect="sqlite", db=str(db))
    events = asyncio.run(again.retrieve("someone")).events
    assert [e.text for e in events if isinstance(e, UserUttered)][-3:] == [
        "fråga 0", "fråga 1", "fråga 2"]


def test_a_tracker_the_store_has_not_read_is_counted_in_the_database(tmp_path):
    db = tmp_path / "t.db"
    store = WalSQLTrackerStore(domain=Domain.empty(), dialect="sqlite", db=str(db))
    asyncio.run(store.save(DialogueStateTracker.from_dict("someone", _stored_conversation(), [])))
    first = _stored_rows(db)

    # A tracker built elsewhere from the same events plus one new one (as Rasa's HTTP
    # API does): only the new event is stored.
    elsewhere = DialogueStateTracker.from_dict("someone", _stored_conversation(), [])
    elsewhere.update(UserUttered("hej", {"name": "greet", "confidence": 1.0}))
    asyncio.run(store.save(elsewhere))
    assert _stored_rows(db) == first + 1
