"""An HTML page read as a browser would build it (elements, attributes, visible text), the strings
a hostile customer could name things, and the check that a page holds nothing that runs or loads.
"""

from __future__ import annotations

import html.parser

from shared.reports import page

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    '"><script>alert(1)</script>',
    "'><svg onload=alert(1)>",
    "</style><script>alert(1)</script>",
    "</title><iframe src=https://evil.example>",
    '<a href="javascript:alert(1)">x</a>',
    "\x1b[31mred\x1b[0m\nsecond line\u202e",
    "N" * 10_000,
]
FORBIDDEN_TAGS = {
    "script",
    "img",
    "iframe",
    "object",
    "embed",
    "link",
    "base",
    "form",
    "input",
    "a_evil",
    "meta_refresh",
}


class Page(html.parser.HTMLParser):
    """Collects what a browser would build: elements, their attributes, and the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def parse(document: str) -> Page:
    parser = Page()
    parser.feed(document)
    parser.close()
    return parser


def assert_inert(parsed: Page) -> None:
    """Nothing that runs, loads or navigates away: only in-page anchors, no event handlers."""
    names = {tag for tag, _ in parsed.tags}
    assert not names & FORBIDDEN_TAGS, names & FORBIDDEN_TAGS
    for tag, attrs in parsed.tags:
        for attr, value in attrs.items():
            assert not attr.startswith("on"), (tag, attr)
            assert attr not in {"src", "srcset", "action", "formaction", "background", "style"}, (tag, attr)
            if attr == "href":
                assert value is not None
                assert value.startswith("#"), value
    metas = parsed.named("meta")
    assert {"http-equiv": "Content-Security-Policy", "content": page.CSP} in metas
    assert not [m for m in metas if (m.get("http-equiv") or "").lower() == "refresh"]
