// The demo chat page's handlers for the seed's client-side patterns: client widget
// actions, client effects and entity clicks. A classic script loaded before the chat's
// module, so window.chatkitHooks is set when the view mounts (no inline script: the page
// works under a strict Content-Security-Policy).
(function () {
  "use strict";

  const log = (text) => {
    const el = document.getElementById("demo-log");
    if (el) el.textContent = text;
  };
  // The built-in view, or the official <openai-chatkit> element (CHATKIT_CLIENT_UI=official),
  // which has sendUserMessage() itself.
  const view = () => {
    const element = document.getElementById("chatkit");
    return element.chatkit || element;
  };
  // The seed navigates to /article/<id>; the demo shows the article beside the chat.
  const articleUrl = (id) => document.body.dataset.articleUrl.replace("/0/", `/${encodeURIComponent(id)}/`);

  function panel() {
    return document.getElementById("demo-article");
  }

  function closeArticle() {
    const aside = panel();
    aside.hidden = true;
    aside.querySelector(".demo-article-body").replaceChildren();
    document.querySelector("#chatkit .ck-composer-input")?.focus();
  }

  async function openArticle(id) {
    const response = await fetch(articleUrl(id), { credentials: "same-origin" });
    if (!response.ok) return log(`Article ${id} is not available`);
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const aside = panel();
    aside.querySelector(".demo-article-body").replaceChildren(page.getElementById("article"));
    aside.hidden = false;
    aside.querySelector(".demo-article-close").focus();
    log(`Opened article ${id}`);
  }

  /** select_option: the chosen button is shown selected (local state, as in the seed). */
  function selectOption(optionId, widgetItem) {
    const widget = structuredClone(widgetItem.widget);
    const mark = (node) => {
      if (!node || typeof node !== "object") return;
      const payload = node.onClickAction && node.onClickAction.payload;
      if (node.type === "Button" && node.onClickAction && node.onClickAction.type === "select_option") {
        const chosen = payload && payload.optionId === optionId;
        node.variant = chosen ? "solid" : "outline";
        node.iconStart = chosen ? "check" : undefined;
      }
      for (const child of [].concat(node.children || [])) mark(child);
    };
    mark(widget);
    const chat = view();
    if (typeof chat.updateWidget === "function") chat.updateWidget(widgetItem.id, widget);
    log(`Selected option ${optionId}`);
  }

  window.chatkitHooks = {
    chatkit: {
      widgets: {
        onAction: async (action, widgetItem) => {
          switch (action.type) {
            case "open_article":
              await openArticle(action.payload?.id);
              break;
            case "item.select": // the article list (show_articles): the item id is the article's
              await openArticle(action.payload?.itemId);
              break;
            case "select_option":
              selectOption(action.payload?.optionId, widgetItem);
              break;
            case "more_suggestions":
              await view().sendUserMessage({ text: "More suggestions, please" });
              break;
            default:
              log(`Client action ${action.type}: ${JSON.stringify(action.payload)}`);
          }
        },
      },
      entities: {
        onClick: (entity) => {
          if (entity.data?.article_id) openArticle(entity.data.article_id);
          else log(`${entity.title} (${entity.group || "entity"})`);
        },
      },
      onClientEffect: (name, data) => log(`Effect ${name}: ${JSON.stringify(data)}`),
    },
  };

  document.addEventListener("DOMContentLoaded", () => {
    const aside = panel();
    aside.querySelector(".demo-article-close").addEventListener("click", closeArticle);
    aside.addEventListener("keydown", (e) => {
      if (e.key === "Escape") closeArticle();
    });
  });
})();
