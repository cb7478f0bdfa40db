-- relink_link_health was declared IMMUTABLE, but its body adds an interval to a timestamptz,
-- which is only STABLE (a day's length depends on the time zone). PostgreSQL refuses to
-- inline a function whose body is more volatile than it claims, so every row paid a call
-- through the SQL-function executor: several microseconds a row, in every list and count.
-- Declared STABLE (what it is), the planner inlines the CASE into each query. Nothing
-- indexes the function, which is what IMMUTABLE would have been needed for.
ALTER FUNCTION relink_link_health(text, text, timestamptz, timestamptz) STABLE;
