"""A TCP proxy that cuts connections after N bytes, and a probe that keeps asking the
running app for /healthz and a page while faults happen."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field


@dataclass
class CuttingProxy:
    """Forwards 127.0.0.1:port to an upstream; the first `cuts` connections are closed
    (both ways, without a goodbye) once `cut_after` bytes came from the server."""

    upstream: tuple[str, int]
    cut_after: int
    cuts: int = 1
    port: int = 0
    cut_done: int = 0  # connections really cut mid-response
    marked: int = 0  # connections chosen for a cut
    connections: int = 0
    _listener: socket.socket | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _open: list[socket.socket] = field(default_factory=list)

    def start(self) -> CuttingProxy:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(32)
        sock.settimeout(0.2)
        self._listener = sock
        self.port = int(sock.getsockname()[1])
        threading.Thread(target=self._accept, name="cutting-proxy", daemon=True).start()
        return self

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, 5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self.connections += 1
                cut = self.marked < self.cuts
                if cut:
                    self.marked += 1
                self._open += [client, server]
            limit = self.cut_after if cut else None
            threading.Thread(target=self._pump, args=(client, server, None),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, limit),
                             daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                if limit is not None and sent + len(chunk) >= limit:
                    sink.sendall(chunk[: limit - sent])
                    with self._lock:
                        self.cut_done += 1
                    break  # the cut: both sides closed below, mid-response
                sink.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.close()


@dataclass(frozen=True)
class Answer:
    path: str
    status: int  # 0: no answer (refused, reset or timed out)
    seconds: float
    at: float  # time.monotonic() when asked


@dataclass
class AppProbe:
    """Asks the live server for each path every `interval` seconds in a thread, as a
    load balancer and a person would, and keeps every answer."""

    base_url: str
    paths: list[str]
    cookie: str = ""
    interval: float = 0.25
    # No answer within this is "not answering" (a load balancer gives up about then).
    timeout: float = 8.0
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> AppProbe:
        self._thread = threading.Thread(target=self._run, name="app-probe", daemon=True)
        self._thread.start()
        return self

    def _ask(self, path: str) -> Answer:
        request = urllib.request.Request(  # noqa: S310 - http to our own live server
            self.base_url + path, headers={"Cookie": self.cookie})
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                response.read()
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = 0
        return Answer(path, status, time.monotonic() - started, started)

    def _run(self) -> None:
        while not self._stop.is_set():
            for path in self.paths:
                self.answers.append(self._ask(path))
            self._stop.wait(self.interval)

    def stop(self) -> list[Answer]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout + 5)
        return list(self.answers)
