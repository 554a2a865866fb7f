"""Bad input gets a clear status and JSON message, through both transports, and writes nothing."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import HttpCommunicator
from django.conf import settings
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from django_chatkit import models
from django_chatkit.exceptions import Forbidden
from tests.asgi import application
from tests.support.http import CSRF_SECRET, PATHS, login_cookie, post

pytestmark = pytest.mark.django_db(transaction=True)

OPS = [
    "threads.create",
    "threads.add_user_message",
    "threads.add_client_tool_output",
    "threads.add_structured_input",
    "threads.retry_after_item",
    "threads.custom_action",
    "threads.get_by_id",
    "threads.list",
    "threads.update",
    "threads.delete",
    "items.list",
    "items.feedback",
    "attachments.create",
    "attachments.delete",
    "input.transcribe",
    "threads.sync_custom_action",
]


def error_of(body: bytes) -> dict:
    return json.loads(body)["error"]


@pytest.fixture(params=list(PATHS))
def path(request) -> str:
    return PATHS[request.param]


@pytest.fixture
async def cookie(user):
    return await sync_to_async(login_cookie)(user)


async def test_malformed_json_is_400(path, cookie):
    status, body = await post(path, b'{"type": "threads.list", ', cookie)
    assert status == 400 and error_of(body)["code"] == "invalid_json"


async def test_unknown_op_is_400_naming_the_problem(path, cookie):
    status, body = await post(path, json.dumps({"type": "threads.explode", "params": {}}).encode(), cookie)
    assert status == 400
    message = error_of(body)["message"]
    assert "'threads.explode'" in message and "'threads.create'" in message, message  # the op, and what exists


async def test_invalid_params_are_400_naming_the_field(path, cookie):
    status, body = await post(path, json.dumps({"type": "threads.get_by_id", "params": {}}).encode(), cookie)
    assert status == 400 and "thread_id" in error_of(body)["message"]


async def test_unknown_thread_is_404(path, cookie):
    body = json.dumps({"type": "items.list", "params": {"thread_id": "thr_nope"}}).encode()
    status, response = await post(path, body, cookie)
    assert status == 404 and "thr_nope" in error_of(response)["message"]


async def test_unauthenticated_is_401(path):
    status, body = await post(path, json.dumps({"type": "threads.list", "params": {}}).encode(), None, None)
    assert status == 401 and error_of(body)["code"] == "not_authenticated"


async def test_cookie_authenticated_request_without_csrf_token_is_403(path, cookie):
    body = json.dumps({"type": "threads.list", "params": {}}).encode()
    status, response = await post(path, body, cookie, csrf=None)
    assert status == 403 and "CSRF" in error_of(response)["message"]
    status, _ = await post(path, body, cookie, csrf="B" * 32)
    assert status == 403


async def test_body_over_the_limit_is_413(path, cookie):
    body = json.dumps({"type": "threads.list", "params": {}, "metadata": {"pad": "x" * 600}}).encode()
    with override_settings(CHATKIT={**settings.CHATKIT, "MAX_REQUEST_BYTES": 500}):
        status, response = await post(path, body, cookie)
    assert status == 413 and "500-byte" in error_of(response)["message"]


async def test_get_is_405(path, cookie):
    status, body = await post(path, b"", cookie, method="GET")
    assert status == 405


async def test_retry_of_a_non_user_message_is_400(path, cookie):
    create = {
        "type": "threads.create",
        "params": {
            "input": {"content": [{"type": "input_text", "text": "hi"}], "attachments": [], "inference_options": {}}
        },
    }
    _, raw = await post(path, json.dumps(create).encode(), cookie)
    events = [json.loads(line[6:]) for line in raw.decode().split("\n\n") if line.startswith("data: ")]
    thread_id, answer_id = events[0]["thread"]["id"], events[-1]["item"]["id"]
    before = await models.ThreadItem.objects.acount()
    retry = {"type": "threads.retry_after_item", "params": {"thread_id": thread_id, "item_id": answer_id}}
    status, body = await post(path, json.dumps(retry).encode(), cookie)
    assert status == 400 and "not a user message" in error_of(body)["message"]
    tool = {"type": "threads.add_client_tool_output", "params": {"thread_id": thread_id, "result": 1}}
    status, body = await post(path, json.dumps(tool).encode(), cookie)
    assert status == 400 and "ClientToolCallItem" in error_of(body)["message"]
    action = {
        "type": "threads.custom_action",
        "params": {"thread_id": thread_id, "item_id": answer_id, "action": {"type": "test.x", "payload": {}}},
    }
    status, body = await post(path, json.dumps(action).encode(), cookie)
    assert status == 400 and "not a widget" in error_of(body)["message"]
    assert await models.ThreadItem.objects.acount() == before


async def test_attachment_limits_are_clear_400s(path, cookie):
    too_big = {"type": "attachments.create", "params": {"name": "a.txt", "size": 10**9, "mime_type": "text/plain"}}
    status, body = await post(path, json.dumps(too_big).encode(), cookie)
    assert status == 400 and "limit" in error_of(body)["message"]
    wrong_type = {
        "type": "attachments.create",
        "params": {"name": "a.exe", "size": 1, "mime_type": "application/x-msdownload"},
    }
    status, body = await post(path, json.dumps(wrong_type).encode(), cookie)
    assert status == 400 and "application/x-msdownload" in error_of(body)["message"]
    assert await models.Attachment.objects.acount() == 0


async def test_composer_tool_choice_and_metadata_reach_the_context(path, cookie):
    create = {
        "type": "threads.create",
        "metadata": {"page": "/events"},
        "params": {
            "input": {
                "content": [{"type": "input_text", "text": "meta"}],
                "attachments": [],
                "inference_options": {"tool_choice": {"id": "event_finder"}},
            }
        },
    }
    _, raw = await post(path, json.dumps(create).encode(), cookie)
    events = [json.loads(line[6:]) for line in raw.decode().split("\n\n") if line.startswith("data: ")]
    reported = json.loads(events[-1]["item"]["content"][0]["text"])
    assert reported == {"page": "/events", "tool_choice": "event_finder"}


async def test_anonymous_session_policy_keys_data_by_session(path):
    body = json.dumps({"type": "threads.list", "params": {}}).encode()

    def anonymous_session_cookie() -> str:
        from django.contrib.sessions.backends.db import SessionStore

        session = SessionStore()
        session.create()
        return f"{settings.SESSION_COOKIE_NAME}={session.session_key}; csrftoken={CSRF_SECRET}"

    first, second = await sync_to_async(anonymous_session_cookie)(), await sync_to_async(anonymous_session_cookie)()
    with override_settings(CHATKIT={**settings.CHATKIT, "AUTH_POLICY": "anonymous_session"}):
        create = {
            "type": "threads.create",
            "params": {
                "input": {"content": [{"type": "input_text", "text": "hi"}], "attachments": [], "inference_options": {}}
            },
        }
        status, _ = await post(path, json.dumps(create).encode(), first)
        assert status == 200
        _, mine = await post(path, body, first)
        _, theirs = await post(path, body, second)
    assert len(json.loads(mine)["data"]) == 1
    assert json.loads(theirs)["data"] == []
    owner = (await models.Thread.objects.aget()).owner
    assert owner.startswith("session:")


# -- property: random and mutated bodies never give a 500 and never write ---------------

VALID = {
    "type": "threads.create",
    "params": {
        "input": {"content": [{"type": "input_text", "text": "hi"}], "attachments": [], "inference_options": {}}
    },
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@st.composite
def bodies(draw) -> bytes:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.binary(max_size=200))
    if choice == 1:
        return json.dumps(draw(json_values)).encode()
    if choice == 2:
        params = draw(
            st.dictionaries(
                st.sampled_from(
                    [
                        "thread_id",
                        "item_id",
                        "input",
                        "limit",
                        "after",
                        "order",
                        "title",
                        "kind",
                        "item_ids",
                        "action",
                        "result",
                        "name",
                        "size",
                        "mime_type",
                        "attachment_id",
                        "audio_base64",
                    ]
                ),
                json_values,
                max_size=5,
            )
        )
        return json.dumps({"type": draw(st.sampled_from(OPS)), "params": params}).encode()
    # mutate a valid request: drop, retype or replace one field
    body = json.loads(json.dumps(VALID))
    target = body["params"]["input"]
    key = draw(st.sampled_from(sorted(target)))
    if draw(st.booleans()):
        del target[key]
    else:
        target[key] = draw(json_values)
    return json.dumps(body).encode()


def counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (models.Thread, models.ThreadItem, models.Attachment, models.Feedback))


@hypothesis_settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies(), transport=st.sampled_from(sorted(PATHS)))
def test_random_bodies_never_500_and_refusals_never_write(user, body, transport):
    cookie = login_cookie(user)
    before = counts()
    status, response = async_to_sync(post)(PATHS[transport], body, cookie)
    assert status < 500 or status == 501, (status, response[:300])
    if status != 200:
        assert counts() == before
        assert "message" in json.loads(response)["error"]


# -- the error mapping table of docs/protocol.md, row by row ----------------------------


async def widget_thread(path: str, cookie: str) -> tuple[str, str]:
    create = {
        "type": "threads.create",
        "params": {
            "input": {"content": [{"type": "input_text", "text": "widget"}], "attachments": [], "inference_options": {}}
        },
    }
    _, raw = await post(path, json.dumps(create).encode(), cookie)
    events = [json.loads(line[6:]) for line in raw.decode().split("\n\n") if line.startswith("data: ")]
    widget = next(e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "widget")
    return events[0]["thread"]["id"], widget["id"]


async def sync_action(path: str, cookie: str, action_type: str) -> tuple[int, bytes]:
    thread_id, widget_id = await widget_thread(path, cookie)
    body = {
        "type": "threads.sync_custom_action",
        "params": {"thread_id": thread_id, "item_id": widget_id, "action": {"type": action_type, "payload": {}}},
    }
    return await post(path, json.dumps(body).encode(), cookie)


async def test_an_exception_with_status_code_and_detail_keeps_its_status(path, cookie):
    """FastAPI's / Starlette's HTTPException(409, detail=...) from handler code."""
    status, body = await sync_action(path, cookie, "test.refuse")
    assert status == 409
    assert error_of(body)["message"] == "That card was already picked."


def test_starlette_http_exception_keeps_its_status():
    starlette = pytest.importorskip("starlette.exceptions")
    from django_chatkit.transport.errors import response_for_exception

    response = response_for_exception(starlette.HTTPException(400, detail="Unknown city"))
    assert response.status == 400
    assert json.loads(response.body) == {"error": {"code": "invalid_request", "message": "Unknown city"}}


async def test_a_bug_in_handler_code_is_a_generic_500_with_the_traceback_logged(path, cookie, caplog):
    with caplog.at_level("ERROR", logger="django_chatkit"):
        status, body = await sync_action(path, cookie, "test.bug")
    assert status == 500
    assert error_of(body) == {"code": "server_error", "message": "The server failed to handle this request."}
    assert b"secret" not in body and b"ValueError" not in body
    logged = [r for r in caplog.records if r.exc_info and "secret internals" in str(r.exc_info[1])]
    assert logged, "the traceback of the bug is logged"


async def test_an_sdk_refusal_is_400_with_the_sdks_reason(path, cookie):
    thread_id, _ = await widget_thread(path, cookie)
    tool = {"type": "threads.add_client_tool_output", "params": {"thread_id": thread_id, "result": 1}}
    status, body = await post(path, json.dumps(tool).encode(), cookie)
    assert status == 400 and "ClientToolCallItem" in error_of(body)["message"]


def test_a_bug_after_the_stream_started_is_an_error_event_with_a_generic_message():
    from django_chatkit.transport.errors import stream_error_event

    event = json.loads(stream_error_event(TypeError("secret internals"))[len(b"data: ") :])
    assert event == {
        "type": "error",
        "code": "stream.error",
        "message": "The server failed to handle this request.",
        "allow_retry": False,
    }
    refused = json.loads(stream_error_event(Forbidden("No access to that thread."))[len(b"data: ") :])
    assert refused["message"] == "No access to that thread."


def test_the_old_permission_denied_name_still_works_with_a_deprecation_warning():
    from django_chatkit import exceptions

    with pytest.warns(DeprecationWarning, match="use django_chatkit.exceptions.Forbidden"):
        from django_chatkit.exceptions import PermissionDenied
    assert PermissionDenied is Forbidden
    assert (Forbidden.status, Forbidden.code) == (403, "permission_denied")  # the wire format is unchanged
    with pytest.raises(AttributeError):
        exceptions.NoSuchError


def test_every_public_error_lives_in_exceptions_and_the_old_homes_still_export_it():
    from django_chatkit import actions, conf, exceptions, runs, widgets

    for module, names in {
        actions: ["ActionRefused", "ActionRegistrationError"],
        conf: ["ChatKitConfigurationError"],
        runs: ["Draining", "ThreadBusy"],
        widgets: [
            "WidgetError",
            "WidgetNotFound",
            "WidgetTemplateError",
            "WidgetSchemaError",
            "WidgetDataError",
            "WidgetOutputError",
            "WidgetProblem",
        ],
    }.items():
        for name in names:
            assert getattr(module, name) is getattr(exceptions, name), (module.__name__, name)


# -- CSRF: what the official UI's requests need ------------------------------------------


async def post_with_headers(path: str, body: bytes, headers: list[tuple[bytes, bytes]]):
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    communicator = HttpCommunicator(application, "POST", path, body=body, headers=headers)
    await communicator.send_input({"type": "http.request", "body": body})
    start = await communicator.receive_output(10)
    received = b""
    while True:
        message = await communicator.receive_output(10)
        received += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(10)
    return start["status"], dict_of_cookies(start["headers"]), received


def dict_of_cookies(headers) -> dict[str, str]:
    cookies = {}
    for name, value in headers:
        if name.lower() == b"set-cookie":
            pair = value.decode().split(";", 1)[0]
            key, _, cookie_value = pair.partition("=")
            cookies[key] = cookie_value
    return cookies


async def test_an_anonymous_session_gets_the_csrf_cookie_its_next_request_needs(path):
    create = {
        "type": "threads.create",
        "params": {
            "input": {"content": [{"type": "input_text", "text": "hi"}], "attachments": [], "inference_options": {}}
        },
    }
    listing = json.dumps({"type": "threads.list", "params": {}}).encode()
    with override_settings(CHATKIT={**settings.CHATKIT, "AUTH_POLICY": "anonymous_session"}):
        status, cookies, _ = await post_with_headers(path, json.dumps(create).encode(), [])
        assert status == 200
        session, token = cookies[settings.SESSION_COOKIE_NAME], cookies[settings.CSRF_COOKIE_NAME]
        cookie = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={token}".encode()
        status, _, body = await post_with_headers(
            path, listing, [(b"cookie", cookie), (b"x-csrftoken", token.encode())]
        )
        assert status == 200 and len(json.loads(body)["data"]) == 1
        status, _, body = await post_with_headers(path, listing, [(b"cookie", cookie)])
        assert status == 403 and "X-CSRFToken" in error_of(body)["message"]


async def test_an_untrusted_origin_is_refused_with_a_hint_at_csrf_trusted_origins(path, cookie):
    listing = json.dumps({"type": "threads.list", "params": {}}).encode()
    status, body = await post(path, listing, cookie, extra_headers=((b"origin", b"http://localhost:5173"),))
    assert status == 403
    message = error_of(body)["message"]
    assert "Origin checking failed" in message and "CSRF_TRUSTED_ORIGINS" in message
    with override_settings(CSRF_TRUSTED_ORIGINS=["http://localhost:5173"]):
        status, _ = await post(path, listing, cookie, extra_headers=((b"origin", b"http://localhost:5173"),))
    assert status == 200


@override_settings(ROOT_URLCONF="tests.urls_without_slash", APPEND_SLASH=True)
async def test_the_async_view_answers_at_a_url_without_a_trailing_slash(cookie):
    """api.url "/chatkit": no APPEND_SLASH redirect (which a POST cannot follow)."""
    status, body = await post("/chatkit", json.dumps({"type": "threads.list", "params": {}}).encode(), cookie)
    assert status == 200 and json.loads(body) == {"data": [], "has_more": False}


def test_a_handler_with_the_wrong_signature_is_a_500_not_a_400():
    """The SDK calls it and Python raises TypeError in the SDK's frame: still the site's bug."""
    import asyncio

    from chatkit.server import ChatKitServer

    from django_chatkit.transport.errors import response_for_exception
    from tests.sample_backend import MemoryStore

    class Broken(ChatKitServer):
        async def respond(self, thread, item, context):
            yield  # never reached

        async def add_feedback(self):  # the SDK passes (thread_id, item_ids, kind, context)
            raise AssertionError("never called")

    request = json.dumps(
        {"type": "items.feedback", "params": {"thread_id": "t", "item_ids": ["i"], "kind": "positive"}}
    )
    with pytest.raises(TypeError) as raised:
        asyncio.run(Broken(MemoryStore()).process(request, {"user_id": "u"}))
    response = response_for_exception(raised.value)
    assert response.status == 500 and b"add_feedback" not in response.body


ENVELOPE_CASES = [
    # (what is asked, who asks, method, path, body): each endpoint of the app, refusing.
    pytest.param("user", "post", "/chatkit/", b"{not json", id="chat endpoint, bad JSON"),
    pytest.param("user", "post", "/chatkit/threads/thr_nobody/stop/", b"", id="stop, no such run"),
    pytest.param("user", "get", "/chatkit/attachments/atc_nobody/", b"", id="attachment download, unknown"),
    pytest.param("user", "get", "/api/search/?q=a&limit=x", b"", id="entity search, bad limit"),
    pytest.param("anonymous", "get", "/api/search/?q=a", b"", id="entity search, not logged in"),
    pytest.param("user", "get", "/api/entities/nope/preview/", b"", id="entity preview, bad id"),
    pytest.param("user", "get", "/api/widget-templates/", b"", id="widget API, not staff"),
    pytest.param("staff", "get", "/api/widget-templates/nope/", b"", id="widget API, unknown template"),
    pytest.param("staff", "post", "/api/widget-templates/preview/", b"[1]", id="widget preview, bad body"),
]


@pytest.mark.parametrize("who, method, path, body", ENVELOPE_CASES)
def test_every_endpoint_answers_a_refusal_in_the_one_error_envelope(client, django_user_model, who, method, path, body):
    """A client handles every refusal of the app one way: a 4xx with a JSON
    ``{"error": {"code", "message"}}`` whose message says what is wrong."""
    if who != "anonymous":
        user = django_user_model.objects.create_user(
            who, password="pw", is_staff=who == "staff", is_superuser=who == "staff"
        )
        client.force_login(user)
    response = (
        getattr(client, method)(path, body, content_type="application/json") if method == "post" else client.get(path)
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) >= {"code", "message"} and isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and len(error["message"]) > 5, error
