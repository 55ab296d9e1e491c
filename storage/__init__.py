"""Storage: SQLModel tables, engine, repositories and Alembic migrations."""
