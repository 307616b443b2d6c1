"""The triage page's routes (Sanic, Jinja2 templates with autoescape).

``/login``  the agent's token, once per working day (an HttpOnly, SameSite=Strict cookie)
``/``       search what the caller says, and the chat reference box
``/sok``    the likeliest answers: the bot's NLU (through the running bot's
            ``/model/parse``), BM25 over the FAQ as a second opinion, the answer to read
            out, the follow-ups, when to escalate and the ticket note
``/samtal`` a conversation found by its chat reference, masked; every lookup is logged
``/rapport`` what the bot could not answer in a period: counts, a picture per day, groups
            of similar messages (each as a YAML snippet to review), the suggestions picked
            after "Menade du ...?" and the answers' feedback (also ``make report``)

Started by ``python -m bot.triage_web`` (``make triage-web``); settings in
:mod:`bot.triage_web.settings`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional

import httpx
import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.chat_reference import ChatReferences, normalise
from bot.doors import host_name
from bot.faq_search import FaqSearch
from bot.masking import mask_sensitive
from bot.triage import domain_responses, intent_title, plain_links, triage
from bot.triage_web.conversations import ReferenceIndex, read_conversation
from bot.triage_web.guard import Attempts
from bot.triage_web.report_groups import group_yaml
from bot.triage_web.report_plots import day_plot_svg
from bot.triage_web.report_view import PeriodError, ReportCache, period, report_values
from bot.triage_web.settings import TriageWebSettings
from bot.triage_web.ticket import conversation_note, search_note

logger = logging.getLogger(__name__)
audit = logging.getLogger("bot.triage_web.audit")

HERE = Path(__file__).resolve().parent
COOKIE = "triage_session"
MAX_SAID_CHARS = 2000
#: The largest request body read (a form with a caller's words or a reference), and how
#: long a client may take to send it: a big or slow body must not hold up other agents.
MAX_BODY_BYTES = 64 * 1024
REQUEST_TIMEOUT_SECONDS = 10
#: Failed sign-ins per address, and reference lookups per signed-in session, per minute.
SIGN_IN_FAILURES_PER_MINUTE = 5
LOOKUPS_PER_MINUTE = 30
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes Chromium send Origin: null
    "Cache-Control": "no-store",
}

Parse = Callable[[str], Awaitable[Dict[str, Any]]]


def bot_parser(settings: TriageWebSettings) -> Parse:
    """What the running bot understands of a text (its ``/model/parse``)."""
    client = httpx.AsyncClient(timeout=10)
    token = settings.rasa_api_token()
    url = settings.bot_url.rstrip("/") + "/model/parse"

    async def parse(text: str) -> Dict[str, Any]:
        reply = await client.post(url, params={"token": token} if token else {},
                                  json={"text": text})
        reply.raise_for_status()
        return reply.json()

    return parse


@dataclass
class Sessions:
    """Signed-in agents' browser sessions (in memory: a restart signs everyone out)."""

    lifetime: int
    expiry: Dict[str, float]

    def start(self) -> str:
        session = secrets.token_urlsafe(32)
        self.expiry[session] = time.monotonic() + self.lifetime
        return session

    def valid(self, session: Optional[str]) -> bool:
        until = self.expiry.get(session or "")
        if until is None:
            return False
        if until < time.monotonic():
            self.expiry.pop(session, None)
            return False
        return True

    def end(self, session: Optional[str]) -> None:
        self.expiry.pop(session or "", None)


def _audit_to(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not any(getattr(h, "baseFilename", None) == str(path) for h in audit.handlers):
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        audit.addHandler(handler)
        path.chmod(0o600)
    audit.setLevel(logging.INFO)
    audit.propagate = False


def session_tag(session: Optional[str]) -> str:
    """Who did it, for the audit log: a short hash of the browser session (the same at
    sign-in and at each lookup), never the session itself."""
    return hashlib.sha256((session or "").encode()).hexdigest()[:8]


def create_app(
    settings: TriageWebSettings,
    parse: Optional[Parse] = None,
    references: Optional[ChatReferences] = None,
    name: str = "siths-triage",
) -> Sanic:
    token = settings.token()
    # httpx logs each request's URL at INFO, and Rasa's API token travels in the URL.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parse = parse or bot_parser(settings)
    engine = sa.create_engine(settings.tracker_db_url, pool_pre_ping=True)
    index = ReferenceIndex(engine, references or ChatReferences.from_env())
    responses = domain_responses()
    search = FaqSearch(responses)
    sessions = Sessions(settings.session_seconds, {})
    failed_sign_ins = Attempts(SIGN_IN_FAILURES_PER_MINUTE, 60)
    lookups = Attempts(LOOKUPS_PER_MINUTE, 60)
    hosts = settings.hosts()
    secure_cookie = settings.public_origin.startswith("https://")
    reports = ReportCache(engine)
    templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                            autoescape=select_autoescape(["html"]))
    _audit_to(settings.audit_log)

    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    app.config.REQUEST_TIMEOUT = REQUEST_TIMEOUT_SECONDS
    app.static("/static", str(HERE / "static"), name="static")

    def page(template: str, status: int = 200, **values: Any) -> HTTPResponse:
        return response.html(templates.get_template(template).render(**values), status=status)

    @app.middleware("request")
    async def signed_in(request: Request) -> Optional[HTTPResponse]:
        host = request.headers.get("host", "")
        if host_name(host) not in hosts:  # DNS rebinding: a page naming us by its host
            return response.text("Okänd adress.", status=421)
        if request.method == "POST":
            origin = request.headers.get("origin")
            own = settings.public_origin or f"http://{host}"
            if origin and origin != own:
                return response.text("Fel ursprung.", status=403)
        if request.path.startswith("/static/") or request.path == "/login":
            return None
        if not sessions.valid(request.cookies.get(COOKIE)):
            return response.redirect("/login")
        return None

    @app.middleware("response")
    async def headers(_request: Request, resp: HTTPResponse) -> None:
        for key, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(key, value)

    @app.get("/login")
    async def login_form(_request: Request) -> HTTPResponse:
        return page("login.html")

    @app.post("/login")
    async def login(request: Request) -> HTTPResponse:
        if failed_sign_ins.exhausted(request.ip):
            audit.info("sign-in refused from %s: too many failures", request.ip)
            return page("login.html", status=429, locked=True)
        given = (request.form.get("token") or "").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            failed_sign_ins.add(request.ip)
            audit.info("sign-in refused from %s", request.ip)
            return page("login.html", status=401, refused=True)
        session = sessions.start()
        audit.info("sign-in %s from %s", session_tag(session), request.ip)
        resp = response.redirect("/")
        resp.cookies[COOKIE] = session
        resp.cookies[COOKIE]["secure"] = secure_cookie
        resp.cookies[COOKIE]["httponly"] = True
        resp.cookies[COOKIE]["samesite"] = "Strict"
        resp.cookies[COOKIE]["path"] = "/"
        resp.cookies[COOKIE]["max-age"] = settings.session_seconds
        return resp

    @app.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        sessions.end(request.cookies.get(COOKIE))
        resp = response.redirect("/login")
        del resp.cookies[COOKIE]
        return resp

    @app.get("/")
    async def home(_request: Request) -> HTTPResponse:
        return page("search.html")

    @app.post("/sok")
    async def search_said(request: Request) -> HTTPResponse:
        raw = (request.form.get("said") or "").strip()[:MAX_SAID_CHARS]
        if not raw:
            return page("search.html", empty=True)
        masked = mask_sensitive(raw)
        try:
            result = triage(masked.text, await parse(masked.text))
        except (httpx.HTTPError, ValueError):
            logger.warning("triage: the bot did not answer /model/parse")
            return page("search.html", said=masked.text, bot_down=True,
                        masked=masked.found, status=503)
        second = [(hit.title, hit.score) for hit in search.search(masked.text)]
        answer_text = plain_links(result.answer.text) if result.answer else None
        return page("search.html", said=masked.text, masked=masked.found, result=result,
                    answer_text=answer_text, second_opinion=second,
                    note=search_note(result))

    @app.post("/samtal")
    async def conversation(request: Request) -> HTTPResponse:
        typed = (request.form.get("reference") or "").strip()[:40]
        reference = normalise(typed)
        who = session_tag(request.cookies.get(COOKIE))
        if lookups.exhausted(who):
            audit.info("lookup by %s from %s: refused, too many lookups", who, request.ip)
            return page("search.html", too_many=True, status=429)
        lookups.add(who)
        if not reference:
            audit.info("lookup by %s from %s: not a reference", who, request.ip)
            return page("search.html", reference_typed=mask_sensitive(typed).text,
                        bad_reference=True, status=400)
        audit.info("lookup by %s from %s: %s", who, request.ip, reference)
        senders = await asyncio.to_thread(index.senders, reference)
        found = [c for c in [await asyncio.to_thread(read_conversation, engine, s)
                             for s in senders] if c]
        found.sort(key=lambda c: -c.last)
        audit.info("lookup by %s from %s: %s %s", who, request.ip, reference,
                   f"found {len(found)}" if found else "not found")
        if not found:
            return page("search.html", reference_typed=reference, not_found=True, status=404)
        shown = [_shown(reference, c) for c in found]
        return page("conversation.html", reference=reference, conversations=shown,
                    title=intent_title)

    @app.get("/rapport")
    async def report_page(request: Request) -> HTTPResponse:
        try:
            first, last = period(request.args.get("fran"), request.args.get("till"))
        except PeriodError as e:
            return page("report.html", error=str(e), first=request.args.get("fran", ""),
                        last=request.args.get("till", ""), status=400)
        computed = await asyncio.to_thread(reports.get, first, last)
        query = f"fran={first}&till={last}"
        return page("report.html", **report_values(
            computed, first, last, plot_url=f"/rapport/diagram.svg?{query}",
            group_url=lambda number: f"/rapport/grupp/{number}?{query}"))

    @app.get("/rapport/diagram.svg")
    async def report_plot(request: Request) -> HTTPResponse:
        try:
            first, last = period(request.args.get("fran"), request.args.get("till"))
        except PeriodError as e:
            return response.text(str(e), status=400)
        computed = await asyncio.to_thread(reports.get, first, last)
        svg = await asyncio.to_thread(day_plot_svg, computed.report)
        return response.text(svg, content_type="image/svg+xml", headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

    @app.get("/rapport/grupp/<number:int>")
    async def report_group(request: Request, number: int) -> HTTPResponse:
        try:
            first, last = period(request.args.get("fran"), request.args.get("till"))
        except PeriodError as e:
            return response.text(str(e), status=400)
        computed = await asyncio.to_thread(reports.get, first, last)
        found = [g for g in computed.groups if g.number == number]
        if not found:
            return response.text("Gruppen finns inte.", status=404)
        return response.text(
            group_yaml(found[0], f"{first} to {last}"), content_type="text/yaml; charset=utf-8",
            headers={"Content-Disposition":
                     f'attachment; filename="grupp-{number}-{first}-{last}.yml"'})

    @app.exception(Exception)
    async def failed(request: Request, exception: Exception) -> HTTPResponse:
        status = getattr(exception, "status_code", 500)
        if isinstance(exception, (IsADirectoryError, FileNotFoundError)):
            status = 404  # e.g. /static/ itself
        if status >= 500:
            logger.exception("triage page: %s %s failed", request.method, request.path)
        return page("error.html", status=status, status_code=status)

    return app


def _shown(reference: str, conversation: Any) -> Dict[str, Any]:
    question = conversation.last_question
    after = [m.text for m in conversation.messages
             if m.who == "bot" and question and m.timestamp >= question.timestamp]
    answer = "\n\n".join(after) or None
    return {
        "conversation": conversation,
        "answer": plain_links(answer) if answer else None,
        "topic": intent_title(question.intent) if question and question.intent else None,
        "note": conversation_note(reference, conversation, answer),
        "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(conversation.started)),
    }
