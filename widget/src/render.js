// Turning bot messages into DOM nodes. Never innerHTML: every piece of text
// from the bot or the user goes in through textContent, and links only get
// http(s)/mailto/tel hrefs. The bot's answers use Markdown links [text](url).

const LINK = /\[([^\]]+)\]\(([^)\s]+)\)/g;
const SAFE_URL = /^(https?:|mailto:|tel:)/i;

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

/** Text with Markdown links as a list of text nodes and <a> elements. */
export function richText(text) {
  const parts = [];
  const source = String(text ?? "");
  let last = 0;
  for (const match of source.matchAll(LINK)) {
    const [whole, label, url] = match;
    const href = safeUrl(url);
    parts.push(source.slice(last, match.index));
    if (href) {
      parts.push(
        el("a", { href, target: "_blank", rel: "noopener noreferrer" }, [
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
