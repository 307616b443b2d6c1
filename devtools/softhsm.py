"""SoftHSM2 fixture cards: two tokens per card, as Net iD shows them, keys made on the token."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass

from devtools.cards import (
    ATR,
    DEMO_PIN_LEGITIMERING,
    DEMO_PIN_UNDERSKRIFT,
    DEMO_PUK,
    MAX_PIN_TRIES,
    PIN_REF,
    CardProfile,
)
from devtools.pki import TestPKI

# Debian's SoftHSM2 (package softhsm2): the PKCS#11 module of the demo card and the tests.
SOFTHSM2_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN_PINS = {"legitimering": DEMO_PIN_LEGITIMERING, "underskrift": DEMO_PIN_UNDERSKRIFT}
TOKEN_SUFFIX = {"legitimering": "(Legitimering)", "underskrift": "(Underskrift)"}


def write_softhsm_conf(folder: Path) -> Path:
    """A private SoftHSM2 config whose token folder is ``folder/tokens``."""
    tokens = folder / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
        "slots.removable = false\n",
        encoding="utf-8",
    )
    return conf


@dataclass(frozen=True)
class ProvisionedCard:
    profile: CardProfile
    token_serials: dict[str, str]  # role -> token serial

    def emulator_card(self) -> dict[str, Any]:
        """The JSON the card emulator serves for this card (see devtools/emulator.py)."""
        return {
            "name": self.profile.name,
            "atr": ATR,
            "card_serial": self.profile.card_serial,
            "tokens": sorted(self.token_serials.values()),
            "pins": {
                str(PIN_REF[role]): {
                    "pin": TOKEN_PINS[role],
                    "tries_left": self.profile.pin_tries.get(role, MAX_PIN_TRIES),
                    "max_tries": MAX_PIN_TRIES,
                }
                for role in PIN_REF
            },
            "puk": DEMO_PUK,
            "puk_tries_left": 10,
        }


def _init_token(conf: Path, label: str, pin: str) -> int:
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    out = subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            pin,
            "--so-pin",
            DEMO_PUK,
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    m = re.search(r"reassigned to slot (\d+)", out)
    if not m:
        raise RuntimeError(f"softhsm2-util gave no slot: {out!r}")
    return int(m.group(1))


def load_softhsm(conf: Path) -> Any:
    """The SoftHSM2 module for ``conf``, re-initialised so new tokens are visible."""
    os.environ["SOFTHSM2_CONF"] = str(conf)
    lib = pkcs11.lib(SOFTHSM2_MODULE)
    lib.reinitialize()
    return lib


def provision_card(
    conf: Path,
    pki: TestPKI,
    profile: CardProfile,
    *,
    key_bits: int = 2048,
    now: dt.datetime | None = None,
) -> ProvisionedCard:
    """Create the card's two tokens, a key pair per certificate and the certificates."""
    now = now or dt.datetime.now(dt.UTC)
    slots = {
        role: _init_token(conf, f"{profile.token_prefix} {TOKEN_SUFFIX[role]}", TOKEN_PINS[role])
        for role in ("legitimering", "underskrift")
    }
    lib = load_softhsm(conf)
    by_id = {s.slot_id: s for s in lib.get_slots(token_present=True)}
    serials = {}
    not_before = now - dt.timedelta(days=profile.valid_days_used)
    not_after = now + dt.timedelta(days=profile.valid_days_left)
    label = f"{profile.given_name} {profile.surname}, {profile.organisation}"
    for role, slot_id in slots.items():
        token = by_id[slot_id].get_token()
        serials[role] = (
            token.serial.decode() if isinstance(token.serial, bytes) else str(token.serial)
        )
        specs = [c for c in profile.certs if c.token == role]
        with token.open(rw=True, user_pin=TOKEN_PINS[role]) as session:
            for spec in specs:
                cka_id = spec.cka_id.encode()
                pub, _priv = session.generate_keypair(
                    KeyType.RSA,
                    key_bits,
                    id=cka_id,
                    label=label,
                    store=True,
                    public_template={Attribute.TOKEN: True},
                    private_template={Attribute.TOKEN: True},
                )
                public_key = rsa.RSAPublicNumbers(
                    int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big"),
                    int.from_bytes(pub[Attribute.MODULUS], "big"),
                ).public_key()
                ident = profile.hsa_id if spec.identifier == "hsa" else profile.personnummer
                cert = pki.issue(
                    spec.ca,
                    public_key,
                    given_name=profile.given_name,
                    surname=profile.surname,
                    organisation=profile.organisation,
                    serial_number=ident,
                    purpose=spec.purpose,
                    not_before=not_before,
                    not_after=not_after,
                )
                session.create_object(
                    {
                        Attribute.CLASS: ObjectClass.CERTIFICATE,
                        Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                        Attribute.TOKEN: True,
                        Attribute.LABEL: label,
                        Attribute.ID: cka_id,
                        Attribute.SUBJECT: cert.subject.public_bytes(),
                        Attribute.ISSUER: cert.issuer.public_bytes(),
                        Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
                    }
                )
            if profile.garbage_object and role == "legitimering":
                session.create_object(
                    {
                        Attribute.CLASS: ObjectClass.CERTIFICATE,
                        Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                        Attribute.TOKEN: True,
                        Attribute.LABEL: "Garbage certificate",
                        Attribute.ID: b"Garbage",
                        Attribute.SUBJECT: b"\x30\x00",
                        Attribute.VALUE: b"\x30\x82\x01\x00 this is not DER",
                    }
                )
    return ProvisionedCard(profile=profile, token_serials=serials)
