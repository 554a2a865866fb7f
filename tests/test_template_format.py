"""static/django_chatkit/template_format.js (the admin editor's Format button for templates),
run by Node: a formatted template renders the same widget, and formatting is idempotent."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from django_chatkit.widgets import WidgetDefinition
from tests.support.services import missing

ROOT = Path(__file__).resolve().parent.parent
MODULE = ROOT / "django_chatkit" / "static" / "django_chatkit" / "template_format.js"
EXAMPLE_WIDGETS = ROOT / "example_project" / "demo" / "widgets"
NODE = shutil.which("node")

if NODE is None:
    missing("Node.js is not installed", module_level=True)

SCRIPT = """
import { formatTemplate } from %s;
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const out = JSON.parse(input).map((source) => {
    try { return { text: formatTemplate(source) }; } catch (err) { return { error: err.message }; }
  });
  process.stdout.write(JSON.stringify(out));
});
"""


def format_all(sources: list[str]) -> list[dict]:
    result = subprocess.run(
        [NODE, "--input-type=module", "-e", SCRIPT % json.dumps(MODULE.as_uri())],
        input=json.dumps(sources),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def test_formatted_shipped_templates_render_the_same_widget_and_format_is_idempotent():
    definitions = [WidgetDefinition.from_file(path) for path in sorted(EXAMPLE_WIDGETS.glob("*.widget"))]
    formatted = [entry["text"] for entry in format_all([d.template for d in definitions])]
    again = [entry["text"] for entry in format_all(formatted)]
    assert again == formatted
    for definition, text in zip(definitions, formatted):
        assert text != definition.template or "\n  " in text
        reformatted = WidgetDefinition(name=definition.name, template=text, json_schema=definition.json_schema)
        assert reformatted.render(definition.sample_data) == definition.render(definition.sample_data)


def test_minified_template_is_laid_out_one_member_a_line_and_tags_are_kept():
    source = '{"type":"Card","children":[{% for x in xs %}{"type":"Text","value":{{ x|tojson }}}{% if not loop.last %},{% endif %}{% endfor %}]}'
    [entry] = format_all([source])
    assert entry["text"] == "\n".join(
        [
            "{",
            '  "type": "Card",',
            '  "children": [',
            "    {% for x in xs %}{",
            '      "type": "Text",',
            '      "value": {{ x|tojson }}',
            "    }{% if not loop.last %},{% endif %}{% endfor %}",
            "  ]",
            "}",
        ]
    )
    definition = WidgetDefinition(name="t", template=source)
    assert WidgetDefinition(name="t", template=entry["text"]).render({"xs": ["a", "b"]}) == definition.render(
        {"xs": ["a", "b"]}
    )


def test_a_template_that_cannot_be_read_is_refused_with_the_reason():
    assert format_all(['{"value": {{ title }'])[0] == {"error": "unterminated Jinja tag at character 11: {{ title }"}
    assert format_all(['{"value": "open'])[0] == {"error": "unterminated string at character 11"}
