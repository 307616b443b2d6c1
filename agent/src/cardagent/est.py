"""EST client (RFC 7030 simpleenroll and cacerts over HTTPS) and checks of issued certificates.

Request: ``POST <est_url>/<label>/simpleenroll``, body = base64 DER PKCS#10,
``Content-Type: application/pkcs10``, ``Content-Transfer-Encoding: base64``.
Answer: ``200``, ``application/pkcs7-mime; smime-type=certs-only``, base64 DER PKCS#7 with the
issued certificate. ``202`` + ``Retry-After`` and 5xx / network errors are "unavailable"
(retried, then the job rolls back); other 4xx are "rejected".
"""

from __future__ import annotations

import base64
import datetime as dt
import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from cardagent.assurance import FAMILY_EID
from cardagent.certinfo import parse_certificate
from cardagent.settings import Settings


class EnrollmentUnavailable(Exception):
    """The enrollment service did not answer usefully (network, 5xx, 202)."""


class EnrollmentRejected(Exception):
    """The enrollment service refused the request (4xx)."""


class CertificateCheckFailed(Exception):
    """An issued certificate does not match its key, its CA or the expected profile."""


def _tls(settings: Settings) -> ssl.SSLContext | bool:
    if settings.upgrade.est_tls_ca:
        return ssl.create_default_context(cafile=settings.upgrade.est_tls_ca)
    return True


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data)  # 76-character lines, as RFC 2045 expects


def _certs_from_pkcs7(body: bytes) -> list[x509.Certificate]:
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
        return pkcs7.load_der_pkcs7_certificates(der)
    except ValueError as exc:
        raise EnrollmentRejected(f"answer is not a base64 PKCS#7 certs-only: {exc}") from exc


class EstClient:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        up = settings.upgrade
        if not up.est_url:
            raise EnrollmentUnavailable("no enrollment service configured (est_url)")
        self.base = up.est_url.rstrip("/")
        auth = (up.est_username, up.est_password or "") if up.est_username else None
        self.client = httpx.Client(
            verify=_tls(settings), timeout=up.est_timeout_s, auth=auth, follow_redirects=False
        )

    def close(self) -> None:
        self.client.close()

    def simpleenroll(self, label: str, csr_der: bytes) -> x509.Certificate:
        url = f"{self.base}/{label}/simpleenroll"
        try:
            r = self.client.post(
                url,
                content=_b64(csr_der),
                headers={
                    "Content-Type": "application/pkcs10",
                    "Content-Transfer-Encoding": "base64",
                },
            )
        except httpx.HTTPError as exc:
            raise EnrollmentUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if r.status_code == 202 or r.status_code >= 500:
            raise EnrollmentUnavailable(f"EST answered {r.status_code}")
        if r.status_code != 200:
            raise EnrollmentRejected(f"EST answered {r.status_code}: {r.text[:200]}")
        certs = _certs_from_pkcs7(r.content)
        if len(certs) != 1:
            raise EnrollmentRejected(f"expected one certificate, got {len(certs)}")
        return certs[0]

    def cacerts(self) -> list[x509.Certificate]:
        try:
            r = self.client.get(f"{self.base}/cacerts")
        except httpx.HTTPError as exc:
            raise EnrollmentUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if r.status_code != 200:
            raise EnrollmentUnavailable(f"EST cacerts answered {r.status_code}")
        return _certs_from_pkcs7(r.content)


def load_trust_anchors(settings: Settings, client: EstClient | None) -> list[x509.Certificate]:
    """The CAs issued certificates must chain to: the configured PEM file, else EST /cacerts
    (authenticated by the server's TLS certificate - RFC 7030's implicit trust anchor)."""
    if settings.upgrade.est_trust_anchors:
        return x509.load_pem_x509_certificates(
            Path(settings.upgrade.est_trust_anchors).read_bytes()
        )
    if client is None:
        raise EnrollmentUnavailable("no trust anchors configured")
    return client.cacerts()


@dataclass(frozen=True)
class Expected:
    identifier_kind: str  # "hsa_id" or "personnummer"
    purpose: str  # "authentication" or "signature"
    hsa_id: str


def check_issued(
    cert: x509.Certificate,
    public_key: rsa.RSAPublicKey,
    anchors: list[x509.Certificate],
    expected: Expected,
    settings: Settings,
    now: dt.datetime | None = None,
) -> None:
    """Key match, chain to a trust anchor, and the SITHS e-id profile. Raises on mismatch."""
    now = now or dt.datetime.now(dt.UTC)
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.public_numbers() != public_key.public_numbers():
        raise CertificateCheckFailed("certificate does not carry the key generated on the card")
    _verify_chain(cert, anchors)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise CertificateCheckFailed("certificate is not valid now")
    from cryptography.hazmat.primitives.serialization import Encoding

    info = parse_certificate(
        cert.public_bytes(Encoding.DER),
        token_label="",
        token_serial="",
        label="",
        id_hex="",
        mapping=settings.assurance,
    )
    if info.ca_family != FAMILY_EID or info.assurance_level != settings.upgrade.required_level:
        raise CertificateCheckFailed(
            f"issuer {info.issuer_cn!r} is not a SITHS e-id CA at level "
            f"{settings.upgrade.required_level}"
        )
    kind = info.identifier.kind
    if expected.identifier_kind == "personnummer":
        ok = kind in ("personnummer", "samordningsnummer") and info.identifier.valid
    else:
        ok = kind == "hsa_id" and info.identifier.raw == expected.hsa_id
    if not ok:
        raise CertificateCheckFailed(
            f"subject serialNumber is {kind}, expected {expected.identifier_kind}"
        )
    if info.purpose != expected.purpose:
        raise CertificateCheckFailed(
            f"certificate purpose {info.purpose}, expected {expected.purpose}"
        )


def _verify_chain(cert: x509.Certificate, anchors: list[x509.Certificate]) -> None:
    issuers = [a for a in anchors if a.subject == cert.issuer]
    for issuer in issuers:
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, Exception):  # noqa: BLE001 - InvalidSignature etc.
            continue
        parent = [a for a in anchors if a.subject == issuer.issuer and a is not issuer]
        if parent and issuer.issuer != issuer.subject:
            try:
                issuer.verify_directly_issued_by(parent[0])
            except Exception as exc:  # noqa: BLE001
                raise CertificateCheckFailed("issuing CA does not chain to its root") from exc
        return
    raise CertificateCheckFailed("certificate is not issued by a trusted CA")
