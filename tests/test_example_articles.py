"""The example site's article list scenario without a browser: the general agent's
``show_articles`` widget tool (offline trigger "articles") lists only the articles the
user may see, and the article page it opens keeps other users' drafts hidden.

The demo app is not in the test settings, so this runs the example project's settings in
a subprocess on a fresh SQLite database, like tests/test_agents.py does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import asyncio, json
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django_chatkit.adopt import get_chatkit_server
from django_chatkit.context import RequestContext
from django_chatkit.widgets import WidgetDefinition, save_widget_definition
from example_project.demo.models import Article

save_widget_definition(WidgetDefinition.from_file("example_project/demo/widgets/item_list.widget"))
users = get_user_model()
alice = users.objects.create_user("alice", password="pw")
bob = users.objects.create_user("bob", password="pw")
mine = Article.objects.create(title="Alice's draft", published=False, owner=alice)
theirs = Article.objects.create(title="Bob's draft", published=False, owner=bob)

def show_articles(user, user_id):
    context = RequestContext(user_id=user_id, user=user)
    body = {"type": "threads.create", "params": {"input": {
        "content": [{"type": "input_text", "text": "show me articles"}],
        "attachments": [], "inference_options": {}}}}
    async def run():
        result = await get_chatkit_server().process(json.dumps(body), context)
        return b"".join([chunk async for chunk in result])
    events = [json.loads(b[6:]) for b in asyncio.run(run()).split(b"\n\n") if b.startswith(b"data: ")]
    return [e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] != "user_message"]

def page(user, article):
    client = Client(SERVER_NAME="localhost")
    if user is not None:
        client.force_login(user)
    response = client.get(f"/articles/{article.pk}/")
    return response.status_code, response.content.decode()

published = list(Article.objects.filter(published=True).values_list("pk", "title"))
print(json.dumps({
    "ids": {"mine": str(mine.pk), "theirs": str(theirs.pk)},
    "published": [[str(pk), title] for pk, title in published],
    "alice": show_articles(alice, f"user:{alice.pk}"),
    "bob": show_articles(bob, f"user:{bob.pk}"),
    "anonymous": show_articles(AnonymousUser(), "anonymous"),
    "pages": {
        "alice_mine": page(alice, mine), "alice_theirs": page(alice, theirs),
        "bob_published": page(bob, Article.objects.filter(published=True).first()),
        "anonymous_published": page(None, Article.objects.filter(published=True).first()),
    },
}))
"""


def run_script(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'articles.sqlite3'}",
        CHATKIT_OFFLINE_REPLY_DELAY="0",
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def listed(items: list[dict]) -> dict[str, tuple[str, str]]:
    """The article list widget's items: key -> (title, icon), checking each item's action."""
    widget, reply = items
    assert widget["type"] == "widget" and widget["widget"]["type"] == "ListView"
    assert reply["content"][0]["text"].startswith("Assistant: Tool show_articles returned")
    result = {}
    for item in widget["widget"]["children"]:
        assert item["onClickAction"] == {"type": "item.select", "handler": "client", "payload": {"itemId": item["key"]}}
        icon, text = item["children"][0]["children"]
        result[item["key"]] = (text["value"], icon["name"])
    return result


def test_show_articles_lists_only_the_articles_each_user_may_see(tmp_path):
    result = run_script(tmp_path)
    ids, published = result["ids"], {pk: (title, "check") for pk, title in result["published"]}
    assert len(published) == 3  # the demo's sample articles
    # Alice sees the published articles and her own draft (an open circle), not Bob's draft.
    assert listed(result["alice"]) == {**published, ids["mine"]: ("Alice's draft", "empty-circle")}
    # Bob sees his draft and not Alice's; without a login only published articles show.
    assert listed(result["bob"]) == {**published, ids["theirs"]: ("Bob's draft", "empty-circle")}
    assert listed(result["anonymous"]) == published
    # The page the list opens: one's own draft yes, another user's draft is a 404.
    pages = result["pages"]
    status, body = pages["alice_mine"]
    assert status == 200 and "Alice&#x27;s draft" in body and "only you can see it" in body
    status, body = pages["alice_theirs"]
    assert status == 404 and "Bob" not in body
    assert pages["bob_published"][0] == 200
    assert pages["anonymous_published"][0] == 302  # the demo's pages need a login
