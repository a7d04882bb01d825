"""CSS value cleaning for HTML mail (nh3 filters property names, not values).

Declarations are parsed with tinycss2 and rebuilt from tokens: url() only survives
when the caller's `rewrite_url` maps it (cid: parts, or the image proxy when remote
content is allowed); expression(), unknown functions, javascript: strings, bindings
and fixed/absolute/sticky positioning are dropped. Style sheets keep plain rules and
@media; @import, @font-face and every other at-rule go.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import tinycss2
from tinycss2 import ast

RewriteUrl = Callable[[str], str | None]

# Layout and typography; nothing that loads code or escapes the message's box.
ALLOWED_CSS_PROPERTIES = frozenset(
    {
        "background", "background-color", "background-image", "background-position",
        "background-repeat", "background-size", "border", "border-bottom",
        "border-bottom-color", "border-bottom-left-radius", "border-bottom-right-radius",
        "border-bottom-style", "border-bottom-width", "border-collapse", "border-color",
        "border-left", "border-left-color", "border-left-style", "border-left-width",
        "border-radius", "border-right", "border-right-color", "border-right-style",
        "border-right-width", "border-spacing", "border-style", "border-top",
        "border-top-color", "border-top-left-radius", "border-top-right-radius",
        "border-top-style", "border-top-width", "border-width", "box-sizing",
        "caption-side", "clear", "color", "column-count", "column-gap", "direction",
        "display", "empty-cells", "float", "font", "font-family", "font-size",
        "font-stretch", "font-style", "font-variant", "font-weight", "height",
        "letter-spacing", "line-height", "list-style", "list-style-position",
        "list-style-type", "margin", "margin-bottom", "margin-left", "margin-right",
        "margin-top", "max-height", "max-width", "min-height", "min-width",
        "mso-line-height-rule", "opacity", "outline", "overflow", "overflow-wrap",
        "overflow-x", "overflow-y", "padding", "padding-bottom", "padding-left",
        "padding-right", "padding-top", "position", "table-layout", "text-align",
        "text-decoration", "text-decoration-color", "text-decoration-line", "text-indent",
        "text-overflow", "text-shadow", "text-transform", "vertical-align", "visibility",
        "white-space", "width", "word-break", "word-spacing", "word-wrap", "box-shadow",
        "border-image", "line-break", "hyphens", "unicode-bidi", "-webkit-text-size-adjust",
        "-ms-text-size-adjust",
    }
)  # fmt: skip
ALLOWED_FUNCTIONS = frozenset(
    {"rgb", "rgba", "hsl", "hsla", "calc", "min", "max", "clamp", "linear-gradient",
     "radial-gradient", "repeating-linear-gradient", "repeating-radial-gradient"}
)  # fmt: skip
# Positioning that lets a message draw over our UI (phishing overlays).
_ALLOWED_POSITIONS = frozenset({"static", "relative"})
_SCRIPT_URL_RE = re.compile(r"(?i)(java|vb|live)script:|data:|expression|behavior|binding")
# A stylesheet larger than this is not hand-made styling; it is dropped whole.
MAX_STYLESHEET_CHARS = 500_000


def _quote(url: str) -> str:
    escaped = url.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "")
    return f'url("{escaped}")'


def _clean_value(tokens: Iterable[ast.Node], rewrite_url: RewriteUrl) -> str | None:
    """Serialize a declaration's value, or None if it must go."""
    out: list[str] = []
    for token in tokens:
        if isinstance(token, ast.URLToken):
            target = rewrite_url(token.value)
            if target is None:
                return None
            out.append(_quote(target))
        elif isinstance(token, ast.FunctionBlock):
            name = token.lower_name
            if name == "url":
                strings = [t for t in token.arguments if isinstance(t, ast.StringToken)]
                target = rewrite_url(strings[0].value) if len(strings) == 1 else None
                if target is None:
                    return None
                out.append(_quote(target))
                continue
            if name not in ALLOWED_FUNCTIONS:
                return None
            inner = _clean_value(token.arguments, rewrite_url)
            if inner is None:
                return None
            out.append(f"{token.name}({inner})")
        elif isinstance(token, ast.ParseError | ast.AtKeywordToken):
            return None
        elif isinstance(token, ast.Comment):
            continue
        elif isinstance(
            token, ast.ParenthesesBlock | ast.SquareBracketsBlock | ast.CurlyBracketsBlock
        ):
            inner = _clean_value(token.content, rewrite_url)
            if inner is None:
                return None
            out.append(tinycss2.serialize([token])[0] + inner + tinycss2.serialize([token])[-1])
        else:
            text = tinycss2.serialize([token])
            if _SCRIPT_URL_RE.search(text.replace("\\", "")):
                return None
            out.append(text)
    return "".join(out).strip()


def _clean_declaration_nodes(nodes: Iterable[ast.Node], rewrite_url: RewriteUrl) -> str:
    kept = []
    for node in nodes:
        if not isinstance(node, ast.Declaration):
            continue
        name = node.lower_name
        if name not in ALLOWED_CSS_PROPERTIES:
            continue
        value = _clean_value(node.value, rewrite_url)
        if not value:
            continue
        if name == "position" and value.lower() not in _ALLOWED_POSITIONS:
            continue
        kept.append(f"{name}:{value}{' !important' if node.important else ''}")
    return ";".join(kept)


def clean_declarations(style: str, rewrite_url: RewriteUrl) -> str:
    """Clean the value of a style="" attribute."""
    try:
        nodes = tinycss2.parse_declaration_list(style, skip_comments=True, skip_whitespace=True)
        return _clean_declaration_nodes(nodes, rewrite_url)
    except (Exception, RecursionError):  # noqa: BLE001 - unparseable CSS is simply dropped
        return ""


def _clean_rules(rules: Iterable[ast.Node], rewrite_url: RewriteUrl, depth: int) -> list[str]:
    out = []
    for rule in rules:
        if isinstance(rule, ast.QualifiedRule):
            prelude = tinycss2.serialize(rule.prelude).strip()
            body = _clean_declaration_nodes(
                tinycss2.parse_declaration_list(
                    rule.content, skip_comments=True, skip_whitespace=True
                ),
                rewrite_url,
            )
            if prelude and body:
                out.append(f"{prelude}{{{body}}}")
        elif (
            isinstance(rule, ast.AtRule)
            and rule.lower_at_keyword == "media"
            and rule.content is not None
            and depth < 3
        ):
            inner = tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True)
            body = "".join(_clean_rules(inner, rewrite_url, depth + 1))
            prelude = tinycss2.serialize(rule.prelude).strip()
            if body and not _SCRIPT_URL_RE.search(prelude):
                out.append(f"@media {prelude}{{{body}}}")
    return out


def clean_stylesheet(css: str, rewrite_url: RewriteUrl) -> str:
    """Clean the text of a <style> block."""
    if len(css) > MAX_STYLESHEET_CHARS:
        return ""
    try:
        rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
        cleaned = "\n".join(_clean_rules(rules, rewrite_url, 0))
    except (Exception, RecursionError):  # noqa: BLE001 - unparseable CSS is simply dropped
        return ""
    # Never let the text end its own <style> element or open a comment in HTML.
    return cleaned.replace("<", "\\3c ")
