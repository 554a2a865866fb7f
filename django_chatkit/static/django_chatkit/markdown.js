// A small, safe Markdown renderer for assistant messages and Markdown widgets.
// Every character of the source is HTML-escaped before any markup is added, and links
// keep only http(s), mailto, relative and fragment targets, so model output or widget
// values can never inject script or event handlers.

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (ch) => ESCAPES[ch]);
}

// Applied to an already-escaped URL, so quotes cannot close the attribute.
function safeHref(escapedUrl) {
  const raw = escapedUrl.replace(/&amp;/g, "&").trim();
  // Strip characters browsers ignore inside schemes ("java\tscript:").
  const compact = raw.replace(/[\u0000-\u0020\u007f]/g, "").toLowerCase();
  if (/^(https?:|mailto:)/.test(compact)) return escapedUrl;
  if (/^[a-z][a-z0-9+.-]*:/.test(compact)) return null;
  return escapedUrl;
}

function emphasis(text) {
  return text
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/__([^_]+)__/g, "<strong>$1</strong>")
    .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
    .replace(/(^|[^\w_])_([^_\s][^_]*)_(?!\w)/g, "$1<em>$2</em>")
    .replace(/~~([^~]+)~~/g, "<del>$1</del>");
}

function inline(escaped) {
  // Code spans and links become placeholders first so emphasis never reaches inside them.
  const held = [];
  const hold = (html) => {
    held.push(html);
    return `\u0000${held.length - 1}\u0000`;
  };
  let out = escaped.replace(/`([^`]+)`/g, (_, code) => hold(`<code>${code}</code>`));
  out = out.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (match, label, url) => {
    const href = safeHref(url);
    if (!href) return label;
    return hold(`<a href="${href}" target="_blank" rel="noopener noreferrer">${emphasis(label)}</a>`);
  });
  out = out.replace(/(^|[\s(])(https?:\/\/[^\s<)]+)/g, (_, pre, url) =>
    pre + hold(`<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>`),
  );
  return emphasis(out).replace(/\u0000(\d+)\u0000/g, (_, i) => held[Number(i)]);
}

const LIST_ITEM = /^(\s*)([-*+]|\d+[.)])\s+(.*)$/;
const TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

/**
 * The cells of a table row ("| a | b |" or "a | b"); "\|" stays a literal pipe.
 * @param {string} line
 * @returns {string[]}
 */
export function tableCells(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|"));
}

/**
 * A GFM table: header row, alignment row, body rows. Alignment is a class, not a style
 * attribute, so a strict style-src policy does not drop it.
 * @param {string[]} rows
 */
function tableHtml(rows) {
  const header = tableCells(rows[0]);
  const aligns = tableCells(rows[1]).map((rule) => (rule.startsWith(":") && rule.endsWith(":") ? "center" : rule.endsWith(":") ? "right" : ""));
  const cell = (/** @type {string} */ tag, /** @type {string} */ text, /** @type {number} */ i) =>
    `<${tag}${aligns[i] ? ` class="ck-align-${aligns[i]}"` : ""}>${inline(escapeHtml(text))}</${tag}>`;
  const head = `<thead><tr>${header.map((text, i) => cell("th", text, i)).join("")}</tr></thead>`;
  const body = rows
    .slice(2)
    .map((row) => {
      const cells = tableCells(row);
      return `<tr>${header.map((_, i) => cell("td", cells[i] ?? "", i)).join("")}</tr>`;
    })
    .join("");
  return `<div class="ck-table-wrap"><table>${head}${body ? `<tbody>${body}</tbody>` : ""}</table></div>`;
}

/**
 * Nested lists from list lines: deeper indentation opens a list inside the item above.
 * @param {{indent: number, ordered: boolean, text: string}[]} items
 */
function listHtml(items) {
  let i = 0;
  const build = () => {
    const { indent, ordered } = items[i];
    const tag = ordered ? "ol" : "ul";
    let html = "";
    let open = false; // an <li> waiting for its closing tag (it may get a nested list)
    while (i < items.length && items[i].indent >= indent) {
      const item = items[i];
      if (item.indent > indent) {
        html += build();
        continue;
      }
      if (item.ordered !== ordered) break;
      if (open) html += "</li>";
      html += `<li>${inline(escapeHtml(item.text))}`;
      open = true;
      i++;
    }
    return `<${tag}>${html}${open ? "</li>" : ""}</${tag}>`;
  };
  let out = "";
  while (i < items.length) out += build();
  return out;
}

/**
 * Convert Markdown source to an HTML string that is safe to assign to innerHTML.
 * @param {string} source
 * @returns {string}
 */
export function markdownToHtml(source) {
  const lines = String(source ?? "").replace(/\r\n?/g, "\n").split("\n");
  const html = [];
  /** @type {string[]} */
  let paragraph = [];
  /** @type {{indent: number, ordered: boolean, text: string}[]} */
  let list = [];
  const flushParagraph = () => {
    if (paragraph.length) html.push(`<p>${inline(escapeHtml(paragraph.join("\n"))).replace(/\n/g, "<br>")}</p>`);
    paragraph = [];
  };
  const flushList = () => {
    if (list.length) html.push(listHtml(list));
    list = [];
  };
  const flush = () => (flushParagraph(), flushList());
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = line.match(/^```\s*([\w-]*)\s*$/);
    if (fence) {
      flush();
      const body = [];
      i++;
      while (i < lines.length && !/^```\s*$/.test(lines[i])) body.push(lines[i++]);
      const lang = fence[1] ? ` class="language-${escapeHtml(fence[1])}"` : "";
      html.push(`<pre><code${lang}>${escapeHtml(body.join("\n"))}</code></pre>`);
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      flush();
      const level = heading[1].length;
      html.push(`<h${level}>${inline(escapeHtml(heading[2]))}</h${level}>`);
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]) && lines[i + 1].includes("-")) {
      flush();
      const rows = [line, lines[i + 1]];
      i += 2;
      while (i < lines.length && lines[i].includes("|") && lines[i].trim() !== "") rows.push(lines[i++]);
      i--;
      html.push(tableHtml(rows));
      continue;
    }
    const item = line.match(LIST_ITEM);
    if (item && !/^\s*(-{3,}|\*{3,})\s*$/.test(line)) {
      flushParagraph();
      list.push({ indent: item[1].replace(/\t/g, "    ").length, ordered: /\d/.test(item[2]), text: item[3] });
      continue;
    }
    if (/^\s*>\s?/.test(line)) {
      flush();
      html.push(`<blockquote>${inline(escapeHtml(line.replace(/^\s*>\s?/, "")))}</blockquote>`);
      continue;
    }
    if (/^\s*(-{3,}|\*{3,})\s*$/.test(line)) {
      flush();
      html.push("<hr>");
      continue;
    }
    if (line.trim() === "") {
      flush();
      continue;
    }
    flushList();
    paragraph.push(line);
  }
  flush();
  return html.join("");
}

/**
 * Render Markdown into `element` (replacing its content).
 * @template {Element} T
 * @param {T} element
 * @param {string} source
 * @returns {T}
 */
export function renderMarkdown(element, source) {
  element.innerHTML = markdownToHtml(source);
  return element;
}
