"""Persistence: SQLModel tables, sessions, queries and Alembic migrations."""
