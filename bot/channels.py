"""Rasa input channels that hide codes and personnummer before Rasa sees them.

``credentials.yml`` uses these instead of Rasa's ``rest`` and ``socketio``
channels. They keep the same URLs (``/webhooks/rest/webhook`` and
``/socket.io``); the only change is that every incoming message passes
:func:`bot.masking.mask_sensitive` first, so NLU, the tracker store, the logs
and the action server only ever get the masked text. When something was
masked, the user is told, once per message, never to write codes in the chat.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Text

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint
from sanic.exceptions import InvalidUsage
from sanic.request import Request

from bot.masking import contains_placeholder, mask_sensitive
from bot.site_config import load_site_config

logger = logging.getLogger(__name__)

CODE_NOTICE = (
    "Skriv aldrig din PIN-kod, PUK-kod eller ditt personnummer i chatten. "
    "Jag har tagit bort det ur ditt meddelande och sparar det inte."
)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def silence_notice() -> str:
    """What the user gets when a turn produced no answer at all (for example
    because the action server is down): honest, with the manual route."""
    values = load_site_config().template_values()
    return (
        "Jag kan tyvärr inte hjälpa dig med det just nu, något gick fel hos mig. "
        "Du kan göra det själv: uppgradera enligt "
        f"[instruktionen]({values['link_upgrade_instruction']}) eller "
        f"[beställ en PUK-kod]({values['link_puk_order']}). "
        f"Behöver du hjälp, kontakta {values['servicecenter_contact']}."
    )


class _CountingOutput(OutputChannel):
    """Passes every bot message on to the real output channel and counts them."""

    def __init__(self, inner: OutputChannel) -> None:
        self.inner = inner
        self.sent = 0

    @classmethod
    def name(cls) -> Text:
        return "counting"

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        self.sent += 1
        await self.inner.send_response(recipient_id, message)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        self.sent += 1
        await self.inner.send_text_message(recipient_id, text, **kwargs)


def masking_handler(on_new_message: OnNewMessage) -> OnNewMessage:
    """Wrap Rasa's message handler: it only ever gets masked text, and a turn
    never ends in silence."""

    async def handle(message: UserMessage) -> Any:
        result = mask_sensitive(message.text or "")
        message.text = result.text
        output = message.output_channel
        if (result.found or contains_placeholder(result.text)) and output:
            await output.send_text_message(message.sender_id, CODE_NOTICE)
        counting = _CountingOutput(output) if output else None
        if counting:
            message.output_channel = counting
        outcome = await on_new_message(message)
        if counting and counting.sent == 0:
            await output.send_text_message(message.sender_id, silence_notice())
        return outcome

    return handle


class MaskingRestInput(RestInput):
    """Rasa's REST channel (same path) with masking."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    async def _extract_sender(self, req: Request) -> Text:
        body = req.json
        if not isinstance(body, dict):
            raise InvalidUsage("Body must be a JSON object with 'sender' and 'message'.")
        sender = body.get("sender")
        if not isinstance(sender, str) or not sender.strip() or len(sender) > 256:
            raise InvalidUsage("'sender' must be a non-empty string (max 256 characters).")
        return sender

    def _extract_message(self, req: Request) -> Text:
        # Masked already here, so that even Rasa's own error logging in the
        # REST handler never sees the raw text.
        message = req.json.get("message")
        if not isinstance(message, str):
            raise InvalidUsage("'message' must be a string.")
        return mask_sensitive(message).text

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        return super().blueprint(masking_handler(on_new_message))


class MaskingSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (same path and events) with masking."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        socketio_blueprint = super().blueprint(masking_handler(on_new_message))
        # Drop malformed payloads before Rasa's handler sees them (e.g. a numeric
        # session_id would become a conversation id "42").
        namespace = self.namespace or "/"
        handle = self.sio.handlers[namespace][self.user_message_evt]

        async def checked(sid: Text, data: Any) -> Any:
            if not _well_formed(data, self.session_persistence):
                logger.warning("socket.io: dropped a malformed %s payload", self.user_message_evt)
                return None
            return await handle(sid, data)

        self.sio.handlers[namespace][self.user_message_evt] = checked
        return socketio_blueprint


def _well_formed(data: Any, session_persistence: bool) -> bool:
    """A user_uttered payload Rasa can safely store: a text message and, with
    session persistence, a string session id (as REST requires a string sender)."""
    if not isinstance(data, dict) or not isinstance(data.get("message", ""), str):
        return False
    if not session_persistence:
        return True
    session_id = data.get("session_id")
    return isinstance(session_id, str) and bool(session_id.strip()) and len(session_id) <= 256
