"""Other ways to serve the same request, measured against relink-api under the same load."""
