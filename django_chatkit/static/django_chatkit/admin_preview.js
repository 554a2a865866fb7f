// Live preview of a widget template on its admin change form.
//
// Reads the template, JSON schema and sample data textareas, renders them through the
// preview endpoint (POST .../widget-templates/preview/) as the user types, and shows the
// widget with the app's renderer. Errors (bad JSON, a template that does not compile,
// data that fails the schema, output that is not a widget) appear inline next to the
// preview and the field at fault. Clicking an action in the preview shows the payload the
// widget would send; nothing is sent.

import { renderWidget } from "./widgets.js";
import { csrfTokenFromCookie } from "./client.js";

const FIELDS = { template: "id_template", json_schema: "id_json_schema", data: "id_sample_data" };

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

function lineAndColumn(text, offset) {
  const before = text.slice(0, offset).split("\n");
  return { row: before.length - 1, column: before[before.length - 1].length };
}

/** Mark the lines at fault in the field's code editor (admin_editor.js), when it has one. */
function markErrorLines(input, problems, position) {
  const editor = input.chatkitEditor;
  if (!editor) return;
  const marks = [];
  if (position) marks.push({ ...position, text: problems[0].message, type: "error" });
  for (const p of problems) {
    const line = /^template line (\d+)$/.exec(p.path || "");
    if (line) marks.push({ row: Number(line[1]) - 1, column: 0, text: p.message, type: "error" });
  }
  editor.session.setAnnotations(marks);
}

export class WidgetPreview {
  constructor(root, { previewUrl, delay = 300 } = {}) {
    this.root = root;
    this.previewUrl = previewUrl;
    this.delay = delay;
    this.inputs = Object.fromEntries(Object.entries(FIELDS).map(([key, id]) => [key, document.getElementById(id)]));
    this.status = el("p", { class: "chatkit-preview-status", role: "status" });
    this.errors = el("div", { class: "chatkit-preview-errors", role: "alert", hidden: "" });
    this.stage = el("div", { class: "chatkit-preview-stage ck-theme" });
    this.actionLog = el("pre", { class: "chatkit-preview-action", hidden: "", "aria-live": "polite" });
    const theme = el("button", { type: "button", class: "button chatkit-preview-theme", "aria-pressed": "false" }, "Dark theme");
    theme.addEventListener("click", () => {
      const dark = this.stage.dataset.ckTheme !== "dark";
      this.stage.dataset.ckTheme = dark ? "dark" : "light";
      theme.setAttribute("aria-pressed", String(dark));
    });
    root.append(el("h2", {}, "Live preview"), theme, this.status, this.errors, this.stage, this.actionLog);
    this._seq = 0;
    for (const input of Object.values(this.inputs)) {
      if (input) input.addEventListener("input", () => this.schedule());
    }
  }

  schedule() {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this.refresh(), this.delay);
  }

  _parse(key, fallback) {
    const input = this.inputs[key];
    const text = input ? input.value.trim() : "";
    if (!text) return { value: fallback };
    try {
      return { value: JSON.parse(text) };
    } catch (err) {
      const at = /at position (\d+)/.exec(err.message);
      const position = at ? lineAndColumn(input.value, input.value.indexOf(text) + Number(at[1])) : null;
      return { error: { field: key, stage: "json", position, detail: `${key === "data" ? "Sample data" : "JSON schema"} is not valid JSON: ${err.message}` } };
    }
  }

  async refresh() {
    const seq = ++this._seq;
    if (!(this.inputs.template && this.inputs.template.value.trim())) return this.showHint();
    const schema = this._parse("json_schema", {});
    const data = this._parse("data", {});
    const parseError = schema.error || data.error;
    if (parseError) return this.showError(parseError);
    if (!this.previewUrl) {
      return this.showError({ field: "template", stage: "setup", detail: "Live preview needs the API urls: include django_chatkit.api.urls in your URLconf." });
    }
    this.status.textContent = "Rendering…";
    let response;
    let body;
    try {
      response = await fetch(this.previewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfTokenFromCookie() || "" },
        body: JSON.stringify({ template: this.inputs.template ? this.inputs.template.value : "", jsonSchema: schema.value, data: data.value }),
      });
      body = await response.json().catch(() => null);
    } catch (err) {
      if (seq === this._seq) this.showError({ field: "template", stage: "network", detail: String(err.message || err) });
      return;
    }
    if (seq !== this._seq) return; // a newer edit is being rendered
    if (response.ok && body && body.widget) return this.showWidget(body.widget);
    this.showError(body && body.detail ? body : { field: "template", stage: "request", detail: `HTTP ${response.status}` });
  }

  showWidget(widget) {
    this._clearFieldErrors();
    this.errors.hidden = true;
    this.errors.replaceChildren();
    this.status.textContent = "Rendered with the sample data.";
    this.stage.replaceChildren(renderWidget(widget, { onAction: (action) => this.showAction(action) }));
    this.root.dataset.state = "ok";
  }

  showHint() {
    this._clearFieldErrors();
    this.errors.hidden = true;
    this.errors.replaceChildren();
    this.status.textContent = "";
    this.stage.replaceChildren(el("p", { class: "chatkit-preview-hint" }, "Write a template to see it rendered with the sample data."));
    this.root.dataset.state = "empty";
  }

  showAction(action) {
    this.actionLog.hidden = false;
    this.actionLog.textContent = `Action (not sent):\n${JSON.stringify(action, null, 2)}`;
  }

  showError(error) {
    this._clearFieldErrors();
    this.status.textContent = "The template cannot be rendered.";
    const list = el("ul");
    const problems = error.errors && error.errors.length ? error.errors : [{ path: "", message: error.detail }];
    for (const p of problems) list.append(el("li", {}, p.path && p.path !== "$" ? `${p.path}: ${p.message}` : p.message));
    this.errors.replaceChildren(el("strong", {}, `${error.stage || "error"} error in ${error.field || "template"}`), list);
    this.errors.hidden = false;
    this.stage.replaceChildren();
    this.root.dataset.state = "error";
    const input = this.inputs[error.field] || this.inputs.template;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      const note = el("p", { class: "chatkit-field-error errornote" }, error.detail || problems[0].message);
      input.insertAdjacentElement("afterend", note);
      markErrorLines(input, problems, error.position);
    }
  }

  _clearFieldErrors() {
    for (const input of Object.values(this.inputs)) {
      if (!input) continue;
      input.removeAttribute("aria-invalid");
      if (input.chatkitEditor) input.chatkitEditor.session.clearAnnotations();
    }
    for (const note of document.querySelectorAll(".chatkit-field-error")) note.remove();
  }
}

/** Attach the preview to the admin change form (called by admin_widget_form.js). */
export function attachPreview(root = document.getElementById("chatkit-widget-preview")) {
  if (!root) return null;
  const preview = new WidgetPreview(root, { previewUrl: root.dataset.previewUrl });
  preview.refresh();
  root.chatkitPreview = preview;
  return preview;
}
