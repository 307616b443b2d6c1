// "Var svaret till hjälp? 👍 👎" after an FAQ answer. The bot asks for it with the custom
// payload {type: "answer_feedback"} (bot/nlg.py, socket.io only); the answer goes back as
// the silent message "/feedback_helpful" or "/feedback_not_helpful", which the bot stores
// with the conversation (the triage report counts it) and thanks for. One answer per
// question: the choice is kept on the payload, so a reload shows it and cannot send again.
import { registerPayloadHandler } from "./payloads.js";

export const FEEDBACK_PAYLOADS = { yes: "/feedback_helpful", no: "/feedback_not_helpful" };

export function registerFeedback(t) {
  registerPayloadHandler("answer_feedback", (payload, api) => {
    const choose = (choice) => {
      if (payload.given) return;
      payload.given = choice; // kept in the stored transcript with the next save
      show();
      api.send(FEEDBACK_PAYLOADS[choice], { silent: true });
    };
    const button = (choice, text, label) =>
      api.el("button", {
        type: "button",
        class: "sc-feedback-button",
        "aria-label": label,
        title: label,
        text,
        onclick: () => choose(choice),
      });
    const yes = button("yes", t.feedbackYesShort, t.feedbackYes);
    const no = button("no", t.feedbackNoShort, t.feedbackNo);
    const show = () => {
      for (const b of [yes, no]) {
        b.disabled = Boolean(payload.given);
        b.setAttribute("aria-pressed", String(payload.given === (b === yes ? "yes" : "no")));
      }
    };
    show();
    return api.el("div", { class: "sc-feedback sc-plain", role: "group", "aria-label": t.feedbackQuestion }, [
      api.el("span", { text: t.feedbackQuestion }),
      yes,
      no,
    ]);
  });
}
