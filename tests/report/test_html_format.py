"""HTML: standalone (no external assets, no script), strict CSP, every value escaped."""

from __future__ import annotations

from html.parser import HTMLParser

from cniguard.model.finding import Report
from cniguard.report import render
from cniguard.report.html_format import CSP


class _Elements(HTMLParser):
    """Collects every start tag with its attributes, as a browser would build them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(text: str) -> _Elements:
    parser = _Elements()
    parser.feed(text)
    parser.close()
    return parser


def test_content_security_policy(report: Report) -> None:
    metas = [a for t, a in _parse(render(report, "html")).tags if t == "meta"]
    csp = [m["content"] for m in metas if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp == [CSP]
    assert CSP.startswith("default-src 'none'; style-src 'unsafe-inline'")


def test_standalone_page(report: Report) -> None:
    tags = _parse(render(report, "html")).tags
    names = {t for t, _ in tags}
    assert names.isdisjoint({"script", "img", "link", "iframe", "object", "embed", "base", "form"})
    for _, attrs in tags:
        assert not {"src", "href", "action"} & attrs.keys()
        assert not any(k.startswith("on") for k in attrs)


def test_hostile_values_are_escaped(hostile_report: Report) -> None:
    text = render(hostile_report, "html")
    page = _parse(text)
    names = {t for t, _ in page.tags}
    assert "script" not in names
    assert "img" not in names
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in text
    body = "".join(page.text)
    assert '"><img src=x onerror=alert(1)>' in body
    assert "<script>alert(1)</script>" in body


def test_tiles_and_sections(report: Report) -> None:
    page = _parse(render(report, "html"))
    body = "".join(page.text)
    for heading in ("Summary", "Coverage gaps", "Clusters", "Findings"):
        assert heading in body
    tiles = [a for t, a in page.tags if t == "div" and "tile" in (a.get("class") or "")]
    assert len(tiles) == 8
    assert sum(1 for t, _ in page.tags if t == "article") == 11
    assert "4 passing check(s) not listed." in body
