"""Another local user (a shared terminal server, another account on the workstation) holds a
link to the agent's page - from the bot, which answers anyone on loopback, or from the relay
routes - and sends everything a browser would, forged: Origin, Sec-Fetch-Site, Host. The
agent serves its pages and the token-less relay only to programs of its own user, so the
other account can neither spend the link, nor order, nor spend a PIN try.

The attacker runs as the real user ``nobody`` (the tests run as root and drop to it for the
attacker's process), with nothing but the standard library.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tests.cardagent.security.test_agent_pages import (  # noqa: F401 - fixtures
    LEGITIMERING,
    agent,
    new_job,
    new_order,
    receiver,
    tries,
)

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as another user"),
]

ATTACKER_UID = 65534  # nobody

ATTACK = r"""
import http.cookiejar, json, re, sys, urllib.error, urllib.parse, urllib.request
link, agent, form, action = sys.argv[1:5]
forged = {"Origin": agent, "Sec-Fetch-Site": "same-origin", "Host": agent.split("//")[1]}
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
out = {}
def call(url, data=None):
    req = urllib.request.Request(url, data=data, headers=forged)
    try:
        with opener.open(req, timeout=20) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
out["open"] = call(link)
# Whatever a browser would post from the page: its hidden fields (CSRF) and the button.
hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', out["open"][1]))
fields = {**hidden, "action": action, "pin_legitimering": "000000", "pin_underskrift": "1111"}
out["post"] = call(agent + form, urllib.parse.urlencode(fields).encode())
print(json.dumps(out))
"""


def as_other_user(link: str, agent_url: str, form_path: str, action: str) -> dict:
    done = subprocess.run(
        ["/usr/bin/python3", "-I", "-c", ATTACK, link, agent_url, form_path, action],
        user=ATTACKER_UID,
        group=ATTACKER_UID,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return {k: tuple(v) for k, v in json.loads(done.stdout).items()}


def test_another_user_with_the_order_link_cannot_order(agent, receiver, fresh_card) -> None:  # noqa: F811
    fresh_card("old")
    order = new_order(agent)
    form = f"/orders/{order['order_id']}"
    result = as_other_user(order["confirm_page_url"], agent.url, form, "order")
    for status, body in result.values():
        assert status == 403, body
        assert "Sidan hör till en annan användare" in body
    time.sleep(1.5)
    assert receiver.orders() == []
    after = agent.get(f"/v1/puk-orders/{order['order_id']}").json()
    assert after["status"] == "awaiting_confirmation"
    assert after["page_opened"] is False  # the person's link still works
    assert after["confirm_page_url"] == order["confirm_page_url"]


def test_another_user_with_the_pin_link_spends_no_try(agent, fresh_card, card_slot) -> None:  # noqa: F811
    fresh_card("old")
    job = new_job(agent)
    result = as_other_user(job["pin_page_url"], agent.url, f"/pin/{job['job_id']}", "start")
    for status, body in result.values():
        assert status == 403, body
    time.sleep(1.5)
    assert tries(card_slot, LEGITIMERING) == 3
    view = agent.get(f"/v1/jobs/{job['job_id']}").json()
    assert view["status"] == "waiting_for_pin" and view["page_opened"] is False
