"""Benchmarks of the event store against raw pymongo on the same server (`python -m bench.run`)."""
