// Small DOM helpers shared by the chat view's modules.

import { iconElement } from "./icons.js";

/**
 * Create an element: `attrs` keys are attributes, except `class`, `text` (textContent) and
 * `onX` (event listeners); null, undefined and false values are skipped, true is "".
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node|string|null|undefined)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2).toLowerCase(), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child != null) el.append(child);
  return el;
}

/**
 * A button showing only an icon, labelled for assistive technology and as a tooltip.
 * @param {string} icon
 * @param {string} label
 * @param {(event: Event) => void} onClick
 * @param {Record<string, any>} [extra]
 * @returns {HTMLButtonElement}
 */
export function iconButton(icon, label, onClick, extra = {}) {
  const attrs = { type: "button", class: "ck-icon-button", "aria-label": label, title: label, onClick, ...extra };
  return /** @type {HTMLButtonElement} */ (h("button", attrs, iconElement(icon)));
}

/**
 * localStorage that never throws (disabled storage: nothing is remembered).
 * @param {"get"|"set"|"remove"} op
 * @param {string} key
 * @param {string} [value]
 * @returns {string|null|undefined}
 */
export function safeStorage(op, key, value) {
  try {
    if (op === "get") return window.localStorage.getItem(key);
    if (op === "set") window.localStorage.setItem(key, value ?? "");
    else window.localStorage.removeItem(key);
    return null;
  } catch (_) {
    return null;
  }
}

/**
 * A message a person can act on, from whatever a request or a stream threw: network
 * failures and programming errors are not shown with their JavaScript names.
 * @param {unknown} err
 * @returns {string}
 */
export function humanError(err) {
  const e = /** @type {any} */ (err);
  if (e && e.name === "ChatKitError") {
    if (e.status === 0) return "Could not reach the server. Check your connection and try again.";
    if (e.status === 401 || e.status === 403) return "You are not signed in, or not allowed to do this. Reload the page and try again.";
    if (e.status === 413) return "That is too large to send.";
    if (e.status === 429) return "Too many requests right now. Wait a moment and try again.";
    if (e.status >= 500) return "The server had a problem answering. Try again in a moment.";
    return String(e.message || "The request failed.");
  }
  if (e instanceof TypeError) return "Could not reach the server. Check your connection and try again.";
  return "Something went wrong. Try again.";
}
