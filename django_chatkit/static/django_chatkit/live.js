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
 *   {% load static %}
 *   <script src="{% static 'django_chatkit/live.js' %}"></script>
 *   <script>
 *     const live = DjangoChatKitLive.attach(document.querySelector("openai-chatkit"), {
 *       url: "/chatkit/live/",   // where chatkit_websocket_routes() is mounted
 *       refreshInterval: 500,    // ms between refreshes while another tab's answer runs
 *     });
 *     // live.stop() stops the response running in the shown thread (any tab's, any mode).
 *   </script>
 *
 * The element also receives a DOM event per socket message: "chatkit-live.subscribed",
 * "chatkit-live.run" (detail.state: started, finished, stopped, cancelled, interrupted),
 * "chatkit-live.events" and "chatkit-live.error", with the message as `detail`.
 */
(function (global) {
  "use strict";

  function socketUrl(path) {
    const url = new URL(path, global.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  function attach(element, options) {
    const settings = options || {};
    const url = socketUrl(settings.url || "/chatkit/live/");
    const refreshInterval = settings.refreshInterval == null ? 500 : settings.refreshInterval;
    let socket = null;
    let threadId = null;
    let asking = false; // this tab is streaming a response itself: the UI is already live
    let timer = null;
    let again = false;
    let closed = false;
    let backoff = 1000;

    function send(message) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    }

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

    function onMessage(event) {
      const message = JSON.parse(event.data);
      if (message.thread_id && message.thread_id !== threadId) return;
      if (message.type === "subscribed" && message.run) refresh(); // running since before this load
      else if (message.type === "events") refresh();
      else if (message.type === "run") {
        if (message.state === "started") refresh();
        else refreshNow(); // the final answer (or the kept partial one)
      }
      element.dispatchEvent(new CustomEvent("chatkit-live." + message.type, { detail: message }));
    }

    function connect() {
      socket = new WebSocket(url);
      socket.addEventListener("open", () => {
        backoff = 1000;
        if (threadId) send({ type: "subscribe", thread_id: threadId });
      });
      socket.addEventListener("message", onMessage);
      socket.addEventListener("close", (event) => {
        socket = null;
        // 4401/4403: not logged in or not allowed; reconnecting would not help.
        if (closed || event.code === 4401 || event.code === 4403) return;
        setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, 30000);
      });
    }

    element.addEventListener("chatkit.thread.change", (event) => {
      if (threadId) send({ type: "unsubscribe", thread_id: threadId });
      threadId = event.detail.threadId;
      if (threadId) send({ type: "subscribe", thread_id: threadId });
    });
    element.addEventListener("chatkit.response.start", () => {
      asking = true;
    });
    element.addEventListener("chatkit.response.end", () => {
      asking = false;
    });
    connect();

    return {
      /** Stop the response running in the shown thread (also one kept running after a reload). */
      stop() {
        if (threadId) send({ type: "stop", thread_id: threadId });
      },
      /** Follow a thread explicitly (the element's thread.change event does it otherwise). */
      follow(id) {
        if (threadId) send({ type: "unsubscribe", thread_id: threadId });
        threadId = id;
        if (threadId) send({ type: "subscribe", thread_id: threadId });
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

  global.DjangoChatKitLive = { attach };
})(window);
