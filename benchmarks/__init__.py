"""steerid benchmarks: ``python -m benchmarks.run [--quick]`` (see benchmarks/run.py).

Nothing is imported here: :mod:`benchmarks.peer_worker` runs in the peer environment, where
steerid is not installed.
"""
