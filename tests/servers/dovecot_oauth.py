"""The test Dovecot with an oauth2 passdb: XOAUTH2 and OAUTHBEARER logins are checked
against the test OAuth2 provider's introspection endpoint (RFC 7662, POST); password
logins still go to the passwd-file as in the plain fixture."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from tests.servers.dovecot import DovecotServer


@dataclass
class OAuthDovecotServer(DovecotServer):
    introspection_url: str = ""

    def _write_config(self) -> None:
        super()._write_config()
        ext = self.root / "dovecot-oauth2.conf.ext"
        ext.write_text(
            f"introspection_mode = post\n"
            f"introspection_url = {self.introspection_url}\n"
            "force_introspection = yes\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
        )
        auth_user = pwd.getpwnam("dovecot")
        os.chown(ext, auth_user.pw_uid, auth_user.pw_gid)
        ext.chmod(0o600)
        conf = self.conf_path.read_text()
        conf = conf.replace("auth_mechanisms = plain login apop",
                            "auth_mechanisms = plain login apop xoauth2 oauthbearer\n"
                            "auth_username_format = %Ln", 1)
        # The token passdb takes only the bearer mechanisms, the password file only the
        # password ones (otherwise a password sent as a "token" would log in).
        conf = conf.replace("passdb {", "passdb {\n  driver = oauth2\n"
                            "  mechanisms = xoauth2 oauthbearer\n"
                            f"  args = {ext}\n}}\npassdb {{\n"
                            "  mechanisms = plain login apop", 1)
        self.conf_path.write_text(conf)
