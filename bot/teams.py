"""Microsoft Teams through the Bot Framework, for a single-tenant bot.

Rasa 3.6's own ``botframework`` channel cannot be used as is: it fetches
Microsoft's OpenID metadata when it is constructed (no route to Microsoft ->
Rasa does not start), uses the multi-tenant token URL (Microsoft no longer
creates multi-tenant bots) and does blocking HTTP in the event loop. This
channel keeps Rasa's output format (Bot Framework activities) and fixes that:

* configured from the environment only (``credentials.yml`` has
  ``bot.teams.TeamsInput: {}``): ``TEAMS_APP_ID``, ``TEAMS_APP_PASSWORD``,
  ``TEAMS_TENANT_ID``. Without them the channel is off: its webhook answers 503
  and nothing is fetched;
* OpenID metadata and signing keys are fetched lazily, on the first incoming
  activity, with timeouts, and cached for a day (refreshed early, at most once
  a minute, when an unknown key id shows up);
* incoming JWTs are checked with PyJWT: RS256 only, issuer, audience (our app
  id), expiry with 5 minutes' leeway, the key's channel endorsement, and the
  ``serviceurl`` claim must equal the activity's ``serviceUrl`` (so our own
  token is never sent to a URL the Bot Connector did not vouch for);
* the bot's token comes from the tenant's token endpoint;
* every message goes through :func:`bot.channels.masking_handler`, like the
  REST and socket.io channels; buttons are sent as Hero cards.

The Microsoft endpoints can be pointed elsewhere (tests, sovereign clouds):
``TEAMS_LOGIN_URL``, ``TEAMS_OPENID_URL``, ``TEAMS_JWT_ISSUER``,
``TEAMS_TOKEN_SCOPE``; ``TEAMS_HTTP_TIMEOUT`` (seconds). See docs/teams.md.
Webhook (the bot's messaging endpoint): ``/webhooks/teams/webhook``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple

import httpx
import jwt
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import masking_handler

logger = logging.getLogger(__name__)

LOGIN_URL = "https://login.microsoftonline.com"
OPENID_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
JWT_ISSUER = "https://api.botframework.com"
TOKEN_SCOPE = "https://api.botframework.com/.default"
KEY_CACHE_SECONDS = 24 * 3600
UNKNOWN_KEY_REFRESH_SECONDS = 60
LEEWAY_SECONDS = 300
_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
_BEARER = re.compile(r"Bearer\s+(\S+)$")

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


@dataclass(frozen=True)
class TeamsSettings:
    app_id: str
    app_password: str
    tenant_id: str
    login_url: str = LOGIN_URL
    openid_url: str = OPENID_URL
    issuer: str = JWT_ISSUER
    scope: str = TOKEN_SCOPE
    timeout: float = 5.0

    @property
    def token_url(self) -> str:
        return f"{self.login_url.rstrip('/')}/{self.tenant_id}/oauth2/v2.0/token"

    @classmethod
    def from_env(cls, env: Optional[Dict[str, str]] = None) -> Optional[TeamsSettings]:
        """The settings, or None when the app id, password or tenant is missing."""
        env = os.environ if env is None else env
        app_id, password, tenant = (
            (env.get(k) or "").strip()
            for k in ("TEAMS_APP_ID", "TEAMS_APP_PASSWORD", "TEAMS_TENANT_ID")
        )
        if not (app_id and password and tenant):
            if app_id or password or tenant:
                logger.warning(
                    "Teams channel off: TEAMS_APP_ID, TEAMS_APP_PASSWORD and TEAMS_TENANT_ID "
                    "must all be set."
                )
            return None
        return cls(
            app_id=app_id,
            app_password=password,
            tenant_id=tenant,
            login_url=env.get("TEAMS_LOGIN_URL") or LOGIN_URL,
            openid_url=env.get("TEAMS_OPENID_URL") or OPENID_URL,
            issuer=env.get("TEAMS_JWT_ISSUER") or JWT_ISSUER,
            scope=env.get("TEAMS_TOKEN_SCOPE") or TOKEN_SCOPE,
            timeout=float(env.get("TEAMS_HTTP_TIMEOUT") or 5.0),
        )


class AuthError(Exception):
    """The incoming request is not from the Bot Connector (401)."""


class KeysUnavailable(Exception):
    """Microsoft's signing keys could not be fetched (503: the connector retries)."""


class SigningKeys:
    """Bot Connector signing keys from the OpenID metadata, fetched lazily and cached."""

    def __init__(self, settings: TeamsSettings) -> None:
        self.settings = settings
        self.keys: Dict[str, Dict[str, Any]] = {}
        self.fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        timeout = httpx.Timeout(self.settings.timeout)
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                conf = (await client.get(self.settings.openid_url)).raise_for_status().json()
                jwks = (await client.get(conf["jwks_uri"])).raise_for_status().json()
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise KeysUnavailable(f"could not fetch the Bot Framework keys: {exc}") from exc
        keys = jwks.get("keys", [])
        self.keys = {k["kid"]: k for k in keys if isinstance(k, dict) and "kid" in k}
        self.fetched_at = time.monotonic()
        logger.debug("Bot Framework signing keys fetched: %d keys", len(self.keys))

    async def get(self, kid: str) -> Dict[str, Any]:
        async with self._lock:
            age = time.monotonic() - self.fetched_at
            stale = not self.fetched_at or age > KEY_CACHE_SECONDS
            unknown = kid not in self.keys and age > UNKNOWN_KEY_REFRESH_SECONDS
            if stale or unknown:
                try:
                    await self.refresh()
                except KeysUnavailable:
                    if not self.keys:
                        raise
                    logger.warning("Using cached Bot Framework keys; refresh failed.")
        if kid not in self.keys:
            raise AuthError(f"unknown signing key {kid!r}")
        return self.keys[kid]


class TokenCache:
    """The bot's own access token (client credentials at the tenant's endpoint)."""

    _tokens: Dict[Tuple[str, str], Tuple[str, float]] = {}

    @classmethod
    async def get(cls, settings: TeamsSettings) -> str:
        key = (settings.token_url, settings.app_id)
        token, expires = cls._tokens.get(key, ("", 0.0))
        if token and time.monotonic() < expires - 300:
            return token
        async with httpx.AsyncClient(timeout=httpx.Timeout(settings.timeout)) as client:
            reply = await client.post(
                settings.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": settings.app_id,
                    "client_secret": settings.app_password,
                    "scope": settings.scope,
                },
            )
        reply.raise_for_status()
        data = reply.json()
        cls._tokens[key] = (data["access_token"], time.monotonic() + int(data["expires_in"]))
        return data["access_token"]


def hero_card(text: str, buttons: List[Dict[str, Any]]) -> Dict[str, Any]:
    """A Hero card with the text and one messageBack button per Rasa button.

    messageBack sends the payload (e.g. ``/faq_puk_kostnad``) to the bot while
    the chat shows the button's title as what the user said.
    """
    return {
        "contentType": "application/vnd.microsoft.card.hero",
        "content": {
            "text": text,
            "buttons": [
                {
                    "type": "messageBack",
                    "title": b["title"],
                    "text": b["payload"],
                    "displayText": b["title"],
                    "value": {"payload": b["payload"]},
                }
                for b in buttons
                if b.get("title") and b.get("payload")
            ],
        },
    }


class TeamsOutput(OutputChannel):
    """Sends the bot's messages as activities to the conversation's service URL."""

    @classmethod
    def name(cls) -> Text:
        return "teams"

    def __init__(self, settings: TeamsSettings, activity: Dict[str, Any]) -> None:
        self.settings = settings
        self.service_url = activity["serviceUrl"].rstrip("/")
        self.conversation = activity["conversation"]
        self.bot = activity.get("recipient") or {"id": settings.app_id}
        self.reply_to = activity.get("id")

    async def send(self, activity: Dict[str, Any]) -> None:
        token = await TokenCache.get(self.settings)
        url = f"{self.service_url}/v3/conversations/{self.conversation['id']}/activities"
        if self.reply_to:
            url += f"/{self.reply_to}"
        async with httpx.AsyncClient(timeout=httpx.Timeout(self.settings.timeout)) as client:
            reply = await client.post(
                url, json=activity, headers={"Authorization": f"Bearer {token}"}
            )
        if reply.is_error:
            logger.error("Teams: sending failed with HTTP %s", reply.status_code)

    def activity(self, recipient_id: Text, **fields: Any) -> Dict[str, Any]:
        return {
            "type": "message",
            "from": self.bot,
            "recipient": {"id": recipient_id},
            "conversation": self.conversation,
            "replyToId": self.reply_to,
            "textFormat": "markdown",
            **fields,
        }

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.send(self.activity(recipient_id, text=text))

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send(self.activity(recipient_id, attachments=[hero_card(text, buttons)]))

    async def send_quick_replies(
        self, recipient_id: Text, text: Text, quick_replies: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        card = {"contentType": "application/vnd.microsoft.card.hero",
                "content": {"images": [{"url": image}]}}
        await self.send(self.activity(recipient_id, attachments=[card]))

    async def send_attachment(self, recipient_id: Text, attachment: Any, **kwargs: Any) -> None:
        if isinstance(attachment, dict) and "contentType" in attachment:
            await self.send(self.activity(recipient_id, attachments=[attachment]))
        else:
            await self.send_text_message(recipient_id, str(attachment))

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[str, Any], **kwargs: Any
    ) -> None:
        # A custom payload is taken as (part of) a Bot Framework activity.
        await self.send({**self.activity(recipient_id), **json_message})


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
        assert self.settings and self.keys
        match = _BEARER.match(auth_header or "")
        if not match:
            raise AuthError("no bearer token")
        token = match.group(1)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError(f"malformed token: {exc}") from exc
        if header.get("alg") != "RS256" or not header.get("kid"):
            raise AuthError("token must be RS256 with a key id")
        jwk = await self.keys.get(header["kid"])
        endorsements = jwk.get("endorsements")
        if endorsements is not None and activity.get("channelId") not in endorsements:
            raise AuthError("signing key not endorsed for this channel")
        try:
            claims = jwt.decode(
                token,
                key=jwt.PyJWK(jwk, algorithm="RS256").key,
                algorithms=["RS256"],
                audience=self.settings.app_id,
                issuer=self.settings.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        claimed = (claims.get("serviceurl") or claims.get("serviceUrl") or "").rstrip("/")
        if not claimed or claimed != str(activity.get("serviceUrl") or "").rstrip("/"):
            raise AuthError("serviceUrl does not match the token")

    async def handle(
        self, auth_header: Optional[str], activity: Any, on_new_message: OnNewMessage
    ) -> Tuple[int, Dict[str, Any]]:
        """Process one incoming activity; returns (HTTP status, JSON body)."""
        if not self.settings:
            return HTTPStatus.SERVICE_UNAVAILABLE, {"error": "teams_not_configured"}
        if not isinstance(activity, dict):
            return HTTPStatus.BAD_REQUEST, {"error": "activity must be a JSON object"}
        try:
            await self.authenticate(auth_header, activity)
        except AuthError as exc:
            logger.warning("Teams: rejected a request: %s", exc)
            return HTTPStatus.UNAUTHORIZED, {"error": "unauthorized"}
        except KeysUnavailable as exc:
            logger.error("Teams: %s", exc)
            return HTTPStatus.SERVICE_UNAVAILABLE, {"error": "keys_unavailable"}
        if activity.get("type") != "message":
            return HTTPStatus.OK, {}
        try:
            sender = activity["from"]["id"]
            output = TeamsOutput(self.settings, activity)
        except (KeyError, TypeError, AttributeError):
            return HTTPStatus.BAD_REQUEST, {"error": "incomplete activity"}
        text = _MENTION.sub("", activity.get("text") or "").strip()
        value = activity.get("value")
        if not text and isinstance(value, dict) and isinstance(value.get("payload"), str):
            text = value["payload"]
        message = UserMessage(
            text=text,
            output_channel=output,
            sender_id=sender,
            input_channel=self.name(),
            metadata={"teams": {"tenant": (activity.get("conversation") or {}).get("tenantId")}},
        )
        await masking_handler(on_new_message)(message)
        return HTTPStatus.OK, {}

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        teams = Blueprint("teams_webhook", __name__)

        @teams.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.settings else "not_configured"})

        @teams.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            try:
                activity = request.json
            except Exception:  # noqa: BLE001 (Sanic raises its own InvalidUsage)
                activity = None
            status, body = await self.handle(
                request.headers.get("Authorization"), activity, on_new_message
            )
            return response.json(body, status=status)

        return teams
