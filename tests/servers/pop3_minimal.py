"""A small, real POP3 server (RFC 1939 core only) for the quirks Dovecot doesn't have:
no CAPA, no UIDL, and, like some mbox servers, a `Status: RO` header added to a message
once it was retrieved.

Dovecot is the server for everything else; this one exists so the client's fallbacks
run against a real socket instead of a mock.
"""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field


@dataclass
class MinimalPop3Server:
    user: str = "alice"
    password: str = "alice-pw"
    messages: list[bytes] = field(default_factory=list)  # CRLF line endings
    add_status_after_retr: bool = True
    supports_top: bool = True
    host: str = "127.0.0.1"
    port: int = 0
    _server: socketserver.ThreadingTCPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                owner._session(self)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        server = socketserver.ThreadingTCPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self.port = int(server.server_address[1])
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _session(self, h: socketserver.StreamRequestHandler) -> None:
        def send(line: bytes) -> None:
            h.wfile.write(line + b"\r\n")

        def send_multi(body: bytes) -> None:
            lines = body.split(b"\r\n")
            if lines and lines[-1] == b"":
                lines.pop()
            for line in lines:
                send(b"." + line if line.startswith(b".") else line)
            send(b".")

        send(b"+OK minimal POP3 ready")
        user = ""
        authed = False
        deleted: set[int] = set()
        while True:
            raw = h.rfile.readline(10000)
            if not raw:
                return
            parts = raw.strip().split(b" ")
            cmd = parts[0].upper()
            args = parts[1:]
            if cmd == b"QUIT":
                with self._lock:
                    self.messages = [m for i, m in enumerate(self.messages, 1)
                                     if i not in deleted]
                send(b"+OK bye")
                return
            if not authed:
                if cmd == b"USER" and args:
                    user = args[0].decode()
                    send(b"+OK")
                elif cmd == b"PASS" and args:
                    if user == self.user and b" ".join(args).decode() == self.password:
                        authed = True
                        send(b"+OK logged in")
                    else:
                        send(b"-ERR [AUTH] invalid login")
                else:
                    send(b"-ERR unknown command")
                continue
            with self._lock:
                msgs = list(self.messages)
            live = [(i, m) for i, m in enumerate(msgs, 1) if i not in deleted]
            if cmd == b"STAT":
                send(b"+OK %d %d" % (len(live), sum(len(m) for _, m in live)))
            elif cmd == b"LIST" and not args:
                send(b"+OK")
                for i, m in live:
                    send(b"%d %d" % (i, len(m)))
                send(b".")
            elif cmd in (b"RETR", b"TOP") and args:
                n = int(args[0])
                if n < 1 or n > len(msgs) or n in deleted:
                    send(b"-ERR no such message")
                    continue
                if cmd == b"TOP" and not self.supports_top:
                    send(b"-ERR unknown command")
                    continue
                msg = msgs[n - 1]
                send(b"+OK")
                if cmd == b"RETR":
                    send_multi(msg)
                    if self.add_status_after_retr and not msg.startswith(b"Status:"):
                        with self._lock:
                            self.messages[n - 1] = b"Status: RO\r\n" + msg
                else:
                    head, _, body = msg.partition(b"\r\n\r\n")
                    keep = int(args[1]) if len(args) > 1 else 0
                    body_lines = body.split(b"\r\n")[:keep]
                    send_multi(head + b"\r\n\r\n" + b"".join(x + b"\r\n" for x in body_lines))
            elif cmd == b"DELE" and args:
                deleted.add(int(args[0]))
                send(b"+OK marked")
            elif cmd == b"RSET":
                deleted.clear()
                send(b"+OK")
            elif cmd == b"NOOP":
                send(b"+OK")
            else:  # CAPA, UIDL, APOP, STLS...
                send(b"-ERR unknown command")
