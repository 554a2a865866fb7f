"""The protocol client (static/django_chatkit/client.js) in Chromium: the SSE parser
survives any chunking, and every operation works against the live server."""

from __future__ import annotations

import pytest

from tests.support.users import make_user

pytestmark = pytest.mark.browser

CHAT = "/browser/chat/"


def test_sse_parser_reassembles_events_split_at_every_position(open_page):
    page = open_page("/browser/gallery/")
    result = page.evaluate(
        """async () => {
      const { SSEParser, ChatKitClient } = await import("/static/django_chatkit/client.js");
      const events = [{ type: "a", text: "héllo ✓ 😀" }, { type: "b", n: 2 }, { type: "c", s: "x\\ny" }];
      const wire = events.map((e) => "data: " + JSON.stringify(e)).join("\\r\\n\\r\\n") + "\\r\\n\\r\\n: comment\\n\\ndata:" + JSON.stringify({ type: "d" }) + "\\n\\n";
      const expected = [...events, { type: "d" }].map((e) => JSON.stringify(e));
      const failures = [];
      // Every split of the text into two pieces, and one character at a time.
      for (let cut = 0; cut <= wire.length; cut++) {
        const p = new SSEParser();
        const got = [...p.push(wire.slice(0, cut)), ...p.push(wire.slice(cut)), ...p.end()];
        if (JSON.stringify(got) !== JSON.stringify(expected)) failures.push(cut);
      }
      const p = new SSEParser();
      const single = [];
      for (const ch of wire) single.push(...p.push(ch));
      single.push(...p.end());
      // Through the client, with the bytes split inside multi-byte characters.
      const bytes = new TextEncoder().encode(wire);
      const fakeFetch = async () => new Response(new ReadableStream({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 3) controller.enqueue(bytes.slice(i, i + 3));
          controller.close();
        },
      }), { headers: { "Content-Type": "text/event-stream" } });
      const client = new ChatKitClient({ url: "/x/", fetch: fakeFetch, csrfToken: "t" });
      const streamed = [];
      await client.stream("threads.create", {}, { onEvent: (e) => streamed.push(JSON.stringify(e)) });
      return { failures, single: JSON.stringify(single) === JSON.stringify(expected), streamed: JSON.stringify(streamed) === JSON.stringify(expected) };
    }"""
    )
    assert result == {"failures": [], "single": True, "streamed": True}


@pytest.mark.django_db(transaction=True)
def test_every_operation_against_the_live_server(open_page):
    user = make_user("browser-ops")
    page = open_page(CHAT, user)
    result = page.evaluate(
        """async () => {
      const { ChatKitClient, ChatKitError } = await import("/static/django_chatkit/client.js");
      const client = new ChatKitClient({ url: "/chatkit/" });
      const out = {};
      const collect = async (promise) => { const events = []; await promise(events); return events; };
      let events = await collect((ev) => client.createThread({ text: "first" }, { onEvent: (e) => ev.push(e) }));
      const threadId = events[0].thread.id;
      out.created = events.map((e) => e.type);
      events = await collect((ev) => client.addUserMessage(threadId, { text: "second" }, { onEvent: (e) => ev.push(e) }));
      out.added = events.some((e) => e.type === "thread.item.done" && e.item.type === "assistant_message");
      const userItem = events.find((e) => e.type === "thread.item.done" && e.item.type === "user_message").item;
      events = await collect((ev) => client.retryAfterItem(threadId, userItem.id, { onEvent: (e) => ev.push(e) }));
      out.retried = events.some((e) => e.type === "thread.item.done" && e.item.type === "assistant_message");
      events = await collect((ev) => client.addUserMessage(threadId, { text: "tool" }, { onEvent: (e) => ev.push(e) }));
      out.toolCall = events.some((e) => e.type === "thread.item.done" && e.item.type === "client_tool_call");
      events = await collect((ev) => client.addClientToolOutput(threadId, { city: "Oslo" }, { onEvent: (e) => ev.push(e) }));
      out.toolAnswered = events.filter((e) => e.type === "thread.item.done").map((e) => e.item.content?.[0]?.text).join(" ");
      events = await collect((ev) => client.addUserMessage(threadId, { text: "ask" }, { onEvent: (e) => ev.push(e) }));
      const question = events.find((e) => e.type === "thread.item.done" && e.item.type === "structured_input").item;
      events = await collect((ev) => client.addStructuredInput(threadId, question.id, { status: "answered", answers: { q1: { values: ["Oslo"] } } }, { onEvent: (e) => ev.push(e) }));
      out.structured = events.length > 0;
      events = await collect((ev) => client.addUserMessage(threadId, { text: "widget" }, { onEvent: (e) => ev.push(e) }));
      const widget = events.find((e) => e.type === "thread.item.done" && e.item.type === "widget").item;
      events = await collect((ev) => client.customAction(threadId, widget.id, { type: "test.pick", payload: { label: "x" }, handler: "server" }, { onEvent: (e) => ev.push(e) }));
      out.custom = events.map((e) => e.item?.content?.[0]?.text).filter(Boolean);
      const sync = await client.syncCustomAction(threadId, widget.id, { type: "test.pick", payload: { label: "synced" } });
      out.sync = sync.updated_item.widget.children[0].value;
      out.title = (await client.updateThread(threadId, "Ops")).title;
      out.get = (await client.getThread(threadId)).title;
      out.list = (await client.listThreads({ limit: 5 })).data.map((t) => t.id);
      const items = await client.listItems(threadId, { order: "asc", limit: 2 });
      out.items = [items.data.length, items.has_more];
      const answer = (await client.listItems(threadId, { order: "asc", limit: 50 })).data.find((i) => i.type === "assistant_message");
      await client.feedback(threadId, [answer.id], "negative");
      const attachment = await client.createAttachment({ name: "note.txt", size: 5, mime_type: "text/plain" });
      out.attachment = attachment.name;
      await client.deleteAttachment(attachment.id);
      try { await client.transcribe("AAAA", "audio/webm"); out.transcribe = "no error"; }
      catch (err) { out.transcribe = [err instanceof ChatKitError, err.status]; }
      await client.deleteThread(threadId);
      try { await client.getThread(threadId); out.afterDelete = "found"; }
      catch (err) { out.afterDelete = err.status; }
      return out;
    }"""
    )
    assert result["created"][:3] == ["thread.created", "thread.item.done", "stream_options"]
    assert result["added"] and result["retried"] and result["toolCall"] and result["structured"]
    assert "Oslo" in result["toolAnswered"]
    assert any("test.pick" in text for text in result["custom"])
    assert result["sync"] == "synced"
    assert result["title"] == result["get"] == "Ops"
    assert len(result["list"]) == 1
    assert result["items"] == [2, True]
    assert result["attachment"] == "note.txt"
    assert result["transcribe"][0] is True and result["transcribe"][1] >= 400
    assert result["afterDelete"] == 404
