"""The chat turn wrapper every channel shares, and Rasa's REST channel with it.

:func:`masking_handler` wraps Rasa's message handler for every input channel (REST here,
socket.io in :mod:`bot.socketio_channel`, Teams in :mod:`bot.teams`): each incoming message
passes :func:`bot.masking.mask_sensitive` first (its metadata :func:`bot.masking.mask_payload`),
so NLU, the tracker store, the logs and the action server only ever get the masked text. A
message over ``MAX_MESSAGE_CHARS`` is not processed at all: Rasa gets ``/message_too_long``
instead (:func:`bot.masking.limit_length`); metadata over ``MAX_METADATA_BYTES`` of JSON is
dropped (``{}``, :func:`bot.masking.metadata_too_large`). When something was masked, the user
is told, once per message, never to write codes in the chat; a turn never ends in silence.

:class:`MaskingRestInput` is Rasa's REST channel (same URL, ``/webhooks/rest/webhook``) with
that wrapper, behind the bot's front door (docs/deployment.md, "Who may call the bot"): a
request from a web page that is not the widget's is refused (``Origin`` / ``Sec-Fetch-Site``,
:mod:`bot.doors`), so is any ``Host`` outside the allowlist (DNS rebinding); only
``application/json`` is taken (a ``text/plain`` no-cors POST from any page never reaches
Rasa); with a JWT key (``BOT_JWT_KEY[_FILE]``, central server) every call needs the
intranet's token and the sender is bound to its ``sub`` (:mod:`bot.sign_in`).
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.domain_texts import code_notice, silence_notice
from bot.doors import DoorPolicy
from bot.masking import (
    MAX_METADATA_BYTES,
    contains_placeholder,
    limit_length,
    mask_payload,
    mask_sensitive,
    metadata_too_large,
)
from bot.sign_in import CONVERSATION_PREFIX, SESSION_ID, JwtCheck, subject_tag

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

#: What the widget sends with a card answer it relayed (actions/card_result.py).
RELAY_RESULT_MESSAGE = "/cardagent_result"


def is_relay_result(text: Optional[str]) -> bool:
    return (text or "").strip() == RELAY_RESULT_MESSAGE


class _CountingOutput(OutputChannel):
    """Passes every bot message on to the real output channel and counts them."""

    def __init__(self, inner: OutputChannel) -> None:
        self.inner = inner
        self.sent = 0

    def name(self) -> Text:  # type: ignore[override] - the channel it passes messages to
        return self.inner.name()

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        self.sent += 1
        await self.inner.send_response(recipient_id, message)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        self.sent += 1
        await self.inner.send_text_message(recipient_id, text, **kwargs)


def masking_handler(
    on_new_message: OnNewMessage, notice: Callable[[], str] = code_notice
) -> OnNewMessage:
    """Wrap Rasa's message handler: it only ever gets capped, masked text and
    metadata, and a turn never ends in silence. ``notice``: what the user is
    told when something was masked (Teams says what Microsoft 365 keeps)."""

    async def handle(message: UserMessage) -> Any:
        result = mask_sensitive(limit_length(message.text or ""))
        message.text = result.text
        if message.metadata is not None and metadata_too_large(message.metadata):
            # Dropped, not masked: masking costs time in proportion to the size.
            logger.warning("dropped the metadata of a message on %s: over %d bytes of JSON "
                           "or nested too deeply", message.input_channel, MAX_METADATA_BYTES)
            message.metadata = {}
        message.metadata = mask_payload(message.metadata)
        output = message.output_channel
        if (result.found or contains_placeholder(result.text)) and output:
            await output.send_text_message(message.sender_id, notice())
        counting = _CountingOutput(output) if output else None
        if counting:
            message.output_channel = counting
        outcome = await on_new_message(message)
        # The widget's relay of a card answer is not the person speaking: a check-back that
        # finds the upgrade still running rightly says nothing.
        if counting and counting.sent == 0 and not is_relay_result(message.text):
            await output.send_text_message(message.sender_id, silence_notice())
        return outcome

    return handle


# --- the REST channel ---


def _refuse(status: int, reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


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
        subject = getattr(req.ctx, "subject", None)
        if subject:
            # Signed in: the conversation belongs to this user, whatever id is sent.
            return f"{subject_tag(subject)}:{sender}"
        if sender.startswith(CONVERSATION_PREFIX) or SESSION_ID.match(sender):
            raise InvalidUsage("'sender' must not name a socket.io conversation.")
        return sender

    def _extract_message(self, req: Request) -> Text:
        # Masked already here, so that even Rasa's own error logging in the
        # REST handler never sees the raw text.
        message = req.json.get("message")
        if not isinstance(message, str):
            raise InvalidUsage("'message' must be a string.")
        return mask_sensitive(limit_length(message)).text

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        rest_blueprint = super().blueprint(masking_handler(on_new_message))
        policy = DoorPolicy.from_env()
        jwt_check = JwtCheck.from_settings()

        @rest_blueprint.middleware("request")
        async def doors(request: Request) -> Optional[HTTPResponse]:
            reason = policy.refusal(
                host=request.headers.get("host"),
                origin=request.headers.get("origin"),
                fetch_site=request.headers.get("sec-fetch-site"),
            )
            if reason:
                logger.warning("REST: refused %s %s (%s)", request.method, request.path, reason)
                return _refuse(403, reason)
            if request.method != "POST":
                return None
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                logger.warning("REST: refused a %r body", content_type[:60])
                return _refuse(415, "json_required")
            if jwt_check:
                auth = request.headers.get("authorization", "")
                bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
                subject = jwt_check.subject(bearer)
                if not subject:
                    return _refuse(401, "sign_in_required")
                request.ctx.subject = subject
            return None

        return rest_blueprint
