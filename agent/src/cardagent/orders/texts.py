"""Every Swedish text of PUK orders in the API (the order page's wording: its templates,
cardagent/templates/order_*.html)."""

from __future__ import annotations

# By status; {ref} is the order reference, {cost} the cost note from the settings.
STATUS_MESSAGES = {
    "awaiting_confirmation": (
        "Beställningen är inte gjord än. Öppna sidan för beställningen och klicka på Beställ "
        "där om du vill beställa en ny PUK-kod. {cost}"
    ),
    "queued": (
        "Din beställning av en ny PUK-kod är gjord (referens {ref}) och skickas till "
        "beställningssystemet. {cost} Med PUK-koden kan du sedan välja nya legitimerings- och "
        "signeringskoder."
    ),
    "queued_retrying": (
        "Din beställning (referens {ref}) är sparad, men beställningssystemet svarar inte just "
        "nu. Den skickas automatiskt så snart det går; du behöver inte beställa igen."
    ),
    "delivered": (
        "Din beställning av en ny PUK-kod (referens {ref}) är skickad till "
        "beställningssystemet. {cost} Med PUK-koden kan du sedan välja nya legitimerings- och "
        "signeringskoder."
    ),
    "cancelled": "Beställningen avbröts. Ingen PUK-kod har beställts.",
    "rejected": (
        "Beställningssystemet tog inte emot beställningen (referens {ref}), så ingen PUK-kod "
        "är beställd. Kontakta Servicecenter och uppge referensen."
    ),
}

# Why POST /v1/puk-orders refuses (the API's "message").
REFUSALS = {
    "no_card": "Sätt i ditt SITHS-kort i kortläsaren först.",
    "not_a_siths_card": (
        "Kortet i läsaren är inget SITHS-kort. PUK-kod kan bara beställas för SITHS-kort."
    ),
    "card_not_identified": (
        "Kortet kunde inte identifieras (inget HSA-id). Kontakta Servicecenter."
    ),
}
ORDER_NOT_FOUND = "Det finns ingen sådan beställning."


def status_message(key: str, reference: str, cost_note: str) -> str:
    return STATUS_MESSAGES[key].format(ref=reference, cost=cost_note)
