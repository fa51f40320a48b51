"""`make bench`: the performance benchmark of issue 3 (see bench/run.py)."""
