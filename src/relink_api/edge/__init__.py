"""The HTTP edge: what every request meets before a route does (limits on its size, the
request id and access log, security headers, CORS) and the server that accepts it."""
