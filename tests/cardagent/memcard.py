"""An in-memory card for the agent's unit tier: the fixture cards (devtools.cards.PROFILES)
with certificates from the test PKI, read by a CardService whose reader is a Python object.

No pcscd, no SoftHSM2, no emulator: the PC/SC and PKCS#11 reads are replaced by what the
profile says, and everything after them is the agent's own code (certificate parsing,
classification, the API, the upgrade manager, PUK orders, the pages). The real reads are
covered by the stack tier (test_card_states.py and the write-side tests).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from cardagent.api import create_app
from cardagent.classify import classify
from cardagent.pcsc import ReaderState
from cardagent.pcsc_probe import ProbeResult
from cardagent.pkcs11_reader import RawCertificate, TokenData
from cardagent.service import CardReading, CardService, TokenView, token_view
from cardagent.settings import Settings
from devtools.cards import ATR, MAX_PIN_TRIES, PROFILES, CardProfile
from devtools.pki import TestPKI
from tests.cardagent.conftest import in_process_peer

READER = "Memory Reader 0"
TOKEN_SUFFIX = {"legitimering": "(Legitimering)", "underskrift": "(Underskrift)"}


def memory_settings(data_dir: Path, **changes: object) -> Settings:
    """Settings for an app on the in-memory card (no PKCS#11 module is ever loaded)."""
    return Settings(
        data_dir=data_dir,
        pkcs11_module="/nonexistent/memory-card/libnone.so",
        token="memory-token-0123456789",
        **changes,
    )


class MemoryCardService(CardService):
    """A CardService whose reader holds one of the fixture cards, built in memory."""

    def __init__(self, settings: Settings, pki: TestPKI) -> None:
        super().__init__(settings)
        self.pki = pki
        self.has_reader = True
        self.profile: CardProfile | None = None
        self.tries: dict[str, int] = {}
        self._made: dict[str, list[TokenData]] = {}

    # --- the card in the reader ------------------------------------------------------------------

    def insert(self, name: str, **tries: int) -> None:
        self.profile = PROFILES[name]
        self.tries = {**self.profile.pin_tries, **tries}

    def remove(self) -> None:
        self.profile = None

    def _tokens(self, profile: CardProfile) -> list[TokenData]:
        if profile.name not in self._made:
            now = dt.datetime.now(dt.UTC)
            label = f"{profile.given_name} {profile.surname}, {profile.organisation}"
            tokens = []
            for slot, role in enumerate(("legitimering", "underskrift")):
                raws = []
                for spec in (c for c in profile.certs if c.token == role):
                    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
                    ident = profile.hsa_id if spec.identifier == "hsa" else profile.personnummer
                    cert = self.pki.issue(
                        spec.ca,
                        key.public_key(),
                        given_name=profile.given_name,
                        surname=profile.surname,
                        organisation=profile.organisation,
                        serial_number=ident,
                        purpose=spec.purpose,
                        not_before=now - dt.timedelta(days=profile.valid_days_used),
                        not_after=now + dt.timedelta(days=profile.valid_days_left),
                    )
                    der = cert.public_bytes(serialization.Encoding.DER)
                    raws.append(RawCertificate(label, spec.cka_id.encode().hex(), der))
                serial = f"{profile.card_serial[-8:]}{slot}"
                tokens.append(
                    TokenData(
                        slot,
                        f"{profile.token_prefix} {TOKEN_SUFFIX[role]}",
                        serial,
                        "Test",
                        "Memory card",
                        frozenset(),
                        tuple(raws),
                    )
                )
            self._made[profile.name] = tokens
        return self._made[profile.name]

    # --- CardService ---------------------------------------------------------------------------

    def readers(self, reader_filter: str | None = None) -> list[ReaderState]:
        if not self.has_reader:
            return []
        present = self.profile is not None
        return [ReaderState(READER, present, ATR if present else None)]

    def read(
        self, *, expiry_warning_days: int | None = None, now: dt.datetime | None = None
    ) -> CardReading:
        started = time.perf_counter()
        now = now or dt.datetime.now(dt.UTC)
        readers = self.readers()
        card_reader = next((r for r in readers if r.card_present), None)
        views: list[TokenView] = []
        probe = None
        if self.profile is not None and card_reader is not None:
            raw_tokens = self._tokens(self.profile)
            probe = ProbeResult(
                self.profile.card_serial,
                tuple(t.serial for t in raw_tokens),
                dict(self.tries),
            )
            views = [token_view(t, probe, MAX_PIN_TRIES, self.settings) for t in raw_tokens]
        certs = [c for v in views for c in v.certificates]
        warn_days = (
            self.settings.expiry_warning_days
            if expiry_warning_days is None
            else expiry_warning_days
        )
        classification = classify(
            readers=readers,
            card_reader=card_reader,
            certificates=certs,
            pins=[v.pin for v in views if v.certificates or v.pin.status != "ok"],
            now=now,
            expiry_warning_days=warn_days,
        )
        return CardReading(
            readers=readers,
            card_reader=card_reader,
            card_serial=probe.card_serial if probe else None,
            tokens=views,
            certificates=certs,
            classification=classification,
            checked_at=now,
            read_ms=round((time.perf_counter() - started) * 1000, 2),
            probe_used=probe is not None,
        )


@contextmanager
def memory_app(
    settings: Settings, pki: TestPKI, base_url: str = "http://127.0.0.1:8765"
) -> Iterator[tuple[TestClient, MemoryCardService]]:
    """The agent's app on an in-memory card, with a client that holds the agent's token."""
    service = MemoryCardService(settings, pki)
    app = create_app(settings, service=service, peer_check=in_process_peer)
    auth = {"Authorization": f"Bearer {settings.token}"}
    with TestClient(app, base_url=base_url, headers=auth) as client:
        yield client, service
