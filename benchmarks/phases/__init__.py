"""The run's phases, in order: ceilings, throughput, latency with publish throughput and
fan-out (on running contestants), backlog. Each takes the run and returns its results."""
