"""pytest plugin: session-scoped real servers (enable with
`pytest_plugins = ["tests.servers.fixtures"]`).

- `tls_ca` -> TLSFiles: ca_file, cert_file, key_file, cert_sha256, untrusted_* files.
- `dovecot` -> DovecotServer: host, ports.imap/imaps/pop3/pops3, users {name: password},
  deliver(), deliver_many(), create_folder(), messages(), flags(), folders(),
  reset_user(), stop()/start() on the same ports and data.
- `dovecot_user` -> a freshly emptied "alice" mailbox on `dovecot` (name only).
- `smtp_server` -> SMTPServer: starttls_port, tls_port, plain_port, users, accepted,
  fail_next(code, message, at=, count=), reset(); reset before every test that asks for
  `smtp`.
- `blackhole` -> Blackhole (host, port): accepts, never answers.
- `refused_port` -> RefusedPort (host, port): nothing listens.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.blackhole import Blackhole, RefusedPort
from tests.servers.dovecot import DovecotServer, dovecot_available
from tests.servers.smtp import SMTPServer
from tests.servers.tls import TLSFiles, make_test_certificates

MISSING_DOVECOT = (
    "Dovecot is not installed: apt-get install dovecot-imapd dovecot-pop3d"
)


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_test_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def dovecot(tls_ca: TLSFiles) -> Iterator[DovecotServer]:
    if not dovecot_available():
        pytest.skip(MISSING_DOVECOT)
    server = DovecotServer(tls_ca)
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def running_dovecot(dovecot: DovecotServer) -> DovecotServer:
    """The session Dovecot, started again if an earlier test stopped it."""
    dovecot.start()
    return dovecot


@pytest.fixture
def dovecot_user(running_dovecot: DovecotServer) -> Iterator[str]:
    """The user "alice" with an empty mailbox (emptied again afterwards)."""
    running_dovecot.reset_user("alice")
    yield "alice"
    running_dovecot.reset_user("alice")


@pytest.fixture(scope="session")
def smtp_server(tls_ca: TLSFiles) -> Iterator[SMTPServer]:
    server = SMTPServer(tls_ca)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp(smtp_server: SMTPServer) -> Iterator[SMTPServer]:
    """The session SMTP server with nothing recorded and no failure pending."""
    smtp_server.reset()
    yield smtp_server
    smtp_server.reset()


@pytest.fixture(scope="session")
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    hole.start()
    try:
        yield hole
    finally:
        hole.stop()


@pytest.fixture
def refused_port() -> Iterator[RefusedPort]:
    port = RefusedPort()
    try:
        yield port
    finally:
        port.close()
