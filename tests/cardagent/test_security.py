"""Bearer token, Origin allowlist (CORS + Private Network Access), Host check, masking."""

from __future__ import annotations

import logging
import os
import stat

import pytest
from fastapi.testclient import TestClient

from cardagent.api import create_app
from cardagent.tokenfile import load_or_create_token
from tests.cardagent.conftest import (
    ALLOWED_ORIGIN,
    BASE_URL,
    TEST_TOKEN,
    assert_no_personnummer,
    in_process_peer,
)

pytestmark = pytest.mark.stack  # the app fixture reads the card through pcscd + SoftHSM2

V1_PATHS = ["/v1/card/state", "/v1/card/tokens", "/v1/readers", "/v1/agent"]


@pytest.fixture()
def anon(app):
    with TestClient(app, base_url=BASE_URL) as c:
        yield c


@pytest.mark.parametrize("path", V1_PATHS)
def test_no_token_is_401(anon, path: str) -> None:
    r = anon.get(path)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wrong",
        f"Basic {TEST_TOKEN}",
        f"Bearer {TEST_TOKEN}x",
        "Bearer",
        f"bearer  {TEST_TOKEN[:-1]}",
    ],
)
def test_wrong_token_is_401(anon, header: str) -> None:
    assert anon.get("/v1/card/state", headers={"Authorization": header}).status_code == 401


def test_right_token_works(anon) -> None:
    r = anon.get("/v1/agent", headers={"Authorization": f"Bearer {TEST_TOKEN}"})
    assert r.status_code == 200
    assert r.json()["pcsc_probe"] is True


@pytest.mark.parametrize("path", V1_PATHS + ["/openapi.json", "/nope"])
@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://127.0.0.1:8765", ALLOWED_ORIGIN + ".evil"]
)
def test_foreign_origin_is_403_even_with_token(client, path: str, origin: str) -> None:
    r = client.get(path, headers={"Origin": origin})
    assert r.status_code == 403
    assert r.json()["error"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in r.headers


def test_foreign_origin_preflight_is_403(anon) -> None:
    r = anon.options(
        "/v1/card/state",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert r.status_code == 403
    assert "access-control-allow-private-network" not in r.headers


def test_allowed_origin_preflight_with_private_network_access(anon) -> None:
    r = anon.options(
        "/v1/card/state",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert r.headers["access-control-allow-private-network"] == "true"
    assert "GET" in r.headers["access-control-allow-methods"]
    assert "Authorization" in r.headers["access-control-allow-headers"]
    assert "Origin" in r.headers["vary"]


def test_allowed_origin_gets_cors_but_still_needs_token(anon, client) -> None:
    r = anon.get("/v1/agent", headers={"Origin": ALLOWED_ORIGIN})
    assert r.status_code == 401
    r = client.get("/v1/agent", headers={"Origin": ALLOWED_ORIGIN})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert r.headers["vary"] == "Origin"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "192.168.1.5:8765"])
def test_dns_rebinding_host_is_403(client, host: str) -> None:
    r = client.get("/v1/agent", headers={"Host": host})
    assert r.status_code == 403
    assert r.json()["error"] == "host_not_allowed"


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "LOCALHOST"])
def test_loopback_hosts_allowed(client, host: str) -> None:
    assert client.get("/v1/agent", headers={"Host": host}).status_code == 200


def test_token_file_created_0600_and_reused(tmp_path) -> None:
    f = tmp_path / "data" / "token"
    token = load_or_create_token(f)
    assert len(token) >= 40
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    assert load_or_create_token(f) == token
    assert stat.S_IMODE(os.stat(f.parent).st_mode) == 0o700
    # CARDAGENT_TOKEN wins over the file
    assert load_or_create_token(f, "from-env") == "from-env"


def test_app_generates_token_on_first_start(agent_settings, tmp_path) -> None:
    settings = agent_settings.with_overrides(token=None, data_dir=tmp_path / "d")
    app = create_app(settings)
    token = (tmp_path / "d" / "token").read_text().strip()
    assert app.state.token == token
    with TestClient(app, base_url=BASE_URL) as c:
        assert c.get("/v1/agent").status_code == 401
        assert c.get("/v1/agent", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize("name", ["upgraded", "restored", "replacement_samordning", "blocked"])
def test_no_personnummer_in_responses_or_logs(client, card_slot, caplog, name: str) -> None:
    card_slot.insert(name)
    with caplog.at_level(logging.DEBUG):
        texts = [client.get(p).text for p in V1_PATHS]
    for text in texts:
        assert_no_personnummer(text)
    assert "****" in texts[0]
    assert_no_personnummer("\n".join(r.getMessage() for r in caplog.records))


# --- browser relay (the intranet chat widget calls the agent for a central bot) -----------


@pytest.fixture()
def relay_app(agent_settings):  # noqa: ANN001, ANN201
    return create_app(agent_settings.with_overrides(browser_relay=True), peer_check=in_process_peer)


def test_relay_lets_the_allowed_origin_read_the_state_without_token(relay_app, card_slot) -> None:
    card_slot.insert("old")
    with TestClient(relay_app, base_url=BASE_URL) as browser:
        reply = browser.get("/v1/card/state", headers={"Origin": ALLOWED_ORIGIN})
    assert reply.status_code == 200
    assert reply.json()["state"] == "not_upgraded"
    assert reply.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


@pytest.mark.parametrize("path", ["/v1/readers", "/v1/card/tokens", "/v1/agent"])
def test_relay_covers_only_the_relay_routes(relay_app, path: str) -> None:
    with TestClient(relay_app, base_url=BASE_URL) as browser:
        assert browser.get(path, headers={"Origin": ALLOWED_ORIGIN}).status_code == 401


def test_relay_needs_an_origin_and_the_setting(relay_app, anon) -> None:
    with TestClient(relay_app, base_url=BASE_URL) as local_process:
        assert local_process.get("/v1/card/state").status_code == 401
        evil = local_process.get("/v1/card/state", headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403
    # relay off (the default): the allowed origin still needs the token
    assert anon.get("/v1/card/state", headers={"Origin": ALLOWED_ORIGIN}).status_code == 401
