"""relink-api's benchmark harness (``python -m bench``; see bench/README.md).

Kept free of product imports at package level: the Flask peer in ``bench.peers`` is served
from a virtual environment of its own, without relink-api installed.
"""
