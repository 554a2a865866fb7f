"""DjangoChatKitServer: feedback persisted, dictation pluggable, context builder pluggable."""

from __future__ import annotations

import base64
import json

import pytest
from chatkit.store import NotFoundError
from django.conf import settings
from django.test import override_settings

from django_chatkit import models
from django_chatkit.adopt import get_chatkit_server
from django_chatkit.context import RequestContext
from tests.support.http import PATHS, post

pytestmark = pytest.mark.django_db(transaction=True)

CREATE = {
    "type": "threads.create",
    "params": {
        "input": {"content": [{"type": "input_text", "text": "hi"}], "attachments": [], "inference_options": {}}
    },
}


async def start_thread(ctx: RequestContext) -> tuple[str, str]:
    result = await get_chatkit_server().process(json.dumps(CREATE), ctx)
    events = [json.loads(chunk[6:]) async for chunk in result]
    return events[0]["thread"]["id"], events[-1]["item"]["id"]


async def test_feedback_is_persisted_and_updated(ctx):
    server = get_chatkit_server()
    thread_id, answer = await start_thread(ctx)
    await server.add_feedback(thread_id, [answer], "positive", ctx)
    await server.add_feedback(thread_id, [answer], "negative", ctx)
    rows = [(f.item_id, f.kind, f.owner) async for f in models.Feedback.objects.all()]
    assert rows == [(answer, "negative", ctx.user_id)]


async def test_feedback_on_unknown_or_foreign_items_is_refused(ctx, other_ctx):
    server = get_chatkit_server()
    thread_id, answer = await start_thread(ctx)
    with pytest.raises(NotFoundError):
        await server.add_feedback(thread_id, ["msg_unknown"], "positive", ctx)
    with pytest.raises(NotFoundError):
        await server.add_feedback(thread_id, [answer], "positive", other_ctx)
    assert await models.Feedback.objects.acount() == 0


@pytest.mark.parametrize("transport", sorted(PATHS))
async def test_configured_transcriber_answers_input_transcribe(transport, user):
    from asgiref.sync import sync_to_async

    from tests.support.http import login_cookie

    cookie = await sync_to_async(login_cookie)(user)
    body = {
        "type": "input.transcribe",
        "params": {"audio_base64": base64.b64encode(b"hello").decode(), "mime_type": "audio/webm;codecs=opus"},
    }
    with override_settings(CHATKIT={**settings.CHATKIT, "TRANSCRIBER": "tests.transcribers.shout"}):
        status, response = await post(PATHS[transport], json.dumps(body).encode(), cookie)
    assert status == 200
    assert json.loads(response) == {"text": "HELLO (audio/webm)"}


@pytest.mark.parametrize("transport", sorted(PATHS))
async def test_context_builder_is_pluggable(transport):
    chatkit = {**settings.CHATKIT, "CONTEXT_BUILDER": "tests.transcribers.header_context"}
    with override_settings(CHATKIT=chatkit):
        status, _ = await post(PATHS[transport], json.dumps(CREATE).encode(), None, None)
    assert status == 200
    assert (await models.Thread.objects.aget()).owner == "api:nobody"


async def test_upload_over_the_limit_is_413_and_stores_nothing(user):
    from django.test import AsyncClient

    server = get_chatkit_server()
    client = AsyncClient()
    await client.aforce_login(user)
    ctx = RequestContext(user_id=f"user:{user.pk}")
    from chatkit.types import AttachmentCreateParams

    attachment = await server.attachment_store.create_attachment(
        AttachmentCreateParams(name="a.txt", size=3, mime_type="text/plain"), ctx
    )
    await server.store.save_attachment(attachment, ctx)
    with override_settings(CHATKIT={**settings.CHATKIT, "ATTACHMENT_MAX_BYTES": 4}):
        response = await client.post(
            f"/chatkit/attachments/{attachment.id}/upload/", data=b"0123456789", content_type="text/plain"
        )
    assert response.status_code == 413
    assert "limit" in response.json()["error"]["message"]
    assert not (await models.Attachment.objects.aget(attachment_id=attachment.id)).file
