/**
 * django_chatkit live sync for OpenAI's official <openai-chatkit> web component.
 *
 * The official UI only sees the responses it asked for itself. This helper follows the
 * thread the element shows over the app's live WebSocket (django_chatkit.transport.live)
 * and, while a response that this tab did not ask for is being written in it (from
 * another tab or device, or the answer that kept running after a reload under
 * CHATKIT["DISCONNECT"] = "continue"), calls the element's fetchUpdates() a few times a
 * second and once when it ends, so the transcript grows as the answer is checkpointed.
 *
 *   // an ES module: in a <script type="module" src="…"> of your own
 *   import { attach } from "{% static 'django_chatkit/live.js' %}";
 *   const live = attach(document.querySelector("openai-chatkit"), {
 *     url: "/chatkit/live/",   // where chatkit_websocket_routes() is mounted
 *     refreshInterval: 500,    // ms between refreshes while another tab's answer runs
 *   });
 *   // live.stop() stops the response running in the shown thread (any tab's, any mode).
 *
 * Loading the module also sets `window.DjangoChatKitLive = {attach, connect}` for page
 * code that is not a module.
 *
 * The element also receives a DOM event per socket message: "chatkit-live.subscribed",
 * "chatkit-live.run" (detail.state: started, finished, stopped, cancelled, interrupted),
 * "chatkit-live.events" and "chatkit-live.error", with the message as `detail`.
 */

/** @param {string} path */
function socketUrl(path) {
  const url = new URL(path, globalThis.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

/**
 * The socket alone, shared by attach() and the built-in chat view (chat.js):
 * connect({url, onMessage}) follows one thread at a time and reconnects with backoff.
 * A URL with no WebSocket route behind it (the site did not mount
 * chatkit_websocket_routes) is given up after a few failed attempts.
 * @param {{url?: string, onMessage?: (message: any) => void}} settings
 * @returns {{follow: (id: string|null) => void, stop: () => void, close: () => void, readonly threadId: string|null}}
 */
export function connect(settings) {
  const url = socketUrl(settings.url || "/chatkit/live/");
  const onMessage = settings.onMessage || (() => {});
  let socket = null;
  let threadId = null;
  let closed = false;
  let backoff = 1000;
  let opened = false; // ever connected: a later drop is worth reconnecting
  let failures = 0;

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function open() {
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      opened = true;
      failures = 0;
      backoff = 1000;
      if (threadId) send({ type: "subscribe", thread_id: threadId });
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      if (message.thread_id && message.thread_id !== threadId) return;
      onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      socket = null;
      // 4401/4403: not logged in or not allowed; reconnecting would not help.
      if (closed || event.code === 4401 || event.code === 4403) return;
      failures += 1;
      if (!opened && failures >= 3) return; // no live route here: stay quiet
      setTimeout(open, backoff);
      backoff = Math.min(backoff * 2, 30000);
    });
  }

  function follow(id) {
    if ((id || null) === threadId) return;
    if (threadId) send({ type: "unsubscribe", thread_id: threadId });
    threadId = id || null;
    if (threadId) send({ type: "subscribe", thread_id: threadId });
  }

  open();
  return {
    follow,
    /** Stop the response running in the followed thread. */
    stop() {
      if (threadId) send({ type: "stop", thread_id: threadId });
    },
    close() {
      closed = true;
      if (socket) socket.close();
    },
    get threadId() {
      return threadId;
    },
  };
}

/**
 * Follow the thread an official <openai-chatkit> element shows (see the top of this file).
 * @param {any} element
 * @param {{url?: string, refreshInterval?: number}} [options]
 */
export function attach(element, options) {
  const settings = options || {};
  const refreshInterval = settings.refreshInterval == null ? 500 : settings.refreshInterval;
  let asking = false; // this tab is streaming a response itself: the UI is already live
  let timer = null;
  let again = false;

  function refresh() {
    if (asking) return;
    if (timer) {
      again = true; // at most one refresh per interval
      return;
    }
    element.fetchUpdates();
    timer = setTimeout(() => {
      timer = null;
      if (again) {
        again = false;
        refresh();
      }
    }, refreshInterval);
  }

  function refreshNow() {
    clearTimeout(timer);
    timer = null;
    again = false;
    if (!asking) element.fetchUpdates();
  }

  function onMessage(message) {
    if (message.type === "subscribed" && message.run) refresh(); // running since before this load
    else if (message.type === "events") refresh();
    else if (message.type === "run") {
      if (message.state === "started") refresh();
      else refreshNow(); // the final answer (or the kept partial one)
    }
    element.dispatchEvent(new CustomEvent("chatkit-live." + message.type, { detail: message }));
  }

  const live = connect({ url: settings.url, onMessage });
  element.addEventListener("chatkit.thread.change", (event) => live.follow(event.detail.threadId));
  element.addEventListener("chatkit.response.start", () => {
    asking = true;
  });
  element.addEventListener("chatkit.response.end", () => {
    asking = false;
  });

  return {
    /** Stop the response running in the shown thread (also one kept running after a reload). */
    stop: live.stop,
    /** Follow a thread explicitly (the element's thread.change event does it otherwise). */
    follow: live.follow,
    close: live.close,
    get threadId() {
      return live.threadId;
    },
  };
}

/** @type {any} */ (globalThis).DjangoChatKitLive = { attach, connect };
