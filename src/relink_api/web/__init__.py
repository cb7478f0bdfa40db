"""HTTP plumbing the routers share: dependencies, security schemes, input checks, problem
rendering and the OpenAPI response fragments."""
