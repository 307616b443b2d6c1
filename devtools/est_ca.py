"""A local EST test CA (RFC 7030 over HTTPS) issuing SITHS-like e-id certificates.

Serves ``/.well-known/est/cacerts`` and ``/.well-known/est/<label>/simpleenroll`` with the
labels ``hsaid-auth``, ``hsaid-sign`` (from ``TEST SITHS e-id Person HSA-id 3 CA v1``) and
``pnr-auth``, ``pnr-sign`` (from ``TEST SITHS e-id Person ID 3 CA v1``). Like the real service
it decides the subject itself: name and organisation from the request, the HSA-id checked
against its directory, and for the personnummer profile the personnummer looked up there by
HSA-id (the agent never sends one). Proof of possession: the PKCS#10 signature is verified.

For fault tests: ``ca.fail_next = n`` answers the next n enrollments with 503;
``ca.wrong_issuer = True`` issues from a CA the agent does not trust.

Demo: ``python -m devtools.est_ca [--port 8443]`` (test PKI and TLS files from the
demo card's folder).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import threading
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request, Response

from devtools import pki as pkimod
from devtools.cards import PROFILES
from devtools.pki import TestPKI
from devtools.servers import serve_https

PROFILE_LABELS: dict[str, tuple[str, str, str]] = {
    "hsaid-auth": (pkimod.HSA3, "hsa", "auth"),
    "hsaid-sign": (pkimod.HSA3, "hsa", "sign"),
    "pnr-auth": (pkimod.ID3, "pnr", "auth"),
    "pnr-sign": (pkimod.ID3, "pnr", "sign"),
}
DEFAULT_PORT = 8443


def default_directory() -> dict[str, str]:
    """HSA-id -> personnummer, as the HSA catalogue would answer (the synthetic test person)."""
    p = PROFILES["old"]
    return {p.hsa_id: p.personnummer}


def _pkcs7_b64(certs: list[x509.Certificate]) -> bytes:
    return base64.encodebytes(pkcs7.serialize_certificates(certs, Encoding.DER))


class EstTestCA:
    def __init__(
        self, test_pki: TestPKI, directory: dict[str, str] | None = None, valid_days: int = 1461
    ) -> None:
        self.pki = test_pki
        self.directory = directory if directory is not None else default_directory()
        self.valid_days = valid_days
        self.fail_next = 0
        self.wrong_issuer = False
        self.issued: list[dict[str, Any]] = []
        self.requests = 0
        self._lock = threading.Lock()
        self.app = self._build()

    def _build(self) -> FastAPI:
        app = FastAPI(title="TEST SITHS EST CA", docs_url=None, redoc_url=None, openapi_url=None)

        @app.get("/.well-known/est/cacerts")
        def cacerts() -> Response:
            certs = [self.pki.certs[n] for n in (pkimod.HSA3, pkimod.ID3, pkimod.EID_ROOT)]
            return Response(
                _pkcs7_b64(certs),
                media_type="application/pkcs7-mime",
                headers={"Content-Transfer-Encoding": "base64"},
            )

        @app.post("/.well-known/est/{label}/simpleenroll")
        async def enroll(label: str, request: Request) -> Response:
            return self._enroll(label, await request.body(), request.headers)

        @app.post("/.well-known/est/simpleenroll")
        async def enroll_default(request: Request) -> Response:
            return self._enroll("hsaid-auth", await request.body(), request.headers)

        return app

    def _enroll(self, label: str, body: bytes, headers: Any) -> Response:
        with self._lock:
            self.requests += 1
            if self.fail_next > 0:
                self.fail_next -= 1
                return Response("CA temporarily unavailable", status_code=503)
        if label not in PROFILE_LABELS:
            return Response(f"unknown profile {label}", status_code=404)
        if not headers.get("content-type", "").startswith("application/pkcs10"):
            return Response("expected application/pkcs10", status_code=415)
        try:
            csr = x509.load_der_x509_csr(base64.b64decode(b"".join(body.split()), validate=True))
        except ValueError:
            return Response("not a base64 DER PKCS#10", status_code=400)
        if not csr.is_signature_valid:
            return Response("proof of possession failed", status_code=400)
        key = csr.public_key()
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
            return Response("RSA 2048 or larger required", status_code=400)

        def first(oid: x509.ObjectIdentifier) -> str:
            vals = csr.subject.get_attributes_for_oid(oid)
            return str(vals[0].value) if vals else ""

        hsa_id = first(NameOID.SERIAL_NUMBER)
        if hsa_id not in self.directory:
            return Response("unknown HSA-id", status_code=403)
        ca_name, ident, purpose = PROFILE_LABELS[label]
        if self.wrong_issuer:
            ca_name = pkimod.OTHER_CA
        serial = hsa_id if ident == "hsa" else self.directory[hsa_id]
        now = dt.datetime.now(dt.UTC)
        cert = self.pki.issue(
            ca_name,
            key,
            given_name=first(NameOID.GIVEN_NAME) or "Test",
            surname=first(NameOID.SURNAME) or "Testsson",
            organisation=first(NameOID.ORGANIZATION_NAME) or "Testregionen",
            serial_number=serial,
            purpose=purpose,
            not_before=now - dt.timedelta(minutes=5),
            not_after=now + dt.timedelta(days=self.valid_days),
        )
        with self._lock:
            self.issued.append({"label": label, "serial": cert.serial_number, "issuer": ca_name})
        return Response(
            _pkcs7_b64([cert]),
            media_type="application/pkcs7-mime; smime-type=certs-only",
            headers={"Content-Transfer-Encoding": "base64"},
        )

    def trust_anchors_pem(self) -> bytes:
        return b"".join(
            self.pki.certs[n].public_bytes(Encoding.PEM)
            for n in (pkimod.HSA3, pkimod.ID3, pkimod.EID_ROOT)
        )


def main(argv: list[str] | None = None) -> int:

    from cardagent.settings import resolve_data_dir

    parser = argparse.ArgumentParser(description="Local EST test CA (TEST SITHS e-id)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--pki", type=Path, help="test PKI folder (default: the demo card's)")
    parser.add_argument("--tls", type=Path, help="TLS files folder (default: the demo card's)")
    parser.add_argument("--fail", type=int, default=0, help="answer the first N enrollments 503")
    args = parser.parse_args(argv)
    demo = resolve_data_dir() / "demo"
    ca = EstTestCA(TestPKI(args.pki or demo / "pki"))
    ca.fail_next = args.fail
    tls = pkimod.tls_server_files(args.tls or demo / "tls")
    print(f"EST test CA on https://127.0.0.1:{args.port}/.well-known/est (TLS CA {tls.ca})")
    serve_https(ca.app, args.port, tls)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
