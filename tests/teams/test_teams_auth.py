"""The Teams channel's request checks, in-process against the local Microsoft mock."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.teams import TeamsInput, TeamsSettings, hero_card
from tests.teams.mock_microsoft import MockMicrosoft


def channel(mock: MockMicrosoft) -> TeamsInput:
    return TeamsInput(TeamsSettings.from_env(mock.env()))


def run(coro):
    return asyncio.run(coro)


async def no_messages(message):  # pragma: no cover - must not be called
    raise AssertionError(f"Rasa got a message it should not: {message.text!r}")


def test_settings_need_all_three_values_and_use_the_tenant_token_url():
    assert TeamsSettings.from_env({}) is None
    assert TeamsSettings.from_env({"TEAMS_APP_ID": "a", "TEAMS_APP_PASSWORD": "b"}) is None
    settings = TeamsSettings.from_env(
        {"TEAMS_APP_ID": "a", "TEAMS_APP_PASSWORD": "b", "TEAMS_TENANT_ID": "contoso-tenant"})
    assert settings.token_url == (
        "https://login.microsoftonline.com/contoso-tenant/oauth2/v2.0/token")
    assert "botframework.com/oauth2" not in settings.token_url


def test_not_configured_means_503_and_no_network():
    status, body = run(TeamsInput(None).handle("Bearer x", {"type": "message"}, no_messages))
    assert status == 503 and body == {"error": "teams_not_configured"}


def test_nothing_is_fetched_until_the_first_activity(mock):
    before = mock.openid_requests
    channel(mock)
    assert mock.openid_requests == before


def test_a_valid_token_passes_and_keys_are_cached(mock):
    ch = channel(mock)
    before = mock.openid_requests

    async def twice():
        for _ in range(2):
            await ch.authenticate(f"Bearer {mock.signed()}", mock.activity("hej"))

    run(twice())
    assert mock.openid_requests == before + 1


OTHER_KEY = rsa.generate_private_key(65537, 2048)


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("no header", lambda m: None),
        ("not bearer", lambda m: f"Basic {m.signed()}"),
        ("garbage", lambda m: "Bearer not.a.jwt"),
        ("wrong audience", lambda m: f"Bearer {m.signed(aud='some-other-bot')}"),
        ("wrong issuer", lambda m: f"Bearer {m.signed(iss='https://evil.example')}"),
        ("expired", lambda m: f"Bearer {m.signed(exp=int(time.time()) - 3600)}"),
        ("no expiry", lambda m: f"Bearer {m.signed(exp=None)}"),
        ("other key, same kid", lambda m: f"Bearer {m.signed(key=OTHER_KEY)}"),
        ("unknown kid", lambda m: f"Bearer {m.signed(key=OTHER_KEY, kid='unknown')}"),
        ("service url mismatch", lambda m: f"Bearer {m.signed(serviceurl='http://127.0.0.1:9')}"),
        ("no service url", lambda m: f"Bearer {m.signed(serviceurl=None)}"),
        ("HS256 with the public key", lambda m: "Bearer " + jwt.encode(
            {"iss": "https://api.botframework.com", "aud": m.app_id, "exp": time.time() + 60,
             "serviceurl": m.url}, "secret-that-is-long-enough-for-hs256!", algorithm="HS256",
            headers={"kid": m.kid})),
    ],
)
def test_requests_not_from_the_bot_connector_get_401(mock, case, make):
    sent_before = len(mock.activities)
    status, _ = run(channel(mock).handle(make(mock), mock.activity("hej"), no_messages))
    assert status == 401, case
    assert len(mock.activities) == sent_before


def test_key_not_endorsed_for_the_channel_is_refused(mock):
    activity = mock.activity("hej", channelId="webchat")
    status, _ = run(channel(mock).handle(f"Bearer {mock.signed()}", activity, no_messages))
    assert status == 401


def test_unreachable_microsoft_gives_503_not_a_hang():
    settings = TeamsSettings.from_env({
        "TEAMS_APP_ID": "a", "TEAMS_APP_PASSWORD": "b", "TEAMS_TENANT_ID": "t",
        "TEAMS_OPENID_URL": "http://127.0.0.1:9/v1/.well-known/openidconfiguration",
        "TEAMS_HTTP_TIMEOUT": "2"})
    token = jwt.encode({"iss": "https://api.botframework.com", "aud": "a",
                        "exp": time.time() + 60}, OTHER_KEY, algorithm="RS256",
                       headers={"kid": "k1"})
    started = time.monotonic()
    status, body = run(TeamsInput(settings).handle(f"Bearer {token}", {}, no_messages))
    assert time.monotonic() - started < 10
    assert (status, body) == (503, {"error": "keys_unavailable"})


def test_buttons_become_a_hero_card_with_message_back_actions():
    card = hero_card("Välj:", [{"title": "Vad kostar en PUK-kod?", "payload": "/faq_puk_kostnad"}])
    assert card["contentType"] == "application/vnd.microsoft.card.hero"
    assert card["content"]["text"] == "Välj:"
    [button] = card["content"]["buttons"]
    assert button == {"type": "messageBack", "title": "Vad kostar en PUK-kod?",
                      "text": "/faq_puk_kostnad", "displayText": "Vad kostar en PUK-kod?",
                      "value": {"payload": "/faq_puk_kostnad"}}
