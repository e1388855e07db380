"""snapy's benchmarks: `python -m benchmarks` compares snapy with the tools users would pick
instead and writes `benchmarks/RESULTS.md` (see `benchmarks/runner.py`)."""
