// Code editors on the widget template admin form.
//
// Each textarea marked data-chatkit-editor="json" or "jinja-json" gets an Ace editor (Ace
// is loaded from the django-ace package's static files by the form's media) with syntax
// highlighting, folding, search (Ctrl+F), bracket matching and a Format button. The
// textarea stays the form field: every edit is written back into it and announced with
// an `input` event, so the live preview and the form post read it as before. Without Ace
// (its script not loaded) the textareas stay as they are.
//
// Works under a strict Content-Security-Policy: no eval, no inline style sheets (Ace's
// useStrictCSP, its CSS comes from <link>s), no blob: workers (the JSON worker is off:
// the preview reports JSON errors).

import { TemplateFormatError, formatTemplate } from "./template_format.js";

const THEMES = { light: "ace/theme/chrome", dark: "ace/theme/tomorrow_night" };
const JINJA_KEYWORDS =
  "for|in|endfor|if|elif|else|endif|set|endset|not|and|or|is|with|endwith|macro|endmacro|call|endcall|filter|endfilter|true|false|none|True|False|None|loop";

let modeDefined = false;

/** Ace's JSON highlighting plus Jinja tags, also inside JSON strings. */
function defineJinjaJsonMode(ace) {
  if (modeDefined) return;
  modeDefined = true;
  ace.define(
    "ace/mode/chatkit_jinja_json",
    ["require", "exports", "module", "ace/lib/oop", "ace/mode/json", "ace/mode/json_highlight_rules"],
    (require, exports) => {
      const oop = require("ace/lib/oop");
      const JsonMode = require("ace/mode/json").Mode;
      const { JsonHighlightRules } = require("ace/mode/json_highlight_rules");

      function JinjaJsonHighlightRules() {
        JsonHighlightRules.call(this);
        const openers = [
          { token: "comment.jinja", regex: "\\{#", push: "jinja-comment" },
          { token: "meta.tag.jinja", regex: "\\{\\{-?|\\{%-?", push: "jinja" },
        ];
        this.$rules.start.unshift(...openers);
        this.$rules.string.unshift(...openers);
        this.$rules.jinja = [
          { token: "meta.tag.jinja", regex: "-?\\}\\}|-?%\\}", next: "pop" },
          { token: "string", regex: "\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'" },
          { token: "constant.numeric", regex: "\\d+(?:\\.\\d+)?" },
          { token: "support.function", regex: "\\|\\s*[A-Za-z_]\\w*" },
          { token: "keyword", regex: `\\b(?:${JINJA_KEYWORDS})\\b` },
          { token: "identifier", regex: "[A-Za-z_]\\w*" },
          { token: "keyword.operator", regex: "[-+*/%=!<>~.,:()\\[\\]]+" },
          { token: "text", regex: "\\s+" },
        ];
        this.$rules["jinja-comment"] = [
          { token: "comment.jinja", regex: "#\\}", next: "pop" },
          { defaultToken: "comment.jinja" },
        ];
        this.normalizeRules();
      }
      oop.inherits(JinjaJsonHighlightRules, JsonHighlightRules);

      function Mode() {
        JsonMode.call(this);
        this.HighlightRules = JinjaJsonHighlightRules;
      }
      oop.inherits(Mode, JsonMode);
      Mode.prototype.$id = "ace/mode/chatkit_jinja_json";
      Mode.prototype.createWorker = () => null;
      exports.Mode = Mode;
    },
  );
}

function darkTheme() {
  const chosen = document.documentElement.dataset.theme;
  if (chosen === "dark" || chosen === "light") return chosen === "dark";
  return window.matchMedia("(prefers-color-scheme: dark)").matches;
}

/** Pretty-printed `text` for the editor's kind; throws with a readable reason when it cannot be read. */
export function formatSource(kind, text) {
  if (kind === "json") {
    if (!text.trim()) return text;
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch (err) {
      throw new TemplateFormatError(`not valid JSON: ${err.message}`);
    }
  }
  return formatTemplate(text);
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

/** Replace `textarea` with an Ace editor kept in sync with it; returns the editor (or null without Ace). */
export function attachEditor(textarea) {
  const ace = window.ace;
  if (!ace || textarea.chatkitEditor) return textarea.chatkitEditor || null;
  const kind = textarea.dataset.chatkitEditor;
  ace.config.set("useStrictCSP", true);
  ace.config.set("loadWorkerFromBlob", false);
  const script = document.querySelector('script[src*="django_ace/ace/ace."]');
  if (script) ace.config.set("basePath", script.src.replace(/\/[^/]*$/, ""));
  defineJinjaJsonMode(ace);

  const label = document.querySelector(`label[for="${textarea.id}"]`);
  const name = label ? label.textContent.replace(/:\s*$/, "") : textarea.name;
  const format = el("button", { type: "button", class: "button chatkit-code-format" }, "Format");
  // "Format template", "Format sample data", "Format JSON Schema" (an acronym keeps its case).
  const phrase = /^[A-Z]{2}/.test(name) ? name : name.charAt(0).toLowerCase() + name.slice(1);
  format.setAttribute("aria-label", `Format ${phrase}`);
  const status = el("span", { class: "chatkit-code-status", role: "status" });
  const host = el("div", { class: "chatkit-code-host" });
  const box = el("div", { class: "chatkit-code-editor", "data-for": textarea.id });
  box.append(el("div", { class: "chatkit-code-toolbar" }), host);
  box.firstChild.append(format, status);
  textarea.before(box);
  textarea.hidden = true;

  const rows = Number(textarea.getAttribute("rows")) || 12;
  const editor = ace.edit(host, {
    value: textarea.value,
    minLines: Math.min(rows, 8),
    maxLines: Math.max(rows, 12),
    fontSize: "13px",
    tabSize: 2,
    useSoftTabs: true,
    showPrintMargin: false,
    wrap: true,
    useWorker: false,
    enableKeyboardAccessibility: true,
  });
  const Mode = ace.require(kind === "json" ? "ace/mode/json" : "ace/mode/chatkit_jinja_json").Mode;
  editor.session.setMode(new Mode());
  const input = editor.textInput.getElement();
  if (label) {
    // Ace keeps its aria-label for the cursor position; the field's name comes from its label.
    label.id = label.id || `${textarea.id}-label`;
    input.setAttribute("aria-labelledby", label.id);
  } else {
    input.setAttribute("aria-label", name);
  }
  const applyTheme = () => editor.setTheme(THEMES[darkTheme() ? "dark" : "light"]);
  applyTheme();
  new MutationObserver(applyTheme).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", applyTheme);

  editor.session.on("change", () => {
    textarea.value = editor.getValue();
    status.textContent = "";
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  });
  if (label) label.addEventListener("click", () => editor.focus());
  format.addEventListener("click", () => {
    let formatted;
    try {
      formatted = formatSource(kind, editor.getValue());
    } catch (err) {
      status.textContent = `Cannot format: ${err.message}`;
      return;
    }
    if (formatted !== editor.getValue()) {
      const cursor = editor.getCursorPosition();
      editor.setValue(formatted); // one undoable edit; the change handler updates the textarea
      editor.clearSelection();
      editor.moveCursorToPosition(cursor);
    }
    status.textContent = "Formatted.";
  });
  textarea.chatkitEditor = editor;
  return editor;
}

/** Attach an editor to every marked textarea under `root`. */
export function attachEditors(root = document) {
  return [...root.querySelectorAll("textarea[data-chatkit-editor]")].map(attachEditor).filter(Boolean);
}
