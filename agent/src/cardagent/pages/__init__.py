"""The agent's own pages, opened by the person in their browser from the chat's link.

* ``/pin/{job_id}``: the PIN page of an upgrade job (pin.py);
* ``/orders/{order_id}``: the consent page of a PUK order (orders.py);
* ``/page-assets/agent.css``: their shared style sheet.

Not under ``/v1`` and not behind the bearer token: they are protected by a one-time link token
exchanged for a page session cookie (links.py), the Origin guard (cardagent/security.py:
a POST only from the agent's own origin), a CSRF field derived from the session, the Host
check, and no CORS. Every answer here is a Swedish HTML page, errors included (render.py,
templates in cardagent/templates/). The router is ``cardagent.pages.routes.page_router``.
"""
