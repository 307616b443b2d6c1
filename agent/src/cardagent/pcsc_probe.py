"""THE SEAM: PIN retry counters and card-to-token link read over PC/SC from the test applet.

SoftHSM2 never locks a PIN (it has no retry counter), so on the demo/test stack the card in
the reader is the project's card emulator (a developer tool) and this probe asks it:

* ``SELECT`` by AID ``settings.probe.aid`` - a proprietary test AID that real SITHS cards
  do not answer (then the probe returns None and nothing else is sent);
* ``READ BINARY`` of the card-info EF: card serial and the serials of the PKCS#11 tokens
  that belong to this card (SoftHSM2 cannot give two tokens the same serial, as Net iD does);
* ``VERIFY`` with no data for each PIN reference - the ISO 7816-4 way to read the remaining
  tries (63Cx) or "blocked" (6983) without spending a try.

The probe is off by default (``[probe] enabled`` / ``CARDAGENT_PCSC_PROBE``); ``make demo-card``
and the tests turn it on. On a real workstation PIN state comes from the PKCS#11 token flags
that Net iD reports. Nothing else in the agent sends APDUs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from cardagent.errors import CardRemoved, PcscError
from cardagent.pcsc import CardConnection, connect, wait_for_change
from cardagent.settings import ProbeSettings

CARD_INFO_FID = b"\x50\x01"
SW_OK = 0x9000
SW_BLOCKED = 0x6983


@dataclass(frozen=True)
class ProbeResult:
    card_serial: str | None
    token_serials: tuple[str, ...]
    pin_retries: dict[str, int] = field(default_factory=dict)  # role -> tries left (0 = blocked)


def _select_aid(aid: bytes) -> bytes:
    return bytes([0x00, 0xA4, 0x04, 0x00, len(aid)]) + aid


def probe_card(reader: str, settings: ProbeSettings) -> ProbeResult | None:
    """Ask the card in ``reader`` through the test applet; None if it has no such applet."""
    if not settings.enabled:
        return None
    try:
        with connect(reader) as card:
            _, sw = card.transmit(_select_aid(bytes.fromhex(settings.aid)))
            if sw != SW_OK:
                return None
            info = _read_card_info(card)
            retries: dict[str, int] = {}
            for role, ref in settings.pin_refs.items():
                _, sw = card.transmit(bytes([0x00, 0x20, 0x00, ref]))
                if sw == SW_BLOCKED:
                    retries[role] = 0
                elif sw & 0xFFF0 == 0x63C0:
                    retries[role] = sw & 0x0F
                elif sw == SW_OK:
                    retries[role] = settings.max_pin_tries
    except PcscError as exc:
        # The card stopped answering mid-probe. pcscd notices a removal ~0.2 s later: wait
        # briefly, and report a removal as such instead of guessing from stale data.
        if wait_for_change(reader, card_present=False, timeout_s=0.5):
            raise CardRemoved(f"card left {reader} during the read") from exc
        raise
    tokens = info.get("tokens") if isinstance(info.get("tokens"), list) else []
    serial = info.get("card_serial")
    return ProbeResult(
        card_serial=str(serial) if serial is not None else None,
        token_serials=tuple(str(t) for t in tokens),
        pin_retries=retries,
    )


def _read_card_info(card: CardConnection) -> dict:
    _, sw = card.transmit(bytes([0x00, 0xA4, 0x02, 0x0C, 0x02]) + CARD_INFO_FID)
    if sw != SW_OK:
        return {}
    data = b""
    for _ in range(16):  # at most 4 KiB
        offset = len(data)
        chunk, sw = card.transmit(bytes([0x00, 0xB0, (offset >> 8) & 0x7F, offset & 0xFF, 0x00]))
        if sw not in (SW_OK, 0x6282):
            break
        data += chunk
        if len(chunk) < 256 or sw == 0x6282:
            break
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def verify_pin(reader: str, settings: ProbeSettings, role: str, pin: str) -> int | None:
    """THE SEAM, write side: present a PIN to the test applet so its retry counter behaves as a
    real card's does inside C_Login (SoftHSM2 has no counter). Only when the probe is on and
    the card answers the test AID; otherwise returns None and sends nothing more (real cards
    check the PIN in C_Login). Returns the tries left after the attempt (-1 = accepted).
    """
    if not settings.enabled or role not in settings.pin_refs:
        return None
    data = pin.encode("ascii")
    with connect(reader) as card:
        _, sw = card.transmit(_select_aid(bytes.fromhex(settings.aid)))
        if sw != SW_OK:
            return None
        _, sw = card.transmit(bytes([0x00, 0x20, 0x00, settings.pin_refs[role], len(data)]) + data)
    del data
    if sw == SW_OK:
        return -1
    if sw == SW_BLOCKED:
        return 0
    if sw & 0xFFF0 == 0x63C0:
        return sw & 0x0F
    raise PcscError(f"VERIFY answered {sw:04X}")
