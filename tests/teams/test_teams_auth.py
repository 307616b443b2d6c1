"""The Teams channel's request checks, in-process against the local Microsoft mock
(an HTTP server on a free loopback port: stack tier; the same checks without any
server are in test_teams_unit.py)."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.teams import TeamsInput
from bot.teams_auth import SigningKeys
from bot.teams_settings import TeamsSettings
from tests.teams.mock_microsoft import MockMicrosoft

pytestmark = pytest.mark.stack


def channel(mock: MockMicrosoft) -> TeamsInput:
    return TeamsInput(TeamsSettings.from_env(mock.env()))


def run(coro):
    return asyncio.run(coro)


async def no_messages(message):  # pragma: no cover - must not be called
    raise AssertionError(f"Rasa got a message it should not: {message.text!r}")


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


# --- issue 10: endorsements, tenant, channel, key refresh with backoff ---

def test_key_without_any_endorsements_is_refused(mock):
    """A signing key that lists no channel vouches for none (it used to pass)."""
    token = mock.signed(key=mock.bare_key, kid=mock.bare_kid)
    for channel in ("msteams", "webchat", "directline"):
        activity = mock.activity("hej", channelId=channel)
        status, _ = run(channel_(mock).handle(f"Bearer {token}", activity, no_messages))
        assert status == 401, channel


def channel_(mock: MockMicrosoft, **env: str) -> TeamsInput:
    return TeamsInput(TeamsSettings.from_env({**mock.env(), **env}))


def test_channel_must_be_configured_even_when_the_key_endorses_it():
    other = MockMicrosoft(app_id="app", app_password="pw", tenant_id="tenant-1",
                          endorsements=["msteams", "webchat"])
    try:
        activity = other.activity("hej", channelId="webchat")
        status, body = run(channel_(other).handle(f"Bearer {other.signed()}", activity,
                                                  no_messages))
        assert (status, body) == (403, {"error": "forbidden"})
        # ...and passes when the site configures that channel
        got = []

        async def rasa(message):
            got.append(message.text)

        ok = channel_(other, TEAMS_CHANNEL_IDS="msteams, webchat")
        status, _ = run(ok.handle(f"Bearer {other.signed()}", activity, rasa))
        assert status == 200 and got == ["hej"]
    finally:
        other.close()


@pytest.mark.parametrize(
    ("case", "change"),
    [
        ("conversation tenant", lambda a: a["conversation"].update(tenantId="other-tenant")),
        ("channelData tenant", lambda a: a["channelData"]["tenant"].update(id="other-tenant")),
        ("both", lambda a: (a["conversation"].update(tenantId="x"),
                            a["channelData"]["tenant"].update(id="x"))),
        ("no tenant at all", lambda a: (a["conversation"].pop("tenantId"),
                                        a.pop("channelData"))),
    ],
)
def test_activity_from_another_tenant_is_refused_and_not_logged(mock, caplog, case, change):
    activity = mock.activity("min pin är 482913, hemligt-ord")
    change(activity)
    sent_before = len(mock.activities)
    status, body = run(channel(mock).handle(f"Bearer {mock.signed()}", activity, no_messages))
    assert (status, body) == (403, {"error": "forbidden"}), case
    assert len(mock.activities) == sent_before
    assert "hemligt-ord" not in caplog.text and "482913" not in caplog.text
    assert "refused" in caplog.text


def test_tenant_is_compared_without_regard_to_case(mock):
    activity = mock.activity("hej")
    activity["conversation"]["tenantId"] = mock.tenant_id.upper()
    got = []

    async def rasa(message):
        got.append(message)

    status, _ = run(channel(mock).handle(f"Bearer {mock.signed()}", activity, rasa))
    assert status == 200 and len(got) == 1


def test_teams_html_is_reduced_and_masked_before_rasa(mock):
    got = []

    async def rasa(message):
        got.append(message)

    ch = channel(mock)
    html = "<at>SITHS-hjälpen</at> <p>min pin är 12<b>34</b>56</p>"
    status, _ = run(ch.handle(f"Bearer {mock.signed()}", mock.activity(html), rasa))
    assert status == 200
    assert got[0].text == "min pin är [dold kod]"
    assert "3" not in str(got[0].metadata).replace(mock.tenant_id, "")


def test_button_payload_is_masked(mock):
    got = []

    async def rasa(message):
        got.append(message.text)

    activity = mock.activity("", value={"payload": '/inform{"pin": "482913"}'})
    status, _ = run(channel(mock).handle(f"Bearer {mock.signed()}", activity, rasa))
    assert status == 200 and got == ['/inform{"pin": "[dold kod]"}']


def test_too_long_teams_message_is_not_parsed(mock):
    got = []

    async def rasa(message):
        got.append(message.text)

    for text in ("x" * 2001, "<b>1</b>" * 2000):
        activity = mock.activity(text)
        status, _ = run(channel(mock).handle(f"Bearer {mock.signed()}", activity, rasa))
        assert status == 200
    assert got == ["/message_too_long", "/message_too_long"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failed_key_refresh_backs_off_exponentially_with_a_cap():
    down = MockMicrosoft(app_id="app", app_password="pw", tenant_id="tenant-1",
                         openid_status=503)
    try:
        settings = TeamsSettings.from_env(down.env())
        clock = FakeClock()
        ch = TeamsInput(settings)
        ch.keys = keys = SigningKeys(settings, clock=clock)

        async def request():
            return (await ch.handle(f"Bearer {down.signed()}", down.activity("hej"),
                                    no_messages))[0]

        waits = []
        for _ in range(10):
            fetches = keys.fetches
            # While waiting, any number of requests: 503 at once, no fetch.
            assert run(request()) == 503
            assert keys.fetches == fetches + 1
            for _ in range(5):
                assert run(request()) == 503
            assert keys.fetches == fetches + 1
            waits.append(keys.retry_at - clock.now)
            clock.now = keys.retry_at
        assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
        assert down.openid_requests == 10

        # Microsoft is back: the next try fetches the keys and the backoff resets.
        down.openid_status = 200
        got = []

        async def rasa(message):
            got.append(message.text)

        status, _ = run(ch.handle(f"Bearer {down.signed()}", down.activity("hej"), rasa))
        assert status == 200 and got == ["hej"]
        assert keys.failures == 0 and keys.retry_at == 0
    finally:
        down.close()


def test_concurrent_requests_share_one_key_fetch_while_microsoft_is_slow_and_failing():
    """Microsoft answers after 1 s with an error. Twenty requests at once make
    one fetch between them (the old code fetched once per request, one after
    another, under a lock: 20 s)."""
    slow = MockMicrosoft(app_id="app", app_password="pw", tenant_id="tenant-1",
                         openid_status=503, openid_delay=1.0)
    try:
        ch = TeamsInput(TeamsSettings.from_env({**slow.env(), "TEAMS_HTTP_TIMEOUT": "5"}))

        async def burst():
            token = slow.signed()
            return await asyncio.gather(*(
                ch.handle(f"Bearer {token}", slow.activity("hej"), no_messages)
                for _ in range(20)))

        results = run(burst())
        assert [status for status, _ in results] == [503] * 20
        assert slow.openid_requests == 1
        # The next burst, during the backoff, does not touch the network at all.
        results = run(burst())
        assert [status for status, _ in results] == [503] * 20
        assert slow.openid_requests == 1
    finally:
        slow.close()


def test_stale_keys_keep_working_while_the_refresh_fails():
    mock = MockMicrosoft(app_id="app", app_password="pw", tenant_id="tenant-1")
    try:
        settings = TeamsSettings.from_env(mock.env())
        clock = FakeClock()
        ch = TeamsInput(settings)
        ch.keys = keys = SigningKeys(settings, clock=clock)
        got = []

        async def rasa(message):
            got.append(message.text)

        async def request():
            return (await ch.handle(f"Bearer {mock.signed()}", mock.activity("hej"), rasa))[0]

        async def scenario():
            assert await request() == 200 and keys.fetches == 1
            mock.openid_status = 503
            clock.now += 2 * 24 * 3600  # the cache is stale
            for _ in range(5):
                assert await request() == 200  # checked with the cached key
                await asyncio.sleep(0.2)  # the background refresh fails meanwhile

        run(scenario())
        assert keys.fetches == 2 and keys.failures == 1  # one background try, then backoff
        assert len(got) == 6
    finally:
        mock.close()


class _BodyNotToBeRead:
    """A request whose JSON body must not be parsed (fails the test if it is)."""

    def __init__(self, authorization):
        self.headers = {"Authorization": authorization} if authorization else {}
        self.parsed = False

    @property
    def json(self):
        self.parsed = True
        return {"type": "message", "text": "x" * 10}


def _webhook(ch: TeamsInput):
    [route] = [r for r in ch.blueprint(no_messages)._future_routes if r.uri == "/webhook"]
    return route.handler


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-jwt", "Basic abc"])
def test_the_body_is_not_parsed_without_a_valid_bearer_token(mock, authorization):
    request = _BodyNotToBeRead(authorization)
    answer = run(_webhook(channel(mock))(request))
    assert answer.status == 401
    assert not request.parsed


def test_a_valid_token_gets_its_body_parsed_and_checked(mock):
    request = _BodyNotToBeRead(f"Bearer {mock.signed()}")
    answer = run(_webhook(channel(mock))(request))
    assert request.parsed
    assert answer.status == 401  # the activity has no channelId the key is endorsed for
