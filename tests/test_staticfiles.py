"""Check W041: a static files storage that hashes names but not ES-module imports."""

from __future__ import annotations

from django.test import override_settings


def test_check_w040_names_a_manifest_storage_that_leaves_imports_alone():
    from django_chatkit.checks import check_static_storage

    plain = {"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
    ours = {"staticfiles": {"BACKEND": "django_chatkit.staticfiles.ManifestStaticFilesStorage"}}
    simple = {"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    with override_settings(STORAGES={**plain, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}):
        assert [w.id for w in check_static_storage()] == ["django_chatkit.W041"]
    for storages in (ours, simple):
        with override_settings(
            STORAGES={**storages, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
        ):
            assert check_static_storage() == []
