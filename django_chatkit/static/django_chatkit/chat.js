// The built-in chat view: header, thread list, transcript and composer on top of
// ChatKitClient. Options mirror the official ChatKit UI's config where they overlap:
//
//   import { ChatKit } from "{% static 'django_chatkit/chat.js' %}";
//   const chat = new ChatKit(document.querySelector("#chat"), {
//     api: { url: "/chatkit/" },
//     startScreen: { greeting: "Hi!", prompts: [{ label: "Lines", prompt: "Show me the lines" }] },
//     composer: { placeholder: "Ask anything", tools: TOOL_CHOICES },
//     entities: { searchUrl: "/api/search/", onTagSearch: async (q) => [], onClick: (entity) => {} },
//     threadItemActions: { feedback: true, retry: true },
//     history: { enabled: true, showRename: true, showDelete: true },
//     header: { enabled: true },
//     widgets: { onAction: async (action, widgetItem) => {} },
//     onClientEffect: (name, data) => {},
//     onClientTool: async ({ name, params }) => result,
//     theme: "light" | "dark",
//     live: { url: "/chatkit/live/" }, // the live-sync WebSocket; omit it to not follow
//   });
//
// The view is split by concern: composer.js (the message box, tags, tools, attachments),
// threads.js (history), messages.js (rendering items and their actions), stream.js (what
// a stream event changes) and live.js (the live-sync socket). This module wires them up
// and owns the conversation state: the open thread, its items and the running response.

import { ChatKitClient, ChatKitError } from "./client.js";
import { connect as connectLive } from "./live.js";
import { h, iconButton, safeStorage, humanError } from "./dom.js";
import { iconElement } from "./icons.js";
import { Composer } from "./composer.js";
import { ThreadList } from "./threads.js";
import { MessageList } from "./messages.js";
import { applyItemUpdate, interruptionNotice } from "./stream.js";

/** @typedef {import("./stream.js").ThreadItem} ThreadItem */
/** @typedef {import("./composer.js").Entity} Entity */

let instances = 0;
const NARROW = "(max-width: 720px)"; // keep in step with chat.css

/**
 * Map a search result (the entity endpoint's shape or the seed's {id, name, type}) to an Entity.
 * @param {any} item
 * @returns {Entity}
 */
export function toEntity(item) {
  const type = item.type ?? (item.data && item.data.type);
  return {
    id: String(item.id),
    title: item.title ?? item.name ?? item.label ?? String(item.id),
    icon: item.icon ?? (type === "person" ? "profile" : "document"),
    group: item.group ?? (type === "person" ? "People" : type ? "Articles" : null),
    interactive: item.interactive ?? true,
    data: item.data ?? { type, article_id: item.id },
  };
}

export class ChatKit {
  /**
   * @param {HTMLElement} element
   * @param {Record<string, any>} [options]
   */
  constructor(element, options = {}) {
    this.root = element;
    this.options = options;
    const api = options.api || {};
    /** @type {ChatKitClient} */
    this.client =
      options.client ||
      new ChatKitClient({ url: api.url, csrfToken: api.csrfToken, headers: api.headers, fetch: api.fetch, stopUrl: api.stopUrl });
    /** @type {string|null} */
    this.threadId = null;
    /** @type {any} */
    this.thread = null;
    /** @type {ThreadItem[]} */
    this.items = [];
    this.storageKey = options.storageKey ?? `django_chatkit:thread:${api.url}`;
    this.uid = `ck${(instances += 1)}`; // prefix for ids, so several views can share a page
    this._skippedRuns = new Set(); // this tab's own runs and ended ones: relayed events are skipped
    /** @type {{runId: string, items: Set<string>, midway: boolean, timer: any}|null} */
    this._following = null; // another tab's run shown from the live socket
    this._stopped = false; // the running stream was ended with Stop
    const liveUrl = options.live && options.live.url;
    this.live = liveUrl && typeof WebSocket !== "undefined" ? connectLive({ url: liveUrl, onMessage: (message) => this._onLive(message) }) : null;
    this._build();
    this.ready = this._start();
  }

  /** The transcript element (role="log"). */
  get messages() {
    return this.messageList.element;
  }

  // -- layout ---------------------------------------------------------------------------
  _build() {
    const o = this.options;
    this.root.classList.add("ck-chat", "ck-theme");
    if (o.theme) this.root.dataset.ckTheme = typeof o.theme === "string" ? o.theme : o.theme.colorScheme;
    const historyEnabled = o.history?.enabled !== false;
    this.threads = new ThreadList({
      client: this.client,
      confirmDelete: o.confirmDelete,
      showRename: o.history?.showRename,
      showDelete: o.history?.showDelete,
      onOpen: (id) => (this._closeDrawer(), this.loadThread(id).catch((err) => this._showBanner(humanError(err), "error"))),
      onNew: () => (this._closeDrawer(), this.newThread()),
      onDeleted: (id) => id === this.threadId && this.newThread(),
      onRenamed: (thread) => thread.id === this.threadId && this._setTitle(thread.title),
      onError: (message) => this._showBanner(message, "error"),
    });
    this.threads.element.id = `${this.uid}-threads`;
    this.messageList = new MessageList({
      startScreen: o.startScreen,
      threadItemActions: o.threadItemActions,
      onPrompt: (prompt) => this.sendPrompt(prompt),
      onFeedback: (item, kind) => this._feedback(item, kind),
      feedbackOf: (item) => safeStorage("get", `django_chatkit:feedback:${item.id}`) || null,
      onRetry: (item) => this.retry(item),
      onEntityClick: o.entities?.onClick ? (entity) => o.entities.onClick(entity) : undefined,
      onWidgetAction: (action, item, ctx) => this._onWidgetAction(action, item, ctx),
      onStructuredInput: (item, answers) => this._stream((opts) => this.client.addStructuredInput(this.threadId, item.id, { status: "answered", answers }, opts)),
    });
    this.composer = new Composer({
      client: this.client,
      uid: this.uid,
      composer: o.composer,
      entities: o.entities,
      toEntity,
      onSubmit: () => this.submit(),
      onStop: () => this.stop(),
      onError: (message) => this._showBanner(message, "error"),
    });
    this.titleEl = h("h2", { class: "ck-thread-title", text: "New chat" });
    this.historyButton = iconButton("sidebar", "Conversations", () => this._toggleDrawer(), {
      class: "ck-icon-button ck-history-button",
      "aria-expanded": "false",
      "aria-controls": `${this.uid}-threads`,
    });
    this.newButton = iconButton("write", "New chat", () => (this._closeDrawer(), this.newThread()), { class: "ck-icon-button ck-header-new" });
    if (!historyEnabled) this.historyButton.hidden = true;
    this.progress = h("div", { class: "ck-progress", role: "status", hidden: true });
    this.banner = h("div", { class: "ck-banner", hidden: true });
    const header = h("header", { class: "ck-header", hidden: o.header?.enabled === false }, this.historyButton, this.titleEl, this.newButton);
    const main = h("section", { class: "ck-main", "aria-label": "Conversation" }, header, this.messageList.element, this.banner, this.progress, this.composer.element);
    this.scrim = h("div", { class: "ck-scrim", hidden: true, onClick: () => this._closeDrawer() });
    if (!historyEnabled) this.threads.element.hidden = true;
    this.root.replaceChildren(this.threads.element, this.scrim, main);
    this.root.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.root.classList.contains("ck-drawer-open")) {
        this._closeDrawer();
        this.historyButton.focus();
      }
    });
    this._wireDrop();
    this._syncHistoryButton();
    if (typeof window.matchMedia === "function") window.matchMedia(NARROW).addEventListener?.("change", () => (this._closeDrawer(), this._syncHistoryButton()));
  }

  /** Narrow screens show the thread list as a drawer; wide ones beside the chat. */
  _narrow() {
    return typeof window.matchMedia === "function" && window.matchMedia(NARROW).matches;
  }

  _syncHistoryButton() {
    const shown = this._narrow() ? this.root.classList.contains("ck-drawer-open") : !this.root.classList.contains("ck-sidebar-collapsed");
    this.historyButton.setAttribute("aria-expanded", String(shown));
    this.scrim.hidden = !(this._narrow() && shown);
  }

  _toggleDrawer() {
    if (this._narrow()) {
      const open = this.root.classList.toggle("ck-drawer-open");
      this._syncHistoryButton();
      if (open) /** @type {HTMLElement|null} */ (this.threads.element.querySelector(".ck-new-thread"))?.focus();
    } else {
      this.root.classList.toggle("ck-sidebar-collapsed");
      this._syncHistoryButton();
    }
  }

  _closeDrawer() {
    if (!this.root.classList.contains("ck-drawer-open")) return;
    this.root.classList.remove("ck-drawer-open");
    this._syncHistoryButton();
  }

  /** Files dropped anywhere on the chat are attached to the message being written. */
  _wireDrop() {
    if (this.options.composer?.attachments === false) return;
    const hasFiles = (/** @type {DragEvent} */ e) => [...(e.dataTransfer?.types || [])].includes("Files");
    this.root.addEventListener("dragover", (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      this.root.classList.add("ck-dragging");
    });
    this.root.addEventListener("dragleave", (e) => {
      if (e.target === this.root || !this.root.contains(/** @type {Node} */ (e.relatedTarget))) this.root.classList.remove("ck-dragging");
    });
    this.root.addEventListener("drop", (e) => {
      this.root.classList.remove("ck-dragging");
      if (!hasFiles(e)) return;
      e.preventDefault();
      this.composer.attachFiles([...(e.dataTransfer?.files || [])]);
    });
  }

  async _start() {
    if (this.options.history?.enabled !== false) await this.threads.refresh();
    const stored = this.options.initialThread ?? safeStorage("get", this.storageKey);
    if (stored) await this.loadThread(stored).catch(() => safeStorage("remove", this.storageKey));
  }

  // -- threads ----------------------------------------------------------------------------
  refreshThreads() {
    if (this.options.history?.enabled === false) return Promise.resolve();
    return this.threads.refresh();
  }

  /** @param {string} threadId @param {string} title */
  renameThread(threadId, title) {
    return this.threads.rename(threadId, title);
  }

  /** @param {string} threadId @param {string} [title] */
  deleteThread(threadId, title) {
    return this.threads.remove(threadId, title);
  }

  newThread() {
    this._endFollowing(); // leaving another tab's run to run on, not stopping it
    // Leaving the thread drops this tab's stream; the server then does what
    // CHATKIT["DISCONNECT"] says (cancel, or finish and save the answer). Only Stop stops.
    this.client.abort();
    this.live?.follow(null);
    this.threadId = null;
    this.thread = null;
    this.items = [];
    this.messageList.clear();
    this._setTitle(null);
    this._hideBanner();
    safeStorage("remove", this.storageKey);
    this.threads.markCurrent(null);
    this.composer.focus();
  }

  /** @param {string} threadId */
  async loadThread(threadId) {
    const thread = await this.client.getThread(threadId);
    const items = await this._allItems(thread);
    this.newThread();
    this._adoptThread(thread);
    for (const item of items) this._upsertItem(item);
    this.messageList.scrollToBottom();
    this._showUnanswered();
    return thread;
  }

  /** @param {any} thread */
  async _allItems(thread) {
    const items = [...(thread.items?.data || [])];
    let page = thread.items;
    while (page && page.has_more && page.after) {
      page = await this.client.listItems(thread.id, { order: "asc", after: page.after, limit: 50 });
      items.push(...(page.data || []));
    }
    return items;
  }

  /** Show the open thread's items as stored (after another tab's run, or its checkpoints). */
  async _reloadItems() {
    const threadId = this.threadId;
    const thread = await this.client.getThread(threadId);
    const items = await this._allItems(thread);
    if (threadId !== this.threadId || this.client.streaming) return; // moved on meanwhile
    this.items = [];
    this.messageList.clear();
    for (const item of items) this._upsertItem(item);
    this._setTitle(thread.title);
    // Reloaded items are at their checkpoint: relayed deltas no longer apply to them.
    if (this._following) this._following.items.clear();
    else this._showUnanswered();
  }

  /**
   * After a stop, show the answer as the server kept it (the words it produced after the
   * client stopped listening, and its "Response stopped." marker), so the screen is the
   * same before and after a reload. The server saves it as the response ends: wait for
   * the marker a few times, then show what there is.
   */
  async _showWhatWasKept() {
    const threadId = this.threadId;
    if (!threadId) return;
    for (let attempt = 0; attempt < 10; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      if (threadId !== this.threadId || this.client.streaming) return;
      let thread;
      try {
        thread = await this.client.getThread(threadId);
      } catch {
        return; // the banner of the stopped request says enough
      }
      const answers = (thread.items?.data || []).filter((/** @type {any} */ i) => i.type === "assistant_message");
      const last = answers.at(-1);
      if ((last && interruptionNotice(last)) || attempt === 9) {
        await this._reloadItems().catch(() => {});
        return;
      }
    }
  }

  /** A thread that ends with the user's message got no answer (the turn failed): say so. */
  _showUnanswered() {
    if (this._following || this.client.streaming) return;
    const shown = this.items.filter((i) => this.messageList.nodes.has(i.id));
    const last = shown[shown.length - 1];
    if (last && last.type === "user_message") this._showBanner("This message did not get an answer.", "error", last);
  }

  /** @param {any} thread */
  _adoptThread(thread) {
    this.thread = thread;
    this.threadId = thread.id;
    this.live?.follow(thread.id);
    safeStorage("set", this.storageKey, thread.id);
    this._setTitle(thread.title);
    this.threads.markCurrent(thread.id);
  }

  /** @param {string|null|undefined} title */
  _setTitle(title) {
    this.titleEl.textContent = title || "New chat";
  }

  // -- sending ----------------------------------------------------------------------------
  /** @param {string|null} id */
  selectTool(id) {
    this.composer.selectTool(id);
  }

  /** Add an entity tag at the composer's caret. @param {Entity} entity */
  addTag(entity) {
    this.composer.addTag(entity);
  }

  get toolChoice() {
    return this.composer.toolChoice;
  }

  async submit() {
    if (this.composer.isEmpty() && !this.composer.attachments.length) return;
    if (this.client.streaming || this.composer.uploading || this._following) return;
    const message = this.composer.message();
    if (!message.content.length && !message.attachments.length) return;
    const snapshot = this.composer.snapshot();
    this.composer.clear();
    const result = await this.sendUserMessage(message);
    // Nothing reached the server: give the user their message back to try again.
    if (result && result.error && !result.sentUserMessage) this.composer.restore(snapshot);
  }

  /**
   * Send a message as the user: a string, {text, tags?, toolChoice?} or {content: [parts]}.
   * Also usable from onAction.
   * @param {string|Record<string, any>} message
   */
  async sendUserMessage(message) {
    if (typeof message === "string") message = { text: message };
    const input = { toolChoice: this.composer.toolChoice, ...message };
    this.messageList.setThinking(true);
    this.messageList.scrollToBottom();
    if (this.threadId) return this._stream((opts) => this.client.addUserMessage(this.threadId, input, opts));
    return this._stream((opts) => this.client.createThread(input, opts));
  }

  /**
   * Send a start-screen prompt: its text, or its content parts (a prefilled tag, say), with
   * its tool when it names one (for this message only).
   * @param {import("./messages.js").StartScreenPrompt} prompt
   */
  sendPrompt(prompt) {
    if (this.client.streaming || this._following) return;
    const message = Array.isArray(prompt.prompt)
      ? {
          content: prompt.prompt.map((part) =>
            part.type === "input_tag"
              ? { type: "input_tag", id: String(part.id), text: part.text, data: part.data || {}, group: part.group ?? null, interactive: Boolean(part.interactive) }
              : { type: "input_text", text: String(part.text ?? "") },
          ),
        }
      : { text: String(prompt.prompt) };
    return this.sendUserMessage(prompt.tool ? { ...message, toolChoice: prompt.tool } : message);
  }

  /**
   * Show a widget item with a new widget, in this view only (local state such as a
   * selection a client action made; the stored item is unchanged).
   * @param {string} itemId
   * @param {any} widget
   */
  updateWidget(itemId, widget) {
    const item = this._item(itemId);
    if (!item || item.type !== "widget") return;
    item.widget = widget;
    this.messageList.render(item, false);
  }

  /**
   * Ask again: the answer after `item`'s user message is replaced by a new one.
   * @param {ThreadItem} item an answer or the user message itself
   */
  async retry(item) {
    if (!this.threadId || this.client.streaming || this._following) return;
    const index = this.items.findIndex((i) => i.id === item.id);
    let at = index;
    while (at >= 0 && this.items[at].type !== "user_message") at -= 1;
    if (at < 0) return;
    const userItem = this.items[at];
    for (const later of this.items.slice(at + 1)) this.messageList.remove(later.id);
    this.items = this.items.slice(0, at + 1);
    this.messageList.setThinking(true);
    const result = await this._stream((opts) => this.client.retryAfterItem(this.threadId, userItem.id, opts));
    if (result.error) this._reloadItems().catch(() => {}); // show what the server kept
    return result;
  }

  /** Cancel the running response; the server keeps what was produced so far. */
  stop() {
    if (this._following && this.threadId) {
      // Another tab's run (or one that outlived a reload): ask the server to stop it.
      this.composer.stopButton.disabled = true;
      if (this.client.stopUrl) this.client.stopThread(this.threadId).catch(() => {});
      else this.live?.stop();
      return;
    }
    if (!this.client.streaming) return;
    this._stopped = true; // the stream ends as "stopped by the user", not "left"
    if (this.threadId) this.client.stopThread(this.threadId).catch(() => {});
    this.client.abort();
  }

  /** @param {ThreadItem} item @param {"positive"|"negative"} kind */
  async _feedback(item, kind) {
    try {
      await this.client.feedback(this.threadId, [item.id], kind);
    } catch (err) {
      this._showBanner(humanError(err), "error");
      return false;
    }
    safeStorage("set", `django_chatkit:feedback:${item.id}`, kind);
    return true;
  }

  // -- live sync: runs this tab did not start ------------------------------------------------
  /** @param {any} message */
  _onLive(message) {
    if (message.thread_id !== this.threadId) return;
    this.root.dispatchEvent(new CustomEvent("chatkit:live", { detail: message }));
    if (message.type === "subscribed") {
      // Streaming now, the running response is this tab's own (a thread it just created).
      if (message.run && this.client.streaming) this._skippedRuns.add(message.run.run_id);
      else if (message.run && !this._skippedRuns.has(message.run.run_id)) this._startFollowing(message.run.run_id, true);
      else if (!message.run && this._following) {
        this._endFollowing(); // it ended while the socket was reconnecting
        this._reloadItems().catch(() => {});
      }
    } else if (message.type === "run") {
      if (message.state === "started") {
        // The tab's own request is in flight before the server starts its run.
        if (this.client.streaming) this._skippedRuns.add(message.run_id);
        else this._startFollowing(message.run_id, false);
      } else {
        this._skippedRuns.add(message.run_id); // late batches of an ended run change nothing
        if (this._following && this._following.runId === message.run_id) {
          this._endFollowing();
          this._reloadItems().catch(() => {});
        }
      }
    } else if (message.type === "events") {
      if (this._skippedRuns.has(message.run_id)) return;
      if (!this._following && !this.client.streaming) this._startFollowing(message.run_id, true);
      if (!this._following || this._following.runId !== message.run_id) return;
      for (const event of message.events || []) this._applyFollowed(event);
    }
  }

  /** @param {string} runId @param {boolean} midway */
  _startFollowing(runId, midway) {
    if (this._following && this._following.runId === runId) return;
    // Joined midway, the items streaming now were loaded from their last checkpoint, which
    // the relayed deltas do not line up with: those are refreshed from the store instead.
    this._following = { runId, items: new Set(), midway, timer: null };
    this._hideBanner();
    this._setStreaming(true);
    this.composer.stopButton.disabled = false;
    if (midway) this._reloadItems().catch(() => {});
  }

  /** @param {any} event */
  _applyFollowed(event) {
    const following = this._following;
    if (!following) return;
    if (event.type === "thread.item.added") following.items.add(event.item.id);
    if (event.type === "thread.item.updated" && !following.items.has(event.item_id)) {
      if (!following.timer) {
        following.timer = setTimeout(() => {
          following.timer = null;
          if (this._following === following) this._reloadItems().catch(() => {});
        }, 500);
      }
      return;
    }
    this.applyEvent(event);
  }

  _endFollowing() {
    if (!this._following) return;
    clearTimeout(this._following.timer);
    this._following = null;
    this._setStreaming(false);
    this._setProgress(null);
  }

  /**
   * Run one streaming request, applying its events. Resolves with {aborted} or {error};
   * `sentUserMessage` tells whether the server got as far as storing the user's message.
   * @param {(opts: {onEvent: (event: any) => void}) => Promise<any>} start
   */
  async _stream(start) {
    this._hideBanner();
    this._setStreaming(true);
    this._stopped = false;
    let sentUserMessage = false;
    let result;
    try {
      result = await start({
        onEvent: (event) => {
          if (event.type === "thread.item.added" || event.type === "thread.item.done") sentUserMessage ||= event.item?.type === "user_message";
          this.applyEvent(event);
        },
      });
    } catch (err) {
      this._showBanner(humanError(err), "error");
      if (!(err instanceof ChatKitError)) console.warn("django_chatkit:", err);
      return { error: err, sentUserMessage };
    } finally {
      this._setStreaming(false);
      this._setProgress(null);
      this.messageList.endStreaming();
    }
    if (result && result.aborted) {
      if (this._stopped) {
        await this._showWhatWasKept();
        this.root.dispatchEvent(new CustomEvent("chatkit:stopped"));
      }
      this._stopped = false;
    } else {
      await this._answerClientTool();
    }
    this.refreshThreads();
    return { ...result, sentUserMessage };
  }

  /** @param {boolean} on */
  _setStreaming(on) {
    this.root.classList.toggle("ck-is-streaming", on);
    this.composer.setStreaming(on);
  }

  async _answerClientTool() {
    const pending = this.items.find((i) => i.type === "client_tool_call" && i.status === "pending");
    if (!pending || !this.options.onClientTool) return;
    pending.status = "completed";
    let result;
    try {
      result = await this.options.onClientTool({ name: pending.name, params: pending.arguments });
    } catch (err) {
      result = { error: String(err && err.message ? err.message : err) };
    }
    await this._stream((opts) => this.client.addClientToolOutput(this.threadId, result ?? null, opts));
  }

  // -- stream events ----------------------------------------------------------------------
  /** Apply one ThreadStreamEvent to the view. @param {any} event */
  applyEvent(event) {
    switch (event.type) {
      case "thread.created":
      case "thread.updated":
        this._adoptThread(event.thread);
        if (event.type === "thread.created") this.refreshThreads();
        else this.threads.update(event.thread);
        break;
      case "thread.item.added":
        this._setProgress(null);
        this._upsertItem(event.item, true);
        break;
      case "thread.item.done":
        this._setProgress(null);
        this._upsertItem(event.item, false);
        break;
      case "thread.item.replaced":
        this._upsertItem(event.item, false);
        break;
      case "thread.item.removed":
        this.items = this.items.filter((i) => i.id !== event.item_id);
        this.messageList.remove(event.item_id);
        break;
      case "thread.item.updated": {
        const item = this.items.find((i) => i.id === event.item_id);
        if (item && event.update && applyItemUpdate(item, event.update)) this.messageList.render(item, true);
        break;
      }
      case "stream_options":
        this.composer.stopButton.disabled = event.stream_options && event.stream_options.allow_cancel === false;
        break;
      case "progress_update":
        this._setProgress(event.text, event.icon);
        break;
      case "client_effect":
        this.options.onClientEffect?.(event.name, event.data || {});
        this.root.dispatchEvent(new CustomEvent("chatkit:effect", { detail: { name: event.name, data: event.data || {} } }));
        break;
      case "notice":
        this._showBanner(event.title ? `${event.title}: ${event.message}` : event.message, event.level || "info");
        break;
      case "error": {
        this.messageList.setThinking(false);
        const lastUser = event.allow_retry ? [...this.items].reverse().find((i) => i.type === "user_message") : null;
        this._showBanner(event.message || "Something went wrong.", "error", lastUser);
        break;
      }
      default:
        break;
    }
    this.options.onEvent?.(event);
  }

  /** @param {ThreadItem} item @param {boolean} [streaming] */
  _upsertItem(item, streaming = false) {
    const index = this.items.findIndex((i) => i.id === item.id);
    if (index === -1) this.items.push(item);
    else this.items[index] = item;
    this.messageList.render(item, streaming);
  }

  /** @param {string} id */
  _item(id) {
    return this.items.find((i) => i.id === id);
  }

  /** @param {any} action @param {ThreadItem} item @param {any} ctx */
  async _onWidgetAction(action, item, ctx) {
    const current = this._item(item.id) || item;
    if (action.handler === "client") {
      const clientAction = { type: action.type, payload: action.payload };
      this.root.dispatchEvent(new CustomEvent("chatkit:action", { detail: { action: clientAction, item: current } }));
      const handler = this.options.widgets?.onAction;
      if (handler) await handler(clientAction, current);
      return;
    }
    if (!this.threadId) return;
    ctx.setLoading(true);
    try {
      if (action.streaming === false) {
        const result = await this.client.syncCustomAction(this.threadId, current.id, action);
        if (result && result.updated_item) this._upsertItem(result.updated_item);
      } else {
        await this._stream((opts) => this.client.customAction(this.threadId, current.id, action, opts));
      }
    } catch (err) {
      this._showBanner(humanError(err), "error");
    } finally {
      if (ctx.element.isConnected) ctx.setLoading(false);
    }
  }

  // -- status lines -----------------------------------------------------------------------
  /** @param {string|null} text @param {string} [icon] */
  _setProgress(text, icon) {
    this.progress.replaceChildren();
    this.progress.hidden = !text;
    if (!text) return;
    if (icon) this.progress.append(iconElement(icon));
    this.progress.append(h("span", { text }));
  }

  /**
   * A dismissible banner; with `retryItem` (a user message) it offers Retry.
   * @param {string} message
   * @param {string} [level]
   * @param {ThreadItem|null} [retryItem]
   */
  _showBanner(message, level = "info", retryItem = null) {
    this.banner.hidden = false;
    this.banner.dataset.level = level;
    const urgent = level === "error" || level === "danger";
    this.banner.setAttribute("role", urgent ? "alert" : "status");
    this.banner.replaceChildren(h("span", { class: "ck-banner-text", text: message }));
    if (retryItem) {
      this.banner.append(h("button", { type: "button", class: "ck-retry", text: "Retry", onClick: () => this.retry(retryItem) }));
    }
    this.banner.append(iconButton("close", "Dismiss", () => this._hideBanner(), { class: "ck-icon-button ck-banner-close" }));
  }

  _hideBanner() {
    this.banner.hidden = true;
    this.banner.replaceChildren();
  }
}

/**
 * Mount the chat view on `element` using the JSON config in its data-chatkit-config
 * attribute (written by the {% chatkit_chat %} template tag) plus page callbacks in
 * `hooks` ({widgets: {onAction}, entities: {onClick, onTagSearch}, onClientEffect,
 * onClientTool, ...}). The view is stored as `element.chatkit` and announced with a
 * `chatkit:ready` event.
 * @param {HTMLElement} element
 * @param {Record<string, any>} [hooks]
 */
export function mountChat(element, hooks = {}) {
  const config = JSON.parse(element.dataset.chatkitConfig || "{}");
  hooks = hooks || {};
  if (element.dataset.chatkitHeight) element.style.height = element.dataset.chatkitHeight;
  const options = {
    ...config,
    ...hooks,
    widgets: { ...(config.widgets || {}), ...(hooks.widgets || {}) },
    entities: config.entities || hooks.entities ? { ...(config.entities || {}), ...(hooks.entities || {}) } : undefined,
    composer: { ...(config.composer || {}), ...(hooks.composer || {}) },
    startScreen: { ...(config.startScreen || {}), ...(hooks.startScreen || {}) },
  };
  const view = new ChatKit(element, options);
  /** @type {any} */ (element).chatkit = view;
  view.ready.finally(() => element.dispatchEvent(new CustomEvent("chatkit:ready", { detail: view })));
  return view;
}
