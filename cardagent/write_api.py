"""Routes of the write side: /v1/upgrade, /v1/jobs, /v1/puk-orders and the local PIN page.

The PIN page (``/pin/{job_id}?t=<page token>``) is not under /v1: the user's browser opens it
from the link the bot shows. It is protected by the unguessable page token in the URL (bound
to one job, expires), a double-submit CSRF token (cookie ``SameSite=Strict`` + hidden field),
the Host check, an own-origin check on POST (see security.py), and no CORS at all. PINs are
read from the form, handed to the job thread and never logged, stored or echoed.
"""

from __future__ import annotations

import hmac
import html
import secrets
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from cardagent.models import JobOut, PukOrderOut, PukOrderRequest, UpgradeRequest
from cardagent.puk import PukOrders
from cardagent.upgrade import UpgradeManager

jobs_router = APIRouter(tags=["upgrade"])
orders_router = APIRouter(tags=["puk-orders"])
pin_router = APIRouter(include_in_schema=False)

CSRF_COOKIE = "cardagent_csrf"
MAX_FORM_BYTES = 4096


def _upgrades(request: Request) -> UpgradeManager:
    return request.app.state.upgrades


def _orders(request: Request) -> PukOrders:
    return request.app.state.orders


@jobs_router.post(
    "/upgrade",
    response_model=JobOut,
    status_code=201,
    summary="Start the certificate upgrade of the card in the reader",
    responses={200: {"model": JobOut, "description": "The card's active job already existed"}},
)
def post_upgrade(request: Request, response: Response, body: UpgradeRequest | None = None) -> Any:
    job, created = _upgrades(request).start()
    if not created:
        response.status_code = 200
    return {**job, "created": created}


@jobs_router.get("/jobs/{job_id}", response_model=JobOut, summary="Status of an upgrade job")
def get_job(request: Request, job_id: str) -> Any:
    return _upgrades(request).view(job_id)


@orders_router.post(
    "/puk-orders",
    response_model=PukOrderOut,
    status_code=201,
    summary="Order a new PUK for the card in the reader (charged to the user's unit)",
    responses={200: {"model": PukOrderOut, "description": "The card's open order"}},
)
def post_puk_order(request: Request, response: Response, body: PukOrderRequest) -> Any:
    order, created = _orders(request).create(body.confirm_cost)
    if not created:
        response.status_code = 200
    return {**order, "created": created}


@orders_router.get(
    "/puk-orders/{order_id}", response_model=PukOrderOut, summary="Status of a PUK order"
)
def get_puk_order(request: Request, order_id: str) -> Any:
    return _orders(request).view(order_id)


# --- the PIN page --------------------------------------------------------------------------

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

STYLE = """
body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#1a1a1a}
label{display:block;font-weight:600;margin-top:1rem}
input[type=password]{font-size:1.2rem;padding:.4rem;width:12rem;border:2px solid #555}
input:focus,button:focus{outline:3px solid #005fcc;outline-offset:2px}
button{font-size:1rem;padding:.5rem 1rem;margin:1.2rem .5rem 0 0}
.warn{border-left:4px solid #b00;padding:.5rem 1rem;background:#fff4f4}
.info{border-left:4px solid #005fcc;padding:.5rem 1rem;background:#f3f8ff}
"""


def _page(title: str, body: str, *, refresh: bool = False, status: int = 200) -> HTMLResponse:
    meta = '<meta http-equiv="refresh" content="2">' if refresh else ""
    doc = (
        '<!doctype html><html lang="sv"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"{meta}<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(doc, status_code=status, headers=PAGE_HEADERS)


def _invalid() -> HTMLResponse:
    return _page(
        "Länken gäller inte",
        "<p>Länken är ogiltig eller har gått ut. Gå tillbaka till chatten och starta "
        "uppgraderingen igen.</p>",
        status=403,
    )


def _status_page(job: dict[str, Any]) -> HTMLResponse:
    status = job["status"]
    msg = html.escape(job["message"])
    active = status in ("running", "waiting_for_card")
    extra = f'<p role="status" aria-live="polite">{job["progress"]} % klart.</p>' if active else ""
    close = "" if active else "<p>Du kan stänga den här sidan och gå tillbaka till chatten.</p>"
    title = {
        "running": "Uppgraderingen pågår",
        "waiting_for_card": "Sätt i kortet igen",
        "succeeded": "Uppgraderingen är klar",
        "cancelled": "Uppgraderingen avbröts",
    }.get(status, "Uppgraderingen avslutades")
    return _page(title, f'<p class="info">{msg}</p>{extra}{close}', refresh=active)


def _form(job: dict[str, Any], token: str, csrf: str, ppad: dict[str, bool]) -> HTMLResponse:
    view_pins = job["state"].get("pins", {})
    final_roles = [r for r, p in view_pins.items() if p.get("retries_left") == 1]
    notes = ""
    if job["error_code"]:
        notes += f'<p class="warn" role="alert">{html.escape(job["message"])}</p>'
    fields = ""
    for role, label in (
        ("legitimering", "Legitimeringskod"),
        ("underskrift", "Underskriftskod (signering)"),
    ):
        if ppad.get(role):
            fields += (
                f"<p>{label}: skriv in koden på kortläsarens knappsats när läsaren ber om den.</p>"
            )
            continue
        fields += (
            f'<label for="pin_{role}">{label}</label>'
            f'<input type="password" id="pin_{role}" name="pin_{role}" inputmode="numeric" '
            'autocomplete="off" pattern="[0-9]{4,12}" minlength="4" maxlength="12" required '
            f'aria-describedby="pinhelp">'
        )
    confirm = ""
    if final_roles or job["error_code"] == "pin_final_try":
        confirm = (
            '<p class="warn"><input type="checkbox" id="confirm_final_try" '
            'name="confirm_final_try" value="1"> <label for="confirm_final_try" '
            'style="display:inline">Jag förstår att koden låses om den blir fel igen, och vill '
            "ändå försöka.</label></p>"
        )
    body = (
        "<p>Kortagenten på din dator uppgraderar ditt SITHS-kort: nya nycklar skapas på "
        "kortet och du får ett certifikatpar med ditt HSA-id och ett med ditt personnummer. "
        "De gamla certifikaten tas bort först när de nya finns på kortet.</p>"
        f"{notes}"
        f'<form method="post" action="/pin/{html.escape(job["id"])}">'
        f'<input type="hidden" name="t" value="{html.escape(token)}">'
        f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">'
        f"{fields}"
        '<p id="pinhelp">Koderna används bara här på datorn, mot kortet. De sparas inte och '
        "skickas inte till chatten.</p>"
        f"{confirm}"
        '<button type="submit" name="action" value="start">Uppgradera kortet</button>'
        '<button type="submit" name="action" value="cancel" formnovalidate>Avbryt</button>'
        "</form><p>Ta inte ur kortet medan uppgraderingen pågår.</p>"
    )
    resp = _page("Uppgradera ditt SITHS-kort", body)
    resp.set_cookie(
        CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="strict",
        path=f"/pin/{job['id']}",
        max_age=3600,
    )
    return resp


def _ppad(request: Request, job: dict[str, Any]) -> dict[str, bool]:
    from cardagent.cardwriter import CardWriter

    out = {}
    writer = CardWriter(request.app.state.service.pkcs11)
    for role, serial in job["state"]["card"]["tokens"].items():
        try:
            out[role] = writer.protected_auth_path(serial)
        except Exception:  # noqa: BLE001 - card out: show the PIN fields
            out[role] = False
    return out


@pin_router.get("/pin/{job_id}")
def pin_page(request: Request, job_id: str, t: str = "") -> HTMLResponse:
    manager = _upgrades(request)
    job = manager.check_page_token(job_id, t)
    if job is None:
        return _invalid()
    if job["status"] != "waiting_for_pin":
        return _status_page(job)
    return _form(job, t, secrets.token_urlsafe(24), _ppad(request, job))


@pin_router.post("/pin/{job_id}")
async def pin_submit(request: Request, job_id: str) -> Response:
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES or not request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        return _invalid()
    form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    del raw
    token = form.get("t", "")
    csrf_cookie = request.cookies.get(CSRF_COOKIE, "")
    csrf_field = form.get("csrf", "")
    manager = _upgrades(request)
    job = manager.check_page_token(job_id, token)
    if (
        job is None
        or not csrf_cookie
        or not hmac.compare_digest(csrf_cookie.encode(), csrf_field.encode())
    ):
        form.clear()
        return _invalid()
    pins = {
        "legitimering": form.pop("pin_legitimering", None),
        "underskrift": form.pop("pin_underskrift", None),
    }
    cancel = form.get("action") == "cancel"
    result = manager.submit(
        job_id,
        token,
        pins,
        confirm_final_try=form.get("confirm_final_try") == "1",
        cancel=cancel,
    )
    pins.clear()
    form.clear()
    if result == "bad_token":
        return _invalid()
    # Post/redirect/get: the status page (or the form again if the job needs the PINs again).
    resp = RedirectResponse(f"/pin/{job_id}?t={token}", status_code=303, headers=PAGE_HEADERS)
    resp.delete_cookie(CSRF_COOKIE, path=f"/pin/{job_id}")
    return resp
