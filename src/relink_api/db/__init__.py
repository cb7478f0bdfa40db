"""PostgreSQL: the pool, the embedded server, and the migrations."""

from relink_api.db.pool import Connection, Database

__all__ = ["Connection", "Database"]
