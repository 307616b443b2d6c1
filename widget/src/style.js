// The widget's CSS, inside its shadow root so intranet styles cannot break it
// and it cannot break the page. Colours meet WCAG AA (4.5:1 for text); the
// widget tests measure them in the browser.
export const CSS = `
:host { all: initial; }
* { box-sizing: border-box; }
.sc-root { font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: #1a1a1a; position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; }
.sc-sr { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
button, input { font: inherit; }
:focus-visible { outline: 3px solid #b35900; outline-offset: 2px; }
.sc-launcher { background: #00527a; color: #fff; border: 0; border-radius: 24px;
  padding: 12px 20px; font-weight: 600; cursor: pointer; box-shadow: 0 2px 8px rgba(0,0,0,.3); }
.sc-launcher:hover { background: #003e5c; }
.sc-panel { width: 380px; max-width: calc(100vw - 40px); height: 560px;
  max-height: calc(100vh - 40px); background: #fff; border-radius: 12px;
  box-shadow: 0 4px 24px rgba(0,0,0,.3); display: flex; flex-direction: column; overflow: hidden; }
.sc-panel[hidden] { display: none; }
.sc-header { background: #00527a; color: #fff; padding: 10px 12px; display: flex;
  align-items: center; gap: 8px; }
.sc-heading { flex: 1; min-width: 0; }
.sc-header h2 { font-size: 17px; margin: 0; }
.sc-ref { font-size: 13px; margin: 2px 0 0; }
.sc-badge { display: inline-block; min-width: 20px; margin-left: 8px; padding: 1px 6px;
  border-radius: 10px; background: #b00020; color: #fff; font-size: 13px; font-weight: 700; }
.sc-badge[hidden] { display: none; }
.sc-feedback { display: flex; align-items: center; gap: 6px; font-size: 14px; color: #333;
  padding: 0 4px; }
.sc-feedback-button { background: #fff; border: 1px solid #6b7280; border-radius: 6px;
  padding: 2px 8px; cursor: pointer; font-size: 16px; }
.sc-feedback-button[aria-pressed="true"] { border-color: #00527a; background: #e6f0f5; }
.sc-feedback-button:disabled { cursor: default; }
.sc-ref-code { white-space: nowrap; user-select: all; font-weight: 600; }
.sc-header button { background: transparent; color: #fff; border: 1px solid #fff;
  border-radius: 6px; padding: 4px 8px; cursor: pointer; font-size: 14px; }
.sc-status { font-size: 14px; color: #4a4a4a; padding: 4px 12px; min-height: 1.6em;
  border-bottom: 1px solid #d0d7de; }
.sc-log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column;
  gap: 8px; margin: 0; list-style: none; }
.sc-msg { max-width: 85%; padding: 8px 12px; border-radius: 12px; white-space: pre-wrap;
  overflow-wrap: anywhere; }
.sc-bot { align-self: flex-start; background: #f1f3f5; color: #1a1a1a; }
.sc-user { align-self: flex-end; background: #00527a; color: #fff; }
.sc-bot a { color: #0a4a8a; text-decoration: underline; }
.sc-buttons { display: flex; flex-wrap: wrap; gap: 6px; align-self: flex-start; max-width: 100%; }
.sc-reply { background: #fff; color: #00527a; border: 2px solid #00527a; border-radius: 16px;
  padding: 6px 12px; cursor: pointer; text-align: left; }
.sc-reply:hover { background: #e6f0f5; }
.sc-image { max-width: 100%; border-radius: 8px; }
.sc-typing { align-self: flex-start; color: #4a4a4a; font-style: italic; padding: 0 4px; }
.sc-typing[hidden] { display: none; }
.sc-form { display: flex; gap: 8px; padding: 10px 12px; border-top: 1px solid #d0d7de; }
.sc-input { flex: 1; min-width: 0; padding: 8px 10px; border: 2px solid #5c6670;
  border-radius: 8px; color: #1a1a1a; background: #fff; }
.sc-send { background: #00527a; color: #fff; border: 0; border-radius: 8px;
  padding: 8px 14px; font-weight: 600; cursor: pointer; }
.sc-send:hover { background: #003e5c; }
.sc-note { font-size: 13px; color: #4a4a4a; padding: 0 12px 8px; margin: 0; }
@media (max-width: 480px) {
  .sc-root { right: 0; bottom: 0; left: auto; }
  .sc-root.sc-open { left: 0; top: 0; }
  .sc-launcher { margin: 0 12px 12px 0; }
  .sc-panel { width: 100vw; max-width: 100vw; height: 100vh; height: 100dvh;
    max-height: none; border-radius: 0; }
}
/* The chat as a page of its own (the Teams tab): fills the window, always open. */
.sc-root.sc-page { position: fixed; inset: 0; right: 0; bottom: 0; display: flex;
  justify-content: center; background: #fff; }
.sc-page .sc-panel { width: 100%; max-width: 960px; height: 100%; max-height: none;
  border-radius: 0; box-shadow: none; }
/* Teams' dark and high-contrast themes (the tab follows Teams); colours meet WCAG AA. */
.sc-theme-dark, .sc-theme-dark.sc-page { color: #f0f0f0; background: #1f1f1f; }
.sc-theme-dark .sc-panel { background: #1f1f1f; color: #f0f0f0; }
.sc-theme-dark .sc-bot { background: #2d2d2d; color: #f0f0f0; }
.sc-theme-dark .sc-bot a { color: #9fd3ff; }
.sc-theme-dark .sc-reply { background: #1f1f1f; color: #9fd3ff; border-color: #9fd3ff; }
.sc-theme-dark .sc-reply:hover { background: #2d2d2d; }
.sc-theme-dark .sc-status, .sc-theme-dark .sc-note, .sc-theme-dark .sc-typing,
.sc-theme-dark .sc-feedback { color: #d0d0d0; }
.sc-theme-dark .sc-status, .sc-theme-dark .sc-form { border-color: #4a4a4a; }
.sc-theme-dark .sc-input { background: #2d2d2d; color: #f0f0f0; border-color: #9a9a9a; }
.sc-theme-dark .sc-feedback-button { background: #2d2d2d; color: #f0f0f0; border-color: #9a9a9a; }
.sc-theme-dark :focus-visible { outline-color: #ffb86b; }
.sc-theme-contrast, .sc-theme-contrast.sc-page { color: #fff; background: #000; }
.sc-theme-contrast .sc-panel { background: #000; color: #fff; border: 2px solid #fff; }
.sc-theme-contrast .sc-header, .sc-theme-contrast .sc-user { background: #000; color: #fff;
  border: 1px solid #fff; }
.sc-theme-contrast .sc-bot { background: #000; color: #fff; border: 1px solid #fff; }
.sc-theme-contrast .sc-bot a { color: #ffff00; }
.sc-theme-contrast .sc-reply, .sc-theme-contrast .sc-send, .sc-theme-contrast .sc-feedback-button {
  background: #000; color: #ffff00; border: 2px solid #ffff00; }
.sc-theme-contrast .sc-status, .sc-theme-contrast .sc-note, .sc-theme-contrast .sc-typing,
.sc-theme-contrast .sc-feedback { color: #fff; }
.sc-theme-contrast .sc-input { background: #000; color: #fff; border-color: #fff; }
.sc-theme-contrast :focus-visible { outline-color: #1aebff; }
@media (prefers-reduced-motion: no-preference) {
  .sc-typing span[aria-hidden] { animation: sc-blink 1.2s infinite; }
}
@keyframes sc-blink { 50% { opacity: .3; } }
`;
