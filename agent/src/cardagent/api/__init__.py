"""The card agent's HTTP API (FastAPI), laid out as the FastAPI full-stack template does:

* ``app.py``       ``create_app``: the app, its state, routers, middleware;
* ``main.py``      the /v1 router, behind the bearer token (cardagent/security.py);
* ``routes/``      one module per resource: card, agent (readers), upgrade jobs, PUK orders;
* ``deps.py``      what routes get from the app (settings, card service, jobs, orders);
* ``convert.py``   readings as response models (cardagent/models.py);
* ``responses.py`` the masking JSON response and the documented error answers;
* ``errors.py``    every failure as JSON, or a Swedish HTML page on the agent's pages.
"""

from cardagent.api.app import create_app
from cardagent.api.convert import card_state_out
from cardagent.api.main import build_v1_router
from cardagent.api.responses import ERROR_RESPONSES, MaskingJSONResponse

__all__ = [
    "ERROR_RESPONSES",
    "MaskingJSONResponse",
    "build_v1_router",
    "card_state_out",
    "create_app",
]
