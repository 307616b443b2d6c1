"""The tables of the agent's settings: ``[probe]``, ``[upgrade]``, ``[puk_orders]``.

Each field's environment variable is stated beside it as ``Env(...)`` (their names predate the
tables, so they are not derived from the field names). See :mod:`cardagent.settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)


@dataclass(frozen=True)
class Env:
    """Field metadata: the environment variable of a field inside a table."""

    name: str


def blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _https_only(url: str | None) -> str | None:
    if url and not url.startswith("https://"):
        raise ValueError(f"enrollment and order endpoints must use https://: {url}")
    return url


def _web_link(url: str | None) -> str | None:
    if url and (not url.startswith(("https://", "http://")) or any(c.isspace() for c in url)):
        raise ValueError(f"a link must be an http:// or https:// URL without spaces: {url}")
    return url


def _aid(value: Any) -> Any:
    return value.replace(" ", "").upper() if isinstance(value, str) else value


Text = Annotated[str | None, BeforeValidator(blank_is_none)]
HttpsUrl = Annotated[str | None, BeforeValidator(blank_is_none), AfterValidator(_https_only)]
WebLink = Annotated[
    str | None, BeforeValidator(blank_is_none), AfterValidator(_web_link), Field(max_length=2000)
]
Aid = Annotated[
    str | None,
    BeforeValidator(blank_is_none),
    BeforeValidator(_aid),
    Field(pattern=r"^(?:[0-9A-F]{2}){5,16}$"),
]


class _Table(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProbeSettings(_Table):
    """``[probe]``: the PC/SC probe seam (cardagent/pcsc_probe.py). Off on real workstations;
    it asks the card selected by ``aid`` (the emulator's test applet) for its PIN counters."""

    enabled: Annotated[bool, Env("CARDAGENT_PCSC_PROBE")] = False
    aid: Annotated[Aid, Env("CARDAGENT_PCSC_PROBE_AID")] = None
    pin_refs: dict[str, int] = Field(
        default_factory=lambda: {"legitimering": 0x81, "underskrift": 0x82}
    )
    max_pin_tries: int = Field(3, ge=1)

    @model_validator(mode="after")
    def _aid_when_enabled(self) -> ProbeSettings:
        if self.enabled and not self.aid:
            raise ValueError(
                "the PC/SC probe needs the applet to ask: set [probe] aid "
                "(or CARDAGENT_PCSC_PROBE_AID)"
            )
        return self


DEFAULT_EST_LABELS = {
    "hsaid-auth": "hsaid-auth",
    "hsaid-sign": "hsaid-sign",
    "pnr-auth": "pnr-auth",
    "pnr-sign": "pnr-sign",
}


class UpgradeSettings(_Table):
    """``[upgrade]``: the certificate upgrade (issue 4): enrollment service and job behaviour."""

    # EST base, e.g. https://est.example/.well-known/est; None: the upgrade is refused
    est_url: Annotated[HttpsUrl, Env("CARDAGENT_EST_URL")] = None
    # PEM file to verify the EST server (None: the system store)
    est_tls_ca: Annotated[Text, Env("CARDAGENT_EST_TLS_CA")] = None
    # PEM file: issuing CAs the new certificates must chain to (None: EST /cacerts)
    est_trust_anchors: Annotated[Text, Env("CARDAGENT_EST_TRUST_ANCHORS")] = None
    est_username: Annotated[Text, Env("CARDAGENT_EST_USERNAME")] = None  # HTTP basic auth
    est_password: Annotated[Text, Env("CARDAGENT_EST_PASSWORD")] = Field(None, repr=False)
    est_labels: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_EST_LABELS))
    est_timeout_s: Annotated[float, Env("CARDAGENT_EST_TIMEOUT")] = Field(20.0, gt=0)
    # tries per request before the job rolls back
    est_attempts: Annotated[int, Env("CARDAGENT_EST_ATTEMPTS")] = Field(3, ge=1)
    est_backoff_s: Annotated[float, Env("CARDAGENT_EST_BACKOFF")] = Field(1.0, ge=0)
    key_bits: Annotated[int, Env("CARDAGENT_KEY_BITS")] = Field(2048, ge=2048)
    # how long a running job waits for a pulled card (PINs in memory)
    card_wait_s: Annotated[float, Env("CARDAGENT_CARD_WAIT")] = Field(120.0, ge=0)
    pin_page_ttl_s: Annotated[float, Env("CARDAGENT_PIN_PAGE_TTL")] = Field(1800.0, gt=0)
    required_level: Annotated[int, Env("CARDAGENT_REQUIRED_LEVEL")] = Field(3, ge=1)

    @field_validator("est_labels", mode="before")
    @classmethod
    def _labels_over_defaults(cls, value: Any) -> Any:
        return {**DEFAULT_EST_LABELS, **value} if isinstance(value, Mapping) else value


class OrderSettings(_Table):
    """``[puk_orders]``: PUK orders (issue 4): the card administration's webhook, the outbox."""

    # None: orders wait in the outbox
    webhook_url: Annotated[HttpsUrl, Env("CARDAGENT_ORDER_WEBHOOK_URL")] = None
    webhook_tls_ca: Annotated[Text, Env("CARDAGENT_ORDER_WEBHOOK_TLS_CA")] = None
    # sent as "Authorization: Bearer ..." if set
    webhook_token: Annotated[Text, Env("CARDAGENT_ORDER_WEBHOOK_TOKEN")] = Field(None, repr=False)
    # the cost the order page states (its template words it) and the order carries
    cost_sek: Annotated[int, Env("CARDAGENT_PUK_COST_SEK")] = Field(200, ge=0)
    # the region's manual for ordering codes (the FAQ links to it from "who can help me order
    # new codes"); the order page links to it for what happens next, and says nothing of its
    # own about delivery when it is not set
    manual_url: Annotated[WebLink, Env("CARDAGENT_PUK_ORDER_MANUAL_URL")] = None
    # an order counts as open (no second order) for this many days
    open_days: Annotated[int, Env("CARDAGENT_PUK_ORDER_OPEN_DAYS")] = Field(30, ge=0)
    retry_initial_s: Annotated[float, Env("CARDAGENT_ORDER_RETRY_INITIAL")] = Field(1.0, gt=0)
    retry_max_s: Annotated[float, Env("CARDAGENT_ORDER_RETRY_MAX")] = Field(300.0, gt=0)
    timeout_s: Annotated[float, Env("CARDAGENT_ORDER_TIMEOUT")] = Field(10.0, gt=0)
