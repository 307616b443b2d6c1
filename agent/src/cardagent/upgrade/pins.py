"""PIN policy of an upgrade: when a PIN may be tried, and what a refusal tells the person.

* both counters are checked before any PIN is tried: a locked PIN fails the job; a PIN with
  one try left is tried only after the person confirmed it on the PIN page;
* a PIN that is not 4-12 ASCII digits never reaches the card (no try is spent);
* with the PC/SC probe the PIN is verified on the card's applet first, which tells the tries
  left, then C_Login opens the PKCS#11 session; a reader with a PIN pad asks on the pad.

PINs live only in the job thread's memory while it runs (cardagent/upgrade/runner.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from cardagent import pcsc_probe
from cardagent.cardwriter import CardWriter, PinLocked, WrongPin
from cardagent.errors import CardRemoved
from cardagent.service import CardReading, token_role
from cardagent.settings import ProbeSettings
from cardagent.upgrade.job import CardRef, PinInfo
from cardagent.upgrade.plan import ROLES

PIN_MIN = 4
PIN_MAX = 12
# Only the ASCII digits 0-9: str.isdigit() also accepts e.g. Arabic-Indic or fullwidth digits,
# which a card would see as other bytes and count as a wrong try.
PIN_RE = re.compile(rf"[0-9]{{{PIN_MIN},{PIN_MAX}}}", re.ASCII)


def valid_pin(pin: str | None) -> bool:
    """4-12 ASCII digits: anything else never reaches the card."""
    return pin is not None and PIN_RE.fullmatch(pin) is not None


class NeedPin(Exception):
    """The job cannot go on without the person: ``code`` is the error_code it waits with
    (``wrong_pin``, ``pin_final_try``) or fails with (``pin_blocked``)."""

    def __init__(self, code: str, role: str, left: int | None = None) -> None:
        super().__init__(code)
        self.code, self.role, self.left = code, role, left


def check_counters(reading: CardReading, confirmed_final_try: bool) -> dict[str, PinInfo]:
    """Both PIN counters as the card tells them; raises :class:`NeedPin` before any PIN is
    tried when one is locked, or has one try left and the person did not confirm that."""
    status = {token_role(t.data.label): t.pin for t in reading.tokens}
    info: dict[str, PinInfo] = {}
    for role in ROLES:
        p = status.get(role)
        if p is None:
            raise CardRemoved(f"no {role} token")
        info[role] = PinInfo(status=p.status, retries_left=p.retries_left)
        if p.status == "locked":
            raise NeedPin("pin_blocked", role, 0)
        if p.status == "final_try" and not confirmed_final_try:
            raise NeedPin("pin_final_try", role, 1)
    return info


def log_in(
    writer: CardWriter,
    card: CardRef,
    pins: dict[str, str | None],
    counters: dict[str, PinInfo],
    probe: ProbeSettings,
    retries_left: Callable[[str], int | None],
) -> None:
    """Log in to both tokens. ``retries_left(role)`` reads a counter again after a wrong PIN."""
    for role in ROLES:
        serial = card.tokens[role]
        ppad = writer.protected_auth_path(serial)
        pin = None if ppad else pins.get(role)
        if not ppad:
            if not valid_pin(pin):  # ASCII 0-9 only: isdigit() accepts other digits
                raise NeedPin("wrong_pin", role, counters[role].retries_left)
            assert pin is not None
            left = pcsc_probe.verify_pin(card.reader, probe, role, pin)
            if left is not None and left >= 0:
                if left == 0:
                    raise NeedPin("pin_blocked", role, 0)
                raise NeedPin("wrong_pin", role, left)
        try:
            writer.login(role, serial, pin)
        except WrongPin as exc:
            raise NeedPin("wrong_pin", role, retries_left(role)) from exc
        except PinLocked as exc:
            raise NeedPin("pin_blocked", role, 0) from exc
