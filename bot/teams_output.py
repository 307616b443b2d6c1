"""The bot's replies to Teams: Bot Framework activities posted to the conversation's
service URL with the bot's own token (client credentials at the tenant's token
endpoint); a message with buttons is sent as an Adaptive Card (:mod:`bot.teams_cards`)."""

from __future__ import annotations

import logging
import ssl
import time
from functools import lru_cache
from typing import Any, Dict, List, Text, Tuple

import httpx
from rasa.core.channels.channel import OutputChannel

from bot.teams_cards import adaptive_card, image_card
from bot.teams_settings import TeamsSettings

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """httpx's default verifying TLS context, built once per process: httpx builds a
    new one (reading the whole CA bundle, ~25 ms of the event loop's time) for every
    client it creates, and each reply creates one."""
    return httpx.create_ssl_context()


def _client(timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), verify=tls_context())


class TokenCache:
    """The bot's own access token (client credentials at the tenant's endpoint)."""

    _tokens: Dict[Tuple[str, str], Tuple[str, float]] = {}

    @classmethod
    async def get(cls, settings: TeamsSettings) -> str:
        key = (settings.token_url, settings.app_id)
        token, expires = cls._tokens.get(key, ("", 0.0))
        if token and time.monotonic() < expires - 300:
            return token
        async with _client(settings.timeout) as client:
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
        async with _client(self.settings.timeout) as client:
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

    async def send_typing(self, recipient_id: Text) -> None:
        """Teams' "SITHS-hjälpen skriver …" while the reply is prepared; a failure here
        is logged and never holds up the reply."""
        try:
            await self.send({"type": "typing", "from": self.bot,
                             "recipient": {"id": recipient_id},
                             "conversation": self.conversation})
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            logger.warning("Teams: the typing indicator was not sent: %s", type(exc).__name__)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.send(self.activity(recipient_id, text=text))

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send(self.activity(recipient_id, attachments=[adaptive_card(text, buttons)]))

    async def send_quick_replies(
        self, recipient_id: Text, text: Text, quick_replies: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self.send(self.activity(recipient_id, attachments=[image_card(image)]))

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
