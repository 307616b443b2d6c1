"""The PIN page: ``/pin/{job_id}`` - where the person types the PINs for an upgrade job.

Flow: the chat's link ``/pin/{id}?t=<one-time token>`` -> the token is spent, a page session
cookie is set, 303 to ``/pin/{id}`` -> the form (or, when a PIN has one try left, first the
final-try confirmation step) -> POST -> the job runs -> the status page (refreshes itself
until the job ends). PINs are read from the form, checked (ASCII digits, length), handed to
the job thread and never logged, stored or echoed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cardagent.pages.common import checked_form, enter_page, fail, keep_session, region, see_other
from cardagent.pages.common import valid_id as _valid_id
from cardagent.pages.links import csrf_for
from cardagent.pages.render import page
from cardagent.upgrade import Job, JobStatus, UpgradeManager
from cardagent.upgrade.job import PIN_ERRORS
from cardagent.upgrade.pins import PIN_MAX, PIN_MIN, valid_pin
from cardagent.upgrade.plan import ROLES

router = APIRouter(include_in_schema=False)
AREA = "pin"
ACTIVE = (JobStatus.RUNNING, JobStatus.WAITING_FOR_CARD)


def _upgrades(request: Request) -> UpgradeManager:
    return request.app.state.upgrades


def _card_facts(request: Request, job: Job) -> tuple[dict[str, bool], list[str]]:
    """(PIN pad per role, roles with one try left) as the card says now; falls back to the
    job's last known counters when the card cannot be read."""
    from cardagent.cardwriter import CardWriter
    from cardagent.service import token_role

    ppad: dict[str, bool] = {}
    final: set[str] = {role for role, p in job.state.pins.items() if p.retries_left == 1}
    service = request.app.state.service
    writer = CardWriter(service.pkcs11)
    for role, serial in job.state.card.tokens.items():
        try:
            ppad[role] = writer.protected_auth_path(serial)
        except Exception:  # noqa: BLE001 - card out: show the PIN fields
            ppad[role] = False
    try:
        reading = service.read()
        serials = set(job.state.card.tokens.values())
        for t in reading.tokens:
            role = token_role(t.data.label)
            if role and t.data.serial in serials:
                if t.pin.status == "final_try":
                    final.add(role)
                elif t.pin.retries_left not in (None, 1):
                    final.discard(role)
    except Exception:  # noqa: BLE001 - card out: keep what the job knows
        pass
    return ppad, [r for r in ROLES if r in final]


def _error_facts(job: Job) -> dict[str, object]:
    """The job's error as facts for the templates (they word it: pin_texts.html)."""
    pin_error = job.error_code in PIN_ERRORS
    return {
        "error_code": job.error_code,
        "error_role": job.state.error_role if pin_error else None,
        "retries_left": job.state.error_retries_left if pin_error else None,
    }


def _status_page(request: Request, job: Job) -> Response:
    active = job.status in ACTIVE
    return page(
        "pin_status.html",
        region(request),
        refresh=2 if active else None,
        job_status=job.status.value,
        active=active,
        step=job.step,
        progress=job.progress,
        **_error_facts(job),
    )


def _form_page(
    request: Request,
    job: Job,
    session: str,
    *,
    form_error: str | None = None,
    invalid: tuple[str, ...] = (),
    status: int = 200,
) -> Response:
    ppad, final = _card_facts(request, job)
    csrf = csrf_for(session, AREA, job.id)
    links = _upgrades(request).links
    if final and not links.final_try_confirmed(job.id, session):
        return page(
            "pin_final_try.html",
            region(request),
            status=status,
            job_id=job.id,
            csrf=csrf,
            roles=final,
        )
    fields = [
        {"role": role, "ppad": ppad.get(role, False), "invalid": role in invalid} for role in ROLES
    ]
    return page(
        "pin_form.html",
        region(request),
        status=status,
        job_id=job.id,
        csrf=csrf,
        fields=fields,
        form_error=form_error,
        final_try_roles=final,
        pin_min=PIN_MIN,
        pin_max=PIN_MAX,
        **_error_facts(job),
    )


@router.get("/pin/{job_id}")
def pin_page(request: Request, job_id: str, t: str | None = None) -> Response:
    manager = _upgrades(request)
    job = manager.job(job_id) if _valid_id(job_id) else None
    session = enter_page(request, manager.links, AREA, job_id, t, job is not None)
    if isinstance(session, Response):
        return session
    assert job is not None
    if job.status != JobStatus.WAITING_FOR_PIN:
        resp = _status_page(request, job)
    else:
        resp = _form_page(request, job, session)
    return keep_session(resp, manager.links, AREA, job_id, session)


@router.post("/pin/{job_id}")
async def pin_submit(request: Request, job_id: str) -> Response:
    manager = _upgrades(request)
    if not _valid_id(job_id) or manager.job(job_id) is None:
        return fail(request, "not_found", AREA)
    checked = await checked_form(request, manager.links, AREA, job_id)
    if isinstance(checked, Response):
        return checked
    session, form = checked
    try:
        resp = _apply(request, manager, job_id, session, form)
    finally:
        form.clear()
    return keep_session(resp, manager.links, AREA, job_id, session)


def _apply(
    request: Request, manager: UpgradeManager, job_id: str, session: str, form: dict[str, str]
) -> Response:
    """What a checked POST of the PIN form asks for: confirm the final try, cancel, start."""
    back = see_other(f"/pin/{job_id}")
    job = manager.job(job_id)
    assert job is not None
    action = form.get("action", "")
    if job.status != JobStatus.WAITING_FOR_PIN:
        return back
    if action == "confirm_final_try":
        manager.links.confirm_final_try(job_id, session)
        return back
    pins = {
        "legitimering": form.pop("pin_legitimering", None),
        "underskrift": form.pop("pin_underskrift", None),
    }
    if action == "cancel":
        ok = {r: p if valid_pin(p) else None for r, p in pins.items()}
        manager.submit(job_id, ok, confirm_final_try=False, cancel=True)
        ok.clear()
        return back
    if action != "start":
        return fail(request, "bad_form", AREA)
    ppad, final = _card_facts(request, job)
    bad = tuple(r for r in ROLES if not ppad.get(r) and not valid_pin(pins[r]))
    if bad:
        # Refused here, before the card sees anything: no try is spent.
        return _form_page(
            request,
            job,
            session,
            form_error="pin_format",
            invalid=bad,
            status=422,
        )
    if final and not manager.links.final_try_confirmed(job_id, session):
        return back  # the confirmation step first (the form is not accepted before it)
    confirmed = manager.links.take_final_try(job_id, session)
    manager.submit(job_id, pins, confirm_final_try=confirmed)
    pins.clear()
    return back
