"""Microsoft Teams through the Bot Framework, for a single-tenant bot: the input channel.

Rasa 3.6's own ``botframework`` channel cannot be used as is: it fetches
Microsoft's OpenID metadata when it is constructed (no route to Microsoft ->
Rasa does not start), uses the multi-tenant token URL (Microsoft no longer
creates multi-tenant bots) and does blocking HTTP in the event loop. This
channel keeps Rasa's output format (Bot Framework activities) and fixes that.
Each part has its own module:

* :mod:`bot.teams_settings`: configured from the environment only
  (``credentials.yml`` has ``bot.teams.TeamsInput: {}``): ``TEAMS_APP_ID``,
  ``TEAMS_APP_PASSWORD``, ``TEAMS_TENANT_ID``. Without them the channel is off:
  its webhook answers 503 and nothing is fetched;
* :mod:`bot.teams_auth`: Microsoft's signing keys (fetched lazily, cached,
  refreshed with backoff) and the checks on the incoming JWT (RS256, issuer,
  audience, expiry, the key endorsed for the activity's channel, the
  ``serviceurl`` claim equal to the activity's ``serviceUrl``);
* :mod:`bot.teams_output`: the replies, with the bot's token from the
  tenant's token endpoint; buttons are sent as Adaptive Cards (:mod:`bot.teams_cards`);
* this module: the webhook and what it does with an authenticated activity.
  It must come from our tenant (``channelData.tenant.id`` and
  ``conversation.tenantId`` equal ``TEAMS_TENANT_ID``) and a configured
  channel (``TEAMS_CHANNEL_IDS``, default ``msteams``), else 403, logged
  without the text. The message's HTML is reduced to text
  (:func:`bot.masking.html_to_text`, mentions dropped) before it goes through
  :func:`bot.channels.masking_handler` (length cap, masking of the text and
  the metadata), like the REST and socket.io channels. When something was
  masked the user is told what is true in Teams: Teams has already stored the
  message in Microsoft 365; the bot masks only what it stores itself.
  Before each reply Teams gets a typing activity; when someone adds the bot to a chat
  (``conversationUpdate`` with the bot in ``membersAdded``) it greets with its ``/greet``
  answer, as the widget does. Other activities are answered 200 and ignored.

Webhook (the bot's messaging endpoint): ``/webhooks/teams/webhook``.
See docs/teams.md.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import masking_handler
from bot.domain_texts import teams_code_notice
from bot.masking import MAX_MESSAGE_CHARS, TOO_LONG_MESSAGE, html_to_text, mask_payload
from bot.teams_auth import (
    AuthError,
    KeysUnavailable,
    SigningKeys,
    Verified,
    check_activity,
    verify_token,
)
from bot.teams_output import TeamsOutput
from bot.teams_settings import TeamsSettings

logger = logging.getLogger(__name__)

# Teams sends HTML; the raw text may be longer than the text it shows, but not
# by much. Longer input is not even parsed (the length cap comes first).
MAX_HTML_CHARS = 4 * MAX_MESSAGE_CHARS

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def _auth_failure(exc: Exception) -> Tuple[int, Dict[str, Any]]:
    """The answer to a request whose token was not accepted (logged without it)."""
    if isinstance(exc, KeysUnavailable):
        logger.error("Teams: %s", exc)
        return HTTPStatus.SERVICE_UNAVAILABLE, {"error": "keys_unavailable"}
    logger.warning("Teams: rejected a request: %s", exc)
    return HTTPStatus.UNAUTHORIZED, {"error": "unauthorized"}


def _short(value: Any) -> str:
    return repr(value)[:80]


def activity_tenants(activity: Dict[str, Any]) -> List[Any]:
    """The tenant ids an activity names (``channelData.tenant.id``,
    ``conversation.tenantId``): every one of them must be ours."""
    found = []
    channel_data = activity.get("channelData")
    tenant = channel_data.get("tenant") if isinstance(channel_data, dict) else None
    if isinstance(tenant, dict) and tenant.get("id") is not None:
        found.append(tenant["id"])
    conversation = activity.get("conversation")
    if isinstance(conversation, dict) and conversation.get("tenantId") is not None:
        found.append(conversation["tenantId"])
    return found


#: What the bot is told when someone adds it to a chat: it answers with its greeting.
WELCOME_PAYLOAD = "/greet"


def bot_was_added(activity: Dict[str, Any]) -> bool:
    """A conversationUpdate that adds this bot (its id is the activity's recipient)."""
    bot_id = (activity.get("recipient") or {}).get("id")
    added = activity.get("membersAdded") or []
    return bool(bot_id) and any(isinstance(m, dict) and m.get("id") == bot_id for m in added)


def message_text(activity: Dict[str, Any]) -> str:
    """What the user wrote, as text: Teams' HTML reduced (mentions of the bot
    dropped), or a button's payload; ``/message_too_long`` when the raw text is
    far over the length cap (it is then not even parsed). Masking and the
    length cap on the text follow in :func:`bot.channels.masking_handler`."""
    raw = activity.get("text")
    raw = raw if isinstance(raw, str) else ""
    if len(raw) > MAX_HTML_CHARS:
        return TOO_LONG_MESSAGE
    text = html_to_text(raw, skip_tags=("at",)).strip()
    value = activity.get("value")
    if not text and isinstance(value, dict) and isinstance(value.get("payload"), str):
        text = value["payload"]
    return text


class TeamsInput(InputChannel):
    """Input channel for Teams; off (503) unless the TEAMS_* variables are set."""

    @classmethod
    def name(cls) -> Text:
        return "teams"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        # Secrets come from the environment only, never from credentials.yml.
        return cls(TeamsSettings.from_env())

    def __init__(self, settings: Optional[TeamsSettings]) -> None:
        self.settings = settings
        self.keys = SigningKeys(settings) if settings else None
        if settings:
            logger.info("Teams channel on (tenant %s).", settings.tenant_id)

    async def authenticate(self, auth_header: Optional[str], activity: Dict[str, Any]) -> None:
        """Raise AuthError unless the request carries a valid Bot Connector JWT."""
        self.check_activity(await self.verify_token(auth_header), activity)

    async def verify_token(self, auth_header: Optional[str]) -> Verified:
        """The token's claims and signing key when the bearer token is a valid
        Bot Connector JWT, else AuthError (:func:`bot.teams_auth.verify_token`).
        Needs no request body: the webhook runs it before parsing the JSON."""
        assert self.settings and self.keys
        return await verify_token(self.settings, self.keys, auth_header)

    def check_activity(self, verified: Verified, activity: Dict[str, Any]) -> None:
        """AuthError unless the verified token vouches for this activity
        (:func:`bot.teams_auth.check_activity`)."""
        check_activity(verified, activity)

    async def handle(
        self, auth_header: Optional[str], activity: Any, on_new_message: OnNewMessage,
        verified: Optional[Verified] = None,
    ) -> Tuple[int, Dict[str, Any]]:
        """Process one incoming activity; returns (HTTP status, JSON body).
        ``verified``: the result of :meth:`verify_token` when the caller has
        already checked the bearer token (the webhook, before parsing the body)."""
        if not self.settings:
            return HTTPStatus.SERVICE_UNAVAILABLE, {"error": "teams_not_configured"}
        if not isinstance(activity, dict):
            return HTTPStatus.BAD_REQUEST, {"error": "activity must be a JSON object"}
        try:
            if verified is None:
                verified = await self.verify_token(auth_header)
            self.check_activity(verified, activity)
        except (AuthError, KeysUnavailable) as exc:
            return _auth_failure(exc)
        refusal = self.refusal(activity)
        if refusal:
            # Logged without the message text.
            logger.warning("Teams: refused an activity: %s", refusal)
            return HTTPStatus.FORBIDDEN, {"error": "forbidden"}
        kind = activity.get("type")
        if kind == "conversationUpdate" and not bot_was_added(activity):
            return HTTPStatus.OK, {}
        if kind not in ("message", "conversationUpdate"):
            return HTTPStatus.OK, {}
        try:
            sender = activity["from"]["id"]
            output = TeamsOutput(self.settings, activity)
        except (KeyError, TypeError, AttributeError):
            return HTTPStatus.BAD_REQUEST, {"error": "incomplete activity"}
        await output.send_typing(sender)
        # Added to a chat: the bot greets as it does in the widget (its /greet).
        text = WELCOME_PAYLOAD if kind == "conversationUpdate" else message_text(activity)
        message = UserMessage(
            text=text,
            output_channel=output,
            sender_id=sender,
            input_channel=self.name(),
            metadata=mask_payload({"teams": {"tenant": self.settings.tenant_id}}),
        )
        await masking_handler(on_new_message, notice=teams_code_notice)(message)
        return HTTPStatus.OK, {}

    def refusal(self, activity: Dict[str, Any]) -> Optional[str]:
        """Why an authenticated activity is not for this bot (another tenant or
        a channel not configured), or None. Never contains the message text."""
        assert self.settings
        channel = activity.get("channelId")
        if channel not in self.settings.channel_ids:
            return f"channel {_short(channel)} is not configured"
        tenants = activity_tenants(activity)
        if not tenants:
            return "no tenant id"
        wanted = self.settings.tenant_id.lower()
        others = [t for t in tenants if not isinstance(t, str) or t.lower() != wanted]
        if others:
            return f"tenant {_short(others[0])} is not TEAMS_TENANT_ID"
        return None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        teams = Blueprint("teams_webhook", __name__)

        @teams.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.settings else "not_configured"})

        @teams.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            auth_header = request.headers.get("Authorization")
            verified: Optional[Verified] = None
            if self.settings:
                # The bearer token first: a caller without one never gets its
                # body parsed (the body's size is capped by Sanic, bot/serve.py).
                try:
                    verified = await self.verify_token(auth_header)
                except (AuthError, KeysUnavailable) as exc:
                    status, body = _auth_failure(exc)
                    return response.json(body, status=status)
            try:
                activity = request.json
            except Exception:  # noqa: BLE001 (Sanic raises its own InvalidUsage)
                activity = None
            status, body = await self.handle(auth_header, activity, on_new_message, verified)
            return response.json(body, status=status)

        return teams
