// The Teams app's personal tab "Kortet" (teams/manifest.template.json): the chat as a
// page of its own, with the card relay, following Teams' theme. Teams users read the
// card here, on their own computer (the Teams chat cannot see it: bot/teams_tab.py).
// The page (widget/teams-tab.html) gives the settings in a JSON block:
//   <script type="application/json" id="siths-tab-config">
//     {"botUrl": "https://siths-bot.region.se", "cardAgentUrl": "http://127.0.0.1:8765"}
//   </script>
// Outside Teams (the same page opened in a browser) it is the chat on a page, in the
// default theme. See docs/teams.md "The card tab".
import { app } from "@microsoft/teams-js";

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

async function start() {
  const config = readConfig();
  const context = await teamsContext();
  const theme = (context && context.app && context.app.theme) || "default";
  const chat = window.SithsChat.init({
    ...config,
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
