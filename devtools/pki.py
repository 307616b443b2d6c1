"""A test PKI that mimics SITHS. Every CA name carries ``TEST``; policy OIDs are private."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cardagent.certinfo import SMARTCARD_LOGON_OID

# Policy OIDs of the test PKI's CAs (under 2.25, UUID-based: not real SITHS OIDs). The agent
# knows none built in; it recognises the test CAs by name ("TEST SITHS ...").
POLICY_LEVEL3 = "2.25.200742413130497219433536563612377540001"
POLICY_LEVEL2 = "2.25.200742413130497219433536563612377540002"
POLICY_LEGACY = "2.25.200742413130497219433536563612377540003"

EID_ROOT = "TEST SITHS e-id Root CA v2"
HSA3 = "TEST SITHS e-id Person HSA-id 3 CA v1"
ID3 = "TEST SITHS e-id Person ID 3 CA v1"
HSA2 = "TEST SITHS e-id Person HSA-id 2 CA v1"
ID2 = "TEST SITHS e-id Person ID 2 CA v1"
V1_ROOT = "TEST SITHS Root CA v1"
TYPE1 = "TEST SITHS Type 1 CA v1"
CA_V3 = "TEST SITHS CA v3"
OTHER_ROOT = "TEST Example Corp Root CA"
OTHER_CA = "TEST Example Corp User CA"


@dataclass(frozen=True)
class CADef:
    name: str
    org: str
    parent: str | None  # None = self-signed
    policy: str | None


CAS: tuple[CADef, ...] = (
    CADef(EID_ROOT, "Inera AB", None, None),
    CADef(HSA3, "Inera AB", EID_ROOT, POLICY_LEVEL3),
    CADef(ID3, "Inera AB", EID_ROOT, POLICY_LEVEL3),
    CADef(HSA2, "Inera AB", EID_ROOT, POLICY_LEVEL2),
    CADef(ID2, "Inera AB", EID_ROOT, POLICY_LEVEL2),
    CADef(V1_ROOT, "Inera AB", None, None),
    CADef(TYPE1, "Inera AB", V1_ROOT, POLICY_LEGACY),
    CADef(CA_V3, "Carelink", None, POLICY_LEGACY),
    CADef(OTHER_ROOT, "TEST Example Corp", None, None),
    CADef(OTHER_CA, "TEST Example Corp", OTHER_ROOT, None),
)
_BY_NAME = {c.name: c for c in CAS}


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


class TestPKI:
    """CA keys and certificates, cached as PEM files in ``folder`` so reruns are quick."""

    __test__ = False  # not a pytest class

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.certs: dict[str, x509.Certificate] = {}
        for ca in CAS:
            self._load_or_make(ca)

    def _file(self, name: str, kind: str) -> Path:
        return self.folder / (name.replace(" ", "_") + f".{kind}.pem")

    def _load_or_make(self, ca: CADef) -> None:
        kf, cf = self._file(ca.name, "key"), self._file(ca.name, "crt")
        if kf.exists() and cf.exists():
            self.keys[ca.name] = serialization.load_pem_private_key(kf.read_bytes(), None)  # type: ignore[assignment]
            self.certs[ca.name] = x509.load_pem_x509_certificate(cf.read_bytes())
            return
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        issuer_key = key if ca.parent is None else self.keys[ca.parent]
        issuer_name = _name(ca.name, ca.org) if ca.parent is None else self.certs[ca.parent].subject
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(ca.name, ca.org))
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=3650))
            .not_valid_after(now + dt.timedelta(days=7300))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
        )
        cert = builder.sign(issuer_key, hashes.SHA256())
        kf.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        kf.chmod(0o600)
        cf.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.keys[ca.name] = key
        self.certs[ca.name] = cert

    def issue(
        self,
        ca_name: str,
        public_key: rsa.RSAPublicKey,
        *,
        given_name: str,
        surname: str,
        organisation: str,
        serial_number: str,
        purpose: str,
        not_before: dt.datetime,
        not_after: dt.datetime,
    ) -> x509.Certificate:
        """An end-entity certificate like SITHS issues: identifier in subject serialNumber."""
        ca = _BY_NAME[ca_name]
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                x509.NameAttribute(NameOID.GIVEN_NAME, given_name),
                x509.NameAttribute(NameOID.SURNAME, surname),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{given_name} {surname}"),
            ]
        )
        if purpose == "sign":
            ku = x509.KeyUsage(False, True, False, False, False, False, False, False, False)
            eku = None
        else:
            ku = x509.KeyUsage(True, False, True, False, False, False, False, False, False)
            eku = x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, x509.ObjectIdentifier(SMARTCARD_LOGON_OID)]
            )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certs[ca_name].subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(ku, critical=True)
        )
        if eku is not None:
            builder = builder.add_extension(eku, critical=False)
        if ca.policy:
            builder = builder.add_extension(
                x509.CertificatePolicies(
                    [x509.PolicyInformation(x509.ObjectIdentifier(ca.policy), None)]
                ),
                critical=False,
            )
        return builder.sign(self.keys[ca_name], hashes.SHA256())


TLS_CA = "TEST Card Agent Local TLS CA"


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # PEM: the CA the agent trusts for the local test services
    cert: Path  # PEM: server certificate for 127.0.0.1 / localhost
    key: Path  # PEM: its key (0600)


def tls_server_files(folder: Path) -> TlsFiles:
    """A self-signed TEST TLS CA and a server certificate for 127.0.0.1 and localhost (cached)."""
    import ipaddress

    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(folder / "tls-ca.pem", folder / "tls-server.pem", folder / "tls-server.key")
    if files.ca.exists() and files.cert.exists() and files.key.exists():
        return files
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = _name(TLS_CA, "TEST Card Agent")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost", "TEST Card Agent"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.key.chmod(0o600)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return files
