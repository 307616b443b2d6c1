"""The card's PKCS#11 objects as plain values, and how they are identified.

No PKCS#11 here: :class:`TokenObject` is what :mod:`cardagent.cardwriter` reads from a token,
so that the upgrade plan (cardagent/upgrade/plan.py) can decide about objects without one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa


def modulus_hash(modulus: int | bytes) -> str:
    if isinstance(modulus, int):
        modulus = modulus.to_bytes((modulus.bit_length() + 7) // 8, "big")
    return hashlib.sha256(modulus.lstrip(b"\x00")).hexdigest()


def cert_modulus_hash(der: bytes) -> str | None:
    key = x509.load_der_x509_certificate(der).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return None
    return modulus_hash(key.public_numbers().n)


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


@dataclass
class TokenObject:
    kind: str  # "cert", "private", "public"
    id: bytes
    label: str
    mod_hash: str | None
    der: bytes | None
    handle: Any  # the python-pkcs11 object
    id_readable: bool = True

    @property
    def identified(self) -> bool:
        """CKA_ID read, and the modulus (key) or DER value (certificate) read: only such an
        object can ever be matched to the plan, so only such an object may be deleted."""
        if not self.id_readable:
            return False
        return self.der is not None if self.kind == "cert" else self.mod_hash is not None
