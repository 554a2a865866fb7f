// Widget props and stream updates without a browser: colours, component lookup and what a
// thread.item.updated event changes in an item.
import { test } from "node:test";
import assert from "node:assert/strict";

import { resolveColor, findComponent, replaceComponent, COMPONENT_TYPES } from "../../django_chatkit/static/django_chatkit/widgets.js";
import { applyItemUpdate, isNearBottom, messageText } from "../../django_chatkit/static/django_chatkit/stream.js";
import { humanError } from "../../django_chatkit/static/django_chatkit/dom.js";
import { ChatKitError } from "../../django_chatkit/static/django_chatkit/client.js";

test("colour props: tokens become CSS variables, url() is refused", () => {
  assert.match(resolveColor("secondary"), /var\(--/);
  assert.match(resolveColor("blue-500"), /./);
  assert.ok(!String(resolveColor("url(https://evil.example/x)") ?? "").includes("url("));
});

test("the SDK's widget components are all known", () => {
  for (const type of ["Card", "ListView", "ListViewItem", "Text", "Button", "Markdown", "Form", "Select", "Chart"]) {
    assert.ok(COMPONENT_TYPES.includes(type), type);
  }
});

test("components are found and replaced by id anywhere in the tree", () => {
  const widget = { type: "Card", children: [{ type: "Row", children: [{ type: "Text", id: "t", value: "old" }] }, { type: "Box", children: { type: "Badge", id: "b", label: "x" } }] };
  assert.equal(findComponent(widget, "t").value, "old");
  assert.ok(replaceComponent(widget, "t", { type: "Text", id: "t", value: "new" }));
  assert.ok(replaceComponent(widget, "b", { type: "Badge", id: "b", label: "y" }));
  assert.equal(findComponent(widget, "t").value, "new");
  assert.equal(findComponent(widget, "b").label, "y");
  assert.equal(replaceComponent(widget, "missing", {}), false);
});

test("stream updates: text deltas, annotations, streamed widget text, tasks", () => {
  const item = { id: "m", type: "assistant_message", content: [] };
  assert.ok(applyItemUpdate(item, { type: "assistant_message.content_part.text_delta", content_index: 0, delta: "Hel" }));
  applyItemUpdate(item, { type: "assistant_message.content_part.text_delta", content_index: 0, delta: "lo" });
  applyItemUpdate(item, { type: "assistant_message.content_part.annotation_added", content_index: 0, annotation_index: 0, annotation: { source: { title: "S" } } });
  assert.equal(messageText(item), "Hello");
  assert.equal(item.content[0].annotations[0].source.title, "S");

  const widgetItem = { id: "w", type: "widget", widget: { type: "Card", children: [{ type: "Text", id: "t", value: "a", streaming: true }] } };
  applyItemUpdate(widgetItem, { type: "widget.streaming_text.value_delta", component_id: "t", delta: "b", done: true });
  assert.deepEqual(widgetItem.widget.children[0], { type: "Text", id: "t", value: "ab", streaming: false });

  const wf = { id: "f", type: "workflow" };
  applyItemUpdate(wf, { type: "workflow.task.added", task_index: 0, task: { type: "custom", title: "T" } });
  assert.equal(wf.workflow.tasks[0].title, "T");
  assert.equal(applyItemUpdate(wf, { type: "something.new" }), false);
});

test("scrolling follows only a reader at the bottom", () => {
  assert.ok(isNearBottom({ scrollTop: 560, scrollHeight: 1000, clientHeight: 400 }));
  assert.ok(!isNearBottom({ scrollTop: 100, scrollHeight: 1000, clientHeight: 400 }));
});

test("errors are worded for people, with the server's own message when it has one", () => {
  assert.equal(humanError(new TypeError("network error")), "Could not reach the server. Check your connection and try again.");
  assert.equal(humanError(new ChatKitError("Network error: Failed to fetch")), "Could not reach the server. Check your connection and try again.");
  assert.equal(humanError(new ChatKitError("tool.exe: this file type is not allowed", { status: 400 })), "tool.exe: this file type is not allowed");
  assert.match(humanError(new ChatKitError("Internal", { status: 502 })), /server had a problem/);
});
