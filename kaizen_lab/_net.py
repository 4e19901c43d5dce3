"""Listening sockets (shared by the API, MCP and model HTTP servers; ``security.served`` serves apps on them)."""

from __future__ import annotations

import socket

from kaizen_lab.errors import ConfigError

__all__ = ["listen_socket"]


def listen_socket(host: str, port: int | None, *, what: str, backlog: int = 128) -> socket.socket:
    """Bind ``host:port`` (``port`` None or 0: a free one) and listen; a busy port is a ``ConfigError``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port or 0))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"can't serve {what} on {host}:{port}: {exc.strerror}; pick another port= or leave it "
                          "None for a free one", path="port", value=port) from None
    sock.listen(backlog)
    return sock
