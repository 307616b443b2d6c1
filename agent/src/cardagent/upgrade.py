"""Upgrade jobs: old SITHS pair -> SITHS e-id HSA-id pair + personnummer pair, on the card.

Lifecycle (status): ``waiting_for_pin`` -> ``running`` (<-> ``waiting_for_card``) ->
``succeeded`` | ``rolled_back`` | ``failed`` | ``cancelled``. The first three are *active*; the
store allows one active job per card.

Safety rules:
* the old pair is only touched after the new set is complete on the card and verified
  (``phase = new_set_complete`` is persisted before the first deletion);
* every step is idempotent and re-planned from what is on the card, so a job resumes after
  a pulled card, an agent restart or a crash at any point;
* failures before the new set is complete roll back: every object with one of the new IDs
  that is not part of the old pair is deleted, so the card holds exactly the old set again;
* PINs live only in the job thread's memory while it runs; after an agent restart or a
  card that stays out, the job waits for the user to type them again on the PIN page.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from cardagent import pcsc_probe
from cardagent.cardwriter import (
    CardWriter,
    PinLocked,
    TokenObject,
    UnidentifiedObject,
    WrongPin,
    cert_modulus_hash,
    fingerprint,
    modulus_hash,
)
from cardagent.certinfo import parse_certificate
from cardagent.config import FAMILY_LEGACY, Settings
from cardagent.errors import AgentError, CardRemoved, PcscError, TokenError
from cardagent.est import (
    CertificateCheckFailed,
    EnrollmentRejected,
    EnrollmentUnavailable,
    EstClient,
    Expected,
    check_issued,
    load_trust_anchors,
)
from cardagent.pages.forms import valid_pin
from cardagent.pages.links import PageLinks
from cardagent.service import CardReading, CardService, token_role
from cardagent.store import Store

log = logging.getLogger("cardagent.upgrade")

ACTIVE = ("waiting_for_pin", "running", "waiting_for_card")
FINAL = ("succeeded", "failed", "rolled_back", "cancelled")

STEPS: tuple[tuple[str, str], ...] = (
    ("check_card", "Kontrollerar kortet"),
    ("login", "Kontrollerar koderna"),
    ("generate_keys", "Skapar nya nycklar på kortet"),
    ("enroll", "Hämtar nya certifikat"),
    ("write_certificates", "Sparar de nya certifikaten på kortet"),
    ("verify", "Kontrollerar de nya certifikaten"),
    ("remove_old", "Tar bort de gamla certifikaten"),
)
STEP_TITLES = dict(STEPS)
STEP_INDEX = {name: i for i, (name, _) in enumerate(STEPS)}
_PROGRESS = {
    "check_card": (2, 0),
    "login": (8, 0),
    "generate_keys": (12, 5),
    "enroll": (32, 8),
    "write_certificates": (64, 5),
    "verify": (85, 0),
    "remove_old": (88, 2),
}

ROLE_SV = {"legitimering": "legitimeringskoden", "underskrift": "underskriftskoden (signering)"}


@dataclass(frozen=True)
class Planned:
    key: str  # also the default EST label
    identifier_kind: str
    purpose: str
    role: str
    cka_id: bytes


PLAN: tuple[Planned, ...] = (
    Planned("hsaid-auth", "hsa_id", "authentication", "legitimering", b"IdentificationC"),
    Planned("hsaid-sign", "hsa_id", "signature", "underskrift", b"SignatureC"),
    Planned("pnr-auth", "personnummer", "authentication", "legitimering", b"IdentificationCP"),
    Planned("pnr-sign", "personnummer", "signature", "underskrift", b"SignatureCP"),
)

MESSAGES = {
    "waiting_for_pin": (
        "Öppna sidan för koder och skriv in din legitimeringskod och underskriftskod där. "
        "Skriv aldrig koderna i chatten."
    ),
    "running": "Uppgraderingen pågår: {step}. Ta inte ur kortet.",
    "waiting_for_card": (
        "Kortet togs ur. Sätt i samma kort igen så fortsätter uppgraderingen. "
        "Kortet fungerar som förut tills uppgraderingen är klar."
    ),
    "succeeded": (
        "Klart! Kortet har nu de nya SITHS e-id-certifikaten: ett par med ditt HSA-id och ett "
        "par med ditt personnummer. De gamla certifikaten är borttagna."
    ),
    "cancelled": "Uppgraderingen avbröts. Kortet fungerar som förut.",
}
ERROR_MESSAGES = {
    "wrong_pin": "Fel {code}. Du har {left} försök kvar. Skriv in koderna igen på sidan.",
    "pin_final_try": (
        "{code_cap} har bara ett försök kvar. Om koden blir fel låses den. Bekräfta på sidan "
        "att du vill försöka, eller leta först upp dina koder."
    ),
    "pin_blocked": (
        "{code_cap} är låst. Lås upp den med din PUK-kod och välj en ny kod. Saknar du "
        "PUK-kod kan du beställa en ny (ca 200 kr, betalas av din verksamhet)."
    ),
    "card_removed": (
        "Kortet togs ur och uppgraderingen pausades. Kortet fungerar som förut. Sätt i kortet "
        "och skriv in koderna igen på sidan för att slutföra."
    ),
    "agent_restarted": (
        "Uppgraderingen avbröts när kortagenten startades om. Kortet fungerar som förut. Skriv "
        "in koderna igen på sidan för att slutföra."
    ),
    "enrollment_unavailable": (
        "Certifikattjänsten svarar inte just nu. Inget ändrades på kortet; det fungerar som "
        "förut. Försök igen om en stund."
    ),
    "enrollment_rejected": (
        "Certifikattjänsten godkände inte beställningen. Inget ändrades på kortet. Kontakta "
        "Servicecenter."
    ),
    "certificate_check_failed": (
        "De nya certifikaten klarade inte kontrollen och sparades inte. Inget ändrades på "
        "kortet. Kontakta Servicecenter."
    ),
    "token_error": (
        "Kortet gav ett oväntat fel. Kortet fungerar som förut. Ta ur kortet, sätt i det igen "
        "och försök på nytt."
    ),
    "pin_page_expired": "Sidan för koder har gått ut. Starta uppgraderingen igen.",
    "card_object_unidentified": (
        "Uppgraderingen stoppades: en del av innehållet på kortet gick inte att känna igen "
        "säkert och lämnades orört. Dina gamla certifikat finns kvar på kortet."
    ),
}


class UpgradeRefused(AgentError):
    code = "not_upgradable"
    status = 409
    message_sv = "Kortet kan inte uppgraderas."

    def __init__(
        self, code: str, message: str, detail: str = "", status: int = 409, **extra: Any
    ) -> None:
        super().__init__(detail, **extra)
        self.code = code
        self.message_sv = message
        self.status = status


class JobNotFound(AgentError):
    code = "job_not_found"
    status = 404
    message_sv = "Det finns inget sådant uppdrag."


class _NeedPin(Exception):
    def __init__(self, code: str, role: str, left: int | None = None) -> None:
        super().__init__(code)
        self.code, self.role, self.left = code, role, left


def _iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat() if ts else None


def _error_message(code: str, role: str | None = None, left: int | None = None) -> str:
    name = ROLE_SV.get(role or "", "koden")
    text = ERROR_MESSAGES.get(
        code, "Uppgraderingen kunde inte slutföras. Kortet fungerar som förut."
    )
    return text.format(code=name, code_cap=name[0].upper() + name[1:], left=left)


def card_key_of(reading: CardReading) -> str | None:
    """Stable identity of the card: its serial (probe) or its tokens' serials (Net iD)."""
    if reading.card_serial:
        return f"card:{reading.card_serial}"
    serials = sorted({t.data.serial for t in reading.tokens})
    return "tokens:" + ",".join(serials) if serials else None


class UpgradeManager:
    def __init__(self, settings: Settings, service: CardService, store: Store) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        # One-time PIN page links and page sessions (cardagent/pages/links.py).
        self.links = PageLinks(store, "pin", settings.port, settings.upgrade.pin_page_ttl_s)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        # In-process test hook: called with (job_id, checkpoint) before each action.
        self.step_hook: Callable[[str, str], None] | None = None
        # In-process test hook: how the job opens the card for writing (tests inject a shim).
        self.writer_factory: Callable[[Any], CardWriter] | None = None

    # --- startup -------------------------------------------------------------------------

    def recover(self) -> None:
        """After a restart: interrupted jobs wait for the PINs again; nothing runs unasked."""
        for job in self.store.jobs_with_status("running", "waiting_for_card"):
            log.warning(
                "job %s was interrupted at %s; waiting for the PINs again", job["id"], job["step"]
            )
            self._to_waiting(job["id"], "agent_restarted")
        for job in self.store.jobs_with_status("waiting_for_pin"):
            # The clear link token lived only in the old process: a page never opened gets
            # exactly one new link; an opened page keeps its session cookie (token-less URL).
            if not self.links.opened(job["id"]):
                self.links.issue(job["id"])

    # --- public API ----------------------------------------------------------------------

    def start(self) -> tuple[dict[str, Any], bool]:
        """Create the upgrade job for the card in the reader (or return its active job)."""
        reading = self.service.read()
        if reading.card_reader is None:
            raise UpgradeRefused("no_card", "Sätt i ditt SITHS-kort i kortläsaren först.")
        key = card_key_of(reading)
        if key is None:
            raise UpgradeRefused("not_a_siths_card", "Kortet i läsaren är inget SITHS-kort.")
        existing = self.store.active_job(key)
        if existing:
            return self._again(existing), False
        c = reading.classification
        base = c.base_state or c.state
        if c.state == "pin_blocked":
            role = (c.facts.get("blocked_pins") or ["legitimering"])[0]
            raise UpgradeRefused("pin_blocked", _error_message("pin_blocked", role))
        if base != "not_upgraded" or c.state == "expired":
            raise UpgradeRefused(
                "not_upgradable",
                "Kortet behöver inte eller kan inte uppgraderas. " + c.explanation,
                card_state=c.state,
            )
        if not self.settings.upgrade.est_url:
            raise UpgradeRefused(
                "enrollment_not_configured",
                "Uppgradering är inte inställd på den här datorn. Kontakta IT-support.",
                status=503,
            )
        state = self._initial_state(reading)
        job_id = secrets.token_hex(8)
        try:
            with self.store.transaction() as db:
                self.store.insert_job(
                    db,
                    {
                        "id": job_id,
                        "card_key": key,
                        "status": "waiting_for_pin",
                        "message": MESSAGES["waiting_for_pin"],
                        "state": state,
                    },
                )
                self.links.issue(job_id, db=db)
        except sqlite3.IntegrityError:
            existing = self.store.active_job(key)
            if existing:
                return self._again(existing), False
            raise
        log.info("upgrade job %s created for %s", job_id, key)
        return self.view(job_id), True

    def view(self, job_id: str) -> dict[str, Any]:
        job = self.store.job(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id}")
        st = job["state"]
        status = job["status"]
        step = job["step"]
        current = STEP_INDEX.get(step or "", -1)
        steps = []
        for i, (name, title) in enumerate(STEPS):
            if status == "succeeded" or i < current:
                s = "done"
            elif i == current and status == "running":
                s = "running"
            elif i == current and status in ("failed", "rolled_back"):
                s = "failed"
            else:
                s = "pending"
            steps.append({"name": name, "title": title, "status": s})
        # Viewing never mints a link: the same URL until the page is opened, then token-less.
        url = self.links.url(job_id) if status == "waiting_for_pin" else None
        return {
            "job_id": job["id"],
            "type": "upgrade",
            "status": status,
            "message": job["message"],
            "error_code": job["error_code"],
            "step": step,
            "step_title": STEP_TITLES.get(step or ""),
            "progress": job["progress"],
            "steps": steps,
            "pin_page_url": url,
            "page_opened": self.links.opened(job_id),
            "pins": st.get("pins", {}),
            "card": {"reader": st["card"]["reader"], "serial": st["card"].get("serial")},
            "certificates": st.get("certificates", []),
            "created_at": _iso(job["created_at"]),
            "updated_at": _iso(job["updated_at"]),
            "finished_at": _iso(job["finished_at"]),
        }

    def _again(self, job: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/upgrade for a card whose job is active (the chat's "start again"): a job
        waiting for the PINs whose link was opened elsewhere or has expired gets a new link;
        an unspent link stays the same."""
        if job["status"] == "waiting_for_pin" and not self.links.has_live_token(job["id"]):
            self.links.issue(job["id"])
        return self.view(job["id"])

    def submit(
        self,
        job_id: str,
        pins: dict[str, str | None],
        *,
        confirm_final_try: bool,
        cancel: bool = False,
    ) -> str:
        """From the PIN page (which has checked the page session). ``confirm_final_try`` is
        the confirmation the page recorded server-side for this job's page session, never a
        form field. Returns "started", "cancelled" or a refusal code."""
        job = self.store.job(job_id)
        if job is None:
            return "not_found"
        if job["status"] != "waiting_for_pin":
            return "not_waiting"
        touched = bool(job["state"].get("touched"))
        if cancel and not touched:
            ok = self.store.update_job(
                job_id,
                expect_status=("waiting_for_pin",),
                status="cancelled",
                active=0,
                error_code=None,
                message=MESSAGES["cancelled"],
                finished_at=time.time(),
            )
            return "cancelled" if ok else "not_waiting"
        if not self.store.update_job(
            job_id,
            expect_status=("waiting_for_pin",),
            status="running",
            error_code=None,
            message=MESSAGES["running"].format(step=STEP_TITLES["check_card"].lower()),
        ):
            return "not_waiting"
        thread = threading.Thread(
            target=self._run,
            args=(job_id, dict(pins), confirm_final_try, cancel),
            name=f"upgrade-{job_id}",
            daemon=True,
        )
        self._threads[job_id] = thread
        thread.start()
        return "started"

    def wait(self, job_id: str, timeout: float = 60.0) -> None:
        """Join the job's thread (tests, shutdown)."""
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)

    # --- internals -----------------------------------------------------------------------

    def _initial_state(self, reading: CardReading) -> dict[str, Any]:
        serials: dict[str, str] = {}
        old = []
        for view in reading.tokens:
            role = token_role(view.data.label)
            if role:
                serials[role] = view.data.serial
            for raw, info in zip(view.data.certificates, view.certificates, strict=False):
                if info.ca_family == FAMILY_LEGACY:
                    old.append((role, raw, info))
        if set(serials) != {"legitimering", "underskrift"}:
            raise UpgradeRefused(
                "not_upgradable",
                "Kortet saknar koden för legitimering eller underskrift och kan inte uppgraderas.",
            )
        auth = next((o for o in old if o[2].purpose == "authentication"), None) or (
            old[0] if old else None
        )
        if auth is None or auth[2].identifier.kind != "hsa_id":
            raise UpgradeRefused(
                "not_upgradable", "Kortets gamla certifikat saknar HSA-id och kan inte uppgraderas."
            )
        cert = x509.load_der_x509_certificate(auth[1].der)

        def first(oid: x509.ObjectIdentifier) -> str:
            vals = cert.subject.get_attributes_for_oid(oid)
            return str(vals[0].value) if vals else ""

        hsa_id = auth[2].identifier.raw
        attrs = [
            x509.NameAttribute(NameOID.COUNTRY_NAME, first(NameOID.COUNTRY_NAME) or "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, first(NameOID.ORGANIZATION_NAME)),
            x509.NameAttribute(NameOID.GIVEN_NAME, first(NameOID.GIVEN_NAME)),
            x509.NameAttribute(NameOID.SURNAME, first(NameOID.SURNAME)),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, hsa_id),
            x509.NameAttribute(NameOID.COMMON_NAME, first(NameOID.COMMON_NAME)),
        ]
        subject = x509.Name([a for a in attrs if a.value])
        assert reading.card_reader is not None
        return {
            "card": {
                "reader": reading.card_reader.name,
                "atr": reading.card_reader.atr,
                "serial": reading.card_serial,
                "key": card_key_of(reading),
                "tokens": serials,
            },
            "old": {
                "fingerprints": [fingerprint(o[1].der) for o in old],
                "moduli": [m for m in (cert_modulus_hash(o[1].der) for o in old) if m],
                "ids": sorted({o[1].id_hex for o in old}),
            },
            "hsa_id": hsa_id,
            "label": auth[1].label or f"{first(NameOID.GIVEN_NAME)} {first(NameOID.SURNAME)}",
            "subject": base64.b64encode(subject.public_bytes()).decode(),
            "phase": "new",
            "touched": False,
        }

    def _lock_for(self, card_key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(card_key, threading.Lock())

    def _checkpoint(self, job_id: str, name: str, index: int = 0) -> None:
        step = name
        base, per = _PROGRESS[step]
        label = f"{name}:{index}" if index else name
        self.store.update_job(
            job_id,
            expect_status=("running",),
            step=step,
            progress=base + per * max(index - 1, 0),
            message=MESSAGES["running"].format(step=STEP_TITLES[step].lower()),
        )
        if self.step_hook is not None:
            self.step_hook(job_id, label)
        if self.settings.testhook_pause_at and self.settings.testhook_pause_at == label:
            # Test-only (CARDAGENT_TESTHOOK_PAUSE_AT): stop here so a test can kill -9 us.
            marker = Path(self.settings.data_dir) / "testhook-paused"
            marker.write_text(f"{job_id} {label}\n", encoding="utf-8")
            log.warning("TEST HOOK: job %s paused at %s", job_id, label)
            while True:
                time.sleep(3600)

    def _to_waiting(
        self,
        job_id: str,
        code: str,
        role: str | None = None,
        left: int | None = None,
        pins: dict | None = None,
    ) -> None:
        job = self.store.job(job_id)
        state = job["state"] if job else {}
        if pins is not None:
            state["pins"] = pins
        self.store.update_job(
            job_id,
            status="waiting_for_pin",
            error_code=code,
            message=_error_message(code, role, left),
            state=state,
        )
        # The page session (cookie) slides with every page request, so the person's open
        # page keeps working; a page never opened still has its unspent link.

    def _finish(
        self, job_id: str, status: str, code: str | None = None, message: str | None = None
    ) -> None:
        if message is None:
            message = MESSAGES[status] if code is None else _error_message(code)
        fields: dict[str, Any] = {
            "status": status,
            "active": 0,
            "error_code": code,
            "message": message,
            "finished_at": time.time(),
        }
        if status == "succeeded":
            fields["progress"] = 100
            fields["step"] = "remove_old"
        self.store.update_job(job_id, **fields)
        log.info("upgrade job %s ended: %s %s", job_id, status, code or "")

    def _state(self, job_id: str) -> dict[str, Any]:
        job = self.store.job(job_id)
        assert job is not None
        return job["state"]

    def _save_state(self, job_id: str, state: dict[str, Any]) -> None:
        self.store.update_job(job_id, state=state)

    def _run(self, job_id: str, pins: dict[str, str | None], confirm: bool, cancel: bool) -> None:
        job = self.store.job(job_id)
        assert job is not None
        lock = self._lock_for(job["card_key"])
        if not lock.acquire(blocking=False):
            log.error("job %s: another job holds card %s", job_id, job["card_key"])
            return
        writer = (self.writer_factory or CardWriter)(self.service.pkcs11)
        try:
            while True:
                try:
                    self._checkpoint(job_id, "check_card")
                    reading = self._check_card(job_id)
                    self._checkpoint(job_id, "login")
                    self._login(job_id, writer, reading, pins, confirm)
                    if cancel:
                        if self._rollback(job_id, writer):
                            self._finish(job_id, "failed", "card_object_unidentified")
                        else:
                            self._finish(job_id, "cancelled")
                        return
                    self._work(job_id, writer)
                    self._finish(job_id, "succeeded")
                    return
                except (CardRemoved, PcscError) as exc:
                    log.warning("job %s: card gone (%s)", job_id, exc.detail)
                    writer.close()
                    if not self._wait_for_card(job_id):
                        self._to_waiting(job_id, "card_removed")
                        return
                    confirm = False  # counters are checked again on the next login
        except _NeedPin as need:
            if need.code == "pin_blocked":
                self._finish(
                    job_id, "failed", "pin_blocked", _error_message("pin_blocked", need.role)
                )
            else:
                pins_info = (
                    {need.role: {"retries_left": need.left}} if need.left is not None else None
                )
                self._to_waiting(job_id, need.code, need.role, need.left, pins=pins_info)
        except (
            EnrollmentUnavailable,
            EnrollmentRejected,
            CertificateCheckFailed,
            TokenError,
        ) as exc:
            code = {
                EnrollmentUnavailable: "enrollment_unavailable",
                EnrollmentRejected: "enrollment_rejected",
                CertificateCheckFailed: "certificate_check_failed",
                UnidentifiedObject: "card_object_unidentified",
            }.get(type(exc), "token_error")
            log.warning("job %s failed: %s: %s", job_id, code, exc)
            self._fail_and_roll_back(job_id, writer, code)
        except Exception:
            log.exception("job %s: unexpected error", job_id)
            self._fail_and_roll_back(job_id, writer, "internal_error")
        finally:
            writer.close()
            pins.clear()
            lock.release()

    def _fail_and_roll_back(self, job_id: str, writer: CardWriter, code: str) -> None:
        state = self._state(job_id)
        if state.get("phase") == "new_set_complete":
            # Both sets are on the card: it works. Only the old pair's removal is left.
            self._finish(job_id, "failed", code)
            return
        if not state.get("touched"):
            self._finish(job_id, "failed", code)
            return
        try:
            left_alone = self._rollback(job_id, writer)
        except UnidentifiedObject as exc:
            log.warning("job %s: rollback stopped (%s); nothing unidentified deleted", job_id, exc)
            self._finish(job_id, "failed", "card_object_unidentified")
            return
        except (CardRemoved, PcscError, TokenError) as exc:
            log.warning("job %s: rollback interrupted (%s); old set untouched", job_id, exc)
            self._to_waiting(job_id, "card_removed")
            return
        if left_alone:
            self._finish(job_id, "failed", "card_object_unidentified")
            return
        self._finish(job_id, "rolled_back", code)

    # --- card, PINs ----------------------------------------------------------------------

    def _check_card(self, job_id: str) -> CardReading:
        reading = self.service.read()
        state = self._state(job_id)
        if reading.card_reader is None or card_key_of(reading) != state["card"]["key"]:
            raise CardRemoved("the job's card is not in the reader")
        return reading

    def _ensure_card(self, job_id: str, state: dict[str, Any]) -> None:
        """Before every change on the card: is the same card still in the same reader?"""
        card = state["card"]
        readers = {r.name: r for r in self.service.readers()}
        r = readers.get(card["reader"])
        if r is None or not r.card_present or r.atr != card["atr"]:
            raise CardRemoved("card left the reader")
        if card.get("serial"):
            probe = pcsc_probe.probe_card(card["reader"], self.settings.probe)
            if probe is None or probe.card_serial != card["serial"]:
                raise CardRemoved("another card is in the reader")

    def _wait_for_card(self, job_id: str) -> bool:
        self.store.update_job(
            job_id,
            expect_status=("running",),
            status="waiting_for_card",
            error_code="card_removed",
            message=MESSAGES["waiting_for_card"],
        )
        state = self._state(job_id)
        deadline = time.monotonic() + self.settings.upgrade.card_wait_s
        while time.monotonic() < deadline:
            try:
                self._ensure_card(job_id, state)
                self.store.update_job(
                    job_id,
                    status="running",
                    error_code=None,
                    message=MESSAGES["running"].format(step="fortsätter"),
                )
                return True
            except (CardRemoved, PcscError):
                time.sleep(0.3)
        return False

    def _login(
        self,
        job_id: str,
        writer: CardWriter,
        reading: CardReading,
        pins: dict[str, str | None],
        confirm: bool,
    ) -> None:
        state = self._state(job_id)
        card = state["card"]
        status = {token_role(t.data.label): t.pin for t in reading.tokens}
        pin_info: dict[str, Any] = {}
        # Check both counters before trying any PIN.
        for role in ("legitimering", "underskrift"):
            p = status.get(role)
            if p is None:
                raise CardRemoved(f"no {role} token")
            pin_info[role] = {"status": p.status, "retries_left": p.retries_left}
            if p.status == "locked":
                raise _NeedPin("pin_blocked", role, 0)
            if p.status == "final_try" and not confirm:
                raise _NeedPin("pin_final_try", role, 1)
        state["pins"] = pin_info
        self._save_state(job_id, state)
        for role in ("legitimering", "underskrift"):
            serial = card["tokens"][role]
            ppad = writer.protected_auth_path(serial)
            pin = None if ppad else pins.get(role)
            if not ppad:
                if not valid_pin(pin):  # ASCII 0-9 only: isdigit() accepts other digits
                    raise _NeedPin("wrong_pin", role, status[role].retries_left)
                left = pcsc_probe.verify_pin(card["reader"], self.settings.probe, role, pin)
                if left is not None and left >= 0:
                    if left == 0:
                        raise _NeedPin("pin_blocked", role, 0)
                    raise _NeedPin("wrong_pin", role, left)
            try:
                writer.login(role, serial, pin)
            except WrongPin as exc:
                raise _NeedPin("wrong_pin", role, self._retries(role)) from exc
            except PinLocked as exc:
                raise _NeedPin("pin_blocked", role, 0) from exc
        state["pins"] = {r: {"status": "ok", "retries_left": None} for r in pin_info}

    def _retries(self, role: str) -> int | None:
        try:
            reading = self.service.read()
        except AgentError:
            return None
        for t in reading.tokens:
            if token_role(t.data.label) == role:
                return t.pin.retries_left
        return None

    # --- the work ------------------------------------------------------------------------

    def _inventory(self, writer: CardWriter) -> dict[str, list[TokenObject]]:
        return {role: writer.objects(role) for role in ("legitimering", "underskrift")}

    # Identity of objects. Deleting is irreversible, so the job only ever deletes an object it
    # positively identifies (CardWriter.destroy re-reads it right before C_DestroyObject):
    # * old pair: a certificate whose DER fingerprint was recorded at job start, a key whose
    #   modulus is one of the old certificates' and whose CKA_ID is one of theirs;
    # * new set: a planned CKA_ID and a modulus recorded when this job generated the key (a
    #   certificate: its public key's modulus). Labels are not used: cards may shorten them.
    # Anything else is left alone. An object the plan could concern (planned or old CKA_ID, or
    # an unreadable CKA_ID) whose identity cannot be read stops the job: nothing is deleted
    # while such an object is on the card, except what rollback positively identifies as new.

    @staticmethod
    def _planned_ids(role: str) -> set[bytes]:
        return {item.cka_id for item in PLAN if item.role == role}

    @staticmethod
    def _is_old(obj: TokenObject, state: dict[str, Any]) -> bool:
        if not obj.identified:
            return False
        old = state["old"]
        if obj.kind == "cert":
            assert obj.der is not None
            return fingerprint(obj.der) in old["fingerprints"]
        return obj.mod_hash in old["moduli"] and ("ids" not in old or obj.id.hex() in old["ids"])

    def _is_new(self, obj: TokenObject, role: str, state: dict[str, Any]) -> bool:
        return (
            obj.identified
            and obj.id in self._planned_ids(role)
            and not self._is_old(obj, state)
            and obj.mod_hash in state.get("new_moduli", [])
        )

    def _concerns_plan(self, obj: TokenObject, role: str, state: dict[str, Any]) -> bool:
        return (
            not obj.id_readable
            or obj.id in self._planned_ids(role)
            or obj.id.hex() in state["old"].get("ids", [])
        )

    def _unidentified(self, inv: dict[str, list[TokenObject]], state: dict[str, Any]) -> list[str]:
        return [
            f"{role}/{o.kind}/{o.id.hex() or '?'}"
            for role, objs in inv.items()
            for o in objs
            if not o.identified and self._concerns_plan(o, role, state)
        ]

    def _require_identified(self, inv: dict[str, list[TokenObject]], state: dict[str, Any]) -> None:
        bad = self._unidentified(inv, state)
        if bad:
            raise UnidentifiedObject("cannot identify " + ", ".join(bad))

    def _take_stock(
        self, job_id: str, inv: dict[str, list[TokenObject]], state: dict[str, Any]
    ) -> None:
        """Before the job first writes: remember the keys already on the card under a planned
        CKA_ID (never ours). Once it has written: adopt a key that was not there before (a
        crash between generating a key and recording its modulus)."""
        moduli = {
            o.mod_hash
            for role, objs in inv.items()
            for o in objs
            if o.kind != "cert" and o.identified and o.id in self._planned_ids(role)
        }
        if not state.get("touched"):
            state["before"] = sorted(m for m in moduli if m)
            self._save_state(job_id, state)
            return
        if "before" not in state:
            return
        known = set(state["before"]) | set(state["old"]["moduli"])
        found = sorted(m for m in moduli if m and m not in known)
        new = state.setdefault("new_moduli", [])
        if any(m not in new for m in found):
            state["new_moduli"] = sorted(set(new) | set(found))
            self._save_state(job_id, state)
            log.warning("job %s: adopted key(s) generated before a crash", job_id)

    def _ours(
        self, inv: dict[str, list[TokenObject]], item: Planned, state: dict[str, Any]
    ) -> tuple[TokenObject | None, TokenObject | None, list[TokenObject]]:
        """(private key, matching certificate, stale objects) for one planned pair."""
        objs = [
            o for o in inv[item.role] if o.id == item.cka_id and self._is_new(o, item.role, state)
        ]
        certs = [o for o in objs if o.kind == "cert"]
        privs = [o for o in objs if o.kind == "private"]
        key = None
        for k in privs:  # prefer a key that already has its certificate
            if any(c.mod_hash == k.mod_hash for c in certs):
                key = k
                break
        if key is None and privs:
            key = privs[0]
        cert = next((c for c in certs if key and c.mod_hash == key.mod_hash), None)
        keep = {id(key), id(cert)}
        keep |= {id(o) for o in objs if o.kind == "public" and key and o.mod_hash == key.mod_hash}
        stale = [o for o in objs if id(o) not in keep]
        return key, cert, stale

    def _work(self, job_id: str, writer: CardWriter) -> None:
        state = self._state(job_id)
        subject = _name_from_der(base64.b64decode(state["subject"]))
        if state.get("phase") != "new_set_complete":
            self._build_new_set(job_id, writer, state, subject)
        self._remove_old(job_id, writer, state)

    def _build_new_set(
        self, job_id: str, writer: CardWriter, state: dict[str, Any], subject: x509.Name
    ) -> None:
        up = self.settings.upgrade
        self._checkpoint(job_id, "generate_keys")
        inv = self._inventory(writer)
        self._require_identified(inv, state)  # before anything is written or deleted
        self._take_stock(job_id, inv, state)
        for i, item in enumerate(PLAN, 1):
            key, _cert, stale = self._ours(inv, item, state)
            for obj in stale:
                self._ensure_card(job_id, state)
                writer.destroy(obj)
            if key is None:
                self._checkpoint(job_id, "generate_keys", i)
                self._ensure_card(job_id, state)
                if not state.get("touched"):
                    state["touched"] = True
                    self._save_state(job_id, state)
                pub = writer.generate_key(item.role, item.cka_id, state["label"], up.key_bits)
                state.setdefault("new_moduli", []).append(modulus_hash(pub.public_numbers().n))
                self._save_state(job_id, state)
        inv = self._inventory(writer)
        todo = []
        for item in PLAN:
            key, cert, _ = self._ours(inv, item, state)
            if key is None:
                raise TokenError(f"generated key {item.key} not found on the card")
            if cert is None:
                todo.append((item, key))
        issued: list[tuple[Planned, x509.Certificate]] = []
        if todo:
            self._checkpoint(job_id, "enroll")
            est = EstClient(self.settings)
            try:
                anchors = load_trust_anchors(self.settings, est)
                for i, (item, key) in enumerate(todo, 1):
                    self._checkpoint(job_id, "enroll", i)
                    self._ensure_card(job_id, state)
                    assert key.mod_hash is not None
                    pub = writer.public_key_of(item.role, key.mod_hash)
                    if pub is None:
                        raise TokenError(f"public key of {item.key} not found")
                    csr = writer.make_csr(item.role, key, pub, subject)
                    cert = self._enroll(est, up.est_labels.get(item.key, item.key), csr)
                    check_issued(cert, pub, anchors, self._expected(item, state), self.settings)
                    issued.append((item, cert))
            finally:
                est.close()
            self._checkpoint(job_id, "write_certificates")
            from cryptography.hazmat.primitives.serialization import Encoding

            for i, (item, cert) in enumerate(issued, 1):
                self._checkpoint(job_id, "write_certificates", i)
                self._ensure_card(job_id, state)
                writer.write_certificate(
                    item.role, item.cka_id, state["label"], cert.public_bytes(Encoding.DER)
                )
        self._checkpoint(job_id, "verify")
        self._verify_new_set(job_id, writer, state)

    def _expected(self, item: Planned, state: dict[str, Any]) -> Expected:
        return Expected(item.identifier_kind, item.purpose, state["hsa_id"])

    def _enroll(self, est: EstClient, label: str, csr: bytes) -> x509.Certificate:
        up = self.settings.upgrade
        delay = up.est_backoff_s
        for attempt in range(1, max(up.est_attempts, 1) + 1):
            try:
                return est.simpleenroll(label, csr)
            except EnrollmentUnavailable as exc:
                if attempt >= up.est_attempts:
                    raise
                log.warning("EST attempt %d failed (%s); retrying in %.1f s", attempt, exc, delay)
                time.sleep(delay)
                delay *= 2
        raise EnrollmentUnavailable("no attempts")  # pragma: no cover

    def _verify_new_set(self, job_id: str, writer: CardWriter, state: dict[str, Any]) -> None:
        """Read back: every planned pair has its key and a certificate that passes the checks."""
        inv = self._inventory(writer)
        est = EstClient(self.settings) if not self.settings.upgrade.est_trust_anchors else None
        try:
            anchors = load_trust_anchors(self.settings, est)
        finally:
            if est:
                est.close()
        summaries = []
        for item in PLAN:
            key, cert, _ = self._ours(inv, item, state)
            if key is None or cert is None or cert.der is None:
                raise CertificateCheckFailed(
                    f"{item.key}: key or certificate missing after writing"
                )
            assert key.mod_hash is not None
            pub = writer.public_key_of(item.role, key.mod_hash)
            parsed = x509.load_der_x509_certificate(cert.der)
            if pub is None:
                raise CertificateCheckFailed(f"{item.key}: public key missing")
            check_issued(parsed, pub, anchors, self._expected(item, state), self.settings)
            info = parse_certificate(
                cert.der,
                token_label="",
                token_serial="",
                label=cert.label,
                id_hex=cert.id.hex(),
                mapping=self.settings.assurance,
            )
            summaries.append(
                {
                    "token": item.role,
                    "label": cert.label,
                    "id": item.cka_id.decode(),
                    "issuer": info.issuer_cn,
                    "identifier": {"kind": info.identifier.kind, "value": info.identifier.masked},
                    "purpose": info.purpose,
                    "not_after": info.not_after.isoformat(),
                    "fingerprint_sha256": info.fingerprint_sha256,
                }
            )
        state["phase"] = "new_set_complete"
        state["certificates"] = summaries
        self._save_state(job_id, state)

    def _remove_old(self, job_id: str, writer: CardWriter, state: dict[str, Any]) -> None:
        self._checkpoint(job_id, "remove_old")
        inv = self._inventory(writer)
        self._require_identified(inv, state)  # an unreadable object might be the old key
        order = {"cert": 0, "private": 1, "public": 2}
        targets = sorted(
            (o for objs in inv.values() for o in objs if self._is_old(o, state)),
            key=lambda o: order[o.kind],
        )
        for i, obj in enumerate(targets, 1):
            self._checkpoint(job_id, "remove_old", i)
            self._ensure_card(job_id, state)
            writer.destroy(obj)

    def _rollback(self, job_id: str, writer: CardWriter) -> int:
        """Delete every object positively identified as made by this job; leave the rest.

        Returns how many objects the plan concerns could not be identified (left alone)."""
        state = self._state(job_id)
        if state.get("phase") == "new_set_complete":
            raise TokenError("refusing to roll back a complete new set")
        inv = self._inventory(writer)
        self._take_stock(job_id, inv, state)
        order = {"cert": 0, "private": 1, "public": 2}
        targets = sorted(
            (o for role, objs in inv.items() for o in objs if self._is_new(o, role, state)),
            key=lambda o: order[o.kind],
        )
        unknown = self._unidentified(inv, state)
        for obj in targets:
            self._ensure_card(job_id, state)
            writer.destroy(obj)
        state["touched"] = False
        state["phase"] = "new"
        self._save_state(job_id, state)
        log.info("job %s rolled back: %d objects removed", job_id, len(targets))
        if unknown:
            log.warning("job %s: left alone (identity unreadable): %s", job_id, ", ".join(unknown))
        return len(unknown)


def _name_from_der(der: bytes) -> x509.Name:
    from asn1crypto import x509 as ax509

    attrs = []
    for rdn in ax509.Name.load(der).chosen:
        for ava in rdn:
            oid = x509.ObjectIdentifier(ava["type"].dotted)
            attrs.append(x509.NameAttribute(oid, str(ava["value"].native)))
    return x509.Name(attrs)
