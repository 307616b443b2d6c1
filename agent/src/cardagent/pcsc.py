"""Readers and card presence through PC/SC (pyscard's thin SCard* layer).

Every call opens a fresh PC/SC context, so a card inserted or removed - or pcscd restarted -
is seen on the next request without restarting the agent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from smartcard import scard

from cardagent.errors import CardRemoved, PcscError, PcscUnavailable

_NO_SERVICE = {scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED}
_REMOVED = {
    scard.SCARD_W_REMOVED_CARD,
    scard.SCARD_E_NO_SMARTCARD,
    scard.SCARD_W_RESET_CARD,
    scard.SCARD_E_READER_UNAVAILABLE,
    scard.SCARD_W_UNPOWERED_CARD,
    scard.SCARD_W_UNRESPONSIVE_CARD,
}
_lock = threading.Lock()


@dataclass(frozen=True)
class ReaderState:
    name: str
    card_present: bool
    atr: str | None = None
    in_use: bool = False


def _hex(data: list[int] | bytes) -> str:
    return " ".join(f"{b:02X}" for b in data)


def _check(hresult: int, what: str) -> None:
    if hresult == scard.SCARD_S_SUCCESS:
        return
    if hresult in _NO_SERVICE:
        raise PcscUnavailable(f"{what}: {scard.SCardGetErrorMessage(hresult)}")
    if hresult in _REMOVED:
        raise CardRemoved(f"{what}: {scard.SCardGetErrorMessage(hresult)}")
    raise PcscError(f"{what}: {scard.SCardGetErrorMessage(hresult)} (0x{hresult & 0xFFFFFFFF:08X})")


@contextmanager
def pcsc_context() -> Iterator[int]:
    with _lock:
        hresult, hcontext = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    _check(hresult, "SCardEstablishContext")
    try:
        yield hcontext
    finally:
        scard.SCardReleaseContext(hcontext)


def _list(hcontext: int) -> list[str]:
    hresult, readers = scard.SCardListReaders(hcontext, [])
    if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
        return []
    _check(hresult, "SCardListReaders")
    return sorted(readers)


def list_readers(reader_filter: str | None = None) -> list[ReaderState]:
    """All readers (optionally only those whose name contains ``reader_filter``) and cards."""
    with pcsc_context() as hcontext:
        names = [n for n in _list(hcontext) if not reader_filter or reader_filter in n]
        if not names:
            return []
        hresult, states = scard.SCardGetStatusChange(
            hcontext, 0, [(name, scard.SCARD_STATE_UNAWARE) for name in names]
        )
        if hresult == scard.SCARD_E_TIMEOUT:
            return [ReaderState(name=n, card_present=False) for n in names]
        _check(hresult, "SCardGetStatusChange")
    out = []
    for name, event_state, atr in states:
        present = bool(event_state & scard.SCARD_STATE_PRESENT) and not bool(
            event_state & scard.SCARD_STATE_MUTE
        )
        out.append(
            ReaderState(
                name=name,
                card_present=present,
                atr=_hex(atr) if present and atr else None,
                in_use=bool(event_state & scard.SCARD_STATE_INUSE),
            )
        )
    return out


def wait_for_change(reader: str, card_present: bool, timeout_s: float) -> bool:
    """Block until ``reader`` has (``card_present``) a card or not; False on timeout."""
    deadline = time.monotonic() + timeout_s
    with pcsc_context() as hcontext:
        current = scard.SCARD_STATE_UNAWARE
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms < 0:
                return False
            hresult, states = scard.SCardGetStatusChange(
                hcontext, remaining_ms, [(reader, current)]
            )
            if hresult == scard.SCARD_E_TIMEOUT:
                return False
            _check(hresult, "SCardGetStatusChange")
            _, event_state, _atr = states[0]
            present = bool(event_state & scard.SCARD_STATE_PRESENT) and not bool(
                event_state & scard.SCARD_STATE_MUTE
            )
            if present == card_present:
                return True
            current = event_state & ~scard.SCARD_STATE_CHANGED


class CardConnection:
    """A shared connection to the card in one reader, for short APDU exchanges."""

    def __init__(self, hcard: int, protocol: int) -> None:
        self._hcard = hcard
        self._pci = (
            scard.SCARD_PCI_T0 if protocol == scard.SCARD_PROTOCOL_T0 else scard.SCARD_PCI_T1
        )

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        hresult, response = scard.SCardTransmit(self._hcard, self._pci, list(apdu))
        _check(hresult, "SCardTransmit")
        if len(response) < 2:
            raise PcscError("card answered less than a status word")
        data = bytes(response[:-2])
        return data, (response[-2] << 8) | response[-1]


@contextmanager
def connect(reader: str) -> Iterator[CardConnection]:
    with pcsc_context() as hcontext:
        hresult, hcard, protocol = scard.SCardConnect(
            hcontext,
            reader,
            scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
        )
        _check(hresult, "SCardConnect")
        try:
            yield CardConnection(hcard, protocol)
        finally:
            scard.SCardDisconnect(hcard, scard.SCARD_LEAVE_CARD)
