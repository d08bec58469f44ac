"""Alembic revisions of the store (loaded by path by riskengine.store.migrations)."""
