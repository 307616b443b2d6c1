"""Reads the card (PC/SC + PKCS#11), parses and classifies: one call per request."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field

from cardagent import pcsc, pcsc_probe
from cardagent.certinfo import CertInfo, parse_certificate
from cardagent.classify import Classification, PinStatus, classify
from cardagent.errors import CardRemoved
from cardagent.pcsc import ReaderState
from cardagent.pcsc_probe import ProbeResult
from cardagent.pkcs11_reader import Pkcs11Reader, TokenData
from cardagent.settings import Settings

log = logging.getLogger("cardagent")


def token_role(label: str) -> str | None:
    """Net iD shows one token per PIN: "... (Legitimering)" and "... (Underskrift)"."""
    low = label.lower()
    if "legitimering" in low or "identification" in low or "authentication" in low:
        return "legitimering"
    if "underskrift" in low or "signering" in low or "signature" in low:
        return "underskrift"
    return None


def pin_status(token: TokenData, probe: ProbeResult | None, max_tries: int) -> PinStatus:
    """Merge the PKCS#11 token flags with the PC/SC probe counters (see pcsc_probe)."""
    role = token_role(token.label)
    sources = ["pkcs11_flags"]
    locked = "user_pin_locked" in token.flags
    final = "user_pin_final_try" in token.flags
    low = "user_pin_count_low" in token.flags
    retries: int | None = None
    if probe is not None and role in probe.pin_retries:
        sources.append("pcsc_probe")
        retries = probe.pin_retries[role]
        locked = locked or retries == 0
        final = final or retries == 1
        low = low or retries < max_tries
    if locked:
        status, retries = "locked", 0
    elif final:
        status, retries = "final_try", 1
    elif low:
        status = "count_low"
    else:
        status = "ok"
    return PinStatus(role=role, status=status, retries_left=retries, sources=tuple(sources))


@dataclass
class TokenView:
    data: TokenData
    pin: PinStatus
    certificates: list[CertInfo]


def token_view(
    token: TokenData, probe: ProbeResult | None, max_tries: int, settings: Settings
) -> TokenView:
    """One token as read: its PIN's status and its parsed certificates."""
    parsed = [
        parse_certificate(
            c.der,
            token_label=token.label,
            token_serial=token.serial,
            label=c.label,
            id_hex=c.id_hex,
            mapping=settings.assurance,
        )
        for c in token.certificates
    ]
    return TokenView(token, pin_status(token, probe, max_tries), parsed)


@dataclass
class CardReading:
    readers: list[ReaderState]
    card_reader: ReaderState | None
    card_serial: str | None
    tokens: list[TokenView]
    certificates: list[CertInfo]
    classification: Classification
    checked_at: dt.datetime
    read_ms: float
    probe_used: bool = False
    extra: dict = field(default_factory=dict)


def card_key_of(reading: CardReading) -> str | None:
    """Stable identity of the card: its serial (probe) or its tokens' serials (Net iD)."""
    if reading.card_serial:
        return f"card:{reading.card_serial}"
    serials = sorted({t.data.serial for t in reading.tokens})
    return "tokens:" + ",".join(serials) if serials else None


class CardService:
    """Owns the PKCS#11 reader; safe to call from FastAPI's worker threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pkcs11 = Pkcs11Reader(settings.pkcs11_module, settings.softhsm2_conf)
        self._lock = threading.Lock()
        self._last_card: tuple | None = None

    def readers(self, reader_filter: str | None = None) -> list[ReaderState]:
        return pcsc.list_readers(reader_filter or self.settings.reader_filter)

    def read(
        self, *, expiry_warning_days: int | None = None, now: dt.datetime | None = None
    ) -> CardReading:
        started = time.perf_counter()
        now = now or dt.datetime.now(dt.UTC)
        warn_days = (
            self.settings.expiry_warning_days
            if expiry_warning_days is None
            else expiry_warning_days
        )
        readers = self.readers()
        card_reader = next((r for r in readers if r.card_present), None)
        tokens: list[TokenView] = []
        certs: list[CertInfo] = []
        probe: ProbeResult | None = None
        if card_reader is not None:
            with self._lock:
                probe = pcsc_probe.probe_card(card_reader.name, self.settings.probe)
                tokens = self._read_tokens(card_reader, probe)
            certs = [c for t in tokens for c in t.certificates]
            self._ensure_still_present(card_reader)
        else:
            self._last_card = None
        classification = classify(
            readers=readers,
            card_reader=card_reader,
            certificates=certs,
            pins=[t.pin for t in tokens if t.certificates or t.pin.status != "ok"],
            now=now,
            expiry_warning_days=warn_days,
        )
        elapsed = (time.perf_counter() - started) * 1000
        log.info("card state %s read in %.1f ms", classification.state, elapsed)
        return CardReading(
            readers=readers,
            card_reader=card_reader,
            card_serial=probe.card_serial if probe else None,
            tokens=tokens,
            certificates=certs,
            classification=classification,
            checked_at=now,
            read_ms=round(elapsed, 2),
            probe_used=probe is not None,
        )

    def _read_tokens(self, card_reader: ReaderState, probe: ProbeResult | None) -> list[TokenView]:
        key = (
            card_reader.name,
            card_reader.atr,
            probe.card_serial if probe else None,
            probe.token_serials if probe else (),
        )
        if key != self._last_card:
            # A different card (or none before): let the module re-enumerate its tokens.
            self.pkcs11.refresh()
            self._last_card = key
        wanted = set(probe.token_serials) if probe and probe.token_serials else None
        raw = self.pkcs11.read_tokens(wanted)
        if wanted and {t.serial for t in raw} != wanted:
            self.pkcs11.refresh()
            raw = self.pkcs11.read_tokens(wanted)
        max_tries = self.settings.probe.max_pin_tries
        return [token_view(token, probe, max_tries, self.settings) for token in raw]

    def _ensure_still_present(self, card_reader: ReaderState) -> None:
        """A card pulled out while we read must not yield a stale answer."""
        now_states = {r.name: r for r in pcsc.list_readers(self.settings.reader_filter)}
        after = now_states.get(card_reader.name)
        if after is None or not after.card_present or after.atr != card_reader.atr:
            raise CardRemoved(f"card left {card_reader.name} during the read")
