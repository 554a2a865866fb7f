// What the composer sends: the parts of a message in screen order, and the text the model
// reads from them (the SDK renders each tag as "@title" where it sits).
import { test } from "node:test";
import assert from "node:assert/strict";

import { segmentsToContent, contentText, mentionAt } from "../../django_chatkit/static/django_chatkit/composer.js";
import { userInput } from "../../django_chatkit/static/django_chatkit/client.js";

const grace = { id: "person:1", title: "Grace Hopper", group: "People", interactive: true, data: { type: "person" } };

test("text around a tag keeps its place and its spaces", () => {
  const content = segmentsToContent([{ text: "What does " }, { tag: grace }, { text: "\u00a0do?" }]);
  assert.deepEqual(content, [
    { type: "input_text", text: "What does " },
    { type: "input_tag", id: "person:1", text: "Grace Hopper", data: { type: "person" }, group: "People", interactive: true },
    { type: "input_text", text: " do?" },
  ]);
  assert.equal(contentText(content), "What does @Grace Hopper do?");
});

test("leading and trailing blanks go, runs of text merge, empty text is dropped", () => {
  const content = segmentsToContent([{ text: "  " }, { tag: grace }, { text: "\u00a0" }, { text: "" }, { text: "\n" }]);
  assert.deepEqual(content.map((p) => p.type), ["input_tag"]);
  assert.deepEqual(segmentsToContent([{ text: " a" }, { text: "\n" }, { text: "b " }]), [{ type: "input_text", text: "a\nb" }]);
});

test("two tags in a row and a tag at the start", () => {
  const ada = { id: "person:2", title: "Ada Lovelace" };
  const content = segmentsToContent([{ tag: grace }, { text: " and " }, { tag: ada }]);
  assert.equal(contentText(content), "@Grace Hopper and @Ada Lovelace");
  assert.equal(content[2].type === "input_tag" && content[2].interactive, false);
});

test("the mention being typed is found only after a space or at the start", () => {
  assert.deepEqual(mentionAt("Tell me about @Ad"), { query: "Ad", start: 14 });
  assert.deepEqual(mentionAt("@"), { query: "", start: 0 });
  assert.equal(mentionAt("mail me at me@example"), null);
  assert.equal(mentionAt("@Ada Lovelace"), null);
});

test("the composer's content goes out as is, with the tool choice", () => {
  const content = segmentsToContent([{ text: "Hi " }, { tag: grace }]);
  const input = userInput({ content, attachments: ["atc_1"], toolChoice: "event_finder" });
  assert.deepEqual(input, { content, attachments: ["atc_1"], inference_options: { tool_choice: { id: "event_finder" } } });
  assert.deepEqual(userInput("plain"), { content: [{ type: "input_text", text: "plain" }], attachments: [], inference_options: {} });
});
