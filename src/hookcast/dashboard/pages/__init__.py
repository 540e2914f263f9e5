"""Dashboard pages, one module per resource, of module-level endpoints (routes.py lists them)."""
