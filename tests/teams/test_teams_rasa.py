"""Teams on the real Rasa server: signed activities in from the local Bot
Connector mock, the bot's replies (Adaptive Cards for buttons) out to it; and Rasa
starting with Teams configured while Microsoft cannot be reached."""

from __future__ import annotations

import sys
import time
import uuid

import httpx
import pytest

from bot.domain_texts import teams_code_notice
from bot.teams_cards import CONTENT_TYPE as ADAPTIVE_CARD
from tests.bot.responses import rendered
from tests.support.local_stack import REPO
from tests.support.unsure import find_unsure
from tests.teams.mock_microsoft import MockMicrosoft
from tests.widget.stack import start_bot

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def bot(mock, tmp_path_factory):
    with start_bot(tmp_path_factory.mktemp("teams-bot"), env=mock.env()) as server:
        yield server


def post(bot, mock, activity, token=None):
    token = token if token is not None else mock.signed()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{bot.url}/webhooks/teams/webhook", json=activity,
                      headers=headers, timeout=30)


def replies_to(mock, conversation, count, kind="message"):
    """The bot's activities of type ``kind`` (messages; or "typing", or None: all) in
    ``conversation``, once there are ``count``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = [a for a in mock.activities if a["conversation"]["id"] == conversation
               and (kind is None or a["type"] == kind)]
        if len(got) >= count:
            return got
        time.sleep(0.2)
    raise AssertionError(f"expected {count} replies in {conversation}, got {got}")


def test_typing_is_shown_while_the_reply_is_prepared(bot, mock):
    conv = f"a:{uuid.uuid4().hex}"
    assert post(bot, mock, mock.activity("Vad kostar en ny PUK-kod?",
                                         conversation=conv)).status_code == 200
    replies_to(mock, conv, 1)
    typing, message = replies_to(mock, conv, 2, kind=None)[:2]
    assert typing["type"] == "typing" and message["type"] == "message"
    assert typing["from"]["id"] == f"28:{mock.app_id}"


def test_the_bot_greets_when_it_is_added(bot, mock):
    conv = f"a:{uuid.uuid4().hex}"
    added = mock.activity("", conversation=conv, type="conversationUpdate",
                          membersAdded=[{"id": f"28:{mock.app_id}"}])
    added.pop("text")
    assert post(bot, mock, added).status_code == 200
    [welcome] = replies_to(mock, conv, 1)
    assert card_text(welcome) == rendered("utter_greet")


def test_someone_else_joining_gets_no_message(bot, mock):
    conv = f"a:{uuid.uuid4().hex}"
    other = mock.activity("", conversation=conv, type="conversationUpdate",
                          membersAdded=[{"id": "29:someone-else"}])
    assert post(bot, mock, other).status_code == 200
    time.sleep(2)
    assert not [a for a in mock.activities if a["conversation"]["id"] == conv]


def card_of(reply):
    [card] = reply["attachments"]
    assert card["contentType"] == ADAPTIVE_CARD
    return card["content"]


def card_text(reply) -> str:
    return "\n\n".join(block["text"] for block in card_of(reply)["body"])


def test_signed_activity_gets_an_adaptive_card_reply(bot, mock):
    conv = f"a:{uuid.uuid4().hex}"
    activity = mock.activity("Jag hittar inte kuvertet med mina koder", conversation=conv)
    assert post(bot, mock, activity).status_code == 200
    [reply] = replies_to(mock, conv, 1)
    assert reply["_path"] == f"/v3/conversations/{conv}/activities/{activity['id']}"
    assert reply["type"] == "message" and reply["replyToId"] == activity["id"]
    assert reply["recipient"]["id"] == activity["from"]["id"]
    assert card_text(reply) == rendered("utter_faq_tappat_koder")
    actions = card_of(reply)["actions"]
    payloads = {a["data"]["msteams"]["text"] for a in actions}
    assert {"/faq_puk_kostnad", "/order_puk"} <= payloads
    assert all(a["type"] == "Action.Submit" and a["data"]["msteams"]["type"] == "messageBack"
               for a in actions)
    # The bot got its token from the tenant's endpoint with client credentials.
    assert mock.token_requests[-1]["client_id"] == mock.app_id

    # Pressing a button: Teams posts the messageBack text (the payload).
    click = mock.activity("/faq_puk_kostnad", conversation=conv,
                          user=activity["from"]["id"], value={"payload": "/faq_puk_kostnad"})
    assert post(bot, mock, click).status_code == 200
    replies = replies_to(mock, conv, 2)
    assert "200 kr" in str(replies[-1])


def test_menade_du_is_an_adaptive_card_whose_choice_answers(bot, mock):
    unsure = find_unsure(bot, min_questions=2)
    conv = f"a:{uuid.uuid4().hex}"
    assert post(bot, mock, mock.activity(unsure, conversation=conv)).status_code == 200
    [question] = replies_to(mock, conv, 1)
    assert card_text(question) == rendered("utter_clarify")
    choices = card_of(question)["actions"]
    assert 3 <= len(choices) <= 4
    assert choices[-1]["title"] == "Inget av detta"
    assert choices[-1]["data"]["msteams"]["text"] == "/deny"
    # Teams posts the messageBack: the choice's payload as text, and its value.
    first = choices[0]["data"]
    click = mock.activity(first["msteams"]["text"], conversation=conv,
                          value={"payload": first["payload"]})
    assert post(bot, mock, click).status_code == 200
    answer = replies_to(mock, conv, 2)[-1]
    choice = first["payload"].lstrip("/")
    if choice.startswith("faq_"):
        shown = card_text(answer) if answer.get("attachments") else answer["text"]
        assert shown.startswith(rendered(f"utter_{choice}").split("\n\n")[0])


def test_a_card_request_in_the_chat_offers_the_card_tab(bot, mock):
    """Teams messages come from Microsoft's cloud: the bot cannot see the card from
    here, so it offers the app's tab "Kortet" (the widget with the card relay)."""
    conv = f"a:{uuid.uuid4().hex}"
    assert post(bot, mock, mock.activity("Är mitt kort uppgraderat?",
                                         conversation=conv)).status_code == 200
    reply = replies_to(mock, conv, 1)[0]
    content = card_of(reply)
    assert "fliken Kortet" in card_text(reply)
    [open_tab] = content["actions"]
    assert open_tab == {"type": "Action.OpenUrl", "title": "Öppna fliken Kortet",
                        "url": f"https://teams.microsoft.com/l/entity/{mock.app_id.lower()}/card"}


def test_the_apps_command_titles_are_understood(bot):
    """Teams sends a command from the app's command list as the user's message."""
    sys.path.insert(0, str(REPO / "teams"))
    try:
        import build_package
    finally:
        sys.path.remove(str(REPO / "teams"))
    manifest = build_package.manifest(str(uuid.uuid4()), "1.0.0", "https://intranat.example/tab")
    commands = manifest["bots"][0]["commandLists"][0]["commands"]
    understood = {c["title"]: bot.parse(c["title"])["intent"]["name"] for c in commands}
    assert understood == {"Vad behövs för att uppgradera?": "faq_vad_behovs",
                          "Vad kostar en PUK-kod?": "faq_puk_kostnad"}


def test_codes_are_masked_in_teams_too(bot, mock):
    conv = f"a:{uuid.uuid4().hex}"
    assert post(bot, mock, mock.activity("min pin är 482913", conversation=conv)).status_code == 200
    replies = replies_to(mock, conv, 1)
    assert replies[0]["text"] == teams_code_notice()
    assert "Microsoft 365" in teams_code_notice()
    assert "482913" not in bot.log_file.read_text()
    events = bot.tracker("29:user-1")["events"]
    assert not any("482913" in (e.get("text") or "") for e in events)


def test_unsigned_activity_is_refused_and_nothing_is_sent(bot, mock):
    conv = f"a:{uuid.uuid4().hex}"
    before = len(mock.activities)
    assert post(bot, mock, mock.activity("hej", conversation=conv), token="").status_code == 401
    forged = mock.signed(aud="another-bot")
    assert post(bot, mock, mock.activity("hej", conversation=conv), forged).status_code == 401
    time.sleep(1)
    assert len(mock.activities) == before


def test_rasa_starts_with_teams_configured_and_microsoft_unreachable(tmp_path):
    # The real Microsoft URLs (no route from this machine), and nothing listening.
    env = {"TEAMS_APP_ID": str(uuid.uuid4()), "TEAMS_APP_PASSWORD": "x",
           "TEAMS_TENANT_ID": str(uuid.uuid4()), "TEAMS_HTTP_TIMEOUT": "3"}
    with start_bot(tmp_path, env=env, actions=False) as bot:
        assert httpx.get(f"{bot.url}/webhooks/teams/").json() == {"status": "ok"}
        mock = MockMicrosoft(env["TEAMS_APP_ID"], "x", env["TEAMS_TENANT_ID"])
        try:
            started = time.monotonic()
            reply = post(bot, mock, mock.activity("hej"))
            assert reply.status_code == 503  # the Bot Connector retries later
            assert time.monotonic() - started < 15
            # The other channels still answer.
            rest = httpx.post(f"{bot.url}/webhooks/rest/webhook",
                              json={"sender": "t", "message": "Vad innebär tillitsnivåer?"},
                              timeout=30)
            assert "ISO/IEC 29115" in str(rest.json())
        finally:
            mock.close()
