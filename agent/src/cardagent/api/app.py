"""``create_app``: the agent's FastAPI app - /v1 behind the bearer token, the proof of
identity, the agent's own pages, the Origin guard, and the app's state (card service,
database, upgrade jobs, PUK orders)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cardagent import __version__
from cardagent.api.errors import install_error_handlers
from cardagent.api.main import build_v1_router
from cardagent.api.responses import ERROR_RESPONSES, MaskingJSONResponse
from cardagent.orders import PukOrders
from cardagent.pages.routes import page_router
from cardagent.peer import PeerCheck, same_user_peer
from cardagent.proof import build_router as build_proof_router
from cardagent.security import OriginGuardMiddleware
from cardagent.service import CardService
from cardagent.settings import Settings, load_settings
from cardagent.store import Store
from cardagent.tokenfile import load_or_create_token
from cardagent.upgrade import StepHook, UpgradeManager


def create_app(
    settings: Settings | None = None,
    service: CardService | None = None,
    peer_check: PeerCheck = same_user_peer,
    step_hook: StepHook | None = None,
) -> FastAPI:
    """Build the agent app. Creates the token file at first start.

    ``peer_check`` decides whether a caller without the bearer token (the agent's pages,
    the browser relay) runs as the agent's own user; in-process test clients, which have
    no TCP connection to inspect, pass their own. ``step_hook(job_id, label)`` is called
    before each action of an upgrade job (cardagent/upgrade/runner.py): tests inject it."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.orders.worker.start()  # the PUK outbox delivers while the server runs
        try:
            yield
        finally:
            app.state.orders.worker.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="SITHS card agent",
        version=__version__,
        description=(
            "Reads the SITHS card on this workstation (PC/SC + PKCS#11). "
            "All /v1 calls need the bearer token."
        ),
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        default_response_class=MaskingJSONResponse,
    )
    app.state.settings = settings
    app.state.peer_check = peer_check
    app.state.token = load_or_create_token(settings.token_file, settings.token)
    app.state.service = service or CardService(settings)
    store = Store(settings.data_dir / "agent.db")
    app.state.store = store
    app.state.upgrades = UpgradeManager(settings, app.state.service, store, step_hook=step_hook)
    app.state.upgrades.recover()
    app.state.orders = PukOrders(settings, app.state.service, store)
    app.state.orders.recover()

    install_error_handlers(app)
    # Outside the token-guarded /v1 router on purpose: clients check it BEFORE sending the token.
    app.include_router(build_proof_router(), responses=ERROR_RESPONSES)
    app.include_router(build_v1_router())
    app.include_router(page_router)  # the agent's own pages: /pin/, /orders/ (HTML)
    app.add_middleware(OriginGuardMiddleware, settings=settings, peer_check=peer_check)
    return app
