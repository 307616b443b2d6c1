"""PUK orders as the API and the order page see them: propose, place, cancel, view."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import time
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from cardagent import __version__
from cardagent.assurance import FAMILY_EID, FAMILY_LEGACY
from cardagent.identifiers import recognise
from cardagent.orders.errors import OrderNotFound, OrderRefused
from cardagent.orders.outbox import OutboxWorker
from cardagent.orders.store import OrderStore
from cardagent.pages.links import PageLinks
from cardagent.service import CardReading, CardService, card_key_of
from cardagent.settings import Settings
from cardagent.store import Store

log = logging.getLogger("cardagent.puk")


def _iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat() if ts else None


def card_facts(reading: CardReading) -> tuple[str, dict[str, Any]]:
    """(card key, what the order says about the card): from its certificates (public data, no
    PIN) - card serial, HSA-id, name and organisation. No personnummer goes into an order."""
    if reading.card_reader is None:
        raise OrderRefused("no_card")
    key = card_key_of(reading)
    siths = [
        (raw, info)
        for view in reading.tokens
        for raw, info in zip(view.data.certificates, view.certificates, strict=False)
        if info.ca_family in (FAMILY_EID, FAMILY_LEGACY)
    ]
    if key is None or not siths:
        raise OrderRefused("not_a_siths_card")
    hsa = next((s for s in siths if s[1].identifier.kind == "hsa_id"), None)
    if hsa is None:
        raise OrderRefused("card_not_identified")
    cert = x509.load_der_x509_certificate(hsa[0].der)

    def first(oid: x509.ObjectIdentifier) -> str | None:
        vals = cert.subject.get_attributes_for_oid(oid)
        return str(vals[0].value) if vals else None

    return key, {
        "card_serial": reading.card_serial or None,
        "token_serials": sorted(t.data.serial for t in reading.tokens),
        "hsa_id": hsa[1].identifier.raw,
        "given_name": first(NameOID.GIVEN_NAME),
        "surname": first(NameOID.SURNAME),
        "organisation": first(NameOID.ORGANIZATION_NAME),
        "certificate_issuer": hsa[1].issuer_cn,
        "card_state": reading.classification.state,
    }


class PukOrders:
    """Order proposals, the person's confirmation on the order page, and their status.

    ``create`` only proposes (``awaiting_confirmation``, no outbox row, nothing sent); the
    order is placed - status ``queued`` and its outbox row, in one transaction - only by
    :meth:`confirm`, which only the order page calls after the person clicked the order button.
    """

    def __init__(self, settings: Settings, service: CardService, store: Store) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        self.orders = OrderStore(store)
        self.worker = OutboxWorker(settings, self.orders)
        self.links = PageLinks(store, "orders", settings.port, settings.upgrade.pin_page_ttl_s)

    def recover(self) -> None:
        """After a restart: a proposal whose page was never opened gets one new link (its
        clear token lived only in the old process's memory)."""
        for order_id in self.orders.proposals_awaiting():
            if not self.links.opened(order_id):
                self.links.issue(order_id)

    def create(self) -> tuple[dict[str, Any], bool]:
        """Propose a PUK order for the card in the reader (or return the card's open one)."""
        key, card = card_facts(self.service.read())
        now = time.time()
        open_until = now + self.settings.orders.open_days * 86400
        order_id, created = self.orders.propose(key, card, now, open_until, self.links)
        if created:
            log.info("PUK order %s proposed; waiting for the person to confirm it", order_id)
        return self.view(order_id), created

    def _payload(self, row: sqlite3.Row, now: float) -> dict[str, Any]:
        """What the order system receives (the outbox row's body)."""
        o = self.settings.orders
        return {
            "type": "siths.puk_order",
            "order_id": row["id"],
            "reference": row["reference"],
            "created_at": _iso(row["created_at"]),
            "confirmed_at": _iso(now),
            "card": json.loads(row["card"]),
            "cost_sek": o.cost_sek,
            "cost_confirmed_by_user": True,
            "confirmed_on": "card_agent_order_page",
            "source": f"SITHS card agent {__version__}",
        }

    def confirm(self, order_id: str) -> bool:
        """The person clicked the order button: place the order (queued + outbox row), exactly once.

        Returns False when there was nothing to place (already placed, cancelled, closed):
        a double click or a resubmitted form changes nothing.
        """
        now = time.time()
        row = self.orders.place(order_id, now, lambda r: self._payload(r, now))
        if row is None:
            return False
        log.info("PUK order %s confirmed on the order page (%s)", order_id, row["reference"])
        self.worker.wake()
        return True

    def cancel(self, order_id: str) -> bool:
        """The person clicked "Avbryt" on the order page: the proposal ends, nothing is sent."""
        cancelled = self.orders.cancel(order_id)
        if cancelled:
            log.info("PUK order %s cancelled on the order page", order_id)
        return cancelled

    def _row(self, order_id: str) -> sqlite3.Row:
        row = self.orders.order(order_id)
        if row is None:
            raise OrderNotFound(f"no order {order_id}")
        return row

    def view(self, order_id: str) -> dict[str, Any]:
        """The order as ``GET /v1/puk-orders/{id}`` shows it (cardagent.models.PukOrderOut)."""
        row = self._row(order_id)
        o = self.settings.orders
        status = row["status"]
        attempts = row["attempts"] or 0
        error_code = None
        if status == "queued" and attempts > 0:
            error_code = "order_endpoint_down"
        elif status == "rejected":
            error_code = "order_rejected"
        card = json.loads(row["card"])
        opened = self.links.opened(order_id)
        url = self.links.url(order_id) if status == "awaiting_confirmation" or opened else None
        no_next = row["delivered_at"] or row["next_attempt_at"] is None
        return {
            "order_id": row["id"],
            "reference": row["reference"],
            "status": status,
            "error_code": error_code,
            "cost_sek": o.cost_sek,
            "card": {
                "serial": card.get("card_serial"),
                "hsa_id": card.get("hsa_id"),
                "organisation": card.get("organisation"),
            },
            "delivery": {
                "attempts": attempts,
                "delivered_at": _iso(row["delivered_at"]),
                "next_attempt_at": None if no_next else _iso(row["next_attempt_at"]),
                "receiver_reference": row["receiver_reference"],
            },
            "confirm_page_url": url,
            "page_opened": opened,
            "created_at": _iso(row["created_at"]),
            "open_until": _iso(row["open_until"]),
        }

    def page_facts(self, order_id: str) -> dict[str, Any]:
        """What the order page shows: the card as the agent read it, cost, status, and the
        link to the region's manual for ordering codes (if configured)."""
        row = self._row(order_id)
        card = json.loads(row["card"])
        name = " ".join(p for p in (card.get("given_name"), card.get("surname")) if p)
        return {
            "order_status": row["status"],
            "reference": row["reference"],
            "retrying": row["status"] == "queued" and (row["attempts"] or 0) > 0,
            "cost_sek": self.settings.orders.cost_sek,
            "manual_url": self.settings.orders.manual_url,
            "card": {
                "name": name,
                "hsa_id": recognise(card.get("hsa_id")).masked if card.get("hsa_id") else "",
                "organisation": card.get("organisation") or "",
                "serial": card.get("card_serial") or "",
            },
        }
