"""Real servers for tests: a test CA, a private Dovecot, aiosmtpd SMTP, a blackhole.

Started once per session by the fixtures in tests.servers.fixtures; nothing here is
mocked and nothing needs Django.
"""
