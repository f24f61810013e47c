"""Storage: the schema (SQLAlchemy models; alembic migrations in
``huisheng.migrations``), engines and sessions, the item store (idempotent
upserts, edits, tombstones), and loading the matrix into the database."""
