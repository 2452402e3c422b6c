"""A fault-injecting TCP proxy on loopback, to put a bad link between the client and the server.

Each connection the client opens gets its fate drawn from a seeded random source: pass through,
delay every chunk, throttle to a few kilobytes a second, or cut the connection after a random
number of bytes, either on the way up (mid-request) or on the way down (mid-response). Threads
and plain sockets only, so it runs anywhere the tests run.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from dataclasses import dataclass, field

CHUNK = 16 * 1024


@dataclass
class Faults:
    """Chances (0..1) per connection, and the sizes of the harm done."""

    cut_request: float = 0.0
    cut_response: float = 0.0
    delay: float = 0.0
    throttle: float = 0.0
    delay_seconds: tuple[float, float] = (0.01, 0.1)
    throttle_bytes_per_second: int = 256 * 1024
    # Cuts fall within the first ``cut_*_within`` bytes a connection carries that way: requests
    # carry batches and chunks, answers are mostly small.
    cut_request_within: int = 64 * 1024
    cut_response_within: int = 4 * 1024


@dataclass
class Stats:
    connections: int = 0
    cuts_up: int = 0
    cuts_down: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)


@dataclass
class _Plan:
    cut_up_at: int | None
    cut_down_at: int | None
    delay: float
    rate: int | None


class FaultProxy:
    """``FaultProxy(target_port, Faults(...), seed).start()``; point the client at ``.url``."""

    def __init__(
        self,
        target_port: int,
        faults: Faults | None = None,
        seed: int = 0,
        target_host: str = "127.0.0.1",
    ) -> None:
        self.target = (target_host, target_port)
        self.faults = faults or Faults()
        self.enabled = True
        self.stats = Stats()
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        # accept() wakes up now and then to notice stop(): closing a socket from another thread
        # does not interrupt a blocked accept() on every platform.
        self._listener.settimeout(0.2)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._open_lock:
            open_sockets = list(self._open)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _plan(self) -> _Plan:
        f = self.faults
        with self._rng_lock:
            draw = self._rng.random
            if not self.enabled:
                return _Plan(None, None, 0.0, None)
            cut_up = self._rng.randint(1, f.cut_request_within) if draw() < f.cut_request else None
            cut_down = (
                self._rng.randint(1, f.cut_response_within) if draw() < f.cut_response else None
            )
            delay = self._rng.uniform(*f.delay_seconds) if draw() < f.delay else 0.0
            rate = f.throttle_bytes_per_second if draw() < f.throttle else None
        return _Plan(cut_up, cut_down, delay, rate)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        self.stats.add(connections=1)
        plan = self._plan()
        try:
            upstream = socket.create_connection(self.target, timeout=30)
        except OSError:
            client.close()
            return
        with self._open_lock:
            self._open.update((client, upstream))

        def close_both() -> None:
            with self._open_lock:
                self._open.difference_update((client, upstream))
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

        up = threading.Thread(
            target=self._pump, args=(client, upstream, plan.cut_up_at, plan, "up", close_both)
        )
        up.daemon = True
        up.start()
        self._pump(upstream, client, plan.cut_down_at, plan, "down", close_both)
        up.join(timeout=60)
        close_both()

    def _pump(
        self,
        source: socket.socket,
        sink: socket.socket,
        cut_at: int | None,
        plan: _Plan,
        direction: str,
        close_both: object,
    ) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(CHUNK)
                if not data:
                    # Half-close: pass the end of the stream on and let the other side finish.
                    with contextlib.suppress(OSError):
                        sink.shutdown(socket.SHUT_WR)
                    return
                if cut_at is not None and sent + len(data) >= cut_at:
                    keep = max(0, cut_at - sent)
                    if keep:
                        sink.sendall(data[:keep])
                    self.stats.add(**{f"cuts_{direction}": 1})
                    close_both()  # type: ignore[operator]
                    return
                if plan.delay:
                    time.sleep(plan.delay)
                if plan.rate:
                    time.sleep(len(data) / plan.rate)
                sink.sendall(data)
                sent += len(data)
                self.stats.add(**{f"bytes_{direction}": len(data)})
        except OSError:
            close_both()  # type: ignore[operator]
