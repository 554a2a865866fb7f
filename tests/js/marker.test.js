import assert from "node:assert/strict";
import { test } from "node:test";

import { interruptionNotice, isInterruptionMarker, messageText } from "../../django_chatkit/static/django_chatkit/stream.js";

const stopped = { type: "output_text", text: "*(Response stopped.)*", annotations: [] };
const cut = { type: "output_text", text: "*(Response interrupted: the server stopped before it finished.)*", annotations: [] };

test("the interruption marker is a notice, not answer text", () => {
  const item = { content: [{ type: "output_text", text: "You said: hel", annotations: [] }, stopped] };
  assert.equal(messageText(item), "You said: hel");
  assert.equal(interruptionNotice(item), "Response stopped.");
  assert.equal(interruptionNotice({ content: [cut] }), "Response interrupted: the server stopped before it finished.");
});

test("an answer that finished has no notice, and text that only looks alike is kept", () => {
  const item = { content: [{ type: "output_text", text: "(Response stopped.)", annotations: [] }] };
  assert.equal(interruptionNotice(item), null);
  assert.equal(messageText(item), "(Response stopped.)");
  assert.equal(isInterruptionMarker({ text: "*(Response stopped.)* and more" }), false);
  assert.equal(interruptionNotice({ content: [] }), null);
});
