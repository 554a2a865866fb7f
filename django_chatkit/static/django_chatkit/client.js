// Protocol client for a django_chatkit endpoint (the ChatKit server protocol).
// Dependency free; works in any browser with fetch, ReadableStream and TextDecoder.

/** Error raised for a failed request: HTTP status plus the server's JSON body when present. */
export class ChatKitError extends Error {
  constructor(message, { status = 0, code = null, body = null } = {}) {
    super(message);
    this.name = "ChatKitError";
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/**
 * Incremental parser for text/event-stream. Feed it decoded text in whatever pieces the
 * network delivers; it returns the `data` payload of every event completed so far.
 * Handles \n, \r\n and \r line endings (also when a \r\n pair is split across chunks),
 * multi-line data fields, comments and the optional space after the colon.
 */
export class SSEParser {
  constructor() {
    this._buffer = "";
    this._data = [];
    this._pendingCR = false;
  }

  push(text) {
    const events = [];
    let input = text;
    if (this._pendingCR && input.startsWith("\n")) input = input.slice(1);
    this._pendingCR = false;
    this._buffer += input;
    let start = 0;
    for (let i = 0; i < this._buffer.length; i++) {
      const ch = this._buffer[i];
      if (ch !== "\n" && ch !== "\r") continue;
      const line = this._buffer.slice(start, i);
      if (ch === "\r") {
        if (i + 1 < this._buffer.length) {
          if (this._buffer[i + 1] === "\n") i++;
        } else {
          this._pendingCR = true;
        }
      }
      start = i + 1;
      this._line(line, events);
    }
    this._buffer = this._buffer.slice(start);
    return events;
  }

  /** Flush at end of stream: a last event without its blank line is still delivered. */
  end() {
    const events = [];
    if (this._buffer) this._line(this._buffer, events);
    this._buffer = "";
    this._line("", events);
    return events;
  }

  _line(line, events) {
    if (line === "") {
      if (this._data.length) events.push(this._data.join("\n"));
      this._data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this._data.push(value);
  }
}

/** Read Django's CSRF cookie (settings.CSRF_COOKIE_NAME defaults to "csrftoken"). */
export function csrfTokenFromCookie(name = "csrftoken") {
  if (typeof document === "undefined") return null;
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

const STREAMING_OPS = new Set([
  "threads.create",
  "threads.add_user_message",
  "threads.add_client_tool_output",
  "threads.add_structured_input",
  "threads.retry_after_item",
  "threads.custom_action",
]);

/**
 * Client for one ChatKit endpoint.
 *
 *   const client = new ChatKitClient({ url: "/chatkit/" });
 *   const page = await client.listThreads({ limit: 20 });
 *   await client.createThread({ text: "Hello" }, { onEvent: (e) => console.log(e) });
 *
 * Options: url (required), csrfToken (string or function; defaults to the csrftoken
 * cookie), headers (extra headers), metadata (sent with every request), fetch (custom),
 * stopUrl (the thread stop endpoint with "__thread__" for the id; see stopThread).
 */
/**
 * @typedef {{metadata?: Record<string, any>, signal?: AbortSignal}} RequestOptions
 * @typedef {RequestOptions & {onEvent?: (event: any) => void}} StreamOptions
 * @typedef {{limit?: number, order?: "asc"|"desc", after?: string}} PageOptions
 */
export class ChatKitClient {
  /**
   * @param {{url?: string, csrfToken?: string|(() => string|null), headers?: Record<string, string>,
   *   metadata?: Record<string, any>, fetch?: typeof fetch, stopUrl?: string|null}} [options]
   */
  constructor({ url, csrfToken, headers = {}, metadata = {}, fetch: fetchImpl, stopUrl = null } = {}) {
    if (!url) throw new TypeError("ChatKitClient needs a url");
    this.url = url;
    this.stopUrl = stopUrl;
    this.headers = headers;
    this.metadata = metadata;
    this._csrfToken = csrfToken;
    this._fetch = fetchImpl || ((input, init) => globalThis.fetch(input, init));
    this._controllers = new Set();
  }

  _headers() {
    const headers = { "Content-Type": "application/json", Accept: "application/json, text/event-stream" };
    const token = typeof this._csrfToken === "function" ? this._csrfToken() : this._csrfToken ?? csrfTokenFromCookie();
    if (token) headers["X-CSRFToken"] = token;
    return { ...headers, ...this.headers };
  }

  async _post(type, params, metadata, signal) {
    let response;
    try {
      response = await this._fetch(this.url, {
        method: "POST",
        credentials: "same-origin",
        headers: this._headers(),
        body: JSON.stringify({ type, params, metadata: { ...this.metadata, ...(metadata || {}) } }),
        signal,
      });
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ChatKitError(`Network error: ${err && err.message ? err.message : err}`);
    }
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch (_) {
        body = null;
      }
      const message = (body && (body.message || body.detail || (body.error && (body.error.message || body.error)))) || `HTTP ${response.status}`;
      throw new ChatKitError(String(message), { status: response.status, code: body && body.code, body });
    }
    return response;
  }

  /**
   * Send a JSON (non-streaming) operation and return the decoded result.
   * @param {string} type
   * @param {Record<string, any>} [params]
   * @param {RequestOptions} [options]
   * @returns {Promise<any>}
   */
  async request(type, params = {}, { metadata, signal } = {}) {
    const response = await this._post(type, params, metadata, signal);
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  /**
   * Send a streaming operation. `onEvent` receives every decoded stream event in order.
   * Resolves with {aborted} when the stream ends. Abort with `signal` or `client.abort()`:
   * the request is cancelled, so the server stops and keeps the partial answer.
   * @param {string} type
   * @param {Record<string, any>} [params]
   * @param {StreamOptions} [options]
   * @returns {Promise<{aborted: boolean}>}
   */
  async stream(type, params = {}, { onEvent = (event) => {}, metadata, signal } = {}) {
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort();
    if (signal) {
      if (signal.aborted) controller.abort();
      else signal.addEventListener("abort", onOuterAbort, { once: true });
    }
    this._controllers.add(controller);
    try {
      const response = await this._post(type, params, metadata, controller.signal);
      const contentType = response.headers.get("Content-Type") || "";
      if (!contentType.includes("text/event-stream")) {
        // A JSON answer to a streaming op is an error report from the endpoint.
        const body = await response.json().catch(() => null);
        throw new ChatKitError((body && body.message) || "Expected an event stream", { status: response.status, body });
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const parser = new SSEParser();
      const deliver = (payloads) => {
        for (const payload of payloads) {
          let event;
          try {
            event = JSON.parse(payload);
          } catch (_) {
            event = { type: "error", code: "stream.error", message: "Malformed event from server", allow_retry: false };
          }
          onEvent(event);
        }
      };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        deliver(parser.push(decoder.decode(value, { stream: true })));
      }
      deliver(parser.push(decoder.decode()));
      deliver(parser.end());
      return { aborted: false };
    } catch (err) {
      if (controller.signal.aborted) return { aborted: true };
      throw err;
    } finally {
      this._controllers.delete(controller);
      if (signal) signal.removeEventListener("abort", onOuterAbort);
    }
  }

  /** Cancel every stream this client has open. */
  abort() {
    for (const controller of this._controllers) controller.abort();
  }

  /**
   * Ask the server to stop the thread's running response. Needed when the server keeps
   * responses running after a disconnect (CHATKIT["DISCONNECT"] = "continue"); harmless
   * otherwise. Resolves to false when nothing was running.
   */
  async stopThread(threadId) {
    if (!this.stopUrl) return false;
    const response = await this._fetch(this.stopUrl.replace("__thread__", encodeURIComponent(threadId)), {
      method: "POST",
      credentials: "same-origin",
      headers: this._headers(),
    });
    return response.ok;
  }

  get streaming() {
    return this._controllers.size > 0;
  }

  static isStreamingOp(type) {
    return STREAMING_OPS.has(type);
  }

  // Streaming operations.
  createThread(input, options) {
    return this.stream("threads.create", { input: userInput(input) }, options);
  }
  addUserMessage(threadId, input, options) {
    return this.stream("threads.add_user_message", { thread_id: threadId, input: userInput(input) }, options);
  }
  addClientToolOutput(threadId, result, options) {
    return this.stream("threads.add_client_tool_output", { thread_id: threadId, result }, options);
  }
  addStructuredInput(threadId, itemId, input, options) {
    return this.stream("threads.add_structured_input", { thread_id: threadId, item_id: itemId, input }, options);
  }
  retryAfterItem(threadId, itemId, options) {
    return this.stream("threads.retry_after_item", { thread_id: threadId, item_id: itemId }, options);
  }
  customAction(threadId, itemId, action, options) {
    return this.stream("threads.custom_action", { thread_id: threadId, item_id: itemId ?? null, action: actionBody(action) }, options);
  }

  // JSON operations.
  syncCustomAction(threadId, itemId, action, options) {
    return this.request("threads.sync_custom_action", { thread_id: threadId, item_id: itemId ?? null, action: actionBody(action) }, options);
  }
  getThread(threadId, options) {
    return this.request("threads.get_by_id", { thread_id: threadId }, options);
  }
  /** @param {PageOptions} [page] @param {RequestOptions} [options] */
  listThreads({ limit, order = "desc", after } = {}, options) {
    return this.request("threads.list", dropUndefined({ limit, order, after }), options);
  }
  updateThread(threadId, title, options) {
    return this.request("threads.update", { thread_id: threadId, title }, options);
  }
  deleteThread(threadId, options) {
    return this.request("threads.delete", { thread_id: threadId }, options);
  }
  /** @param {string} threadId @param {PageOptions} [page] @param {RequestOptions} [options] */
  listItems(threadId, { limit, order = "desc", after } = {}, options) {
    return this.request("items.list", dropUndefined({ thread_id: threadId, limit, order, after }), options);
  }
  feedback(threadId, itemIds, kind, options) {
    return this.request("items.feedback", { thread_id: threadId, item_ids: itemIds, kind }, options);
  }
  createAttachment({ name, size, mime_type }, options) {
    return this.request("attachments.create", { name, size, mime_type }, options);
  }
  /**
   * Both phases of an upload: `attachments.create`, then the file's bytes to the
   * attachment's upload_descriptor. Resolves with the attachment (send its id with the message).
   */
  async uploadAttachment(file, options) {
    const attachment = await this.createAttachment({ name: file.name, size: file.size, mime_type: file.type || "application/octet-stream" }, options);
    const descriptor = attachment.upload_descriptor;
    if (descriptor) {
      const body = new FormData();
      body.append("file", file, file.name);
      const headers = { ...(descriptor.headers || {}) };
      const token = this._headers()["X-CSRFToken"];
      if (token) headers["X-CSRFToken"] = token;
      const response = await this._fetch(descriptor.url, { method: descriptor.method || "POST", credentials: "same-origin", headers, body });
      if (!response.ok) {
        const detail = await response.json().catch(() => null);
        const message = (detail && detail.error && detail.error.message) || `Upload failed: HTTP ${response.status}`;
        throw new ChatKitError(message, { status: response.status, body: detail });
      }
    }
    return attachment;
  }
  deleteAttachment(attachmentId, options) {
    return this.request("attachments.delete", { attachment_id: attachmentId }, options);
  }
  transcribe(audioBase64, mimeType, options) {
    return this.request("input.transcribe", { audio_base64: audioBase64, mime_type: mimeType }, options);
  }
}

/** Only {type, payload} reaches the server: handler/streaming/loadingBehavior are client routing. */
export function actionBody(action) {
  return { type: action.type, payload: action.payload ?? null };
}

/**
 * Build a UserMessageInput. Accepts a string, or {text, tags, attachments, toolChoice, model,
 * quotedText}; tags are entities {id, title, data, group, interactive}. With `content` (the
 * message's parts in order, as the composer reads them) text and tags are taken from it.
 * @param {string|Record<string, any>} input
 * @returns {{content: any[], attachments: string[], inference_options: Record<string, any>, quoted_text?: string}}
 */
export function userInput(input) {
  if (typeof input === "string") input = { text: input };
  let content = input.content;
  if (!Array.isArray(content)) {
    content = [];
    for (const tag of input.tags || []) {
      content.push({
        type: "input_tag",
        id: String(tag.id),
        text: tag.text ?? tag.title ?? String(tag.id),
        data: tag.data || {},
        group: tag.group ?? null,
        interactive: Boolean(tag.interactive),
      });
    }
    if (input.text) content.push({ type: "input_text", text: input.text });
  }
  const inference_options = { ...(input.inference_options || {}) };
  if (input.toolChoice) inference_options.tool_choice = { id: input.toolChoice };
  if (input.model) inference_options.model = input.model;
  const result = { content, attachments: input.attachments || [], inference_options };
  const quoted = input.quotedText ?? input.quoted_text;
  if (quoted) result.quoted_text = quoted;
  return result;
}

function dropUndefined(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined && v !== null));
}
