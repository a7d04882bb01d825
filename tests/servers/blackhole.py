"""Ports that misbehave on purpose: one that accepts and never answers (timeouts), and
one where nothing listens (connection refused)."""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class Blackhole:
    """A TCP listener on 127.0.0.1 that accepts every connection and never sends a byte.

    Connections are held open until stop(), so a client waiting for a greeting or a TLS
    handshake times out instead of seeing a close.
    """

    host: str = "127.0.0.1"
    port: int = 0
    _sock: socket.socket | None = None
    _thread: threading.Thread | None = None
    _held: list[socket.socket] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(64)
        sock.settimeout(0.2)
        self._sock = sock
        self.port = int(sock.getsockname()[1])
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="blackhole", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread:
            self._thread.join(2)
        for conn in self._held:
            with contextlib.suppress(OSError):
                conn.close()
        self._held.clear()
        if self._sock:
            self._sock.close()
            self._sock = None


class RefusedPort:
    """A port on 127.0.0.1 where nothing listens: connecting is refused at once.

    The port is kept bound (without listen) so no other process can take it meanwhile.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((host, 0))
        self.port = int(self._sock.getsockname()[1])

    def close(self) -> None:
        self._sock.close()


def refused_port() -> RefusedPort:
    return RefusedPort()
