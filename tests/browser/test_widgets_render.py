"""The widget renderer (static/django_chatkit/widgets.js) in Chromium: the gallery shows
every component of the SDK's widget set, props become styles, markup is accessible, the
theme switches, and hostile widget values or markdown never run script."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from chatkit import widgets as sdk_widgets

pytestmark = pytest.mark.browser

GALLERY = "/browser/gallery/"
ARTIFACT = Path(__file__).resolve().parents[2] / "artifacts" / "gallery.png"


def sdk_component_types() -> set[str]:
    """Every component type name of the installed SDK (roots included)."""
    union = typing.get_args(sdk_widgets.StrictWidgetComponent)[0]
    roots = typing.get_args(sdk_widgets.StrictWidgetRoot)[0]
    names = set()
    for model in [*typing.get_args(union), *typing.get_args(roots)]:
        names.add(model.model_fields["type"].default)
    return names


def open_gallery(open_page, expect, **kwargs):
    page = open_page(GALLERY, **kwargs)
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    return page


def test_gallery_renders_every_component_type_and_is_kept_as_a_screenshot(open_page, expect):
    page = open_gallery(open_page, expect)
    rendered = set(page.eval_on_selector_all("[data-ck-type]", "els => els.map(e => e.dataset.ckType)"))
    expected = sdk_component_types()
    assert len(expected) >= 27  # the SDK's set, read from chatkit.widgets
    assert expected <= rendered, f"not rendered: {sorted(expected - rendered)}"
    assert page.locator(".ck-unknown").count() == 0
    assert page.js_errors == []
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACT), full_page=True)
    assert ARTIFACT.stat().st_size > 10_000


def test_props_become_styles(open_page, expect):
    page = open_gallery(open_page, expect)
    styles = page.evaluate(
        """() => {
      const first = (sel) => document.querySelector(sel);
      const css = (el) => getComputedStyle(el);
      const row = first('[data-ck-type="ListViewItem"] [data-ck-type="Row"]');
      const title = first('[data-ck-type="Text"][data-weight="semibold"]');
      const success = first('[data-ck-type="Icon"][data-icon="check"]');
      const box = first('[data-ck-type="Box"][data-direction="col"]');
      const end = first('[data-ck-type="Box"][data-direction="row"]');
      return {
        rowDirection: css(row).flexDirection, rowGap: css(row).columnGap,
        semibold: css(title).fontWeight,
        iconColor: css(success).color, dangerColor: css(first('[data-ck-type="Text"][style*="danger"]')).color,
        boxPadding: css(box).paddingTop, boxRadius: css(box).borderTopLeftRadius,
        justify: css(end).justifyContent,
      };
    }"""
    )
    assert styles["rowDirection"] == "row"
    assert styles["rowGap"] == "12px"  # gap: 3 spacing units
    assert styles["semibold"] == "600"
    assert styles["iconColor"] != styles["dangerColor"]
    assert styles["boxPadding"] == "12px" and styles["boxRadius"] == "8px"
    assert styles["justify"] == "flex-end"


def test_markup_is_accessible_and_keyboard_reachable(open_page, expect):
    page = open_gallery(open_page, expect)
    # Buttons are <button>s with an accessible name; images carry alt text.
    assert page.get_by_role("button", name="View Article").count() == 1
    assert page.get_by_role("button", name="plus").count() == 1  # icon-only button gets a label
    assert page.get_by_role("img", name="Article cover").count() == 1
    assert page.get_by_role("radiogroup", name="Group size").count() == 1
    assert page.get_by_label("Event name").count() == 1  # Label wired to its Input
    # A clickable list item is focusable and answers Enter like a button.
    item = page.locator('[data-ck-type="ListViewItem"][data-ck-key="green-line"]')
    assert item.get_attribute("role") == "button"
    item.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#action-log")).to_contain_text('"line.select"')
    expect(page.locator("#action-log")).to_contain_text('"green-line"')
    # "Show more" reveals the items past ListView.limit.
    hidden = page.locator('[data-ck-key="red-line"]')
    expect(hidden).to_be_hidden()
    page.get_by_role("button", name="Show 1 more").click()
    expect(hidden).to_be_visible()


def test_form_submit_sends_the_field_values_in_the_payload(open_page, expect):
    page = open_gallery(open_page, expect)
    page.get_by_label("Event name").fill("Launch party")
    page.get_by_role("combobox", name="City").select_option("tokyo")
    page.get_by_role("radio", name="Large").check()
    page.get_by_role("button", name="Create event").click()
    log = page.locator("#action-log")
    expect(log).to_contain_text('"event.create"')
    import json

    action = json.loads(log.inner_text())
    assert action["payload"] == {
        "source": "gallery",
        "name": "Launch party",
        "notes": "",
        "city": "tokyo",
        "date": "2026-12-01",
        "remind": True,
        "size": "large",
    }


def test_light_and_dark_themes(open_page, expect):
    page = open_gallery(open_page, expect)
    card_bg = "() => getComputedStyle(document.querySelector('.ck-card')).backgroundColor"
    light = page.evaluate(card_bg)
    page.get_by_role("button", name="Dark theme").click()
    dark = page.evaluate(card_bg)
    assert light != dark
    assert light == "rgb(255, 255, 255)"
    # A Card with theme: "dark" stays dark inside a light page.
    forced = page.evaluate(
        "() => getComputedStyle(document.querySelector('.ck-card[data-ck-theme=dark]')).backgroundColor"
    )
    assert forced == dark
    # The page follows the system preference when nothing forces a theme.
    system_dark = open_gallery(open_page, expect, color_scheme="dark")
    assert system_dark.evaluate(card_bg) == dark


HOSTILE = {
    "type": "Card",
    "status": {"text": "<img src=x onerror=\"window.pwned='status'\">", "favicon": "javascript:window.pwned='favicon'"},
    "confirm": {
        "label": "<b onmouseover=\"window.pwned='label'\">ok</b>",
        "action": {"type": "x", "handler": "client"},
    },
    "children": [
        {"type": "Text", "value": "<img src=x onerror=\"window.pwned='text'\">"},
        {"type": "Title", "value": "<script>window.pwned='title'</script>"},
        {
            "type": "Markdown",
            "value": (
                "<script>window.pwned='md-script'</script>\n\n"
                "<img src=x onerror=\"window.pwned='md-img'\">\n\n"
                "[click me](javascript:window.pwned='md-link')\n\n"
                "[also](  JaVaScRiPt:window.pwned='md-link2')\n\n"
                "[data](data:text/html,<script>window.pwned='md-data'</script>)\n\n"
                "**<svg onload=\"window.pwned='md-svg'\">**"
            ),
        },
        {"type": "Image", "src": "javascript:window.pwned='img'", "alt": "\"><script>window.pwned='alt'</script>"},
        {"type": "Badge", "label": "<iframe src=\"javascript:window.pwned='badge'\">"},
        {"type": "Button", "label": "<img src=x onerror=\"window.pwned='button'\">"},
        {
            "type": "Select",
            "name": "s",
            "options": [
                {
                    "value": "\"><script>window.pwned='opt'</script>",
                    "label": "<img src=x onerror=\"window.pwned='opt'\">",
                }
            ],
        },
        {
            "type": "Box",
            "background": "url(javascript:window.pwned='css')",
            "padding": "1px; background: url(https://example.invalid/x)",
            "children": [],
        },
        {
            "type": "Chart",
            "xAxis": "k",
            "data": [{"k": "<img src=x onerror=\"window.pwned='chart'\">", "v": 1}],
            "series": [{"type": "bar", "dataKey": "v", "label": "<script>window.pwned='series'</script>"}],
        },
    ],
}


def test_hostile_widget_values_and_markdown_never_execute(open_page, expect):
    page = open_gallery(open_page, expect)
    page.evaluate(
        """async (widget) => {
      const { renderWidget } = await import("/static/django_chatkit/widgets.js");
      const host = document.createElement("div");
      host.id = "hostile";
      host.append(renderWidget(widget, { onAction: () => {} }));
      document.body.append(host);
    }""",
        HOSTILE,
    )
    host = page.locator("#hostile")
    # Every value is shown as text...
    expect(host).to_contain_text("<img src=x onerror=\"window.pwned='text'\">")
    expect(host).to_contain_text("<script>window.pwned='title'</script>")
    expect(host).to_contain_text("<script>window.pwned='md-script'</script>")
    # ...and nothing became live markup, links or styles.
    assert host.locator("script, iframe, svg[onload], [onerror], [onload], [onmouseover]").count() == 0
    hrefs = host.locator("a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
    assert all(not href.lower().strip().startswith(("javascript", "data")) for href in hrefs)
    assert host.locator("img").evaluate_all("els => els.map(i => i.getAttribute('src'))") == [None]
    box_style = host.locator('[data-ck-type="Box"]').get_attribute("style") or ""
    assert "url(" not in box_style
    for link in host.locator("a").all():
        link.click(modifiers=["Alt"])  # would navigate to javascript: if it were allowed
    for button in host.get_by_role("button").all():
        button.click()
    page.wait_for_load_state()
    assert page.evaluate("window.pwned") is None
    assert page.js_errors == []


CSS_ESCAPES = [
    "\\75 rl(https://css-escape.invalid/a)",
    "\\000075rl(https://css-escape.invalid/b)",
    "\\u\\r\\l(https://css-escape.invalid/c)",
    "u\\72 l(https://css-escape.invalid/d)",
    "\\69mage-set(\\22 https://css-escape.invalid/e\\22  1x)",
    "u/**/rl(https://css-escape.invalid/f)",
]


def test_css_escapes_in_widget_styles_never_make_the_page_fetch(open_page, expect):
    page = open_gallery(open_page, expect)
    requested: list[str] = []
    page.context.on("request", lambda request: requested.append(request.url))
    page.evaluate(
        """async (values) => {
      const { renderWidget } = await import("/static/django_chatkit/widgets.js");
      const host = document.createElement("div");
      host.id = "escapes";
      const boxes = values.map((value) => ({ type: "Box", background: value, children: [{ type: "Text", value: "x" }] }));
      host.append(renderWidget({ type: "Card", children: boxes }, { onAction: () => {} }));
      document.body.append(host);
    }""",
        CSS_ESCAPES,
    )
    expect(page.locator("#escapes")).to_contain_text("x")
    page.wait_for_timeout(300)
    styles = page.locator('#escapes [data-ck-type="Box"]').evaluate_all(
        "els => els.map(e => e.getAttribute('style') || '')"
    )
    assert len(styles) == len(CSS_ESCAPES)
    assert not any("css-escape" in style for style in styles), styles
    assert not [url for url in requested if "css-escape.invalid" in url]
