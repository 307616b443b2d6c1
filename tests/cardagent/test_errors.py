"""Every failure is a clear JSON error."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cardagent.api import create_app
from tests.cardagent.conftest import BASE_URL, TEST_TOKEN

pytestmark = pytest.mark.stack
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}


def _client(settings):
    return TestClient(create_app(settings), base_url=BASE_URL, headers=AUTH)


def test_pkcs11_module_missing(agent_settings, card_slot) -> None:
    card_slot.insert("upgraded")
    with _client(agent_settings.with_overrides(pkcs11_module="/opt/netid/libiidp11.so")) as c:
        r = c.get("/v1/card/state")
    assert r.status_code == 503
    body = r.json()
    assert body["error"] == "pkcs11_module_missing"
    assert body["module"] == "/opt/netid/libiidp11.so"
    assert body["message"] == "The PKCS#11 module (Net iD) was not found."


def test_pkcs11_module_not_a_module(agent_settings, card_slot, tmp_path) -> None:
    bogus = tmp_path / "libbogus.so"
    bogus.write_bytes(b"not an ELF file")
    card_slot.insert("upgraded")
    with _client(agent_settings.with_overrides(pkcs11_module=str(bogus))) as c:
        r = c.get("/v1/card/state")
    assert r.status_code == 503
    assert r.json()["error"] == "pkcs11_module_error"


def test_missing_module_does_not_matter_without_card(agent_settings, card_slot) -> None:
    card_slot.remove()
    with _client(agent_settings.with_overrides(pkcs11_module="/nonexistent/libiidp11.so")) as c:
        assert c.get("/v1/card/state").json()["state"] == "no_card"


@pytest.mark.parametrize(
    "path,status,code",
    [
        ("/v1/nope", 404, "not_found"),
        ("/v1/card/state?expiry_warning_days=-1", 422, "invalid_request"),
    ],
)
def test_http_errors_are_json(client, path: str, status: int, code: str) -> None:
    r = client.get(path)
    assert r.status_code == status
    assert r.json()["error"] == code
    assert r.headers["content-type"].startswith("application/json")


def test_method_not_allowed_is_json(client) -> None:
    r = client.post("/v1/card/state")
    assert r.status_code == 405
    assert r.json()["error"] == "method_not_allowed"
