"""The operator API: accounts across customers, counts, relinks started by an operator."""
