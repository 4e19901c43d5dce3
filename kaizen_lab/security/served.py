"""Background HTTP servers with the request limits applied (shared by the API, MCP and model HTTP servers).

``ServedApp`` serves an ASGI app with uvicorn on a background thread, bound to a socket we open ourselves:
binding first gives a free port when none is asked for, a clear error when the port is taken, and keeps the
address under our control (Nexus's own ``start()`` binds every interface and cannot be stopped in-process).
Slow clients are cut off by the header timeout of ``security.limits``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from kaizen_lab._net import listen_socket
from kaizen_lab.errors import ConfigError

__all__ = ["ServedApp"]


class ServedApp:
    """``ServedApp(app, host, port).start()``; ``url``, ``stop()``; a context manager."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int | None = None, name: str = "http",
                 header_timeout: float | None = None) -> None:
        self.app = app
        self.header_timeout = header_timeout
        self.host = host
        self.port = port
        self.name = name
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 30.0) -> ServedApp:
        import uvicorn

        sock = listen_socket(self.host, self.port, what=self.name, backlog=512)
        self.port = sock.getsockname()[1]
        from kaizen_lab.security.limits import HEADER_TIMEOUT, uvicorn_http_protocol

        # slow clients: headers must arrive within HEADER_TIMEOUT, idle keep-alives close after 5 s
        protocol = uvicorn_http_protocol(self.header_timeout or HEADER_TIMEOUT)
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=2, backlog=512, http=protocol, timeout_keep_alive=5)
        self._server = uvicorn.Server(config)

        def run() -> None:
            try:
                self._server.run(sockets=[sock])
            except BaseException as exc:  # noqa: BLE001 - kept for start()'s error message
                self._error = exc
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name=f"kaizen-{self.name}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started and self.running and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            self.stop()
            raise ConfigError(f"the {self.name} server did not start on {self.host}:{self.port}: {self._error}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is None:
            return
        quiet = logging.getLogger("uvicorn.error")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)  # cut keep-alive streams are not errors here
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        quiet.setLevel(level)
        self._thread = None

    def __enter__(self) -> ServedApp:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
