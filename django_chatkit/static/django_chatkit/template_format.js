// Formatting of widget templates: Jinja whose output is JSON.
//
// The template is read as JSON tokens in which Jinja tags ({{ … }}, {% … %}, {# … #})
// are opaque, also inside JSON strings. Whitespace outside strings and tags is
// insignificant in the rendered JSON, so it is laid out anew: one member or element a
// line, two spaces per level, a space after ":". Strings and tags are kept byte for byte,
// so the formatted template renders the same widget. Formatting is idempotent.

export class TemplateFormatError extends Error {}

const STRUCTURE = "{}[],:";
const CLOSERS = { "{": "}}", "%": "%}", "#": "#}" };

function isTagStart(src, i) {
  return src[i] === "{" && (src[i + 1] === "{" || src[i + 1] === "%" || src[i + 1] === "#");
}

/** The index just past the Jinja tag that starts at `i` (quotes inside the tag are skipped). */
function tagEnd(src, i) {
  const kind = src[i + 1];
  const close = CLOSERS[kind];
  let quote = null;
  for (let j = i + 2; j < src.length; j += 1) {
    const c = src[j];
    if (quote) {
      if (c === "\\") j += 1;
      else if (c === quote) quote = null;
    } else if (kind !== "#" && (c === '"' || c === "'")) {
      quote = c;
    } else if (src.startsWith(close, j)) {
      return j + 2;
    }
  }
  throw new TemplateFormatError(`unterminated Jinja tag at character ${i + 1}: ${src.slice(i, i + 20)}`);
}

function stringEnd(src, i) {
  for (let j = i + 1; j < src.length; j += 1) {
    if (src[j] === "\\") j += 1;
    else if (isTagStart(src, j)) j = tagEnd(src, j) - 1;
    else if (src[j] === '"') return j + 1;
  }
  throw new TemplateFormatError(`unterminated string at character ${i + 1}`);
}

function tokenize(src) {
  const tokens = [];
  let space = false;
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    let end;
    let type = "atom";
    if (/\s/.test(c)) {
      while (i < src.length && /\s/.test(src[i])) i += 1;
      space = true;
      continue;
    }
    if (isTagStart(src, i)) {
      end = tagEnd(src, i);
      type = src[i + 1] === "%" ? "statement" : "atom";
    } else if (c === '"') {
      end = stringEnd(src, i);
    } else if (STRUCTURE.includes(c)) {
      end = i + 1;
      type = c;
    } else {
      end = i + 1;
      while (end < src.length && !/\s/.test(src[end]) && !STRUCTURE.includes(src[end]) && src[end] !== '"' && !isTagStart(src, end)) {
        end += 1;
      }
    }
    tokens.push({ type, text: src.slice(i, end), space });
    space = false;
    i = end;
  }
  return tokens;
}

/** A statement that continues the one before it ({% endif %}, {% else %}…): it stays on the line. */
function continuesBlock(token) {
  return token && token.type === "statement" && /^\{%-?\s*(end\w*|else|elif)\b/.test(token.text);
}

/** `source` laid out one JSON member a line; throws TemplateFormatError when it cannot be read. */
export function formatTemplate(source, unit = "  ") {
  const tokens = tokenize(source);
  let out = "";
  let depth = 0;
  let newline = false;
  let spaced = false;
  const emit = (text, space) => {
    if (newline && out) out += `\n${unit.repeat(depth)}`;
    else if (space && out) out += " ";
    out += text;
    newline = false;
    spaced = false;
  };
  for (let k = 0; k < tokens.length; k += 1) {
    const token = tokens[k];
    const next = tokens[k + 1];
    if (token.type === "{" || token.type === "[") {
      const close = token.type === "{" ? "}" : "]";
      emit(token.type, token.space || spaced);
      if (next && next.type === close) {
        out += close;
        k += 1;
      } else {
        depth += 1;
        newline = true;
      }
    } else if (token.type === "}" || token.type === "]") {
      depth = Math.max(0, depth - 1);
      newline = true;
      emit(token.type, false);
    } else if (token.type === ",") {
      emit(",", false);
      newline = !continuesBlock(next);
    } else if (token.type === ":") {
      emit(":", false);
      spaced = true;
    } else {
      emit(token.text, token.space || spaced);
    }
  }
  return out;
}
