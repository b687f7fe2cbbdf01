"""Alembic environment: one migration chain for SQLite and PostgreSQL.

`render_as_batch` lets SQLite alter tables; a connection passed in `config.attributes`
(by `syncd db upgrade` and the tests) is used as is, so migrations run in the caller's
transaction.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from syncd.db.tables import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
