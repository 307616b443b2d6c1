"""Adaptive Cards for the bot's messages with buttons in Teams ("Menade du ...?", the card
answers, the FAQ's follow-up questions).

Each paragraph of the text is a ``TextBlock`` (Teams' Markdown: links, bold, lists). A
button with a ``payload`` becomes an ``Action.Submit`` of Teams' ``messageBack`` kind: the
bot gets the payload (e.g. ``/faq_puk_kostnad``) while the chat shows the button's title
as what the user said. A button with a ``url`` becomes an ``Action.OpenUrl`` (e.g. the
deep link that opens the app's card tab, :mod:`bot.teams_tab`); only ``https`` links are
kept. Version 1.5 is what Teams renders on desktop, web and mobile.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"


def paragraphs(text: str) -> List[str]:
    return [p.strip() for p in (text or "").split("\n\n") if p.strip()]


def card_action(button: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The card's action for one Rasa button, or None for one it cannot show."""
    title = button.get("title")
    if not isinstance(title, str) or not title.strip():
        return None
    url = button.get("url")
    if url is not None:
        if isinstance(url, str) and url.startswith("https://"):
            return {"type": "Action.OpenUrl", "title": title, "url": url}
        return None
    payload = button.get("payload")
    if not isinstance(payload, str) or not payload:
        return None
    return {
        "type": "Action.Submit",
        "title": title,
        "data": {
            "msteams": {"type": "messageBack", "text": payload, "displayText": title},
            "payload": payload,
        },
    }


def adaptive_card(text: str, buttons: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The attachment for a message with buttons."""
    body = [
        {"type": "TextBlock", "text": paragraph, "wrap": True,
         **({"spacing": "Medium"} if i else {})}
        for i, paragraph in enumerate(paragraphs(text))
    ]
    actions = [a for a in (card_action(b) for b in buttons) if a]
    return {
        "contentType": CONTENT_TYPE,
        "content": {
            "type": "AdaptiveCard",
            "$schema": SCHEMA,
            "version": VERSION,
            "body": body,
            "actions": actions,
        },
    }


def image_card(url: str) -> Dict[str, Any]:
    """The attachment for an image (``https`` only; anything else is shown as nothing)."""
    body = [{"type": "Image", "url": url}] if url.startswith("https://") else []
    return {"contentType": CONTENT_TYPE,
            "content": {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION,
                        "body": body}}
