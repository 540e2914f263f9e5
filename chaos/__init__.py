"""Chaos runs for HookCast (issue 7): publish known events under load while faults strike
(kill -9, PostgreSQL restarts, SQLite locks, a full disk, hostile receivers, rolling
restarts), then count what every receiver got. Run with `python -m chaos` or `make chaos`;
docs/reliability.md has the figures and what each scenario proves."""
