"""The triage page's reading of the conversation store: references found for new
conversations as they arrive, conversations shown masked with the card state, ticket
notes, and settings that keep the page on loopback."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from bot.chat_reference import ChatReferences
from bot.triage_web.conversations import ReferenceIndex, read_conversation
from bot.triage_web.settings import TriageWebSettings
from bot.triage_web.ticket import conversation_note

REFS = ChatReferences(b"test-key")


@pytest.fixture
def store(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    with engine.begin() as c:
        c.execute(sa.text(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, "
            "timestamp REAL, intent_name TEXT, action_name TEXT, data TEXT)"))
    return engine


def add(engine, sender, type_name, ts, **data):
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO events (sender_id, type_name, timestamp, data) "
                          "VALUES (:s, :t, :ts, :d)"),
                  {"s": sender, "t": type_name, "ts": ts, "d": json.dumps(data)})


def user(engine, sender, ts, text, intent, confidence=0.9):
    add(engine, sender, "user", ts, event="user", text=text,
        parse_data={"intent": {"name": intent, "confidence": confidence}})


def test_new_conversations_are_found_after_the_first_look(store):
    index = ReferenceIndex(store, REFS)
    assert index.senders(REFS.reference("sio-a")) == []
    user(store, "sio-a", 1.0, "hej", "greet")
    user(store, "sio-b", 2.0, "hej", "greet")
    assert index.senders(REFS.reference("sio-a")) == ["sio-a"]
    user(store, "sio-c", 3.0, "hej", "greet")
    assert index.senders(REFS.reference("sio-c")) == ["sio-c"]
    assert index.senders(ChatReferences(b"other").reference("sio-a")) == []


def test_an_empty_store_is_no_error(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'none.db'}")
    assert ReferenceIndex(engine, REFS).senders("K-0000-0000") == []


def test_a_conversation_is_shown_masked_with_its_card_state(store):
    user(store, "s", 1.0, "kolla mitt kort", "check_card")
    add(store, "s", "slot", 1.5, event="slot", name="card_state", value="pin_blocked")
    add(store, "s", "bot", 2.0, event="bot", text="Kortet är låst.",
        data={"buttons": [{"title": "Beställ PUK-kod", "payload": "/order_puk"}]})
    user(store, "s", 3.0, "mitt personnummer är 19121212-1212", "human_handoff")
    add(store, "s", "bot", 4.0, event="bot", text="Kontakta Servicecenter.", data={})
    conversation = read_conversation(store, "s")
    assert conversation.card_state == "pin_blocked"
    assert conversation.handed_over
    assert [m.who for m in conversation.messages] == ["user", "bot", "user", "bot"]
    assert conversation.messages[1].buttons == ["Beställ PUK-kod"]
    assert "19121212" not in conversation.messages[2].text
    assert read_conversation(store, "nobody") is None

    note = conversation_note("K-AAAA-BBBB", conversation, "Kontakta Servicecenter.")
    lines = note.splitlines()
    assert lines[0] == "Chattreferens: K-AAAA-BBBB"
    assert lines[1].startswith("Fråga (maskerad): mitt personnummer är ")
    assert "19121212" not in note
    assert "Kortets läge: pin_blocked" in lines
    assert any(line.startswith("Eskalering: ") for line in lines)


def test_the_page_stays_on_loopback_unless_allowed(monkeypatch):
    monkeypatch.setenv("TRIAGE_HOST", "0.0.0.0")
    with pytest.raises(ValueError, match="loopback"):
        TriageWebSettings()
    monkeypatch.setenv("TRIAGE_ALLOW_REMOTE", "1")
    with pytest.raises(ValueError, match="TRIAGE_PUBLIC_ORIGIN"):
        TriageWebSettings()  # only behind the region's sign-in, on HTTPS
    monkeypatch.setenv("TRIAGE_PUBLIC_ORIGIN", "https://triage.region.example/")
    settings = TriageWebSettings()
    assert settings.host == "0.0.0.0"
    assert settings.public_origin == "https://triage.region.example"
    assert "triage.region.example" in settings.hosts()


def test_the_token_comes_from_the_environment_or_a_file(monkeypatch, tmp_path):
    monkeypatch.delenv("TRIAGE_TOKEN", raising=False)
    monkeypatch.delenv("TRIAGE_TOKEN_FILE", raising=False)
    with pytest.raises(RuntimeError, match="TRIAGE_TOKEN"):
        TriageWebSettings().token()
    secret = tmp_path / "token"
    secret.write_text("short\n")
    secret.chmod(0o600)
    monkeypatch.setenv("TRIAGE_TOKEN_FILE", str(secret))
    with pytest.raises(RuntimeError, match="too short"):
        TriageWebSettings().token()
    secret.write_text("a-long-enough-secret-token\n")
    assert TriageWebSettings().token() == "a-long-enough-secret-token"
