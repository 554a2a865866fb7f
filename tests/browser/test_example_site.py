"""The example site's chat page end to end in Chromium, offline: the demo is set up on a
fresh database, served by `manage.py runserver` (daphne), and driven like a user would:
log in, pick a line from the line selector, tag an article, use a composer tool."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def example_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("example")  # the site's database (demo.sqlite3) and log


@pytest.fixture(scope="module")
def example_site(example_tmp, browser_thread) -> Iterator[str]:
    tmp = example_tmp
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp / 'demo.sqlite3'}",
        CHATKIT_OFFLINE_REPLY_DELAY="0",
        DJANGO_DEBUG="1",
        OPENAI_API_KEY="",
    )
    manage = [sys.executable, "manage.py"]
    for args in (["migrate", "--noinput"], ["setup_demo"]):
        done = subprocess.run([*manage, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-2000:]
    port = _free_port()
    log = open(tmp / "server.log", "w")  # noqa: SIM115  (the server writes it until the fixture ends)
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/admin/login/", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.terminate()
                raise RuntimeError((tmp / "server.log").read_text()[-2000:]) from None
            time.sleep(0.2)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture
def demo_page(browser_thread, example_site, request):
    viewport = getattr(request, "param", {"width": 1280, "height": 900})
    context = browser_thread.browser.new_context(base_url=example_site, viewport=viewport)
    page = context.new_page()
    errors: list[str] = []  # filled on the browser thread: no page calls in the handlers
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    page.console_errors = errors
    page.set_default_timeout(15000)
    page.goto("/")  # redirects to the admin login
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{example_site}/")
    yield page
    context.close()


def send(page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


def test_line_selector_scenario(demo_page, expect):
    page = demo_page
    send(page, "show me the lines")
    selector = page.locator('.ck-widget-item [data-ck-type="ListView"]').last
    expect(selector).to_contain_text("Red Line")
    red = selector.locator('[data-ck-key="red-line"]')
    expect(red.locator('[data-icon="empty-circle"]')).to_have_count(1)
    red.click()
    # Server action: the widget is replaced with the selection, a message confirms it, and
    # the page's client-effect handler ran.
    expect(page.locator('.ck-widget-item [data-ck-key="red-line"] [data-icon="check-circle-filled"]')).to_have_count(1)
    expect(page.locator(".ck-assistant-message").last).to_contain_text("Selected red-line")
    expect(page.locator("#demo-log")).to_contain_text("selection_changed")


def test_entity_tagging_and_composer_tools(demo_page, expect):
    page = demo_page
    box = page.get_by_role("textbox", name="Message")
    box.press_sequentially("Summarise @Night")
    option = page.get_by_role("option", name="Night service on the Red Line")
    expect(option).to_be_visible()
    option.click()
    box.press("Enter")
    expect(page.locator(".ck-user-message .ck-tag")).to_have_text("Night service on the Red Line")
    expect(page.locator(".ck-assistant-message").last).not_to_be_empty()
    # entities.onClick opens the tagged article beside the chat (the seed navigates to it).
    page.locator(".ck-user-message .ck-tag").click()
    expect(page.get_by_role("complementary", name="Article").get_by_role("heading", level=1)).to_have_text(
        "Night service on the Red Line"
    )
    page.get_by_role("button", name="Close article").click()

    page.get_by_role("button", name="New chat", exact=True).click()
    page.get_by_role("button", name="Find Events", exact=True).click()
    send(page, "find events at the library")
    expect(page.locator(".ck-assistant-message").last).to_contain_text("Ridership town hall")


def test_article_list_scenario(demo_page, example_tmp, expect):
    # Articles straight from the site's database: the published ones, a draft of the demo
    # user's (theirs to see) and a draft of no one's (hidden from them).
    with sqlite3.connect(example_tmp / "demo.sqlite3") as db:
        (demo_id,) = db.execute("SELECT id FROM auth_user WHERE username = 'demo'").fetchone()
        insert = "INSERT INTO demo_article (title, summary, body, published, owner_id) VALUES (?, '', '', 0, ?)"
        db.execute(insert, ("Fare changes (draft)", demo_id))
        db.execute(insert, ("Someone else's secret draft", None))
        published = db.execute("SELECT id, title FROM demo_article WHERE published ORDER BY title").fetchall()
        (draft_id,) = db.execute("SELECT id FROM demo_article WHERE title = 'Fare changes (draft)'").fetchone()
    assert len(published) >= 3
    page = demo_page
    send(page, "show me articles")
    articles = page.locator('.ck-widget-item [data-ck-type="ListView"]').last
    expect(articles.locator('[data-ck-type="ListViewItem"]')).to_have_count(len(published) + 1)
    for article_id, title in published:
        item = articles.locator(f'[data-ck-key="{article_id}"]')
        expect(item).to_have_text(title)
        expect(item.locator('[data-icon="check"]')).to_have_count(1)
    expect(articles.locator(f'[data-ck-key="{draft_id}"] [data-icon="empty-circle"]')).to_have_count(1)
    expect(articles).not_to_contain_text("secret draft")
    expect(page.locator(".ck-assistant-message").last).to_contain_text("Tool show_articles returned")
    # Clicking an article fires the client action item.select {itemId: <article id>}; the
    # page's onAction opens that article beside the chat.
    article_id, title = published[1]
    articles.locator(f'[data-ck-key="{article_id}"]').click()
    panel = page.get_by_role("complementary", name="Article")
    expect(panel.locator("article")).to_have_attribute("data-article-id", str(article_id))
    expect(panel.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator("#demo-log")).to_have_text(f"Opened article {article_id}")
    articles.locator(f'[data-ck-key="{draft_id}"]').click()
    expect(panel.get_by_role("heading", level=1)).to_have_text("Fare changes (draft)")
    expect(panel).to_contain_text("Draft: only you can see it.")


def test_gallery_page_links_from_the_chat(demo_page, expect):
    page = demo_page
    page.get_by_role("link", name="Widget gallery").click()
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    assert page.locator('[data-ck-type="Chart"]').count() == 1
    assert page.locator(".ck-widget").count() >= 7


# -- every seed pattern from the start screen (desktop and 390x844) ------------------------------

VIEWPORTS = pytest.mark.parametrize(
    "demo_page",
    [{"width": 1280, "height": 800}, {"width": 390, "height": 844}],
    ids=["desktop", "phone"],
    indirect=True,
)


def shot(page, name: str) -> None:
    Path("artifacts").mkdir(exist_ok=True)
    kind = "phone" if page.viewport_size["width"] < 500 else "desktop"
    page.screenshot(path=f"artifacts/example-{name}-{kind}.png")


def prompt(page, label: str) -> None:
    page.get_by_role("list", name="Suggested prompts").get_by_role("button", name=label).click()


def new_chat(page) -> None:
    page.get_by_role("button", name="New chat", exact=True).click()


@VIEWPORTS
def test_each_seed_pattern_is_a_start_screen_prompt(demo_page, expect):
    page = demo_page
    expect(page.get_by_role("heading", name="Hi! What would you like to do?")).to_be_visible()
    shot(page, "start-screen")
    panel = page.get_by_role("complementary", name="Article")

    # Server action (line.select): the widget is replaced, a message streams, an effect fires.
    prompt(page, "Pick a transit line")
    page.locator('.ck-widget-item [data-ck-key="blue-line"]').click()
    expect(page.locator(".ck-assistant-message").last).to_contain_text("Selected blue-line")
    expect(page.locator("#demo-log")).to_contain_text("selection_changed")

    # Widget template + client action (item.select): the article opens; Close closes it.
    new_chat(page)
    prompt(page, "Browse the articles")
    page.locator('.ck-widget-item [data-ck-type="ListViewItem"]').first.click()
    expect(panel.get_by_role("heading", level=1)).to_be_visible()
    chat_box = page.locator(".ck-chat").bounding_box()
    assert chat_box["width"] >= 320 or page.viewport_size["width"] < 500  # never squeezed to nothing
    shot(page, "article-panel")
    panel.get_by_role("button", name="Close article").click()
    expect(panel).to_be_hidden()
    assert page.locator(".ck-chat").bounding_box()["width"] >= page.viewport_size["width"] * 0.9

    # Client action (open_article): the View Article button.
    new_chat(page)
    prompt(page, "Show an article card")
    page.get_by_role("button", name="View Article").click()
    expect(panel.locator("article")).to_be_visible()
    panel.get_by_role("button", name="Close article").click()

    # Client actions select_option (visibly selected) and more_suggestions (asks for more).
    new_chat(page)
    prompt(page, "Suggest lines to explore")
    card = page.locator(".ck-widget-item").last
    red = card.get_by_role("button", name="Red Line")
    red.click()
    expect(red).to_have_attribute("data-variant", "solid")
    expect(red.locator('[data-icon="check"]')).to_have_count(1)
    expect(card.get_by_role("button", name="Blue Line")).to_have_attribute("data-variant", "outline")
    shot(page, "select-option")
    card.get_by_role("button", name="More suggestions").click()
    expect(page.locator(".ck-user-message").last).to_have_text("More suggestions, please")
    expect(page.locator(".ck-assistant-message").last).to_contain_text("More suggestions, please")

    # Composer tools (mode selection): the prompt goes to the Find Events agent.
    new_chat(page)
    prompt(page, "Find events")
    expect(page.locator(".ck-assistant-message").last).to_contain_text("Ridership town hall")

    # Entity tagging: a prefilled @-mention of an article; the sent tag opens it.
    new_chat(page)
    page.get_by_role("list", name="Suggested prompts").get_by_role("button", name=re.compile("^Ask about")).click()
    tag = page.locator(".ck-user-message .ck-tag")
    expect(tag).to_have_count(1)
    expect(page.locator(".ck-assistant-message").last).to_contain_text("You mentioned")
    tag.click()
    expect(panel.locator("article")).to_be_visible()
    assert page.console_errors == []


def test_no_console_error_on_any_page_of_the_example_site(demo_page, expect, example_tmp):
    page = demo_page
    with sqlite3.connect(example_tmp / "demo.sqlite3") as db:
        (article_id,) = db.execute("SELECT id FROM demo_article WHERE published ORDER BY id").fetchone()
    for path in ("/", "/gallery/", f"/articles/{article_id}/", "/admin/", "/admin/django_chatkit/"):
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
    assert page.console_errors == []


STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'"
)


def test_the_chat_works_under_a_strict_content_security_policy(demo_page, expect):
    page = demo_page

    def with_csp(route):
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})

    page.route(re.compile(r".*/$"), with_csp)  # pages, not their static files or API calls
    page.goto("/")
    prompt(page, "Pick a transit line")
    page.locator('.ck-widget-item [data-ck-key="green-line"]').click()
    expect(page.locator(".ck-assistant-message").last).to_contain_text("Selected green-line")
    box = page.get_by_role("textbox", name="Message")
    box.press_sequentially("About @Ridership")
    page.get_by_role("option", name="Ridership report").click()
    box.press("Enter")
    expect(page.locator(".ck-user-message .ck-tag").last).to_have_text("Ridership report")
    # Chromium reports every blocked inline script, style or eval as "Refused to …"; the live
    # socket is refused here for another reason (a fulfilled page counts as non-local), not CSP.
    refused = [e for e in page.console_errors if "Content Security Policy" in e or e.startswith("Refused")]
    assert refused == []
    page.unroute_all(behavior="ignoreErrors")  # a fetch still in flight must not outlive the page


def test_the_chat_works_under_its_content_security_policy(demo_page, expect):
    page = demo_page
    page.add_init_script(
        "window.cspViolations = [];"
        "document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    response = page.reload()
    policy = response.headers["content-security-policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "'nonce-" in script_src and "'unsafe-inline'" not in script_src
    send(page, "show me the lines")
    selector = page.locator('.ck-widget-item [data-ck-type="ListView"]').last
    expect(selector).to_contain_text("Red Line")
    selector.locator('[data-ck-key="red-line"]').click()
    expect(page.locator(".ck-assistant-message").last).to_contain_text("Selected red-line")
    assert page.evaluate("window.cspViolations") == []
    # A script injected into the page without the nonce does not run.
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.injected = 1'; document.head.append(s); }"
    )
    assert page.evaluate("window.injected") is None
