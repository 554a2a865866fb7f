// Stream handling without the DOM: how one `thread.item.updated` event changes the item it
// names. The chat view applies the result and re-renders the item.

import { findComponent, replaceComponent } from "./widgets.js";

/**
 * @typedef {{type: string, text?: string, annotations?: any[]}} ContentPart
 * @typedef {{id: string, type: string, thread_id?: string, created_at?: string,
 *   content?: ContentPart[], widget?: any, workflow?: {type: string, tasks: any[], summary?: any, expanded?: boolean},
 *   image?: any, progress?: number, status?: string, attachments?: any[], quoted_text?: string|null,
 *   inference_options?: any, [key: string]: any}} ThreadItem
 */

/**
 * Apply a ThreadItemUpdate (the `update` of a `thread.item.updated` event) to `item`, in
 * place. Returns false for an update type this client does not know (nothing changed).
 * @param {ThreadItem} item
 * @param {any} update
 * @returns {boolean}
 */
export function applyItemUpdate(item, update) {
  switch (update.type) {
    case "assistant_message.content_part.added":
    case "assistant_message.content_part.done":
      item.content = item.content || [];
      item.content[update.content_index] = update.content;
      return true;
    case "assistant_message.content_part.text_delta": {
      item.content = item.content || [];
      const part = item.content[update.content_index] || (item.content[update.content_index] = { type: "output_text", text: "", annotations: [] });
      part.text = (part.text || "") + update.delta;
      return true;
    }
    case "assistant_message.content_part.annotation_added": {
      const part = item.content?.[update.content_index];
      if (part) {
        part.annotations = part.annotations || [];
        part.annotations[update.annotation_index] = update.annotation;
      }
      return true;
    }
    case "widget.root.updated":
      item.widget = update.widget;
      return true;
    case "widget.component.updated":
      replaceComponent(item.widget, update.component_id, update.component);
      return true;
    case "widget.streaming_text.value_delta": {
      const component = findComponent(item.widget, update.component_id);
      if (component) {
        component.value = (component.value || "") + update.delta;
        component.streaming = !update.done;
      }
      return true;
    }
    case "workflow.task.added":
    case "workflow.task.updated":
      item.workflow = item.workflow || { type: "custom", tasks: [] };
      item.workflow.tasks[update.task_index] = update.task;
      return true;
    case "generated_image.updated":
      item.image = update.image;
      item.progress = update.progress;
      return true;
    default:
      return false;
  }
}

/**
 * The plain text of an assistant message (what Copy puts on the clipboard).
 * @param {ThreadItem} item
 * @returns {string}
 */
export function messageText(item) {
  return (item.content || [])
    .filter((part) => !isInterruptionMarker(part))
    .map((part) => part.text || "")
    .join("\n\n");
}

/**
 * The server's marker of an answer that did not finish (its last content part), as the
 * notice to show, or null. See django_chatkit.journal.
 * @param {{content?: Array<{text?: string}>}} item
 * @returns {string | null}
 */
export function interruptionNotice(item) {
  const last = (item.content || []).at(-1);
  return last && isInterruptionMarker(last) ? INTERRUPTION_MARKERS[/** @type {string} */ (last.text)] : null;
}

/** Marker text (as stored) -> the notice shown for it. */
const INTERRUPTION_MARKERS = /** @type {Record<string, string>} */ ({
  "*(Response stopped.)*": "Response stopped.",
  "*(Response interrupted: the server stopped before it finished.)*": "Response interrupted: the server stopped before it finished.",
});

/**
 * @param {{text?: string}} part
 * @returns {boolean}
 */
export function isInterruptionMarker(part) {
  return Object.hasOwn(INTERRUPTION_MARKERS, part.text || "");
}

/**
 * Whether a scrolled box is at (or within `slack` px of) its bottom: new content then
 * keeps it there; a reader who scrolled up is left where they are.
 * @param {{scrollTop: number, scrollHeight: number, clientHeight: number}} box
 * @param {number} [slack]
 * @returns {boolean}
 */
export function isNearBottom(box, slack = 48) {
  return box.scrollHeight - box.scrollTop - box.clientHeight <= slack;
}
