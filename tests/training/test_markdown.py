"""The model card renderer: the Markdown the cards are written in becomes HTML, and nothing in a
card becomes markup of its own (no test database: pure text in, text out)."""

from training.markdown import render_markdown

CARD = """# Faune classifier 1.0.0

Model version: faune-head round-3 (head trained on frozen embeddings).
Backbone: `efficientnet_lite0` at 224 px, **bicubic** resize.

## Test figures

| class | French | recall |
|---|---|---|
| red deer | cerf | 0.91 |
| wild boar | sanglier | 0.88 |

- Whole cameras held out: 0.
- Detector: none.

1. first
2. second

```python
print("<b>kept as text</b>")
```
"""


def test_the_subset_the_cards_use_is_rendered():
    html = render_markdown(CARD)
    assert "<h2>Faune classifier 1.0.0</h2>" in html and "<h3>Test figures</h3>" in html
    assert (
        "<p>Model version: faune-head round-3 (head trained on frozen embeddings). Backbone: "
        "<code>efficientnet_lite0</code> at 224 px, <strong>bicubic</strong> resize.</p>" in html
    )
    assert "<thead><tr><th>class</th><th>French</th><th>recall</th></tr></thead>" in html
    assert "<tr><td>red deer</td><td>cerf</td><td>0.91</td></tr>" in html and "|---|" not in html
    assert "<ul><li>Whole cameras held out: 0.</li><li>Detector: none.</li></ul>" in html
    assert "<ol><li>first</li><li>second</li></ol>" in html
    assert (
        '<pre><code class="language-python">print(&quot;&lt;b&gt;kept as '
        "text&lt;/b&gt;&quot;)</code></pre>"
    ) in html


def test_raw_html_in_a_card_is_shown_as_text_never_as_markup():
    hostile = (
        '# <script>alert(1)</script>\n\nA <img src=x onerror="alert(2)"> and `<svg '
        'onload=alert(3)>`\n\n| <iframe src="javascript:alert(4)"> | b |\n|---|---|\n| '
        "**<b>x</b>** | y |\n\n- <a href=x>link</a>"
    )
    html = render_markdown(hostile)
    for tag in ("<script", "<img", "<svg", "<iframe", "<a ", "<b>"):
        assert tag not in html, tag
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        and "<code>&lt;svg onload=alert(3)&gt;</code>" in html
    )
    assert "<strong>&lt;b&gt;x&lt;/b&gt;</strong>" in html


def test_an_unpaired_backtick_and_a_lone_pipe_stay_text():
    html = render_markdown("a ` b `c` d\n\nx | y")
    assert html == "<p>a <code> b </code>c` d</p>\n<p>x | y</p>"
