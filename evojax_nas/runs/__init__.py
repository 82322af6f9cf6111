"""Runs on disk: the run directory, its logs, checkpoints, metrics and report."""
