"""The run's phases, in order: ceilings, throughput, latency with publish throughput and
fan-out (on running contestants), backlog, then issue 19's six target phases (targets.py, in
rounds by target_rounds.py). Each takes the run and returns its results."""
