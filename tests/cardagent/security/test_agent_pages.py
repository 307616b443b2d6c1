"""The agent's own pages in a real browser, and attacks on them (issue 10, points 1, 2, 4).

Real stack: the card agent as a process (`python -m cardagent`, uvicorn, its real log), an
emulated card in the test reader (pcscd + vpcd + SoftHSM2), the EST test CA, the demo order
receiver as a process, and Debian's Chromium driven by Playwright. The person's steps are
done in Chromium with no header set by hand; the attacks are done the way an attacker would:
a page on another local origin in the same browser, a local process with the link, a form
field meant to skip a guard, digits a card would count as a wrong try, a huge body.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from devtools.cards import DEMO_PIN_LEGITIMERING, DEMO_PIN_UNDERSKRIFT
from tests.cardagent.test_upgrade import assert_old_intact, assert_upgraded
from tests.cardagent.test_write_processes import TOKEN, Agent, Receiver
from tests.support.site import Site

pytestmark = pytest.mark.stack
REGION = "Region Testland"
LEGITIMERING = "129"  # the emulator's PIN references (0x81, 0x82) as its JSON keys
UNDERSKRIFT = "130"


# --- the stack --------------------------------------------------------------------------------


@pytest.fixture()
def receiver(tmp_path, tls_files) -> Iterator[Receiver]:
    r = Receiver(tmp_path, tls_files.ca.parent).start()
    yield r
    r.stop()


@pytest.fixture()
def agent(agent_env, est_server, tls_files, trust_anchors, receiver, pcscd_service):
    env = agent_env(
        CARDAGENT_TOKEN=TOKEN,
        CARDAGENT_EST_URL=est_server[1],
        CARDAGENT_EST_TLS_CA=str(tls_files.ca),
        CARDAGENT_EST_TRUST_ANCHORS=str(trust_anchors),
        CARDAGENT_ORDER_WEBHOOK_URL=receiver.url,
        CARDAGENT_ORDER_WEBHOOK_TLS_CA=str(tls_files.ca),
        CARDAGENT_ORDER_RETRY_INITIAL="0.2",
        CARDAGENT_ORDER_RETRY_MAX="0.5",
        CARDAGENT_REGION_NAME=REGION,
    )
    a = Agent(env)
    yield a.start()
    a.stop()


@pytest.fixture()
def context(browser):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="sv-SE")
    yield ctx
    ctx.close()


@pytest.fixture()
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


OWN_AGENT_AUTH = {"Authorization": "Bearer own-agent-token"}


@pytest.fixture()
def start_own_agent(agent_env, est_server, tls_files, trust_anchors, pcscd_service, tmp_path):
    """Starts an agent with settings of the test's own (e.g. a short page lifetime) in its own
    data folder; the test stops it. Called with ``OWN_AGENT_AUTH``."""

    def start(data_dir: str = "data", **extra: str) -> Agent:
        return Agent(
            agent_env(
                CARDAGENT_TOKEN="own-agent-token",
                CARDAGENT_DATA_DIR=str(tmp_path / data_dir),
                CARDAGENT_EST_URL=est_server[1],
                CARDAGENT_EST_TLS_CA=str(tls_files.ca),
                CARDAGENT_EST_TRUST_ANCHORS=str(trust_anchors),
                **extra,
            )
        ).start()

    return start


def tries(card_slot, ref: str) -> int:
    return card_slot.reader.applet.card["pins"][ref]["tries_left"]


def wait_for(predicate, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def new_job(agent: Agent) -> dict:
    r = agent.post("/v1/upgrade", {})
    assert r.status_code == 201, r.text
    return r.json()


def new_order(agent: Agent) -> dict:
    r = agent.post("/v1/puk-orders", {})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "awaiting_confirmation", order
    return order


def local_client_form(agent: Agent, url: str) -> tuple[httpx.Client, str, dict[str, str]]:
    """What a local program does with a page link it got hold of: open it, keep the cookie,
    read the form (action and hidden fields), as the old and the new page both allow."""
    client = httpx.Client(timeout=30, follow_redirects=True)
    page = client.get(url)
    assert page.status_code == 200, page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    return client, agent.url + action, hidden


# --- the person, in Chromium ---------------------------------------------------------------------


def test_upgrade_in_chromium_from_the_link_to_done(
    agent, context, site, fresh_card, card_slot, test_pki, est_ca
) -> None:
    card = fresh_card("old")
    job = new_job(agent)
    token = job["pin_page_url"].split("?t=", 1)[1]
    # The link as the chat shows it, clicked on a page of another site (localhost is another
    # site than 127.0.0.1): the page must work from a cross-site link too.
    site.pages["/chat"] = (
        '<!doctype html><html lang="sv"><body><p>Chatten</p>'
        f'<a id="open" href="{job["pin_page_url"]}">Öppna sidan för koderna</a></body></html>'
    )
    page = context.new_page()
    page.goto(site.url("/chat", host="localhost"))
    page.click("#open")
    page.wait_for_selector("#pin_legitimering")
    # the token is out of the address bar; the page says what it is, and for which region
    assert page.url == f"{agent.url}/pin/{job['job_id']}"
    header = page.inner_text("header")
    assert "Kortprogrammet på den här datorn" in header and REGION in header
    assert page.locator("label[for=pin_legitimering]").inner_text() == "Legitimeringskod"
    page.fill("#pin_legitimering", DEMO_PIN_LEGITIMERING)
    page.fill("#pin_underskrift", DEMO_PIN_UNDERSKRIFT)
    page.get_by_role("button", name="Uppgradera kortet").click()
    page.wait_for_selector("h1:has-text('Uppgraderingen är klar')", timeout=120_000)
    assert "Klart!" in page.inner_text("main")
    # the card is upgraded
    assert agent.get("/v1/card/state").json()["state"] == "upgraded"
    assert_upgraded(None, card, test_pki)
    done = agent.get(f"/v1/jobs/{job['job_id']}").json()
    assert done["status"] == "succeeded" and done["page_opened"] is True
    # nothing sensitive in the agent's log: not the link token, not the page cookie, no PIN;
    # the access log is on (the path is there), just without the query string
    cookie = next(c["value"] for c in context.cookies() if c["name"] == "cardagent_page")
    log = agent.log.read_text(encoding="utf-8")
    assert f"GET /pin/{job['job_id']} " in log
    assert token not in log and "?t=" not in log
    assert cookie not in log
    scrubbed = log.replace("SE1234567890", "")  # the test HSA-id contains "123456"
    assert DEMO_PIN_LEGITIMERING not in scrubbed and DEMO_PIN_UNDERSKRIFT not in scrubbed


def test_puk_order_placed_only_by_clicking_bestall(agent, receiver, context, fresh_card) -> None:
    fresh_card("old")
    order = new_order(agent)
    time.sleep(1.5)
    assert receiver.orders() == []  # proposed only: nothing reached the order system
    page = context.new_page()
    page.goto(order["confirm_page_url"])
    page.wait_for_selector("h1:has-text('Beställ en ny PUK-kod')")
    assert page.url == f"{agent.url}/orders/{order['order_id']}"
    text = page.inner_text("body")
    assert "Kortprogrammet på den här datorn" in text and REGION in text
    # the cost as the FAQ states it, and the card it is for (facts the agent read)
    assert "ca 200 kr" in text and "verksamhet du jobbar inom" in text
    assert "SE1234567890-TEST0000001" in text and "Testregionen" in text
    assert order["card"]["serial"] in text
    # a second tab with the same form (a stale copy to resubmit later)
    stale = context.new_page()
    stale.goto(f"{agent.url}/orders/{order['order_id']}")
    stale.wait_for_selector("button:has-text('Beställ')")
    time.sleep(1.0)
    assert receiver.orders() == []  # looking at the page places nothing either
    page.get_by_role("button", name="Beställ", exact=True).dblclick()
    page.wait_for_selector("h1:has-text('Beställningen')")
    wait_for(lambda: len(receiver.orders()) == 1, what="the order at the receiver")
    # resubmitted from the stale tab, and the status page reloaded: still one order
    stale.get_by_role("button", name="Beställ", exact=True).click()
    stale.wait_for_selector("h1:has-text('Beställningen')")
    page.reload()
    wait_for(
        lambda: agent.get(f"/v1/puk-orders/{order['order_id']}").json()["status"] == "delivered",
        what="delivered",
    )
    time.sleep(1.5)
    got = receiver.orders()
    assert len(got) == 1 and got[0]["received"] == 1, got
    status = page.inner_text("main")
    view = agent.get(f"/v1/puk-orders/{order['order_id']}").json()
    assert view["reference"] in status and "Servicecenter" in status
    assert view["page_opened"] is True and "?t=" not in view["confirm_page_url"]


def test_cancel_on_the_order_page_places_nothing(agent, receiver, context, fresh_card) -> None:
    fresh_card("old")
    order = new_order(agent)
    page = context.new_page()
    page.goto(order["confirm_page_url"])
    page.get_by_role("button", name="Avbryt").click()
    page.wait_for_selector("h1:has-text('Beställningen avbröts')")
    assert agent.get(f"/v1/puk-orders/{order['order_id']}").json()["status"] == "cancelled"
    time.sleep(1.5)
    assert receiver.orders() == []


# --- attacks ------------------------------------------------------------------------------------


def test_drive_by_page_on_another_local_origin_changes_nothing(
    agent, receiver, context, site, fresh_card, card_slot
) -> None:
    """The person has both pages open (their cookies are in the browser); a page on another
    port of 127.0.0.1 (same-site, so even SameSite=Strict cookies go along) auto-submits
    forms to them: PIN guesses to burn the tries, and "Beställ"."""
    card = fresh_card("old")
    job = new_job(agent)
    order = new_order(agent)
    mine = context.new_page()
    mine.goto(job["pin_page_url"])
    mine.wait_for_selector("#pin_legitimering")
    mine.goto(order["confirm_page_url"])
    mine.wait_for_selector("button:has-text('Beställ')")
    site.pages["/evil"] = f"""<!doctype html><html><body>
<iframe name="f1"></iframe><iframe name="f2"></iframe>
<form id="a" method="post" action="{agent.url}/pin/{job["job_id"]}" target="f1">
<input name="action" value="start"><input name="pin_legitimering" value="000000">
<input name="pin_underskrift" value="000000"><input name="confirm_final_try" value="1"></form>
<form id="b" method="post" action="{agent.url}/orders/{order["order_id"]}" target="f2">
<input name="action" value="order"></form>
<script>document.getElementById("a").submit(); document.getElementById("b").submit();</script>
</body></html>"""
    evil = context.new_page()
    evil.goto(site.url("/evil"))
    wait_for(
        lambda: agent.log.read_text().count("refused: not sent from the agent's own page") >= 2,
        timeout=15,
        what="both forged POSTs to reach the agent",
    )
    log = agent.log.read_text()
    assert f'"POST /pin/{job["job_id"]} HTTP/1.1" 403' in log
    assert f'"POST /orders/{order["order_id"]} HTTP/1.1" 403' in log
    time.sleep(1.5)
    assert tries(card_slot, LEGITIMERING) == 3 and tries(card_slot, UNDERSKRIFT) == 3
    after = agent.get(f"/v1/jobs/{job['job_id']}").json()
    assert after["status"] == "waiting_for_pin" and after["error_code"] is None
    assert agent.get(f"/v1/puk-orders/{order['order_id']}").json()["status"] == (
        "awaiting_confirmation"
    )
    assert receiver.orders() == []
    assert_old_intact(None, card)


def test_refusals_are_swedish_html_pages(agent, fresh_card) -> None:
    """Errors on the pages are Swedish HTML that say what to do next, never JSON."""
    fresh_card("old")
    job = new_job(agent)
    base = f"{agent.url}/pin/{job['job_id']}"
    cases = [
        httpx.post(base, data={"action": "start"}, headers={"Origin": "null"}),
        httpx.post(base, data={"action": "start"}, headers={"Origin": "http://evil.example"}),
        httpx.get(f"{base}?t=not-the-token"),
        httpx.get(f"{agent.url}/orders/0123456789abcdef"),
        httpx.get(base),  # no page session
    ]
    for r in cases:
        assert 400 <= r.status_code < 500, r.text
        assert r.headers["content-type"].startswith("text/html"), r.text
        assert '<html lang="sv">' in r.text and "Vad gör jag nu?" in r.text
        assert "chatten" in r.text and "Kortprogrammet på den här datorn" in r.text


def test_post_without_origin_or_fetch_metadata_is_refused(agent, fresh_card, card_slot) -> None:
    """A local program that got the link (e.g. from a log) posts PIN guesses with neither
    Origin nor Sec-Fetch-Site, as any non-browser client does: refused, no try spent."""
    fresh_card("old")
    job = new_job(agent)
    client, action, hidden = local_client_form(agent, job["pin_page_url"])
    r = client.post(
        action,
        data={**hidden, "action": "start", "pin_legitimering": "000000", "pin_underskrift": "1111"},
    )
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("text/html")
    time.sleep(2.0)
    assert tries(card_slot, LEGITIMERING) == 3
    assert agent.get(f"/v1/jobs/{job['job_id']}").json()["error_code"] is None


def test_link_is_one_time_and_viewing_does_not_mint(start_own_agent, fresh_card, browser) -> None:
    """GET /v1/jobs returns the same link however often and however late it is viewed;
    once opened in one browser the link is spent: another browser gets "already used".

    CARDAGENT_PIN_PAGE_TTL is both the link's lifetime and the page session's (sliding)
    lifetime, so the two halves run on two agents: the expiry on one with 2 s, the one-time
    link on one with the default lifetime - with 2 s browser A's session could run out
    during the steps in browser B, and the reload at the end then failed with "no session".
    """
    auth = OWN_AGENT_AUTH
    fresh_card("old")
    # --- a link that expires: viewing never mints, however late -----------------------------
    a = start_own_agent("data-short-ttl", CARDAGENT_PIN_PAGE_TTL="2")
    try:
        job = httpx.post(f"{a.url}/v1/upgrade", json={}, headers=auth).json()
        url = job["pin_page_url"]
        views = [httpx.get(f"{a.url}/v1/jobs/{job['job_id']}", headers=auth).json()]
        time.sleep(2.5)  # past the link's lifetime
        views.append(httpx.get(f"{a.url}/v1/jobs/{job['job_id']}", headers=auth).json())
        assert [v["pin_page_url"] for v in views] == [url, url]
        assert not any(v["page_opened"] for v in views)
        # an expired link is not opened
        ctx = browser.new_context()
        page = ctx.new_page()
        page.goto(url)
        assert "Länken har gått ut" in page.inner_text("h1")
        ctx.close()
        # asked again with POST (the chat's "start again"): a new link, shown as is when viewed
        again = httpx.post(f"{a.url}/v1/upgrade", json={}, headers=auth).json()
        assert again["job_id"] == job["job_id"] and again["pin_page_url"] != url
        view = httpx.get(f"{a.url}/v1/jobs/{job['job_id']}", headers=auth).json()
        assert view["pin_page_url"] == again["pin_page_url"] and not view["page_opened"]
    finally:
        a.stop()
    # --- a link that is opened: spent in browser A, "already used" in browser B ---------------
    b = start_own_agent("data")  # the default lifetime: browser A's session outlives the test
    try:
        job = httpx.post(f"{b.url}/v1/upgrade", json={}, headers=auth).json()
        url = job["pin_page_url"]
        # viewing it, and asking again while it is unspent, give the same link
        view = httpx.get(f"{b.url}/v1/jobs/{job['job_id']}", headers=auth).json()
        again = httpx.post(f"{b.url}/v1/upgrade", json={}, headers=auth).json()
        assert view["pin_page_url"] == url and again["pin_page_url"] == url
        assert again["job_id"] == job["job_id"] and not again["page_opened"]
        first, second = browser.new_context(), browser.new_context()
        pa = first.new_page()
        pa.goto(url)
        pa.wait_for_selector("#pin_legitimering")
        opened = httpx.get(f"{b.url}/v1/jobs/{job['job_id']}", headers=auth).json()
        assert opened["page_opened"] is True
        assert opened["pin_page_url"] == f"http://127.0.0.1:{b.port}/pin/{job['job_id']}"
        # the same link in another browser (someone who read it somewhere): already used
        pb = second.new_page()
        pb.goto(url)
        assert "Länken har redan använts" in pb.inner_text("h1")
        assert pb.locator("#pin_legitimering").count() == 0
        assert "fönstret där sidan redan är öppen" in pb.inner_text("main")
        # and the token-less URL does not work there either
        pb.goto(opened["pin_page_url"])
        assert pb.locator("#pin_legitimering").count() == 0
        # browser A keeps working (reload)
        pa.reload()
        assert pa.locator("#pin_legitimering").count() == 1
        first.close()
        second.close()
    finally:
        b.stop()


def test_page_in_use_keeps_its_session_past_the_lifetime(
    start_own_agent, fresh_card, browser
) -> None:
    """The page session slides with use: each page request sends the cookie again with a
    fresh Max-Age, so a page kept in use outlives CARDAGENT_PIN_PAGE_TTL (3 s here), and a
    page left alone longer than it does not."""
    auth = OWN_AGENT_AUTH
    fresh_card("old")
    a = start_own_agent(CARDAGENT_PIN_PAGE_TTL="3")
    ctx = browser.new_context(locale="sv-SE")
    try:
        job = httpx.post(f"{a.url}/v1/upgrade", json={}, headers=auth).json()
        page = ctx.new_page()
        page.goto(job["pin_page_url"])
        page.wait_for_selector("#pin_legitimering")
        opened = time.monotonic()
        # in use for more than twice the lifetime: a reload every second
        while time.monotonic() - opened < 7:
            time.sleep(1)
            page.reload()
            assert page.locator("#pin_legitimering").count() == 1, page.inner_text("main")
        # a POST from the page, long after the cookie's first Max-Age ran out, is accepted
        page.get_by_role("button", name="Avbryt").click()
        page.wait_for_load_state()
        assert page.locator("#pin_legitimering").count() == 0
        status = httpx.get(f"{a.url}/v1/jobs/{job['job_id']}", headers=auth).json()["status"]
        assert status == "cancelled", status
        # left alone longer than the lifetime, the page session ends
        time.sleep(4)
        page.reload()
        assert "Länken har redan använts" in page.inner_text("h1")
    finally:
        ctx.close()
        a.stop()


def test_link_after_restart_gets_exactly_one_new_token(agent, fresh_card) -> None:
    fresh_card("old")
    job = new_job(agent)
    agent.stop()
    agent.start()
    views = [agent.get(f"/v1/jobs/{job['job_id']}").json()["pin_page_url"] for _ in range(3)]
    assert views[0] != job["pin_page_url"] and "?t=" in views[0]
    assert views == [views[0]] * 3
    # the old link (its token died with the old process) is not valid any more
    assert httpx.get(job["pin_page_url"]).status_code in (403, 404)
    assert httpx.get(views[0], follow_redirects=True).status_code == 200


def test_confirm_final_try_field_does_not_skip_the_guard(agent, fresh_card, card_slot) -> None:
    """legitimering has one try left. A form posted with confirm_final_try=1 (and a wrong PIN)
    - even with the page's own session and headers - must not reach the card."""
    fresh_card("old")
    card_slot.reader.applet.card["pins"][LEGITIMERING]["tries_left"] = 1
    job = new_job(agent)
    client, action, hidden = local_client_form(agent, job["pin_page_url"])
    r = client.post(
        action,
        data={
            **hidden,
            "action": "start",
            "confirm_final_try": "1",
            "pin_legitimering": "999999",
            "pin_underskrift": DEMO_PIN_UNDERSKRIFT,
        },
        headers={"Origin": agent.url, "Sec-Fetch-Site": "same-origin"},
    )
    assert r.status_code == 200
    time.sleep(2.0)
    assert tries(card_slot, LEGITIMERING) == 1, "the final try was spent"
    view = agent.get(f"/v1/jobs/{job['job_id']}").json()
    assert view["status"] == "waiting_for_pin"
    # what the page shows instead: the separate confirmation step, no PIN form yet
    assert "Koden spärras om den blir fel" in r.text and 'name="pin_legitimering"' not in r.text


def test_final_try_confirmation_step_in_chromium(
    agent, context, fresh_card, card_slot, test_pki, est_ca
) -> None:
    card = fresh_card("old")
    card_slot.reader.applet.card["pins"][LEGITIMERING]["tries_left"] = 1
    job = new_job(agent)
    page = context.new_page()
    page.goto(job["pin_page_url"])
    page.wait_for_selector("h1:has-text('Koden spärras om den blir fel')")
    assert page.locator("#pin_legitimering").count() == 0
    assert "Legitimeringskoden har bara ett försök kvar" in page.inner_text("main")
    page.get_by_role("button", name="Jag är säker på koden – fortsätt").click()
    page.wait_for_selector("#pin_legitimering")
    page.fill("#pin_legitimering", DEMO_PIN_LEGITIMERING)
    page.fill("#pin_underskrift", DEMO_PIN_UNDERSKRIFT)
    page.get_by_role("button", name="Uppgradera kortet").click()
    page.wait_for_selector("h1:has-text('Uppgraderingen är klar')", timeout=120_000)
    assert tries(card_slot, LEGITIMERING) == 3
    assert_upgraded(None, card, test_pki)


@pytest.mark.parametrize(
    "digits",
    [
        "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic 123456
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # fullwidth 123456
        "\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6",  # Extended Arabic-Indic
    ],
)
def test_non_ascii_digits_never_reach_the_card(agent, fresh_card, card_slot, digits) -> None:
    """str.isdigit() accepts these; a card would see other bytes and count a wrong try."""
    fresh_card("old")
    job = new_job(agent)
    client, action, hidden = local_client_form(agent, job["pin_page_url"])
    r = client.post(
        action,
        data={
            **hidden,
            "action": "start",
            "pin_legitimering": digits,
            "pin_underskrift": DEMO_PIN_UNDERSKRIFT,
        },
        headers={"Origin": agent.url, "Sec-Fetch-Site": "same-origin"},
    )
    time.sleep(2.0)
    assert tries(card_slot, LEGITIMERING) == 3 and tries(card_slot, UNDERSKRIFT) == 3
    view = agent.get(f"/v1/jobs/{job['job_id']}").json()
    assert view["status"] == "waiting_for_pin", view
    assert r.status_code == 422 and "siffrorna 0–9" in r.text and "Inget skickades" in r.text


def test_non_ascii_digits_in_chromium_get_a_swedish_message(
    agent, context, fresh_card, card_slot
) -> None:
    fresh_card("old")
    job = new_job(agent)
    page = context.new_page()
    page.goto(job["pin_page_url"])
    page.fill("#pin_legitimering", "\uff11\uff12\uff13\uff14\uff15\uff16")
    page.fill("#pin_underskrift", DEMO_PIN_UNDERSKRIFT)
    page.get_by_role("button", name="Uppgradera kortet").click()
    page.wait_for_selector("#formerror")
    assert "bara innehålla siffrorna 0–9" in page.inner_text("#formerror")
    assert page.get_attribute("#pin_legitimering", "aria-invalid") == "true"
    assert tries(card_slot, LEGITIMERING) == 3


def _raw_post_head(agent: Agent, path: str, cookie: str, length: int, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{agent.port}\r\n"
        f"Origin: {agent.url}\r\nSec-Fetch-Site: same-origin\r\n"
        f"Cookie: cardagent_page={cookie}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


def test_huge_body_refused_before_it_is_read(agent, fresh_card, card_slot) -> None:
    """Content-Length 50 MB, only a few bytes sent: the answer (413) comes at once, without
    the agent waiting for (or buffering) the body."""
    fresh_card("old")
    job = new_job(agent)
    client, action, _hidden = local_client_form(agent, job["pin_page_url"])
    cookie = client.cookies.get("cardagent_page") or client.cookies.get("cardagent_csrf") or "x"
    path = action.replace(agent.url, "")
    with socket.create_connection(("127.0.0.1", agent.port), timeout=5) as s:
        s.sendall(_raw_post_head(agent, path, cookie, 50_000_000) + b"action=start&pin_")
        s.settimeout(5)
        try:
            answer = s.recv(65536)
        except TimeoutError:
            answer = b""
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"text/html" in answer
    assert tries(card_slot, LEGITIMERING) == 3
    assert agent.get(f"/v1/jobs/{job['job_id']}").json()["status"] == "waiting_for_pin"
