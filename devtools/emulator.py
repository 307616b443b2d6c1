"""A small smart card emulator speaking vsmartcard-vpcd's socket protocol.

vpcd (a pcscd driver) listens on 127.0.0.1:35963 (reader "Virtual PCD 00 00") and 35964
("Virtual PCD 00 01"). The emulator connects as a client: connecting is inserting the card,
closing the socket is removing it. Every message is a 2-byte big-endian length + payload; a
1-byte payload is a control code (0 power off, 1 power on, 2 reset, 4 send ATR), anything
longer is a command APDU to answer.

The card applet (AID ``TEST_APPLET_AID``, which real SITHS cards do not answer) implements:
  SELECT by AID / by FID (EF 5001 = card info JSON: card serial + PKCS#11 token serials),
  READ BINARY, VERIFY (with data: check PIN, real retry counter, 63Cx / 6983; without data:
  report the counter), RESET RETRY COUNTER (PUK + new PIN), CHANGE REFERENCE DATA.

Run standalone: ``python -m devtools.emulator --card card.json [--port 35963]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("cardagent.emulator")

VPCD_HOST = "127.0.0.1"
VPCD_PORTS = {0: 35963, 1: 35964}
READER_NAMES = {35963: "Virtual PCD 00 00", 35964: "Virtual PCD 00 01"}
# The emulator applet's AID: F0 + "STITHSTES", a proprietary test AID. The agent's PC/SC
# probe asks it only when configured to ([probe] aid; the demo card's configuration does).
TEST_APPLET_AID = "F0535449544853544553"
CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4
CARD_INFO_FID = 0x5001

SW_OK = b"\x90\x00"
SW_NOT_FOUND = b"\x6a\x82"
SW_INS = b"\x6d\x00"
SW_CLA = b"\x6e\x00"
SW_BLOCKED = b"\x69\x83"
SW_WRONG_LENGTH = b"\x67\x00"
SW_NO_EF = b"\x69\x86"
SW_REF_NOT_FOUND = b"\x6a\x88"
SW_OFFSET = b"\x6b\x00"
SW_WRONG_DATA = b"\x6a\x80"


class CardApplet:
    """The card's behaviour. ``card`` is the JSON from ProvisionedCard.emulator_card()."""

    def __init__(self, card: dict[str, Any], on_change: Any = None) -> None:
        self.card = card
        self.on_change = on_change
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.selected_app = False
        self.selected_ef: int | None = None

    @property
    def atr(self) -> bytes:
        return bytes.fromhex(self.card["atr"])

    def _card_info(self) -> bytes:
        return json.dumps(
            {"card_serial": self.card["card_serial"], "tokens": self.card["tokens"]}
        ).encode()

    def process(self, apdu: bytes) -> bytes:
        with self.lock:
            return self._process(apdu)

    def _process(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return SW_WRONG_LENGTH
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
        if cla & 0x80:
            return SW_CLA
        if ins == 0xA4:
            return self._select(p1, body)
        if not self.selected_app:
            return SW_NOT_FOUND if ins == 0xB0 else SW_INS
        if ins == 0xB0:
            return self._read_binary((p1 << 8) | p2, apdu[4] if len(apdu) == 5 else 0)
        if ins == 0x20:
            return self._verify(p2, body)
        if ins == 0x2C:
            return self._reset_retry_counter(p2, body)
        if ins == 0x24:
            return self._change(p2, body)
        return SW_INS

    def _select(self, p1: int, body: bytes) -> bytes:
        if p1 == 0x04:
            self.selected_app = body.hex().upper() == TEST_APPLET_AID
            self.selected_ef = None
            return SW_OK if self.selected_app else SW_NOT_FOUND
        if p1 in (0x00, 0x02) and len(body) == 2 and self.selected_app:
            fid = int.from_bytes(body, "big")
            if fid == CARD_INFO_FID:
                self.selected_ef = fid
                return SW_OK
        return SW_NOT_FOUND

    def _read_binary(self, offset: int, le: int) -> bytes:
        if self.selected_ef != CARD_INFO_FID:
            return SW_NO_EF
        data = self._card_info()
        if offset > len(data):
            return SW_OFFSET
        n = le or 256
        return data[offset : offset + n] + SW_OK

    def _pin(self, ref: int) -> dict[str, Any] | None:
        return self.card["pins"].get(str(ref))

    def _changed(self) -> None:
        if self.on_change:
            self.on_change(self.card)

    def _verify(self, ref: int, body: bytes) -> bytes:
        pin = self._pin(ref)
        if pin is None:
            return SW_REF_NOT_FOUND
        if pin["tries_left"] <= 0:
            return SW_BLOCKED
        if not body:
            return bytes([0x63, 0xC0 | pin["tries_left"]])
        if body.rstrip(b"\xff").decode("ascii", "replace") == pin["pin"]:
            pin["tries_left"] = pin["max_tries"]
            self._changed()
            return SW_OK
        pin["tries_left"] -= 1
        self._changed()
        return SW_BLOCKED if pin["tries_left"] == 0 else bytes([0x63, 0xC0 | pin["tries_left"]])

    def _reset_retry_counter(self, ref: int, body: bytes) -> bytes:
        """Data: 8-byte PUK followed by the new PIN."""
        pin = self._pin(ref)
        if pin is None:
            return SW_REF_NOT_FOUND
        if self.card.get("puk_tries_left", 10) <= 0:
            return SW_BLOCKED
        puk, new_pin = body[:8].decode("ascii", "replace"), body[8:].decode("ascii", "replace")
        if puk != self.card["puk"]:
            self.card["puk_tries_left"] = self.card.get("puk_tries_left", 10) - 1
            self._changed()
            left = self.card["puk_tries_left"]
            return SW_BLOCKED if left <= 0 else bytes([0x63, 0xC0 | min(left, 15)])
        if not 6 <= len(new_pin) <= 8 or not new_pin.isdigit():
            return SW_WRONG_DATA
        pin.update(pin=new_pin, tries_left=pin["max_tries"])
        self.card["puk_tries_left"] = 10
        self._changed()
        return SW_OK

    def _change(self, ref: int, body: bytes) -> bytes:
        """CHANGE REFERENCE DATA: old PIN (length = current PIN length) + new PIN."""
        pin = self._pin(ref)
        if pin is None:
            return SW_REF_NOT_FOUND
        old_len = len(pin["pin"])
        result = self._verify(ref, body[:old_len])
        if result != SW_OK:
            return result
        new_pin = body[old_len:].decode("ascii", "replace")
        if not 6 <= len(new_pin) <= 8 or not new_pin.isdigit():
            return SW_WRONG_DATA
        pin["pin"] = new_pin
        self._changed()
        return SW_OK


def _quickack(sock: socket.socket) -> None:
    # vpcd writes length and payload in two send() calls; with Nagle on its side and delayed
    # ACKs on ours every APDU would wait ~40 ms. Linux resets TCP_QUICKACK, so set it each time.
    if hasattr(socket, "TCP_QUICKACK"):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:
            pass


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        _quickack(sock)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("vpcd closed the connection")
        buf += chunk
    return buf


class VirtualCard:
    """One emulated card in one vpcd reader. ``insert()`` connects, ``remove()`` disconnects.

    ``remove_after_apdus`` makes the card vanish after that many APDUs (a card pulled out in
    the middle of a read).
    """

    def __init__(
        self,
        card: dict[str, Any],
        port: int = VPCD_PORTS[0],
        host: str = VPCD_HOST,
        state_file: Path | None = None,
    ) -> None:
        self.applet = CardApplet(card, on_change=self._save if state_file else None)
        self.port = port
        self.host = host
        self.state_file = state_file
        self.remove_after_apdus: int | None = None
        self.apdu_count = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def reader_name(self) -> str:
        return READER_NAMES.get(self.port, f"vpcd:{self.port}")

    def _save(self, card: dict[str, Any]) -> None:
        assert self.state_file is not None
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(card, indent=2), encoding="utf-8")
        tmp.replace(self.state_file)

    def load(self, card: dict[str, Any]) -> None:
        """Put a different card in (call while removed)."""
        self.applet = CardApplet(card, on_change=self._save if self.state_file else None)

    def insert(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            raise RuntimeError("card already inserted")
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._stop.clear()
        self.apdu_count = 0
        self.applet.reset()
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), daemon=True, name="vpcd-card"
        )
        self._thread.start()

    def remove(self) -> None:
        self._stop.set()
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def inserted(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _serve(self, sock: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                (length,) = struct.unpack(">H", _recv_exact(sock, 2))
                payload = _recv_exact(sock, length)
                if length == 1:
                    code = payload[0]
                    if code == CTRL_ATR:
                        self._send(sock, self.applet.atr)
                    elif code in (CTRL_RESET, CTRL_ON, CTRL_OFF):
                        self.applet.reset()
                    continue
                self.apdu_count += 1
                if (
                    self.remove_after_apdus is not None
                    and self.apdu_count >= self.remove_after_apdus
                ):
                    log.info("simulating card removal after %d APDUs", self.apdu_count)
                    sock.close()
                    return
                self._send(sock, self.applet.process(payload))
        except (ConnectionError, OSError):
            return

    @staticmethod
    def _send(sock: socket.socket, data: bytes) -> None:
        sock.sendall(struct.pack(">H", len(data)) + data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="vpcd card emulator for SITHS demo/test cards")
    parser.add_argument(
        "--card", type=Path, required=True, help="card JSON (counters are saved back)"
    )
    parser.add_argument("--port", type=int, default=VPCD_PORTS[0])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s emulator: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    card = VirtualCard(
        json.loads(args.card.read_text(encoding="utf-8")), port=args.port, state_file=args.card
    )
    log.info("card %s for reader %s", card.applet.card.get("name"), card.reader_name)
    while not stop.is_set():
        if not card.inserted:
            if card._thread is not None:  # vpcd went away (pcscd restarted): reconnect
                card.remove()
            try:
                card.insert(timeout=1)
                log.info("inserted")
            except OSError:
                pass
        stop.wait(0.5)
    card.remove()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
