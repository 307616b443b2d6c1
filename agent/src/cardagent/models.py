"""API response models (pydantic 2).

Facts only: codes, states, dates, counters, which certificates. No Swedish in any body: the
bot words everything (``domain.yml``); the agent's own pages word theirs in their templates.
An error's ``message``/``detail`` is short English for developers and logs.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Dict, List, Optional

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class CardStateName(StrEnum):
    no_reader = "no_reader"
    no_card = "no_card"
    not_upgraded = "not_upgraded"
    upgraded = "upgraded"
    upgraded_with_old_restored = "upgraded_with_old_restored"
    eid_level2 = "eid_level2"
    expiring_soon = "expiring_soon"
    expired = "expired"
    pin_blocked = "pin_blocked"
    not_a_siths_card = "not_a_siths_card"


class ErrorOut(BaseModel):
    error: str = Field(..., description="Machine-readable error code")
    message: str = Field(..., description="Short English text for developers (never shown)")
    detail: Optional[str] = Field(None, description="Technical detail (English)")


class ValidationItem(BaseModel):
    loc: List[str]
    msg: str


class ValidationErrorOut(BaseModel):
    error: str = Field(..., description="Always invalid_request")
    message: str = Field(..., description="Short English text for developers")
    detail: List[ValidationItem]


class ReaderOut(BaseModel):
    name: str
    card_present: bool
    atr: Optional[str] = Field(None, description="Answer-to-reset, hex bytes")


class ReadersOut(BaseModel):
    readers: List[ReaderOut]


class IdentifierOut(BaseModel):
    kind: str = Field(..., description="hsa_id, personnummer, samordningsnummer, unknown or none")
    value: str = Field(..., description="HSA-id in full; personnummer masked as YYYYMMDD-****")
    valid: bool


class CertificateOut(BaseModel):
    token_label: str
    token_serial: str
    label: str
    id: str = Field(..., description="CKA_ID, hex")
    subject: str
    issuer: str
    serial_number: str
    not_before: dt.datetime
    not_after: dt.datetime
    days_left: int
    expired: bool
    key_usage: List[str]
    extended_key_usage: List[str]
    policy_oids: List[str]
    identifier: IdentifierOut
    assurance_level: Optional[int] = None
    ca_family: Optional[str] = Field(
        None, description="siths_eid, siths_legacy or null (not SITHS)"
    )
    purpose: str = Field(..., description="authentication, signature or unknown")
    fingerprint_sha256: str


class PinOut(BaseModel):
    role: Optional[str] = Field(None, description="legitimering or underskrift")
    status: str = Field(..., description="ok, count_low, final_try or locked")
    retries_left: Optional[int] = None
    sources: List[str]


class TokenOut(BaseModel):
    label: str
    serial: str
    manufacturer: str
    model: str
    flags: List[str]
    pin: PinOut
    certificates: List[CertificateOut]


class TokensOut(BaseModel):
    reader: Optional[str] = None
    tokens: List[TokenOut]


class CardOut(BaseModel):
    reader: str
    atr: Optional[str] = None
    serial: Optional[str] = Field(None, description="Card serial when the card tells it")


class CardDetailsOut(BaseModel):
    base_state: Optional[str] = Field(
        None, description="Card type behind expiring_soon/expired/pin_blocked"
    )
    readers: List[ReaderOut]
    card: Optional[CardOut] = None
    tokens: List[TokenOut]
    certificate_count: int
    assurance_level: Optional[int] = None
    certificate_profile: Optional[str] = None
    has_hsa_id: bool = False
    has_personnummer: bool = False
    has_samordningsnummer: bool = False
    blocked_pins: List[str] = Field(
        [], description="Roles of blocked PINs: legitimering, underskrift (unknown: token label "
        "names neither)"
    )
    final_try_pins: List[str] = Field([], description="Roles of PINs with one try left")
    earliest_expiry: Optional[dt.datetime] = Field(
        None,
        description="First expiry among the certificates that define the card type (all "
        "expired: the last one)",
    )
    latest_expiry: Optional[dt.datetime] = Field(
        None, description="Last expiry among the card's SITHS certificates"
    )
    days_left: Optional[int] = Field(None, description="Days from today to earliest_expiry")


class CardStateOut(BaseModel):
    state: CardStateName
    details: CardDetailsOut
    warnings: List[str] = Field(
        ...,
        description="Warning codes: pin_final_try, pin_count_low, some_certificates_expired, "
        "identifier_invalid, certificate_set_incomplete",
    )
    checked_at: dt.datetime
    read_ms: float


class AgentInfoOut(BaseModel):
    name: str
    version: str
    pkcs11_module: str
    pcsc_probe: bool
    expiry_warning_days: int


# --- write side (issue 4): upgrade jobs and PUK orders ---------------------------------------


class UpgradeRequest(BaseModel):
    """Body of POST /v1/upgrade. No PINs: they are typed on the agent's own page."""

    model_config = ConfigDict(extra="forbid")


class JobStepOut(BaseModel):
    name: str
    status: str = Field(..., description="pending, running, done or failed")


class JobCardOut(BaseModel):
    reader: str
    serial: Optional[str] = None


class JobPinOut(BaseModel):
    status: Optional[str] = None
    retries_left: Optional[int] = None


class JobCertificateOut(BaseModel):
    token: str
    label: str
    id: str
    issuer: Optional[str] = None
    identifier: Dict[str, str]
    purpose: str
    not_after: str
    fingerprint_sha256: str


class JobOut(BaseModel):
    job_id: str
    type: str = Field(..., description="Always 'upgrade'")
    status: str = Field(
        ...,
        description="waiting_for_pin, running, waiting_for_card (active); succeeded, failed, "
        "rolled_back, cancelled (final)",
    )
    error_code: Optional[str] = Field(None, description="Machine-readable reason, see docs")
    error_role: Optional[str] = Field(
        None,
        description="The PIN an error such as wrong_pin, pin_final_try or pin_blocked concerns: "
        "legitimering or underskrift; null for other errors",
    )
    retries_left: Optional[int] = Field(
        None, description="Tries left of the error_role PIN, when known"
    )
    step: Optional[str] = None
    progress: int = Field(..., ge=0, le=100)
    steps: List[JobStepOut]
    pin_page_url: Optional[str] = Field(
        None,
        description="Local page where the user types the PINs (only while waiting_for_pin): "
        "with its one-time token (?t=) until the page is opened, then the token-less URL "
        "that works only in the browser that opened it. Viewing never changes it.",
    )
    page_opened: bool = Field(
        False, description="The PIN page link has been opened (its one-time token is spent)"
    )
    pins: Dict[str, JobPinOut] = Field(default_factory=dict)
    card: JobCardOut
    certificates: List[JobCertificateOut] = Field(default_factory=list)
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    finished_at: Optional[str] = None
    created: Optional[bool] = Field(
        None, description="POST only: false when an active job for this card already existed"
    )


class PukOrderRequest(BaseModel):
    """Body of POST /v1/puk-orders: ``{}``. The request only proposes the order; the person
    consents on the agent's order page (``confirm_page_url``)."""

    confirm_cost: Optional[StrictBool] = Field(
        None,
        description="Deprecated and ignored: consent is given only by clicking the order "
        "button on the agent's order page",
    )

    model_config = ConfigDict(extra="forbid")


class OrderCardOut(BaseModel):
    serial: Optional[str] = None
    hsa_id: Optional[str] = None
    organisation: Optional[str] = None


class OrderDeliveryOut(BaseModel):
    attempts: int
    delivered_at: Optional[str] = None
    next_attempt_at: Optional[str] = None
    receiver_reference: Optional[str] = None


class PukOrderOut(BaseModel):
    order_id: str
    reference: str = Field(..., description="Order reference to give the user")
    status: str = Field(
        ...,
        description="awaiting_confirmation (proposed; placed only from the order page), "
        "queued (placed, in the outbox), delivered, cancelled, rejected (the order system "
        "refused it)",
    )
    error_code: Optional[str] = Field(
        None,
        description="order_endpoint_down while delivery attempts fail (order stays queued); "
        "order_rejected when the order system refused it",
    )
    cost_sek: int = Field(..., description="The cost the person agrees to on the order page")
    card: OrderCardOut
    delivery: OrderDeliveryOut
    confirm_page_url: Optional[str] = Field(
        None,
        description="The agent's order page where the person places or cancels the order: "
        "with its one-time token (?t=) until opened, then token-less",
    )
    page_opened: bool = Field(
        False, description="The order page link has been opened (its one-time token is spent)"
    )
    created_at: Optional[str] = None
    open_until: Optional[str] = None
    created: Optional[bool] = Field(
        None, description="POST only: false when the card's open order was returned instead"
    )
