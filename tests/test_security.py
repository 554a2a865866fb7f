"""Attacks on a running site, each the way an outsider (or a logged-in user) would try it."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlparse

import pytest
from asgiref.sync import async_to_sync
from chatkit.types import (
    ImageAttachment,
    InferenceOptions,
    UserMessageItem,
    UserMessageTextContent,
)
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from django_chatkit import models
from django_chatkit.agents import ChatKitItemConverter
from django_chatkit.context import RequestContext
from django_chatkit.models import WidgetTemplate
from django_chatkit.widgets import WidgetDefinition, WidgetError, save_widget_definition
from tests.support.bombs import BOMBS, TEXT
from tests.support.http import PATHS, login_cookie, post

pytestmark = pytest.mark.django_db(transaction=True)

PNG = b"\x89PNG\r\n\x1a\n"


def user_input(text: str, attachments: list[str]) -> dict:
    return {"content": [{"type": "input_text", "text": text}], "attachments": attachments, "inference_options": {}}


class CountingStorage(FileSystemStorage):
    """Storage that records every file it opens (what a turn reads)."""

    opened: list[str] = []

    def _open(self, name, mode="rb"):
        CountingStorage.opened.append(name)
        return super()._open(name, mode)


def history_message(item_id: str, attachments) -> UserMessageItem:
    return UserMessageItem(
        id=item_id,
        thread_id="thr_1",
        created_at=datetime.now(),
        content=[UserMessageTextContent(text="look")],
        attachments=list(attachments),
        inference_options=InferenceOptions(),
    )


@pytest.fixture
def counting_storage(tmp_path, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "counting": {
            "BACKEND": "tests.test_security.CountingStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    settings.CHATKIT = {**settings.CHATKIT, "ATTACHMENT_STORAGE": "counting"}
    CountingStorage.opened = []
    from django.core.files.storage import storages

    storages._storages.pop("counting", None)
    return storages["counting"]


async def stored_image(storage, owner: str, attachment_id: str, size: int) -> ImageAttachment:
    name = storage.save(f"{attachment_id}.png", ContentFile(PNG + b"\0" * (size - len(PNG))))
    await models.Attachment.objects.acreate(
        attachment_id=attachment_id,
        owner=owner,
        name=f"{attachment_id}.png",
        mime_type="image/png",
        file=name,
        size=size,
        data={},
    )
    return ImageAttachment(
        id=attachment_id, name=f"{attachment_id}.png", mime_type="image/png", preview_url="http://x/p"
    )


async def test_a_turn_reads_each_attachment_of_the_history_once(counting_storage, user):
    owner = f"user:{user.pk}"
    image = await stored_image(counting_storage, owner, "atc_once", 1000)
    history = [history_message(f"msg_{i}", [image]) for i in range(5)]
    converter = ChatKitItemConverter(RequestContext(user_id=owner, user=user), owner=owner)

    agent_input = await converter.to_agent_input(history)

    assert len(CountingStorage.opened) == 1
    images = [part for message in agent_input for part in message["content"] if part["type"] == "input_image"]
    assert len(images) == 5


async def test_attachment_bytes_read_per_turn_are_bounded_newest_first(counting_storage, settings, user):
    settings.CHATKIT = {**settings.CHATKIT, "AGENT_ATTACHMENT_BYTES_PER_TURN": 1500}
    owner = f"user:{user.pk}"
    old = await stored_image(counting_storage, owner, "atc_old", 1000)
    new = await stored_image(counting_storage, owner, "atc_new", 1000)
    history = [history_message("msg_1", [old]), history_message("msg_2", [new])]
    converter = ChatKitItemConverter(RequestContext(user_id=owner, user=user), owner=owner)

    agent_input = await converter.to_agent_input(history)

    first, second = (message["content"][1] for message in agent_input)
    assert first["type"] == "input_text" and "attachment limit is used up" in first["text"]
    assert second["type"] == "input_image"
    assert CountingStorage.opened == ["atc_new.png"]


# -- JSON Schema references: never fetched -----------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[str, list]]:
    """A TCP listener on 127.0.0.1 that records every connection made to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.05)
    connections: list = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            connections.append(conn.recv(1024))
            conn.sendall(b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"SecretAccessKey": "s3cr3t"}')
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", connections
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()


CARD = '{"type": "Card", "children": [{"type": "Text", "value": {{ key|tojson }}}]}'


def remote_schema(url: str) -> dict:
    return {"type": "object", "properties": {"key": {"$ref": f"{url}/creds#/SecretAccessKey"}}}


def widget_form(schema: dict) -> dict:
    return {
        "name": "creds",
        "title": "",
        "description": "",
        "template": CARD,
        "json_schema": json.dumps(schema),
        "sample_data": json.dumps({"key": "x"}),
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }


def test_remote_ref_is_refused_in_the_admin_and_nothing_is_fetched(admin_client, listener):
    url, connections = listener
    response = admin_client.post(reverse("admin:django_chatkit_widgettemplate_add"), widget_form(remote_schema(url)))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["json_schema"]
    assert any("does not point inside this schema" in message for message in errors), errors
    assert not WidgetTemplate.objects.exists()
    assert connections == []


def test_remote_ref_is_refused_at_widget_import_and_nothing_is_fetched(admin_client, listener):
    url, connections = listener
    document = {
        "version": "1.0",
        "name": "creds",
        "template": CARD,
        "jsonSchema": remote_schema(url),
        "sampleData": {"key": "x"},
    }
    response = admin_client.post(
        reverse("admin:django_chatkit_widgettemplate_import"),
        {"files": [SimpleUploadedFile("creds.widget", json.dumps(document).encode())]},
        follow=True,
    )
    messages = [str(message) for message in response.context["messages"]]
    assert any("does not point inside this schema" in message for message in messages), messages
    assert not WidgetTemplate.objects.exists()
    assert connections == []


@pytest.mark.parametrize("kind", ["remote", "dangling"])
def test_unresolvable_ref_is_refused_by_the_preview_api(admin_client, listener, kind):
    url, connections = listener
    schema = remote_schema(url) if kind == "remote" else {"properties": {"key": {"$ref": "#/$defs/missing"}}}
    response = admin_client.post(
        reverse("django_chatkit_api:widget-template-preview"),
        data=json.dumps({"template": CARD, "jsonSchema": schema, "data": {"key": "x"}}),
        content_type="application/json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "json_schema"
    assert "does not point inside this schema" in body["detail"]
    assert "s3cr3t" not in response.content.decode()
    assert connections == []


def test_local_refs_still_work(admin_client):
    schema = {"$defs": {"key": {"type": "string"}}, "properties": {"key": {"$ref": "#/$defs/key"}}}
    preview = reverse("django_chatkit_api:widget-template-preview")
    good = admin_client.post(
        preview,
        data=json.dumps({"template": CARD, "jsonSchema": schema, "data": {"key": "x"}}),
        content_type="application/json",
    )
    assert good.status_code == 200, good.content
    bad = admin_client.post(
        preview,
        data=json.dumps({"template": CARD, "jsonSchema": schema, "data": {"key": 3}}),
        content_type="application/json",
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["path"] == "$.key"


# -- template bombs: bounded renders, refused with a message ---------------------------------------


def preview(client, template: str, schema: dict | None = None, data: dict | None = None):
    return client.post(
        reverse("django_chatkit_api:widget-template-preview"),
        data=json.dumps({"template": template, "jsonSchema": schema or {}, "data": data or {}}),
        content_type="application/json",
    )


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_template_bombs_are_refused_by_the_preview_api(admin_client, bomb):
    template, reason = BOMBS[bomb]
    response = preview(admin_client, template)
    assert response.status_code == 400, response.content[:300]
    assert reason in response.json()["detail"]


def test_a_render_is_stopped_at_its_time_limit(admin_client, settings):
    settings.CHATKIT = {**settings.CHATKIT, "WIDGET_RENDER_TIMEOUT": 0.05, "WIDGET_RENDER_MAX_ITERATIONS": 10**9}
    template, _ = BOMBS["nested loops of 5e8"]
    response = preview(admin_client, template)
    assert response.status_code == 400
    assert "the render took longer than 0.05 s" in response.json()["detail"]


def test_a_backtracking_pattern_is_matched_in_linear_time(admin_client):
    schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}}
    response = preview(admin_client, TEXT % "{{ s|tojson }}", schema, {"s": "a" * 28 + "!"})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"path": "$.s", "message": f"'{'a' * 28}!' does not match '^(a+)+$'"}]
    assert preview(admin_client, TEXT % "{{ s|tojson }}", schema, {"s": "a" * 28}).status_code == 200


def test_a_pattern_the_linear_engine_cannot_run_is_refused(admin_client):
    schema = {"type": "object", "patternProperties": {"^(x)\\1$": {"type": "string"}}}
    response = preview(admin_client, TEXT % '"x"', schema, {})
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "json_schema"
    assert body["errors"][0]["path"] == "$.patternProperties"
    assert "linear-time regex engine" in body["errors"][0]["message"]


def test_the_admin_refuses_a_template_whose_sample_render_is_a_bomb(admin_client):
    template, _ = BOMBS["recursive macro"]
    form = {**widget_form({}), "template": template, "sample_data": "{}"}
    response = admin_client.post(reverse("admin:django_chatkit_widgettemplate_add"), form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["template"]
    assert any("nest over 30 deep" in message for message in errors), errors
    assert not WidgetTemplate.objects.exists()


@pytest.fixture
def staff_member(django_user_model):
    return django_user_model.objects.create_user(username="staff", password="pw", is_staff=True)


def grant(user, *codenames: str):
    from django.contrib.auth.models import Permission

    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="django_chatkit", codename__in=codenames)
    )


def test_the_widget_api_needs_the_widget_template_permissions(client, staff_member):
    save_widget_definition(WidgetDefinition(name="hello", template=TEXT % '"hi"'))
    client.force_login(staff_member)
    listing = reverse("django_chatkit_api:widget-template-list")
    render = reverse("django_chatkit_api:widget-template-render", kwargs={"name": "hello"})
    assert client.get(listing).status_code == 403
    assert client.post(render, data="{}", content_type="application/json").status_code == 403
    assert preview(client, TEXT % '"hi"').status_code == 403

    grant(staff_member, "view_widgettemplate")
    assert [t["name"] for t in client.get(listing).json()] == ["hello"]
    assert client.post(render, data="{}", content_type="application/json").status_code == 200
    assert preview(client, TEXT % '"hi"').status_code == 403  # previewing source is editing

    grant(staff_member, "change_widgettemplate")
    assert preview(client, TEXT % '"hi"').status_code == 200


def test_the_widget_api_refuses_http_basic_passwords(client, staff_member):
    import base64

    grant(staff_member, "view_widgettemplate")
    token = base64.b64encode(b"staff:pw").decode()
    response = client.get(reverse("django_chatkit_api:widget-template-list"), HTTP_AUTHORIZATION=f"Basic {token}")
    assert response.status_code == 403


async def test_a_slow_render_does_not_hold_up_the_event_loop(settings):
    import asyncio

    settings.CHATKIT = {**settings.CHATKIT, "WIDGET_RENDER_TIMEOUT": 0.5, "WIDGET_RENDER_MAX_ITERATIONS": 10**9}
    template, _ = BOMBS["nested loops of 5e8"]
    definition = WidgetDefinition(name="slow", template=template)
    ticks = 0

    async def other_stream() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    other = asyncio.create_task(other_stream())
    try:
        with pytest.raises(WidgetError, match="took longer than 0.5 s"):
            await definition.arender({})
        assert ticks >= 5  # the other task kept running while the template rendered
    finally:
        other.cancel()


# -- the live WebSocket: the full origin is checked ------------------------------------------------


async def live_socket(user, origin: str | None, *, host: str = "testserver:8000", scheme: str = "ws"):
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator

    from tests.asgi import application
    from tests.support.http import session_cookies

    cookies = await sync_to_async(session_cookies)(user)
    headers = [(b"host", host.encode()), (b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    socket = WebsocketCommunicator(application, "/chatkit/live/", headers=headers)
    socket.scope["scheme"] = scheme
    connected, _ = await socket.connect()
    return socket, connected


async def own_thread(user) -> str:
    await models.Thread.objects.acreate(
        thread_id="thr_live",
        owner=f"user:{user.pk}",
        created_at_us=0,
        data={"id": "thr_live", "created_at": "2026-01-01T00:00:00", "status": {"type": "active"}, "metadata": {}},
    )
    return "thr_live"


@pytest.mark.parametrize(
    "origin, scheme",
    [
        ("http://testserver:3000", "ws"),  # another port of the same host
        ("https://testserver:8000", "ws"),  # another scheme
        ("http://testserver:8000", "wss"),  # a plain-http page opening the site's wss socket
        ("http://evil.example:8000", "ws"),  # a foreign host
        ("null", "ws"),  # a sandboxed frame or a file
    ],
)
async def test_a_cross_origin_live_socket_is_refused_before_accept(user, origin, scheme):
    socket, connected = await live_socket(user, origin, scheme=scheme)
    assert not connected
    await socket.disconnect()


async def test_a_same_origin_live_socket_follows_the_users_thread(user):
    thread_id = await own_thread(user)
    socket, connected = await live_socket(user, "http://testserver:8000")
    assert connected
    await socket.send_json_to({"type": "subscribe", "thread_id": thread_id})
    assert (await socket.receive_json_from(timeout=5))["type"] == "subscribed"
    await socket.disconnect()
    secure, connected = await live_socket(user, "https://testserver", host="testserver", scheme="wss")
    assert connected
    await secure.disconnect()


async def test_a_front_end_origin_in_csrf_trusted_origins_may_open_the_live_socket(user, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com", "https://*.preview.example.com"]
    for origin in ("https://app.example.com", "https://pr-7.preview.example.com"):
        socket, connected = await live_socket(user, origin)
        assert connected, origin
        await socket.disconnect()
    socket, connected = await live_socket(user, "http://app.example.com")
    assert not connected
    await socket.disconnect()


# -- uploads: exact MIME types, files served so they never run ------------------------------------


def chatkit(client, op: str, params: dict):
    return client.post("/chatkit/", data=json.dumps({"type": op, "params": params}), content_type="application/json")


@pytest.fixture
def alice_client(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "mime_type",
    [
        "image/svg+xml",
        "image/png,text/html",
        "image/x;text/html",
        "image/../text/html",
        "image/png\r\nX-Injected: 1",
        "image/png; charset=utf-8",
        "image/ png",
        "image/",
        "image/*",
        "text/html",
        "image/x-" + "a" * 300,
    ],
)
def test_mime_tricks_are_refused_at_attachments_create(alice_client, mime_type):
    response = chatkit(alice_client, "attachments.create", {"name": "a.png", "size": 10, "mime_type": mime_type})
    assert response.status_code == 400, response.content
    assert "mime" in response.json()["error"]["message"].lower() or "not allowed" in response.json()["error"]["message"]
    assert not models.Attachment.objects.exists()


def test_an_exact_entry_allows_a_type_a_wildcard_does_not(alice_client, settings):
    settings.CHATKIT = {**settings.CHATKIT, "ATTACHMENT_ALLOWED_MIME_TYPES": ["image/*", "image/svg+xml"]}
    assert (
        chatkit(
            alice_client, "attachments.create", {"name": "a.svg", "size": 1, "mime_type": "image/svg+xml"}
        ).status_code
        == 200
    )
    assert (
        chatkit(alice_client, "attachments.create", {"name": "a.png", "size": 1, "mime_type": "image/PNG"}).json()[
            "mime_type"
        ]
        == "image/png"
    )


@pytest.mark.parametrize("name", ["a\x00.png", "a" * 256 + ".png", "../a.png", "a\nb.png"])
def test_bad_file_names_are_refused_at_attachments_create(alice_client, name):
    response = chatkit(alice_client, "attachments.create", {"name": name, "size": 1, "mime_type": "image/png"})
    assert response.status_code == 400
    assert "name" in response.json()["error"]["message"]
    assert not models.Attachment.objects.exists()


def uploaded(client, name: str, mime_type: str, body: bytes) -> dict:
    created = chatkit(client, "attachments.create", {"name": name, "size": len(body), "mime_type": mime_type}).json()
    response = client.post(urlparse(created["upload_descriptor"]["url"]).path, data=body, content_type=mime_type)
    assert response.status_code == 200, response.content
    return created


POLYGLOT = PNG + b"<html><script>alert(document.cookie)</script></html>"


def test_a_polyglot_uploaded_as_png_is_served_as_a_sandboxed_png(alice_client):
    created = uploaded(alice_client, "x.png", "image/png", POLYGLOT)
    for url in (created["preview_url"], f"/chatkit/attachments/{created['id']}/"):
        response = alice_client.get(urlparse(url).path)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"].startswith("sandbox")
    download = alice_client.get(f"/chatkit/attachments/{created['id']}/")
    assert download["Content-Disposition"].startswith("attachment")


def test_a_file_that_is_not_a_raster_image_is_always_a_download(alice_client, settings):
    settings.CHATKIT = {**settings.CHATKIT, "ATTACHMENT_ALLOWED_MIME_TYPES": ["image/svg+xml", "text/plain"]}
    svg = uploaded(
        alice_client, "x.svg", "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>"
    )
    assert "preview_url" not in svg or not svg.get("preview_url")
    response = alice_client.get(f"/chatkit/attachments/{svg['id']}/preview/")
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Security-Policy"].startswith("sandbox")


async def read(response) -> bytes:
    return b"".join([chunk async for chunk in response.streaming_content])


@pytest.fixture
async def alice_async(async_client, user):
    await async_client.aforce_login(user)
    return async_client


async def send_with(client, attachment_id: str) -> str:
    response = await client.post(
        "/chatkit/",
        data=json.dumps({"type": "threads.create", "params": {"input": user_input("see", [attachment_id])}}),
        content_type="application/json",
    )
    events = [
        json.loads(line[6:]) for line in (await read(response)).decode().split("\n\n") if line.startswith("data: ")
    ]
    assert events[-1]["type"] != "error", events[-1]
    return events[0]["thread"]["id"]


async def test_a_sent_attachment_cannot_be_replaced(alice_async, user):
    from asgiref.sync import sync_to_async

    created = await sync_to_async(upload_as)(user, "notes.txt", "text/plain", b"original")
    await send_with(alice_async, created["id"])
    upload_path = urlparse(created["upload_descriptor"]["url"]).path
    replaced = await alice_async.post(upload_path, data=b"changed", content_type="text/plain")
    assert replaced.status_code == 400
    assert "sent in a message" in replaced.json()["error"]["message"]
    download = await alice_async.get(f"/chatkit/attachments/{created['id']}/")
    assert download.getvalue() == b"original"


def upload_as(user, name: str, mime_type: str, body: bytes) -> dict:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return uploaded(client, name, mime_type, body)


async def test_deleting_a_thread_deletes_its_attachments(alice_async, user):
    from asgiref.sync import sync_to_async

    from django_chatkit.store import attachment_storage

    created = await sync_to_async(upload_as)(user, "notes.txt", "text/plain", b"secret words")
    thread_id = await send_with(alice_async, created["id"])
    stored = (await models.Attachment.objects.aget()).file.name
    assert attachment_storage().exists(stored)

    deleted = await alice_async.post(
        "/chatkit/",
        data=json.dumps({"type": "threads.delete", "params": {"thread_id": thread_id}}),
        content_type="application/json",
    )
    assert deleted.status_code == 200
    assert (await alice_async.get(f"/chatkit/attachments/{created['id']}/")).status_code == 404
    assert not await models.Attachment.objects.aexists()
    assert not attachment_storage().exists(stored)


# -- input bounds: hostile strings and integers in every field of every op -----------------------------

THREAD, ITEM, ATTACHMENT = "thr_fuzz", "msg_fuzz", "atc_fuzz"
MESSAGE = {"content": [{"type": "input_text", "text": "hi"}], "attachments": [], "inference_options": {}}
#: A valid request per op, and the paths of its string and integer fields.
TEMPLATES = {
    "threads.create": (
        {"input": MESSAGE},
        ["input.content.0.text", "input.quoted_text", "input.inference_options.model"],
        [],
    ),
    "threads.add_user_message": (
        {"thread_id": THREAD, "input": MESSAGE},
        ["thread_id", "input.content.0.text", "input.attachments.0"],
        [],
    ),
    "threads.add_client_tool_output": ({"thread_id": THREAD, "result": {"k": "v"}}, ["thread_id", "result.k"], []),
    "threads.add_structured_input": (
        {"thread_id": THREAD, "item_id": ITEM, "input": {"answers": {"q": {"values": ["a"]}}}},
        ["thread_id", "item_id", "input.answers.q.values.0"],
        [],
    ),
    "threads.retry_after_item": ({"thread_id": THREAD, "item_id": ITEM}, ["thread_id", "item_id"], []),
    "threads.custom_action": (
        {"thread_id": THREAD, "item_id": ITEM, "action": {"type": "x", "payload": {"k": "v"}}},
        ["thread_id", "item_id", "action.type", "action.payload.k"],
        [],
    ),
    "threads.sync_custom_action": (
        {"thread_id": THREAD, "item_id": ITEM, "action": {"type": "x", "payload": {}}},
        ["thread_id", "item_id", "action.type"],
        [],
    ),
    "threads.get_by_id": ({"thread_id": THREAD}, ["thread_id"], []),
    "threads.list": ({"limit": 5, "after": THREAD, "order": "desc"}, ["after", "order"], ["limit"]),
    "threads.update": ({"thread_id": THREAD, "title": "t"}, ["thread_id", "title"], []),
    "threads.delete": ({"thread_id": THREAD}, ["thread_id"], []),
    "items.list": (
        {"thread_id": THREAD, "limit": 5, "after": ITEM, "order": "asc"},
        ["thread_id", "after", "order"],
        ["limit"],
    ),
    "items.feedback": (
        {"thread_id": THREAD, "item_ids": [ITEM], "kind": "positive"},
        ["thread_id", "item_ids.0", "kind"],
        [],
    ),
    "attachments.create": ({"name": "a.txt", "size": 3, "mime_type": "text/plain"}, ["name", "mime_type"], ["size"]),
    "attachments.delete": ({"attachment_id": ATTACHMENT}, ["attachment_id"], []),
    "input.transcribe": ({"audio_base64": "AAAA", "mime_type": "audio/webm"}, ["audio_base64", "mime_type"], []),
}
FIELDS = [(op, "s", path) for op, (_, strings, _) in TEMPLATES.items() for path in strings] + [
    (op, "i", path) for op, (_, _, integers) in TEMPLATES.items() for path in integers
]
hostile_strings = st.one_of(
    st.text(min_size=1, max_size=30).map(lambda text: text[:5] + "\x00" + text[5:]),
    st.text(alphabet=st.characters(max_codepoint=31), min_size=1, max_size=30),
    st.sampled_from(["\ud800", "a\udfffb", "x" * 10_000, "x" * 1025, "x" * 256, "\x7f\x1b[31m", "../../etc/passwd"]),
    st.text(max_size=50),
)
hostile_integers = st.one_of(
    st.sampled_from([10**30, 2**63, 2**63 - 1, -(2**63), -1, 0, 2**31, 2**53 + 1]),
    st.integers(),
)
DATABASE_WORDS = ("psycopg", "postgres", "sqlite", "violates", "0x00", "out of range", "Traceback", "Error:")


def put(document: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for part in parents:
        document = document[int(part)] if isinstance(document, list) else document[part]
    if isinstance(document, list):
        document[int(last) : int(last) + 1] = [value]
    else:
        document[last] = value


def fuzz_rows(user) -> None:
    owner = f"user:{user.pk}"
    if not models.Thread.objects.filter(thread_id=THREAD).exists():
        models.Thread.objects.create(
            thread_id=THREAD,
            owner=owner,
            created_at_us=0,
            data={"id": THREAD, "created_at": "2026-01-01T00:00:00", "status": {"type": "active"}, "metadata": {}},
        )
        models.ThreadItem.objects.create(
            thread_id=THREAD,
            item_id=ITEM,
            owner=owner,
            type="user_message",
            created_at_us=1,
            data={
                "id": ITEM,
                "thread_id": THREAD,
                "created_at": "2026-01-01T00:00:00",
                "type": "user_message",
                "content": [{"type": "input_text", "text": "hi"}],
                "attachments": [],
                "inference_options": {},
            },
        )


def table_counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (models.Thread, models.ThreadItem, models.Attachment, models.Feedback))


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    field=st.sampled_from(FIELDS),
    text=hostile_strings,
    number=hostile_integers,
    transport=st.sampled_from(["consumer", "view"]),
)
def test_hostile_strings_and_integers_in_any_field_never_500_and_refusals_never_write(
    user, field, text, number, transport
):
    fuzz_rows(user)
    op, kind, path = field
    params = json.loads(json.dumps(TEMPLATES[op][0]))
    put(params, path, text if kind == "s" else number)
    body = json.dumps({"type": op, "params": params}).encode()
    before = table_counts()
    status, response = async_to_sync(post)(PATHS[transport], body, login_cookie(user))
    assert status < 500 or status == 501, (op, path, status, response[:300])
    if status != 200:
        assert table_counts() == before, (op, path, status, response[:300])
        assert "message" in json.loads(response)["error"]
    assert not any(word.encode() in response for word in DATABASE_WORDS), (op, path, response[:500])


@pytest.mark.parametrize(
    "op, params, field",
    [
        ("threads.list", {"limit": 10**30}, "params.limit"),
        ("threads.list", {"limit": 2**63}, "params.limit"),
        ("items.list", {"thread_id": THREAD, "limit": 2**63}, "params.limit"),
        ("threads.get_by_id", {"thread_id": "thr_\x00"}, "params.thread_id"),
        ("threads.update", {"thread_id": THREAD, "title": "a\x00b"}, "params.title"),
        ("threads.update", {"thread_id": THREAD, "title": "t" * 1025}, "params.title"),
        ("attachments.create", {"name": "n" * 1025, "size": 1, "mime_type": "text/plain"}, "params.name"),
        (
            "threads.create",
            {"input": {**MESSAGE, "content": [{"type": "input_text", "text": "a\x00"}]}},
            "params.input.content[0].text",
        ),
    ],
)
def test_out_of_bounds_input_is_a_400_naming_the_field_and_writes_nothing(alice_client, user, op, params, field):
    fuzz_rows(user)
    before = table_counts()
    title = models.Thread.objects.get(thread_id=THREAD).title
    response = chatkit(alice_client, op, params)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["message"]
    assert table_counts() == before
    assert models.Thread.objects.get(thread_id=THREAD).title == title


def test_a_form_body_of_more_than_1000_fields_is_a_json_400(alice_client):
    from django.test import Client

    body = "&".join(f"f{i}=x" for i in range(1500))
    client = Client(enforce_csrf_checks=True)
    client.cookies = alice_client.cookies
    client.cookies["csrftoken"] = "A" * 32
    response = client.post("/chatkit/", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "too many fields" in response.json()["error"]["message"]


def test_a_raw_upload_over_2_5_mb_under_the_limit_is_stored(alice_client):
    body = b"x" * (3 * 1024 * 1024)
    created = uploaded(alice_client, "big.txt", "text/plain", body)
    assert b"".join(alice_client.get(f"/chatkit/attachments/{created['id']}/")) == body


def test_an_over_limit_upload_is_a_json_413_whatever_the_framing(live_daphne, user):
    alice = live_daphne.client(user)
    created = alice.call("attachments.create", {"name": "big.txt", "size": 1, "mime_type": "text/plain"})
    path = urlparse(created["upload_descriptor"]["url"]).path
    limit = 10 * 1024 * 1024

    def chunks():
        for _ in range(11):
            yield b"x" * (1024 * 1024)

    chunked = alice.http.post(path, content=chunks(), headers={"Content-Type": "text/plain"})
    assert chunked.status_code == 413
    assert f"{limit}-byte" in chunked.json()["error"]["message"]
    declared = alice.http.post(path, content=b"x" * (limit + 100 * 1024), headers={"Content-Type": "text/plain"})
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "payload_too_large"


# -- limits per user and per process ---------------------------------------------------------------


@pytest.fixture
def fresh_limits():
    from django_chatkit import limits

    limits.reset()
    yield
    limits.reset()


async def test_requests_over_the_rate_limit_get_a_429_with_retry_after(user, other_user, settings, fresh_limits):
    from tests.support.runs import send

    settings.CHATKIT = {**settings.CHATKIT, "RATE_LIMIT_PER_MINUTE": 3}
    for _ in range(3):
        assert (await send(user, "threads.list", {})).status == 200
    refused = await send(user, "threads.list", {})
    assert refused.status == 429
    assert json.loads(refused.body)["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert (await send(other_user, "threads.list", {})).status == 200  # another user is not held up


async def test_streams_over_the_per_user_limit_get_a_429(user, other_user, gated, fresh_limits):
    from tests.support.runs import Reader, send, start, text_input

    with override_settings(CHATKIT={**django_settings.CHATKIT, "MAX_STREAMS_PER_USER": 1}):
        first = await start(user, "one two")
        refused = await send(user, "threads.create", {"input": text_input("more")})
        assert refused.status == 429
        assert json.loads(refused.body)["error"]["code"] == "too_many_streams"
        assert refused.headers["Retry-After"]
        assert await models.Thread.objects.acount() == 1  # nothing written for the refused one
        other = await start(other_user, "hello")  # another user streams meanwhile
        gated.release(3)
        await first.to_end()
        await other.to_end()
        again = Reader(await send(user, "threads.create", {"input": text_input("again")}))
        gated.release(1)
        assert any(e["type"] == "thread.item.done" for e in await again.to_end())


async def test_streams_over_the_per_process_limit_get_a_429(user, other_user, gated, fresh_limits):
    from tests.support.runs import send, start, text_input

    with override_settings(CHATKIT={**django_settings.CHATKIT, "MAX_STREAMS_PER_PROCESS": 1}):
        first = await start(user, "one")
        refused = await send(other_user, "threads.create", {"input": text_input("me too")})
        assert refused.status == 429 and "too many requests" in json.loads(refused.body)["error"]["message"]
        gated.release(1)
        await first.to_end()


async def test_live_sockets_over_the_per_user_limit_are_closed_with_an_error(user, settings, fresh_limits):
    settings.CHATKIT = {**settings.CHATKIT, "MAX_LIVE_SOCKETS_PER_USER": 2}
    sockets = []
    for _ in range(2):
        socket, connected = await live_socket(user, "http://testserver:8000")
        assert connected
        sockets.append(socket)
    extra, connected = await live_socket(user, "http://testserver:8000")
    message = await extra.receive_json_from(timeout=5)
    assert message["code"] == "too_many_sockets"
    assert (await extra.receive_output(timeout=5))["code"] == 4429
    await sockets.pop().disconnect()
    again, connected = await live_socket(user, "http://testserver:8000")
    await again.send_json_to({"type": "subscribe", "thread_id": "thr_none"})
    assert (await again.receive_json_from(timeout=5))["code"] == "not_found"  # a working socket
    for socket in (*sockets, again):
        await socket.disconnect()


def test_attachments_over_the_per_user_count_and_bytes_get_a_429(alice_client, settings):
    settings.CHATKIT = {**settings.CHATKIT, "ATTACHMENT_MAX_PER_USER": 2, "ATTACHMENT_MAX_BYTES_PER_USER": 100}
    first = uploaded(alice_client, "a.txt", "text/plain", b"x" * 95)
    too_big = chatkit(alice_client, "attachments.create", {"name": "b.txt", "size": 10, "mime_type": "text/plain"})
    assert too_big.status_code == 429 and too_big.json()["error"]["code"] == "attachment_quota"
    second = chatkit(alice_client, "attachments.create", {"name": "b.txt", "size": 5, "mime_type": "text/plain"}).json()
    too_many = chatkit(alice_client, "attachments.create", {"name": "c.txt", "size": 1, "mime_type": "text/plain"})
    assert too_many.status_code == 429
    assert "2 attachments" in too_many.json()["error"]["message"]
    # The bytes that arrive count, whatever size was declared.
    upload = alice_client.post(
        urlparse(second["upload_descriptor"]["url"]).path, data=b"x" * 6, content_type="text/plain"
    )
    assert upload.status_code == 429
    chatkit(alice_client, "attachments.delete", {"attachment_id": first["id"]})
    assert (
        chatkit(alice_client, "attachments.create", {"name": "c.txt", "size": 1, "mime_type": "text/plain"}).status_code
        == 200
    )


async def test_attachments_created_at_once_stop_at_the_per_user_count(user, settings, fresh_limits):
    import asyncio

    from tests.support.runs import send

    settings.CHATKIT = {**settings.CHATKIT, "ATTACHMENT_MAX_PER_USER": 3}
    create = {"name": "a.txt", "size": 1, "mime_type": "text/plain"}
    answers = await asyncio.gather(*(send(user, "attachments.create", create) for _ in range(10)))
    assert sorted(answer.status for answer in answers) == [200] * 3 + [429] * 7
    assert await models.Attachment.objects.filter(owner=f"user:{user.pk}").acount() == 3


async def test_a_request_cancelled_while_it_waits_gives_its_stream_back(user, gated, fresh_limits):
    import asyncio

    from tests.support.runs import Reader, send, start, text_input

    with override_settings(CHATKIT={**django_settings.CHATKIT, "MAX_STREAMS_PER_USER": 2}):
        first = await start(user, "one two")
        waiting = asyncio.create_task(  # the thread is busy: this one waits for the running answer
            send(user, "threads.add_user_message", {"thread_id": first.thread_id(), "input": text_input("next")})
        )
        await asyncio.sleep(0.2)
        waiting.cancel()  # its client went away
        with pytest.raises(asyncio.CancelledError):
            await waiting
        other = Reader(await send(user, "threads.create", {"input": text_input("other")}))  # the second slot is free
        gated.release(3)
        await first.to_end()
        assert any(e["type"] == "thread.item.done" for e in await other.to_end())


async def test_uploads_sent_at_once_stop_at_the_per_user_byte_limit(alice_async, user, settings, fresh_limits):
    """Five uploads of 1,000 bytes at once against a 3,000-byte quota: the quota holds (the
    count and the file it admits are one step per user), and the refused get the 429."""
    import asyncio

    from tests.support.runs import call

    settings.CHATKIT = {**settings.CHATKIT, "ATTACHMENT_MAX_BYTES_PER_USER": 3000}
    created = [
        await call(user, "attachments.create", {"name": f"{n}.txt", "size": 1, "mime_type": "text/plain"})
        for n in range(5)
    ]
    paths = [urlparse(attachment["upload_descriptor"]["url"]).path for attachment in created]
    answers = await asyncio.gather(
        *(alice_async.post(path, data=b"x" * 1000, content_type="text/plain") for path in paths)
    )
    refused = [answer for answer in answers if answer.status_code != 200]
    assert refused and all(answer.status_code == 429 for answer in refused), [a.status_code for a in answers]
    assert all(answer.json()["error"]["code"] == "attachment_quota" for answer in refused)
    stored = [
        size async for size in models.Attachment.objects.filter(owner=f"user:{user.pk}").values_list("size", flat=True)
    ]
    assert sum(stored) <= 3000, stored
