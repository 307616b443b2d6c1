"""PUK orders: at most one open order per card, delivered exactly once through an outbox.

* The card is identified from its certificates (public data, no PIN): card serial, HSA-id,
  name and organisation. No personnummer goes into the order.
* ``orders_one_open`` (unique partial index) makes a second open order for the same card
  impossible, whatever the concurrency; asking again returns the open order.
* A request (from the bot, the widget, anyone with the token) only *proposes* an order:
  status ``awaiting_confirmation``, nothing in the outbox. The person places it by clicking
  the order button on the agent's own order page (``/orders/{id}``, see cardagent/pages/),
  which states the cost and the card; its cancel button cancels it.
* On that click the order (``queued``) and its outbox row are written in one transaction;
  the outbox worker delivers it exactly once (outbox.py).

The parts: ``service.py`` (propose, place, cancel, view), ``store.py`` (the SQL, one
transaction per change), ``outbox.py`` (delivery, retries). No Swedish here: the API gives
codes and facts; the order page's words are in its templates.
"""

from cardagent.orders.errors import OrderNotFound, OrderRefused
from cardagent.orders.outbox import OutboxWorker, backoff_delay, is_rejection
from cardagent.orders.service import PukOrders

__all__ = [
    "OrderNotFound",
    "OrderRefused",
    "OutboxWorker",
    "PukOrders",
    "backoff_delay",
    "is_rejection",
]
