"""Conversations as the triage page shows them, read from the bot's conversation store
(Rasa's ``events`` table, SQLite or PostgreSQL), never written.

* :class:`ReferenceIndex` finds the conversation behind a chat reference. References are
  HMACs of sender ids (:mod:`bot.chat_reference`), so the index computes them for the
  conversations in the store: once for the existing ones, then only for conversations
  with events newer than the last look (one query on the primary key).
* :func:`read_conversation` turns a conversation's events into what an agent needs: the
  messages (masked again, in case), what the bot understood, the card state it read, what
  it offered and whether it handed over.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set

import sqlalchemy as sa

from bot.chat_reference import ChatReferences
from bot.masking import mask_sensitive
from bot.triage import plain_links

EVENTS = sa.table(
    "events",
    sa.column("id", sa.Integer),
    sa.column("sender_id", sa.String),
    sa.column("type_name", sa.String),
    sa.column("timestamp", sa.Float),
    sa.column("data", sa.Text),
)

HANDOFF_INTENTS = frozenset({"human_handoff", "lost_card", "out_of_scope"})


class ReferenceIndex:
    """chat reference -> sender ids, kept up to date from the store."""

    def __init__(self, engine: sa.engine.Engine, references: ChatReferences) -> None:
        self.engine, self.references = engine, references
        self._by_reference: Dict[str, Set[str]] = {}
        self._last_id = 0
        self._lock = threading.Lock()  # one refresh at a time: the first one reads all

    def refresh(self) -> None:
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        query = (sa.select(EVENTS.c.sender_id, sa.func.max(EVENTS.c.id))
                 .where(EVENTS.c.id > self._last_id).group_by(EVENTS.c.sender_id))
        with self.engine.connect() as connection:
            try:
                rows = connection.execute(query).all()
            except sa.exc.OperationalError:  # the bot has not stored anything yet
                return
        for sender_id, last in rows:
            reference = self.references.reference(sender_id)
            self._by_reference.setdefault(reference, set()).add(sender_id)
            self._last_id = max(self._last_id, last)

    def senders(self, reference: str) -> List[str]:
        self.refresh()
        return sorted(self._by_reference.get(reference, ()))


@dataclass
class Message:
    who: str  # "user" or "bot"
    text: str  # masked; a bot message's links as "text (url)"
    buttons: List[str] = field(default_factory=list)
    intent: Optional[str] = None
    confidence: Optional[float] = None
    timestamp: float = 0.0


@dataclass
class Conversation:
    sender_id: str
    messages: List[Message]
    card_state: Optional[str]
    intents: List[str]
    handed_over: bool
    started: float
    last: float

    @property
    def last_question(self) -> Optional[Message]:
        """The last message the user wrote (not a button's or the widget's payload)."""
        asked = [m for m in self.messages if m.who == "user" and not m.text.startswith("/")]
        return asked[-1] if asked else None


def read_conversation(engine: sa.engine.Engine, sender_id: str) -> Optional[Conversation]:
    query = (sa.select(EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.data)
             .where(EVENTS.c.sender_id == sender_id).order_by(EVENTS.c.id))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    if not rows:
        return None
    messages: List[Message] = []
    card_state: Optional[str] = None
    intents: List[str] = []
    for type_name, timestamp, data in rows:
        event: Dict[str, Any] = json.loads(data)
        if type_name == "user":
            intent = (event.get("parse_data") or {}).get("intent") or {}
            name = intent.get("name")
            if name:
                intents.append(name)
            messages.append(Message("user", mask_sensitive(event.get("text") or "").text,
                                    intent=name, confidence=intent.get("confidence"),
                                    timestamp=timestamp or 0.0))
        elif type_name == "bot":
            data_buttons = (event.get("data") or {}).get("buttons") or []
            buttons = [mask_sensitive(str(b.get("title") or "")).text for b in data_buttons]
            text = plain_links(mask_sensitive(event.get("text") or "").text)
            messages.append(Message("bot", text, buttons=buttons, timestamp=timestamp or 0.0))
        elif type_name == "slot" and event.get("name") == "card_state":
            value = event.get("value")
            card_state = mask_sensitive(str(value)).text if value else card_state
    times = [r[1] or 0.0 for r in rows]
    return Conversation(sender_id, messages, card_state, intents,
                        handed_over=any(i in HANDOFF_INTENTS for i in intents),
                        started=min(times), last=max(times))
