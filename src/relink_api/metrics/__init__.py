"""Prometheus metrics: the families relink-api records and exposes at ``/metrics``
(docs/metrics.md)."""
