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
  a minute, when an unknown key id shows up). One fetch at a time, shared by
  all requests; after a failure the next try waits (2 s, doubling, at most
  5 minutes) and requests meanwhile get 503 at once without touching the
  network, or are checked with the cached keys if there are any;
* incoming JWTs are checked with PyJWT: RS256 only, issuer, audience (our app
  id), expiry with 5 minutes' leeway, the signing key must be endorsed for the
  activity's channel (a key without endorsements is refused), and the
  ``serviceurl`` claim must equal the activity's ``serviceUrl`` (so our own
  token is never sent to a URL the Bot Connector did not vouch for);
* the activity must come from our tenant (``channelData.tenant.id`` and
  ``conversation.tenantId`` equal ``TEAMS_TENANT_ID``) and a configured channel
  (``TEAMS_CHANNEL_IDS``, default ``msteams``), else 403, logged without the text;
* the bot's token comes from the tenant's token endpoint;
* the message's HTML is reduced to text (:func:`bot.masking.html_to_text`,
  mentions dropped) before it goes through :func:`bot.channels.masking_handler`
  (length cap, masking of the text and the metadata), like the REST and
  socket.io channels; buttons are sent as Hero cards. When something was
  masked the user is told what is true in Teams: Teams has already stored the
  message in Microsoft 365; the bot masks only what it stores itself.

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
from bot.masking import MAX_MESSAGE_CHARS, TOO_LONG_MESSAGE, html_to_text, mask_payload

logger = logging.getLogger(__name__)

LOGIN_URL = "https://login.microsoftonline.com"
OPENID_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
JWT_ISSUER = "https://api.botframework.com"
TOKEN_SCOPE = "https://api.botframework.com/.default"
KEY_CACHE_SECONDS = 24 * 3600
UNKNOWN_KEY_REFRESH_SECONDS = 60
KEY_RETRY_FIRST_SECONDS = 2.0
KEY_RETRY_MAX_SECONDS = 300.0
LEEWAY_SECONDS = 300
CHANNEL_IDS = ("msteams",)
# Teams sends HTML; the raw text may be longer than the text it shows, but not
# by much. Longer input is not even parsed (the length cap comes first).
MAX_HTML_CHARS = 4 * MAX_MESSAGE_CHARS
_BEARER = re.compile(r"Bearer\s+(\S+)$")

# What Teams keeps is not ours to delete: the notice says so (not the REST /
# socket.io CODE_NOTICE, which says the message is not stored).
TEAMS_CODE_NOTICE = (
    "Skriv aldrig din PIN-kod, PUK-kod eller ditt personnummer i chatten. "
    "Jag sparar det inte, men Teams har redan sparat ditt meddelande i Microsoft 365."
)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
#: A verified token's claims and the key that signed it (:meth:`TeamsInput.verify_token`).
Verified = Tuple[Dict[str, Any], Dict[str, Any]]


def _auth_failure(exc: Exception) -> Tuple[int, Dict[str, Any]]:
    """The answer to a request whose token was not accepted (logged without it)."""
    if isinstance(exc, KeysUnavailable):
        logger.error("Teams: %s", exc)
        return HTTPStatus.SERVICE_UNAVAILABLE, {"error": "keys_unavailable"}
    logger.warning("Teams: rejected a request: %s", exc)
    return HTTPStatus.UNAUTHORIZED, {"error": "unauthorized"}


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
    channel_ids: Tuple[str, ...] = CHANNEL_IDS

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
            channel_ids=tuple(
                c.strip() for c in (env.get("TEAMS_CHANNEL_IDS") or "").split(",") if c.strip()
            ) or CHANNEL_IDS,
        )


class AuthError(Exception):
    """The incoming request is not from the Bot Connector (401)."""


class KeysUnavailable(Exception):
    """Microsoft's signing keys could not be fetched (503: the connector retries)."""


class SigningKeys:
    """Bot Connector signing keys from the OpenID metadata, fetched lazily and cached.

    At most one fetch runs at a time and every request that needs it shares it.
    After a failed fetch the next one waits ``first_retry`` seconds, doubling
    with each failure up to ``max_retry``; until then requests are answered
    from the cache, or refused at once (503) when there is none."""

    def __init__(
        self, settings: TeamsSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.keys: Dict[str, Dict[str, Any]] = {}
        self.fetched_at = 0.0
        self.failures = 0
        self.retry_at = 0.0
        self.fetches = 0
        self.first_retry = KEY_RETRY_FIRST_SECONDS
        self.max_retry = KEY_RETRY_MAX_SECONDS
        self._task: Optional[asyncio.Future[None]] = None

    async def fetch(self) -> None:
        """Fetch the OpenID metadata and the keys (one attempt)."""
        self.fetches += 1
        timeout = httpx.Timeout(self.settings.timeout)
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                conf = (await client.get(self.settings.openid_url)).raise_for_status().json()
                jwks = (await client.get(conf["jwks_uri"])).raise_for_status().json()
            keys = jwks.get("keys", [])
            fetched = {k["kid"]: k for k in keys if isinstance(k, dict) and "kid" in k}
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeysUnavailable(f"could not fetch the Bot Framework keys: {exc}") from exc
        self.keys = fetched
        self.fetched_at = self.clock()
        logger.debug("Bot Framework signing keys fetched: %d keys", len(self.keys))

    def backoff(self) -> float:
        """Seconds to wait after the current number of failures in a row."""
        if not self.failures:
            return 0.0
        return min(self.max_retry, self.first_retry * 2 ** min(self.failures - 1, 32))

    async def _attempt(self) -> None:
        try:
            await self.fetch()
        except KeysUnavailable as exc:
            self.failures += 1
            self.retry_at = self.clock() + self.backoff()
            logger.warning("%s; next try in %.0f s", exc, self.backoff())
            raise
        self.failures = 0
        self.retry_at = 0.0

    def refresh(self) -> asyncio.Future[None]:
        """The fetch in flight, started now if none is."""
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._attempt())
            # Read the outcome even when no request waits for it (a background refresh).
            self._task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return self._task

    async def get(self, kid: str) -> Dict[str, Any]:
        now = self.clock()
        age = now - self.fetched_at
        stale = not self.fetched_at or age > KEY_CACHE_SECONDS
        unknown = kid not in self.keys and (
            not self.fetched_at or age > UNKNOWN_KEY_REFRESH_SECONDS
        )
        in_flight = self._task is not None and not self._task.done()
        if (stale or unknown) and (in_flight or now >= self.retry_at):
            task = self.refresh()
            if kid not in self.keys:
                # Nothing to check this token with yet: wait for the shared fetch.
                try:
                    await asyncio.shield(task)
                except KeysUnavailable:
                    if not self.keys:
                        raise
            # Otherwise the cached key answers while the refresh runs.
        elif not self.keys:
            raise KeysUnavailable(
                f"Bot Framework keys not fetched; next try in {self.retry_at - now:.0f} s"
            )
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
        Bot Connector JWT (signature, issuer, audience, expiry), else AuthError.
        Needs no request body: the webhook runs it before parsing the JSON."""
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
        return claims, jwk

    def check_activity(self, verified: Verified, activity: Dict[str, Any]) -> None:
        """AuthError unless the verified token vouches for this activity: its
        signing key is endorsed for the activity's channel and the token's
        serviceUrl is the activity's."""
        claims, jwk = verified
        # A key vouches only for the channels it lists: none listed, none vouched for.
        endorsements = jwk.get("endorsements")
        channel = activity.get("channelId")
        if (
            not isinstance(endorsements, list)
            or not isinstance(channel, str)
            or channel not in endorsements
        ):
            raise AuthError("signing key not endorsed for this channel")
        claimed = (claims.get("serviceurl") or claims.get("serviceUrl") or "").rstrip("/")
        if not claimed or claimed != str(activity.get("serviceUrl") or "").rstrip("/"):
            raise AuthError("serviceUrl does not match the token")

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
        if activity.get("type") != "message":
            return HTTPStatus.OK, {}
        try:
            sender = activity["from"]["id"]
            output = TeamsOutput(self.settings, activity)
        except (KeyError, TypeError, AttributeError):
            return HTTPStatus.BAD_REQUEST, {"error": "incomplete activity"}
        message = UserMessage(
            text=message_text(activity),
            output_channel=output,
            sender_id=sender,
            input_channel=self.name(),
            metadata=mask_payload({"teams": {"tenant": self.settings.tenant_id}}),
        )
        await masking_handler(on_new_message, notice=TEAMS_CODE_NOTICE)(message)
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
