"""Benchmark scripts, run one by one (`make bench`); a package only so mypy can tell bench/grievances.py from the grievances app."""
