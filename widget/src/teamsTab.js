// The Teams app's personal tab "Kortet" (teams/manifest.template.json): the chat as a
// page of its own, with the card relay, following Teams' theme. Teams users read the
// card here, on their own computer (the Teams chat cannot see it: bot/teams_tab.py).
// The page (widget/teams-tab.html) gives the settings in a JSON block:
//   <script type="application/json" id="siths-tab-config">
//     {"botUrl": "https://siths-bot.region.se", "cardAgentUrl": "http://127.0.0.1:8765"}
//   </script>
// Outside Teams (the same page opened in a browser) it is the chat on a page, in the
// default theme. With "tokenUrl" (a central bot with sign-in, BOT_JWT_KEY) the tab
// signs in with Teams SSO: on every (re)connect it asks Teams for the user's token and
// exchanges it at the intranet's tokenUrl for the bot's token (docs/teams.md).
// See docs/teams.md "The card tab".
import { app, authentication } from "@microsoft/teams-js";

import "./widget.js";

// teams-js waits for the Teams host's answer; outside Teams none comes.
const TEAMS_TIMEOUT_MS = 3000;
const CONFIG_ID = "siths-tab-config";

function readConfig() {
  const block = document.getElementById(CONFIG_ID);
  try {
    const config = JSON.parse(block ? block.textContent : "{}");
    return config && typeof config === "object" ? config : {};
  } catch {
    return {};
  }
}

function within(promise, ms) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error("no answer from Teams")), ms)),
  ]);
}

// The Teams context, or null when the page is not in Teams.
async function teamsContext() {
  try {
    await within(app.initialize(), TEAMS_TIMEOUT_MS);
    return await within(app.getContext(), TEAMS_TIMEOUT_MS);
  } catch {
    return null;
  }
}

// The bot's token: Teams' SSO token for this user, exchanged at the intranet's tokenUrl
// (POST with the SSO token as Bearer; the answer is {"token": "<the bot's token>"}).
function signInWith(tokenUrl) {
  return async () => {
    const sso = await within(authentication.getAuthToken(), TEAMS_TIMEOUT_MS);
    const reply = await fetch(tokenUrl, {
      method: "POST",
      headers: { Authorization: `Bearer ${sso}` },
      credentials: "omit",
    });
    if (!reply.ok) throw new Error(`sign-in refused (${reply.status})`);
    const { token } = await reply.json();
    if (typeof token !== "string" || !token) throw new Error("no token");
    return token;
  };
}

async function start() {
  const config = readConfig();
  const context = await teamsContext();
  const theme = (context && context.app && context.app.theme) || "default";
  const { tokenUrl, ...settings } = config;
  const chat = window.SithsChat.init({
    ...settings,
    ...(tokenUrl && context ? { authToken: signInWith(tokenUrl) } : {}),
    layout: "page",
    theme,
    // Its own conversation, apart from the intranet widget's in the same browser.
    storageKey: "siths-chat-teams",
  });
  document.documentElement.dataset.theme = theme;
  if (context) {
    app.registerOnThemeChangeHandler((next) => {
      chat.setTheme(next);
      document.documentElement.dataset.theme = next;
    });
    app.notifySuccess();
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
