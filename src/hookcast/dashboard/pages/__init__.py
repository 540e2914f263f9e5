"""Dashboard pages, one module per resource; each adds its routes to the dashboard router."""
