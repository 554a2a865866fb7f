"""The contract of the private SDK names the app relies on (django_chatkit.compat)."""

from __future__ import annotations

import pytest
from chatkit.server import ChatKitServer
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_chatkit import compat


def test_every_seam_the_app_relies_on_is_there_as_it_expects():
    assert compat.seam_problems() == []


@pytest.mark.parametrize("seam", compat.SEAMS, ids=lambda seam: seam.name)
def test_an_sdk_without_a_seam_is_named_by_the_check(seam, monkeypatch):
    """A fake SDK release that dropped (or changed) one private name: the check fails
    naming it, and `manage.py check` refuses to pass."""
    owner_path, _, attribute = seam.path.rpartition(".")
    import importlib

    owner = importlib.import_module(seam.module)
    for part in filter(None, owner_path.split(".")):
        owner = getattr(owner, part)
    monkeypatch.delattr(owner, attribute)
    problems = compat.seam_problems()
    assert len(problems) == 1 and problems[0].startswith(f"{seam.name} is missing")
    with pytest.raises(SystemCheckError, match="django_chatkit.E040"):
        call_command("check")


def test_an_sdk_whose_seam_changed_its_parameters_is_named(monkeypatch):
    async def changed(self, thread, context, stream, extra):  # a new required parameter
        yield None

    monkeypatch.setattr(ChatKitServer, "_process_events", changed)
    [problem] = compat.seam_problems()
    assert problem.startswith(
        "chatkit.server.ChatKitServer._process_events takes (self, thread, context, stream, extra)"
    )


def test_only_the_compat_module_names_private_sdk_attributes():
    """Every private name of chatkit, agents or asgiref is used in compat.py alone."""
    import pathlib
    import re

    package = pathlib.Path(compat.__file__).parent
    pattern = re.compile(
        r"from (chatkit|agents|asgiref)[\w.]* import [^\n]*\b_[a-z]|\b(_openai_shared|_process_events|_process_streaming|_process_non_streaming|_apply_assistant_message_update|AsyncToSync\.executors)\b"
    )
    offenders = [
        f"{path.relative_to(package)}:{number}"
        for path in package.rglob("*.py")
        if path.name != "compat.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


async def _server_send(message):  # the ASGI server's own send
    pass


def test_body_chunks_go_past_the_session_middleware_to_the_server():
    from channels.sessions import InstanceSessionWrapper

    inner = InstanceSessionWrapper({"cookies": {}}, _server_send)
    outer = InstanceSessionWrapper({"cookies": {}, "session": object()}, inner.send)
    assert compat.body_send(outer.send) is _server_send
    assert compat.body_send(_server_send) is _server_send


def test_a_session_wrapper_that_acts_on_body_chunks_is_kept():
    from channels.sessions import InstanceSessionWrapper

    class SavesOnEveryChunk(InstanceSessionWrapper):
        save_message_types = ["http.response.start", "http.response.body"]

    class OwnSend(InstanceSessionWrapper):
        async def send(self, message):
            await self.real_send(message)

    for wrapper_class in (SavesOnEveryChunk, OwnSend):
        wrapper = wrapper_class({"cookies": {}}, _server_send)
        assert compat.body_send(wrapper.send) == wrapper.send
