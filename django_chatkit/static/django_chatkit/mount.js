// Mounts the chat view on every element the {% chatkit_chat %} tag renders
// (`[data-chatkit-config]`), with the page's callbacks from window.chatkitHooks[element.id]
// (set by a classic script earlier in the page). An external module, so pages with a
// strict Content-Security-Policy (no inline scripts) can use the tag.

import { mountChat } from "./chat.js";

for (const element of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-chatkit-config]"))) {
  if (/** @type {any} */ (element).chatkit) continue;
  const hooks = /** @type {any} */ (window).chatkitHooks || {};
  mountChat(element, hooks[element.id]);
}
