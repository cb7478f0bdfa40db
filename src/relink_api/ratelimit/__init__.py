"""Rate limits kept in PostgreSQL, so that every process and replica shares them."""
