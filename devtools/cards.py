"""The fixture cards (see docs/cardagent.md). All people and numbers are synthetic.

Personnummer: 19121212-1212 is Skatteverket's well-known test number; the others are built
from 1912 birth dates with a valid Luhn digit so that no living person can have them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cardagent.identifiers import luhn_check_digit
from devtools import pki

DEMO_PIN_LEGITIMERING = "123456"
DEMO_PIN_UNDERSKRIFT = "654321"
DEMO_PUK = "12345678"
PIN_REF = {"legitimering": 0x81, "underskrift": 0x82}
MAX_PIN_TRIES = 3


def _with_tck(atr_hex: str) -> str:
    body = bytes.fromhex(atr_hex)
    tck = 0
    for b in body[1:]:
        tck ^= b
    return " ".join(f"{b:02X}" for b in body + bytes([tck]))


# T=1 ATR with the historical bytes "SITHS TEST" and its check byte. Not a real card's ATR.
ATR = _with_tck("3B 8A 80 01 53 49 54 48 53 20 54 45 53 54")


def synthetic_personnummer(yyyymmdd: str, birth_no: str) -> str:
    """12-digit number with a valid Luhn check digit (use 1912 dates: obviously test)."""
    return yyyymmdd + birth_no + luhn_check_digit(yyyymmdd[2:] + birth_no)


@dataclass(frozen=True)
class CertSpec:
    ca: str
    identifier: str  # "hsa" or "pnr"
    purpose: str  # "auth" or "sign"
    token: str  # "legitimering" or "underskrift"
    cka_id: str


@dataclass(frozen=True)
class CardProfile:
    name: str
    description: str
    expected_state: str
    token_prefix: str
    certs: tuple[CertSpec, ...]
    given_name: str = "Tessa"
    surname: str = "Testsson"
    organisation: str = "Testregionen"
    hsa_id: str = "SE1234567890-TEST0000001"
    personnummer: str = "191212121212"
    valid_days_left: int = 900
    valid_days_used: int = 400
    pin_tries: dict[str, int] = field(default_factory=lambda: {"legitimering": 3, "underskrift": 3})
    garbage_object: bool = False

    @property
    def card_serial(self) -> str:
        digest = int(hashlib.sha256(self.name.encode()).hexdigest(), 16)
        return "9999" + f"{digest % 10**12:012d}"


def _pair(ca: str, ident: str, suffix: str) -> tuple[CertSpec, CertSpec]:
    return (
        CertSpec(ca, ident, "auth", "legitimering", "IdentificationC" + suffix),
        CertSpec(ca, ident, "sign", "underskrift", "SignatureC" + suffix),
    )


OLD = _pair(pki.TYPE1, "hsa", "")
OLD_V3 = _pair(pki.CA_V3, "hsa", "")
EID = _pair(pki.HSA3, "hsa", "") + _pair(pki.ID3, "pnr", "P")
RESTORED_OLD = _pair(pki.TYPE1, "hsa", "O")
LEVEL2 = _pair(pki.HSA2, "hsa", "") + _pair(pki.ID2, "pnr", "P")
AUTH_ONLY = (
    CertSpec(pki.HSA3, "hsa", "auth", "legitimering", "IdentificationC"),
    CertSpec(pki.ID3, "pnr", "auth", "legitimering", "IdentificationCP"),
)
OTHER = _pair(pki.OTHER_CA, "hsa", "")

EID_LABEL = "SITHS e-id kort"
OLD_LABEL = "SITHS kort"

PROFILES: dict[str, CardProfile] = {
    p.name: p
    for p in (
        CardProfile(
            "old",
            "Old card: one HSA-id pair, TEST SITHS Type 1 CA v1",
            "not_upgraded",
            OLD_LABEL,
            OLD,
        ),
        CardProfile(
            "oldv3", "Oldest card: HSA-id pair, TEST SITHS CA v3", "not_upgraded", OLD_LABEL, OLD_V3
        ),
        CardProfile(
            "upgraded",
            "Upgraded: HSA-id and personnummer pairs, level 3",
            "upgraded",
            EID_LABEL,
            EID,
        ),
        CardProfile(
            "restored",
            "Upgraded with the old pair restored (six certificates)",
            "upgraded_with_old_restored",
            EID_LABEL,
            EID + RESTORED_OLD,
        ),
        CardProfile(
            "replacement",
            "SITHS e-id card at level 2: HSA-id and personnummer pairs from the level-2 CAs",
            "eid_level2",
            EID_LABEL,
            LEVEL2,
            personnummer=synthetic_personnummer("19120301", "239"),
        ),
        CardProfile(
            "replacement_samordning",
            "SITHS e-id card at level 2 with a samordningsnummer",
            "eid_level2",
            EID_LABEL,
            LEVEL2,
            personnummer=synthetic_personnummer("19120461", "242"),
        ),
        CardProfile(
            "authonly",
            "Authentication certificates only (newer card)",
            "upgraded",
            EID_LABEL,
            AUTH_ONLY,
        ),
        CardProfile(
            "expired",
            "Upgraded card whose certificates have expired",
            "expired",
            EID_LABEL,
            EID,
            valid_days_left=-30,
            valid_days_used=1100,
        ),
        CardProfile(
            "expiring",
            "Upgraded card expiring in 20 days",
            "expiring_soon",
            EID_LABEL,
            EID,
            valid_days_left=20,
        ),
        CardProfile(
            "expiring_old",
            "Old card expiring in 20 days",
            "expiring_soon",
            OLD_LABEL,
            OLD,
            valid_days_left=20,
        ),
        CardProfile(
            "blocked",
            "Upgraded card, legitimering PIN blocked",
            "pin_blocked",
            EID_LABEL,
            EID,
            pin_tries={"legitimering": 0, "underskrift": 3},
        ),
        CardProfile(
            "finaltry",
            "Upgraded card, legitimering PIN on its final try",
            "upgraded",
            EID_LABEL,
            EID,
            pin_tries={"legitimering": 1, "underskrift": 3},
        ),
        CardProfile(
            "unknown",
            "Not a SITHS card: certificates from another CA",
            "not_a_siths_card",
            "Example",
            OTHER,
        ),
        CardProfile("blank", "A card with no certificates", "not_a_siths_card", "Example", ()),
        CardProfile(
            "garbage",
            "Upgraded card with one garbage certificate object",
            "error:token_bad_data",
            EID_LABEL,
            EID,
            garbage_object=True,
        ),
    )
}
