"""highlight(): the snippet window and its marks (a pure function)."""

from __future__ import annotations

from webmail.search.highlight import SNIPPET_CHARS, highlight


def test_a_deep_match_is_shown_with_its_lead_and_both_ellipses() -> None:
    text = "word " * 400 + "the  budget\n\nplan " + "tail " * 400
    snippet = str(highlight(text, ["budget"]))
    assert snippet.startswith("… ") and snippet.endswith(" …")
    assert "the <mark>budget</mark> plan" in snippet  # spaces collapsed around it
    assert len(snippet) < SNIPPET_CHARS + 40


def test_a_match_near_the_start_has_no_leading_ellipsis() -> None:
    snippet = str(highlight("Budget first. " + "more " * 100, ["budget"]))
    assert snippet.startswith("<mark>Budget</mark> first.") and snippet.endswith(" …")
    assert str(highlight("short budget", ["budget"])) == "short <mark>budget</mark>"


def test_word_starts_mark_whole_words_and_only_at_a_word_start() -> None:
    snippet = str(highlight("Our meetings, a meet and a gourmet lunch", [],
                            word_starts=["meet"]))
    assert snippet == ("Our <mark>meetings</mark>, a <mark>meet</mark> and a gourmet lunch")


def test_no_match_shows_the_start_and_the_text_is_escaped() -> None:
    escaped = "&lt;b&gt;hello&lt;/b&gt; &amp; more"
    assert str(highlight("<b>hello</b> & more", ["absent"])) == escaped
    assert str(highlight("x <mark>budget", ["budget"])) == "x &lt;mark&gt;<mark>budget</mark>"
