"""Prometheus metrics: the families relink-api exposes at ``/metrics`` (docs/operating.md)."""
