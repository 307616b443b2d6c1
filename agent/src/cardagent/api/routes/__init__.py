"""The /v1 routes, one module per resource (included by cardagent/api/main.py)."""
