// SITHS helpdesk chat widget for the intranet. One script tag plus a small
// config object; talks to Rasa's socket.io channel with socket.io-client.
// See docs/widget.md.
import { io } from "socket.io-client";

import { originOf, registerCardRelay } from "./cardRelay.js";
import { maskSensitive } from "./mask.js";
import { registerFeedback } from "./feedback.js";
import { isCustom, payloadHandler, registerPayloadHandler } from "./payloads.js";
import { buttonsOf, el, linkAllowed, richText, safeUrl } from "./render.js";
import { CSS } from "./style.js";

const VERSION = "0.1.0";
const MAX_TRANSCRIPT = 200;
const TYPING_TIMEOUT_MS = 20000;

const DEFAULTS = {
  botUrl: null, // e.g. "https://siths-bot.region.se" (Rasa, where /socket.io is)
  socketPath: "/socket.io",
  title: "SITHS-hjälpen",
  launcherText: "Frågor om SITHS-kortet?",
  initPayload: "/greet", // sent, not shown, when a new conversation starts
  persist: "tab", // "tab": sessionStorage (gone when the tab closes), "browser": localStorage
  storageKey: "siths-chat",
  // socket.io's default: connect over long-polling, then upgrade to a websocket;
  // where a proxy blocks websockets the conversation stays on long-polling.
  // ["polling"] keeps it there (docs/widget.md "Transports").
  transports: ["polling", "websocket"],
  payloadHandlers: {}, // { type: handler }: registered before the transcript is restored
  // The local card agent, e.g. "http://127.0.0.1:8765": set it when the bot runs
  // centrally (CARD_AGENT_ACCESS=relay) so the widget reads the card for it.
  cardAgentUrl: null,
  // Central server with sign-in (docs/deployment.md): the intranet's token for the
  // bot, a string or a function returning it (or a Promise of it), asked for on
  // every (re)connect and sent as socket.io auth { token }.
  authToken: null,
  // The card agent's own pages (PIN page, PUK order page) are linked only on this
  // origin (cardAgentUrl's origin when that is set), and opened only by a click.
  agentOrigin: "http://127.0.0.1:8765",
  // The widget's own words (the keys of T below), e.g. { feedbackQuestion: "..." }; the
  // bot's answers are the bot's (domain.yml) and cannot be changed here.
  texts: {},
  // launcher: a button in the corner that opens the chat (the intranet);
  // page: the chat fills the page, always open (the Teams tab, widget/src/teamsTab.js).
  layout: "launcher",
  // default, dark or contrast (the three themes of Teams); setTheme() changes it.
  theme: "default",
};

const THEMES = ["default", "dark", "contrast"];

const T = {
  close: "Stäng",
  closeLabel: "Stäng chatten",
  restart: "Ny konversation",
  inputLabel: "Skriv din fråga",
  placeholder: "Skriv din fråga här",
  send: "Skicka",
  you: "Du: ",
  bot: "SITHS-hjälpen: ",
  typing: "SITHS-hjälpen skriver",
  connecting: "Ansluter …",
  reconnecting: "Anslutningen bröts. Försöker igen …",
  unreachable: "Kan inte nå chatten just nu. Försöker igen …",
  noAnswer: "Inget svar just nu. Försök igen om en stund.",
  note: "Skriv aldrig dina koder, din PUK-kod eller ditt personnummer i chatten.",
  replies: "Svarsalternativ",
  log: "Konversation",
  image: "Bild från SITHS-hjälpen",
  cannotShow: "Det här meddelandet kan inte visas här.",
  reference: "Chattreferens: ",
  referenceHint: "Uppge chattreferensen om du kontaktar Servicecenter.",
  feedbackQuestion: "Var svaret till hjälp?",
  feedbackYes: "Ja, svaret hjälpte",
  feedbackNo: "Nej, svaret hjälpte inte",
  feedbackYesShort: "👍 Ja",
  feedbackNoShort: "👎 Nej",
  unread: (n) => (n === 1 ? "1 nytt svar" : `${n} nya svar`),
};

// Where the conversation is kept between page loads. A browser may refuse storage
// altogether (e.g. to a page in another site's frame, as the Teams tab is, when
// third-party storage is blocked): then it is kept in memory, for this page load only.
function pickStorage(persist) {
  try {
    const storage = persist === "browser" ? window.localStorage : window.sessionStorage;
    storage.setItem("siths-chat-probe", "1");
    storage.removeItem("siths-chat-probe");
    return storage;
  } catch {
    const kept = new Map();
    return {
      getItem: (key) => (kept.has(key) ? kept.get(key) : null),
      setItem: (key, value) => kept.set(key, String(value)),
      removeItem: (key) => kept.delete(key),
    };
  }
}

// Session ids are issued (and signed) by the bot: the widget asks with the one
// it has (null at first), keeps what session_confirm gives, and reuses it after a
// reload. An id the bot did not sign is replaced by a new one (bot/channels.py).

class SithsChat {
  constructor(config) {
    this.config = { ...DEFAULTS, ...config };
    if (!this.config.botUrl) throw new Error("SithsChat: botUrl is required");
    this.t = { ...T };
    for (const [key, value] of Object.entries(this.config.texts || {})) {
      if (key in T && typeof value === typeof T[key]) this.t[key] = value;
    }
    registerFeedback(this.t);
    if (this.config.cardAgentUrl) registerCardRelay(this.config.cardAgentUrl);
    this.agentOrigin = originOf(this.config.cardAgentUrl || this.config.agentOrigin);
    for (const [type, handler] of Object.entries(this.config.payloadHandlers || {})) {
      registerPayloadHandler(type, handler);
    }
    this.storage = pickStorage(this.config.persist);
    this.state = this.load();
    this.socket = null;
    this.confirmed = false;
    this.queue = [];
    this.typingTimer = null;
  }

  // --- persistence: session id, transcript (masked), open/closed ---
  load() {
    try {
      const raw = JSON.parse(this.storage.getItem(this.config.storageKey) || "null");
      const id = raw && raw.sessionId;
      if (raw && (id === null || typeof id === "string") && Array.isArray(raw.transcript)) return raw;
    } catch {
      /* unreadable: start over */
    }
    return { sessionId: null, transcript: [], open: false, greeted: false, unread: 0 };
  }

  save() {
    this.state.transcript = this.state.transcript.slice(-MAX_TRANSCRIPT);
    try {
      this.storage.setItem(this.config.storageKey, JSON.stringify(this.state));
    } catch {
      /* storage full or disabled: the conversation still works */
    }
  }

  // --- DOM ---
  mount(parent = document.body) {
    const page = this.config.layout === "page";
    this.host = el("div", { class: "siths-chat-host" });
    const shadow = this.host.attachShadow({ mode: "open" });
    this.ids = { panel: "sc-panel", title: "sc-title", input: "sc-input" };
    this.launcher = el("button", {
      class: "sc-launcher",
      type: "button",
      "aria-expanded": "false",
      "aria-controls": this.ids.panel,
      onclick: () => this.open(),
    }, [
      el("span", { text: this.config.launcherText }),
      (this.badge = el("span", { class: "sc-badge", hidden: true })),
    ]);
    this.status = el("div", { class: "sc-status", role: "status", "aria-live": "polite" });
    this.log = el("div", {
      class: "sc-log",
      role: "log",
      "aria-live": "polite",
      "aria-label": this.t.log,
      tabindex: "0",
    });
    this.typing = el("div", { class: "sc-typing", hidden: true }, [
      this.t.typing,
      el("span", { "aria-hidden": "true", text: " …" }),
    ]);
    this.input = el("input", {
      class: "sc-input",
      id: this.ids.input,
      type: "text",
      autocomplete: "off",
      maxlength: "1000",
      placeholder: this.t.placeholder,
    });
    const form = el("form", { class: "sc-form", onsubmit: (e) => this.onSubmit(e) }, [
      el("label", { class: "sc-sr", for: this.ids.input, text: this.t.inputLabel }),
      this.input,
      el("button", { class: "sc-send", type: "submit", text: this.t.send }),
    ]);
    this.panel = el(
      "div",
      {
        class: "sc-panel",
        id: this.ids.panel,
        // On its own page the chat is the page's main content, not a dialog over it.
        ...(page ? { role: "main" } : { role: "dialog", "aria-modal": "false" }),
        "aria-labelledby": this.ids.title,
        hidden: true,
        onkeydown: (e) => !page && e.key === "Escape" && this.close(),
      },
      [
        el("div", { class: "sc-header" }, [
          el("div", { class: "sc-heading" }, [
            el("h2", { id: this.ids.title, text: this.config.title }),
            (this.referenceLine = el("p", { class: "sc-ref", title: this.t.referenceHint })),
          ]),
          el("button", { type: "button", text: this.t.restart, onclick: () => this.restart() }),
          ...(page
            ? []
            : [
                el("button", {
                  type: "button",
                  text: this.t.close,
                  "aria-label": this.t.closeLabel,
                  onclick: () => this.close(),
                }),
              ]),
        ]),
        this.status,
        this.log,
        this.typing,
        form,
        el("p", { class: "sc-note", text: this.t.note }),
      ],
    );
    this.root = el("div", { class: page ? "sc-root sc-page" : "sc-root", lang: "sv" }, [
      ...(page ? [] : [this.launcher]),
      this.panel,
    ]);
    this.setTheme(this.config.theme);
    shadow.append(el("style", { text: CSS }), this.root);
    parent.append(this.host);
    for (const entry of this.state.transcript) this.show(entry, true);
    this.showReference();
    this.showUnread();
    if (page || this.state.open) this.open(false);
    return this;
  }

  setTheme(theme) {
    for (const name of THEMES) this.root.classList.toggle(`sc-theme-${name}`, name === theme);
    if (!THEMES.includes(theme)) this.root.classList.add("sc-theme-default");
  }

  open(focus = true) {
    this.state.unread = 0;
    this.showUnread();
    this.panel.hidden = false;
    this.launcher.hidden = true;
    this.launcher.setAttribute("aria-expanded", "true");
    this.root.classList.add("sc-open");
    this.state.open = true;
    this.save();
    this.connect();
    this.scrollDown();
    if (focus) this.input.focus();
  }

  close() {
    this.panel.hidden = true;
    this.launcher.hidden = false;
    this.launcher.setAttribute("aria-expanded", "false");
    this.root.classList.remove("sc-open");
    this.state.open = false;
    this.save();
    this.launcher.focus();
  }

  restart() {
    this.state = { sessionId: null, transcript: [], open: true, greeted: false, unread: 0 };
    this.save();
    this.showReference();
    this.log.replaceChildren();
    this.hideTyping();
    this.confirmed = false;
    if (this.socket && this.socket.connected) this.requestSession();
    this.input.focus();
  }

  setStatus(text) {
    if (this.status.textContent !== text) this.status.textContent = text;
  }

  scrollDown() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  // --- connection ---
  connect() {
    if (this.socket) return;
    this.setStatus(this.t.connecting);
    const socket = io(this.config.botUrl, {
      path: this.config.socketPath,
      transports: this.config.transports,
      upgrade: this.config.transports.length > 1,
      reconnection: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 10000,
      timeout: 10000,
      ...(this.config.authToken ? { auth: (cb) => this.signIn(cb) } : {}),
    });
    this.socket = socket;
    socket.on("connect", () => this.requestSession());
    socket.on("session_confirm", (id) => this.onSessionConfirm(id));
    socket.on("chat_reference", (data) => this.onReference(data));
    socket.on("bot_uttered", (message) => this.receive(message));
    socket.on("disconnect", (reason) => {
      this.confirmed = false;
      this.setStatus(this.t.reconnecting);
      // The server closed the connection: socket.io does not retry by itself then.
      if (reason === "io server disconnect") setTimeout(() => socket.connect(), 1000);
    });
    socket.on("connect_error", () => this.setStatus(this.t.unreachable));
  }

  signIn(cb) {
    const { authToken } = this.config;
    Promise.resolve(typeof authToken === "function" ? authToken() : authToken)
      .then((token) => cb({ token }))
      .catch(() => cb({}));
  }

  requestSession() {
    this.confirmed = false;
    this.awaitingSession = true;
    this.socket.emit("session_request", { session_id: this.state.sessionId });
  }

  onSessionConfirm(id) {
    if (typeof id !== "string" || !id) return;
    if (id !== this.state.sessionId) {
      if (!this.awaitingSession) return;
      this.state.sessionId = id; // issued by the bot: keep it for reloads
      this.save();
    }
    this.awaitingSession = false;
    this.confirmed = true;
    this.setStatus("");
    if (!this.state.greeted && this.config.initPayload) {
      this.state.greeted = true;
      this.save();
      this.queue.unshift({ message: this.config.initPayload });
      this.showTyping();
    }
    // Sent only once the session is confirmed: replies go to the session's room.
    while (this.queue.length && this.confirmed) {
      const { message, metadata } = this.queue.shift();
      this.socket.emit("user_uttered", { message, session_id: id, ...(metadata ? { metadata } : {}) });
    }
  }

  // The conversation's chat reference (bot/chat_reference.py), sent by the bot after
  // session_confirm: shown in the header, for the user to give Servicecenter.
  onReference(data) {
    const reference = data && data.reference;
    if (typeof reference !== "string" || !/^K-[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(reference)) return;
    if (!this.confirmed || reference === this.state.reference) return;
    this.state.reference = reference;
    this.save();
    this.showReference();
  }

  showReference() {
    const reference = this.state.reference;
    this.referenceLine.replaceChildren(
      ...(reference ? [this.t.reference, el("span", { class: "sc-ref-code", text: reference })] : []),
    );
    this.referenceLine.hidden = !reference;
  }

  // --- sending ---
  onSubmit(event) {
    event.preventDefault();
    const text = this.input.value.trim();
    if (!text) return;
    this.input.value = "";
    this.send(text);
  }

  /**
   * Send `text` to the bot. Options: display (what to show instead, e.g. a
   * button's title), silent (show nothing: for payloads from custom handlers),
   * metadata (an object Rasa stores with the message, e.g. a relayed answer).
   */
  send(text, { display, silent = false, metadata } = {}) {
    const masked = maskSensitive(String(text)).text;
    if (!silent) this.record({ from: "user", text: maskSensitive(display ?? masked).text });
    this.queue.push({ message: masked, metadata });
    this.showTyping();
    this.connect();
    if (this.confirmed) this.onSessionConfirm(this.state.sessionId);
  }

  // --- receiving ---
  receive(message) {
    if (!message || typeof message !== "object") return;
    this.hideTyping();
    if (!this.state.open && !isCustom(message)) {
      // A reply while the panel is closed (e.g. the upgrade's check-back): a badge.
      this.state.unread = (this.state.unread || 0) + 1;
      this.showUnread();
    }
    this.record({ from: "bot", message });
  }

  showUnread() {
    const n = this.state.unread || 0;
    this.badge.hidden = n === 0;
    this.badge.textContent = n ? String(n) : "";
    this.launcher.setAttribute("aria-label", n ? `${this.config.launcherText} (${this.t.unread(n)})` : this.config.launcherText);
  }

  record(entry) {
    this.state.transcript.push(entry);
    this.save();
    this.show(entry, false);
  }

  show(entry, restored) {
    if (entry.from === "user") {
      this.log.append(
        el("div", { class: "sc-msg sc-user" }, [el("span", { class: "sc-sr", text: this.t.you }), entry.text]),
      );
    } else {
      for (const node of this.renderBot(entry.message, restored)) this.log.append(node);
    }
    this.scrollDown();
  }

  renderBot(message, restored) {
    const nodes = [];
    const bubble = (children) =>
      el("div", { class: "sc-msg sc-bot" }, [el("span", { class: "sc-sr", text: this.t.bot }), ...children]);
    if (isCustom(message)) {
      const handler = typeof message.type === "string" ? payloadHandler(message.type) : undefined;
      if (handler) {
        try {
          const node = handler(message, this.handlerApi(restored));
          // A handler's node is a bot bubble, unless it marks itself as part of the log's
          // furniture (class sc-plain: the feedback question).
          if (node) nodes.push(node.classList && node.classList.contains("sc-plain") ? node : bubble([node]));
        } catch (error) {
          console.error("SithsChat: payload handler failed", error);
          nodes.push(bubble([this.t.cannotShow]));
        }
        return nodes;
      }
      const text = ["text", "title", "message"].map((k) => message[k]).find((v) => typeof v === "string");
      if (text || !buttonsOf(message).length) nodes.push(bubble(text ? this.richText(text) : [this.t.cannotShow]));
    } else if (typeof message.text === "string" && message.text) {
      nodes.push(bubble(this.richText(message.text)));
    }
    if (message.attachment) nodes.push(bubble([this.renderAttachment(message.attachment)]));
    const buttons = buttonsOf(message);
    if (buttons.length) {
      nodes.push(
        el(
          "div",
          { class: "sc-buttons", role: "group", "aria-label": this.t.replies },
          buttons.map((b) =>
            el("button", {
              class: "sc-reply",
              type: "button",
              text: b.title,
              onclick: () => this.send(b.payload, { display: b.title }),
            }),
          ),
        ),
      );
    }
    return nodes;
  }

  richText(text) {
    return richText(text, { agentOrigin: this.agentOrigin });
  }

  renderAttachment(attachment) {
    const payload = attachment && attachment.payload;
    let src = safeUrl(payload && payload.src) || safeUrl(typeof attachment === "string" ? attachment : null);
    if (src && !linkAllowed(src, this.agentOrigin)) src = null;
    if (attachment && attachment.type === "image" && src) {
      return el("img", { class: "sc-image", src, alt: this.t.image });
    }
    if (src) return el("a", { href: src, target: "_blank", rel: "noopener noreferrer", text: src });
    return document.createTextNode(this.t.cannotShow);
  }

  handlerApi(restored) {
    return {
      send: (text, options) => this.send(text, options),
      el,
      richText: (text) => this.richText(text),
      config: this.config,
      sessionId: this.state.sessionId,
      restored,
    };
  }

  // --- typing indicator (Rasa sends no typing events: shown while waiting) ---
  showTyping() {
    this.typing.hidden = false;
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => {
      this.hideTyping();
      this.setStatus(this.t.noAnswer);
    }, TYPING_TIMEOUT_MS);
    this.scrollDown();
  }

  hideTyping() {
    clearTimeout(this.typingTimer);
    this.typing.hidden = true;
  }
}

let instance = null;

function init(config) {
  if (instance) return instance;
  instance = new SithsChat(config).mount();
  return instance;
}

const currentScript = document.currentScript;

function autoInit() {
  const fromScript = currentScript && currentScript.dataset.botUrl ? { botUrl: currentScript.dataset.botUrl } : {};
  const config = { ...fromScript, ...(window.SithsChatConfig || {}) };
  if (config.botUrl) init(config);
}

window.SithsChat = {
  version: VERSION,
  init,
  registerPayloadHandler,
  get instance() {
    return instance;
  },
};

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", autoInit);
else autoInit();
