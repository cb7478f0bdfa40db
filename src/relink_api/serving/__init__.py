"""``relink-api serve --workers N``: one port served by several processes under a parent
that started the database and supervises them (docs/deploy.md, "Workers")."""
