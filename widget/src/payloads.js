// Custom payloads: messages from the bot that are neither text, buttons nor an
// attachment (in Rasa: a response with `custom: {data: {...}}` on the socket.io
// channel arrives as that `data` object). A handler is registered per value of
// the payload's `type` field; see docs/widget.md "Custom payloads".

const handlers = new Map();

/**
 * Register `handler(payload, api)` for custom payloads with `payload.type === type`.
 * It returns a DOM node to show as the bot's message (or nothing).
 * `api` offers: send(text, {silent}), el(...), richText(text), config,
 * restored (true when re-rendering after a page reload: do not act again).
 */
export function registerPayloadHandler(type, handler) {
  if (typeof type !== "string" || !type) throw new TypeError("type must be a non-empty string");
  if (typeof handler !== "function") throw new TypeError("handler must be a function");
  handlers.set(type, handler);
  return () => handlers.delete(type);
}

export function payloadHandler(type) {
  return handlers.get(type);
}

/** Is this message a custom payload (not a text/buttons/attachment message)? */
export function isCustom(message) {
  return !("text" in message) && !("attachment" in message) && !("quick_replies" in message);
}
