"""The query language alone: text in, AST or a readable error out."""

from __future__ import annotations

from datetime import date

import pytest

from webmail.search.query import (
    And,
    DateBound,
    Field,
    Flag,
    Not,
    Or,
    QueryError,
    SizeBound,
    Text,
    all_text,
    parse,
)


def test_free_words_become_text_terms_anded() -> None:
    assert parse("budget  review") == And((Text("budget"), Text("review")))


def test_a_blank_query_is_empty() -> None:
    assert parse("   ") == And(())


def test_quoted_phrase_is_one_term() -> None:
    assert parse('"quarterly budget" x') == And((Text("quarterly budget", phrase=True),
                                                Text("x")))


@pytest.mark.parametrize(("text", "term"), [
    ("from:bob", Field("from", "bob")),
    ("to:alice@example.org", Field("to", "alice@example.org")),
    ("cc:Carol", Field("cc", "Carol")),
    ('subject:"budget review"', Field("subject", "budget review")),
    ("filename:pdf", Field("filename", "pdf")),
    ("in:inbox", Field("in", "inbox")),
    ("label:Work", Field("in", "Work")),
    ("account:alice@work.example", Field("account", "alice@work.example")),
    ("has:attachment", Flag("attachment")),
    ("is:unread", Flag("unread")),
    ("is:read", Flag("read")),
    ("is:starred", Flag("starred")),
    ("IS:Starred", Flag("starred")),
    ("before:2024-05-31", DateBound("before", date(2024, 5, 31))),
    ("after:2024/1/2", DateBound("after", date(2024, 1, 2))),
    ("larger:10K", SizeBound("larger", 10 * 1024)),
    ("smaller:5M", SizeBound("smaller", 5 * 1024 * 1024)),
    ("larger:1.5mb", SizeBound("larger", int(1.5 * 1024 * 1024))),
    ("larger:300", SizeBound("larger", 300)),
])
def test_each_operator_parses_to_its_term(text: str, term: object) -> None:
    assert parse(text) == And((term,))  # type: ignore[arg-type]


def test_minus_negates_any_term() -> None:
    assert parse('-budget -from:bob -"a phrase" -is:unread') == And((
        Not(Text("budget")), Not(Field("from", "bob")), Not(Text("a phrase", phrase=True)),
        Not(Flag("unread")),
    ))


def test_or_binds_its_neighbours() -> None:
    assert parse("a b OR c d") == And((Text("a"), Or((Text("b"), Text("c"))), Text("d")))


def test_brackets_group_terms() -> None:
    assert parse("(from:bob OR from:carol) -(x y)") == And((
        Or((Field("from", "bob"), Field("from", "carol"))),
        Not(And((Text("x"), Text("y")))),
    ))


def test_unknown_operators_and_hyphens_are_plain_words() -> None:
    assert parse("Re: e-mail http://x.example/a") == And((
        Text("Re:"), Text("e-mail"), Text("http://x.example/a")))


def test_a_trailing_star_asks_for_a_prefix() -> None:
    assert parse("Donaudampf*") == And((Text("Donaudampf", prefix=True),))


def test_lowercase_or_is_a_word() -> None:
    assert parse("this or that") == And((Text("this"), Text("or"), Text("that")))


def test_non_ascii_words_are_kept_as_typed() -> None:
    assert parse("Größe привет 会議") == And((Text("Größe"), Text("привет"), Text("会議")))


@pytest.mark.parametrize(("text", "position", "words"), [
    ('"never closed', 0, "never closed"),
    ("before:2024-13-01", 0, "not a date"),
    ("x after:yesterday", 2, "not a date"),
    ("larger:huge", 0, "not a size"),
    ("larger:10Q", 0, "not a size"),
    ("is:important", 0, "is:unread"),
    ("has:pizza", 0, "has:attachment"),
    ("from:", 0, "needs a value"),
    ("OR x", 0, "nothing before"),
    ("x OR", 2, "nothing after"),
    ("(x", 0, "never closed"),
    ("x)", 1, "closes nothing"),
    ("x -OR y", 2, "Nothing follows"),
])
def test_unreadable_queries_say_what_and_where(text: str, position: int, words: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text)
    assert words in caught.value.message
    assert caught.value.position == position


def test_a_lone_dash_is_ignored() -> None:
    assert parse("budget - draft") == And((Text("budget"), Text("draft")))


def test_a_huge_query_is_refused() -> None:
    with pytest.raises(QueryError):
        parse("word " * 400)


def test_all_text_collects_positive_words_for_highlighting() -> None:
    query = parse('a OR "b c" -d from:x')
    assert [t.value for term in query.terms for t in all_text(term)] == ["a", "b c"]
