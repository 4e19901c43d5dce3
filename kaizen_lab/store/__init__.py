"""Embedded SQLite store for runs, spans and events (WAL, batched writes, retention, versioned schema)."""

from kaizen_lab.store._schema import SCHEMA_VERSION
from kaizen_lab.store.runs import RunStore, StoreError, default_store_path

__all__ = ["SCHEMA_VERSION", "RunStore", "StoreError", "default_store_path"]
