"""Write operations on the card's PKCS#11 tokens: login, key generation, PKCS#10, certificates.

Used only by upgrade jobs. Objects are told apart by their public key (the modulus), not by
CKA_ID: during an upgrade the new HSA-id pair gets the same IDs as the old pair
("IdentificationC", "SignatureC"), as on a real upgraded card.

Deleting is irreversible (an old private key cannot be brought back), so an object is only
ever destroyed when it is positively identified: its CKA_ID and its modulus (keys) or DER value
(certificates) were read, and :meth:`CardWriter.destroy` reads them again from the object right
before ``C_DestroyObject`` and refuses (:class:`UnidentifiedObject`) if they cannot be read or
no longer match. An object whose identity cannot be read is :attr:`TokenObject.identified`
``False`` and is left alone.

PINs reach this module only as arguments to :meth:`CardWriter.login` and are handed straight
to C_Login; they are never stored or logged. After a failed login the module is
re-initialised (python-pkcs11 0.10.1 leaks the session otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
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

from cardagent.cardobjects import TokenObject, cert_modulus_hash, fingerprint, modulus_hash
from cardagent.errors import CardRemoved, TokenError
from cardagent.pkcs11_reader import _REMOVED, Pkcs11Reader

__all__ = [
    "CardWriter",
    "PinLocked",
    "TokenObject",
    "UnidentifiedObject",
    "WrongPin",
    "cert_modulus_hash",
    "fingerprint",
    "modulus_hash",
]


class WrongPin(Exception):
    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.role = role


class PinLocked(Exception):
    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.role = role


class UnidentifiedObject(TokenError):
    """An object the job might have to delete cannot be positively identified: not deleted."""


# Reading one attribute can fail for a single object (sensitive, not present, a card that
# answers an error): that object is then unidentified. A removed card still raises.
_UNREADABLE = (p11e.AttributeSensitive, p11e.AttributeTypeInvalid, p11e.PKCS11Error)


def _read(obj: Any, attr: Attribute) -> bytes | None:
    try:
        value = obj[attr]
    except _REMOVED:
        raise
    except _UNREADABLE:
        return None
    return None if value is None else bytes(value)


def _describe(kind: str, obj: Any) -> TokenObject:
    raw_id = _read(obj, Attribute.ID)
    if kind == "cert":
        der = _read(obj, Attribute.VALUE)
        try:
            mh = cert_modulus_hash(der) if der else None
        except ValueError:
            mh = None
        return TokenObject(kind, raw_id or b"", _label(obj), mh, der, obj, raw_id is not None)
    mod = _read(obj, Attribute.MODULUS)
    mh = modulus_hash(mod) if mod else None
    return TokenObject(kind, raw_id or b"", _label(obj), mh, None, obj, raw_id is not None)


class CardWriter:
    """Sessions on the card's tokens (one per role), all calls under the module lock."""

    def __init__(
        self, reader: Pkcs11Reader, session_wrapper: Callable[[Any], Any] | None = None
    ) -> None:
        self.reader = reader
        self.sessions: dict[str, Any] = {}
        # Tests only: wraps each opened session (e.g. a shim whose attribute reads fail).
        self.session_wrapper = session_wrapper

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
                session = token.open(rw=True, user_pin=user_pin)
                if self.session_wrapper is not None:
                    session = self.session_wrapper(session)
                self.sessions[role] = session
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
        for cls, kind in (
            (ObjectClass.CERTIFICATE, "cert"),
            (ObjectClass.PRIVATE_KEY, "private"),
            (ObjectClass.PUBLIC_KEY, "public"),
        ):
            for obj in session.get_objects({Attribute.CLASS: cls}):
                out.append(_describe(kind, obj))
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
        """Delete ``obj``, only if it is identified and still reads back as the same object."""

        def checked_destroy() -> None:
            again = _describe(obj.kind, obj.handle)
            same = (
                obj.identified
                and again.identified
                and again.id == obj.id
                and again.mod_hash == obj.mod_hash
                and again.der == obj.der
            )
            if not same:
                raise UnidentifiedObject(f"{obj.kind} {obj.id!r}: identity unreadable or changed")
            obj.handle.destroy()

        self._call(checked_destroy)

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
