// Turning bot messages into DOM nodes. Never innerHTML: every piece of text
// from the bot or the user goes in through textContent, and links only get
// http(s)/mailto/tel hrefs. The bot's answers use Markdown links [text](url).
//
// Links to this computer (the card agent's PIN and order pages) are links only
// when they are on the configured agent origin (default http://127.0.0.1:8765);
// any other link to a loopback address, or to an agent-page path elsewhere, is
// shown as plain text. A link is only ever opened by the user's click.

const LINK = /\[([^\]]+)\]\(([^)\s]+)\)/g;
const SAFE_URL = /^(https?:|mailto:|tel:)/i;
const LOOPBACK_HOST = /^(localhost|.+\.localhost|127(\.\d{1,3}){3}|\[::1\]|\[::ffff:127(\.\d{1,3}){3}\]|\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]|0\.0\.0\.0|\[::\])$/i;
const AGENT_PAGE_PATH = /^\/(pin|orders)\//;

/** Is `href` a link to the card agent's own pages on `agentOrigin`? */
export function isAgentPage(href, agentOrigin) {
  try {
    const url = new URL(href);
    return Boolean(agentOrigin) && url.origin === agentOrigin;
  } catch {
    return false;
  }
}

/** May `href` be shown as a link? Links to this computer only on the agent's origin. */
export function linkAllowed(href, agentOrigin) {
  let url;
  try {
    url = new URL(href);
  } catch {
    return false;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return true;
  if (isAgentPage(href, agentOrigin)) return true;
  return !LOOPBACK_HOST.test(url.hostname) && !AGENT_PAGE_PATH.test(url.pathname);
}

export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of [].concat(children)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

export function safeUrl(url) {
  if (typeof url !== "string") return null;
  const trimmed = url.trim();
  if (!SAFE_URL.test(trimmed)) return null;
  try {
    return new URL(trimmed).href;
  } catch {
    return null;
  }
}

/** Text with Markdown links as a list of text nodes and <a> elements.
 * `agentOrigin`: the card agent's origin (links to this computer only there). */
export function richText(text, { agentOrigin = null } = {}) {
  const parts = [];
  const source = String(text ?? "");
  let last = 0;
  for (const match of source.matchAll(LINK)) {
    const [whole, label, url] = match;
    const href = safeUrl(url);
    parts.push(source.slice(last, match.index));
    if (href && !linkAllowed(href, agentOrigin)) {
      parts.push(label); // not the agent's own page: no link
    } else if (href) {
      const agentPage = isAgentPage(href, agentOrigin);
      parts.push(
        el("a", {
          href,
          target: "_blank",
          rel: "noopener noreferrer",
          class: agentPage ? "sc-agent-link" : undefined,
        }, [
          label,
          el("span", { class: "sc-sr", text: " (öppnas i ny flik)" }),
        ]),
      );
    } else {
      parts.push(whole);
    }
    last = match.index + whole.length;
  }
  parts.push(source.slice(last));
  return parts.filter((p) => p !== "");
}

/** Buttons of a message in either Rasa shape: quick_replies or buttons. */
export function buttonsOf(message) {
  const list = message.quick_replies || message.buttons || [];
  return Array.isArray(list)
    ? list.filter((b) => b && typeof b.title === "string" && typeof b.payload === "string")
    : [];
}
