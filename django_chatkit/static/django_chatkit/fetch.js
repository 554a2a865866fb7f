/*
 * api.fetch for OpenAI's ChatKit UI (<openai-chatkit>, useChatKit) talking to a Django
 * site: every request carries the session cookie and Django's CSRF token, read from the
 * CSRF cookie and sent as the X-CSRFToken header.
 *
 *   <script src="/static/django_chatkit/fetch.js"></script>     ({% chatkit_fetch_script %})
 *   chatkit.setOptions({ api: { url: "/chatkit/", domainKey: "...", fetch: window.djangoChatKitFetch } });
 *
 * The cookie's name comes from the script tag's data-csrf-cookie attribute (the template
 * tag sets it from settings.CSRF_COOKIE_NAME), "csrftoken" by default.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var cookieName = (script && script.dataset && script.dataset.csrfCookie) || "csrftoken";

  function csrfToken() {
    var pairs = document.cookie ? document.cookie.split(";") : [];
    for (var i = 0; i < pairs.length; i++) {
      var pair = pairs[i].trim();
      var eq = pair.indexOf("=");
      if (eq > 0 && pair.slice(0, eq) === cookieName) return decodeURIComponent(pair.slice(eq + 1));
    }
    return "";
  }

  function djangoChatKitFetch(input, init) {
    init = init || {};
    var headers = new Headers(init.headers || {});
    var token = csrfToken();
    if (token && !headers.has("X-CSRFToken")) headers.set("X-CSRFToken", token);
    return fetch(input, Object.assign({}, init, { headers: headers, credentials: init.credentials || "same-origin" }));
  }

  /** @type {any} */ (window).djangoChatKitFetch = djangoChatKitFetch;
})();
