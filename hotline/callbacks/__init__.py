"""Callback tickets and per-language queues, requests (with the spool for Redis outages),
the outbox of SMS and calls, opening hours.
"""
