"""System checks fire on bad configuration and stay silent on a good one."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_chatkit.checks import check_settings


def ids(**chatkit) -> set[str]:
    with override_settings(CHATKIT=chatkit):
        return {message.id for message in check_settings()}


def test_default_configuration_is_clean():
    out = StringIO()
    call_command("check", stdout=out)
    assert "no issues" in out.getvalue()


@pytest.mark.parametrize(
    "chatkit, expected",
    [
        ({"SERVER_CLASS": "nowhere.Server"}, "django_chatkit.E002"),
        ({"SERVER_CLASS": "django_chatkit.models.Thread"}, "django_chatkit.E002"),
        ({"CONTEXT_BUILDER": "nowhere.build"}, "django_chatkit.E003"),
        ({"OWNER_RESOLVER": "django_chatkit.conf.DEFAULTS"}, "django_chatkit.E004"),
        ({"TRANSCRIBER": "nowhere.transcribe"}, "django_chatkit.E005"),
        ({"AUTH_POLICY": "everyone"}, "django_chatkit.E006"),
        ({"MAX_REQUEST_BYTES": 0}, "django_chatkit.E007"),
        ({"DATABASE_THREADS": -1}, "django_chatkit.E008"),
        ({"SERVR_CLASS": "typo"}, "django_chatkit.W001"),
    ],
)
def test_each_check_fires_on_a_crafted_mistake(chatkit, expected):
    assert expected in ids(**chatkit)


def test_errors_fail_manage_py_check_with_the_key_named():
    with override_settings(CHATKIT={"SERVER_CLASS": "nowhere.Server"}):
        with pytest.raises(SystemCheckError, match=r"CHATKIT\['SERVER_CLASS'\]"):
            call_command("check")


def test_missing_sessions_app_is_a_warning():
    from django.conf import settings

    apps = [
        a
        for a in settings.INSTALLED_APPS
        if a not in ("django.contrib.sessions", "django.contrib.admin", "django.contrib.messages")
    ]
    with override_settings(INSTALLED_APPS=apps):
        assert "django_chatkit.W002" in {m.id for m in check_settings()}


def test_more_than_one_database_thread_on_sqlite_is_a_warning():
    from django.db import connection

    if connection.vendor != "sqlite":
        assert "django_chatkit.W003" not in ids(DATABASE_THREADS=4)  # fine on PostgreSQL
        return
    assert "django_chatkit.W003" in ids(DATABASE_THREADS=4)
    assert "django_chatkit.W003" not in ids(DATABASE_THREADS=1)
    assert "django_chatkit.W003" not in ids(DATABASE_THREADS="auto")


def test_auto_database_threads_are_one_on_sqlite_and_several_on_postgresql():
    from django.db import connection

    from django_chatkit.conf import chatkit_settings

    with override_settings(CHATKIT={"DATABASE_THREADS": "auto"}):
        assert (1 if connection.vendor == "sqlite" else 4) == chatkit_settings.DATABASE_THREADS


def test_admin_without_django_ace_is_a_warning_and_the_editor_falls_back_to_textareas():
    from django.conf import settings

    from django_chatkit.checks import check_code_editor
    from django_chatkit.widget_admin import WidgetTemplateForm

    assert check_code_editor() == []
    assert "django_ace/ace/ace.js" in str(WidgetTemplateForm().media)
    with override_settings(INSTALLED_APPS=[a for a in settings.INSTALLED_APPS if a != "django_ace"]):
        assert [m.id for m in check_code_editor()] == ["django_chatkit.W042"]
        assert "django_ace" not in str(WidgetTemplateForm().media)


@pytest.mark.parametrize(
    "application, warned",
    [
        ("tests.asgi.application", False),
        ("tests.asgi_variants.nested", False),
        ("tests.asgi_variants.http_only", True),
        ("tests.asgi_variants.live_elsewhere", True),
    ],
)
def test_w040_warns_when_the_live_socket_has_no_route(application, warned):
    out, err = StringIO(), StringIO()
    with override_settings(ASGI_APPLICATION=application):
        call_command("check", stdout=out, stderr=err)
    assert ("django_chatkit.W040" in out.getvalue() + err.getvalue()) is warned


def test_a_plain_chatkit_server_class_is_a_valid_server_class():
    assert "django_chatkit.E002" not in ids(SERVER_CLASS="tests.sample_backend.FrontDeskServer")


REDIS = "channels_redis.core.RedisChannelLayer"


@pytest.mark.parametrize(
    ("hosts", "warned"),
    [
        (["redis://127.0.0.1:6379/0"], True),  # a URL keeps redis-py's default read timeout
        ([("127.0.0.1", 6379)], True),
        ([{"address": "redis://127.0.0.1:6379/0"}], True),
        (None, True),  # channels_redis's default host
        ([{"address": "redis://127.0.0.1:6379/0", "socket_timeout": None}], False),
        (["redis://127.0.0.1:6379/0?socket_timeout=30"], False),  # chosen in the URL
        ([{"address": "redis://a:6379", "socket_timeout": None}, "redis://b:6379"], True),  # every host counts
    ],
)
def test_a_redis_channel_layer_that_keeps_redis_pys_read_timeout_is_a_warning(hosts, warned):
    import redis

    from django_chatkit.checks import check_redis_timeout

    config = {} if hosts is None else {"hosts": hosts}
    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": REDIS, "CONFIG": config}}):
        messages = check_redis_timeout()
    expected = warned and int(redis.__version__.split(".")[0]) >= 8
    assert [m.id for m in messages] == (["django_chatkit.W043"] if expected else [])
    if expected:
        assert "socket_timeout" in messages[0].hint


def test_the_in_memory_channel_layer_needs_no_redis_timeout():
    from django_chatkit.checks import check_redis_timeout

    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}):
        assert check_redis_timeout() == []
