"""The wording of the card states: Swedish explanations, next steps and warnings.

The next steps follow the region's upgrade FAQ (Frågor och svar); ``faq`` names the FAQ
question each advice comes from so that the bot can link to it. The facts behind the words
are decided in cardagent/classify/facts.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

FAQ_UPGRADE = "Vad förväntas jag som medarbetare göra?"
FAQ_CODES = "Vad gör jag om jag inte har kvar mina koder?"
FAQ_PUK_COST = "Kostar det något att beställa en ny PUK-kod?"
FAQ_EXPIRING = "Mitt ordinarie SITHS-kort går ut snart, ska jag ladda ner det nya certifikatet?"
FAQ_OLD_CARD = (
    "Vad händer om jag varit tjänstledig och kommer tillbaks 2021 med ett gammalt kort? "
    "Vilket stöd kan jag få då?"
)
FAQ_AFTER_DEADLINE = "Kan uppgradering av kort göras efter 2020?"
FAQ_CHOOSE_CERT = "Varför får jag upp ett fönster om att välja certifikat?"
FAQ_SYSTEM_NOT_WORKING = "Jag använder ett system som inte fungerar med det uppgraderade kortet"
FAQ_LEVELS = "Vad innebär tillitsnivåer?"
FAQ_OTHER_CARDS = "Kan uppgraderingen av certifikatet göras på telia- och skatteverkskort?"

PIN_NAMES_SV = {
    "legitimering": "legitimeringskoden",
    "underskrift": "signeringskoden (underskrift)",
}

PUK_ADVICE = (
    "Har du inte kvar PUK-koden måste du beställa en ny PUK-kod. Det kostar ca 200 kr och det är "
    "verksamheten du jobbar inom som står för kostnaden, så leta först efter kuvertet med dina "
    "koder."
)


@dataclass(frozen=True)
class NextStep:
    action: str
    text: str
    faq: str | None = None


@dataclass(frozen=True)
class Warning:
    code: str
    text: str


Wording = tuple[str, NextStep]  # (explanation, next step)


def pin_name(role: str | None) -> str:
    return PIN_NAMES_SV.get(role or "", "PIN-koden")


def _join_sv(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " och " + items[-1]


def _date_sv(when: dt.datetime) -> str:
    return when.date().isoformat()


# --- before any certificate is read ---------------------------------------------------------


def no_reader() -> Wording:
    return "Ingen kortläsare hittades på datorn.", NextStep(
        "connect_reader",
        "Anslut kortläsaren till datorn (prova gärna en annan USB-port) och försök igen. "
        "Hittas den fortfarande inte, kontakta IT-support.",
    )


def no_card() -> Wording:
    return "Kortläsaren hittades, men det sitter inget kort i den.", NextStep(
        "insert_card", "Sätt i ditt SITHS-kort i kortläsaren och försök igen."
    )


def not_a_siths_card() -> Wording:
    return (
        "Kortet i läsaren har inga SITHS-certifikat. Det kan vara ett annat kort, till exempel "
        "ett Telia- eller Skatteverkskort, eller ett kort utan certifikat."
    ), NextStep(
        "insert_siths_card",
        "Kontrollera att det är ditt SITHS-kort som sitter i läsaren. Är det ditt SITHS-kort, "
        "kontakta Servicecenter. Bara SITHS-kort kan uppgraderas med SITHS e-id-certifikatet.",
        FAQ_OTHER_CARDS,
    )


# --- a SITHS card -----------------------------------------------------------------------------


def expired(latest: dt.datetime) -> Wording:
    return (
        f"Certifikaten på kortet gick ut {_date_sv(latest)}. Kortet kan inte längre användas "
        "för att logga in."
    ), NextStep("order_new_card", "Du behöver ett nytt kort. Kontakta Servicecenter.", FAQ_OLD_CARD)


def pin_blocked(roles: list[str]) -> Wording:
    names = _join_sv([pin_name(r) for r in roles])
    return (
        f"{names[0].upper()}{names[1:]} på kortet är spärrad efter för många felaktiga försök."
    ), NextStep(
        "unblock_pin",
        "Lås upp koden med din PUK-kod; med PUK-koden väljer du sedan en ny kod. " + PUK_ADVICE,
        FAQ_CODES,
    )


def expiring_soon(days_left: int, earliest: dt.datetime, upgradable: bool) -> Wording:
    when = (
        f"om {days_left} dagar ({_date_sv(earliest)})"
        if days_left > 0
        else f"inom ett dygn ({_date_sv(earliest)})"
    )
    if upgradable:
        step = NextStep(
            "upgrade_or_wait_for_new_card",
            "Eftersom kortet går ut snart kan du välja om du vill uppgradera kortet eller vänta "
            "tills du får ditt nya kort, som då redan är uppgraderat. När du får mail om att det "
            "är dags att byta kort måste du omgående beställa tid för fotografering. Väljer du "
            "att beställa ett nytt kort kontaktar du Servicecenter.",
            FAQ_EXPIRING,
        )
    else:
        step = NextStep(
            "renew_card",
            "Ditt nya kort kommer redan uppgraderat. När du får mail om att det är dags att byta "
            "kort måste du omgående beställa tid för fotografering, så att du hinner få ut det "
            "nya kortet innan det gamla går ut. Vill du beställa ett nytt kort kontaktar du "
            "Servicecenter.",
            FAQ_EXPIRING,
        )
    return f"Kortets certifikat går ut {when}.", step


def not_upgraded(deadline_passed: bool) -> Wording:
    if deadline_passed:
        step = NextStep(
            "order_new_card",
            "Kortet har inte uppgraderats i tid och kan inte längre uppgraderas. Du behöver ett "
            "nytt kort. Kontakta Servicecenter.",
            FAQ_AFTER_DEADLINE,
        )
    else:
        step = NextStep(
            "upgrade",
            "Uppgradera kortet genom att följa instruktionen för uppgradering. Du behöver kortet "
            "och båda dina koder (legitimering och signering) som du fick hemskickade med "
            "kortet. Har du inte kvar koderna måste du först beställa en ny PUK-kod och med den "
            "skapa nya koder.",
            FAQ_UPGRADE,
        )
    return (
        "Kortet har bara de gamla SITHS-certifikaten och är inte uppgraderat till SITHS e-id "
        "(tillitsnivå 3). Det fungerar för vissa tjänster, men inte för tjänster som kräver "
        "tillitsnivå 3, till exempel NPÖ och Pascal."
    ), step


def replacement_level2() -> Wording:
    return (
        "Kortet är ett reservkort med certifikat på tillitsnivå 2. Tjänster som kräver "
        "tillitsnivå 3, till exempel NPÖ och Pascal, går inte att logga in i med det, och "
        "reservkort kan inte uppgraderas."
    ), NextStep(
        "use_regular_card",
        "Använd ditt ordinarie, uppgraderade SITHS-kort för tjänster som kräver tillitsnivå 3. "
        "Har du inget sådant kort, kontakta Servicecenter.",
        FAQ_LEVELS,
    )


def upgraded_with_old_restored() -> Wording:
    return (
        "Kortet är uppgraderat till SITHS e-id (tillitsnivå 3) och har dessutom det gamla "
        "certifikatparet återställt via Mina sidor (”Hämta befintliga certifikat”)."
    ), NextStep(
        "none",
        "Du behöver inte göra något. Det gamla certifikatet är till för system som inte "
        "fungerar med det uppgraderade kortet. Får du upp ett fönster om att välja certifikat, "
        "välj det certifikat som systemet kräver.",
        FAQ_SYSTEM_NOT_WORKING,
    )


def upgraded(authentication_only: bool) -> Wording:
    if authentication_only:
        explanation = (
            "Kortet har SITHS e-id-certifikat på tillitsnivå 3 för legitimering (inga "
            "certifikat för underskrift), som nyare kort."
        )
    else:
        explanation = (
            "Kortet är uppgraderat till SITHS e-id med tillitsnivå 3: det har certifikat med "
            "ditt HSA-id och certifikat med ditt personnummer."
        )
    return explanation, NextStep(
        "none",
        "Du behöver inte göra något. Får du upp ett fönster om att välja certifikat beror det "
        "på att kortet har ett certifikat med HSA-id och ett med personnummer; följ "
        "instruktionen för hur du väljer certifikat.",
        FAQ_CHOOSE_CERT,
    )


# --- warnings -----------------------------------------------------------------------------------


def pin_final_try(role: str | None) -> Warning:
    return Warning(
        "pin_final_try",
        f"Det finns bara ett försök kvar för {pin_name(role)}. Skriver du fel en gång till "
        "spärras koden och du behöver din PUK-kod för att låsa upp den.",
    )


def pin_count_low(role: str | None, retries_left: int | None) -> Warning:
    left = f" ({retries_left} försök kvar)" if retries_left is not None else ""
    return Warning(
        "pin_count_low",
        f"Fel kod har angetts för {pin_name(role)}{left}. Var noga nästa gång.",
    )


WARNINGS = {
    "some_certificates_expired": "Ett eller flera av certifikaten på kortet har gått ut.",
    "identifier_invalid": "Ett certifikat har ett HSA-id eller personnummer som inte är giltigt.",
    "certificate_set_incomplete": (
        "Kortet saknar något av certifikaten som ett uppgraderat kort brukar ha. Kontakta "
        "Servicecenter om du får problem att logga in."
    ),
}


def warning(code: str) -> Warning:
    """A warning about the certificates (the PIN warnings: :func:`pin_final_try` etc.)."""
    return Warning(code, WARNINGS[code])
