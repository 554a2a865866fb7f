// Renderer for ChatKit widgets (the component set of the `openai-chatkit` SDK's
// chatkit/widgets.py). Builds DOM nodes with textContent only: widget values are never
// parsed as HTML. Styling lives in widgets.css; props become CSS through the helpers below.
//
//   import { renderWidget } from "{% static 'django_chatkit/widgets.js' %}";
//   container.append(renderWidget(widgetJson, { onAction(action, ctx) {...}, theme: "dark" }));
//
// onAction receives the component's ActionConfig ({type, payload, handler, loadingBehavior,
// streaming}) with form values merged into the payload, and a context {element, component,
// setLoading(bool)}.

import { renderMarkdown } from "./markdown.js";
import { iconElement } from "./icons.js";

const SPACE_UNIT = 4; // px per spacing unit, as in ChatKit's spacing scale.

const ALIGN = { start: "flex-start", center: "center", end: "flex-end", baseline: "baseline", stretch: "stretch" };
const JUSTIFY = {
  start: "flex-start",
  center: "center",
  end: "flex-end",
  between: "space-between",
  around: "space-around",
  evenly: "space-evenly",
  stretch: "stretch",
};
const RADIUS = {
  "2xs": "2px", xs: "4px", sm: "6px", md: "8px", lg: "12px", xl: "16px", "2xl": "20px",
  "3xl": "24px", "4xl": "32px", full: "9999px", "100%": "100%", none: "0",
};
const TEXT_TOKENS = ["prose", "primary", "emphasis", "secondary", "tertiary", "success", "warning", "danger", "info", "discovery", "caution"];
const SURFACE_TOKENS = ["surface", "surface-secondary", "surface-tertiary", "surface-elevated", "surface-elevated-secondary"];
const BORDER_TOKENS = ["default", "subtle", "strong"];
const HUES = {
  red: 0, orange: 25, amber: 38, yellow: 50, lime: 80, green: 140, emerald: 155, teal: 175, cyan: 190,
  sky: 200, blue: 217, indigo: 235, violet: 260, purple: 272, fuchsia: 292, pink: 330, rose: 350,
  gray: 220, slate: 215, zinc: 240, neutral: 0, stone: 25,
};
const CHART_COLORS = { blue: "#3b82f6", purple: "#8b5cf6", orange: "#f97316", green: "#22c55e", red: "#ef4444", yellow: "#eab308", pink: "#ec4899" };
const CHART_ORDER = ["blue", "purple", "orange", "green", "red", "yellow", "pink"];

/** Every component type the renderer knows (the SDK's full widget set). */
export const COMPONENT_TYPES = [
  "Card", "ListView", "Basic", "ListViewItem", "Markdown", "Text", "Title", "Caption", "Badge",
  "Box", "Row", "Col", "Form", "Divider", "Icon", "Image", "Button", "Spacer", "Select",
  "DatePicker", "Checkbox", "Input", "Label", "RadioGroup", "Textarea", "Transition", "Chart",
];

// ---------------------------------------------------------------------------------------
// Prop -> CSS helpers

function primitiveColor(token) {
  const m = /^([a-z]+)-(\d{2,3})$/.exec(token);
  if (!m || !(m[1] in HUES)) return null;
  const shade = Number(m[2]);
  const hue = HUES[m[1]];
  const grey = ["gray", "slate", "zinc", "neutral", "stone"].includes(m[1]);
  const sat = grey ? 10 : 85;
  const light = Math.max(8, Math.min(97, 100 - shade / 10.5));
  return `hsl(${hue} ${sat}% ${light.toFixed(0)}%)`;
}

// CSS escapes (`\75 rl(` is `url(`), as the CSS parser reads them: 1 to 6 hex digits and
// one optional white space, or any other character taken literally.
function cssUnescape(s) {
  return s.replace(/\\(?:([0-9a-f]{1,6})[ \t\n\r\f]?|([\s\S]))/gi, (_, hex, char) => {
    if (hex === undefined) return char;
    const code = parseInt(hex, 16);
    return code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) ? "\ufffd" : String.fromCodePoint(code);
  });
}

// CSS strings pass through setProperty (invalid ones are dropped by the browser). Whatever
// can make the page fetch a URL (url(), image-set(), src(), @import...) or run an expression
// is refused, checked after unescaping and without comments, as the browser would read it.
const UNSAFE_CSS = /url\s*\(|src\s*\(|expression\s*\(|image-set|image\s*\(|cross-fade|element\s*\(|paint\s*\(|@import|[;{}<>\u0000-\u001f\u007f]/i;
function cssString(value) {
  const s = String(value);
  const read = cssUnescape(s).replace(/\/\*[\s\S]*?(\*\/|$)/g, "");
  return UNSAFE_CSS.test(s) || UNSAFE_CSS.test(read) ? null : s;
}

/** Resolve a color prop: token, primitive (`red-500`), CSS string or {light, dark}. */
export function resolveColor(value, kind = "text") {
  if (value == null || value === "") return null;
  if (typeof value === "object") {
    const light = resolveColor(value.light, kind);
    const dark = resolveColor(value.dark, kind);
    if (!light || !dark) return light || dark;
    return `light-dark(${light}, ${dark})`;
  }
  const token = String(value);
  if (kind === "text" && TEXT_TOKENS.includes(token)) return `var(--ck-text-${token})`;
  if (kind === "background" && SURFACE_TOKENS.includes(token)) return `var(--ck-${token})`;
  if (kind === "border" && BORDER_TOKENS.includes(token)) return `var(--ck-border-${token})`;
  if (kind === "chart" && token in CHART_COLORS) return CHART_COLORS[token];
  return primitiveColor(token) || cssString(token);
}

function spacing(value) {
  if (value == null) return null;
  if (typeof value === "number") return `${value * SPACE_UNIT}px`;
  if (/^-?\d+(\.\d+)?$/.test(String(value))) return `${Number(value) * SPACE_UNIT}px`;
  return cssString(value);
}

function length(value) {
  if (value == null) return null;
  if (typeof value === "number") return `${value}px`;
  return cssString(value);
}

function setStyle(el, prop, value) {
  if (value != null && value !== "") el.style.setProperty(prop, value);
}

function applySpacing(el, prefix, value) {
  if (value == null) return;
  if (typeof value !== "object") return setStyle(el, prefix, spacing(value));
  const sides = { top: value.top ?? value.y, right: value.right ?? value.x, bottom: value.bottom ?? value.y, left: value.left ?? value.x };
  for (const [side, v] of Object.entries(sides)) setStyle(el, `${prefix}-${side}`, spacing(v));
}

function borderValue(b) {
  if (typeof b === "number") return `${b}px solid var(--ck-border-default)`;
  if (!b || typeof b !== "object") return null;
  return `${Number(b.size) || 1}px ${cssString(b.style || "solid") || "solid"} ${resolveColor(b.color, "border") || "var(--ck-border-default)"}`;
}

function applyBorder(el, border) {
  if (border == null) return;
  if (typeof border === "number" || "size" in border) return setStyle(el, "border", borderValue(border));
  const sides = {
    top: border.top ?? border.y, right: border.right ?? border.x, bottom: border.bottom ?? border.y, left: border.left ?? border.x,
  };
  for (const [side, v] of Object.entries(sides)) if (v != null) setStyle(el, `border-${side}`, borderValue(v));
}

function applySize(el, c) {
  const size = length(c.size);
  setStyle(el, "width", length(c.width) ?? size);
  setStyle(el, "height", length(c.height) ?? size);
  const minSize = length(c.minSize);
  setStyle(el, "min-width", length(c.minWidth) ?? minSize);
  setStyle(el, "min-height", length(c.minHeight) ?? minSize);
  const maxSize = length(c.maxSize);
  setStyle(el, "max-width", length(c.maxWidth) ?? maxSize);
  setStyle(el, "max-height", length(c.maxHeight) ?? maxSize);
  if (c.aspectRatio != null) setStyle(el, "aspect-ratio", cssString(c.aspectRatio));
  if (c.flex != null) setStyle(el, "flex", cssString(c.flex));
}

function applyTextProps(el, c) {
  setStyle(el, "color", resolveColor(c.color, "text"));
  if (c.weight) el.dataset.weight = c.weight;
  if (c.size) el.dataset.size = c.size;
  if (c.textAlign) setStyle(el, "text-align", { start: "start", center: "center", end: "end" }[c.textAlign]);
  if (c.italic) setStyle(el, "font-style", "italic");
  if (c.lineThrough) setStyle(el, "text-decoration", "line-through");
  if (c.width != null) setStyle(el, "width", length(c.width));
  if (c.truncate) el.classList.add("ck-truncate");
  if (c.maxLines) {
    el.classList.add("ck-clamp");
    setStyle(el, "-webkit-line-clamp", String(Number(c.maxLines)));
  }
  if (c.minLines) setStyle(el, "min-height", `${Number(c.minLines) * 1.5}em`);
}

/** A `tag` element of `className` showing the text component `c`'s value. */
function textElement(tag, className, c) {
  const el = document.createElement(tag);
  el.className = className;
  el.textContent = c.value ?? "";
  applyTextProps(el, c);
  return el;
}

function applyBox(el, c, defaultDirection) {
  el.classList.add("ck-box");
  el.dataset.direction = c.direction || defaultDirection;
  if (c.align) setStyle(el, "align-items", ALIGN[c.align]);
  if (c.justify) setStyle(el, "justify-content", JUSTIFY[c.justify]);
  if (c.wrap) setStyle(el, "flex-wrap", c.wrap);
  setStyle(el, "gap", spacing(c.gap));
  applySpacing(el, "padding", c.padding);
  applySpacing(el, "margin", c.margin);
  applyBorder(el, c.border);
  if (c.radius) setStyle(el, "border-radius", RADIUS[c.radius]);
  setStyle(el, "background", resolveColor(c.background, "background"));
  applySize(el, c);
}

function applyTheme(el, theme) {
  if (theme === "light" || theme === "dark") {
    el.dataset.ckTheme = theme;
    el.style.colorScheme = theme;
  }
}

function safeImageSrc(src) {
  const s = String(src ?? "").trim();
  const compact = s.replace(/[\u0000-\u0020]/g, "").toLowerCase();
  if (/^(https?:|data:image\/(png|gif|jpe?g|webp|avif|svg\+xml);|blob:)/.test(compact)) return s;
  if (/^[a-z][a-z0-9+.-]*:/.test(compact)) return null;
  return s;
}

let uid = 0;
function nextId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// ---------------------------------------------------------------------------------------
// Rendering

class Renderer {
  constructor(options) {
    this.options = options;
    this.onAction = options.onAction || (() => {});
  }

  children(parent, list) {
    if (list == null) return;
    for (const child of Array.isArray(list) ? list : [list]) {
      if (child) parent.append(this.render(child));
    }
  }

  render(c) {
    const method = this[`render${c.type}`];
    let el;
    if (typeof method === "function") {
      el = method.call(this, c);
    } else {
      // Unknown component: show what it is rather than failing the whole widget.
      el = document.createElement("div");
      el.className = "ck-unknown";
      el.textContent = `Unsupported component: ${c.type}`;
    }
    el.classList.add("ck-component");
    el.dataset.ckType = c.type;
    if (c.id) el.dataset.ckId = c.id;
    if (c.key) el.dataset.ckKey = c.key;
    return el;
  }

  dispatch(actionConfig, element, component, extraPayload) {
    if (!actionConfig || !actionConfig.type) return;
    const action = {
      type: actionConfig.type,
      payload: extraPayload ? { ...(actionConfig.payload || {}), ...extraPayload } : actionConfig.payload ?? null,
      handler: actionConfig.handler || "server",
      loadingBehavior: actionConfig.loadingBehavior || "auto",
      streaming: actionConfig.streaming !== false,
    };
    const setLoading = (on) => {
      const mode = action.loadingBehavior === "auto" ? (element.matches("button, input, select, textarea") ? "self" : "container") : action.loadingBehavior;
      if (mode === "none") return;
      const target = mode === "self" ? element : element.closest(".ck-widget") || element;
      target.classList.toggle("ck-loading", on);
      target.setAttribute("aria-busy", on ? "true" : "false");
      if (mode === "self" && "disabled" in target) target.disabled = on;
    };
    return this.onAction(action, { element, component, setLoading });
  }

  // -- roots ---------------------------------------------------------------------------
  renderCard(c) {
    const el = document.createElement(c.asForm ? "form" : "section");
    el.className = "ck-card";
    if (c.size) el.dataset.size = c.size;
    applyTheme(el, c.theme);
    setStyle(el, "background", resolveColor(c.background, "background"));
    applySpacing(el, "padding", c.padding);
    if (c.status) el.append(this.status(c.status));
    const body = document.createElement("div");
    body.className = "ck-card-body ck-box";
    body.dataset.direction = "col";
    this.children(body, c.children);
    if (c.collapsed) body.hidden = true;
    el.append(body);
    if (c.confirm || c.cancel) {
      const footer = document.createElement("div");
      footer.className = "ck-card-footer";
      for (const [which, cfg] of [["cancel", c.cancel], ["confirm", c.confirm]]) {
        if (!cfg) continue;
        const btn = document.createElement("button");
        btn.type = "button";
        btn.className = `ck-button ck-card-${which}`;
        btn.dataset.variant = which === "confirm" ? "solid" : "outline";
        btn.dataset.color = which === "confirm" ? "primary" : "secondary";
        btn.textContent = cfg.label || which;
        btn.addEventListener("click", () => {
          if (c.asForm && which === "confirm" && !(/** @type {HTMLFormElement} */ (el).reportValidity())) return;
          this.dispatch(cfg.action, btn, c, c.asForm ? formValues(el) : null);
        });
        footer.append(btn);
      }
      el.append(footer);
    }
    if (c.asForm) el.addEventListener("submit", (e) => e.preventDefault());
    return el;
  }

  renderListView(c) {
    const el = document.createElement("div");
    el.className = "ck-listview";
    applyTheme(el, c.theme);
    if (c.status) el.append(this.status(c.status));
    const list = document.createElement("ul");
    list.className = "ck-list";
    list.setAttribute("role", "list");
    const items = c.children || [];
    const limit = typeof c.limit === "number" ? c.limit : null;
    items.forEach((item, index) => {
      const node = this.render(item);
      if (limit != null && index >= limit) node.hidden = true;
      list.append(node);
    });
    el.append(list);
    if (limit != null && items.length > limit) {
      const more = document.createElement("button");
      more.type = "button";
      more.className = "ck-show-more";
      more.textContent = `Show ${items.length - limit} more`;
      more.addEventListener("click", () => {
        for (const node of /** @type {HTMLElement[]} */ ([...list.children])) node.hidden = false;
        more.remove();
      });
      el.append(more);
    }
    return el;
  }

  renderBasic(c) {
    const el = document.createElement("div");
    el.className = "ck-basic";
    applyTheme(el, c.theme);
    applyBox(el, c, c.direction || "col");
    this.children(el, c.children);
    return el;
  }

  status(status) {
    const el = document.createElement("div");
    el.className = "ck-status";
    if (status.icon) el.append(iconElement(status.icon));
    const fav = status.favicon && safeImageSrc(status.favicon);
    if (fav) {
      const img = document.createElement("img");
      img.src = fav;
      img.alt = "";
      img.className = status.frame ? "ck-favicon ck-framed" : "ck-favicon";
      el.append(img);
    }
    const text = document.createElement("span");
    text.textContent = status.text ?? "";
    el.append(text);
    return el;
  }

  // -- layout -----------------------------------------------------------------------------
  renderListViewItem(c) {
    const el = document.createElement("li");
    el.className = "ck-listview-item";
    const inner = document.createElement("div");
    inner.className = "ck-box";
    inner.dataset.direction = "row";
    setStyle(inner, "gap", spacing(c.gap ?? 3));
    setStyle(inner, "align-items", ALIGN[c.align || "center"]);
    this.children(inner, c.children);
    el.append(inner);
    if (c.onClickAction) {
      el.classList.add("ck-clickable");
      el.tabIndex = 0;
      el.setAttribute("role", "button");
      const fire = () => this.dispatch(c.onClickAction, el, c);
      el.addEventListener("click", fire);
      el.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          fire();
        }
      });
    }
    return el;
  }

  renderBox(c) {
    const el = document.createElement("div");
    applyBox(el, c, "col");
    this.children(el, c.children);
    return el;
  }

  renderRow(c) {
    const el = document.createElement("div");
    applyBox(el, { ...c, direction: "row" }, "row");
    if (!c.align) setStyle(el, "align-items", "center");
    this.children(el, c.children);
    return el;
  }

  renderCol(c) {
    const el = document.createElement("div");
    applyBox(el, { ...c, direction: "col" }, "col");
    this.children(el, c.children);
    return el;
  }

  renderForm(c) {
    const el = document.createElement("form");
    applyBox(el, c, "col");
    this.children(el, c.children);
    el.addEventListener("submit", (e) => {
      e.preventDefault();
      const submitter = e.submitter || el;
      this.dispatch(c.onSubmitAction, submitter, c, formValues(el));
    });
    return el;
  }

  renderTransition(c) {
    const el = document.createElement("div");
    el.className = "ck-transition";
    this.children(el, c.children);
    return el;
  }

  renderSpacer(c) {
    const el = document.createElement("div");
    el.className = "ck-spacer";
    el.setAttribute("aria-hidden", "true");
    setStyle(el, "min-width", spacing(c.minSize));
    setStyle(el, "min-height", spacing(c.minSize));
    return el;
  }

  renderDivider(c) {
    const el = document.createElement("hr");
    el.className = "ck-divider";
    setStyle(el, "border-top-color", resolveColor(c.color, "border"));
    setStyle(el, "border-top-width", length(c.size));
    const sp = spacing(c.spacing);
    if (sp) {
      setStyle(el, "margin-top", sp);
      setStyle(el, "margin-bottom", sp);
    }
    if (c.flush) el.classList.add("ck-flush");
    return el;
  }

  // -- content ----------------------------------------------------------------------------
  renderText(c) {
    if (c.editable && typeof c.editable === "object") {
      const input = document.createElement("input");
      input.type = "text";
      input.className = "ck-input ck-text-editable";
      input.name = c.editable.name;
      input.value = c.value ?? "";
      input.setAttribute("aria-label", c.editable.placeholder || c.editable.name);
      if (c.editable.placeholder) input.placeholder = c.editable.placeholder;
      if (c.editable.required) input.required = true;
      if (c.editable.pattern) input.pattern = c.editable.pattern;
      if (c.editable.autoFocus) input.autofocus = true;
      applyTextProps(input, c);
      return input;
    }
    const el = textElement("p", "ck-text", c);
    if (c.streaming) el.classList.add("ck-streaming");
    return el;
  }

  renderTitle(c) {
    const el = textElement("div", "ck-title", c);
    el.setAttribute("role", "heading");
    el.setAttribute("aria-level", "3");
    return el;
  }

  renderCaption(c) {
    return textElement("p", "ck-caption", c);
  }

  renderLabel(c) {
    const el = textElement("label", "ck-label", c);
    el.dataset.fieldName = c.fieldName || "";
    return el;
  }

  renderMarkdown(c) {
    const el = document.createElement("div");
    el.className = "ck-markdown";
    renderMarkdown(el, c.value ?? "");
    if (c.streaming) el.classList.add("ck-streaming");
    return el;
  }

  renderBadge(c) {
    const el = document.createElement("span");
    el.className = "ck-badge";
    el.textContent = c.label ?? "";
    el.dataset.color = c.color || "secondary";
    el.dataset.variant = c.variant || "soft";
    el.dataset.size = c.size || "sm";
    if (c.pill) el.classList.add("ck-pill");
    return el;
  }

  renderIcon(c) {
    const el = iconElement(c.name);
    el.classList.add("ck-icon");
    if (c.size) el.dataset.size = c.size;
    setStyle(el, "color", resolveColor(c.color, "text"));
    return el;
  }

  renderImage(c) {
    const el = document.createElement("img");
    el.className = "ck-image";
    const src = safeImageSrc(c.src);
    if (src) el.src = src;
    el.alt = c.alt ?? "";
    if (!c.alt) el.setAttribute("role", "presentation");
    el.loading = "lazy";
    if (c.fit) setStyle(el, "object-fit", c.fit);
    if (c.position) setStyle(el, "object-position", c.position);
    if (c.radius) setStyle(el, "border-radius", RADIUS[c.radius]);
    if (c.frame) el.classList.add("ck-framed");
    if (c.flush) el.classList.add("ck-flush");
    applySpacing(el, "margin", c.margin);
    setStyle(el, "background", resolveColor(c.background, "background"));
    applySize(el, c);
    return el;
  }

  renderChart(c) {
    return renderChart(c);
  }

  // -- controls ---------------------------------------------------------------------------
  renderButton(c) {
    const el = document.createElement("button");
    el.type = c.submit ? "submit" : "button";
    el.className = "ck-button";
    el.dataset.variant = c.variant || (c.style === "secondary" ? "outline" : "solid");
    el.dataset.color = c.color || (c.style === "secondary" ? "secondary" : "primary");
    el.dataset.size = c.size || "md";
    if (c.pill) el.classList.add("ck-pill");
    if (c.uniform) el.classList.add("ck-uniform");
    if (c.block) el.classList.add("ck-block");
    if (c.disabled) el.disabled = true;
    if (c.iconStart) el.append(iconElement(c.iconStart, c.iconSize));
    if (c.label) {
      const label = document.createElement("span");
      label.textContent = c.label;
      el.append(label);
    } else {
      el.setAttribute("aria-label", c.iconStart || c.iconEnd || "button");
    }
    if (c.iconEnd) el.append(iconElement(c.iconEnd, c.iconSize));
    if (c.onClickAction) {
      el.addEventListener("click", (e) => {
        if (c.submit) return; // the form's submit handler dispatches with the values
        e.preventDefault();
        // Only a widget's own Form (or asForm Card) contributes values, never the host page's.
        const form = el.closest("form.ck-box, form.ck-card");
        this.dispatch(c.onClickAction, el, c, form ? formValues(form) : null);
      });
    }
    return el;
  }

  control(el, c, wrapLabel) {
    el.name = c.name;
    el.id = nextId(`ck-${c.name}`);
    if (c.disabled) el.disabled = true;
    if (c.required) el.required = true;
    if (c.size) el.dataset.size = c.size;
    if (c.variant) el.dataset.variant = c.variant;
    if (c.pill) el.classList.add("ck-pill");
    if (c.block) el.classList.add("ck-block");
    if (!wrapLabel) el.setAttribute("aria-label", c.ariaLabel || c.placeholder || c.name);
    if (c.onChangeAction) {
      el.addEventListener("change", () => {
        const value = el.type === "checkbox" ? el.checked : el.value;
        this.dispatch(c.onChangeAction, el, c, { [c.name]: value });
      });
    }
    return el;
  }

  renderSelect(c) {
    const el = document.createElement("select");
    el.className = "ck-select ck-input";
    if (c.placeholder || c.clearable || c.defaultValue == null) {
      const placeholder = document.createElement("option");
      placeholder.value = "";
      placeholder.textContent = c.placeholder || "";
      if (!c.clearable) placeholder.disabled = true;
      el.append(placeholder);
    }
    for (const opt of c.options || []) {
      const option = document.createElement("option");
      option.value = opt.value;
      option.textContent = opt.label ?? opt.value;
      if (opt.description) option.title = opt.description;
      if (opt.disabled) option.disabled = true;
      el.append(option);
    }
    el.value = c.defaultValue ?? "";
    return this.control(el, c);
  }

  renderDatePicker(c) {
    const el = document.createElement("input");
    el.type = "date";
    el.className = "ck-datepicker ck-input";
    const day = (v) => (v ? String(v).slice(0, 10) : "");
    if (c.defaultValue) el.value = day(c.defaultValue);
    if (c.min) el.min = day(c.min);
    if (c.max) el.max = day(c.max);
    if (c.placeholder) el.placeholder = c.placeholder;
    return this.control(el, c);
  }

  renderCheckbox(c) {
    const wrapper = document.createElement("label");
    wrapper.className = "ck-checkbox";
    const input = document.createElement("input");
    input.type = "checkbox";
    input.checked = Boolean(c.defaultChecked);
    this.control(input, c, Boolean(c.label));
    wrapper.append(input);
    if (c.label) {
      const text = document.createElement("span");
      text.textContent = c.label;
      wrapper.append(text);
    }
    return wrapper;
  }

  renderInput(c) {
    const el = document.createElement("input");
    el.type = ["number", "email", "text", "password", "tel", "url"].includes(c.inputType) ? c.inputType : "text";
    el.className = "ck-input";
    if (c.defaultValue != null) el.value = c.defaultValue;
    if (c.placeholder) el.placeholder = c.placeholder;
    if (c.pattern) el.pattern = c.pattern;
    if (c.autoFocus) el.autofocus = true;
    return this.control(el, c);
  }

  renderTextarea(c) {
    const el = document.createElement("textarea");
    el.className = "ck-textarea ck-input";
    if (c.defaultValue != null) el.value = c.defaultValue;
    if (c.placeholder) el.placeholder = c.placeholder;
    el.rows = c.rows || 3;
    if (c.autoResize) {
      el.addEventListener("input", () => {
        el.style.height = "auto";
        const max = c.maxRows ? c.maxRows * 24 : Infinity;
        el.style.height = `${Math.min(el.scrollHeight, max)}px`;
      });
    }
    return this.control(el, c);
  }

  renderRadioGroup(c) {
    const el = document.createElement("div");
    el.className = "ck-radiogroup";
    el.setAttribute("role", "radiogroup");
    el.setAttribute("aria-label", c.ariaLabel || c.name);
    el.dataset.direction = c.direction || "col";
    for (const opt of c.options || []) {
      const label = document.createElement("label");
      label.className = "ck-radio";
      const input = document.createElement("input");
      input.type = "radio";
      input.name = c.name;
      input.value = opt.value;
      input.checked = c.defaultValue === opt.value;
      input.disabled = Boolean(c.disabled || opt.disabled);
      if (c.required) input.required = true;
      if (c.onChangeAction) {
        input.addEventListener("change", () => this.dispatch(c.onChangeAction, input, c, { [c.name]: input.value }));
      }
      const text = document.createElement("span");
      text.textContent = opt.label ?? opt.value;
      label.append(input, text);
      el.append(label);
    }
    return el;
  }
}

/** Collect the named controls of a form into a plain object (checkboxes as booleans). */
export function formValues(form) {
  const values = {};
  for (const el of form.querySelectorAll("input[name], select[name], textarea[name]")) {
    if (el.type === "checkbox") values[el.name] = el.checked;
    else if (el.type === "radio") {
      if (el.checked) values[el.name] = el.value;
      else if (!(el.name in values)) values[el.name] = null;
    } else values[el.name] = el.value;
  }
  return values;
}

// Label components name their field by `fieldName`; point them at the generated ids.
function wireLabels(root) {
  for (const label of root.querySelectorAll("label.ck-label[data-field-name]")) {
    const field = root.querySelector(`[name="${CSS.escape(label.dataset.fieldName)}"]`);
    if (field && field.id) {
      label.htmlFor = field.id;
      field.removeAttribute("aria-label"); // the visible label names the field now
    }
  }
}

// ---------------------------------------------------------------------------------------
// Chart: a small SVG bar/line/area chart with a text table for screen readers.

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function renderChart(c) {
  const wrapper = document.createElement("figure");
  wrapper.className = "ck-chart";
  applySize(wrapper, c);
  const data = Array.isArray(c.data) ? c.data : [];
  const series = Array.isArray(c.series) ? c.series : [];
  const xKey = typeof c.xAxis === "string" ? c.xAxis : c.xAxis && c.xAxis.dataKey;
  const xLabels = (c.xAxis && typeof c.xAxis === "object" && c.xAxis.labels) || {};
  const hideX = Boolean(c.xAxis && typeof c.xAxis === "object" && c.xAxis.hide);
  const W = 320;
  const H = 160;
  const left = c.showYAxis ? 32 : 8;
  const bottom = hideX ? 8 : 22;
  const plotW = W - left - 8;
  const plotH = H - bottom - 8;
  const colorFor = (s, i) => resolveColor(s.color, "chart") || CHART_COLORS[CHART_ORDER[i % CHART_ORDER.length]];

  // Stacked bars/areas add up per stack id.
  let max = 0;
  data.forEach((row) => {
    const stacks = {};
    series.forEach((s, i) => {
      const v = Number(row[s.dataKey]) || 0;
      const key = s.stack ? `s:${s.stack}` : `i:${i}`;
      stacks[key] = (stacks[key] || 0) + v;
    });
    max = Math.max(max, ...Object.values(stacks), 0);
  });
  max = max || 1;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "ck-chart-svg", preserveAspectRatio: "none" });
  const title = svg("title");
  title.textContent = `Chart of ${series.map((s) => s.label || s.dataKey).join(", ")}`;
  chart.append(title);
  chart.append(svg("line", { x1: left, y1: 8 + plotH, x2: left + plotW, y2: 8 + plotH, class: "ck-chart-axis" }));
  if (c.showYAxis) {
    chart.append(svg("line", { x1: left, y1: 8, x2: left, y2: 8 + plotH, class: "ck-chart-axis" }));
    for (const frac of [0, 0.5, 1]) {
      const t = svg("text", { x: left - 4, y: 8 + plotH - frac * plotH + 3, "text-anchor": "end", class: "ck-chart-tick" });
      t.textContent = String(Math.round(max * frac));
      chart.append(t);
    }
  }
  const n = Math.max(data.length, 1);
  const band = plotW / n;
  const y = (v) => 8 + plotH - (v / max) * plotH;
  const bars = series.map((s, i) => ({ s, i })).filter(({ s }) => (s.type || "bar") === "bar");
  const barGroups = [...new Set(bars.map(({ s, i }) => (s.stack ? `s:${s.stack}` : `i:${i}`)))];
  const gap = c.barCategoryGap ?? 8;
  const groupW = Math.max(2, (band - gap) / Math.max(barGroups.length, 1));
  data.forEach((row, xi) => {
    const offsets = {};
    for (const { s, i } of bars) {
      const key = s.stack ? `s:${s.stack}` : `i:${i}`;
      const gi = barGroups.indexOf(key);
      const v = Number(row[s.dataKey]) || 0;
      const base = offsets[key] || 0;
      offsets[key] = base + v;
      const rect = svg("rect", {
        x: left + xi * band + gap / 2 + gi * groupW,
        y: y(base + v),
        width: Math.max(1, groupW - (c.barGap ?? 2)),
        height: Math.max(0, y(base) - y(base + v)),
        fill: colorFor(s, i),
        class: "ck-chart-bar",
      });
      const tip = svg("title");
      tip.textContent = `${s.label || s.dataKey}: ${v}`;
      if (c.showTooltip !== false) rect.append(tip);
      chart.append(rect);
    }
    if (!hideX) {
      const t = svg("text", { x: left + xi * band + band / 2, y: H - 6, "text-anchor": "middle", class: "ck-chart-tick" });
      const raw = row[xKey];
      t.textContent = String(xLabels[raw] ?? raw ?? "");
      chart.append(t);
    }
  });
  series.forEach((s, i) => {
    const kind = s.type || "bar";
    if (kind === "bar" || !data.length) return;
    const pts = data.map((row, xi) => [left + xi * band + band / 2, y(Number(row[s.dataKey]) || 0)]);
    const d = pts.map(([px, py], k) => `${k ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join(" ");
    const color = colorFor(s, i);
    if (kind === "area") {
      const area = `${d} L${pts[pts.length - 1][0].toFixed(1)},${8 + plotH} L${pts[0][0].toFixed(1)},${8 + plotH} Z`;
      chart.append(svg("path", { d: area, fill: color, "fill-opacity": 0.25, stroke: "none", class: "ck-chart-area" }));
    }
    chart.append(svg("path", { d, fill: "none", stroke: color, "stroke-width": 2, class: "ck-chart-line" }));
  });
  wrapper.append(chart);
  if (c.showLegend !== false && series.length) {
    const legend = document.createElement("figcaption");
    legend.className = "ck-chart-legend";
    series.forEach((s, i) => {
      const entry = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = colorFor(s, i);
      entry.append(swatch, document.createTextNode(s.label || s.dataKey));
      legend.append(entry);
    });
    wrapper.append(legend);
  }
  // The same numbers as a table, for assistive technology.
  const table = document.createElement("table");
  table.className = "ck-visually-hidden";
  const head = table.insertRow();
  for (const h of [xKey, ...series.map((s) => s.label || s.dataKey)]) {
    const th = document.createElement("th");
    th.textContent = String(h ?? "");
    head.append(th);
  }
  for (const row of data) {
    const tr = table.insertRow();
    for (const key of [xKey, ...series.map((s) => s.dataKey)]) tr.insertCell().textContent = String(row[key] ?? "");
  }
  wrapper.append(table);
  return wrapper;
}

// ---------------------------------------------------------------------------------------

/**
 * Render a widget root (Card, ListView, Basic) or any single component.
 * Options: onAction(action, ctx), theme ("light" | "dark" | undefined to follow the page).
 */
export function renderWidget(widget, options = {}) {
  const root = document.createElement("div");
  root.className = "ck-widget";
  if (options.theme) applyTheme(root, options.theme);
  if (!widget || typeof widget !== "object" || !widget.type) {
    root.classList.add("ck-widget-error");
    root.textContent = "Invalid widget";
    return root;
  }
  const renderer = new Renderer(options);
  root.append(renderer.render(widget));
  wireLabels(root);
  return root;
}

/** Find a component by id inside a widget tree (used for streamed updates). */
export function findComponent(node, id) {
  if (!node || typeof node !== "object") return null;
  if (node.id === id) return node;
  const kids = node.children;
  for (const child of Array.isArray(kids) ? kids : kids ? [kids] : []) {
    const found = findComponent(child, id);
    if (found) return found;
  }
  return null;
}

/** Replace the component with `id` inside the tree; returns true when it was found. */
export function replaceComponent(node, id, component) {
  if (!node || typeof node !== "object") return false;
  const kids = node.children;
  if (Array.isArray(kids)) {
    for (let i = 0; i < kids.length; i++) {
      if (kids[i] && kids[i].id === id) {
        kids[i] = component;
        return true;
      }
      if (replaceComponent(kids[i], id, component)) return true;
    }
  } else if (kids && typeof kids === "object") {
    if (kids.id === id) {
      node.children = component;
      return true;
    }
    return replaceComponent(kids, id, component);
  }
  return false;
}
