"""`make bench`: speed, cost and scale of the real stack, each beside a baseline; see run.py."""
