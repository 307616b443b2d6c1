"""Every Swedish text of the upgrade (API messages, step titles, refusals, the PIN page's
field labels and form error) in one place.

The rest of the PIN page's wording lives in its templates (cardagent/templates/pin_*.html).
"""

from __future__ import annotations

from cardagent.upgrade.job import JobStatus

# The title a person sees for each step (their order: cardagent/upgrade/steps.py).
STEP_TITLES = {
    "check_card": "Kontrollerar kortet",
    "login": "Kontrollerar koderna",
    "generate_keys": "Skapar nya nycklar på kortet",
    "enroll": "Hämtar nya certifikat",
    "write_certificates": "Sparar de nya certifikaten på kortet",
    "verify": "Kontrollerar de nya certifikaten",
    "remove_old": "Tar bort de gamla certifikaten",
}

ROLE_SV = {"legitimering": "legitimeringskoden", "underskrift": "underskriftskoden (signering)"}

MESSAGES: dict[JobStatus, str] = {
    JobStatus.WAITING_FOR_PIN: (
        "Öppna sidan för koder och skriv in din legitimeringskod och underskriftskod där. "
        "Skriv aldrig koderna i chatten."
    ),
    JobStatus.RUNNING: "Uppgraderingen pågår: {step}. Ta inte ur kortet.",
    JobStatus.WAITING_FOR_CARD: (
        "Kortet togs ur. Sätt i samma kort igen så fortsätter uppgraderingen. "
        "Kortet fungerar som förut tills uppgraderingen är klar."
    ),
    JobStatus.SUCCEEDED: (
        "Klart! Kortet har nu de nya SITHS e-id-certifikaten: ett par med ditt HSA-id och ett "
        "par med ditt personnummer. De gamla certifikaten är borttagna."
    ),
    JobStatus.CANCELLED: "Uppgraderingen avbröts. Kortet fungerar som förut.",
}
RESUMING = "fortsätter"  # the step text while a job goes on after the card came back

ERROR_MESSAGES = {
    "wrong_pin": "Fel {code}. Du har {left} försök kvar. Skriv in koderna igen på sidan.",
    "pin_final_try": (
        "{code_cap} har bara ett försök kvar. Om koden blir fel låses den. Bekräfta på sidan "
        "att du vill försöka, eller leta först upp dina koder."
    ),
    "pin_blocked": (
        "{code_cap} är låst. Lås upp den med din PUK-kod och välj en ny kod. Saknar du "
        "PUK-kod kan du beställa en ny (ca 200 kr, betalas av din verksamhet)."
    ),
    "card_removed": (
        "Kortet togs ur och uppgraderingen pausades. Kortet fungerar som förut. Sätt i kortet "
        "och skriv in koderna igen på sidan för att slutföra."
    ),
    "agent_restarted": (
        "Uppgraderingen avbröts när kortagenten startades om. Kortet fungerar som förut. Skriv "
        "in koderna igen på sidan för att slutföra."
    ),
    "enrollment_unavailable": (
        "Certifikattjänsten svarar inte just nu. Inget ändrades på kortet; det fungerar som "
        "förut. Försök igen om en stund."
    ),
    "enrollment_rejected": (
        "Certifikattjänsten godkände inte beställningen. Inget ändrades på kortet. Kontakta "
        "Servicecenter."
    ),
    "certificate_check_failed": (
        "De nya certifikaten klarade inte kontrollen och sparades inte. Inget ändrades på "
        "kortet. Kontakta Servicecenter."
    ),
    "token_error": (
        "Kortet gav ett oväntat fel. Kortet fungerar som förut. Ta ur kortet, sätt i det igen "
        "och försök på nytt."
    ),
    "pin_page_expired": "Sidan för koder har gått ut. Starta uppgraderingen igen.",
    "card_busy": (
        "Kortet används av en annan uppgradering just nu. Inget ändrades på kortet. "
        "Försök igen om en stund."
    ),
    "card_object_unidentified": (
        "Uppgraderingen stoppades: en del av innehållet på kortet gick inte att känna igen "
        "säkert och lämnades orört. Dina gamla certifikat finns kvar på kortet."
    ),
}
ERROR_FALLBACK = "Uppgraderingen kunde inte slutföras. Kortet fungerar som förut."

# Why POST /v1/upgrade refuses (the API's "message"); not_upgradable is followed by the
# card state's own explanation.
REFUSALS = {
    "default": "Kortet kan inte uppgraderas.",
    "no_card": "Sätt i ditt SITHS-kort i kortläsaren först.",
    "not_a_siths_card": "Kortet i läsaren är inget SITHS-kort.",
    "not_upgradable": "Kortet behöver inte eller kan inte uppgraderas. ",
    "enrollment_not_configured": (
        "Uppgradering är inte inställd på den här datorn. Kontakta IT-support."
    ),
    "missing_pin_token": (
        "Kortet saknar koden för legitimering eller underskrift och kan inte uppgraderas."
    ),
    "old_without_hsa_id": "Kortets gamla certifikat saknar HSA-id och kan inte uppgraderas.",
}
JOB_NOT_FOUND = "Det finns inget sådant uppdrag."

# The PIN page: a field per PIN, the PINs' names in its sentences, a refused form.
PIN_FIELDS = (
    ("legitimering", "Legitimeringskod"),
    ("underskrift", "Underskriftskod (signering)"),
)
PIN_PAGE_NAMES = {"legitimering": "legitimeringskoden", "underskrift": "underskriftskoden"}
PIN_FORMAT_ERROR = (
    "Koden får bara innehålla siffrorna 0–9, {min}–{max} siffror. "
    "Inget skickades till kortet. Skriv in koderna igen."
)


def role_name(role: str | None) -> str:
    """The PIN's name in a sentence ("legitimeringskoden"), "koden" when unknown."""
    return ROLE_SV.get(role or "", "koden")


def error_message(code: str, role: str | None = None, left: int | None = None) -> str:
    name = role_name(role)
    text = ERROR_MESSAGES.get(code, ERROR_FALLBACK)
    return text.format(code=name, code_cap=name[0].upper() + name[1:], left=left)


def running_message(step: str) -> str:
    """The message while a job runs: ``step`` is a step name or :data:`RESUMING`."""
    title = STEP_TITLES.get(step, step)
    return MESSAGES[JobStatus.RUNNING].format(step=title.lower())


def status_message(status: JobStatus) -> str:
    return MESSAGES[status]
