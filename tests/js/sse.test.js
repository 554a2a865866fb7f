// The SSE parser of client.js: events reassembled from whatever pieces the network delivers.
import { test } from "node:test";
import assert from "node:assert/strict";

import { SSEParser } from "../../django_chatkit/static/django_chatkit/client.js";

/** Feed `chunks` one by one and collect every event, then the end-of-stream flush. */
function parse(chunks) {
  const parser = new SSEParser();
  const events = [];
  for (const chunk of chunks) events.push(...parser.push(chunk));
  events.push(...parser.end());
  return events;
}

test("events split anywhere across chunks come out whole and in order", () => {
  const stream = 'data: {"type":"a"}\n\ndata: {"type":"b"}\n\n';
  for (let cut = 1; cut < stream.length; cut++) {
    assert.deepEqual(parse([stream.slice(0, cut), stream.slice(cut)]), ['{"type":"a"}', '{"type":"b"}'], `cut at ${cut}`);
  }
});

test("CRLF and CR line endings, also with the pair split between chunks", () => {
  assert.deepEqual(parse(["data: one\r", "\n\r\ndata: two\r\r"]), ["one", "two"]);
  assert.deepEqual(parse(["data: x\r\n", "\r\n"]), ["x"]);
});

test("multi-line data, comments, other fields and the optional space", () => {
  assert.deepEqual(parse([": keep-alive\n\ndata:first\ndata: second\nevent: ignored\nid: 7\n\n"]), ["first\nsecond"]);
});

test("a last event without its blank line is delivered at the end", () => {
  assert.deepEqual(parse(["data: tail"]), ["tail"]);
  assert.deepEqual(parse([""]), []);
});
