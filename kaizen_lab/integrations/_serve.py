"""Serve an ASGI app with uvicorn on a background thread (``ServedApp`` lives in ``kaizen_lab._net``, beside
the socket it binds, so every layer can serve HTTP)."""

from __future__ import annotations

from kaizen_lab._net import ServedApp

__all__ = ["ServedApp"]
