// The built-in chat view: thread list, messages, widgets and composer on top of
// ChatKitClient. Options mirror the official ChatKit UI's config where they overlap:
//
//   import { ChatKit } from "/static/django_chatkit/chat.js";
//   const chat = new ChatKit(document.querySelector("#chat"), {
//     api: { url: "/chatkit/" },
//     composer: { placeholder: "Ask anything", tools: TOOL_CHOICES },
//     entities: { searchUrl: "/api/search/", onClick: (entity) => {} },
//     widgets: { onAction: async (action, widgetItem) => {} },
//     onClientEffect: (name, data) => {},
//     onClientTool: async ({ name, params }) => result,
//     theme: "light" | "dark",
//     live: { url: "/chatkit/live/" }, // the live-sync WebSocket; omit it to not follow
//   });
//
// With `live`, the open thread is followed over the app's WebSocket
// (django_chatkit.transport.live, through live.js): a response started in another tab or
// before a reload is shown as it streams, can be stopped, and is reloaded when it ends.
// Each socket message about the open thread is also a `chatkit:live` event on the element.

import { ChatKitClient, ChatKitError } from "./client.js";
import { renderWidget, findComponent, replaceComponent } from "./widgets.js";
import { renderMarkdown } from "./markdown.js";
import { iconElement } from "./icons.js";
import "./live.js"; // defines window.DjangoChatKitLive

let instances = 0;

function h(tag, attrs = {}, ...children) {
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

function iconButton(icon, label, onClick, extra = {}) {
  return h("button", { type: "button", class: "ck-icon-button", "aria-label": label, title: label, onClick, ...extra }, iconElement(icon));
}

/** Map a search result (the entity endpoint's shape or the seed's {id, name, type}) to an Entity. */
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
  constructor(element, options = {}) {
    this.root = element;
    this.options = options;
    const api = options.api || {};
    this.client =
      options.client ||
      new ChatKitClient({ url: api.url, csrfToken: api.csrfToken, headers: api.headers, fetch: api.fetch, stopUrl: api.stopUrl });
    this.threadId = null;
    this.thread = null;
    this.items = [];
    this.itemNodes = new Map();
    this.tags = [];
    this.attachments = [];
    this.toolChoice = null;
    this.storageKey = options.storageKey ?? `django_chatkit:thread:${api.url}`;
    this.uid = `ck${(instances += 1)}`; // prefix for ids, so several views can share a page
    this._skippedRuns = new Set(); // this tab's own runs and ended ones: relayed events are skipped
    this._following = null; // {runId, items} of another tab's run shown from the live socket
    const liveUrl = options.live && options.live.url;
    this.live =
      liveUrl && typeof WebSocket !== "undefined" && window.DjangoChatKitLive
        ? window.DjangoChatKitLive.connect({ url: liveUrl, onMessage: (message) => this._onLive(message) })
        : null;
    this._build();
    this.ready = this._start();
  }

  // -- layout ---------------------------------------------------------------------------
  _build() {
    const o = this.options;
    this.root.classList.add("ck-chat", "ck-theme");
    if (o.theme) this.root.dataset.ckTheme = o.theme;
    this.threadList = h("ul", { class: "ck-thread-list", "aria-label": "Conversations" });
    this.sidebar = h(
      "nav",
      { class: "ck-sidebar", "aria-label": "Threads" },
      h("button", { type: "button", class: "ck-new-thread", onClick: () => this.newThread() }, iconElement("write"), h("span", { text: "New chat" })),
      this.threadList,
    );
    this.titleEl = h("h2", { class: "ck-thread-title", text: "New chat" });
    this.messages = h("div", { class: "ck-messages", role: "log", "aria-live": "polite", "aria-label": "Messages" });
    this.progress = h("div", { class: "ck-progress", role: "status", hidden: true });
    this.banner = h("div", { class: "ck-banner", hidden: true });

    this.tagBar = h("div", { class: "ck-tags", "aria-label": "Tagged entities" });
    this.attachmentBar = h("div", { class: "ck-tags ck-attachments", "aria-label": "Attachments" });
    this.fileInput = h("input", { type: "file", class: "ck-visually-hidden", "aria-label": "Attach files", multiple: true, tabindex: "-1" });
    this.fileInput.addEventListener("change", () => this._attachFiles([...this.fileInput.files]));
    this.attachButton = iconButton("paperclip", "Attach a file", () => this.fileInput.click(), { class: "ck-icon-button ck-attach" });
    if (o.composer?.attachments === false) this.attachButton.hidden = true;
    this.input = h("textarea", {
      class: "ck-composer-input",
      rows: "1",
      "aria-label": "Message",
      placeholder: o.composer?.placeholder || "Message",
      "aria-autocomplete": "list",
      "aria-controls": `${this.uid}-mentions`,
    });
    this.mentionList = h("ul", { class: "ck-mentions", role: "listbox", id: `${this.uid}-mentions`, hidden: true, "aria-label": "Suggestions" });
    this.sendButton = iconButton("send", "Send message", () => this.submit(), { class: "ck-icon-button ck-send" });
    this.stopButton = iconButton("stop", "Stop", () => this.stop(), { class: "ck-icon-button ck-stop", hidden: true });
    this.toolBar = h("div", { class: "ck-tools", role: "group", "aria-label": "Tools" });
    for (const tool of o.composer?.tools || []) {
      const btn = h(
        "button",
        { type: "button", class: "ck-tool", "aria-pressed": "false", "data-tool": tool.id, title: tool.label, onClick: () => this.selectTool(tool.id) },
        tool.icon ? iconElement(tool.icon) : null,
        h("span", { text: tool.shortLabel || tool.label }),
      );
      this.toolBar.append(btn);
    }
    const form = h(
      "form",
      { class: "ck-composer", onSubmit: (e) => (e.preventDefault(), this.submit()) },
      this.tagBar,
      this.attachmentBar,
      this.mentionList,
      h("div", { class: "ck-composer-row" }, this.attachButton, this.fileInput, this.input, this.sendButton, this.stopButton),
      this.toolBar,
    );
    this.input.addEventListener("keydown", (e) => this._onKeyDown(e));
    this.input.addEventListener("input", () => this._onInput());
    const main = h("section", { class: "ck-main", "aria-label": "Conversation" }, h("header", { class: "ck-header" }, this.titleEl), this.messages, this.banner, this.progress, form);
    if (o.history?.enabled === false) this.sidebar.hidden = true;
    this.root.replaceChildren(this.sidebar, main);
  }

  async _start() {
    await this.refreshThreads();
    const stored = this.options.initialThread ?? safeStorage("get", this.storageKey);
    if (stored) await this.loadThread(stored).catch(() => safeStorage("remove", this.storageKey));
  }

  // -- threads ----------------------------------------------------------------------------
  async refreshThreads() {
    if (this.options.history?.enabled === false) return;
    let page;
    try {
      page = await this.client.listThreads({ limit: 50 });
    } catch (err) {
      this._showBanner(err.message, "error");
      return;
    }
    this.threadList.replaceChildren();
    for (const thread of page.data || []) this.threadList.append(this._threadEntry(thread));
  }

  _threadEntry(thread) {
    const title = thread.title || "Untitled chat";
    const open = h("button", { type: "button", class: "ck-thread-open", text: title, onClick: () => this.loadThread(thread.id) });
    if (thread.id === this.threadId) open.setAttribute("aria-current", "true");
    const li = h(
      "li",
      { class: "ck-thread", "data-thread-id": thread.id },
      open,
      iconButton("write-alt", `Rename ${title}`, () => this._renameInline(li, thread), { class: "ck-icon-button ck-thread-rename" }),
      iconButton("trash", `Delete ${title}`, () => this.deleteThread(thread.id, title), { class: "ck-icon-button ck-thread-delete" }),
    );
    return li;
  }

  _renameInline(li, thread) {
    const input = h("input", { type: "text", class: "ck-rename-input", "aria-label": "Thread title", value: thread.title || "" });
    let done = false;
    const finish = async (save) => {
      if (done) return; // Enter, then the blur caused by re-rendering the list
      done = true;
      if (save && input.value.trim()) await this.renameThread(thread.id, input.value.trim());
      else await this.refreshThreads();
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") (e.preventDefault(), finish(true));
      if (e.key === "Escape") finish(false);
    });
    input.addEventListener("blur", () => finish(true), { once: true });
    li.replaceChildren(input);
    input.focus();
    input.select();
  }

  async renameThread(threadId, title) {
    const thread = await this.client.updateThread(threadId, title);
    if (threadId === this.threadId) this._setTitle(thread.title);
    await this.refreshThreads();
    return thread;
  }

  async deleteThread(threadId, title = "this conversation") {
    if (this.options.confirmDelete !== false && !window.confirm(`Delete ${title}?`)) return;
    await this.client.deleteThread(threadId);
    if (threadId === this.threadId) this.newThread();
    await this.refreshThreads();
  }

  newThread() {
    this._endFollowing(); // leaving another tab's run to run on, not stopping it
    this.stop();
    this.live?.follow(null);
    this.threadId = null;
    this.thread = null;
    this.items = [];
    this.itemNodes.clear();
    this.messages.replaceChildren();
    this._setTitle(null);
    this._hideBanner();
    safeStorage("remove", this.storageKey);
    this._markCurrent();
    this.input.focus();
  }

  async loadThread(threadId) {
    const thread = await this.client.getThread(threadId);
    const items = await this._allItems(thread);
    this.newThread();
    this._adoptThread(thread);
    for (const item of items) this._upsertItem(item);
    return thread;
  }

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
    this.itemNodes.clear();
    this.messages.replaceChildren();
    for (const item of items) this._upsertItem(item);
    this._setTitle(thread.title);
    // Reloaded items are at their checkpoint: relayed deltas no longer apply to them.
    if (this._following) this._following.items.clear();
  }

  _adoptThread(thread) {
    this.thread = thread;
    this.threadId = thread.id;
    this.live?.follow(thread.id);
    safeStorage("set", this.storageKey, thread.id);
    this._setTitle(thread.title);
    this._markCurrent();
  }

  _setTitle(title) {
    this.titleEl.textContent = title || "New chat";
  }

  _markCurrent() {
    for (const li of this.threadList.children) {
      const btn = li.querySelector(".ck-thread-open");
      if (btn) btn.toggleAttribute("aria-current", li.dataset.threadId === this.threadId);
    }
  }

  // -- sending ----------------------------------------------------------------------------
  selectTool(id) {
    this.toolChoice = this.toolChoice === id ? null : id;
    const tools = this.options.composer?.tools || [];
    for (const btn of this.toolBar.querySelectorAll(".ck-tool")) {
      btn.setAttribute("aria-pressed", String(btn.dataset.tool === this.toolChoice));
    }
    const tool = tools.find((t) => t.id === this.toolChoice);
    this.input.placeholder = (tool && tool.placeholderOverride) || this.options.composer?.placeholder || "Message";
  }

  async submit() {
    const text = this.input.value.trim();
    if (!text && !this.tags.length && !this.attachments.length) return;
    if (this.client.streaming || this._uploading || this._following) return;
    const message = { text, tags: this.tags, toolChoice: this.toolChoice, attachments: this.attachments.map((a) => a.id) };
    this.input.value = "";
    this.tags = [];
    this.tagBar.replaceChildren();
    this.attachments = [];
    this.attachmentBar.replaceChildren();
    this._closeMentions();
    await this.sendUserMessage(message);
  }

  /** Send a message as the user: {text, tags?, toolChoice?}. Also usable from onAction. */
  async sendUserMessage(message) {
    if (typeof message === "string") message = { text: message };
    const input = { toolChoice: this.toolChoice, ...message };
    if (this.threadId) return this._stream((opts) => this.client.addUserMessage(this.threadId, input, opts));
    return this._stream((opts) => this.client.createThread(input, opts));
  }

  /** Cancel the running response; the server keeps what was produced so far. */
  stop() {
    if (this._following && this.threadId) {
      // Another tab's run (or one that outlived a reload): ask the server to stop it.
      this.stopButton.disabled = true;
      if (this.client.stopUrl) this.client.stopThread(this.threadId).catch(() => {});
      else this.live?.stop();
      return;
    }
    if (!this.client.streaming) return;
    if (this.threadId) this.client.stopThread(this.threadId).catch(() => {});
    this.client.abort();
  }

  // -- live sync: runs this tab did not start ------------------------------------------------
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

  _startFollowing(runId, midway) {
    if (this._following && this._following.runId === runId) return;
    // Joined midway, the items streaming now were loaded from their last checkpoint, which
    // the relayed deltas do not line up with: those are refreshed from the store instead.
    this._following = { runId, items: new Set(), midway, timer: null };
    this._setStreaming(true);
    this.stopButton.disabled = false;
    if (midway) this._reloadItems().catch(() => {});
  }

  _applyFollowed(event) {
    const following = this._following;
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

  async _stream(start) {
    this._hideBanner();
    this._setStreaming(true);
    let result;
    try {
      result = await start({ onEvent: (event) => this.applyEvent(event) });
    } catch (err) {
      this._showBanner(err instanceof ChatKitError ? err.message : String(err), "error");
      return { error: err };
    } finally {
      this._setStreaming(false);
      this._setProgress(null);
    }
    if (result && result.aborted) {
      for (const node of this.messages.querySelectorAll(".ck-streaming-item")) node.classList.remove("ck-streaming-item");
      this.root.dispatchEvent(new CustomEvent("chatkit:stopped"));
    } else {
      await this._answerClientTool();
    }
    this.refreshThreads();
    return result;
  }

  _setStreaming(on) {
    this.root.classList.toggle("ck-is-streaming", on);
    this.sendButton.hidden = on;
    this.stopButton.hidden = !on;
    if (!on) this.stopButton.disabled = false;
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
  /** Apply one ThreadStreamEvent to the view. */
  applyEvent(event) {
    switch (event.type) {
      case "thread.created":
      case "thread.updated":
        this._adoptThread(event.thread);
        if (event.type === "thread.created") this.refreshThreads();
        else this._updateThreadEntry(event.thread);
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
        this._removeItem(event.item_id);
        break;
      case "thread.item.updated":
        this._applyUpdate(event.item_id, event.update);
        break;
      case "stream_options":
        this.stopButton.disabled = event.stream_options && event.stream_options.allow_cancel === false;
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
      case "error":
        this._showBanner(event.message || "Something went wrong.", "error", event.allow_retry);
        break;
      default:
        break;
    }
    this.options.onEvent?.(event);
  }

  _updateThreadEntry(thread) {
    const li = this.threadList.querySelector(`[data-thread-id="${CSS.escape(thread.id)}"]`);
    if (li) li.replaceWith(this._threadEntry(thread));
  }

  _item(id) {
    return this.items.find((i) => i.id === id);
  }

  _upsertItem(item, streaming = false) {
    const index = this.items.findIndex((i) => i.id === item.id);
    if (index === -1) this.items.push(item);
    else this.items[index] = item;
    this._renderItem(item, streaming);
  }

  _removeItem(id) {
    this.items = this.items.filter((i) => i.id !== id);
    const node = this.itemNodes.get(id);
    if (node) node.remove();
    this.itemNodes.delete(id);
  }

  _applyUpdate(itemId, update) {
    const item = this._item(itemId);
    if (!item || !update) return;
    switch (update.type) {
      case "assistant_message.content_part.added":
      case "assistant_message.content_part.done":
        item.content = item.content || [];
        item.content[update.content_index] = update.content;
        break;
      case "assistant_message.content_part.text_delta": {
        item.content = item.content || [];
        const part = item.content[update.content_index] || (item.content[update.content_index] = { type: "output_text", text: "", annotations: [] });
        part.text = (part.text || "") + update.delta;
        break;
      }
      case "assistant_message.content_part.annotation_added": {
        const part = item.content?.[update.content_index];
        if (part) {
          part.annotations = part.annotations || [];
          part.annotations[update.annotation_index] = update.annotation;
        }
        break;
      }
      case "widget.root.updated":
        item.widget = update.widget;
        break;
      case "widget.component.updated":
        replaceComponent(item.widget, update.component_id, update.component);
        break;
      case "widget.streaming_text.value_delta": {
        const component = findComponent(item.widget, update.component_id);
        if (component) {
          component.value = (component.value || "") + update.delta;
          component.streaming = !update.done;
        }
        break;
      }
      case "workflow.task.added":
      case "workflow.task.updated":
        item.workflow = item.workflow || { type: "custom", tasks: [] };
        item.workflow.tasks[update.task_index] = update.task;
        break;
      case "generated_image.updated":
        item.image = update.image;
        item.progress = update.progress;
        break;
      default:
        return;
    }
    this._renderItem(item, true);
  }

  // -- item rendering ---------------------------------------------------------------------
  _renderItem(item, streaming) {
    const node = this._itemNode(item);
    if (!node) return;
    node.dataset.itemId = item.id;
    node.dataset.itemType = item.type;
    if (streaming) node.classList.add("ck-streaming-item");
    const old = this.itemNodes.get(item.id);
    if (old) old.replaceWith(node);
    else this.messages.append(node);
    this.itemNodes.set(item.id, node);
    this.messages.scrollTop = this.messages.scrollHeight;
  }

  _itemNode(item) {
    switch (item.type) {
      case "user_message":
        return this._userMessage(item);
      case "assistant_message":
        return this._assistantMessage(item);
      case "widget":
        return this._widgetItem(item);
      case "workflow":
        return this._workflow(item);
      case "task":
        return h("div", { class: "ck-item ck-task" }, this._task(item.task));
      case "generated_image":
        return h("figure", { class: "ck-item ck-generated-image" }, item.image ? h("img", { src: item.image.url, alt: "Generated image" }) : h("span", { text: "Generating image…" }));
      case "structured_input":
        return this._structuredInput(item);
      case "client_tool_call":
        return h("div", { class: "ck-item ck-tool-call", text: `Tool: ${item.name}${item.status === "completed" ? " ✓" : "…"}` });
      default:
        return null; // end_of_turn and hidden context items are not shown
    }
  }

  _userMessage(item) {
    const bubble = h("div", { class: "ck-bubble" });
    if (item.quoted_text) bubble.append(h("blockquote", { class: "ck-quote", text: item.quoted_text }));
    for (const part of item.content || []) {
      if (part.type === "input_tag") {
        const chip = h("span", { class: "ck-tag", "data-entity-id": part.id }, iconElement(part.data?.type === "person" ? "profile" : "document"), h("span", { text: part.text }));
        if (part.interactive && this.options.entities?.onClick) {
          chip.setAttribute("role", "button");
          chip.tabIndex = 0;
          chip.addEventListener("click", () => this.options.entities.onClick({ id: part.id, title: part.text, data: part.data, group: part.group }));
        }
        bubble.append(chip, " ");
      } else if (part.type === "input_text") {
        bubble.append(h("span", { class: "ck-user-text", text: part.text }));
      }
    }
    for (const att of item.attachments || []) {
      const preview = att.type === "image" && att.preview_url && /^(https?:|\/)/.test(att.preview_url) ? att.preview_url : null;
      bubble.append(
        h("span", { class: "ck-attachment", "data-attachment-id": att.id }, preview ? h("img", { src: preview, alt: att.name }) : iconElement("document"), h("span", { text: att.name })),
      );
    }
    return h("div", { class: "ck-item ck-user-message" }, bubble);
  }

  _assistantMessage(item) {
    const text = (item.content || []).map((p) => p.text || "").join("\n\n");
    const body = renderMarkdown(h("div", { class: "ck-markdown ck-assistant-text" }), text);
    const sources = [];
    for (const part of item.content || []) for (const ann of part.annotations || []) if (ann && ann.source) sources.push(ann.source);
    const node = h("div", { class: "ck-item ck-assistant-message" }, body);
    if (sources.length) {
      const list = h("ul", { class: "ck-sources", "aria-label": "Sources" });
      for (const src of sources) {
        const label = src.title || src.url || src.filename || src.id;
        const url = src.type === "url" && /^https?:/i.test(src.url) ? src.url : null;
        list.append(h("li", {}, url ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: label }) : h("span", { text: label })));
      }
      node.append(list);
    }
    node.append(this._feedbackBar(item));
    return node;
  }

  _feedbackBar(item) {
    const bar = h("div", { class: "ck-feedback", role: "group", "aria-label": "Feedback" });
    const send = async (kind, btn) => {
      try {
        await this.client.feedback(this.threadId, [item.id], kind);
        for (const b of bar.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === btn));
      } catch (err) {
        this._showBanner(err.message, "error");
      }
    };
    const up = iconButton("thumbs-up", "Good response", () => send("positive", up), { "aria-pressed": "false" });
    const down = iconButton("thumbs-down", "Bad response", () => send("negative", down), { "aria-pressed": "false" });
    const copy = iconButton("document", "Copy", () => navigator.clipboard?.writeText((item.content || []).map((p) => p.text).join("\n\n")));
    bar.append(up, down, copy);
    return bar;
  }

  _widgetItem(item) {
    const node = h("div", { class: "ck-item ck-widget-item" });
    node.append(renderWidget(item.widget, { onAction: (action, ctx) => this._onWidgetAction(action, item, ctx) }));
    return node;
  }

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
      this._showBanner(err.message, "error");
    } finally {
      if (ctx.element.isConnected) ctx.setLoading(false);
    }
  }

  _workflow(item) {
    const wf = item.workflow || { tasks: [] };
    const summary = wf.summary ? wf.summary.title || `Worked for ${wf.summary.duration}s` : wf.type === "reasoning" ? "Thinking" : "Working";
    const details = h("details", { class: "ck-item ck-workflow", open: wf.expanded || undefined }, h("summary", { text: summary }));
    const list = h("ol", { class: "ck-workflow-tasks" });
    for (const task of wf.tasks || []) if (task) list.append(h("li", {}, this._task(task)));
    details.append(list);
    return details;
  }

  _task(task) {
    const row = h("div", { class: "ck-task-row", "data-status": task.status_indicator || "none" });
    if (task.icon) row.append(iconElement(task.icon));
    row.append(h("strong", { text: task.title || task.title_query || task.type }));
    if (task.content) row.append(renderMarkdown(h("div", { class: "ck-markdown" }), task.content));
    for (const q of task.queries || []) row.append(h("span", { class: "ck-query", text: q }));
    return row;
  }

  _structuredInput(item) {
    const form = h("form", { class: "ck-item ck-structured-input" });
    for (const input of item.inputs || []) {
      const field = h("fieldset", {}, h("legend", { text: input.question }));
      if (input.type === "multiple_choice") {
        for (const opt of input.options || []) {
          const box = h("input", { type: input.multiple ? "checkbox" : "radio", name: input.id, value: opt.value });
          field.append(h("label", {}, box, h("span", { text: opt.label || opt.value })));
        }
      } else {
        field.append(h("textarea", { name: input.id, "aria-label": input.question }));
      }
      form.append(field);
    }
    const disabled = item.status !== "pending";
    form.append(h("button", { type: "submit", class: "ck-button", "data-variant": "solid", "data-color": "primary", disabled, text: "Submit" }));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const answers = {};
      for (const input of item.inputs || []) {
        const values = [...form.querySelectorAll(`[name="${CSS.escape(input.id)}"]`)]
          .filter((el) => (el.type === "checkbox" || el.type === "radio" ? el.checked : el.value.trim()))
          .map((el) => el.value);
        answers[input.id] = { values, skipped: values.length === 0 };
      }
      this._stream((opts) => this.client.addStructuredInput(this.threadId, item.id, { status: "answered", answers }, opts));
    });
    return form;
  }

  // -- status lines -----------------------------------------------------------------------
  _setProgress(text, icon) {
    this.progress.replaceChildren();
    this.progress.hidden = !text;
    if (!text) return;
    if (icon) this.progress.append(iconElement(icon));
    this.progress.append(h("span", { text }));
  }

  _showBanner(message, level = "info", allowRetry = false) {
    this.banner.hidden = false;
    this.banner.dataset.level = level;
    this.banner.setAttribute("role", level === "error" || level === "danger" ? "alert" : "status");
    this.banner.replaceChildren(h("span", { text: message }));
    if (allowRetry) {
      const lastUser = [...this.items].reverse().find((i) => i.type === "user_message");
      if (lastUser) {
        this.banner.append(
          h("button", { type: "button", class: "ck-retry", text: "Retry", onClick: () => this._stream((opts) => this.client.retryAfterItem(this.threadId, lastUser.id, opts)) }),
        );
      }
    }
  }

  _hideBanner() {
    this.banner.hidden = true;
    this.banner.replaceChildren();
  }

  // -- @-mentions -------------------------------------------------------------------------
  _mentionQuery() {
    const upto = this.input.value.slice(0, this.input.selectionStart);
    const m = /(^|\s)@([^\s@]*)$/.exec(upto);
    return m ? { query: m[2], start: upto.length - m[2].length - 1 } : null;
  }

  async _onInput() {
    const entities = this.options.entities;
    if (!entities || !(entities.searchUrl || entities.onTagSearch)) return; // no @-mentions configured
    const mention = this._mentionQuery();
    if (!mention) return this._closeMentions();
    const seq = (this._mentionSeq = (this._mentionSeq || 0) + 1);
    let results;
    try {
      results = await this._searchEntities(mention.query);
    } catch (err) {
      results = [];
    }
    // A newer keystroke or a chosen suggestion makes this answer stale.
    const now = this._mentionQuery();
    if (seq !== this._mentionSeq || !now || now.query !== mention.query) return;
    this._showMentions(results, mention);
  }

  async _searchEntities(query) {
    const entities = this.options.entities;
    if (entities.onTagSearch) return entities.onTagSearch(query);
    const url = new URL(entities.searchUrl, window.location.href);
    url.searchParams.set("q", query);
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`Entity search failed: HTTP ${response.status}`);
    const body = await response.json();
    const list = Array.isArray(body) ? body : body.results || body.data || [];
    return list.map(toEntity);
  }

  _showMentions(results, mention) {
    this.mentionList.replaceChildren();
    this._mentionResults = results;
    this._mentionIndex = 0;
    if (!results.length) {
      this.mentionList.append(h("li", { class: "ck-mention-empty", text: "No matches" }));
    }
    let group = null;
    results.forEach((entity, index) => {
      if (entity.group && entity.group !== group) {
        group = entity.group;
        this.mentionList.append(h("li", { class: "ck-mention-group", role: "presentation", text: group }));
      }
      const option = h(
        "li",
        { class: "ck-mention", role: "option", id: `${this.uid}-mention-${index}`, "aria-selected": String(index === 0), "data-index": index },
        iconElement(entity.icon || "document"),
        h("span", { text: entity.title }),
      );
      option.addEventListener("mousedown", (e) => {
        e.preventDefault();
        this._chooseMention(index);
      });
      this.mentionList.append(option);
    });
    this.mentionList.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this._mention = mention;
  }

  _closeMentions() {
    this._mentionSeq = (this._mentionSeq || 0) + 1; // drop searches still in flight
    this.mentionList.hidden = true;
    this.mentionList.replaceChildren();
    this.input.setAttribute("aria-expanded", "false");
    this._mentionResults = null;
  }

  _chooseMention(index) {
    const entity = this._mentionResults?.[index];
    const mention = this._mentionQuery();
    if (!entity) return;
    if (mention) {
      const value = this.input.value;
      const end = this.input.selectionStart;
      this.input.value = value.slice(0, mention.start) + value.slice(end);
      this.input.selectionStart = this.input.selectionEnd = mention.start;
    }
    this.addTag(entity);
    this._closeMentions();
    this.input.focus();
  }

  async _attachFiles(files) {
    this.fileInput.value = "";
    this._uploading = true;
    try {
      for (const file of files) {
        const chip = h("span", { class: "ck-tag ck-attachment-chip", "aria-busy": "true" }, iconElement("document"), h("span", { text: file.name }));
        this.attachmentBar.append(chip);
        let attachment;
        try {
          attachment = await this.client.uploadAttachment(file);
        } catch (err) {
          chip.remove();
          this._showBanner(`${file.name}: ${err.message}`, "error");
          continue;
        }
        this.attachments.push(attachment);
        chip.setAttribute("aria-busy", "false");
        chip.dataset.attachmentId = attachment.id;
        chip.append(
          iconButton("close", `Remove ${file.name}`, () => {
            this.attachments = this.attachments.filter((a) => a.id !== attachment.id);
            chip.remove();
            this.client.deleteAttachment(attachment.id).catch(() => {});
          }, { class: "ck-icon-button ck-tag-remove" }),
        );
      }
    } finally {
      this._uploading = false;
    }
  }

  /** Add an entity tag to the message being composed. */
  addTag(entity) {
    if (this.tags.some((t) => t.id === entity.id)) return;
    this.tags.push(entity);
    const chip = h(
      "span",
      { class: "ck-tag", "data-entity-id": entity.id },
      iconElement(entity.icon || "document"),
      h("span", { text: entity.title }),
      iconButton("close", `Remove ${entity.title}`, () => {
        this.tags = this.tags.filter((t) => t.id !== entity.id);
        chip.remove();
      }, { class: "ck-icon-button ck-tag-remove" }),
    );
    this.tagBar.append(chip);
  }

  _onKeyDown(e) {
    if (this._mentionResults && !this.mentionList.hidden) {
      const options = this.mentionList.querySelectorAll(".ck-mention");
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = options.length;
        if (!n) return;
        this._mentionIndex = (this._mentionIndex + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
        options.forEach((o, i) => o.setAttribute("aria-selected", String(i === this._mentionIndex)));
        this.input.setAttribute("aria-activedescendant", `${this.uid}-mention-${this._mentionIndex}`);
        return;
      }
      if ((e.key === "Enter" || e.key === "Tab") && options.length) {
        e.preventDefault();
        this._chooseMention(this._mentionIndex);
        return;
      }
      if (e.key === "Escape") {
        this._closeMentions();
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.submit();
    }
  }
}

function safeStorage(op, key, value) {
  try {
    if (op === "get") return window.localStorage.getItem(key);
    if (op === "set") return window.localStorage.setItem(key, value);
    return window.localStorage.removeItem(key);
  } catch (_) {
    return null; // storage disabled: the thread is simply not remembered
  }
}

/**
 * Mount the chat view on `element` using the JSON config in its data-chatkit-config
 * attribute (written by the {% chatkit_chat %} template tag) plus page callbacks in
 * `hooks` ({widgets: {onAction}, entities: {onClick, onTagSearch}, onClientEffect,
 * onClientTool, ...}). The view is stored as `element.chatkit` and announced with a
 * `chatkit:ready` event.
 */
export function mountChat(element, hooks = {}) {
  const config = JSON.parse(element.dataset.chatkitConfig || "{}");
  hooks = hooks || {};
  const options = {
    ...config,
    ...hooks,
    widgets: { ...(config.widgets || {}), ...(hooks.widgets || {}) },
    entities: config.entities || hooks.entities ? { ...(config.entities || {}), ...(hooks.entities || {}) } : undefined,
    composer: { ...(config.composer || {}), ...(hooks.composer || {}) },
  };
  const view = new ChatKit(element, options);
  element.chatkit = view;
  view.ready.finally(() => element.dispatchEvent(new CustomEvent("chatkit:ready", { detail: view })));
  return view;
}
