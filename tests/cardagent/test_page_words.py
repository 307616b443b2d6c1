"""The words of the agent's own pages (unit tier): every case of every template, rendered.

The pages' Swedish lives only in the templates (cardagent/templates/). Each case is checked
for the glossary's words (signeringskod, spärrad, kortprogrammet, ta ut kortet,
Servicecenter) and against the claims the FAQ page does not make. The pages as the app serves
them are checked on the in-memory card at the end; the browser tests drive them for real
(security/test_agent_pages.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cardagent.pages.render import ERRORS, TEMPLATES, render_html
from cardagent.upgrade.steps import STEPS
from devtools.pki import TestPKI
from tests.cardagent.memcard import MemoryCardService, memory_app, memory_settings

REGION = "Region Exempel"
ROLES = ("legitimering", "underskrift", None)
WAITING_CODES = ("wrong_pin", "card_removed", "agent_restarted", "card_busy", "pin_page_expired")
END_CODES = (
    "pin_blocked",
    "enrollment_unavailable",
    "enrollment_rejected",
    "certificate_check_failed",
    "token_error",
    "card_object_unidentified",
    "internal_error",
)

# Never in a page (the glossary's "not ours", and claims the FAQ page does not make).
FORBIDDEN = [
    r"[Uu]nderskrift",
    r"\bPIN\b",
    r"[Pp]inkod",
    r"[Ll]ås",  # låst, låses, låser upp
    r"[Bb]lockerad",
    r"[Kk]ortagent",
    r"\bagenten\b",
    r"[Kk]orttjänst",
    r"pcscd",
    r"IT-support",
    r"[Hh]elpdesk",
    r"supporten",
    r"[Kk]ortadministration",
    r"\bta ur\b|\btogs ur\b",
    r"\bmail\b|e-mail",
    r"USB",
    r"[Ss]tarta om datorn",
    r"rekommenderat brev",
    r"hemadress",
    r"[Tt]re fel i rad",
    r"som nyare kort",
    r"Mina sidor",
    r"[Vv]ar noga",
    r"(?-i:\bFel [a-zåäö]+koden\b)",
    r"\bom 1 dagar\b",
    r"[a-zåäö], kontakta",  # an English-style comma before the main clause
    r"reservkort",
    r"\bcert\b",
    r"\w: [a-zåäö]",  # "X: gör Y" where Swedish wants a subordinate clause
    r"[Kk]ortet gav",  # an anglicism ("the card gave an error")
]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:  # noqa: ARG002
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible(html: str) -> str:
    """The text a person reads (no tags, no attribute values), whitespace folded; " ¶ "
    between the pieces of text of different elements."""
    parser = _Text()
    parser.feed(html)
    parts = (re.sub(r"\s+", " ", p).strip() for p in parser.parts)
    return " ¶ ".join(p for p in parts if p)


def words_ok(html: str) -> str:
    text = visible(html)
    for pattern in FORBIDDEN:
        assert not re.search(pattern, text, re.IGNORECASE), f"{pattern!r} in: {text}"
    assert "{{" not in text and "{%" not in text
    return text


def pin_form(**ctx: object) -> str:
    base = {
        "job_id": "0123456789abcdef",
        "csrf": "c",
        "fields": [{"role": r, "ppad": False, "invalid": False} for r in ROLES[:2]],
        "form_error": None,
        "final_try_roles": [],
        "pin_min": 4,
        "pin_max": 12,
        "error_code": None,
        "error_role": None,
        "retries_left": None,
        "refresh": None,
    }
    return render_html("pin_form.html", REGION, **{**base, **ctx})


def pin_status(status: str, **ctx: object) -> str:
    base = {
        "job_status": status,
        "active": status in ("running", "waiting_for_card"),
        "step": None,
        "progress": 40,
        "error_code": None,
        "error_role": None,
        "retries_left": None,
        "refresh": None,
    }
    return render_html("pin_status.html", REGION, **{**base, **ctx})


def test_the_check_catches_what_it_should() -> None:
    for bad in (
        "<p>Underskriftskod</p>",
        "<p>Koden är låst.</p>",
        "<p>Fel legitimeringskoden.</p>",
        "<p>Behöver du hjälp, kontakta Servicecenter.</p>",
        "<p>Kontakta IT-support.</p>",
        "<p>Ta ur kortet.</p>",
        "<p>Går det inte: börja om från chatten.</p>",
    ):
        with pytest.raises(AssertionError):
            words_ok(bad)
    assert words_ok('<input name="pin_underskrift"><p>Signeringskod</p>') == "Signeringskod"


def test_pin_form_before_any_code() -> None:
    text = words_ok(pin_form())
    assert "Legitimeringskod" in text and "Signeringskod" in text
    # nothing has started before the codes are typed
    assert "börjar först när du har skrivit in dina koder" in text
    assert "har startat" not in text and "Kortprogrammet uppgraderar" not in text
    assert "Skriv in din legitimeringskod och din signeringskod." in text
    # the certificates in the plural throughout (the old pair goes, two new ones come)
    assert "De gamla certifikaten på kortet ersätts med två nya" in text
    hint = "Koden ska vara 4–12 siffror. Koderna används bara här på datorn och sparas inte."
    assert hint in text
    # no codes at hand: look for them first, no PUK order pushed
    assert "Leta upp kuvertet" in text
    assert "beställ" not in text.lower() and "PUK" not in text


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("left", [2, 1, None])
def test_wrong_pin_is_a_whole_sentence_per_code(role: str | None, left: int | None) -> None:
    text = words_ok(pin_form(error_code="wrong_pin", error_role=role, retries_left=left))
    first = {
        "legitimering": "Legitimeringskoden var fel.",
        "underskrift": "Signeringskoden var fel.",
        None: "En av koderna var fel.",
    }[role]
    tries = f" Du har {left} försök kvar." if left else ""
    assert f"{first}{tries} Skriv in dina koder igen." in text


@pytest.mark.parametrize("code", WAITING_CODES[1:])
def test_waiting_again_says_why(code: str) -> None:
    text = words_ok(pin_form(error_code=code))
    assert re.search(r"skriv (sedan )?in dina koder", text.lower())
    assert "Skriv dina koder" not in text
    if code in ("card_removed", "agent_restarted"):
        assert "Kortet fungerar som förut" in text
    if code == "card_removed":
        assert "Kortet togs ut" in text and "Sätt i samma SITHS-kort igen" in text
    if code == "card_busy":
        assert "Kortet var upptaget av en annan uppgradering" in text


@pytest.mark.parametrize("role", ROLES[:2])
def test_pin_pad_reader_is_a_whole_sentence_per_code(role: str) -> None:
    fields = [{"role": role, "ppad": True, "invalid": False}]
    text = words_ok(pin_form(fields=fields))
    code = {"legitimering": "Legitimeringskoden", "underskrift": "Signeringskoden"}[role]
    assert f"{code} skriver du in på kortläsarens knappsats när läsaren ber om den." in text


def test_final_try_step_and_note() -> None:
    one = words_ok(
        render_html(
            "pin_final_try.html", REGION, job_id="x", csrf="c", roles=["underskrift"], refresh=None
        )
    )
    assert f"Kortprogrammet på den här datorn ¶ {REGION}" in one
    assert "Koden spärras om den blir fel" in one
    assert "Signeringskoden har bara ett försök kvar. Blir den fel en gång till spärras den." in one
    assert "Är du osäker på koden kan du avbryta och först leta upp kuvertet med dina koder." in one
    assert "Spärras koden kan du välja nya koder med din PUK-kod." in one
    assert "Jag är säker på koden – fortsätt" in one
    assert "beställ" not in one.lower() and "kr" not in one.split()
    both = words_ok(
        render_html(
            "pin_final_try.html",
            REGION,
            job_id="x",
            csrf="c",
            roles=["legitimering", "underskrift"],
            refresh=None,
        )
    )
    assert "Koderna spärras om de blir fel" in both
    assert (
        "Både legitimeringskoden och signeringskoden har bara ett försök kvar. "
        "Blir någon av dem fel en gång till spärras den." in both
    )
    assert "Spärras en av koderna kan du välja nya koder med din PUK-kod." in both
    assert "Jag är säker på koderna – fortsätt" in both
    note = words_ok(pin_form(final_try_roles=["legitimering"], error_code="pin_final_try"))
    assert "Legitimeringskoden har bara ett försök kvar." in note


def test_pin_format_error_is_worded_in_the_template() -> None:
    text = words_ok(pin_form(form_error="pin_format"))
    assert (
        "En kod ska vara 4–12 siffror och får bara innehålla siffrorna 0–9. "
        "Inget skickades till kortet. Skriv in dina koder igen." in text
    )


@pytest.mark.parametrize("step", [*STEPS, None])
def test_running_names_the_step(step: str | None) -> None:
    text = words_ok(pin_status("running", step=step))
    assert "Uppgraderingen pågår" in text and "Ta inte ut kortet" in text
    doing = re.search(r"Kortprogrammet (kontrollerar|skapar|hämtar|sparar|tar bort) ", text)
    assert bool(doing) == (step is not None)


def test_waiting_for_card_and_the_good_ends() -> None:
    waiting = words_ok(pin_status("waiting_for_card"))
    assert "Sätt i samma kort igen" in waiting and "Sätt i samma SITHS-kort igen" in waiting
    assert "Ta inte ut kortet" not in waiting  # it is out
    done = words_ok(pin_status("succeeded"))
    assert "Uppgraderingen är klar" in done and "HSA-id" in done and "personnummer" in done
    assert "De gamla certifikaten är borttagna. Nu kan du ta ut kortet." in done
    assert "Servicecenter" not in done
    assert "Kortet fungerar som förut" in words_ok(pin_status("cancelled"))


@pytest.mark.parametrize("code", END_CODES)
@pytest.mark.parametrize("status", ["failed", "rolled_back"])
def test_failures_say_what_is_known_and_point_to_servicecenter(code: str, status: str) -> None:
    for role in ROLES:
        text = words_ok(pin_status(status, error_code=code, error_role=role))
        assert "Uppgraderingen blev inte klar" in text and "Servicecenter" in text
        assert text.count("Servicecenter") == 1
        # Servicecenter as the next step only where nothing else is; else as help
        then = {
            "enrollment_rejected",
            "certificate_check_failed",
            "card_object_unidentified",
        }
        assert ("Kontakta Servicecenter." in text) == (code in then)
    text = words_ok(pin_status(status, error_code=code, error_role="underskrift"))
    said = {
        "pin_blocked": "Signeringskoden är spärrad, så uppgraderingen kunde inte göras. "
        "Du kan välja nya koder med din PUK-kod.",
        "enrollment_rejected": "Certifikattjänsten godkände inte uppgraderingen.",
        "token_error": "Det blev ett oväntat fel med kortet, så uppgraderingen blev inte klar.",
        "card_object_unidentified": "Uppgraderingen stoppades eftersom något på kortet inte "
        "gick att känna igen säkert. Inget på kortet har ändrats, och dina gamla certifikat "
        "finns kvar.",
    }
    assert said.get(code, "") in text
    assert "beställ" not in text.lower()


def order_confirm(manual_url: str | None) -> str:
    card = {"name": "Tessa Testsson", "hsa_id": "SE1", "organisation": "Org", "serial": "9"}
    return render_html(
        "order_confirm.html",
        REGION,
        order_id="x",
        csrf="c",
        cost_sek=200,
        manual_url=manual_url,
        card=card,
        refresh=None,
    )


def test_codes_are_typed_only_on_the_page_for_the_codes() -> None:
    typed_here = "Koderna skrivs bara in på den här sidan"
    assert typed_here in words_ok(pin_form())
    assert typed_here in words_ok(pin_status("running"))
    assert typed_here not in words_ok(order_confirm(None))
    error = render_html("error.html", REGION, error="internal", area="pin", refresh=None)
    assert typed_here not in words_ok(error) and "Skriv aldrig dina koder i chatten." in error


def test_order_page_states_the_cost_once_and_invents_no_delivery() -> None:
    text = words_ok(order_confirm(None))
    assert (
        "En ny PUK-kod kostar ca 200 kr, och det är den verksamhet du jobbar inom som betalar."
        in text
    )
    # the person has chosen to order: a plain fact, not "försök verkligen"
    assert "Hittar du kuvertet med dina koder behöver du ingen ny PUK-kod." in text
    assert "verkligen" not in text
    assert "Namn ¶ Tessa Testsson" in text
    assert len(re.findall(r"\bkr\b", text)) == 1 and "200" not in text.replace("ca 200 kr", "")
    assert "manual" not in text and "brev" not in text and "post" not in text.lower()
    linked = order_confirm("https://intranet.region.test/manual")
    assert 'href="https://intranet.region.test/manual"' in linked
    assert "manualen för att beställa koder" in words_ok(linked)


@pytest.mark.parametrize("status", ["queued", "delivered", "cancelled", "rejected"])
@pytest.mark.parametrize("manual_url", [None, "https://intranet.region.test/manual"])
def test_order_status_pages(status: str, manual_url: str | None) -> None:
    html = render_html(
        "order_status.html",
        REGION,
        order_status=status,
        reference="PUK-1",
        retrying=False,
        manual_url=manual_url,
        refresh=None,
    )
    text = words_ok(html)
    assert ("manualen för att beställa koder" in text) == (
        manual_url is not None and status in ("queued", "delivered")
    )
    assert "kr" not in text.split()  # the cost was stated once, on the order page
    if status in ("queued", "delivered", "rejected"):
        assert "PUK-1" in text and "Servicecenter" in text
    title = {
        "queued": "Beställningen är lagd",  # the chat: "Din beställning ... är lagd"
        "delivered": "Beställningen är skickad",
        "cancelled": "Beställningen avbröts",
        "rejected": "Beställningen kunde inte tas emot",
    }[status]
    assert text.count(title) == 2  # <title> and <h1>
    assert "mottagen" not in text  # reads as if the PUK-kod had arrived
    if status in ("queued", "delivered"):
        assert "kan du välja nya legitimerings- och signeringskoder med den." in text


@pytest.mark.parametrize("kind", sorted(ERRORS))
@pytest.mark.parametrize("area", ["pin", "orders", ""])
def test_error_pages(kind: str, area: str) -> None:
    key = ERRORS[kind].template_key
    text = words_ok(render_html("error.html", REGION, error=key, area=area, refresh=None))
    assert "Vad gör jag nu?" in text and "kontakta Servicecenter" in text
    nothing_done = {
        "pin": "Inget har ändrats på ditt kort.",
        "orders": "Ingen PUK-kod har beställts.",
        "": "Inget har gjorts.",
    }[area]
    assert text.count(nothing_done) == (0 if key == "internal" else 1), text
    assert "gjorde ingenting" not in text


@pytest.mark.parametrize(
    ("key", "title", "said"),
    [
        ("wrong_origin", "Det gick inte att skicka", "Formuläret kom inte från"),
        ("too_large", "Det du skickade var för långt", "Går det ändå inte kan du börja om"),
        ("method", "Sidan kan inte öppnas på det här sättet", "Öppna sidan från länken"),
        ("link_used", "Länken har redan använts", "Hittar du inte det fönstret går du tillbaka"),
        ("other_user", "Sidan hör till en annan användare", "från ett annat användarkonto"),
    ],
)
def test_error_page_titles_and_words(key: str, title: str, said: str) -> None:
    text = words_ok(render_html("error.html", REGION, error=key, area="pin", refresh=None))
    assert text.count(title) == 2 and said in text


def test_every_template_is_covered() -> None:
    covered = {
        "base.html",
        "error.html",
        "opening.html",
        "order_confirm.html",
        "order_status.html",
        "pin_final_try.html",
        "pin_form.html",
        "pin_status.html",
        "pin_texts.html",
    }
    assert {p.name for p in TEMPLATES.glob("*.html")} == covered
    words_ok(render_html("opening.html", REGION, refresh_url="/pin/x", refresh=None))


def test_no_swedish_in_the_agents_python() -> None:
    """The pages' words are in the templates; the Python modules pass facts (the token
    file's start-up refusal, printed to the console in both languages, is the one exception)."""
    src = Path(TEMPLATES).parent
    hits = [
        f"{p.relative_to(src)}:{n}"
        for p in sorted(src.rglob("*.py"))
        if p.name != "tokenfile.py"
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"[åäöÅÄÖ]", line)
    ]
    assert hits == []


# --- as the app serves them -------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return TestPKI(tmp_path_factory.mktemp("memory-pki"))


@pytest.fixture()
def agent(pki: TestPKI, tmp_path: Path) -> Iterator[tuple[TestClient, MemoryCardService]]:
    settings = memory_settings(
        tmp_path / "data",
        region_name=REGION,
        upgrade={"est_url": "https://est.example.test/.well-known/est"},
        puk_orders={"manual_url": "https://intranet.region.test/siths/manual", "cost_sek": 250},
    )
    with memory_app(settings, pki) as pair:
        yield pair


def _open(client: TestClient, url: str) -> str:
    path = url.removeprefix("http://127.0.0.1:8765")
    r = client.get(path, headers={"Authorization": ""})
    assert r.status_code == 200, r.text
    return r.text


def test_pin_page_shows_the_jobs_error_in_words(agent) -> None:  # noqa: ANN001
    client, card = agent
    card.insert("old")
    job = client.post("/v1/upgrade", json={}).json()
    client.app.state.upgrades.jobs.to_waiting(job["job_id"], "wrong_pin", "underskrift", 2)
    text = words_ok(_open(client, job["pin_page_url"]))
    assert "Signeringskoden var fel. Du har 2 försök kvar. Skriv in dina koder igen." in text
    assert REGION in text


def test_final_try_from_the_cards_counter(agent) -> None:  # noqa: ANN001
    client, card = agent
    card.insert("old", underskrift=1)
    job = client.post("/v1/upgrade", json={}).json()
    text = words_ok(_open(client, job["pin_page_url"]))
    assert "Koden spärras om den blir fel" in text and "Signeringskoden har bara" in text


def test_order_page_from_the_settings(agent) -> None:  # noqa: ANN001
    client, card = agent
    card.insert("old")
    order = client.post("/v1/puk-orders", json={}).json()
    html = _open(client, order["confirm_page_url"])
    text = words_ok(html)
    assert "En ny PUK-kod kostar ca 250 kr," in text and "Tessa Testsson" in text
    assert 'href="https://intranet.region.test/siths/manual"' in html
