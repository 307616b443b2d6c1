"""Write operations on the card's PKCS#11 tokens: login, key generation, PKCS#10, certificates.

Used only by upgrade jobs. Objects are told apart by their public key (the modulus), not by
CKA_ID: during an upgrade the new HSA-id pair gets the same IDs as the old pair
("IdentificationC", "SignatureC"), as on a real upgraded card.

PINs reach this module only as arguments to :meth:`CardWriter.login` and are handed straight
to C_Login; they are never stored or logged. After a failed login the module is
re-initialised (python-pkcs11 0.10.1 leaks the session otherwise).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pkcs11
from asn1crypto import csr as acsr
from asn1crypto import keys as akeys
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import Attribute, CertificateType, KeyType, Mechanism, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11e

from cardagent.errors import CardRemoved, TokenError
from cardagent.pkcs11_reader import _REMOVED, Pkcs11Reader


class WrongPin(Exception):
    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.role = role


class PinLocked(Exception):
    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.role = role


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


class CardWriter:
    """Sessions on the card's tokens (one per role), all calls under the module lock."""

    def __init__(self, reader: Pkcs11Reader) -> None:
        self.reader = reader
        self.sessions: dict[str, Any] = {}

    def _token(self, serial: str) -> Any:
        lib = self.reader._load()
        for slot in lib.get_slots(token_present=True):
            token = slot.get_token()
            if (
                str(
                    token.serial.decode() if isinstance(token.serial, bytes) else token.serial
                ).strip()
                == serial
            ):
                return token
        raise CardRemoved(f"token {serial} not present")

    def protected_auth_path(self, serial: str) -> bool:
        with self.reader._lock:
            return bool(
                TokenFlag(int(self._token(serial).flags)) & TokenFlag.PROTECTED_AUTHENTICATION_PATH
            )

    def login(self, role: str, serial: str, pin: str | None) -> None:
        """Open an R/W session and C_Login; ``pin=None`` uses the reader's PIN pad."""
        with self.reader._lock:
            try:
                token = self._token(serial)
                user_pin = pkcs11.PROTECTED_AUTH if pin is None else pin
                self.sessions[role] = token.open(rw=True, user_pin=user_pin)
            except p11e.PinIncorrect as exc:
                self._after_failed_login()
                raise WrongPin(role) from exc
            except p11e.PinLocked as exc:
                self._after_failed_login()
                raise PinLocked(role) from exc
            except _REMOVED as exc:
                self._after_failed_login()
                raise CardRemoved(f"token gone during login: {type(exc).__name__}") from exc
            except p11e.PKCS11Error as exc:
                self._after_failed_login()
                raise TokenError(f"login failed: {type(exc).__name__}") from exc

    def _after_failed_login(self) -> None:
        self.close()
        try:
            self.reader.refresh()
        except Exception:  # noqa: BLE001 - best effort; the next read re-initialises anyway
            pass

    def close(self) -> None:
        with self.reader._lock:
            for session in self.sessions.values():
                try:
                    session.close()
                except Exception:  # noqa: BLE001 - session may already be gone with the card
                    pass
            self.sessions.clear()

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with self.reader._lock:
            try:
                return fn(*args, **kwargs)
            except _REMOVED as exc:
                raise CardRemoved(f"card gone: {type(exc).__name__}") from exc
            except p11e.PKCS11Error as exc:
                raise TokenError(f"PKCS#11 error: {type(exc).__name__} {exc}".strip()) from exc

    # --- inventory ---------------------------------------------------------------------------

    def objects(self, role: str) -> list[TokenObject]:
        return self._call(self._objects, role)

    def _objects(self, role: str) -> list[TokenObject]:
        session = self.sessions[role]
        out: list[TokenObject] = []
        for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
            der = bytes(obj[Attribute.VALUE])
            try:
                mh = cert_modulus_hash(der)
            except ValueError:
                mh = None
            out.append(TokenObject("cert", bytes(obj[Attribute.ID]), _label(obj), mh, der, obj))
        for cls, kind in ((ObjectClass.PRIVATE_KEY, "private"), (ObjectClass.PUBLIC_KEY, "public")):
            for obj in session.get_objects({Attribute.CLASS: cls}):
                try:
                    mh = modulus_hash(bytes(obj[Attribute.MODULUS]))
                except (p11e.AttributeTypeInvalid, p11e.AttributeSensitive):
                    mh = None
                out.append(TokenObject(kind, bytes(obj[Attribute.ID]), _label(obj), mh, None, obj))
        return out

    # --- writes --------------------------------------------------------------------------------

    def generate_key(self, role: str, cka_id: bytes, label: str, bits: int) -> rsa.RSAPublicKey:
        def gen() -> rsa.RSAPublicKey:
            pub, _priv = self.sessions[role].generate_keypair(
                KeyType.RSA,
                bits,
                id=cka_id,
                label=label,
                store=True,
                public_template={Attribute.TOKEN: True, Attribute.VERIFY: True},
                private_template={
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.SIGN: True,
                },
            )
            return rsa.RSAPublicNumbers(
                int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big"),
                int.from_bytes(pub[Attribute.MODULUS], "big"),
            ).public_key()

        return self._call(gen)

    def make_csr(
        self, role: str, key: TokenObject, public_key: rsa.RSAPublicKey, subject: x509.Name
    ) -> bytes:
        """A PKCS#10 request for ``key``, signed on the card (SHA-256 with RSA)."""
        numbers = public_key.public_numbers()
        info = acsr.CertificationRequestInfo(
            {
                "version": "v1",
                "subject": ax509.Name.load(subject.public_bytes()),
                "subject_pk_info": akeys.PublicKeyInfo(
                    {
                        "algorithm": {"algorithm": "rsa"},
                        "public_key": akeys.RSAPublicKey(
                            {"modulus": numbers.n, "public_exponent": numbers.e}
                        ),
                    }
                ),
                "attributes": [],
            }
        )
        signature = self._call(key.handle.sign, info.dump(), mechanism=Mechanism.SHA256_RSA_PKCS)
        req = acsr.CertificationRequest(
            {
                "certification_request_info": info,
                "signature_algorithm": {"algorithm": "sha256_rsa"},
                "signature": signature,
            }
        )
        return req.dump()

    def write_certificate(self, role: str, cka_id: bytes, label: str, der: bytes) -> None:
        cert = x509.load_der_x509_certificate(der)
        self._call(
            self.sessions[role].create_object,
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.LABEL: label,
                Attribute.ID: cka_id,
                Attribute.SUBJECT: cert.subject.public_bytes(),
                Attribute.ISSUER: cert.issuer.public_bytes(),
                Attribute.SERIAL_NUMBER: cert.serial_number.to_bytes(
                    (cert.serial_number.bit_length() + 8) // 8, "big"
                ),
                Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
            },
        )

    def destroy(self, obj: TokenObject) -> None:
        self._call(obj.handle.destroy)

    def public_key_of(self, role: str, mod_hash: str) -> rsa.RSAPublicKey | None:
        def find() -> rsa.RSAPublicKey | None:
            for obj in self.sessions[role].get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY}):
                mod = bytes(obj[Attribute.MODULUS])
                if modulus_hash(mod) == mod_hash:
                    return rsa.RSAPublicNumbers(
                        int.from_bytes(bytes(obj[Attribute.PUBLIC_EXPONENT]), "big"),
                        int.from_bytes(mod, "big"),
                    ).public_key()
            return None

        return self._call(find)


def _label(obj: Any) -> str:
    try:
        value = obj[Attribute.LABEL]
    except (p11e.AttributeTypeInvalid, p11e.AttributeSensitive):
        return ""
    return str(value or "")
