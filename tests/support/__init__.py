"""Test helpers shared by the suites (importable as `support`: pytest's pythonpath has tests/)."""
