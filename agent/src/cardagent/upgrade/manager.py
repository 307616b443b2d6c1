"""Upgrade jobs as the API and the PIN page see them: start, view, submit from the page.

An upgrade turns the old SITHS pair into a SITHS e-id HSA-id pair and a personnummer pair on
the card. ``POST /v1/upgrade`` only creates the job (``waiting_for_pin``) and its one-time PIN
page link; the job runs when the person types the PINs on the agent's PIN page
(cardagent/pages/pin.py), which calls :meth:`UpgradeManager.submit`.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import sqlite3
import time
from typing import Any

from cardagent.pages.links import PageLinks
from cardagent.service import CardService, card_key_of
from cardagent.settings import Settings
from cardagent.store import Store
from cardagent.upgrade import plan, steps
from cardagent.upgrade.errors import UpgradeRefused
from cardagent.upgrade.job import PIN_ERRORS, Job, JobStatus
from cardagent.upgrade.jobstore import JobStore
from cardagent.upgrade.runner import JobRunner, StepHook, WriterFactory

log = logging.getLogger("cardagent.upgrade")

_WAITING = (JobStatus.WAITING_FOR_PIN,)


def _iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat() if ts else None


class UpgradeManager:
    def __init__(
        self,
        settings: Settings,
        service: CardService,
        store: Store,
        *,
        step_hook: StepHook | None = None,
        writer_factory: WriterFactory | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        self.jobs = JobStore(store)
        # One-time PIN page links and page sessions (cardagent/pages/links.py).
        self.links = PageLinks(store, "pin", settings.port, settings.upgrade.pin_page_ttl_s)
        self.runner = JobRunner(
            settings, service, self.jobs, step_hook=step_hook, writer_factory=writer_factory
        )

    def recover(self) -> None:
        """After a restart: interrupted jobs wait for the PINs again (the runner); a PIN page
        never opened gets exactly one new link (its clear token lived only in the old
        process); an opened page keeps its session cookie (token-less URL)."""
        self.runner.recover()
        for job in self.jobs.with_status(JobStatus.WAITING_FOR_PIN):
            if not self.links.opened(job.id):
                self.links.issue(job.id)

    def job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    # --- the API --------------------------------------------------------------------------------

    def start(self) -> tuple[dict[str, Any], bool]:
        """Create the upgrade job for the card in the reader (or return its active job)."""
        reading = self.service.read()
        if reading.card_reader is None:
            raise UpgradeRefused("no_card")
        key = card_key_of(reading)
        if key is None:
            raise UpgradeRefused("not_a_siths_card")
        existing = self.jobs.active_for(key)
        if existing:
            return self._again(existing), False
        c = reading.classification
        base = c.base_state or c.state
        if c.state == "pin_blocked":
            blocked = list(c.facts.get("blocked_pins") or [])
            raise UpgradeRefused(
                "pin_blocked",
                error_role=blocked[0] if len(blocked) == 1 else None,
                blocked_pins=blocked,
            )
        if base != "not_upgraded" or c.state == "expired":
            raise UpgradeRefused("not_upgradable", card_state=c.state, base_state=c.base_state)
        if not self.settings.upgrade.est_url:
            raise UpgradeRefused("enrollment_not_configured", status=503)
        state = plan.initial_state(reading)
        job_id = secrets.token_hex(8)
        try:
            with self.store.transaction() as db:
                self.jobs.insert(db, job_id, key, state)
                self.links.issue(job_id, db=db)
        except sqlite3.IntegrityError:
            existing = self.jobs.active_for(key)
            if existing:
                return self._again(existing), False
            raise
        log.info("upgrade job %s created for %s", job_id, key)
        return self.view(job_id), True

    def _again(self, job: Job) -> dict[str, Any]:
        """POST /v1/upgrade for a card whose job is active (the chat's "start again"): a job
        waiting for the PINs whose link was opened elsewhere or has expired gets a new link;
        an unspent link stays the same."""
        if job.status == JobStatus.WAITING_FOR_PIN and not self.links.has_live_token(job.id):
            self.links.issue(job.id)
        return self.view(job.id)

    def view(self, job_id: str) -> dict[str, Any]:
        """The job as ``GET /v1/jobs/{id}`` shows it (cardagent.models.JobOut)."""
        job = self.jobs.require(job_id)
        st = job.state
        # Viewing never mints a link: the same URL until the page is opened, then token-less.
        url = self.links.url(job_id) if job.status == JobStatus.WAITING_FOR_PIN else None
        pin_error = job.error_code in PIN_ERRORS
        return {
            "job_id": job.id,
            "type": "upgrade",
            "status": job.status.value,
            "error_code": job.error_code,
            "error_role": st.error_role if pin_error else None,
            "retries_left": st.error_retries_left if pin_error else None,
            "step": job.step,
            "progress": job.progress,
            "steps": steps.step_list(job.status, job.step),
            "pin_page_url": url,
            "page_opened": self.links.opened(job_id),
            "pins": {role: p.model_dump() for role, p in st.pins.items()},
            "card": {"reader": st.card.reader, "serial": st.card.serial},
            "certificates": [c.model_dump() for c in st.certificates],
            "created_at": _iso(job.created_at),
            "updated_at": _iso(job.updated_at),
            "finished_at": _iso(job.finished_at),
        }

    # --- the PIN page ---------------------------------------------------------------------------

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
        job = self.jobs.get(job_id)
        if job is None:
            return "not_found"
        if job.status != JobStatus.WAITING_FOR_PIN:
            return "not_waiting"
        if cancel and not job.state.touched:
            ok = self.jobs.update(
                job_id,
                expect=_WAITING,
                status=JobStatus.CANCELLED,
                active=0,
                error_code=None,
                finished_at=time.time(),
            )
            return "cancelled" if ok else "not_waiting"
        if not self.jobs.update(
            job_id,
            expect=_WAITING,
            status=JobStatus.RUNNING,
            error_code=None,
        ):
            return "not_waiting"
        self.runner.start(job_id, pins, confirm_final_try, cancel)
        return "started"

    def wait(self, job_id: str, timeout: float = 60.0) -> None:
        """Join the job's thread (tests, shutdown)."""
        self.runner.wait(job_id, timeout)
