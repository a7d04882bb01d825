from __future__ import annotations

from webmail.parsing.threads import is_reply_subject, normalize_subject, thread_root


def test_reply_and_forward_prefixes_in_many_languages_are_stripped() -> None:
    for subject in (
        "Re: Hello world", "RE: re: Hello world", "Fwd: Hello world", "AW: WG: Hello world",
        "SV: Hello world", "[list-name] Re: Hello   world", "Re[2]: Hello world",
        "回复：Hello world", "Ответ: Hello world", "Re: [list] Fwd: hello world (fwd)",
        "TR: RE: Hello World", "Odp: Hello world",
    ):  # fmt: skip
        assert normalize_subject(subject) == "hello world", subject


def test_a_subject_that_merely_starts_with_re_is_kept() -> None:
    assert normalize_subject("Research update") == "research update"
    assert normalize_subject("Review: Q3") == "review: q3"
    assert not is_reply_subject("Research update")
    assert is_reply_subject("Re: Research update")


def test_a_known_ancestor_decides_the_thread() -> None:
    known = {"b@x": "a@x"}
    assert thread_root("c@x", "b@x", ["a-missing@x", "b@x"], known.get) == "a@x"


def test_without_known_ancestors_the_oldest_reference_is_the_root() -> None:
    assert thread_root("c@x", "b@x", ["a@x", "b@x"], {}.get) == "a@x"
    assert thread_root("c@x", "b@x", [], {}.get) == "b@x"


def test_a_message_without_ancestors_starts_its_own_thread() -> None:
    assert thread_root("a@x", "", [], {}.get) == "a@x"


def test_a_root_arriving_late_joins_the_thread_its_replies_started() -> None:
    known = {"a@x": "a@x"}
    assert thread_root("a@x", "", [], known.get) == "a@x"


def test_a_message_referencing_itself_does_not_loop() -> None:
    assert thread_root("a@x", "a@x", ["a@x"], {}.get) == "a@x"


def test_lookups_are_bounded_for_huge_reference_lists() -> None:
    calls: list[str] = []

    def lookup(message_id: str) -> str | None:
        calls.append(message_id)
        return None

    thread_root("z@x", "", [f"{n}@x" for n in range(5_000)], lookup)
    assert len(calls) <= 41
