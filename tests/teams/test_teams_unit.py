"""The Teams channel's parts without any server: settings, the JWT and activity
checks against a key cache filled in advance, tenant and channel refusals,
reading the message, Adaptive Cards, the key-refresh backoff. The same checks
against the local Microsoft mock are in test_teams_auth.py (stack tier)."""

from __future__ import annotations

import asyncio
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bot.teams import TeamsInput, message_text
from bot.teams_auth import AuthError, SigningKeys, check_activity, verify_token
from bot.teams_cards import adaptive_card, image_card
from bot.teams_settings import TeamsSettings
from bot.teams_tab import card_tab_link

KEY = rsa.generate_private_key(65537, 2048)
OTHER_KEY = rsa.generate_private_key(65537, 2048)
SERVICE_URL = "https://smba.example/emea/"
ISSUER = "https://api.botframework.com"
SETTINGS = TeamsSettings.from_env({
    "TEAMS_APP_ID": "app", "TEAMS_APP_PASSWORD": "pw", "TEAMS_TENANT_ID": "Tenant-1",
    # Nothing listens here: a test that reached the network would fail.
    "TEAMS_OPENID_URL": "http://127.0.0.1:9/v1/.well-known/openidconfiguration",
    "TEAMS_LOGIN_URL": "http://127.0.0.1:9",
})


def run(coro):
    return asyncio.run(coro)


async def no_messages(message):  # pragma: no cover - must not be called
    raise AssertionError(f"Rasa got a message it should not: {message.text!r}")


def cached_keys(endorsements=("msteams",)) -> SigningKeys:
    """Signing keys fetched a moment ago (no fetch is due), holding KEY as "k1"."""
    keys = SigningKeys(SETTINGS, clock=lambda: 1000.0)
    jwk = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
    jwk.update(kid="k1", use="sig")
    if endorsements is not None:
        jwk["endorsements"] = list(endorsements)
    keys.keys, keys.fetched_at = {"k1": jwk}, 1000.0
    return keys


def token(key=KEY, kid="k1", algorithm="RS256", **overrides) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "app", "serviceurl": SERVICE_URL, "exp": now + 3600}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def activity(**changes):
    return {"type": "message", "channelId": "msteams", "serviceUrl": SERVICE_URL.rstrip("/"),
            "conversation": {"id": "a:1", "tenantId": "tenant-1"},
            "channelData": {"tenant": {"id": "tenant-1"}}, **changes}


def test_settings_need_all_three_values_and_use_the_tenant_token_url():
    assert TeamsSettings.from_env({}) is None
    assert TeamsSettings.from_env({"TEAMS_APP_ID": "a", "TEAMS_APP_PASSWORD": "b"}) is None
    settings = TeamsSettings.from_env(
        {"TEAMS_APP_ID": "a", "TEAMS_APP_PASSWORD": "b", "TEAMS_TENANT_ID": "contoso-tenant"})
    assert settings.token_url == (
        "https://login.microsoftonline.com/contoso-tenant/oauth2/v2.0/token")
    assert "botframework.com/oauth2" not in settings.token_url
    assert settings.channel_ids == ("msteams",)
    assert TeamsSettings.from_env({"TEAMS_APP_ID": "a", "TEAMS_APP_PASSWORD": "b",
                                   "TEAMS_TENANT_ID": "t", "TEAMS_CHANNEL_IDS": "msteams, webchat"}
                                  ).channel_ids == ("msteams", "webchat")


def test_not_configured_means_503_and_no_network():
    status, body = run(TeamsInput(None).handle("Bearer x", {"type": "message"}, no_messages))
    assert status == 503 and body == {"error": "teams_not_configured"}


def test_a_valid_token_for_the_activity_passes_with_the_cached_key():
    keys = cached_keys()
    verified = run(verify_token(SETTINGS, keys, f"Bearer {token()}"))
    assert verified[0]["aud"] == "app"
    check_activity(verified, activity())
    assert keys.fetches == 0


@pytest.mark.parametrize(
    ("case", "header"),
    [
        ("no header", None),
        ("not bearer", f"Basic {token()}"),
        ("garbage", "Bearer not.a.jwt"),
        ("wrong audience", f"Bearer {token(aud='some-other-bot')}"),
        ("wrong issuer", f"Bearer {token(iss='https://evil.example')}"),
        ("expired beyond the leeway", f"Bearer {token(exp=int(time.time()) - 600)}"),
        ("no expiry", f"Bearer {token(exp=None)}"),
        ("other key, same kid", f"Bearer {token(key=OTHER_KEY)}"),
        ("unknown kid", f"Bearer {token(key=OTHER_KEY, kid='k2')}"),
        ("HS256", "Bearer " + token(key="secret-that-is-long-enough-for-hs256!",
                                    algorithm="HS256")),
    ],
)
def test_tokens_not_from_the_bot_connector_are_refused(case, header):
    keys = cached_keys()
    with pytest.raises(AuthError):
        run(verify_token(SETTINGS, keys, header))
    assert keys.fetches == 0, case


@pytest.mark.parametrize(
    ("case", "endorsements", "claims", "changes"),
    [
        ("key endorses another channel", ("webchat",), {}, {}),
        ("key without endorsements", None, {}, {}),
        ("activity without a channel", ("msteams",), {}, {"channelId": None}),
        ("serviceUrl mismatch", ("msteams",), {}, {"serviceUrl": "http://127.0.0.1:9"}),
        ("no serviceurl claim", ("msteams",), {"serviceurl": None}, {}),
    ],
)
def test_the_token_must_vouch_for_the_activity(case, endorsements, claims, changes):
    keys = cached_keys(endorsements)
    verified = run(verify_token(SETTINGS, keys, f"Bearer {token(**claims)}"))
    with pytest.raises(AuthError):
        check_activity(verified, activity(**changes))


@pytest.mark.parametrize(
    ("changes", "refused"),
    [
        ({}, False),
        ({"conversation": {"id": "a:1", "tenantId": "TENANT-1"}}, False),  # case-blind
        ({"channelId": "webchat"}, True),
        ({"conversation": {"id": "a:1", "tenantId": "other"}}, True),
        ({"channelData": {"tenant": {"id": "other"}}}, True),
        ({"conversation": {"id": "a:1"}, "channelData": {}}, True),  # no tenant at all
        ({"conversation": {"id": "a:1", "tenantId": 7}}, True),
    ],
)
def test_only_our_tenant_and_configured_channels_are_served(changes, refused):
    reason = TeamsInput(SETTINGS).refusal(activity(text="min pin är 482913", **changes))
    assert bool(reason) is refused
    assert "482913" not in (reason or "")


def test_message_text_is_the_html_reduced_or_the_button_payload():
    html = "<at>SITHS-hjälpen</at> <p>min pin är 12<b>34</b>56</p>"
    assert message_text({"text": html}) == "min pin är 123456"  # masked later, by the channel
    assert message_text({"text": "", "value": {"payload": "/faq_puk_kostnad"}}) == (
        "/faq_puk_kostnad")
    assert message_text({"text": "<b>1</b>" * 2000}) == "/message_too_long"
    assert message_text({"text": None}) == ""


def test_buttons_become_an_adaptive_card_with_message_back_actions():
    card = adaptive_card("Menade du något av detta?\n\nVälj en fråga.", [
        {"title": "Vad kostar en PUK-kod?", "payload": "/faq_puk_kostnad"},
        {"title": "Inget av detta", "payload": "/deny"},
    ])
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    content = card["content"]
    assert (content["type"], content["version"]) == ("AdaptiveCard", "1.5")
    assert [(b["type"], b["text"], b["wrap"]) for b in content["body"]] == [
        ("TextBlock", "Menade du något av detta?", True), ("TextBlock", "Välj en fråga.", True)]
    first, last = content["actions"]
    assert first == {"type": "Action.Submit", "title": "Vad kostar en PUK-kod?",
                     "data": {"msteams": {"type": "messageBack", "text": "/faq_puk_kostnad",
                                          "displayText": "Vad kostar en PUK-kod?"},
                              "payload": "/faq_puk_kostnad"}}
    assert last["data"]["msteams"]["text"] == "/deny"


def test_link_buttons_open_https_links_only_and_broken_buttons_are_left_out():
    tab = "https://teams.microsoft.com/l/entity/abc/card"
    card = adaptive_card("Text", [
        {"title": "Öppna fliken Kortet", "url": tab},
        {"title": "Farlig", "url": "javascript:alert(1)"},
        {"title": "Tom länk", "url": ""},
        {"title": "", "payload": "/greet"},
        {"title": "Utan mål"},
        {"title": "Siffra", "payload": 42},
    ])
    assert card["content"]["actions"] == [
        {"type": "Action.OpenUrl", "title": "Öppna fliken Kortet", "url": tab}]
    assert image_card("javascript:x")["content"]["body"] == []
    assert image_card("https://bild.example/a.png")["content"]["body"] == [
        {"type": "Image", "url": "https://bild.example/a.png"}]


def test_the_card_tab_link_is_a_teams_deep_link_to_the_apps_tab():
    app_id = "1F2E3D4C-0000-4000-8000-00000000ABCD"
    assert card_tab_link({"TEAMS_APP_ID": app_id}) == (
        "https://teams.microsoft.com/l/entity/1f2e3d4c-0000-4000-8000-00000000abcd/card")
    assert card_tab_link({}) == ""


def test_key_refresh_backoff_doubles_up_to_five_minutes():
    keys = SigningKeys(SETTINGS)
    waits = []
    for failures in range(11):
        keys.failures = failures
        waits.append(keys.backoff())
    assert waits == [0, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
