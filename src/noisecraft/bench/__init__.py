"""`noisecraft bench`: suites of recipes trained under one budget, evaluated one way, ranked. The top of the
library beside `serve`: it uses training and evaluation, and nothing below imports it."""

from noisecraft.bench.runner import Suite, load_suite, rank_key, run_suite, write_leaderboard

__all__ = ["Suite", "load_suite", "rank_key", "run_suite", "write_leaderboard"]
