// Message rendering: the transcript's items, the start screen, the "thinking" indicator,
// the per-message actions (threadItemActions) and scrolling that follows the answer only
// while the reader is at the bottom.

import { h, iconButton } from "./dom.js";
import { iconElement } from "./icons.js";
import { renderMarkdown } from "./markdown.js";
import { renderWidget } from "./widgets.js";
import { interruptionNotice, isNearBottom, messageText } from "./stream.js";

/**
 * @typedef {import("./stream.js").ThreadItem} ThreadItem
 * @typedef {{feedback?: boolean, retry?: boolean, copy?: boolean}} ThreadItemActions
 * @typedef {{label: string, prompt: string|any[], icon?: string, tool?: string}} StartScreenPrompt
 * @typedef {{greeting?: string, prompts?: StartScreenPrompt[]}} StartScreen
 */

export class MessageList {
  /**
   * @param {{
   *   startScreen?: StartScreen,
   *   threadItemActions?: ThreadItemActions,
   *   onPrompt: (prompt: StartScreenPrompt) => void,
   *   onFeedback: (item: ThreadItem, kind: "positive"|"negative") => Promise<boolean>,
   *   feedbackOf: (item: ThreadItem) => string|null,
   *   onRetry: (item: ThreadItem) => void,
   *   onEntityClick?: (entity: any) => void,
   *   onWidgetAction: (action: any, item: ThreadItem, ctx: any) => void,
   *   onStructuredInput: (item: ThreadItem, answers: Record<string, any>) => void,
   * }} options
   */
  constructor(options) {
    this.options = options;
    /** @type {Map<string, HTMLElement>} */
    this.nodes = new Map();
    this.element = h("div", { class: "ck-messages", role: "log", "aria-live": "polite", "aria-label": "Messages" });
    this.startScreen = this._buildStartScreen();
    this.thinking = h("div", { class: "ck-thinking", role: "status", hidden: true }, h("span", { class: "ck-thinking-dots", "aria-hidden": "true" }, h("span"), h("span"), h("span")), h("span", { class: "ck-visually-hidden", text: "Thinking…" }));
    this.clear();
  }

  _buildStartScreen() {
    const start = this.options.startScreen || {};
    const screen = h("div", { class: "ck-start-screen" }, h("h3", { class: "ck-greeting", text: start.greeting || "What can I help with today?" }));
    if (start.prompts && start.prompts.length) {
      const list = h("ul", { class: "ck-start-prompts", "aria-label": "Suggested prompts" });
      for (const p of start.prompts) {
        list.append(
          h("li", {}, h("button", { type: "button", class: "ck-start-prompt", onClick: () => this.options.onPrompt(p) }, p.icon ? iconElement(p.icon) : null, h("span", { text: p.label || String(p.prompt) }))),
        );
      }
      screen.append(list);
    }
    return screen;
  }

  clear() {
    this.nodes.clear();
    this.element.replaceChildren(this.startScreen, this.thinking);
    this.thinking.hidden = true;
    this._updateStart();
  }

  _updateStart() {
    this.startScreen.hidden = this.nodes.size > 0 || !this.thinking.hidden;
  }

  /** Show or hide the "thinking" dots (from the send until the first answer arrives). @param {boolean} on */
  setThinking(on) {
    if (on === !this.thinking.hidden) return;
    const stick = isNearBottom(this.element);
    this.thinking.hidden = !on;
    this.element.append(this.thinking); // always after the last item
    this._updateStart();
    if (on && stick) this.scrollToBottom();
  }

  scrollToBottom() {
    this.element.scrollTop = this.element.scrollHeight;
  }

  /** @param {ThreadItem} item @param {boolean} streaming */
  render(item, streaming) {
    const node = this._node(item);
    if (!node) return;
    const stick = isNearBottom(this.element);
    node.dataset.itemId = item.id;
    node.dataset.itemType = item.type;
    if (streaming) node.classList.add("ck-streaming-item");
    const old = this.nodes.get(item.id);
    if (old) old.replaceWith(node);
    else this.element.insertBefore(node, this.thinking);
    this.nodes.set(item.id, node);
    if (item.type !== "user_message" && item.type !== "end_of_turn") this.setThinking(false);
    this._updateStart();
    if (stick) this.scrollToBottom();
  }

  /** @param {string} id */
  remove(id) {
    this.nodes.get(id)?.remove();
    this.nodes.delete(id);
    this._updateStart();
  }

  endStreaming() {
    for (const node of this.element.querySelectorAll(".ck-streaming-item")) node.classList.remove("ck-streaming-item");
    this.setThinking(false);
  }

  /** @param {ThreadItem} item @returns {HTMLElement|null} */
  _node(item) {
    switch (item.type) {
      case "user_message":
        return this._userMessage(item);
      case "assistant_message":
        return this._assistantMessage(item);
      case "widget": {
        const node = h("div", { class: "ck-item ck-widget-item" });
        node.append(renderWidget(item.widget, { onAction: (/** @type {any} */ action, /** @type {any} */ ctx) => this.options.onWidgetAction(action, item, ctx) }));
        return node;
      }
      case "workflow":
        return this._workflow(item);
      case "task":
        return h("div", { class: "ck-item ck-task" }, taskRow(item.task));
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

  /** @param {ThreadItem} item */
  _userMessage(item) {
    const bubble = h("div", { class: "ck-bubble" });
    if (item.quoted_text) bubble.append(h("blockquote", { class: "ck-quote", text: item.quoted_text }));
    const onClick = this.options.onEntityClick;
    for (const part of item.content || []) {
      const p = /** @type {any} */ (part);
      if (p.type === "input_tag") {
        const entity = { id: p.id, title: p.text, data: p.data, group: p.group, interactive: p.interactive };
        const icon = iconElement(p.data?.type === "person" ? "profile" : "document");
        const chip =
          p.interactive && onClick
            ? h("button", { type: "button", class: "ck-tag", "data-entity-id": p.id, onClick: () => onClick(entity) }, icon, h("span", { text: p.text }))
            : h("span", { class: "ck-tag", "data-entity-id": p.id }, icon, h("span", { text: p.text }));
        bubble.append(chip);
      } else if (p.type === "input_text") {
        bubble.append(h("span", { class: "ck-user-text", text: p.text }));
      }
    }
    for (const att of item.attachments || []) {
      const preview = att.type === "image" && att.preview_url && /^(https?:|\/)/.test(att.preview_url) ? att.preview_url : null;
      const inner = [preview ? h("img", { src: preview, alt: att.name }) : iconElement("document"), h("span", { text: att.name })];
      bubble.append(
        preview
          ? h("a", { class: "ck-attachment", href: preview, target: "_blank", rel: "noopener", "data-attachment-id": att.id, title: `Open ${att.name}` }, ...inner)
          : h("span", { class: "ck-attachment", "data-attachment-id": att.id }, ...inner),
      );
    }
    return h("div", { class: "ck-item ck-user-message" }, bubble);
  }

  /** @param {ThreadItem} item */
  _assistantMessage(item) {
    const body = renderMarkdown(h("div", { class: "ck-markdown ck-assistant-text" }), messageText(item));
    const sources = [];
    for (const part of item.content || []) for (const ann of part.annotations || []) if (ann && ann.source) sources.push(ann.source);
    const node = h("div", { class: "ck-item ck-assistant-message" }, body);
    const notice = interruptionNotice(item);
    if (notice) node.append(h("p", { class: "ck-interrupted", role: "note", text: notice }));
    if (sources.length) {
      const list = h("ul", { class: "ck-sources", "aria-label": "Sources" });
      for (const src of sources) {
        const label = src.title || src.url || src.filename || src.id;
        const url = src.type === "url" && /^https?:/i.test(src.url) ? src.url : null;
        list.append(h("li", {}, url ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: label }) : h("span", { text: label })));
      }
      node.append(list);
    }
    node.append(this._actions(item));
    return node;
  }

  /** Feedback, retry and copy under an answer, as `threadItemActions` allows. @param {ThreadItem} item */
  _actions(item) {
    const allowed = { feedback: true, retry: true, copy: true, ...(this.options.threadItemActions || {}) };
    const bar = h("div", { class: "ck-feedback ck-item-actions", role: "group", "aria-label": "Message actions" });
    if (allowed.feedback) {
      const state = this.options.feedbackOf(item);
      const send = async (/** @type {"positive"|"negative"} */ kind) => {
        if (!(await this.options.onFeedback(item, kind))) return;
        // The message may have been drawn again while the request ran: mark what is shown now.
        const shown = this.nodes.get(item.id)?.querySelector(".ck-feedback") || bar;
        const [good, bad] = shown.querySelectorAll("button");
        good?.setAttribute("aria-pressed", String(kind === "positive"));
        bad?.setAttribute("aria-pressed", String(kind === "negative"));
      };
      const up = iconButton("thumbs-up", "Good response", () => send("positive"), { "aria-pressed": String(state === "positive") });
      const down = iconButton("thumbs-down", "Bad response", () => send("negative"), { "aria-pressed": String(state === "negative") });
      bar.append(up, down);
    }
    if (allowed.copy) {
      const label = h("span", { class: "ck-visually-hidden", role: "status" });
      const copy = iconButton("copy", "Copy", async () => {
        try {
          await navigator.clipboard.writeText(messageText(item));
          copy.dataset.copied = "true";
          copy.replaceChildren(iconElement("check"));
          label.textContent = "Copied";
          copy.title = "Copied";
        } catch (_) {
          label.textContent = "Could not copy";
        }
        setTimeout(() => {
          copy.replaceChildren(iconElement("copy"));
          delete copy.dataset.copied;
          copy.title = "Copy";
          label.textContent = "";
        }, 2000);
      });
      bar.append(copy, label);
    }
    if (allowed.retry) bar.append(iconButton("reload", "Retry", () => this.options.onRetry(item), { class: "ck-icon-button ck-retry-item" }));
    return bar;
  }

  /** @param {ThreadItem} item */
  _workflow(item) {
    const wf = item.workflow || { type: "custom", tasks: [] };
    const summary = wf.summary ? wf.summary.title || `Worked for ${wf.summary.duration}s` : wf.type === "reasoning" ? "Thinking" : "Working";
    const details = h("details", { class: "ck-item ck-workflow", open: wf.expanded || undefined }, h("summary", { text: summary }));
    const list = h("ol", { class: "ck-workflow-tasks" });
    for (const task of wf.tasks || []) if (task) list.append(h("li", {}, taskRow(task)));
    details.append(list);
    return details;
  }

  /** @param {ThreadItem} item */
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
      /** @type {Record<string, any>} */
      const answers = {};
      for (const input of item.inputs || []) {
        const values = /** @type {HTMLInputElement[]} */ ([...form.querySelectorAll(`[name="${CSS.escape(input.id)}"]`)])
          .filter((el) => (el.type === "checkbox" || el.type === "radio" ? el.checked : el.value.trim()))
          .map((el) => el.value);
        answers[input.id] = { values, skipped: values.length === 0 };
      }
      this.options.onStructuredInput(item, answers);
    });
    return form;
  }
}

/** @param {any} task */
function taskRow(task) {
  const row = h("div", { class: "ck-task-row", "data-status": task.status_indicator || "none" });
  if (task.icon) row.append(iconElement(task.icon));
  row.append(h("strong", { text: task.title || task.title_query || task.type }));
  if (task.content) row.append(renderMarkdown(h("div", { class: "ck-markdown" }), task.content));
  for (const q of task.queries || []) row.append(h("span", { class: "ck-query", text: q }));
  return row;
}
