// The thread admin's transcript: each widget item is shown as the user saw it, rendered by
// the app's widget renderer (widgets.js) from the JSON the server put in data-widget.
// Read-only: actions do nothing here. The text summary below each widget stays for
// readers without JavaScript.

import { renderWidget } from "./widgets.js";

export function renderTranscriptWidgets(root = document) {
  const holders = /** @type {NodeListOf<HTMLElement>} */ (root.querySelectorAll(".chatkit-transcript-widget[data-widget]"));
  for (const holder of holders) {
    let widget;
    try {
      widget = JSON.parse(holder.dataset.widget);
    } catch {
      continue;
    }
    const node = renderWidget(widget, { onAction: () => {} });
    node.setAttribute("inert", "");
    holder.replaceChildren(node);
    holder.dataset.rendered = "true";
  }
}

renderTranscriptWidgets();
