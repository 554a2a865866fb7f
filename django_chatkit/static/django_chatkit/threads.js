// The thread list (history): open, rename and delete threads. On narrow screens it is a
// drawer over the chat, opened from the header's history button.

import { h, iconButton, humanError } from "./dom.js";
import { iconElement } from "./icons.js";

/**
 * @typedef {{id: string, title?: string|null, created_at?: string}} ThreadMeta
 */

export class ThreadList {
  /**
   * @param {{
   *   client: import("./client.js").ChatKitClient,
   *   onOpen: (threadId: string) => void,
   *   onNew: () => void,
   *   onDeleted: (threadId: string) => void,
   *   onRenamed: (thread: ThreadMeta) => void,
   *   onError: (message: string) => void,
   *   confirmDelete?: boolean,
   *   showRename?: boolean,
   *   showDelete?: boolean,
   * }} options
   */
  constructor(options) {
    this.options = options;
    /** @type {string|null} */
    this.current = null;
    this.renaming = false; // a title is being edited: the list is not redrawn under it
    this.list = h("ul", { class: "ck-thread-list", "aria-label": "Conversations" });
    this.element = h(
      "nav",
      { class: "ck-sidebar", "aria-label": "Threads" },
      h("button", { type: "button", class: "ck-new-thread", onClick: () => options.onNew() }, iconElement("write"), h("span", { text: "New chat" })),
      this.list,
    );
  }

  async refresh() {
    let page;
    try {
      page = await this.options.client.listThreads({ limit: 50 });
    } catch (err) {
      this.options.onError(humanError(err));
      return;
    }
    if (this.renaming) return; // the rename refreshes the list when it ends
    this._keepingFocus(() => {
      this.list.replaceChildren();
      for (const thread of page.data || []) this.list.append(this._entry(thread));
    });
  }

  /**
   * Redraws part of the list without losing a keyboard user's place: the control that had
   * focus (open, rename or delete of one thread) has it again after the redraw.
   * @param {() => void} redraw
   */
  _keepingFocus(redraw) {
    const active = document.activeElement;
    const li = active instanceof HTMLElement && this.list.contains(active) ? active.closest("li") : null;
    const role = li && ["ck-thread-open", "ck-thread-rename", "ck-thread-delete"].find((c) => active?.classList.contains(c));
    redraw();
    if (!li || !role) return;
    const again = this.list.querySelector(`[data-thread-id="${CSS.escape(li.dataset.threadId || "")}"] .${role}`);
    if (again instanceof HTMLElement) again.focus();
  }

  /** @param {string|null} threadId */
  markCurrent(threadId) {
    this.current = threadId;
    for (const li of /** @type {HTMLElement[]} */ ([...this.list.children])) {
      const btn = li.querySelector(".ck-thread-open");
      if (btn) btn.toggleAttribute("aria-current", li.dataset.threadId === threadId);
    }
  }

  /** @param {ThreadMeta} thread */
  update(thread) {
    const li = this.list.querySelector(`[data-thread-id="${CSS.escape(thread.id)}"]`);
    if (li && !this.renaming) this._keepingFocus(() => li.replaceWith(this._entry(thread)));
  }

  /** @param {ThreadMeta} thread */
  _entry(thread) {
    const title = thread.title || "Untitled chat";
    const open = h("button", { type: "button", class: "ck-thread-open", text: title, onClick: () => this.options.onOpen(thread.id) });
    if (thread.id === this.current) open.setAttribute("aria-current", "true");
    const li = h("li", { class: "ck-thread", "data-thread-id": thread.id }, open);
    if (this.options.showRename !== false) {
      li.append(iconButton("write-alt", `Rename ${title}`, () => this._renameInline(li, thread), { class: "ck-icon-button ck-thread-rename" }));
    }
    if (this.options.showDelete !== false) {
      li.append(iconButton("trash", `Delete ${title}`, () => this.remove(thread.id, title), { class: "ck-icon-button ck-thread-delete" }));
    }
    return li;
  }

  /** @param {HTMLElement} li @param {ThreadMeta} thread */
  _renameInline(li, thread) {
    const input = /** @type {HTMLInputElement} */ (h("input", { type: "text", class: "ck-rename-input", "aria-label": "Thread title", value: thread.title || "" }));
    let done = false;
    const finish = async (/** @type {boolean} */ save) => {
      if (done) return; // Enter, then the blur caused by re-rendering the list
      done = true;
      this.renaming = false;
      if (save && input.value.trim()) await this.rename(thread.id, input.value.trim());
      else await this.refresh();
      const again = /** @type {HTMLElement|null} */ (this.list.querySelector(`[data-thread-id="${CSS.escape(thread.id)}"] .ck-thread-open`));
      again?.focus();
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") (e.preventDefault(), finish(true));
      if (e.key === "Escape") finish(false);
    });
    input.addEventListener("blur", () => finish(true), { once: true });
    this.renaming = true;
    li.replaceChildren(input);
    input.focus();
    input.select();
  }

  /** @param {string} threadId @param {string} title */
  async rename(threadId, title) {
    try {
      const thread = await this.options.client.updateThread(threadId, title);
      this.options.onRenamed(thread);
    } catch (err) {
      this.options.onError(humanError(err));
    }
    await this.refresh();
  }

  /** @param {string} threadId @param {string} [title] */
  async remove(threadId, title = "this conversation") {
    if (this.options.confirmDelete !== false && !window.confirm(`Delete ${title}?`)) return;
    try {
      await this.options.client.deleteThread(threadId);
    } catch (err) {
      this.options.onError(humanError(err));
      return;
    }
    this.options.onDeleted(threadId);
    await this.refresh();
  }
}

