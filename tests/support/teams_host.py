"""A stand-in for the Microsoft Teams web client, so a Playwright test can open a personal
tab page "inside Teams" with nothing of Microsoft reachable.

``open_in_teams(page, tab_url)`` makes ``page`` load a host page at
``https://teams.microsoft.com/...`` (fulfilled by ``page.route``, so never fetched) whose
iframe shows ``tab_url`` and whose script answers the tab's @microsoft/teams-js (2.x, checked
against 2.58.0) postMessage calls the way the Teams host does::

    frame = open_in_teams(page, f"{tab_server}/tab.html", theme="dark")
    expect(frame.locator("body")).to_have_attribute("data-theme", "dark")
    set_theme(page, "contrast")
    wait_for_host_call(page, "appInitialization.success")   # app.notifySuccess()

The protocol (teams-js src/internal/communication.js, messageObjects.js):

* the tab posts requests ``{id, uuidAsString, func, args, apiVersionTag, timestamp, ...}`` to
  ``window.parent`` (``initialize`` with target origin ``"*"``, later ones with the origin
  that answered ``initialize``);
* the host answers a request with ``{id, uuidAsString, args: [...]}`` (same id and uuid),
  and teams-js resolves the call with ``args``;
* the host pushes events as ``{func, args}`` without an id, e.g.
  ``{func: "themeChange", args: ["dark"]}``.

teams-js accepts messages only from an https origin on its list of Teams/Outlook/M365 hosts
(``teams.microsoft.com`` is on it), hence the host page's address. The tab may be served
from ``http://127.0.0.1:<port>``: Chromium treats loopback as potentially trustworthy, so
the https host page may frame it (no mixed-content block). Two side effects on the page's
browser context:

* Local Network Access (Private Network Access's successor; seen with Chromium 156): a page
  fulfilled by ``page.route`` at a public host name is in the public address space, and
  Chromium blocks its navigating an iframe to 127.0.0.1 ("The connection is blocked because
  it was initiated by a public page to connect to devices or servers on your local
  network").
  ``open_in_teams`` therefore grants the context Playwright's ``local-network-access``
  permission for the Teams origin only. The tab's own fetch/XHR/WebSocket calls to other
  loopback ports need nothing: they go from loopback to loopback.
* While a page has routes, Playwright answers every CORS preflight (OPTIONS) of that page,
  its iframes included, itself with allow-all headers: the tab's servers never see a
  preflight, so these tests cannot catch a server's missing preflight (CORS) support. The
  real responses still need the server's ``Access-Control-Allow-Origin``.
"""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Mapping
from typing import Any

from playwright.sync_api import Frame, Page, Route

HOST_ORIGIN = "https://teams.microsoft.com"
HOST_URL = f"{HOST_ORIGIN}/_test/personal-tab"

# teams-js fetches this list as soon as its script is evaluated (validOrigins.js,
# prefetchOriginsFromCDN), inside or outside Teams, and waits for it only when a message comes
# from an origin its current list lacks. If the fetch fails or takes more than 1.5 s
# (ORIGIN_LIST_FETCH_TIMEOUT_IN_MS, an AbortController), it logs and keeps using the list
# bundled in the library (artifactsForCDN/validDomains.json), which has teams.microsoft.com,
# so nothing breaks; answering it locally just keeps the test off the internet and fast.
VALID_DOMAINS_URL = "https://res.cdn.office.net/teams-js/validDomains/json/validDomains.json"
VALID_DOMAINS = {"validOrigins": [
    "teams.microsoft.com", "teams.microsoft.us", "gov.teams.microsoft.us",
    "dod.teams.microsoft.us", "int.teams.microsoft.com", "teams.live.com",
    "outlook.office.com", "outlook.office365.com", "outlook.live.com", "*.www.office.com",
    "www.office.com", "*.www.microsoft365.com", "www.microsoft365.com", "*.cloud.microsoft",
]}

# What the Teams web client reports in the `initialize` answer: teams-js applies it as
# `runtime` (apiVersion 4 is the one 2.58.0 expects; older ones are upgraded). `supports`
# lists the capabilities whose `isSupported()` is true; a personal tab needs few.
RUNTIME = {
    "apiVersion": 4,
    "isLegacyTeams": False,
    "hostVersionsInfo": {"adaptiveCardSchemaVersion": {"majorVersion": 1, "minorVersion": 5}},
    "supports": {
        "app": {},
        "appEntity": {},
        "appInstallDialog": {},
        "chat": {},
        "dialog": {"card": {"bot": {}}, "url": {"bot": {}, "parentCommunication": {}},
                   "update": {}},
        "pages": {"appButton": {}, "backStack": {}, "config": {}, "currentApp": {},
                  "tabs": {}},
        "teamsCore": {},
    },
}

_HOST_SCRIPT = r"""
const CONFIG = JSON.parse(document.getElementById("teams-host-config").textContent);
const host = window.__teamsHost = {
  calls: [],                       // [{func, args}] in the order the tab sent them
  handlers: [],                    // event names the tab registered (registerHandler)
  context: CONFIG.context,         // the legacy (flat) Context that getContext answers
  runtime: CONFIG.runtime,
  ssoToken: CONFIG.ssoToken,       // what authentication.getAuthToken answers (null: fails)
  tabWindow() { return document.getElementById("teams-tab").contentWindow; },
  tabOrigin: null,
  push(func, args) {               // a host -> tab event: {func, args}, no id
    const target = host.tabWindow();
    if (target) target.postMessage({func, args}, host.tabOrigin || "*");
  },
  setTheme(theme) {
    host.context.theme = theme;
    host.push("themeChange", [theme]);
  },
};

function answer(request) {
  switch (request.func) {
    case "initialize":             // args: [sdkVersion, runtimeApiVersion, validOrigins]
      // -> [frameContext, hostClientType, runtimeConfig (JSON), clientSupportedSDKVersion]
      return [host.context.frameContext, host.context.hostClientType,
              JSON.stringify(host.runtime), request.args[0]];
    case "getContext":
      return [host.context];
    case "registerHandler":        // one-way in teams-js; an answer is harmless
      host.handlers.push(request.args[0]);
      return [];
    case "appInitialization.success":  // awaited only if runtime.supports.app has
      return [undefined];              // notifySuccessResponse; one-way otherwise
    case "authentication.getAuthToken":  // args: [resources, claims, silent, tenantId]
      // -> [success, token or the error's message]
      return host.ssoToken ? [true, host.ssoToken] : [false, "resourceRequiresConsent"];
    case "appInitialization.appLoaded":
    case "appInitialization.failure":
    case "appInitialization.expectedFailure":
      return [];
    default:
      return null;                 // not implemented: leave the call unanswered
  }
}

window.addEventListener("message", (event) => {
  const request = event.data;
  if (event.source !== host.tabWindow() || !request || typeof request !== "object"
      || typeof request.func !== "string" || typeof request.id !== "number") return;
  host.tabOrigin = event.origin !== "null" ? event.origin : "*";
  host.calls.push({func: request.func, args: request.args});
  const args = answer(request);
  if (args === null) return;
  event.source.postMessage({id: request.id, uuidAsString: request.uuidAsString, args},
                           host.tabOrigin);
});
"""

# Iframe attributes like the Teams web client's: a sandbox that keeps the tab's own origin
# (storage, cookies) and `allow` for the permissions a tab may ask for.
_IFRAME_SANDBOX = ("allow-forms allow-modals allow-popups allow-popups-to-escape-sandbox "
                   "allow-pointer-lock allow-scripts allow-same-origin allow-downloads")
_IFRAME_ALLOW = ("geolocation; microphone; camera; midi; encrypted-media; clipboard-write; "
                 "fullscreen")


def _host_page(tab_url: str, context: Mapping[str, Any], sso_token: str | None = None) -> str:
    config = json.dumps({"context": context, "runtime": RUNTIME, "ssoToken": sso_token})
    config = config.replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Microsoft Teams</title>
<style>html, body {{ margin: 0; height: 100%; }}
iframe {{ border: 0; width: 100%; height: 100%; display: block; }}</style>
<script type="application/json" id="teams-host-config">{config}</script>
<script>{_HOST_SCRIPT}</script></head>
<body><iframe id="teams-tab" name="embedded-page-container" title="Personal tab"
  src="{html.escape(tab_url)}" sandbox="{_IFRAME_SANDBOX}" allow="{_IFRAME_ALLOW}"></iframe>
</body></html>"""


def teams_context(*, theme: str = "default", locale: str = "sv-se",
                  user_principal_name: str = "anna.andersson@region.example",
                  entity_id: str = "card") -> dict[str, Any]:
    """The legacy (flat) context object the Teams web client answers ``getContext`` with for
    a personal tab; teams-js 2.x maps it to ``app.Context`` (``theme`` -> ``ctx.app.theme``,
    ``entityId`` -> ``ctx.page.id``, ``tid`` -> ``ctx.user.tenant.id``, ...)."""
    return {
        "locale": locale,
        "theme": theme,
        "entityId": entity_id,
        "subEntityId": "",
        "frameContext": "content",
        "hostClientType": "web",
        "hostName": "Teams",
        "ringId": "general",
        "sessionId": str(uuid.uuid4()),
        "appSessionId": str(uuid.uuid4()),
        "appLaunchId": str(uuid.uuid4()),
        "userPrincipalName": user_principal_name,
        "loginHint": user_principal_name,
        "userObjectId": "7d3a2c1e-5b4f-4e8a-9c6d-2f1e0a9b8c7d",
        "userDisplayName": "Anna Andersson",
        "userLicenseType": "Unknown",
        "tid": "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f",
        "tenantSKU": "enterprise",
        "isFullScreen": False,
        "isMultiWindow": False,
        "isCallingAllowed": True,
        "isPSTNCallingAllowed": False,
        "osLocaleInfo": {"platform": "windows", "regionalFormat": locale},
    }


def open_in_teams(page: Page, tab_url: str, *, theme: str = "default", locale: str = "sv-se",
                  user_principal_name: str = "anna.andersson@region.example",
                  entity_id: str = "card",
                  extra_context: Mapping[str, Any] | None = None,
                  sso_token: str | None = None) -> Frame:
    """Load ``tab_url`` in ``page`` as a Teams (web client) personal tab and return the tab's
    iframe. The host answers teams-js's ``initialize``, ``getContext``, ``registerHandler``
    and ``appInitialization.*`` calls; ``extra_context`` adds or replaces fields of the flat
    context (see ``teams_context``). ``sso_token``: what ``authentication.getAuthToken()``
    gives the tab (Teams SSO; without it the call fails as without consent). Returns once
    the host page and the iframe have loaded; whether the tab's ``app.initialize()`` has
    finished is for the test to wait for (e.g. ``wait_for_host_call(page, "getContext")``
    or a locator in the frame)."""
    context = {**teams_context(theme=theme, locale=locale,
                               user_principal_name=user_principal_name,
                               entity_id=entity_id), **(extra_context or {})}
    body = _host_page(tab_url, context, sso_token)

    def host(route: Route) -> None:
        if route.request.url.split("?")[0] == HOST_URL:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=body)
        else:  # favicon.ico and the like: never to the internet
            route.fulfill(status=404, body="")

    # Lets the public host page frame a tab on 127.0.0.1 (Local Network Access, see above).
    page.context.grant_permissions(["local-network-access"], origin=HOST_ORIGIN)
    page.route(f"{HOST_ORIGIN}/**", host)
    page.route(VALID_DOMAINS_URL, lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(VALID_DOMAINS),
        headers={"Access-Control-Allow-Origin": "*"}))
    page.goto(HOST_URL)
    frame = page.locator("#teams-tab").element_handle().content_frame()
    if frame is None:
        raise RuntimeError(f"the Teams host page did not frame {tab_url}")
    return frame


def set_theme(page: Page, theme: str) -> None:
    """The host switches theme ("default", "dark" or "contrast"): it sends the tab a
    ``themeChange`` event (the tab's ``app.registerOnThemeChangeHandler`` handler gets
    ``theme``), and later ``getContext`` calls answer the new theme."""
    page.evaluate("theme => window.__teamsHost.setTheme(theme)", theme)


def host_calls(page: Page) -> list[str]:
    """The ``func`` of each request the tab has sent the host so far, in order, e.g.
    ``["initialize", "getContext", "registerHandler", "appInitialization.appLoaded",
    "appInitialization.success"]``
    (``app.notifySuccess()`` is ``appInitialization.success``, ``app.notifyAppLoaded()``
    ``appInitialization.appLoaded``)."""
    return page.evaluate("window.__teamsHost.calls.map(call => call.func)")


def wait_for_host_call(page: Page, func: str, *, timeout: float = 10_000) -> None:
    """Wait until the tab has sent ``func`` to the host (``timeout`` in ms)."""
    page.wait_for_function(
        "func => window.__teamsHost.calls.some(call => call.func === func)",
        arg=func, timeout=timeout)
