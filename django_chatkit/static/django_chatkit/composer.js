// The composer: a contenteditable message box where @-mention tags sit inline with the
// text, the attachment tray, the composer tools (pinned pills plus a tool menu) and the
// send / stop buttons. What was typed becomes the message's content parts in screen order.

import { h, iconButton, humanError } from "./dom.js";
import { iconElement } from "./icons.js";

/**
 * @typedef {{id: string, title: string, icon?: string, group?: string|null, interactive?: boolean, data?: Record<string, any>}} Entity
 * @typedef {{text: string} | {tag: Entity}} Segment
 * @typedef {{type: "input_text", text: string} | {type: "input_tag", id: string, text: string, data: Record<string, any>, group: string|null, interactive: boolean}} UserContent
 * @typedef {{id: string, label: string, shortLabel?: string, icon?: string, placeholderOverride?: string, pinned?: boolean, persistent?: boolean}} ComposerTool
 */

/**
 * The content parts of a message from what the composer shows, in order: runs of text are
 * merged, the message's leading and trailing blanks dropped, the spaces around a tag kept.
 * @param {Segment[]} segments
 * @returns {UserContent[]}
 */
export function segmentsToContent(segments) {
  /** @type {UserContent[]} */
  const parts = [];
  for (const segment of segments) {
    if ("tag" in segment) {
      const tag = segment.tag;
      parts.push({
        type: "input_tag",
        id: String(tag.id),
        text: tag.title ?? String(tag.id),
        data: tag.data || {},
        group: tag.group ?? null,
        interactive: Boolean(tag.interactive),
      });
    } else if (segment.text) {
      const text = segment.text.replace(/\u00a0/g, " "); // the editor's non-breaking spaces
      const last = parts[parts.length - 1];
      if (last && last.type === "input_text") last.text += text;
      else parts.push({ type: "input_text", text });
    }
  }
  const first = parts[0];
  if (first && first.type === "input_text") first.text = first.text.replace(/^\s+/, "");
  const last = parts[parts.length - 1];
  if (last && last.type === "input_text") last.text = last.text.replace(/\s+$/, "");
  return parts.filter((p) => p.type !== "input_text" || p.text !== "");
}

/**
 * The message as the model reads it: text as typed with each tag as "@title" in place
 * (the SDK's ThreadItemConverter joins the parts the same way).
 * @param {UserContent[]} content
 * @returns {string}
 */
export function contentText(content) {
  return content.map((p) => (p.type === "input_tag" ? `@${p.text}` : p.text)).join("");
}

/**
 * The mention (an "@" and a query) being typed just before the caret in `text` (the text of the caret's
 * node up to the caret), or null.
 * @param {string} text
 * @returns {{query: string, start: number}|null}
 */
export function mentionAt(text) {
  const m = /(^|\s)@([^\s@]*)$/.exec(text);
  return m ? { query: m[2], start: text.length - m[2].length - 1 } : null;
}

/**
 * @param {Node} root
 * @returns {Segment[]}
 */
function readSegments(root) {
  /** @type {Segment[]} */
  const out = [];
  const walk = (/** @type {Node} */ node) => {
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) out.push({ text: child.nodeValue || "" });
      else if (child instanceof HTMLElement) {
        if (child.classList.contains("ck-tag") && child.dataset.entity) out.push({ tag: JSON.parse(child.dataset.entity) });
        else if (child.tagName === "BR") out.push({ text: "\n" });
        else {
          // Chromium wraps lines typed after Shift+Enter in <div>s.
          if (out.length && (child.tagName === "DIV" || child.tagName === "P")) out.push({ text: "\n" });
          walk(child);
        }
      }
    }
  };
  walk(root);
  return out;
}

export class Composer {
  /**
   * @param {{
   *   client: import("./client.js").ChatKitClient,
   *   uid: string,
   *   composer?: {placeholder?: string, tools?: ComposerTool[], attachments?: boolean},
   *   entities?: {searchUrl?: string, onTagSearch?: (query: string) => Promise<Entity[]>|Entity[], onClick?: (entity: Entity) => void},
   *   toEntity: (row: any) => Entity,
   *   onSubmit: () => void,
   *   onStop: () => void,
   *   onError: (message: string) => void,
   * }} options
   */
  constructor(options) {
    this.options = options;
    /** @type {any[]} */
    this.attachments = [];
    /** @type {string|null} */
    this.toolChoice = null;
    this.uploading = false;
    /** @type {Entity[]|null} */
    this._mentionResults = null;
    this._mentionIndex = 0;
    this._mentionSeq = 0;
    this.tools = options.composer?.tools || [];
    this._build();
  }

  get placeholder() {
    const tool = this.tools.find((t) => t.id === this.toolChoice);
    return (tool && tool.placeholderOverride) || this.options.composer?.placeholder || "Message";
  }

  _build() {
    const uid = this.options.uid;
    this.input = h("div", {
      class: "ck-composer-input",
      contenteditable: "true",
      role: "textbox",
      "aria-multiline": "true",
      "aria-label": "Message",
      "aria-autocomplete": "list",
      "aria-controls": `${uid}-mentions`,
      "aria-expanded": "false",
      spellcheck: "true",
    });
    this._updatePlaceholder();
    this.mentionList = h("ul", { class: "ck-mentions", role: "listbox", id: `${uid}-mentions`, hidden: true, "aria-label": "Suggestions" });
    this.attachmentBar = h("div", { class: "ck-tags ck-attachments", "aria-label": "Attachments" });
    this.fileInput = /** @type {HTMLInputElement} */ (h("input", { type: "file", class: "ck-visually-hidden", "aria-label": "Attach files", multiple: true, tabindex: "-1" }));
    this.fileInput.addEventListener("change", () => this.attachFiles([...(this.fileInput.files || [])]));
    this.attachButton = iconButton("paperclip", "Attach a file", () => this.fileInput.click(), { class: "ck-icon-button ck-attach" });
    if (this.options.composer?.attachments === false) this.attachButton.hidden = true;
    this.sendButton = iconButton("arrow-up", "Send message", () => this.options.onSubmit(), { class: "ck-icon-button ck-send" });
    this.stopButton = iconButton("stop", "Stop", () => this.options.onStop(), { class: "ck-icon-button ck-stop", hidden: true });

    this.toolBar = h("div", { class: "ck-tools", role: "group", "aria-label": "Tools" });
    this.toolMenu = h("ul", { class: "ck-tool-menu", role: "menu", id: `${uid}-tools`, "aria-label": "Tools", hidden: true });
    this.toolMenuButton = iconButton("plus", "Tools", () => this._toggleToolMenu(), {
      class: "ck-icon-button ck-tool-menu-button",
      "aria-haspopup": "menu",
      "aria-expanded": "false",
      "aria-controls": `${uid}-tools`,
    });
    this.toolMenuButton.hidden = this.tools.length === 0;
    for (const tool of this.tools) {
      if (tool.pinned) {
        this.toolBar.append(
          h(
            "button",
            { type: "button", class: "ck-tool", "aria-pressed": "false", "data-tool": tool.id, title: tool.label, onClick: () => this.selectTool(tool.id) },
            tool.icon ? iconElement(tool.icon) : null,
            h("span", { text: tool.shortLabel || tool.label }),
          ),
        );
      }
      const entry = h(
        "li",
        { role: "menuitemradio", "aria-checked": "false", tabindex: "-1", class: "ck-tool-menu-item", "data-tool": tool.id },
        tool.icon ? iconElement(tool.icon) : null,
        h("span", { text: tool.label }),
      );
      entry.addEventListener("click", () => this._pickFromMenu(tool.id));
      this.toolMenu.append(entry);
    }
    this.toolMenu.addEventListener("keydown", (e) => this._onToolMenuKey(e));

    this.element = h(
      "form",
      { class: "ck-composer", onSubmit: (/** @type {Event} */ e) => (e.preventDefault(), this.options.onSubmit()) },
      this.attachmentBar,
      this.mentionList,
      this.toolMenu,
      h("div", { class: "ck-composer-row" }, this.input),
      h("div", { class: "ck-composer-actions" }, this.attachButton, this.fileInput, this.toolMenuButton, this.toolBar, h("span", { class: "ck-spacer" }), this.sendButton, this.stopButton),
    );
    this.input.addEventListener("keydown", (e) => this._onKeyDown(e));
    this.input.addEventListener("input", () => this._onInput());
    this.input.addEventListener("paste", (e) => this._onPaste(e));
    // Leaving the box closes the suggestions, unless focus came straight back.
    this.input.addEventListener("blur", () => setTimeout(() => document.activeElement !== this.input && this._closeMentions(), 150));
  }

  _updatePlaceholder() {
    this.input.dataset.placeholder = this.placeholder;
    this.input.setAttribute("aria-placeholder", this.placeholder);
    this.input.classList.toggle("ck-empty", this.isEmpty());
  }

  isEmpty() {
    return !this.input.textContent?.trim() && !this.input.querySelector(".ck-tag");
  }

  focus() {
    this.input.focus();
  }

  /** @returns {UserContent[]} */
  content() {
    return segmentsToContent(readSegments(this.input));
  }

  /** The message to send: content parts in order, attachments, the chosen tool. */
  message() {
    return { content: this.content(), attachments: this.attachments.map((a) => a.id), toolChoice: this.toolChoice };
  }

  /** What the user composed, to put back if sending fails. */
  snapshot() {
    return { nodes: [...this.input.childNodes].map((n) => n.cloneNode(true)), attachments: [...this.attachments], attachmentNodes: [...this.attachmentBar.childNodes], toolChoice: this.toolChoice };
  }

  /** @param {ReturnType<Composer["snapshot"]>} snap */
  restore(snap) {
    if (!this.isEmpty()) return; // the user already typed something new
    this.input.replaceChildren(...snap.nodes);
    this.attachments = snap.attachments;
    this.attachmentBar.replaceChildren(...snap.attachmentNodes);
    this.selectTool(snap.toolChoice, true);
    this._updatePlaceholder();
  }

  /** Empty the box after a send; a tool stays chosen only when it is `persistent`. */
  clear() {
    this.input.replaceChildren();
    this.attachments = [];
    this.attachmentBar.replaceChildren();
    this._closeMentions();
    const tool = this.tools.find((t) => t.id === this.toolChoice);
    if (!tool || !tool.persistent) this.selectTool(null, true);
    this._updatePlaceholder();
  }

  /** Put text into the box (a start-screen prompt, for instance). @param {string} text */
  setText(text) {
    this.input.replaceChildren(document.createTextNode(text));
    this._updatePlaceholder();
  }

  /**
   * Choose a tool (again: unchoose it, unless `exact`).
   * @param {string|null} id
   * @param {boolean} [exact]
   */
  selectTool(id, exact = false) {
    this.toolChoice = exact ? id : this.toolChoice === id ? null : id;
    for (const btn of this.toolBar.querySelectorAll(".ck-tool")) {
      btn.setAttribute("aria-pressed", String(/** @type {HTMLElement} */ (btn).dataset.tool === this.toolChoice));
    }
    for (const entry of this.toolMenu.children) {
      entry.setAttribute("aria-checked", String(/** @type {HTMLElement} */ (entry).dataset.tool === this.toolChoice));
    }
    this.toolMenuButton.classList.toggle("ck-active", Boolean(this.toolChoice));
    this._updatePlaceholder();
  }

  /** @param {boolean} on */
  setStreaming(on) {
    this.sendButton.hidden = on;
    this.stopButton.hidden = !on;
    if (!on) this.stopButton.disabled = false;
  }

  // -- tool menu ----------------------------------------------------------------------
  _toggleToolMenu(open = this.toolMenu.hidden) {
    this.toolMenu.hidden = !open;
    this.toolMenuButton.setAttribute("aria-expanded", String(open));
    if (open) {
      const items = /** @type {HTMLElement[]} */ ([...this.toolMenu.children]);
      const current = items.find((i) => i.getAttribute("aria-checked") === "true") || items[0];
      current?.focus();
    }
  }

  /** @param {string} id */
  _pickFromMenu(id) {
    this.selectTool(id);
    this._toggleToolMenu(false);
    this.input.focus();
  }

  /** @param {KeyboardEvent} e */
  _onToolMenuKey(e) {
    const items = /** @type {HTMLElement[]} */ ([...this.toolMenu.children]);
    const at = items.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const n = items.length;
      items[(at + (e.key === "ArrowDown" ? 1 : n - 1) + n) % n]?.focus();
    } else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      if (at >= 0) this._pickFromMenu(items[at].dataset.tool || "");
    } else if (e.key === "Escape" || e.key === "Tab") {
      if (e.key === "Escape") e.preventDefault();
      this._toggleToolMenu(false);
      if (e.key === "Escape") this.toolMenuButton.focus();
    }
  }

  // -- @-mentions -----------------------------------------------------------------------
  /** The text node holding the caret and the mention typed before it, or null. */
  _caretMention() {
    const sel = window.getSelection();
    if (!sel || !sel.rangeCount || !sel.isCollapsed) return null;
    const node = sel.anchorNode;
    if (!node || node.nodeType !== Node.TEXT_NODE || !this.input.contains(node)) return null;
    const mention = mentionAt((node.nodeValue || "").slice(0, sel.anchorOffset));
    return mention ? { ...mention, node: /** @type {Text} */ (node), end: sel.anchorOffset } : null;
  }

  async _onInput() {
    this._updatePlaceholder();
    const entities = this.options.entities;
    if (!entities || !(entities.searchUrl || entities.onTagSearch)) return;
    const mention = this._caretMention();
    if (!mention) return this._closeMentions();
    const seq = (this._mentionSeq += 1);
    let results;
    try {
      results = await this._search(mention.query);
    } catch (_) {
      results = [];
    }
    const now = this._caretMention();
    if (seq !== this._mentionSeq || !now || now.query !== mention.query) return; // stale answer
    this._showMentions(results);
  }

  /** @param {string} query @returns {Promise<Entity[]>} */
  async _search(query) {
    const entities = this.options.entities || {};
    if (entities.onTagSearch) return entities.onTagSearch(query);
    const url = new URL(entities.searchUrl || "", window.location.href);
    url.searchParams.set("q", query);
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`Entity search failed: HTTP ${response.status}`);
    const body = await response.json();
    const list = Array.isArray(body) ? body : body.results || body.data || [];
    return list.map(this.options.toEntity);
  }

  /** @param {Entity[]} results */
  _showMentions(results) {
    const uid = this.options.uid;
    this.mentionList.replaceChildren();
    this._mentionResults = results;
    this._mentionIndex = 0;
    if (!results.length) this.mentionList.append(h("li", { class: "ck-mention-empty", text: "No matches" }));
    let group = null;
    results.forEach((entity, index) => {
      if (entity.group && entity.group !== group) {
        group = entity.group;
        this.mentionList.append(h("li", { class: "ck-mention-group", role: "presentation", text: group }));
      }
      const option = h(
        "li",
        { class: "ck-mention", role: "option", id: `${uid}-mention-${index}`, "aria-selected": String(index === 0), "data-index": index },
        iconElement(entity.icon || "document"),
        h("span", { text: entity.title }),
      );
      option.addEventListener("mousedown", (e) => {
        e.preventDefault(); // keep the caret in the box
        this._chooseMention(index);
      });
      this.mentionList.append(option);
    });
    this.mentionList.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    if (results.length) this.input.setAttribute("aria-activedescendant", `${uid}-mention-0`);
  }

  _closeMentions() {
    this._mentionSeq += 1; // drop searches still in flight
    this.mentionList.hidden = true;
    this.mentionList.replaceChildren();
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
    this._mentionResults = null;
  }

  /** @param {number} index */
  _chooseMention(index) {
    const entity = this._mentionResults?.[index];
    if (!entity) return;
    const mention = this._caretMention();
    this._closeMentions();
    this.input.focus();
    if (mention) {
      // "…about @Ad|a…" -> "…about [Ada Lovelace] |…": the tag takes the typed query's place.
      const rest = mention.node.splitText(mention.start);
      rest.nodeValue = (rest.nodeValue || "").slice(mention.end - mention.start);
      this._insertTag(entity, rest);
    } else {
      this.addTag(entity);
    }
  }

  /**
   * Insert a tag at the caret (or at the end of the box).
   * @param {Entity} entity
   */
  addTag(entity) {
    const sel = window.getSelection();
    if (sel && sel.rangeCount && this.input.contains(sel.anchorNode)) {
      const range = sel.getRangeAt(0);
      range.deleteContents();
      const marker = document.createTextNode("");
      range.insertNode(marker);
      this._insertTag(entity, marker);
    } else {
      this._insertTag(entity, null);
    }
  }

  /**
   * @param {Entity} entity
   * @param {Node|null} before the node the tag goes in front of (null: the end)
   */
  _insertTag(entity, before) {
    const chip = h(
      "span",
      { class: "ck-tag", contenteditable: "false", "data-entity-id": entity.id },
      iconElement(entity.icon || "document"),
      h("span", { class: "ck-tag-label", text: entity.title }),
    );
    chip.dataset.entity = JSON.stringify({ id: entity.id, title: entity.title, icon: entity.icon, group: entity.group ?? null, interactive: entity.interactive ?? true, data: entity.data || {} });
    const parent = before ? before.parentNode : this.input;
    if (!parent) return;
    parent.insertBefore(chip, before);
    // The caret goes after the tag and one space: the following text's own, or a new one.
    const next = before && before.nodeType === Node.TEXT_NODE ? /** @type {Text} */ (before) : null;
    let caretNode = next;
    if (!next || !/^\s/.test(next.nodeValue || "")) {
      caretNode = document.createTextNode("\u00a0");
      parent.insertBefore(caretNode, before);
    }
    const offset = 1;
    const sel = window.getSelection();
    if (sel) {
      const range = document.createRange();
      range.setStart(/** @type {Text} */ (caretNode), offset);
      range.collapse(true);
      sel.removeAllRanges();
      sel.addRange(range);
    }
    this._updatePlaceholder();
  }

  /** Backspace right after a tag removes the whole tag. @returns {boolean} */
  _removeTagBeforeCaret() {
    const sel = window.getSelection();
    if (!sel || !sel.rangeCount || !sel.isCollapsed) return false;
    let node = sel.anchorNode;
    let offset = sel.anchorOffset;
    /** @type {Node|null} */
    let before = null;
    if (node && node.nodeType === Node.TEXT_NODE) {
      const text = node.nodeValue || "";
      // A tag followed only by the space inserted with it counts as right before the caret.
      if (offset === 0) before = node.previousSibling;
      else if (offset === 1 && text[0] === "\u00a0" && node.previousSibling instanceof HTMLElement && node.previousSibling.classList.contains("ck-tag")) {
        node.nodeValue = text.slice(1);
        before = node.previousSibling;
      }
    } else if (node === this.input) {
      before = this.input.childNodes[offset - 1] || null;
    }
    if (before instanceof HTMLElement && before.classList.contains("ck-tag")) {
      before.remove();
      this._updatePlaceholder();
      return true;
    }
    return false;
  }

  /** @param {KeyboardEvent} e */
  _onKeyDown(e) {
    if (this._mentionResults && !this.mentionList.hidden) {
      const options = this.mentionList.querySelectorAll(".ck-mention");
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = options.length;
        if (!n) return;
        this._mentionIndex = (this._mentionIndex + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
        options.forEach((o, i) => o.setAttribute("aria-selected", String(i === this._mentionIndex)));
        this.input.setAttribute("aria-activedescendant", `${this.options.uid}-mention-${this._mentionIndex}`);
        return;
      }
      if ((e.key === "Enter" || e.key === "Tab") && options.length) {
        e.preventDefault();
        this._chooseMention(this._mentionIndex);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        this._closeMentions();
        return;
      }
    }
    if (e.key === "Backspace" && this._removeTagBeforeCaret()) {
      e.preventDefault();
      return;
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.options.onSubmit();
    }
  }

  /** Pasted files are attached; pasted text goes in as plain text. @param {ClipboardEvent} e */
  _onPaste(e) {
    const data = e.clipboardData;
    if (!data) return;
    const files = [...data.files];
    e.preventDefault();
    if (files.length && this.options.composer?.attachments !== false) {
      this.attachFiles(files);
      return;
    }
    const text = data.getData("text/plain");
    if (text) document.execCommand("insertText", false, text);
  }

  // -- attachments ----------------------------------------------------------------------
  /** Upload files and show them in the tray until the message is sent. @param {File[]} files */
  async attachFiles(files) {
    this.fileInput.value = "";
    this.uploading = true;
    try {
      for (const file of files) {
        const chip = h("span", { class: "ck-tag ck-attachment-chip", "aria-busy": "true" }, iconElement("document"), h("span", { text: file.name }));
        this.attachmentBar.append(chip);
        let attachment;
        try {
          attachment = await this.options.client.uploadAttachment(file);
        } catch (err) {
          chip.remove();
          this.options.onError(`${file.name}: ${humanError(err)}`);
          continue;
        }
        this.attachments.push(attachment);
        chip.setAttribute("aria-busy", "false");
        chip.dataset.attachmentId = attachment.id;
        if (attachment.preview_url && /^(https?:|\/)/.test(attachment.preview_url)) {
          chip.firstChild?.replaceWith(h("img", { src: attachment.preview_url, alt: "", class: "ck-attachment-thumb" }));
        }
        chip.append(
          iconButton(
            "close",
            `Remove ${file.name}`,
            () => {
              this.attachments = this.attachments.filter((a) => a.id !== attachment.id);
              chip.remove();
              this.options.client.deleteAttachment(attachment.id).catch(() => {});
              this.input.focus();
            },
            { class: "ck-icon-button ck-tag-remove" },
          ),
        );
      }
    } finally {
      this.uploading = false;
    }
  }
}
