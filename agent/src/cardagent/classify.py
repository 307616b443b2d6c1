"""Classify what is in the reader into one state, with a Swedish explanation and next step.

The next steps follow the region's upgrade FAQ (Frågor och svar); ``faq`` names the FAQ
question each advice comes from so that the bot can link to it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cardagent.assurance import FAMILY_EID, FAMILY_LEGACY
from cardagent.certinfo import CertInfo
from cardagent.pcsc import ReaderState

STATES = (
    "no_reader",
    "no_card",
    "not_upgraded",
    "upgraded",
    "upgraded_with_old_restored",
    "replacement_level2",
    "expiring_soon",
    "expired",
    "pin_blocked",
    "not_a_siths_card",
)

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
class PinStatus:
    role: str | None  # "legitimering", "underskrift" or None if the token label does not say
    status: str  # "ok", "count_low", "final_try", "locked"
    retries_left: int | None
    sources: tuple[str, ...]


@dataclass(frozen=True)
class NextStep:
    action: str
    text: str
    faq: str | None = None


@dataclass(frozen=True)
class Warning:
    code: str
    text: str


@dataclass
class Classification:
    state: str
    explanation: str
    next_step: NextStep
    base_state: str | None = None
    warnings: list[Warning] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


def _pin_name(role: str | None) -> str:
    return PIN_NAMES_SV.get(role or "", "PIN-koden")


def _join_sv(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " och " + items[-1]


def _content_state(certs: list[CertInfo]) -> tuple[str, list[CertInfo]]:
    """The card type from its SITHS certificates, and the certificates that define it."""
    eid3 = [c for c in certs if c.ca_family == FAMILY_EID and (c.assurance_level or 0) >= 3]
    eid_other = [c for c in certs if c.ca_family == FAMILY_EID and c.assurance_level is None]
    eid2 = [c for c in certs if c.ca_family == FAMILY_EID and c.assurance_level == 2]
    legacy = [c for c in certs if c.ca_family == FAMILY_LEGACY]
    if eid3 or eid_other:
        group = eid3 or eid_other
        return ("upgraded_with_old_restored" if legacy else "upgraded"), group
    if eid2:
        return "replacement_level2", eid2
    return "not_upgraded", legacy


def _profile(group: list[CertInfo]) -> dict[str, Any]:
    hsa = [c for c in group if c.identifier.kind == "hsa_id"]
    pnr = [c for c in group if c.identifier.is_personal_number]
    signature = [c for c in group if c.purpose == "signature"]
    if not signature and group:
        profile = "authentication_only"
    elif (
        hsa
        and pnr
        and all(
            any(c.purpose == p for c in ids)
            for ids in (hsa, pnr)
            for p in ("authentication", "signature")
        )
    ):
        profile = "hsa_and_personnummer_pairs"
    elif hsa and not pnr:
        profile = "hsa_id_only"
    else:
        profile = "incomplete"
    return {
        "has_hsa_id": bool(hsa),
        "has_personnummer": bool(pnr),
        "has_samordningsnummer": any(c.identifier.kind == "samordningsnummer" for c in group),
        "certificate_profile": profile,
    }


def _date_sv(when: dt.datetime) -> str:
    return when.date().isoformat()


def classify(
    *,
    readers: list[ReaderState],
    card_reader: ReaderState | None,
    certificates: list[CertInfo],
    pins: list[PinStatus],
    now: dt.datetime,
    expiry_warning_days: int,
    upgrade_deadline: dt.date | None = None,
) -> Classification:
    """Pick exactly one state (see STATES) for what the agent found."""
    if not readers:
        return Classification(
            state="no_reader",
            explanation="Ingen kortläsare hittades på datorn.",
            next_step=NextStep(
                "connect_reader",
                "Anslut kortläsaren till datorn (prova gärna en annan USB-port) och försök igen. "
                "Hittas den fortfarande inte, kontakta IT-support.",
            ),
        )
    if card_reader is None:
        return Classification(
            state="no_card",
            explanation="Kortläsaren hittades, men det sitter inget kort i den.",
            next_step=NextStep(
                "insert_card", "Sätt i ditt SITHS-kort i kortläsaren och försök igen."
            ),
        )

    siths = [c for c in certificates if c.is_siths]
    if not siths:
        return Classification(
            state="not_a_siths_card",
            explanation=(
                "Kortet i läsaren har inga SITHS-certifikat. Det kan vara ett annat kort, till "
                "exempel "
                "ett Telia- eller Skatteverkskort, eller ett kort utan certifikat."
            ),
            next_step=NextStep(
                "insert_siths_card",
                "Kontrollera att det är ditt SITHS-kort som sitter i läsaren. Är det ditt "
                "SITHS-kort, "
                "kontakta Servicecenter. Bara SITHS-kort kan uppgraderas med SITHS "
                "e-id-certifikatet.",
                FAQ_OTHER_CARDS,
            ),
            facts={"certificate_count": len(certificates)},
        )

    warnings: list[Warning] = []
    valid = [c for c in siths if c.not_after >= now]
    base_state, group = _content_state(valid or siths)
    facts: dict[str, Any] = _profile(group)
    levels = [c.assurance_level for c in group if c.assurance_level is not None]
    facts["assurance_level"] = max(levels) if levels else None
    blocked = sorted({p.role or "okänd" for p in pins if p.status == "locked"})
    final_try = sorted({p.role or "okänd" for p in pins if p.status == "final_try"})
    facts["blocked_pins"] = blocked
    facts["final_try_pins"] = final_try
    earliest = min(c.not_after for c in group)
    days_left = (earliest.date() - now.date()).days
    facts["earliest_expiry"] = earliest.isoformat()
    facts["days_left"] = days_left

    for p in pins:
        if p.status == "final_try":
            warnings.append(
                Warning(
                    "pin_final_try",
                    f"Det finns bara ett försök kvar för {_pin_name(p.role)}. Skriver du fel en "
                    f"gång till spärras "
                    "koden och du behöver din PUK-kod för att låsa upp den.",
                )
            )
        elif p.status == "count_low":
            left = f" ({p.retries_left} försök kvar)" if p.retries_left is not None else ""
            warnings.append(
                Warning(
                    "pin_count_low",
                    f"Fel kod har angetts för {_pin_name(p.role)}{left}. Var noga nästa gång.",
                )
            )
    if valid and len(valid) < len(siths):
        warnings.append(
            Warning(
                "some_certificates_expired",
                "Ett eller flera av certifikaten på kortet har gått ut.",
            )
        )
    if any(not c.identifier.valid and c.identifier.kind != "none" for c in siths):
        warnings.append(
            Warning(
                "identifier_invalid",
                "Ett certifikat har ett HSA-id eller personnummer som inte är giltigt.",
            )
        )
    if facts["certificate_profile"] in ("incomplete", "hsa_id_only") and base_state.startswith(
        "upgraded"
    ):
        warnings.append(
            Warning(
                "certificate_set_incomplete",
                "Kortet saknar något av certifikaten som ett uppgraderat kort brukar ha. Kontakta "
                "Servicecenter om "
                "du får problem att logga in.",
            )
        )

    def result(state: str, explanation: str, step: NextStep) -> Classification:
        return Classification(state, explanation, step, base_state, warnings, facts)

    if not valid:
        latest = max(c.not_after for c in siths)
        facts["earliest_expiry"] = latest.isoformat()
        facts["days_left"] = (latest.date() - now.date()).days
        return result(
            "expired",
            f"Certifikaten på kortet gick ut {_date_sv(latest)}. Kortet kan inte längre användas "
            f"för att logga in.",
            NextStep(
                "order_new_card", "Du behöver ett nytt kort. Kontakta Servicecenter.", FAQ_OLD_CARD
            ),
        )
    if blocked:
        names = _join_sv([_pin_name(r) for r in blocked])
        return result(
            "pin_blocked",
            f"{names[0].upper()}{names[1:]} på kortet är spärrad efter för många felaktiga försök.",
            NextStep(
                "unblock_pin",
                "Lås upp koden med din PUK-kod; med PUK-koden väljer du sedan en ny kod. "
                + PUK_ADVICE,
                FAQ_CODES,
            ),
        )
    if days_left <= expiry_warning_days:
        when = (
            f"om {days_left} dagar ({_date_sv(earliest)})"
            if days_left > 0
            else f"inom ett dygn ({_date_sv(earliest)})"
        )
        if base_state == "not_upgraded":
            step = NextStep(
                "upgrade_or_wait_for_new_card",
                "Eftersom kortet går ut snart kan du välja om du vill uppgradera kortet eller "
                "vänta tills du får "
                "ditt nya kort, som då redan är uppgraderat. När du får mail om att det är dags "
                "att byta kort måste "
                "du omgående beställa tid för fotografering. Väljer du att beställa ett nytt kort "
                "kontaktar du "
                "Servicecenter.",
                FAQ_EXPIRING,
            )
        else:
            step = NextStep(
                "renew_card",
                "Ditt nya kort kommer redan uppgraderat. När du får mail om att det är dags att "
                "byta kort måste du "
                "omgående beställa tid för fotografering, så att du hinner få ut det nya kortet "
                "innan det gamla går "
                "ut. Vill du beställa ett nytt kort kontaktar du Servicecenter.",
                FAQ_EXPIRING,
            )
        return result("expiring_soon", f"Kortets certifikat går ut {when}.", step)

    if base_state == "not_upgraded":
        if upgrade_deadline is not None and now.date() > upgrade_deadline:
            step = NextStep(
                "order_new_card",
                "Kortet har inte uppgraderats i tid och kan inte längre uppgraderas. Du behöver "
                "ett nytt kort. "
                "Kontakta Servicecenter.",
                FAQ_AFTER_DEADLINE,
            )
        else:
            step = NextStep(
                "upgrade",
                "Uppgradera kortet genom att följa instruktionen för uppgradering. Du behöver "
                "kortet och båda dina "
                "koder (legitimering och signering) som du fick hemskickade med kortet. Har du "
                "inte kvar koderna "
                "måste du först beställa en ny PUK-kod och med den skapa nya koder.",
                FAQ_UPGRADE,
            )
        return result(
            "not_upgraded",
            "Kortet har bara de gamla SITHS-certifikaten och är inte uppgraderat till SITHS e-id "
            "(tillitsnivå 3). "
            "Det fungerar för vissa tjänster, men inte för tjänster som kräver tillitsnivå 3, "
            "till exempel NPÖ och "
            "Pascal.",
            step,
        )
    if base_state == "replacement_level2":
        return result(
            "replacement_level2",
            "Kortet är ett reservkort med certifikat på tillitsnivå 2. Tjänster som kräver "
            "tillitsnivå 3, till "
            "exempel NPÖ och Pascal, går inte att logga in i med det, och reservkort kan inte "
            "uppgraderas.",
            NextStep(
                "use_regular_card",
                "Använd ditt ordinarie, uppgraderade SITHS-kort för tjänster som kräver "
                "tillitsnivå 3. Har du inget "
                "sådant kort, kontakta Servicecenter.",
                FAQ_LEVELS,
            ),
        )
    if base_state == "upgraded_with_old_restored":
        return result(
            "upgraded_with_old_restored",
            "Kortet är uppgraderat till SITHS e-id (tillitsnivå 3) och har dessutom det gamla "
            "certifikatparet "
            "återställt via Mina sidor (”Hämta befintliga certifikat”).",
            NextStep(
                "none",
                "Du behöver inte göra något. Det gamla certifikatet är till för system som inte "
                "fungerar med det "
                "uppgraderade kortet. Får du upp ett fönster om att välja certifikat, välj det "
                "certifikat som "
                "systemet kräver.",
                FAQ_SYSTEM_NOT_WORKING,
            ),
        )
    if facts["certificate_profile"] == "authentication_only":
        explanation = (
            "Kortet har SITHS e-id-certifikat på tillitsnivå 3 för legitimering (inga certifikat "
            "för underskrift), "
            "som nyare kort."
        )
    else:
        explanation = (
            "Kortet är uppgraderat till SITHS e-id med tillitsnivå 3: det har certifikat med ditt "
            "HSA-id och "
            "certifikat med ditt personnummer."
        )
    return result(
        "upgraded",
        explanation,
        NextStep(
            "none",
            "Du behöver inte göra något. Får du upp ett fönster om att välja certifikat beror det "
            "på att kortet har "
            "ett certifikat med HSA-id och ett med personnummer; följ instruktionen för hur du "
            "väljer certifikat.",
            FAQ_CHOOSE_CERT,
        ),
    )
