"""Parse the card's X.509 certificates and describe them (masked, ready for output)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cardagent.assurance import AssuranceMapping
from cardagent.errors import TokenBadData
from cardagent.identifiers import Identifier, mask_text, recognise

SMARTCARD_LOGON_OID = "1.3.6.1.4.1.311.20.2.2"
_EKU_NAMES = {
    ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string: "client_auth",
    ExtendedKeyUsageOID.SERVER_AUTH.dotted_string: "server_auth",
    ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string: "email_protection",
    ExtendedKeyUsageOID.CODE_SIGNING.dotted_string: "code_signing",
    ExtendedKeyUsageOID.OCSP_SIGNING.dotted_string: "ocsp_signing",
    SMARTCARD_LOGON_OID: "smartcard_logon",
}
_RFC4514_NAMES = {
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.SURNAME: "SN",
    NameOID.GIVEN_NAME: "GN",
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.TITLE: "title",
}
_KU_FIELDS = [
    ("digital_signature", "digital_signature"),
    ("content_commitment", "non_repudiation"),
    ("key_encipherment", "key_encipherment"),
    ("data_encipherment", "data_encipherment"),
    ("key_agreement", "key_agreement"),
    ("key_cert_sign", "key_cert_sign"),
    ("crl_sign", "crl_sign"),
]


@dataclass(frozen=True)
class CertInfo:
    token_label: str
    token_serial: str
    label: str
    id_hex: str
    subject: str  # RFC 4514, personnummer masked
    issuer: str
    issuer_cn: str | None
    serial_number: str  # colon-separated hex
    not_before: dt.datetime
    not_after: dt.datetime
    key_usage: tuple[str, ...]
    extended_key_usage: tuple[str, ...]
    policy_oids: tuple[str, ...]
    identifier: Identifier
    assurance_level: int | None
    ca_family: str | None  # "siths_eid", "siths_legacy" or None (not a SITHS certificate)
    purpose: str  # "authentication", "signature" or "unknown"
    fingerprint_sha256: str

    @property
    def is_siths(self) -> bool:
        return self.ca_family is not None

    def valid_at(self, now: dt.datetime) -> bool:
        return self.not_before <= now <= self.not_after


def _colon_hex(data: bytes) -> str:
    return ":".join(f"{b:02X}" for b in data)


def _attr_str(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _masked_name(name: x509.Name) -> str:
    parts = []
    for rdn in name.rdns:
        attrs = []
        for attr in rdn:
            value = _attr_str(attr.value)
            if attr.oid == NameOID.SERIAL_NUMBER:
                value = recognise(value).masked
            value = mask_text(value)
            shown = attr if value == _attr_str(attr.value) else x509.NameAttribute(attr.oid, value)
            attrs.append(shown.rfc4514_string(_RFC4514_NAMES))
        parts.append("+".join(attrs))
    return ",".join(reversed(parts))


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    attrs = name.get_attributes_for_oid(oid)
    return _attr_str(attrs[0].value) if attrs else None


def parse_certificate(
    der: bytes,
    *,
    token_label: str,
    token_serial: str,
    label: str,
    id_hex: str,
    mapping: AssuranceMapping,
) -> CertInfo:
    """Parse one certificate object; raises TokenBadData if the token gave garbage."""
    try:
        cert = x509.load_der_x509_certificate(der)
        subject = cert.subject
        issuer = cert.issuer
        not_before = cert.not_valid_before_utc
        not_after = cert.not_valid_after_utc
        serial_number = cert.serial_number
        exts = cert.extensions
    except Exception as exc:  # noqa: BLE001 - any parse failure is bad token data
        raise TokenBadData(
            f"certificate object {label!r} on token {token_label!r} is not a valid X.509 "
            f"certificate",
            token=token_label,
            object_label=label,
        ) from exc

    key_usage: list[str] = []
    eku: list[str] = []
    policies: list[str] = []
    try:
        ku = exts.get_extension_for_class(x509.KeyUsage).value
        for attr, name in _KU_FIELDS:
            if getattr(ku, attr):
                key_usage.append(name)
    except (x509.ExtensionNotFound, ValueError):
        pass
    try:
        for oid in exts.get_extension_for_class(x509.ExtendedKeyUsage).value:
            eku.append(_EKU_NAMES.get(oid.dotted_string, oid.dotted_string))
    except x509.ExtensionNotFound:
        pass
    try:
        for pol in exts.get_extension_for_class(x509.CertificatePolicies).value:
            policies.append(pol.policy_identifier.dotted_string)
    except x509.ExtensionNotFound:
        pass

    identifier = recognise(_first(subject, NameOID.SERIAL_NUMBER))
    issuer_cn = _first(issuer, NameOID.COMMON_NAME)
    rule = mapping.lookup(issuer_cn, policies)
    if "non_repudiation" in key_usage:
        purpose = "signature"
    elif "digital_signature" in key_usage or "client_auth" in eku:
        purpose = "authentication"
    else:
        purpose = "unknown"
    serial_bytes = serial_number.to_bytes((serial_number.bit_length() + 7) // 8 or 1, "big")
    return CertInfo(
        token_label=token_label,
        token_serial=token_serial,
        label=mask_text(label),
        id_hex=id_hex,
        subject=_masked_name(subject),
        issuer=_masked_name(issuer),
        issuer_cn=issuer_cn,
        serial_number=_colon_hex(serial_bytes),
        not_before=not_before,
        not_after=not_after,
        key_usage=tuple(key_usage),
        extended_key_usage=tuple(eku),
        policy_oids=tuple(policies),
        identifier=identifier,
        assurance_level=rule.level if rule else None,
        ca_family=rule.family if rule else None,
        purpose=purpose,
        fingerprint_sha256=_colon_hex(cert.fingerprint(hashes.SHA256())),
    )
