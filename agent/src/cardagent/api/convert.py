"""The card service's readings as the API's response models (cardagent/models.py)."""

from __future__ import annotations

import datetime as dt

from cardagent.certinfo import CertInfo
from cardagent.models import (
    CardDetailsOut,
    CardOut,
    CardStateOut,
    CertificateOut,
    IdentifierOut,
    PinOut,
    ReaderOut,
    TokenOut,
)
from cardagent.pcsc import ReaderState
from cardagent.service import CardReading, TokenView


def reader_out(r: ReaderState) -> ReaderOut:
    return ReaderOut(name=r.name, card_present=r.card_present, atr=r.atr)


def cert_out(c: CertInfo, now: dt.datetime) -> CertificateOut:
    return CertificateOut(
        token_label=c.token_label,
        token_serial=c.token_serial,
        label=c.label,
        id=c.id_hex,
        subject=c.subject,
        issuer=c.issuer,
        serial_number=c.serial_number,
        not_before=c.not_before,
        not_after=c.not_after,
        days_left=(c.not_after.date() - now.date()).days,
        expired=c.not_after < now,
        key_usage=list(c.key_usage),
        extended_key_usage=list(c.extended_key_usage),
        policy_oids=list(c.policy_oids),
        identifier=IdentifierOut(
            kind=c.identifier.kind, value=c.identifier.masked, valid=c.identifier.valid
        ),
        assurance_level=c.assurance_level,
        ca_family=c.ca_family,
        purpose=c.purpose,
        fingerprint_sha256=c.fingerprint_sha256,
    )


def token_out(t: TokenView, now: dt.datetime) -> TokenOut:
    return TokenOut(
        label=t.data.label,
        serial=t.data.serial,
        manufacturer=t.data.manufacturer,
        model=t.data.model,
        flags=sorted(t.data.flags),
        pin=PinOut(
            role=t.pin.role,
            status=t.pin.status,
            retries_left=t.pin.retries_left,
            sources=list(t.pin.sources),
        ),
        certificates=[cert_out(c, now) for c in t.certificates],
    )


def card_state_out(reading: CardReading) -> CardStateOut:
    c = reading.classification
    facts = c.facts
    now = reading.checked_at
    card = None
    if reading.card_reader is not None:
        card = CardOut(
            reader=reading.card_reader.name, atr=reading.card_reader.atr, serial=reading.card_serial
        )
    return CardStateOut(
        state=c.state,
        warnings=list(c.warnings),
        details=CardDetailsOut(
            base_state=c.base_state,
            readers=[reader_out(r) for r in reading.readers],
            card=card,
            tokens=[token_out(t, now) for t in reading.tokens],
            certificate_count=len(reading.certificates),
            assurance_level=facts.get("assurance_level"),
            certificate_profile=facts.get("certificate_profile"),
            has_hsa_id=facts.get("has_hsa_id", False),
            has_personnummer=facts.get("has_personnummer", False),
            has_samordningsnummer=facts.get("has_samordningsnummer", False),
            blocked_pins=facts.get("blocked_pins", []),
            final_try_pins=facts.get("final_try_pins", []),
            earliest_expiry=facts.get("earliest_expiry"),
            latest_expiry=facts.get("latest_expiry"),
            days_left=facts.get("days_left"),
        ),
        checked_at=now,
        read_ms=reading.read_ms,
    )
