"""A private Dovecot for tests: own config in a temporary directory, loopback only.

`DovecotServer(tls).start()` writes dovecot.conf, picks free high ports for imap, imaps,
pop3 and pop3s, runs `dovecot -F -c conf` in the foreground and waits until every port
accepts. `stop()` then `start()` again reuses the same ports and mail, so a test can
simulate "server away, then back".

Mail is owned by the system user `mail` (uid 8): Dovecot refuses uid 0 for mail access,
and `first_valid_uid` is lowered to let it through.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers.tls import TLSFiles

DOVECOT_BIN = "/usr/sbin/dovecot"
DOVEADM_BIN = "/usr/bin/doveadm"
MAIL_USER = "mail"

# Known test users and their passwords.
USERS: dict[str, str] = {
    "alice": "alice-pw",
    "bob": "bob-pw",
    "charlie": "charlie-pw",
}

SPECIAL_FOLDERS = {
    "Sent": "\\Sent",
    "Drafts": "\\Drafts",
    "Trash": "\\Trash",
    "Junk": "\\Junk",
    "Archive": "\\Archive",
}

QUOTA_LIMIT = "100M"

# System flags and their Maildir info letters (the letters must be sorted in names).
MAILDIR_FLAGS = {
    "\\Draft": "D",
    "\\Flagged": "F",
    "\\Answered": "R",
    "\\Seen": "S",
    "\\Deleted": "T",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dovecot_available() -> bool:
    return os.path.exists(DOVECOT_BIN)


@dataclass
class Ports:
    imap: int = 0
    imaps: int = 0
    pop3: int = 0
    pop3s: int = 0

    def all(self) -> list[int]:
        return [self.imap, self.imaps, self.pop3, self.pop3s]


def _imap_quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class DovecotServer:
    tls: TLSFiles
    host: str = "127.0.0.1"
    users: dict[str, str] = field(default_factory=lambda: dict(USERS))
    ports: Ports = field(default_factory=Ports)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="webmail-dovecot-")))
    _proc: subprocess.Popen[bytes] | None = None
    _delivery_seq: int = 0

    # -- paths -------------------------------------------------------------------------
    @property
    def conf_path(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        return self.root / "dovecot.log"

    def home(self, user: str) -> Path:
        return self.root / "home" / user

    def maildir(self, user: str) -> Path:
        return self.home(user) / "Maildir"

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        if not self.ports.imap:
            used: set[int] = set()
            for name in ("imap", "imaps", "pop3", "pop3s"):
                port = free_port()
                while port in used:
                    port = free_port()
                used.add(port)
                setattr(self.ports, name, port)
        self._write_config()
        self._proc = subprocess.Popen(
            [DOVECOT_BIN, "-F", "-c", str(self.conf_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "stderr.log", "ab"),  # noqa: SIM115
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        pending = set(self.ports.all())
        while pending:
            if self._proc.poll() is not None:
                raise RuntimeError(f"dovecot exited at start:\n{self._diagnostics()}")
            for port in list(pending):
                with contextlib.suppress(OSError), socket.create_connection(
                    (self.host, port), timeout=0.2
                ):
                    pending.discard(port)
            if pending:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"dovecot ports {pending} never opened:\n"
                                       f"{self._diagnostics()}")
                time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)
        # The master closes its listeners before it exits, but make sure the ports are
        # really free before a start() on the same ports.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(self._accepts(p) for p in self.ports.all()):
            time.sleep(0.02)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _accepts(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=0.2):
                return True
        except OSError:
            return False

    def _diagnostics(self) -> str:
        parts = []
        for name in ("stderr.log", "dovecot.log"):
            path = self.root / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def _write_config(self) -> None:
        mail_pw = pwd.getpwnam(MAIL_USER)
        uid, gid = mail_pw.pw_uid, mail_pw.pw_gid
        self.root.chmod(0o755)
        base_dir = self.root / "run"
        state_dir = self.root / "state"
        for d in (base_dir, state_dir, self.root / "home"):
            d.mkdir(exist_ok=True)
        os.chown(self.root / "home", uid, gid)
        passwd = "".join(
            f"{user}:{{PLAIN}}{password}:{uid}:{gid}::{self.home(user)}::\n"
            for user, password in self.users.items()
        )
        (self.root / "passwd").write_text(passwd)
        # Read by the auth process, which runs as the `dovecot` user.
        auth_user = pwd.getpwnam("dovecot")
        os.chown(self.root / "passwd", auth_user.pw_uid, auth_user.pw_gid)
        (self.root / "passwd").chmod(0o600)
        specials = "\n".join(
            f"  mailbox {name} {{\n    special_use = {use}\n    auto = subscribe\n  }}"
            for name, use in SPECIAL_FOLDERS.items()
        )
        conf = f"""# Written by tests.servers.dovecot; regenerated at every start.
base_dir = {base_dir}
state_dir = {state_dir}
instance_name = webmail-test-{os.getpid()}-{self.ports.imap}
log_path = {self.log_path}
info_log_path = {self.log_path}
protocols = imap pop3
listen = {self.host}
ssl = yes
ssl_cert = <{self.tls.cert_file}
ssl_key = <{self.tls.key_file}
disable_plaintext_auth = no
auth_mechanisms = plain login apop
auth_failure_delay = 0 secs
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:~/Maildir
mail_fsync = never
mail_plugins = $mail_plugins quota
imap_idle_notify_interval = 1 secs
# IDLE learns of new mail by inotify; where the machine's inotify instances run out
# (many Dovecots at once), Dovecot falls back to looking every this often (default 30 s).
mailbox_idle_check_interval = 1 secs
pop3_uidl_format = %08Xu%08Xv
mail_max_userip_connections = 200
login_trusted_networks =
shutdown_clients = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.root / "passwd"}
}}
userdb {{
  driver = passwd-file
  args = {self.root / "passwd"}
  default_fields = uid={uid} gid={gid}
}}
namespace inbox {{
  inbox = yes
  separator = /
{specials}
}}
plugin {{
  quota = maildir:User quota
  quota_rule = *:storage={QUOTA_LIMIT}
}}
protocol imap {{
  mail_plugins = $mail_plugins imap_quota
}}
service imap-login {{
  inet_listener imap {{
    port = {self.ports.imap}
  }}
  inet_listener imaps {{
    port = {self.ports.imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {self.ports.pop3}
  }}
  inet_listener pop3s {{
    port = {self.ports.pop3s}
    ssl = yes
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0600
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
        self.conf_path.write_text(conf)

    # -- helpers for tests -------------------------------------------------------------
    @contextlib.contextmanager
    def imap(self, user: str) -> Iterator[imaplib.IMAP4]:
        """A logged-in imaplib connection (plaintext on loopback) for fixtures' own use."""
        conn = imaplib.IMAP4(self.host, self.ports.imap, timeout=30)
        try:
            conn.login(user, self.users[user])
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def ssl_context(self) -> ssl.SSLContext:
        return self.tls.client_context()

    def create_folder(self, user: str, name: str) -> None:
        """Create (and subscribe) a folder; `name` is Unicode, "/" separates levels."""
        with self.imap(user) as conn:
            self._create(conn, name)

    def _create(self, conn: imaplib.IMAP4, name: str) -> None:
        encoded = _imap_quote(encode_utf7(name))
        typ, data = conn.create(encoded)
        if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(d or b"" for d in data):
            raise RuntimeError(f"CREATE {name!r} failed: {data!r}")
        conn.subscribe(encoded)

    def deliver(
        self, user: str, raw: bytes, folder: str = "INBOX", flags: Iterable[str] = ()
    ) -> None:
        """Put one message into a user's folder (IMAP APPEND); creates the folder.

        APPEND makes Dovecot notice at once (IDLE sessions see EXISTS, quota counts).
        """
        self._append_many(user, [raw], folder, list(flags))

    def deliver_many(
        self,
        user: str,
        raws: Iterable[bytes],
        folder: str = "INBOX",
        flags: Iterable[str] = (),
    ) -> int:
        """Put many messages into a folder, in order; returns how many.

        With system flags only (\\Seen, \\Answered, \\Flagged, \\Deleted, \\Draft) the
        files are written straight into the Maildir (tmp/ then rename into cur/, the
        Maildir delivery protocol), which Dovecot picks up at its next sync: 10,000
        messages take a few seconds, where IMAP APPEND gets slower with every message
        already in the folder. Quota usage is not updated by that path. Keywords go
        through IMAP APPEND.
        """
        flag_list = list(flags)
        if any(flag not in MAILDIR_FLAGS for flag in flag_list):
            return self._append_many(user, raws, folder, flag_list)
        directory = self._mailbox_dir(user, folder)
        info = ":2," + "".join(sorted(MAILDIR_FLAGS[flag] for flag in flag_list))
        owner = pwd.getpwnam(MAIL_USER)
        now = int(time.time())
        self._delivery_seq += 1
        batch = f"P{os.getpid()}Q{self._delivery_seq}"
        count = 0
        for count, raw in enumerate(raws, 1):  # noqa: B007 - count is the result
            # Dovecot gives UIDs to new files sorted by the time fields in their names:
            # one second, increasing microseconds keeps the delivery order.
            name = f"{now}.M{count:06d}{batch}.webmail-test"
            tmp = directory / "tmp" / name
            tmp.write_bytes(_crlf(raw))
            os.chown(tmp, owner.pw_uid, owner.pw_gid)
            tmp.rename(directory / "cur" / (name + info))
            if count % 999_999 == 0:
                now += 1
        return count

    def _append_many(
        self, user: str, raws: Iterable[bytes], folder: str, flags: list[str]
    ) -> int:
        flag_list = "(" + " ".join(flags) + ")"
        count = 0
        with self.imap(user) as conn:
            if folder != "INBOX":
                self._create(conn, folder)
            mailbox = _imap_quote(encode_utf7(folder))
            for raw in raws:
                typ, data = conn.append(mailbox, flag_list, None, _crlf(raw))
                if typ != "OK":
                    raise RuntimeError(f"APPEND to {folder!r} failed: {data!r}")
                count += 1
        return count

    def _mailbox_dir(self, user: str, folder: str) -> Path:
        """The folder's Maildir directory, creating the folder (and the user) if needed."""
        with self.imap(user) as conn:
            if folder != "INBOX":
                self._create(conn, folder)
            conn.select(_imap_quote(encode_utf7(folder)))  # makes cur/ new/ tmp/
        path = Path(self.doveadm("mailbox", "path", "-u", user, folder).strip())
        for sub in ("cur", "new", "tmp"):
            if not (path / sub).is_dir():
                raise RuntimeError(f"{path} is not a Maildir")
        return path

    def messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """The raw bytes of every message the server holds in `folder`, in UID order."""
        with self.imap(user) as conn:
            typ, data = conn.select(_imap_quote(encode_utf7(folder)), readonly=True)
            if typ != "OK":
                raise RuntimeError(f"SELECT {folder!r} failed: {data!r}")
            typ, data = conn.uid("SEARCH", "ALL")
            uids = (data[0] or b"").split()
            if not uids:
                return []
            typ, data = conn.uid("FETCH", b",".join(uids).decode(), "(UID BODY.PEEK[])")
            out: list[bytes] = []
            for item in data:
                if isinstance(item, tuple):
                    out.append(item[1])
            return out

    def flags(self, user: str, folder: str = "INBOX") -> list[set[str]]:
        """The flags of every message in `folder`, in UID order."""
        with self.imap(user) as conn:
            conn.select(_imap_quote(encode_utf7(folder)), readonly=True)
            typ, data = conn.uid("SEARCH", "ALL")
            uids = (data[0] or b"").split()
            if not uids:
                return []
            typ, data = conn.uid("FETCH", b",".join(uids).decode(), "(FLAGS)")
            result = []
            for line in data:
                assert isinstance(line, bytes)
                flags = imaplib.ParseFlags(line)
                result.append({f.decode() for f in flags} - {"\\Recent"})
            return result

    def folders(self, user: str) -> list[str]:
        with self.imap(user) as conn:
            typ, data = conn.list()
        names = []
        for line in data:
            assert isinstance(line, bytes)
            name = line.rsplit(b' "/" ', 1)[-1].strip()
            if name.startswith(b'"'):
                name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
            names.append(decode_utf7(name.decode("ascii")))
        return names

    def reset_user(self, user: str) -> None:
        """Empty the user's mailbox entirely (folders, messages, UIDVALIDITY, quota).

        Other sessions of that user are kicked first so no process keeps stale indexes.
        """
        if self.running:
            subprocess.run(
                [DOVEADM_BIN, "-c", str(self.conf_path), "kick", user],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(self.home(user), ignore_errors=True)

    def doveadm(self, *args: str) -> str:
        result = subprocess.run(
            [DOVEADM_BIN, "-c", str(self.conf_path), *args],
            capture_output=True,
            check=True,
        )
        return result.stdout.decode()


def _crlf(raw: bytes) -> bytes:
    # IMAP APPEND wants CRLF; normalise bare LF without doubling existing CRLF.
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def encode_utf7(name: str) -> str:
    """IMAP modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            import base64

            b64 = base64.b64encode("".join(buf).encode("utf-16-be")).decode()
            out.append("&" + b64.rstrip("=").replace("/", ",") + "-")
            buf.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


def decode_utf7(name: str) -> str:
    import base64

    out: list[str] = []
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == "&":
            end = name.index("-", i)
            if end == i + 1:
                out.append("&")
            else:
                chunk = name[i + 1 : end].replace(",", "/")
                chunk += "=" * (-len(chunk) % 4)
                out.append(base64.b64decode(chunk).decode("utf-16-be"))
            i = end + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)
