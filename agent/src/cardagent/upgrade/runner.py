"""Runs upgrade jobs: one thread per run, one run at a time per card, and what happens when
a run stops - a card pulled out, a wrong PIN, a CA that fails, an agent restart.

* A run starts only from the PIN page (cardagent/upgrade/manager.py ``submit``); the PINs
  live only in the run's thread and are cleared when it ends.
* A card pulled out mid-run: the run waits ``card_wait_s`` for the same card, then goes on
  where it was; a card that stays out sends the job back to waiting for the PINs.
* Failures before the new set is complete roll back (cardagent/upgrade/procedure.py); after
  it, both sets are on the card and it works, so the job fails without touching anything.
* After a restart, jobs that were running wait for the PINs again; nothing runs unasked.

``step_hook(job_id, label)`` is called before each action (labels like ``generate_keys:3``,
see cardagent/upgrade/steps.py); tests inject it to pull the card or stop the agent there.
``writer_factory`` opens the card for writing (tests inject a shim).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from cardagent.cardwriter import CardWriter, UnidentifiedObject
from cardagent.errors import AgentError, CardRemoved, PcscError, TokenError
from cardagent.est import CertificateCheckFailed, EnrollmentRejected, EnrollmentUnavailable
from cardagent.pcsc_probe import probe_card
from cardagent.service import CardReading, CardService, card_key_of, token_role
from cardagent.settings import Settings
from cardagent.upgrade import pins as pin_policy
from cardagent.upgrade import steps
from cardagent.upgrade.job import CardRef, JobStatus, Phase, PinInfo
from cardagent.upgrade.jobstore import JobStore
from cardagent.upgrade.procedure import Procedure

log = logging.getLogger("cardagent.upgrade")
CARD_LOCK_WAIT_S = 30.0  # how long a run waits for the card's previous run to let go

StepHook = Callable[[str, str], None]
WriterFactory = Callable[[Any], CardWriter]

# Failures of a run and the error_code the job ends with (anything else: token_error).
_FAILURE_CODES: dict[type[Exception], str] = {
    EnrollmentUnavailable: "enrollment_unavailable",
    EnrollmentRejected: "enrollment_rejected",
    CertificateCheckFailed: "certificate_check_failed",
    UnidentifiedObject: "card_object_unidentified",
}


class JobRunner:
    def __init__(
        self,
        settings: Settings,
        service: CardService,
        jobs: JobStore,
        *,
        step_hook: StepHook | None = None,
        writer_factory: WriterFactory | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.jobs = jobs
        self.step_hook = step_hook
        self.writer_factory = writer_factory
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}

    def recover(self) -> None:
        """After a restart: interrupted jobs wait for the PINs again; nothing runs unasked."""
        for job in self.jobs.with_status(JobStatus.RUNNING, JobStatus.WAITING_FOR_CARD):
            log.warning(
                "job %s was interrupted at %s; waiting for the PINs again", job.id, job.step
            )
            self.jobs.to_waiting(job.id, "agent_restarted")

    def start(
        self, job_id: str, pins: dict[str, str | None], confirmed_final_try: bool, cancel: bool
    ) -> None:
        """Run the job (already set to running) in its own thread."""
        thread = threading.Thread(
            target=self._run,
            args=(job_id, dict(pins), confirmed_final_try, cancel),
            name=f"upgrade-{job_id}",
            daemon=True,
        )
        self._threads[job_id] = thread
        thread.start()

    def wait(self, job_id: str, timeout: float = 60.0) -> None:
        """Join the job's thread (tests, shutdown)."""
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)

    # --- one run --------------------------------------------------------------------------------

    def _lock_for(self, card_key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(card_key, threading.Lock())

    def _run(self, job_id: str, pins: dict[str, str | None], confirmed: bool, cancel: bool) -> None:
        job = self.jobs.require(job_id)
        lock = self._lock_for(job.card_key)
        # A quick resubmit can start this run while the previous one, which has just put the
        # job back to waiting, is still leaving: wait for it rather than strand the job.
        if not lock.acquire(timeout=CARD_LOCK_WAIT_S):
            log.error("job %s: another job holds card %s", job_id, job.card_key)
            pins.clear()
            self.jobs.to_waiting(job_id, "card_busy")
            return
        writer = (self.writer_factory or CardWriter)(self.service.pkcs11)
        procedure = Procedure(
            self.settings,
            self.jobs,
            job_id,
            writer,
            checkpoint=lambda step, index: self._checkpoint(job_id, step, index),
            ensure_card=self.ensure_card,
        )
        try:
            self._attempt(job_id, writer, procedure, pins, confirmed, cancel)
        except pin_policy.NeedPin as need:
            if need.code == "pin_blocked":
                self.jobs.finish(job_id, JobStatus.FAILED, "pin_blocked", need.role, 0)
            else:
                info = None
                if need.left is not None:
                    info = {need.role: PinInfo(retries_left=need.left)}
                self.jobs.to_waiting(job_id, need.code, need.role, need.left, pins=info)
        except (
            EnrollmentUnavailable,
            EnrollmentRejected,
            CertificateCheckFailed,
            TokenError,
        ) as exc:
            code = _FAILURE_CODES.get(type(exc), "token_error")
            log.warning("job %s failed: %s: %s", job_id, code, exc)
            self._fail_and_roll_back(job_id, procedure, code)
        except Exception:
            log.exception("job %s: unexpected error", job_id)
            self._fail_and_roll_back(job_id, procedure, "internal_error")
        finally:
            writer.close()
            pins.clear()
            lock.release()

    def _attempt(
        self,
        job_id: str,
        writer: CardWriter,
        procedure: Procedure,
        pins: dict[str, str | None],
        confirmed: bool,
        cancel: bool,
    ) -> None:
        """Check the card, log in, do the work (or roll back on cancel); a pulled card waits
        for the same card and starts over from the check."""
        while True:
            try:
                self._checkpoint(job_id, "check_card")
                reading = self._check_card(job_id)
                self._checkpoint(job_id, "login")
                self._login(job_id, writer, reading, pins, confirmed)
                if cancel:
                    if procedure.rollback():
                        self.jobs.finish(job_id, JobStatus.FAILED, "card_object_unidentified")
                    else:
                        self.jobs.finish(job_id, JobStatus.CANCELLED)
                    return
                procedure.run()
                self.jobs.finish(job_id, JobStatus.SUCCEEDED)
                return
            except (CardRemoved, PcscError) as exc:
                log.warning("job %s: card gone (%s)", job_id, exc.detail)
                writer.close()
                if not self._wait_for_card(job_id):
                    self.jobs.to_waiting(job_id, "card_removed")
                    return
                confirmed = False  # counters are checked again on the next login

    def _fail_and_roll_back(self, job_id: str, procedure: Procedure, code: str) -> None:
        state = self.jobs.state(job_id)
        if state.phase == Phase.NEW_SET_COMPLETE or not state.touched:
            # Complete: both sets are on the card, it works; only the old pair's removal is
            # left. Untouched: nothing was written.
            self.jobs.finish(job_id, JobStatus.FAILED, code)
            return
        try:
            left_alone = procedure.rollback()
        except UnidentifiedObject as exc:
            log.warning("job %s: rollback stopped (%s); nothing unidentified deleted", job_id, exc)
            self.jobs.finish(job_id, JobStatus.FAILED, "card_object_unidentified")
            return
        except (CardRemoved, PcscError, TokenError) as exc:
            log.warning("job %s: rollback interrupted (%s); old set untouched", job_id, exc)
            self.jobs.to_waiting(job_id, "card_removed")
            return
        if left_alone:
            self.jobs.finish(job_id, JobStatus.FAILED, "card_object_unidentified")
            return
        self.jobs.finish(job_id, JobStatus.ROLLED_BACK, code)

    def _checkpoint(self, job_id: str, step: str, index: int = 0) -> None:
        self.jobs.update(
            job_id,
            expect=(JobStatus.RUNNING,),
            step=step,
            progress=steps.progress(step, index),
        )
        if self.step_hook is not None:
            self.step_hook(job_id, steps.checkpoint_label(step, index))

    # --- card, PINs -----------------------------------------------------------------------------

    def _check_card(self, job_id: str) -> CardReading:
        reading = self.service.read()
        state = self.jobs.state(job_id)
        if reading.card_reader is None or card_key_of(reading) != state.card.key:
            raise CardRemoved("the job's card is not in the reader")
        return reading

    def ensure_card(self, card: CardRef) -> None:
        """Before every change on the card: is the same card still in the same reader?"""
        readers = {r.name: r for r in self.service.readers()}
        r = readers.get(card.reader)
        if r is None or not r.card_present or r.atr != card.atr:
            raise CardRemoved("card left the reader")
        if card.serial:
            probe = probe_card(card.reader, self.settings.probe)
            if probe is None or probe.card_serial != card.serial:
                raise CardRemoved("another card is in the reader")

    def _wait_for_card(self, job_id: str) -> bool:
        self.jobs.update(
            job_id,
            expect=(JobStatus.RUNNING,),
            status=JobStatus.WAITING_FOR_CARD,
            error_code="card_removed",
        )
        card = self.jobs.state(job_id).card
        deadline = time.monotonic() + self.settings.upgrade.card_wait_s
        while time.monotonic() < deadline:
            try:
                self.ensure_card(card)
                self.jobs.update(
                    job_id,
                    status=JobStatus.RUNNING,
                    error_code=None,
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
        confirmed: bool,
    ) -> None:
        state = self.jobs.state(job_id)
        state.pins = pin_policy.check_counters(reading, confirmed)
        self.jobs.save_state(job_id, state)
        pin_policy.log_in(
            writer, state.card, pins, state.pins, self.settings.probe, self._retries_left
        )

    def _retries_left(self, role: str) -> int | None:
        try:
            reading = self.service.read()
        except AgentError:
            return None
        for t in reading.tokens:
            if token_role(t.data.label) == role:
                return t.pin.retries_left
        return None
