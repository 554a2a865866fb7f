"""Settings are read live and misconfiguration names the key."""

import pytest
from django.test import override_settings

from django_chatkit.conf import DEFAULTS, ChatKitConfigurationError, chatkit_settings
from django_chatkit.offline import OfflineChatKitServer


def test_defaults_apply_when_a_key_is_absent():
    with override_settings(CHATKIT={}):
        assert chatkit_settings.SERVER_CLASS is OfflineChatKitServer
        assert DEFAULTS["MAX_REQUEST_BYTES"] == chatkit_settings.MAX_REQUEST_BYTES
        assert chatkit_settings.TRANSCRIBER is None


def test_settings_are_read_live():
    with override_settings(CHATKIT={"MAX_REQUEST_BYTES": 10}):
        assert chatkit_settings.MAX_REQUEST_BYTES == 10
    with override_settings(CHATKIT={"MAX_REQUEST_BYTES": 20}):
        assert chatkit_settings.MAX_REQUEST_BYTES == 20


def test_bad_import_string_names_the_key_and_an_example():
    with override_settings(CHATKIT={"SERVER_CLASS": "nowhere.Server"}):
        with pytest.raises(ChatKitConfigurationError) as caught:
            _ = chatkit_settings.SERVER_CLASS
    assert "CHATKIT['SERVER_CLASS']" in str(caught.value) and "Example:" in str(caught.value)


def test_every_default_has_a_typed_property_and_documentation():
    from pathlib import Path

    reference = (Path(__file__).parent.parent / "docs" / "settings.md").read_text()
    for key in DEFAULTS:
        assert hasattr(type(chatkit_settings), key), key
        assert f"`{key}`" in reference, f"{key} is not documented in docs/settings.md"
