"""Alembic migrations for kmdav's schema (one revision per schema change)."""
