"""Benchmarks of the BMW backend (``make bench``, or ``python -m bench --help``).

Speed and memory targets live here, never in timed tests. Every figure is measured next to a baseline in the
same run, on the same machine and infrastructure, and reported with the ratio of the two.
"""
