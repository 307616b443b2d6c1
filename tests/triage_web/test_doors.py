"""The triage page's doors, tried as an attacker would (HTTP with headers set by hand):
big bodies, foreign hosts and origins, guessing the sign-in code or references, the
static folder, the cookie."""

from __future__ import annotations

import httpx
import pytest

from tests.support.recorded import save_with_rasa
from tests.triage_web.conftest import start_triage

pytestmark = pytest.mark.stack


def signed_in(triage) -> httpx.Client:
    client = httpx.Client(base_url=triage.url, timeout=15)
    reply = client.post("/login", data={"token": triage.token})
    assert reply.status_code == 302
    return client


def test_the_session_cookie_is_httponly_and_strict(recorded_triage):
    reply = httpx.post(recorded_triage.url + "/login", data={"token": recorded_triage.token})
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert reply.headers["content-security-policy"].startswith("default-src 'none'")


def test_a_big_body_is_refused_before_it_is_read(recorded_triage):
    reply = httpx.post(recorded_triage.url + "/login", content=b"token=" + b"a" * 200_000,
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert reply.status_code == 413


def test_a_foreign_host_name_is_refused(recorded_triage):
    # DNS rebinding: a web page whose own name points at 127.0.0.1.
    reply = httpx.post(recorded_triage.url + "/login", data={"token": recorded_triage.token},
                       headers={"host": "evil.example", "origin": "http://evil.example"})
    assert reply.status_code == 421


def test_a_form_from_another_origin_is_refused(recorded_triage):
    client = signed_in(recorded_triage)
    reply = client.post("/samtal", data={"reference": "K-0000-0000"},
                        headers={"origin": "http://127.0.0.1:1"})
    assert reply.status_code == 403


def test_guessing_the_sign_in_code_is_stopped(tmp_path):
    # Its own page: the lock-out holds this address for a minute.
    save_with_rasa(str(tmp_path / "tracker.db"), {})
    with start_triage(tmp_path, tracker_db=tmp_path / "tracker.db") as triage:
        client = httpx.Client(base_url=triage.url, timeout=15)
        statuses = [client.post("/login", data={"token": f"guess-{i}"}).status_code
                    for i in range(6)]
        assert statuses == [401] * 5 + [429]
        # The right code waits too: guessing cannot go on by trying it in between.
        assert client.post("/login", data={"token": triage.token}).status_code == 429
        assert "too many failures" in triage.audit_log.read_text()


def test_guessing_references_is_stopped_and_every_lookup_logged(recorded_triage):
    client = signed_in(recorded_triage)
    statuses = [client.post("/samtal", data={"reference": f"K-0000-{i:04d}"}).status_code
                for i in range(31)]
    assert statuses == [404] * 30 + [429]
    audit = recorded_triage.audit_log.read_text()
    assert "K-0000-0029 not found" in audit and "refused, too many lookups" in audit
    # Another agent's session is not held up.
    assert signed_in(recorded_triage).post(
        "/samtal", data={"reference": "K-0000-0001"}).status_code == 404


def test_the_static_folder_is_not_listed(recorded_triage):
    assert httpx.get(recorded_triage.url + "/static/").status_code == 404
    client = signed_in(recorded_triage)
    assert client.get("/static/%2e%2e/app.py").status_code == 404
    assert client.get("/static/triage.js").status_code == 200
