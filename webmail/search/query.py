"""A Gmail-style query language: the text a person types, parsed into a small AST.

Grammar (terms are ANDed; OR binds tighter than the implicit AND, as in Gmail):

    query   := expr*
    expr    := unary ("OR" unary)*
    unary   := "-" unary | atom
    atom    := "(" query ")" | name ":" value | '"' phrase '"' | word

A `name:value` whose name is not an operator (``Re:``, ``http://…``) is a plain word,
so pasted text never fails; a known operator with a value it cannot read raises
QueryError with a message meant for the person (in their language: the parser runs in
their request) and the position of the culprit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext

from webmail.search.schema import CJK_CLASS

MAX_QUERY_LENGTH = 1000
MAX_TERMS = 64  # every term may become a subquery; bound the SQL we generate

TEXT_FIELDS = ("from", "to", "cc", "subject", "filename", "in", "account")
IS_VALUES = {"unread": "unread", "read": "read", "starred": "starred", "flagged": "starred"}
HAS_VALUES = {"attachment": "attachment", "attachments": "attachment"}
SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2,
              "g": 1024**3, "gb": 1024**3}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)", re.IGNORECASE)
_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
_OPERATOR = re.compile(r"([A-Za-z]+):")
CJK_RUN = re.compile(f"({CJK_CLASS}+)")  # split() keeps the runs


class QueryError(ValueError):
    """A query the parser cannot read; `str()` is a sentence to show the person."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True)
class Text:
    """Free text: a word (`prefix` when typed as ``word*``) or a "quoted phrase"."""

    value: str
    phrase: bool = False
    prefix: bool = False


@dataclass(frozen=True)
class Field:
    """A text operator: from, to, cc, subject, filename, in (folder) or account."""

    name: str
    value: str


@dataclass(frozen=True)
class Flag:
    """is:unread / is:read / is:starred, and has:attachment (name "attachment")."""

    name: str


@dataclass(frozen=True)
class DateBound:
    """before: (strictly earlier than that day) or after: (that day or later)."""

    kind: str
    day: date


@dataclass(frozen=True)
class SizeBound:
    """larger: / smaller: in bytes."""

    kind: str
    size: int


@dataclass(frozen=True)
class Not:
    term: Node


@dataclass(frozen=True)
class Or:
    terms: tuple[Node, ...]


@dataclass(frozen=True)
class And:
    terms: tuple[Node, ...]


Node = Text | Field | Flag | DateBound | SizeBound | Not | Or | And


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "-", "OR", "word", "phrase", "op"
    value: str
    pos: int
    name: str = ""  # operator name for "op"
    quoted: bool = False  # operator value was "quoted"


def parse(query: str) -> And:
    """Parse a query into an And of terms (empty for a blank query)."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(gettext("The search is too long (over %(limit)s characters).")
                         % {"limit": MAX_QUERY_LENGTH}, MAX_QUERY_LENGTH)
    tokens = _tokens(query)
    parser = _Parser(tokens, len(query))
    result = parser.sequence(top=True)
    if parser.count > MAX_TERMS:
        raise QueryError(gettext("The search has too many terms (over %(limit)s).")
                         % {"limit": MAX_TERMS}, 0)
    return result


def _tokens(query: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char.isspace():
            i += 1
        elif char in "()":
            out.append(_Token(char, char, i))
            i += 1
        elif char == "-" and i + 1 < n and not query[i + 1].isspace():
            out.append(_Token("-", "-", i))
            i += 1
        elif char == '"':
            value, i = _quoted(query, i)
            out.append(_Token("phrase", value, i))
        else:
            start = i
            match = _OPERATOR.match(query, i)
            if match and match.group(1).lower() in _OPERATOR_NAMES and match.end() < n \
                    and query[match.end()] == '"':
                value, i = _quoted(query, match.end())
                out.append(_Token("op", value, start, match.group(1).lower(), quoted=True))
                continue
            while i < n and not query[i].isspace() and query[i] not in "()":
                i += 1
            word = query[start:i]
            if not word.strip("-"):
                continue  # a dash on its own, as in "budget - draft"
            if word == "OR":
                out.append(_Token("OR", word, start))
            elif match and match.group(1).lower() in _OPERATOR_NAMES:
                out.append(_Token("op", word[match.end() - start:], start,
                                  match.group(1).lower()))
            else:
                out.append(_Token("word", word, start))
    return out


def _quoted(query: str, start: int) -> tuple[str, int]:
    end = query.find('"', start + 1)
    if end < 0:
        raise QueryError(gettext("The quote at position %(position)s is never closed.")
                         % {"position": start + 1}, start)
    return query[start + 1:end].strip(), end + 1


_OPERATOR_NAMES = frozenset((*TEXT_FIELDS, "is", "has", "before", "after", "older",
                             "newer", "larger", "smaller", "label"))


class _Parser:
    def __init__(self, tokens: list[_Token], length: int) -> None:
        self.tokens = tokens
        self.length = length
        self.i = 0
        self.count = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def sequence(self, *, top: bool) -> And:
        terms: list[Node] = []
        while (token := self.peek()) is not None:
            if token.kind == ")":
                if top:
                    raise QueryError(
                        gettext("The bracket at position %(position)s closes nothing.")
                        % {"position": token.pos + 1}, token.pos)
                break
            term = self.expr()
            if term is not None:
                terms.append(term)
        return And(tuple(terms))

    def expr(self) -> Node | None:
        first = self.unary()
        alternatives = [first] if first is not None else []
        while (token := self.peek()) is not None and token.kind == "OR":
            if not alternatives:
                raise QueryError(_or_alone(token.pos, before=True), token.pos)
            self.i += 1
            following = self.peek()
            if following is None or following.kind in (")", "OR"):
                raise QueryError(_or_alone(token.pos, before=False), token.pos)
            nxt = self.unary()
            if nxt is not None:
                alternatives.append(nxt)
        if not alternatives:
            return None
        return alternatives[0] if len(alternatives) == 1 else Or(tuple(alternatives))

    def unary(self) -> Node | None:
        token = self.peek()
        assert token is not None
        if token.kind == "OR":
            raise QueryError(_or_alone(token.pos, before=True), token.pos)
        if token.kind == "-":
            self.i += 1
            following = self.peek()
            if following is None or following.kind in (")", "OR"):
                raise QueryError(
                    gettext("Nothing follows the minus at position %(position)s.")
                    % {"position": token.pos + 1}, token.pos)
            inner = self.unary()
            return Not(inner) if inner is not None else None
        return self.atom()

    def atom(self) -> Node | None:
        token = self.peek()
        assert token is not None
        self.i += 1
        self.count += 1
        if token.kind == "(":
            inner = self.sequence(top=False)
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise QueryError(
                    gettext("The bracket at position %(position)s is never closed.")
                    % {"position": token.pos + 1}, token.pos)
            self.i += 1
            if not inner.terms:
                return None
            return inner.terms[0] if len(inner.terms) == 1 else inner
        if token.kind == "phrase":
            return Text(token.value, phrase=True) if token.value else None
        if token.kind == "op":
            return _operator(token)
        word = token.value
        if len(word) > 1 and word.endswith("*"):
            return Text(word.rstrip("*"), prefix=True)
        return Text(word)


def _operator(token: _Token) -> Node:
    name, value, pos = token.name, token.value.strip(), token.pos
    if not value:
        raise QueryError(
            gettext("%(operator)s: at position %(position)s needs a value after the colon.")
            % {"operator": name, "position": pos + 1}, pos)
    lowered = value.lower()
    if name == "label":
        name = "in"
    if name in TEXT_FIELDS:
        return Field(name, value)
    if name == "is":
        if lowered not in IS_VALUES:
            raise QueryError(
                gettext("is:%(value)s at position %(position)s is unknown; use is:unread, "
                        "is:read or is:starred.") % {"value": value, "position": pos + 1}, pos)
        return Flag(IS_VALUES[lowered])
    if name == "has":
        if lowered not in HAS_VALUES:
            raise QueryError(
                gettext("has:%(value)s at position %(position)s is unknown; use "
                        "has:attachment.") % {"value": value, "position": pos + 1}, pos)
        return Flag("attachment")
    if name in ("before", "after", "older", "newer"):
        kind = "before" if name in ("before", "older") else "after"
        return DateBound(kind, _date(value, name, pos))
    size_match = _SIZE.fullmatch(value)
    unit = size_match.group(2).lower() if size_match else ""
    if size_match is None or unit not in SIZE_UNITS:
        raise QueryError(
            gettext("%(operator)s:%(value)s at position %(position)s is not a size; write "
                    "it like 10K, 5M or 1G.")
            % {"operator": name, "value": value, "position": pos + 1}, pos)
    return SizeBound(name, int(float(size_match.group(1)) * SIZE_UNITS[unit]))


def _date(value: str, name: str, pos: int) -> date:
    match = _DATE.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise QueryError(
            gettext("%(operator)s:%(value)s at position %(position)s is not a date; write "
                    "it like 2024-05-31 or 2024/05/31.")
            % {"operator": name, "value": value, "position": pos + 1}, pos) from None


def _or_alone(pos: int, *, before: bool) -> str:
    if before:
        return gettext("OR at position %(position)s has nothing before it.") % {
            "position": pos + 1}
    return gettext("OR at position %(position)s has nothing after it.") % {"position": pos + 1}


def positive_text(query: And) -> list[Text]:
    """The free-text terms every hit must contain (top level, not negated, not in OR)."""
    return [term for term in query.terms if isinstance(term, Text)]


def all_text(node: Node) -> list[Text]:
    """Every free-text term that is not negated, for highlighting and IMAP SEARCH."""
    if isinstance(node, Text):
        return [node]
    if isinstance(node, Or | And):
        return [t for term in node.terms for t in all_text(term)]
    return []


def words_and_cjk_runs(terms: Sequence[Text]) -> tuple[list[str], list[str]]:
    """The terms' words, and their CJK runs apart (no word boundaries in CJK: a run is
    matched and marked as a substring)."""
    words: list[str] = []
    runs: list[str] = []
    for term in terms:
        for i, piece in enumerate(CJK_RUN.split(term.value)):
            if i % 2:
                runs.append(piece)
            else:
                words.extend(piece.split())
    return words, runs
