"""The ticket note an agent pastes into the service desk's case: the masked question,
the topic, the answer given, the card state if one was read and why it was escalated."""

from __future__ import annotations

from typing import List, Optional

from bot.triage import ESCALATE_INTENTS, Triage, intent_title, plain_links
from bot.triage_web.conversations import Conversation


def _note(lines: List[tuple]) -> str:
    return "\n".join(f"{label}: {value}" for label, value in lines if value)


def search_note(result: Triage) -> str:
    """The note for a caller's question looked up on the search page."""
    topic = result.ranking[0][1] if result.ranking else ""
    return _note([
        ("Fråga (maskerad)", result.said),
        ("Ämne", topic),
        ("Svar som gavs", plain_links(result.answer.text) if result.answer else
         "Inget svar lästes upp"),
        ("Eskalering", " ".join(result.escalate)),
    ])


def conversation_note(reference: str, conversation: Conversation,
                      answer: Optional[str]) -> str:
    """The note for a chat conversation found by its reference."""
    question = conversation.last_question
    topic = intent_title(question.intent) if question and question.intent else ""
    reasons = [ESCALATE_INTENTS[i] for i in dict.fromkeys(conversation.intents)
               if i in ESCALATE_INTENTS and i != "nlu_fallback"]
    return _note([
        ("Chattreferens", reference),
        ("Fråga (maskerad)", question.text if question else ""),
        ("Ämne", topic),
        ("Svar som gavs", plain_links(answer) if answer else ""),
        ("Kortets läge", conversation.card_state or ""),
        ("Eskalering", " ".join(reasons)),
    ])
