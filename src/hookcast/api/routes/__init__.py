"""One router per resource of the Management API."""
