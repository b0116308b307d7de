"""Every table module, imported so that the shared metadata knows all tables (for the
migration check and Alembic). A stage that adds tables adds its module here."""

from __future__ import annotations

from bot.store import tables
from bot.store.tables import metadata

__all__ = ["metadata", "tables"]
