"""Upgrade jobs in the agent's database (cardagent/store.py) as typed records, and the
transitions that end a run: back to waiting for the PINs, or finished."""

from __future__ import annotations

import logging
import sqlite3
import time
from enum import Enum
from typing import Any

from cardagent.store import Store
from cardagent.upgrade.errors import JobNotFound
from cardagent.upgrade.job import Job, JobState, JobStatus, PinInfo

log = logging.getLogger("cardagent.upgrade")


def _plain(value: Any) -> Any:
    if isinstance(value, JobState):
        return value.to_json()
    if isinstance(value, Enum):
        return value.value
    return value


class JobStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reading ----------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        row = self.store.job(job_id)
        return None if row is None else Job.model_validate(row)

    def require(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id}")
        return job

    def active_for(self, card_key: str) -> Job | None:
        row = self.store.active_job(card_key)
        return None if row is None else Job.model_validate(row)

    def with_status(self, *statuses: JobStatus) -> list[Job]:
        rows = self.store.jobs_with_status(*(s.value for s in statuses))
        return [Job.model_validate(r) for r in rows]

    def state(self, job_id: str) -> JobState:
        return self.require(job_id).state

    # --- writing ----------------------------------------------------------------------------

    def insert(self, db: sqlite3.Connection, job_id: str, card_key: str, state: JobState) -> None:
        """A new job waiting for the PINs, in the caller's transaction."""
        self.store.insert_job(
            db,
            {
                "id": job_id,
                "card_key": card_key,
                "status": JobStatus.WAITING_FOR_PIN.value,
                "state": state.to_json(),
            },
        )

    def update(
        self, job_id: str, *, expect: tuple[JobStatus, ...] | None = None, **fields: Any
    ) -> bool:
        """Update a job; with ``expect`` only while its status is one of those."""
        expect_status = tuple(s.value for s in expect) if expect else None
        plain = {k: _plain(v) for k, v in fields.items()}
        return self.store.update_job(job_id, expect_status=expect_status, **plain)

    def save_state(self, job_id: str, state: JobState) -> None:
        self.update(job_id, state=state)

    # --- transitions ------------------------------------------------------------------------

    def to_waiting(
        self,
        job_id: str,
        code: str,
        role: str | None = None,
        left: int | None = None,
        pins: dict[str, PinInfo] | None = None,
    ) -> None:
        """Back to waiting for the PINs, with the reason (``code``) and, for a PIN error, the
        PIN it concerns (``role``) and its tries left (``left``).

        The page session (cookie) slides with every page request, so the person's open page
        keeps working; a page never opened still has its unspent link."""
        job = self.get(job_id)
        if job is None:
            return
        state = job.state
        if pins is not None:
            state.pins = {**state.pins, **pins}
        state.error_role, state.error_retries_left = role, left
        self.update(job_id, status=JobStatus.WAITING_FOR_PIN, error_code=code, state=state)

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        code: str | None = None,
        role: str | None = None,
        left: int | None = None,
    ) -> None:
        """End the job; ``role``/``left`` as in :meth:`to_waiting` for a PIN error."""
        fields: dict[str, Any] = {
            "status": status,
            "active": 0,
            "error_code": code,
            "finished_at": time.time(),
        }
        if role is not None or left is not None:
            job = self.get(job_id)
            if job is not None:
                job.state.error_role, job.state.error_retries_left = role, left
                fields["state"] = job.state
        if status == JobStatus.SUCCEEDED:
            fields["progress"] = 100
            fields["step"] = "remove_old"
        self.update(job_id, **fields)
        log.info("upgrade job %s ended: %s %s", job_id, status.value, code or "")
