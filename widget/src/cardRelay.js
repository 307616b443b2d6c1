// The card relay: when the bot runs centrally it cannot reach the user's
// workstation, so it sends a custom payload {type: "cardagent_request", ...}
// and the widget asks the local card agent (this page's origin is on the
// agent's allowlist, browser relay on). The answer goes back to the bot as the
// silent message "/cardagent_result" with the answer in the message metadata.
// See docs/widget.md "Card relay" and actions/card_access.py.
import { registerPayloadHandler } from "./payloads.js";

const RESULT_PAYLOAD = "/cardagent_result";
const TIMEOUT_MS = 15000;
const ALLOWED = [
  ["GET", /^\/v1\/card\/state$/],
  ["POST", /^\/v1\/upgrade$/],
  ["GET", /^\/v1\/jobs\/[\w-]+$/],
  ["POST", /^\/v1\/puk-orders$/],
  ["GET", /^\/v1\/puk-orders\/[\w-]+$/],
];

// Only what the bot needs goes back into the conversation.
function reduce(body) {
  if (!body || typeof body !== "object") return {};
  const pick = (obj, keys) =>
    Object.fromEntries(keys.filter((k) => obj && k in obj).map((k) => [k, obj[k]]));
  const out = pick(body, [
    "state", "error", "message", "job_id", "status", "error_code", "progress",
    "pin_page_url", "created", "order_id", "reference",
  ]);
  if (body.details) {
    out.details = pick(body.details, ["base_state", "blocked_pins", "final_try_pins", "days_left"]);
  }
  if (body.next_step) out.next_step = pick(body.next_step, ["action"]);
  return out;
}

async function callAgent(agentUrl, request) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const response = await fetch(agentUrl + request.path, {
      method: request.method,
      headers: request.body ? { "Content-Type": "application/json" } : {},
      body: request.body ? JSON.stringify(request.body) : undefined,
      signal: controller.signal,
      credentials: "omit",
    });
    let body = {};
    try {
      body = await response.json();
    } catch {
      /* not JSON: keep {} */
    }
    return { status: response.status, body: reduce(body) };
  } catch (error) {
    console.warn("SithsChat: the card agent did not answer", error);
    return { status: 0, body: {} }; // agent not running or not reachable
  } finally {
    clearTimeout(timer);
  }
}

export function registerCardRelay(agentUrl) {
  const base = String(agentUrl).replace(/\/+$/, "");
  registerPayloadHandler("cardagent_request", (payload, api) => {
    const allowed = ALLOWED.some(
      ([method, path]) => payload.method === method && path.test(String(payload.path)),
    );
    const label = typeof payload.label === "string" ? payload.label : "";
    if (api.restored || !allowed) return label ? api.el("span", { class: "sc-note", text: label }) : null;
    callAgent(base, payload).then((result) =>
      api.send(RESULT_PAYLOAD, {
        silent: true,
        metadata: {
          cardagent_result: {
            request_id: payload.request_id,
            purpose: payload.purpose,
            ...result,
          },
        },
      }),
    );
    return label ? api.el("span", { class: "sc-note", role: "status", text: label }) : null;
  });
}
