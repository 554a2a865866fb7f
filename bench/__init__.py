"""Benchmarks of django_chatkit against the reference ChatKit serving stack.

Run ``python -m bench`` (or ``bench/run``); see docs/performance.md.
"""
