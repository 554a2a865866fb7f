// markdown.js: what an assistant message shows, and that it cannot inject markup.
import { test } from "node:test";
import assert from "node:assert/strict";

import { markdownToHtml, tableCells } from "../../django_chatkit/static/django_chatkit/markdown.js";

test("a table becomes a table, with alignment classes and escaped cells", () => {
  const html = markdownToHtml("| Line | Stops |\n|:---|---:|\n| Blue | 12 |\n| <b>Red</b> | a \\| b |");
  assert.equal(
    html,
    '<div class="ck-table-wrap"><table><thead><tr><th>Line</th><th class="ck-align-right">Stops</th></tr></thead>' +
      '<tbody><tr><td>Blue</td><td class="ck-align-right">12</td></tr>' +
      '<tr><td>&lt;b&gt;Red&lt;/b&gt;</td><td class="ck-align-right">a | b</td></tr></tbody></table></div>',
  );
});

test("rows with missing cells are padded; text after the table is a paragraph", () => {
  const html = markdownToHtml("a | b\n--|--\n| 1 |\n\nafter");
  assert.match(html, /<tr><td>1<\/td><td><\/td><\/tr>/);
  assert.ok(html.endsWith("<p>after</p>"));
});

test("pipes without a rule line stay text", () => {
  assert.equal(markdownToHtml("a | b"), "<p>a | b</p>");
  assert.deepEqual(tableCells("| x | y |"), ["x", "y"]);
});

test("nested lists keep their nesting", () => {
  assert.equal(
    markdownToHtml("- one\n  - one.a\n    1. deep\n  - one.b\n- two"),
    "<ul><li>one<ul><li>one.a<ol><li>deep</li></ol></li><li>one.b</li></ul></li><li>two</li></ul>",
  );
});

test("a bullet list followed by a numbered one gives two lists", () => {
  assert.equal(markdownToHtml("- a\n1. b"), "<ul><li>a</li></ul><ol><li>b</li></ol>");
});

test("markup and script links are neutralised", () => {
  const html = markdownToHtml('<img src=x onerror=alert(1)> [x](javascript:alert(1)) [ok](https://example.com/?a=1&b="2")');
  assert.ok(!html.includes("<img"));
  assert.ok(!html.includes("javascript:"));
  assert.match(html, /<a href="https:\/\/example.com\/\?a=1&amp;b=&quot;2&quot;"/);
});

test("emphasis, code and headings", () => {
  assert.equal(markdownToHtml("# Title\n**bold** `*not em*`"), "<h1>Title</h1><p><strong>bold</strong> <code>*not em*</code></p>");
});
