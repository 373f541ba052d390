"""Run one ASGI app with uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn
from starlette.types import ASGIApp

from sandbox.core.tls import TLSFiles

__all__ = ["EmulatorServer", "ServerStartError"]

_HOST = "127.0.0.1"


class ServerStartError(RuntimeError):
    """The emulator did not come up (port taken, bad certificate, app crashed)."""


class EmulatorServer:
    """A uvicorn server for one emulator, bound to ``127.0.0.1``.

    The socket is bound before the server thread starts, so ``port=0`` picks a free
    port and :attr:`url` is known as soon as :meth:`start` returns.

    Args:
        app: The ASGI application (usually ``EmulatorApp.asgi()``).
        name: A label for errors and thread names, e.g. ``"marketo"``.
        port: The TCP port; 0 picks a free one.
        tls: Serve HTTPS with these files; ``None`` serves plain HTTP.

    Example:
        >>> from starlette.applications import Starlette
        >>> with EmulatorServer(Starlette(), name="demo") as server:
        ...     server.url.startswith("http://127.0.0.1:")
        True
    """

    def __init__(
        self, app: ASGIApp, *, name: str, port: int = 0, tls: TLSFiles | None = None
    ) -> None:
        self.app = app
        self.name = name
        self.tls = tls
        self._requested_port = port
        self._port: int | None = None
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        """The bound port (only after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError(f"emulator {self.name!r} is not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` or ``https://127.0.0.1:PORT``, without a trailing slash."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{_HOST}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> None:
        """Bind the port, start uvicorn in a daemon thread, and wait until it accepts connections.

        Args:
            timeout: Seconds to wait for the server to come up.

        Raises:
            ServerStartError: The port is taken or the server failed to start in time.
        """
        if self.running:
            return
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when the
        # protocol is explicit; without it Nagle + delayed ACK add 40 ms to every response.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((_HOST, self._requested_port))
        except OSError as exc:
            sock.close()
            raise ServerStartError(
                f"emulator {self.name!r}: cannot bind {_HOST}:{self._requested_port}: {exc}"
            ) from exc
        sock.set_inheritable(True)
        self._socket = sock
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            host=_HOST,
            port=self._port,
            http="h11",
            loop="asyncio",
            ws="none",
            lifespan="off",
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=1,
            ssl_certfile=str(self.tls.cert_path) if self.tls else None,
            ssl_keyfile=str(self.tls.key_path) if self.tls else None,
        )
        self._server = uvicorn.Server(config)
        self._error = None
        self._thread = threading.Thread(target=self._run, name=f"sandbox-{self.name}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                reason = f": {self._error!r}" if self._error else " (timed out)"
                raise ServerStartError(f"emulator {self.name!r} failed to start{reason}")
            time.sleep(0.005)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported by start(), which raises it
            self._error = exc

    async def _serve(self) -> None:
        assert self._server is not None and self._socket is not None
        server = self._server
        try:
            # uvicorn installs signal handlers only in the main thread, so none here.
            await server.serve(sockets=[self._socket])
        finally:
            # Connections still open after uvicorn's graceful shutdown (a request cut off by
            # a fault, a handler still sleeping) would outlive the loop and surface later as
            # "unclosed transport" ResourceWarnings in whatever test runs then: abort them.
            for connection in list(server.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.abort()  # also ends a close() stuck on an unread write buffer
            await asyncio.sleep(0)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server and release the port. Safe to call twice."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._thread = None
        self._server = None
        self._socket = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"EmulatorServer({self.name!r}, {where})"
