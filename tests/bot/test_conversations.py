"""Conversation tests over the REST channel against the real Rasa server,
the trained model and the real action server."""

from __future__ import annotations

import sqlite3
import uuid

import httpx
import pytest

from bot.domain_texts import code_notice
from bot.faq_catalog import faq_catalog
from bot.site_config import load_site_config
from tests.bot.responses import buttons, joined, rendered
from tests.support.unsure import find_unsure

pytestmark = pytest.mark.stack

SEED_QUESTIONS = [
    (entry.intent, question)
    for entry in faq_catalog().values()
    for question in entry.questions
]


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize(("intent", "question"), SEED_QUESTIONS)
def test_every_seed_question_gets_its_own_answer(bot, intent, question):
    reply = bot.chat(new_sender(), question)
    assert joined(reply) == rendered(f"utter_{intent}")


@pytest.mark.parametrize(
    ("question", "facts"),
    [
        ("Vad kostar en ny PUK-kod?", ["200 kr", "verksamheten"]),
        ("Kostar det något att beställa en ny PUK-kod?", ["200 kr", "verksamheten"]),
        ("Hur har uppgraderingen gått i andra regioner?", ["30 000", "0,5 %"]),
        ("Vad innebär tillitsnivåer?", ["tillitsnivå 3", "NPÖ", "Pascal",
                                        "E-hälsomyndigheten", "ISO/IEC 29115"]),
        ("Kan uppgraderingen av certifikatet göras på telia- och skatteverkskort?",
         ["bara SITHS-kort"]),
        ("Mitt ordinarie SITHS-kort går ut snart, ska jag ladda ner det nya certifikatet?",
         ["30 november", "fotografering"]),
        ("Jag använder ett system som inte fungerar med det uppgraderade kortet",
         ["Hämta befintliga certifikat", "reservkort"]),
    ],
)
def test_answers_carry_the_seed_facts(bot, question, facts):
    text = joined(bot.chat(new_sender(), question))
    for fact in facts:
        assert fact in text


def test_where_the_faq_says_har_the_answer_links_to_the_configured_place(bot):
    links = load_site_config().links
    text = joined(bot.chat(new_sender(), "Vad gör jag om jag inte har kvar mina koder?"))
    assert f"]({links['puk_order']})" in text
    assert "{" not in text


def test_lost_codes_offers_the_natural_follow_ups(bot):
    reply = bot.chat(new_sender(), "Jag hittar inte kuvertet med mina koder")
    payloads = {b["payload"] for b in buttons(reply)}
    assert {"/faq_puk_kostnad", "/order_puk"} <= payloads
    follow_up = bot.chat(new_sender(), "/faq_puk_kostnad")
    assert "200 kr" in joined(follow_up)


@pytest.mark.parametrize(
    "question",
    [
        "Vad blir det för lunch idag?",
        "Hur återställer jag mitt Windows-lösenord?",
        "Hur fixar jag BankID på mobilen?",
        "VPN:en fungerar inte hemifrån",
        "Skrivaren på avdelningen skriver inte ut",
    ],
)
def test_questions_outside_the_faq_get_no_faq_answer(bot, question):
    reply = joined(bot.chat(new_sender(), question))
    faq_texts = {rendered(entry.response) for entry in faq_catalog().values()}
    assert reply not in faq_texts
    assert "tyvärr inte svara" in reply or "Menade du" in reply
    assert load_site_config().servicecenter.phone in reply or "Menade du" in reply


def test_lunch_and_windows_password_get_the_honest_no(bot):
    for question in ("Vad blir det för lunch idag?", "Hur återställer jag mitt Windows-lösenord?"):
        reply = joined(bot.chat(new_sender(), question))
        assert "tyvärr inte svara" in reply
        assert load_site_config().servicecenter.phone in reply


@pytest.fixture(scope="module")
def unsure_message(bot) -> str:
    """A message the trained NLU is unsure about (but that is about the card)."""
    return find_unsure(bot, min_questions=2)


def test_unsure_nlu_asks_menade_du_with_the_likeliest_questions(bot, unsure_message):
    sender = new_sender()
    reply = bot.chat(sender, unsure_message)
    assert "Menade du" in joined(reply)
    offered = buttons(reply)
    assert 2 <= len(offered) <= 4
    assert offered[-1] == {"title": "Inget av detta", "payload": "/deny"}
    # Choosing a suggestion answers that question.
    choice = offered[0]["payload"].lstrip("/")
    answer = joined(bot.chat(sender, offered[0]["payload"]))
    if choice.startswith("faq_"):
        assert answer == rendered(f"utter_{choice}")
    else:
        assert answer


def test_none_of_the_suggestions_leads_to_the_honest_no(bot, unsure_message):
    sender = new_sender()
    assert "Menade du" in joined(bot.chat(sender, unsure_message))
    reply = joined(bot.chat(sender, "/deny"))
    assert reply == rendered("utter_cannot_answer")


def test_a_second_miss_in_a_row_gets_the_honest_no(bot, unsure_message):
    sender = new_sender()
    assert "Menade du" in joined(bot.chat(sender, unsure_message))
    assert joined(bot.chat(sender, unsure_message)) == rendered("utter_cannot_answer")


@pytest.mark.parametrize(
    "message", ["Jag vill prata med en människa", "kan jag få ringa servicecenter?"]
)
def test_handoff_gives_the_servicecenter_contact(bot, message):
    reply = joined(bot.chat(new_sender(), message))
    sc = load_site_config().servicecenter
    assert sc.phone in reply and sc.email in reply


@pytest.mark.parametrize(
    "message",
    ["Kan du kontrollera mitt SITHS-kort?", "uppgradera mitt kort nu",
     "jag vill beställa en ny PUK-kod"],
)
def test_card_requests_without_the_card_agent_get_the_manual_route(bot, message):
    reply = joined(bot.chat(new_sender(), message))
    # The test stacks' last upgrade day is ahead: the instruction is named too.
    assert reply == "\n\n".join([rendered("utter_card_agent_unreachable"),
                                 rendered("utter_upgrade_yourself")])
    site = load_site_config()
    assert site.links["upgrade_instruction"] in reply and site.links["puk_order"] in reply
    assert site.servicecenter.phone in reply


CARD_ACTIONS = {"action_check_card", "action_upgrade_precheck", "action_start_upgrade",
                "action_upgrade_status", "action_puk_precheck", "action_order_puk"}


@pytest.mark.parametrize(
    "message",
    ["Jag har tappat mitt SITHS-kort", "mitt tjänstekort blev stulet ur väskan i helgen",
     "hittar inte kortet nånstans, tror det är borta"],
)
def test_a_lost_or_stolen_card_gets_servicecenter_and_the_card_is_not_touched(bot, message):
    sender = new_sender()
    reply = joined(bot.chat(sender, message))
    assert reply == rendered("utter_lost_card")
    assert load_site_config().servicecenter.phone in reply
    ran = {e.get("name") for e in bot.tracker(sender)["events"] if e.get("event") == "action"}
    assert not ran & CARD_ACTIONS, ran


def test_lost_codes_told_as_a_story_get_the_lost_codes_answer(bot):
    # Seen in the widget (issue 13): this got the "only a PUK" answer.
    message = "jag har slarvat bort brevet med koderna, hur gör jag nu"
    reply = joined(bot.chat(new_sender(), message))
    assert reply == rendered("utter_faq_tappat_koder")


def test_is_my_card_upgraded_checks_the_card_rather_than_upgrading(bot):
    # Seen in the widget (issue 13): this was taken as a request to start the upgrade.
    sender = new_sender()
    bot.chat(sender, "Är mitt kort uppgraderat nu?")
    ran = [e.get("name") for e in bot.tracker(sender)["events"] if e.get("event") == "action"]
    assert "action_check_card" in ran and "action_upgrade_precheck" not in ran, ran


def test_greeting_and_goodbye(bot):
    sender = new_sender()
    assert joined(bot.chat(sender, "Hej!")) == rendered("utter_greet")
    assert joined(bot.chat(sender, "tack så mycket")) == rendered("utter_you_are_welcome")
    assert joined(bot.chat(sender, "hej då")) == rendered("utter_goodbye")


SECRETS = ["482913", "19121212-1212", "87654321"]


def test_codes_are_masked_before_rasa_stores_or_logs_them(bot):
    sender = new_sender()
    reply = bot.chat(sender, f"min pin är {SECRETS[0]} och den funkar inte")
    assert reply[0]["text"] == code_notice()
    reply = bot.chat(sender, f"mitt personnummer är {SECRETS[1]}, puk {SECRETS[2]}")
    assert reply[0]["text"] == code_notice()
    # The conversation went on: the masked text reached Rasa.
    with sqlite3.connect(bot.tracker_db) as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ?", (sender,)
        ).fetchall()
    stored = "\n".join(r[0] for r in rows)
    assert "[dold kod]" in stored and "[dolt personnummer]" in stored
    logs = bot.log_file.read_text() + bot.stdout_file.read_text()
    for secret in SECRETS:
        assert secret not in stored
        assert secret not in logs


def test_years_and_prices_are_not_masked(bot):
    reply = bot.chat(new_sender(), "Kan uppgradering av kort göras efter 2020?")
    assert reply[0]["text"] != code_notice()
    assert joined(reply) == rendered("utter_faq_uppgradera_efter_2020")


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"message": "hej"}', b'{"sender": "a", "message": 42}',
     b'{"sender": "", "message": "hej"}'],
)
def test_bad_rest_requests_get_a_clear_400(bot, body):
    reply = httpx.post(f"{bot.url}/webhooks/rest/webhook", content=body,
                       headers={"Content-Type": "application/json"}, timeout=10)
    assert reply.status_code == 400


@pytest.mark.parametrize("message", ["", "   ", "😀😀😀", "<script>alert(1)</script>", "x" * 10000])
def test_odd_messages_get_a_sane_reply(bot, message):
    reply = bot.chat(new_sender(), message)
    assert isinstance(reply, list)
    for m in reply:
        assert "Traceback" not in m.get("text", "")
