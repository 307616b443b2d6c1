"""HTML (a Teams message) reduced to the text a person sees, before it is masked.

Masking works on text: ``12<b>34</b>56`` must be seen as ``123456``.
Re-exported by :mod:`bot.masking`.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Collection, List, Optional, Tuple

_BLOCK_TAGS = frozenset({
    "address", "article", "blockquote", "br", "dd", "div", "dl", "dt", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "li", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
})
_DROPPED_TAGS = frozenset({"script", "style", "template"})


class _TextExtractor(HTMLParser):
    def __init__(self, skip: Collection[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: List[str] = []
        self.skip = frozenset(t.lower() for t in skip) | _DROPPED_TAGS
        self.skipping: List[str] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        if tag in self.skip:
            self.skipping.append(tag)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.skip:
            if tag in self.skipping:
                while self.skipping and self.skipping.pop() != tag:
                    pass
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(s: str, *, skip_tags: Collection[str] = ()) -> str:
    """The text a person sees in an HTML fragment (a Teams message): tags
    removed without adding spaces inside a line (``12<b>34</b>56`` -> ``123456``),
    block elements as line breaks, entities decoded, ``script``/``style`` and
    any ``skip_tags`` (Teams' ``at`` mentions) dropped with their content.
    Uses the standard library's HTML parser; callers cap the input's length."""
    if not s or ("<" not in s and "&" not in s):
        return s or ""
    parser = _TextExtractor(skip_tags)
    parser.feed(s)
    parser.close()
    lines = (line.strip() for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)
