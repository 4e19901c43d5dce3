"""Serve an ASGI app with uvicorn on a background thread (``ServedApp`` lives in ``kaizen_lab.security.served``,
with the request limits it applies, so every layer can serve HTTP)."""

from __future__ import annotations

from kaizen_lab.security.served import ServedApp

__all__ = ["ServedApp"]
