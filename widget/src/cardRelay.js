// The card relay: when the bot runs centrally it cannot reach the user's
// workstation, so it sends a custom payload {type: "cardagent_request", ...}
// and the widget asks the local card agent (this page's origin is on the
// agent's allowlist, browser relay on). The answer goes back to the bot as the
// silent message "/cardagent_result" with the answer in the message metadata.
// See docs/widget.md "Card relay" and actions/card_access.py.
//
// What a bot message can make the widget do is fixed here, whatever the bot
// (or someone forging its messages) sends:
// - only the five relay routes (RELAY_ROUTES), with a fixed empty JSON body for
//   the two POSTs: on the agent they only read, or propose (an upgrade job that
//   waits for the PINs on the agent's page, a PUK order that waits for the
//   person's click on "Beställ" there). None of them places an order or moves a job;
// - never a page opened or navigated to: agent pages are links the user clicks
//   (render.js shows them only on the agent's own origin);
// - the answer goes back with the bot's one-time request_id, which the bot
//   checks (actions/card_access.py).
import { registerPayloadHandler } from "./payloads.js";

const RESULT_PAYLOAD = "/cardagent_result";
const TIMEOUT_MS = 15000;
const ID = "[A-Za-z0-9_-]{1,64}";
// [method, path pattern]: the agent's relay routes (cardagent/security.py RELAY_ROUTES).
export const RELAY_ROUTES = [
  ["GET", new RegExp("^/v1/card/state$")],
  ["POST", new RegExp("^/v1/upgrade$")],
  ["GET", new RegExp(`^/v1/jobs/${ID}$`)],
  ["POST", new RegExp("^/v1/puk-orders$")],
  ["GET", new RegExp(`^/v1/puk-orders/${ID}$`)],
];
const REQUEST_ID = /^[A-Za-z0-9_-]{16,128}$/;
const PURPOSE = /^[a-z_]{1,40}$/;

export function isRelayRoute(method, path) {
  return (
    typeof method === "string" &&
    typeof path === "string" &&
    RELAY_ROUTES.some(([m, pattern]) => method === m && pattern.test(path))
  );
}

/** scheme://host:port of a URL, or null. */
export function originOf(url) {
  try {
    return new URL(String(url)).origin;
  } catch {
    return null;
  }
}

// Only what the bot needs goes back into the conversation; a page URL only
// when it is on the agent's own origin.
function reduce(body, agentOrigin) {
  if (!body || typeof body !== "object") return {};
  const pick = (obj, keys) =>
    Object.fromEntries(keys.filter((k) => obj && k in obj).map((k) => [k, obj[k]]));
  const out = pick(body, [
    "state", "error", "job_id", "status", "error_code", "error_role", "retries_left",
    "progress", "created", "order_id", "reference", "page_opened",
  ]);
  for (const key of ["pin_page_url", "confirm_page_url"]) {
    if (typeof body[key] === "string" && originOf(body[key]) === agentOrigin) out[key] = body[key];
  }
  if (body.details) {
    out.details = pick(body.details, [
      "base_state", "blocked_pins", "final_try_pins", "earliest_expiry", "latest_expiry",
      "certificate_profile",
    ]);
  }
  return out;
}

async function callAgent(agentUrl, agentOrigin, method, path) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const response = await fetch(agentUrl + path, {
      method,
      headers: method === "POST" ? { "Content-Type": "application/json" } : {},
      body: method === "POST" ? "{}" : undefined, // never the bot's body
      signal: controller.signal,
      credentials: "omit",
      redirect: "error",
    });
    let body = {};
    try {
      body = await response.json();
    } catch {
      /* not JSON: keep {} */
    }
    return { status: response.status, body: reduce(body, agentOrigin) };
  } catch (error) {
    console.warn("SithsChat: the card agent did not answer", error);
    return { status: 0, body: {} }; // agent not running or not reachable
  } finally {
    clearTimeout(timer);
  }
}

export function registerCardRelay(agentUrl) {
  const base = String(agentUrl).replace(/\/+$/, "");
  const agentOrigin = originOf(base);
  registerPayloadHandler("cardagent_request", (payload, api) => {
    const { method, path, request_id: requestId, purpose } = payload;
    const allowed =
      agentOrigin !== null &&
      isRelayRoute(method, path) &&
      typeof requestId === "string" &&
      REQUEST_ID.test(requestId) &&
      typeof purpose === "string" &&
      PURPOSE.test(purpose);
    const label = typeof payload.label === "string" ? payload.label.slice(0, 200) : "";
    if (!allowed) {
      if (!api.restored) console.warn("SithsChat: card request refused", method, path);
      return null;
    }
    if (api.restored) return label ? api.el("span", { class: "sc-note", text: label }) : null;
    callAgent(base, agentOrigin, method, path).then((result) =>
      api.send(RESULT_PAYLOAD, {
        silent: true,
        metadata: { cardagent_result: { request_id: requestId, purpose, ...result } },
      }),
    );
    return label ? api.el("span", { class: "sc-note", role: "status", text: label }) : null;
  });
}
