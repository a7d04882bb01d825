from __future__ import annotations

from webmail.parsing.auth_results import authentication_verdict, parse_authentication_results

OURS = (
    "mx.ours.example; dkim=pass (2048-bit key) header.d=example.com header.s=sel "
    "header.b=abc; spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=bounce.example.com; "
    "dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com"
)
FORGED = "mx.ours.example; dkim=pass header.d=bank.example; spf=pass; dmarc=pass"


def test_a_full_result_reads_as_a_sentence() -> None:
    verdict = authentication_verdict([OURS], "mx.ours.example")
    assert (verdict.spf, verdict.dkim, verdict.dmarc) == ("pass", "pass", "pass")
    assert verdict.summary == "Signed by example.com; SPF pass; DMARC pass"
    assert verdict.trusted


def test_headers_from_other_servers_are_ignored() -> None:
    verdict = authentication_verdict(
        ["evil.example; dkim=pass header.d=bank.example; spf=pass; dmarc=pass"],
        "mx.ours.example",
    )
    assert not verdict.trusted
    assert verdict.dkim == "none"


def test_only_the_topmost_header_from_our_server_counts() -> None:
    failing = "mx.ours.example; dkim=fail header.d=bank.example; spf=softfail; dmarc=fail"
    verdict = authentication_verdict([failing, FORGED], "mx.ours.example")
    assert (verdict.spf, verdict.dkim, verdict.dmarc) == ("fail", "fail", "fail")
    assert verdict.summary == "DKIM fail; SPF fail; DMARC fail"


def test_one_passing_signature_among_several_is_a_pass() -> None:
    value = "MX.Ours.Example; dkim=fail header.d=a.example; dkim=pass header.i=@b.example"
    verdict = authentication_verdict([value], "mx.ours.example")
    assert verdict.dkim == "pass"
    assert verdict.dkim_domains == ("b.example",)


def test_none_and_missing_methods_are_none() -> None:
    verdict = authentication_verdict(["mx.ours.example; none"], "mx.ours.example")
    assert verdict.summary == "Not signed; SPF none; DMARC none"


def test_comments_and_quoted_semicolons_do_not_confuse_the_parser() -> None:
    server, results = parse_authentication_results(
        'mx.ours.example (a; comment (nested; one)); spf=pass reason="a; b" smtp.mailfrom=x'
    )
    assert server == "mx.ours.example"
    assert [(r.method, r.result) for r in results] == [("spf", "pass")]
    assert results[0].get("reason") == "a; b"


def test_hostile_headers_do_not_raise() -> None:
    for value in ("", ";;;;", "(" * 10_000, '"' * 5_000, "x; =; a=; =b", "\x00\xff" * 100):
        authentication_verdict([value], "mx.ours.example")
