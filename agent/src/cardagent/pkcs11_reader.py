"""Tokens and certificates through python-pkcs11 with a configurable module.

Read-only: no login, so no PIN is ever asked for here. All PKCS#11 calls go through one
lock (the module is process-global) and sessions are always closed. Note for later write
operations: python-pkcs11 0.10.1 leaks the session when a login fails; call
``Pkcs11Reader.refresh()`` (C_Finalize + C_Initialize) after a failed login.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import Attribute, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11e

from cardagent.errors import CardRemoved, Pkcs11ModuleError, Pkcs11ModuleMissing, TokenError

_REMOVED = (
    p11e.DeviceRemoved,
    p11e.TokenNotPresent,
    p11e.SessionHandleInvalid,
    p11e.SessionClosed,
    p11e.SlotIDInvalid,
    p11e.TokenNotRecognised,
)

PIN_FLAGS = {
    TokenFlag.USER_PIN_COUNT_LOW: "user_pin_count_low",
    TokenFlag.USER_PIN_FINAL_TRY: "user_pin_final_try",
    TokenFlag.USER_PIN_LOCKED: "user_pin_locked",
    TokenFlag.USER_PIN_TO_BE_CHANGED: "user_pin_to_be_changed",
    TokenFlag.SO_PIN_COUNT_LOW: "so_pin_count_low",
    TokenFlag.SO_PIN_FINAL_TRY: "so_pin_final_try",
    TokenFlag.SO_PIN_LOCKED: "so_pin_locked",
}


@dataclass(frozen=True)
class RawCertificate:
    label: str
    id_hex: str
    der: bytes


@dataclass(frozen=True)
class TokenData:
    slot_id: int
    label: str
    serial: str
    manufacturer: str
    model: str
    flags: frozenset[str]
    certificates: tuple[RawCertificate, ...]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value or "").strip().rstrip("\x00").strip()


class Pkcs11Reader:
    """Loads the PKCS#11 module lazily and lists tokens and their certificate objects."""

    def __init__(self, module_path: str, softhsm2_conf: str | None = None) -> None:
        self.module_path = module_path
        self.softhsm2_conf = softhsm2_conf
        self._lib: Any = None
        self._lock = threading.RLock()

    def _load(self) -> Any:
        if self._lib is not None:
            return self._lib
        path = Path(self.module_path)
        if os.sep in self.module_path and not path.is_file():
            raise Pkcs11ModuleMissing(
                f"PKCS#11 module not found: {self.module_path}", module=self.module_path
            )
        if self.softhsm2_conf:
            # SoftHSM2 reads its config at C_Initialize; only used for demo/test tokens.
            os.environ["SOFTHSM2_CONF"] = self.softhsm2_conf
        try:
            self._lib = pkcs11.lib(self.module_path)
        except p11e.PKCS11Error as exc:
            msg = str(exc)
            if "No such file" in msg or "cannot open shared object" in msg:
                raise Pkcs11ModuleMissing(
                    f"PKCS#11 module not found: {self.module_path}", module=self.module_path
                ) from exc
            raise Pkcs11ModuleError(
                f"cannot load PKCS#11 module {self.module_path}: {msg}", module=self.module_path
            ) from exc
        return self._lib

    def refresh(self) -> None:
        """Re-run C_Initialize so the module sees tokens that appeared since it was loaded."""
        with self._lock:
            if self._lib is None:
                return
            try:
                self._lib.reinitialize()
            except p11e.PKCS11Error as exc:
                raise Pkcs11ModuleError(f"C_Initialize failed: {exc}") from exc

    def read_tokens(self, serials: set[str] | None = None) -> list[TokenData]:
        """Every initialised token (only those in ``serials`` if given) with its certificates."""
        with self._lock:
            lib = self._load()
            try:
                slots = lib.get_slots(token_present=True)
                out = []
                for slot in slots:
                    token = slot.get_token()
                    flags = TokenFlag(int(token.flags))
                    if not flags & TokenFlag.TOKEN_INITIALIZED:
                        continue
                    serial = _text(token.serial)
                    if serials is not None and serial not in serials:
                        continue
                    out.append(self._read_token(slot.slot_id, token, flags))
                return out
            except _REMOVED as exc:
                raise CardRemoved(f"token went away during the read: {type(exc).__name__}") from exc
            except p11e.PKCS11Error as exc:
                raise TokenError(f"PKCS#11 error: {type(exc).__name__} {exc}".strip()) from exc

    def _read_token(self, slot_id: int, token: Any, flags: TokenFlag) -> TokenData:
        certs = []
        with token.open() as session:  # public session, no login
            for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
                certs.append(
                    RawCertificate(
                        label=_safe_attr(obj, Attribute.LABEL, ""),
                        id_hex=_safe_attr(obj, Attribute.ID, b"").hex(),
                        der=bytes(_safe_attr(obj, Attribute.VALUE, b"")),
                    )
                )
        return TokenData(
            slot_id=int(slot_id),
            label=_text(token.label),
            serial=_text(token.serial),
            manufacturer=_text(token.manufacturer_id),
            model=_text(token.model),
            flags=frozenset(name for flag, name in PIN_FLAGS.items() if flags & flag),
            certificates=tuple(certs),
        )


def _safe_attr(obj: Any, attr: Attribute, default: Any) -> Any:
    try:
        value = obj[attr]
    except (p11e.AttributeTypeInvalid, p11e.AttributeSensitive):
        return default
    return default if value is None else value
