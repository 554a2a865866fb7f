"""Static files storage for sites that hash their static files.

The built-in chat client is a set of ES modules that import each other by relative URL
(``import { ChatKitClient } from "./client.js"``). Django's
``ManifestStaticFilesStorage`` rewrites those imports to the hashed names only when
``support_js_module_import_aggregation`` is on; otherwise a page loads the hashed
``mount.js`` and then the unhashed ``chat.js``, ``client.js``…, which a far-future cache
may keep stale after an upgrade. This storage is Django's with that switch on::

    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django_chatkit.staticfiles.ManifestStaticFilesStorage"},
    }

Only this app's modules (``django_chatkit/*.js``) get their imports rewritten: other
packages' scripts are not ES modules, and Django's import patterns misread some of them
(Ace's, shipped by django-ace for the admin editor, fail ``collectstatic``). A site with its
own storage class subclasses this one, or sets the same two attributes on its class
(check ``django_chatkit.W041`` reports a manifest storage without the rewriting).
"""

from __future__ import annotations

from django.contrib.staticfiles import storage


class ManifestStaticFilesStorage(storage.ManifestStaticFilesStorage):
    """Django's manifest storage, rewriting ES-module imports to hashed names too."""

    support_js_module_import_aggregation = True
    _js_module_import_aggregation_patterns = (
        "django_chatkit/*.js",
        # Django's own pattern list (private, and not in django-stubs): its second entry
        # rewrites `import ... from "..."` statements.
        storage.ManifestStaticFilesStorage._js_module_import_aggregation_patterns[1],  # type: ignore[attr-defined]
    )
