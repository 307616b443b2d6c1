"""The FastAPI app: routers under /v1, all behind the bearer token and the Origin guard.

Later features (upgrade jobs, PUK orders) add their own ``APIRouter`` and include it in
``build_v1_router`` - they inherit the token dependency; ``get_settings``/``get_service``
give them the configuration and the card service.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import TYPE_CHECKING, Annotated, Any, Optional

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cardagent import __version__
from cardagent.certinfo import CertInfo
from cardagent.errors import AgentError
from cardagent.identifiers import mask_text
from cardagent.models import (
    AgentInfoOut,
    CardDetailsOut,
    CardOut,
    CardStateOut,
    CertificateOut,
    ErrorOut,
    IdentifierOut,
    PinOut,
    ReaderOut,
    ReadersOut,
    TokenOut,
    TokensOut,
    ValidationErrorOut,
)
from cardagent.pcsc import ReaderState
from cardagent.peer import PeerCheck, same_user_peer
from cardagent.security import OriginGuardMiddleware, Unauthorized, get_settings, require_token
from cardagent.service import CardReading, CardService, TokenView
from cardagent.settings import Settings, load_settings
from cardagent.tokenfile import load_or_create_token

if TYPE_CHECKING:
    from cardagent.upgrade import StepHook

log = logging.getLogger("cardagent")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed body"},
    401: {"model": ErrorOut, "description": "Missing or wrong bearer token"},
    403: {"model": ErrorOut, "description": "Origin or Host not allowed"},
    404: {"model": ErrorOut, "description": "No such job or order"},
    409: {"model": ErrorOut, "description": "Card removed, or the card cannot do this now"},
    422: {"model": ValidationErrorOut, "description": "Invalid request parameters"},
    502: {"model": ErrorOut, "description": "Card or token answered an error or garbage"},
    503: {"model": ErrorOut, "description": "pcscd not running or PKCS#11 module missing"},
}


class MaskingJSONResponse(JSONResponse):
    """JSON response with a last-line personnummer mask over the whole body."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(
            content, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str
        )
        return mask_text(text).encode("utf-8")


def get_service(request: Request) -> CardService:
    return request.app.state.service


ServiceDep = Annotated[CardService, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


# --- conversion to response models -----------------------------------------------------


def _reader_out(r: ReaderState) -> ReaderOut:
    return ReaderOut(name=r.name, card_present=r.card_present, atr=r.atr)


def _cert_out(c: CertInfo, now: dt.datetime) -> CertificateOut:
    return CertificateOut(
        token_label=c.token_label,
        token_serial=c.token_serial,
        label=c.label,
        id=c.id_hex,
        subject=c.subject,
        issuer=c.issuer,
        serial_number=c.serial_number,
        not_before=c.not_before,
        not_after=c.not_after,
        days_left=(c.not_after.date() - now.date()).days,
        expired=c.not_after < now,
        key_usage=list(c.key_usage),
        extended_key_usage=list(c.extended_key_usage),
        policy_oids=list(c.policy_oids),
        identifier=IdentifierOut(
            kind=c.identifier.kind, value=c.identifier.masked, valid=c.identifier.valid
        ),
        assurance_level=c.assurance_level,
        ca_family=c.ca_family,
        purpose=c.purpose,
        fingerprint_sha256=c.fingerprint_sha256,
    )


def _token_out(t: TokenView, now: dt.datetime) -> TokenOut:
    return TokenOut(
        label=t.data.label,
        serial=t.data.serial,
        manufacturer=t.data.manufacturer,
        model=t.data.model,
        flags=sorted(t.data.flags),
        pin=PinOut(
            role=t.pin.role,
            status=t.pin.status,
            retries_left=t.pin.retries_left,
            sources=list(t.pin.sources),
        ),
        certificates=[_cert_out(c, now) for c in t.certificates],
    )


def card_state_out(reading: CardReading) -> CardStateOut:
    c = reading.classification
    facts = c.facts
    now = reading.checked_at
    card = None
    if reading.card_reader is not None:
        card = CardOut(
            reader=reading.card_reader.name, atr=reading.card_reader.atr, serial=reading.card_serial
        )
    return CardStateOut(
        state=c.state,
        explanation=c.explanation,
        next_step={"action": c.next_step.action, "text": c.next_step.text, "faq": c.next_step.faq},
        warnings=[{"code": w.code, "text": w.text} for w in c.warnings],
        details=CardDetailsOut(
            base_state=c.base_state,
            readers=[_reader_out(r) for r in reading.readers],
            card=card,
            tokens=[_token_out(t, now) for t in reading.tokens],
            certificate_count=len(reading.certificates),
            assurance_level=facts.get("assurance_level"),
            certificate_profile=facts.get("certificate_profile"),
            has_hsa_id=facts.get("has_hsa_id", False),
            has_personnummer=facts.get("has_personnummer", False),
            has_samordningsnummer=facts.get("has_samordningsnummer", False),
            blocked_pins=facts.get("blocked_pins", []),
            final_try_pins=facts.get("final_try_pins", []),
            earliest_expiry=facts.get("earliest_expiry"),
            days_left=facts.get("days_left"),
        ),
        checked_at=now,
        read_ms=reading.read_ms,
    )


# --- routers -----------------------------------------------------------------------------

card_router = APIRouter(prefix="/card", tags=["card"])
agent_router = APIRouter(tags=["agent"])


@card_router.get(
    "/state", response_model=CardStateOut, summary="Classify the SITHS card in the reader"
)
def get_card_state(
    service: ServiceDep,
    expiry_warning_days: Annotated[
        Optional[int],
        Query(ge=0, le=3650, description="Override the configured expiry warning (days)"),
    ] = None,
) -> CardStateOut:
    return card_state_out(service.read(expiry_warning_days=expiry_warning_days))


@card_router.get(
    "/tokens", response_model=TokensOut, summary="PKCS#11 tokens and certificates of the card"
)
def get_card_tokens(service: ServiceDep) -> TokensOut:
    reading = service.read()
    return TokensOut(
        reader=reading.card_reader.name if reading.card_reader else None,
        tokens=[_token_out(t, reading.checked_at) for t in reading.tokens],
    )


@agent_router.get("/readers", response_model=ReadersOut, summary="PC/SC readers and card presence")
def get_readers(service: ServiceDep) -> ReadersOut:
    return ReadersOut(readers=[_reader_out(r) for r in service.readers()])


@agent_router.get(
    "/agent", response_model=AgentInfoOut, summary="Agent version and configuration summary"
)
def get_agent_info(settings: SettingsDep) -> AgentInfoOut:
    return AgentInfoOut(
        name="SITHS card agent",
        version=__version__,
        pkcs11_module=settings.pkcs11_module,
        pcsc_probe=settings.probe.enabled,
        expiry_warning_days=settings.expiry_warning_days,
    )


def build_v1_router() -> APIRouter:
    from cardagent.write_api import jobs_router, orders_router

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_token)], responses=ERROR_RESPONSES)
    v1.include_router(card_router)
    v1.include_router(agent_router)
    v1.include_router(jobs_router)
    v1.include_router(orders_router)
    return v1


# --- app ----------------------------------------------------------------------------------


def _error(
    status: int, code: str, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    if detail is not None:
        body["detail"] = detail
    return MaskingJSONResponse(body, status_code=status, headers=headers)


def _page_error(request: Request, kind: str) -> Response | None:
    """On the agent's own pages (/pin/, /orders/) every error is a Swedish HTML page."""
    from cardagent.pages.render import area_of, error_page, is_page_path

    path = request.url.path
    if not is_page_path(path):
        return None
    return error_page(kind, request.app.state.settings.region_name, area=area_of(path))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AgentError)
    async def _agent_error(request: Request, exc: AgentError) -> Response:
        log.warning("%s: %s", exc.code, exc.detail)
        html = _page_error(request, "not_found" if exc.status == 404 else "internal")
        if html is not None:
            return html
        return MaskingJSONResponse(exc.to_dict(), status_code=exc.status)

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_request: Request, _exc: Unauthorized) -> JSONResponse:
        return _error(
            401,
            "unauthorized",
            "Behörighet saknas (token).",
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        html = _page_error(request, "bad_form")
        if html is not None:
            return html
        errors = [
            {"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return _error(422, "invalid_request", "Ogiltig begäran.", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        page_kind = {404: "not_found", 405: "method"}.get(exc.status_code, "bad_form")
        html = _page_error(request, page_kind)
        if html is not None:
            return html
        codes = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}
        return _error(
            exc.status_code,
            codes.get(exc.status_code, "http_error"),
            str(exc.detail),
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error: %s", type(exc).__name__)
        html = _page_error(request, "internal")
        if html is not None:
            return html
        return _error(
            500, "internal_error", "Ett oväntat fel uppstod i kortagenten.", type(exc).__name__
        )


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
    app = FastAPI(
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
    from cardagent.orders import PukOrders
    from cardagent.pages.routes import page_router
    from cardagent.store import Store
    from cardagent.upgrade import UpgradeManager

    store = Store(settings.data_dir / "agent.db")
    app.state.store = store
    app.state.upgrades = UpgradeManager(settings, app.state.service, store, step_hook=step_hook)
    app.state.upgrades.recover()
    app.state.orders = PukOrders(settings, app.state.service, store)
    app.state.orders.recover()

    @app.on_event("startup")
    def _start_outbox() -> None:
        app.state.orders.worker.start()

    @app.on_event("shutdown")
    def _stop_outbox() -> None:
        app.state.orders.worker.stop()

    install_error_handlers(app)
    from cardagent.proof import build_router as build_proof_router

    # Outside the token-guarded /v1 router on purpose: clients check it BEFORE sending the token.
    app.include_router(build_proof_router(), responses=ERROR_RESPONSES)
    app.include_router(build_v1_router())
    app.include_router(page_router)  # the agent's own pages: /pin/, /orders/ (HTML)
    app.add_middleware(OriginGuardMiddleware, settings=settings, peer_check=peer_check)
    return app
