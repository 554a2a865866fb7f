"""Uploaded files opened in Chromium from the site's own origin: nothing they carry runs."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from django_chatkit import models
from django_chatkit.store import attachment_storage
from tests.support.users import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Each file asks the server for /script-ran/ (and writes the page) if its script runs.
FILES = {
    "svg": (
        "image/svg+xml",
        "x.svg",
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>fetch('/script-ran/svg');"
        b"document.documentElement.setAttribute('data-ran','1')</script></svg>",
    ),
    "html": (
        "text/html",
        "x.html",
        b"<html><body><script>fetch('/script-ran/html');document.title='ran'</script></body></html>",
    ),
    "polyglot": ("image/png", "x.png", b"\x89PNG\r\n\x1a\n<html><script>fetch('/script-ran/polyglot')</script></html>"),
}


def stored(owner: str, kind: str) -> str:
    # Rows as an older version (or a site allowing these types exactly) may have stored them.
    mime_type, name, body = FILES[kind]
    attachment_id = f"atc_browser_{kind}"
    path = attachment_storage().save(f"chatkit/browser/{attachment_id}/{name}", ContentFile(body))
    models.Attachment.objects.create(
        attachment_id=attachment_id,
        owner=owner,
        name=name,
        mime_type=mime_type,
        file=path,
        size=len(body),
        data={},
    )
    return attachment_id


@pytest.mark.parametrize("kind", list(FILES))
def test_opening_the_preview_url_of_an_uploaded_file_runs_no_script(open_page, kind):
    user = make_user(f"browser-files-{kind}")
    attachment_id = stored(f"user:{user.pk}", kind)
    page = open_page("/browser/chat/", user)
    requested: list[str] = []
    page.context.on("request", lambda request: requested.append(request.url))

    for url in (f"/chatkit/attachments/{attachment_id}/preview/", f"/chatkit/attachments/{attachment_id}/"):
        try:
            page.goto(url)
            page.wait_for_timeout(300)
        except Exception as exc:  # a download, not a page: nothing was rendered at all
            assert "Download is starting" in str(exc) or "ERR_ABORTED" in str(exc), exc
        assert not [seen for seen in requested if "/script-ran/" in seen]
        assert page.title() != "ran"
