"""An upgrade job as a typed record: its status, and the state it keeps between runs.

Lifecycle: ``waiting_for_pin`` -> ``running`` (<-> ``waiting_for_card``) -> ``succeeded`` |
``rolled_back`` | ``failed`` | ``cancelled``. The first three are *active*; the store allows
one active job per card. The state is stored as JSON in ``jobs.state`` (cardagent/store.py);
its keys are those of the agent's earlier versions, so a job survives an agent update.

A job holds no text: its status, step, progress and error code are facts; the bot and the
PIN page's templates word them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class JobStatus(StrEnum):
    WAITING_FOR_PIN = "waiting_for_pin"
    RUNNING = "running"
    WAITING_FOR_CARD = "waiting_for_card"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        return self in ACTIVE


ACTIVE = frozenset({JobStatus.WAITING_FOR_PIN, JobStatus.RUNNING, JobStatus.WAITING_FOR_CARD})
FINAL = frozenset(JobStatus) - ACTIVE

# The error codes that concern one PIN (the job's error_role).
PIN_ERRORS = frozenset({"wrong_pin", "pin_final_try", "pin_blocked"})


class Phase(StrEnum):
    NEW = "new"  # the old pair is the card's working set; the new set may be partly there
    NEW_SET_COMPLETE = "new_set_complete"  # verified on the card: only the old pair's removal


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CardRef(_Record):
    """The job's card: where it was, how it answered, its two PIN tokens."""

    reader: str
    atr: str | None = None
    serial: str | None = None
    key: str | None = None  # cardagent.service.card_key_of
    tokens: dict[str, str]  # role ("legitimering", "underskrift") -> token serial


class OldSet(_Record):
    """The old pair as recorded at job start: only these objects are ever removed as old."""

    fingerprints: list[str]  # SHA-256 of the old certificates' DER
    moduli: list[str]  # modulus hashes of the old certificates' keys
    ids: list[str] | None = None  # their CKA_IDs (hex); absent in jobs of older agents


class PinInfo(_Record):
    status: str | None = None
    retries_left: int | None = None


class NewCertificate(_Record):
    """One verified new certificate, as the API shows it (identifier masked)."""

    token: str
    label: str
    id: str
    issuer: str | None = None
    identifier: dict[str, str]
    purpose: str
    not_after: str
    fingerprint_sha256: str


class JobState(_Record):
    card: CardRef
    old: OldSet
    hsa_id: str
    label: str  # CKA_LABEL of the new objects
    subject: str  # base64 DER of the new certificates' subject name
    phase: Phase = Phase.NEW
    touched: bool = False  # the job has written to the card
    # Modulus hashes of keys under a planned CKA_ID before the job first wrote (never ours);
    # None until recorded.
    before: list[str] | None = None
    new_moduli: list[str] = Field(default_factory=list)  # keys this job generated
    pins: dict[str, PinInfo] = Field(default_factory=dict)
    certificates: list[NewCertificate] = Field(default_factory=list)
    # The PIN the job's last PIN error (wrong_pin, pin_final_try, pin_blocked) concerns, and
    # its tries left then; the API shows them only while error_code is such an error.
    error_role: str | None = None
    error_retries_left: int | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Job(_Record):
    id: str
    card_key: str
    status: JobStatus
    step: str | None = None
    progress: int = 0
    error_code: str | None = None
    state: JobState
    created_at: float | None = None
    updated_at: float | None = None
    finished_at: float | None = None
