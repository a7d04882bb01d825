"""HTML mail made safe to show, and HTML made into plain text.

`sanitize_html` is the one door HTML mail goes through before a browser sees it. It
runs nh3 (the Rust ammonia sanitizer) with allowlists; CSS values, which nh3 does not
inspect, are cleaned by webmail.parsing.css from inside nh3's attribute filter (style
attributes) and, for `<style>` blocks, on nh3's own normalised output before a final
nh3 pass. Nothing edits the HTML after nh3 has run. The result is still shown in a
sandboxed iframe with its own CSP: this is one layer of several.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3

from webmail.parsing.css import ALLOWED_CSS_PROPERTIES, clean_declarations, clean_stylesheet

# Bump when the rules change, so cached sanitized bodies are rebuilt.
SANITIZER_VERSION = 1

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption",
        "center", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt",
        "em", "figcaption", "figure", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
        "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small",
        "span", "strike", "strong", "style", "sub", "sup", "table", "tbody", "td", "tfoot",
        "th", "thead", "time", "tr", "tt", "u", "ul", "var", "wbr",
    }
)  # fmt: skip
# Removed together with everything inside them (not unwrapped into text).
CLEAN_CONTENT_TAGS = frozenset(
    {"script", "noscript", "title", "head", "template", "svg", "math", "iframe", "frame",
     "frameset", "object", "embed", "applet", "textarea", "select", "button", "noembed",
     "noframes", "xmp", "plaintext"}
)  # fmt: skip
_COMMON_ATTRIBUTES = {"align", "valign", "dir", "lang", "title", "style", "class", "id",
                      "width", "height", "bgcolor", "color"}  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": _COMMON_ATTRIBUTES,
    "a": {"href", "name"},
    "img": {"src", "alt", "border", "hspace", "vspace"},
    "font": {"face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "background", "summary", "frame",
              "rules"},
    "td": {"colspan", "rowspan", "nowrap", "background", "headers", "scope", "abbr"},
    "th": {"colspan", "rowspan", "nowrap", "background", "headers", "scope", "abbr"},
    "col": {"span"}, "colgroup": {"span"},
    "ol": {"start", "type", "reversed"}, "ul": {"type"}, "li": {"value", "type"},
    "blockquote": {"cite"}, "q": {"cite"}, "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"}, "time": {"datetime"}, "hr": {"size", "noshade"},
    "pre": {"wrap"}, "style": {"type", "media"},
}  # fmt: skip
URL_SCHEMES = frozenset({"http", "https", "mailto", "cid"})
_REMOTE_PREFIXES = ("http://", "https://", "//")


@dataclass(frozen=True)
class SanitizedHtml:
    html: str
    has_remote_content: bool


def sanitize_html(
    html: str,
    *,
    allow_remote: bool = False,
    proxy_url: Callable[[str], str] | None = None,
    cid_url: Callable[[str], str] | None = None,
) -> SanitizedHtml:
    """Sanitize HTML mail for display in the sandboxed frame.

    Remote images and CSS url()s are dropped unless `allow_remote`, in which case they
    are rewritten through `proxy_url` (dropped if there is none). `cid:` sources are
    mapped through `cid_url` when given, kept otherwise.
    """
    remote_found = False
    produced: set[str] = set()  # URLs we made (proxy, parts): relative ones may stay

    def rewrite_url(url: str) -> str | None:
        nonlocal remote_found
        stripped = url.strip()
        lowered = stripped.lower()
        if lowered.startswith("cid:"):
            return _remember(cid_url(stripped[4:])) if cid_url else stripped
        if lowered.startswith(_REMOTE_PREFIXES):
            remote_found = True
            if allow_remote and proxy_url is not None:
                target = "https:" + stripped if lowered.startswith("//") else stripped
                return _remember(proxy_url(target))
        return None

    def _remember(url: str) -> str:
        produced.add(url)
        return url

    def keep_produced(url: str) -> str | None:
        return url if url in produced else None

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if attribute == "style":
            return clean_declarations(value, rewrite_url) or None
        if attribute in {"src", "background"}:
            return rewrite_url(value)
        return value

    normalised = _clean(html, None, keep_produced, link_rel=None)
    # Style blocks are cleaned on nh3's own serialisation, where the parse is settled,
    # and nh3 then runs once more over the result.
    with_clean_styles = _StyleBlockCleaner(normalised, rewrite_url).result()
    cleaned = _clean(with_clean_styles, attribute_filter, keep_produced)
    return SanitizedHtml(html=cleaned, has_remote_content=remote_found)


def _clean(
    html: str,
    attribute_filter: Callable[[str, str, str], str | None] | None,
    url_relative: Callable[[str], str | None],
    link_rel: str | None = "noopener noreferrer",
) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=attribute_filter,
        strip_comments=True,
        link_rel=link_rel,
        url_schemes=set(URL_SCHEMES),
        filter_style_properties=set(ALLOWED_CSS_PROPERTIES),
        set_tag_attribute_values={"a": {"target": "_blank"}} if link_rel else None,
        # Relative URLs in mail would resolve against our site: only ours may stay.
        url_relative=url_relative,
    )


class _StyleBlockCleaner(HTMLParser):
    """Re-emit nh3-serialised HTML with each <style> block's CSS cleaned."""

    def __init__(self, document: str, rewrite_url: Callable[[str], str | None]) -> None:
        super().__init__(convert_charrefs=False)
        self.document = document
        self.rewrite_url = rewrite_url
        self.line_offsets = [0]
        for line in document.splitlines(keepends=True):
            self.line_offsets.append(self.line_offsets[-1] + len(line))
        self.spans: list[tuple[int, int]] = []
        self.style_start: int | None = None

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_offsets[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "style":
            self.style_start = self._offset() + len(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "style" and self.style_start is not None:
            self.spans.append((self.style_start, self._offset()))
            self.style_start = None

    def result(self) -> str:
        if "<style" not in self.document:
            return self.document
        self.feed(self.document)
        self.close()
        if self.style_start is not None:  # unterminated: drop the rest
            self.spans.append((self.style_start, len(self.document)))
        pieces, last = [], 0
        for start, end in self.spans:
            pieces.append(self.document[last:start])
            pieces.append(clean_stylesheet(self.document[start:end], self.rewrite_url))
            last = end
        pieces.append(self.document[last:])
        return "".join(pieces)


# --- HTML to text -----------------------------------------------------------------------

_SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript"})
_BLOCKS = frozenset(
    {"p", "div", "table", "tr", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
     "blockquote", "pre", "section", "article", "header", "footer", "hr", "dl", "dt", "dd",
     "center", "address", "form", "body"}
)  # fmt: skip


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skip_depth += 1
        elif tag == "br":
            self.pieces.append("\n")
        elif tag in _BLOCKS:
            self.pieces.append("\n")
            if tag == "li":
                self.pieces.append("- ")
            elif tag == "pre":
                self.pre_depth += 1
        elif tag in {"td", "th"}:
            self.pieces.append(" ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self.skip_depth:
                self.pieces.append(f" {alt} ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIPPED:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _BLOCKS:
            self.pieces.append("\n")
            if tag == "pre":
                self.pre_depth = max(0, self.pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre_depth:
            self.pieces.append(data)
            return
        collapsed = " ".join(data.split())
        lead = " " if data[:1].isspace() else ""
        trail = " " if data[-1:].isspace() and collapsed else ""
        self.pieces.append(lead + collapsed + trail)


def html_to_text(html: str) -> str:
    """Readable plain text from HTML (for snippets, search and text-only views)."""
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
    except (Exception, RecursionError):  # noqa: BLE001, S110 - keep what was read
        pass
    lines = [" ".join(line.split()) for line in "".join(extractor.pieces).splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()
