"""Who sent it: messages signed here with generated keys, served by a test resolver."""

from __future__ import annotations

import base64

import dkim  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from webmail.mail.authenticity import aligned, verify_message

SERVER = "mx.mail.example.test"


class KeyServer:
    """A DNS stand-in: TXT records for selector._domainkey.domain, nothing else."""

    def __init__(self) -> None:
        self.records: dict[bytes, bytes] = {}
        self.asked: list[bytes] = []

    def publish(self, selector: str, domain: str, key: rsa.RSAPrivateKey) -> None:
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        name = f"{selector}._domainkey.{domain}.".encode()
        self.records[name] = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def __call__(self, name: bytes, timeout: int = 5) -> bytes | None:
        self.asked.append(name)
        return self.records.get(name)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def bank_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def dns(bank_key: rsa.RSAPrivateKey) -> KeyServer:
    server = KeyServer()
    server.publish("mail2026", "bank.test", bank_key)
    return server


def message(
    *,
    sender: str = "Bank <notices@bank.test>",
    reply_to: str = "",
    body: str = "Your statement is ready.\r\n",
    extra: str = "",
) -> bytes:
    headers = [
        f"From: {sender}",
        "To: alice@mail.example.test",
        "Subject: Statement",
        "Date: Mon, 02 Nov 2026 10:00:00 +0000",
        "Message-ID: <s1@bank.test>",
    ]
    if reply_to:
        headers.append(f"Reply-To: {reply_to}")
    return (extra + "\r\n".join(headers) + "\r\n\r\n" + body).encode()


def signed(raw: bytes, key: rsa.RSAPrivateKey, domain: str = "bank.test") -> bytes:
    signature = dkim.sign(raw, b"mail2026", domain.encode(), private_pem(key),
                          include_headers=[b"from", b"to", b"subject", b"date"])
    return bytes(signature) + raw


def test_a_message_signed_by_the_from_domain_is_verified(
    bank_key: rsa.RSAPrivateKey, dns: KeyServer
) -> None:
    result = verify_message(signed(message(), bank_key), authserv_id=SERVER, dns_lookup=dns)

    assert result.status == "verified"
    assert result.summary == "Verified: sent by bank.test"
    assert [(s.domain, s.valid) for s in result.signatures] == [("bank.test", True)]
    assert result.warnings == ()
    assert dns.asked == [b"mail2026._domainkey.bank.test."]


def test_a_tampered_body_fails_with_a_warning(
    bank_key: rsa.RSAPrivateKey, dns: KeyServer
) -> None:
    raw = signed(message(), bank_key).replace(b"statement is ready", b"account is locked!")

    result = verify_message(raw, authserv_id=SERVER, dns_lookup=dns)

    assert result.status == "failed"
    assert result.signatures[0].valid is False
    assert [w.code for w in result.warnings] == ["from_domain_failed"]
    assert "changed or forged" in result.warnings[0].message


def test_a_signature_whose_key_is_not_published_does_not_verify(
    bank_key: rsa.RSAPrivateKey,
) -> None:
    result = verify_message(signed(message(), bank_key), authserv_id=SERVER,
                            dns_lookup=KeyServer())

    assert result.status == "failed"
    assert "key" in result.signatures[0].reason


def test_a_valid_signature_of_another_domain_warns_that_nothing_proves_the_sender(
    dns: KeyServer,
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    dns.publish("mail2026", "bulk-sender.test", other)
    raw = signed(message(), other, domain="bulk-sender.test")

    result = verify_message(raw, authserv_id=SERVER, dns_lookup=dns)

    assert result.status == "unverified"
    assert [w.code for w in result.warnings] == ["not_aligned"]
    assert "bulk-sender.test" in result.warnings[0].message


def test_our_servers_dmarc_fail_is_a_warning(dns: KeyServer) -> None:
    header = (f"Authentication-Results: {SERVER}; spf=fail smtp.mailfrom=bank.test; "
              "dkim=none; dmarc=fail header.from=bank.test\r\n")

    result = verify_message(message(extra=header), authserv_id=SERVER, dns_lookup=dns)

    assert result.status == "failed"
    assert result.server is not None and result.server.dmarc == "fail"
    assert [w.code for w in result.warnings] == ["from_domain_failed"]
    assert "DMARC" in result.warnings[0].message


def test_our_servers_dmarc_pass_verifies_an_unsigned_copy(dns: KeyServer) -> None:
    header = (f"Authentication-Results: {SERVER.upper()}; spf=pass smtp.mailfrom=bank.test; "
              "dkim=pass header.d=bank.test; dmarc=pass header.from=bank.test\r\n")

    result = verify_message(message(extra=header), authserv_id=SERVER, dns_lookup=dns)

    assert result.status == "verified"
    assert result.details[-1].startswith("Our server: Signed by bank.test")


def test_a_forged_authentication_results_from_another_server_is_ignored(
    dns: KeyServer,
) -> None:
    forged = ("Authentication-Results: mx.attacker.test; spf=pass; "
              "dkim=pass header.d=bank.test; dmarc=pass\r\n")

    result = verify_message(message(extra=forged), authserv_id=SERVER, dns_lookup=dns)
    untrusting = verify_message(message(extra=forged), authserv_id=None, dns_lookup=dns)

    assert result.status == untrusting.status == "unverified"
    assert result.server is None
    assert result.summary == "The sender could not be verified"


@pytest.mark.parametrize(
    "sender",
    [
        '"paypal.com" <x@evil.test>',
        '"bob@bank.test" <bob@evil.test>',
        '"Service PAYPAL.COM" <x@evil.test>',
        '"bob\u200b@bank.test" <bob@evil.test>',  # a zero-width space hides nothing
        '"bob＠bank.test" <bob@evil.test>',  # a fullwidth at sign neither
    ],
)
def test_a_display_name_imitating_an_address_warns(sender: str, dns: KeyServer) -> None:
    result = verify_message(message(sender=sender), authserv_id=SERVER, dns_lookup=dns)

    assert "name_imitates_address" in [w.code for w in result.warnings]
    assert "evil.test" in next(
        w.message for w in result.warnings if w.code == "name_imitates_address"
    )


@pytest.mark.parametrize(
    "sender",
    ['"Notices" <notices@bank.test>', '"notices@bank.test" <notices@bank.test>',
     '"bank.test support" <help@support.bank.test>', "Dr. J. Smith <js@bank.test>"],
)
def test_an_honest_display_name_does_not_warn(sender: str, dns: KeyServer) -> None:
    result = verify_message(message(sender=sender), authserv_id=SERVER, dns_lookup=dns)

    assert result.warnings == ()


def test_a_reply_to_in_another_domain_warns(dns: KeyServer) -> None:
    result = verify_message(message(reply_to="refunds@collect.evil.test"),
                            authserv_id=SERVER, dns_lookup=dns)
    same = verify_message(message(reply_to="support@help.bank.test"),
                          authserv_id=SERVER, dns_lookup=dns)

    assert [w.code for w in result.warnings] == ["reply_to_differs"]
    assert "refunds@collect.evil.test" in result.warnings[0].message
    assert same.warnings == ()


def test_garbage_never_raises(dns: KeyServer) -> None:
    hostile = b"DKIM-Signature: v=1; a=rsa-sha256; d=\x00; b=;;;=\r\nFrom: ((((\r\n\r\n"
    for raw in (b"", b"\x00\xff", hostile, b"DKIM-Signature: " + b"a=" * 50_000 + b"\r\n\r\n"):
        result = verify_message(raw, authserv_id=SERVER, dns_lookup=dns)
        assert result.status in {"unverified", "failed"}


def test_alignment_is_relaxed_but_bounded_by_labels() -> None:
    assert aligned("mail.bank.test", "bank.test")
    assert aligned("bank.test", "news.bank.test")
    assert not aligned("evilbank.test", "bank.test")
    assert not aligned("", "bank.test")


def test_an_account_trusts_its_incoming_servers_results(alice: object) -> None:
    from accounts.models import User
    from tests.conftest import make_account
    from webmail.mail.authenticity import authserv_id_for

    assert isinstance(alice, User)
    account = make_account(alice, incoming_host="IMAP.Mail.Example.test")
    header = ("Authentication-Results: imap.mail.example.test; dkim=pass header.d=bank.test; "
              "dmarc=pass\r\n")

    result = verify_message(message(extra=header), authserv_id=authserv_id_for(account),
                            dns_lookup=KeyServer())

    assert result.status == "verified"
