"""Widget template bombs: templates that would run or grow without bound, each with (a
piece of) the message the bounded renderer refuses it with."""

from __future__ import annotations

TEXT = '{"type": "Card", "children": [{"type": "Text", "value": %s}]}'
BOMBS = {
    "nested loops of 5e8": (
        "{% for i in range(100000) %}{% for j in range(5000) %}{% endfor %}{% endfor %}" + TEXT % '"x"',
        "loop iterations",
    ),
    "lipsum(n=100000)": (TEXT % "{{ lipsum(n=100000)|tojson }}", "over what the render may produce"),
    "50 MB concatenation": (
        '{% set ns = namespace(s="x" * 100000) %}{% for i in range(9) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}'
        + TEXT % "{{ ns.s|tojson }}",
        "characters",
    ),
    "template text repeated": ("{% for i in range(100000) %}" + "x" * 100 + "{% endfor %}", "characters"),
    "recursive macro": ("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", "nest over"),
    "deeply nested output": (
        '{% for i in range(3000) %}{"type": "Card", "children": [{% endfor %}{% for i in range(3000) %}]}{% endfor %}',
        "nests too deeply",
    ),
    "replace amplification": ('{% set s = "x" * 100000 %}' + TEXT % '{{ s|replace("", s)|tojson }}', "would be"),
    "format width": (TEXT % '{{ "%0100000000d"|format(1)|tojson }}', "would be"),
    "str.format width": (TEXT % '{{ "{:>100000000}".format(1)|tojson }}', "would be"),
    "center width": (TEXT % '{{ "x"|center(100000000)|tojson }}', "would be"),
}
