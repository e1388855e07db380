"""examples/legacy_app's tests written by hand with unittest.mock, for the suite benchmark.

They make the same calls and assert the same things as the snapy tests in
`examples/legacy_app/tests/`: the values snapy replays from `__recordings__` and compares with
`__snapshots__` are written out in the tests, and every replaced dependency checks the
arguments it was called with, as a snapy replay does. Run from a copy of the example:
`python -m pytest handmocked -p no:snapy -p no:syrupy` (see `benchmarks/suite.py`).
"""
