"""Run an ASGI app with uvicorn in a background thread (tests, benchmarks) or in the foreground
(CLI)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ServerThread:
    """An ASGI app served by uvicorn on a thread; ``start()`` returns once it accepts
    connections."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning",
                                lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"sandbox:{self.port}",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(app: Any, host: str, port: int) -> None:
    """Serve in the foreground until interrupted (the ``python -m sandbox`` CLI)."""
    uvicorn.run(app, host=host, port=port, log_level="info", lifespan="off")


class ServedSandbox:
    """Lifecycle shared by the sandboxes: ``start()`` serves ``self.app`` on a thread, ``url``,
    ``stop()`` (then ``close()``, where a subclass releases its state), context manager."""

    host: str
    port: int
    app: Any
    _server: ServerThread | None = None

    def start(self) -> Any:
        if self._server is None:
            self._server = ServerThread(self.app, host=self.host, port=self.port).start()
            self.port = self._server.port
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.close()

    def close(self) -> None:
        """Release what the sandbox holds besides the server (persisted state)."""

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
