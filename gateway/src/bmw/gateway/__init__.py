"""The BMW gateway: one GraphQL API (Strawberry on FastAPI) over the services' HTTP APIs."""
