"""Polling: one account's poll (the unit of work), the per-host pacer, the
dispatcher that runs polls and the jobs beside them on schedule, and the
factory that builds each platform's adapter."""
